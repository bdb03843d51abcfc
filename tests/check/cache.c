/* gst-luma: the per-process cache of finished tasks stays bounded
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>

#include "lumacache.h"

#define SCOPE "http://127.0.0.1:1\nkeydigest"

static GstLumaRecord *
make_record (guint i, gsize prompt_size)
{
  GstLumaRecord *record = g_new0 (GstLumaRecord, 1);

  record->code = 200;
  record->state = GST_LUMA_TASK_STATE_SUCCESS;
  record->task_id = g_strdup_printf ("task-%u", i);
  record->msg = g_strnfill (prompt_size, 'm');
  record->prompt = g_strnfill (prompt_size, 'p');
  record->error_message = g_strnfill (prompt_size, 'e');
  record->source_url = g_strdup ("https://in.example/clip.mp4");
  record->result_urls = g_new0 (gchar *, 2);
  record->result_urls[0] = g_strdup_printf ("https://r.example/%u.mp4", i);
  record->origin_urls = g_new0 (gchar *, 2);
  record->origin_urls[0] = g_strnfill (prompt_size, 'o');
  record->create_time = record->complete_time = 1755078480000;
  return record;
}

static void
teardown (void)
{
  luma_cache_clear ();
}

/* 1,000 tasks with 1 MiB prompts: the cache keeps a bounded number of
 * entries, each with a bounded amount of text. */
GST_START_TEST (test_cache_is_bounded)
{
  gint64 now = 1000 * G_USEC_PER_SEC;
  guint i;

  for (i = 0; i < 1000; i++) {
    g_autoptr (GstLumaRecord) record = make_record (i, 1024 * 1024);
    g_autofree gchar *id = g_strdup_printf ("task-%u", i);

    luma_cache_store (SCOPE, id, record, now + i);
    fail_unless (luma_cache_get_n_entries () <= LUMA_CACHE_MAX_ENTRIES);
  }
  fail_unless_equals_int (luma_cache_get_n_entries (), LUMA_CACHE_MAX_ENTRIES);
  fail_unless (luma_cache_get_text_size () <= LUMA_CACHE_MAX_ENTRIES * (gsize)
      (LUMA_CACHE_MAX_TEXT * 3 + LUMA_CACHE_MAX_URLS * LUMA_CACHE_MAX_TEXT),
      "%" G_GSIZE_FORMAT " bytes of text", luma_cache_get_text_size ());

  /* the newest are kept, the oldest went first */
  {
    g_autoptr (GstLumaRecord) newest = luma_cache_lookup (SCOPE, "task-999",
        now + 1000);
    g_autoptr (GstLumaRecord) oldest = luma_cache_lookup (SCOPE, "task-0",
        now + 1000);

    fail_unless (newest != NULL);
    fail_unless (oldest == NULL);
    fail_unless_equals_string (newest->result_urls[0],
        "https://r.example/999.mp4");
    fail_unless (strlen (newest->prompt) <= LUMA_CACHE_MAX_TEXT);
    fail_unless (newest->msg == NULL && newest->error_message == NULL
        && newest->origin_urls == NULL);
    fail_unless_equals_int (newest->state, GST_LUMA_TASK_STATE_SUCCESS);
  }
}

GST_END_TEST;

GST_START_TEST (test_expired_entries_are_dropped)
{
  gint64 now = 1000 * G_USEC_PER_SEC;
  g_autoptr (GstLumaRecord) record = make_record (1, 10);
  GstLumaRecord *found;

  luma_cache_store (SCOPE, "old", record, now);
  luma_cache_store (SCOPE, "fresh", record, now + LUMA_CACHE_LIFETIME / 2);
  found = luma_cache_lookup (SCOPE, "old", now + LUMA_CACHE_LIFETIME);
  fail_unless (found != NULL);
  gst_luma_record_free (found);

  /* a later store sweeps out what has expired, even unread */
  luma_cache_store (SCOPE, "new", record, now + LUMA_CACHE_LIFETIME + 1);
  fail_unless_equals_int (luma_cache_get_n_entries (), 2);
  found = luma_cache_lookup (SCOPE, "old", now + LUMA_CACHE_LIFETIME + 1);
  fail_unless (found == NULL);
  found = luma_cache_lookup (SCOPE, "fresh", now + LUMA_CACHE_LIFETIME + 1);
  fail_unless (found != NULL);
  gst_luma_record_free (found);
}

GST_END_TEST;

/* A prompt cut to the limit is still valid UTF-8. */
GST_START_TEST (test_cut_prompt_stays_valid_utf8)
{
  g_autoptr (GstLumaRecord) record = make_record (1, 10);
  g_autoptr (GstLumaRecord) found = NULL;
  GString *prompt = g_string_new (NULL);

  while (prompt->len < LUMA_CACHE_MAX_TEXT * 2)
    g_string_append (prompt, "é€");
  g_free (record->prompt);
  record->prompt = g_string_free (prompt, FALSE);
  luma_cache_store (SCOPE, "utf", record, 1);
  found = luma_cache_lookup (SCOPE, "utf", 2);
  fail_unless (found != NULL);
  fail_unless (strlen (found->prompt) <= LUMA_CACHE_MAX_TEXT);
  fail_unless (strlen (found->prompt) > LUMA_CACHE_MAX_TEXT - 4);
  fail_unless (g_utf8_validate (found->prompt, -1, NULL));
}

GST_END_TEST;

static Suite *
cache_suite (void)
{
  Suite *s = suite_create ("luma-cache");
  TCase *tc = tcase_create ("cache");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, NULL, teardown);
  tcase_add_test (tc, test_cache_is_bounded);
  tcase_add_test (tc, test_expired_entries_are_dropped);
  tcase_add_test (tc, test_cut_prompt_stays_valid_utf8);
  return s;
}

GST_CHECK_MAIN (cache);
