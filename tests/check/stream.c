/* gst-luma: the streamer alone (one URL to bytes), against the emulator
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>

#include "lumahttp.h"
#include "lumastream.h"
#include "luma-emulator.h"

#define TASK "t-unit"

static LumaEmulator *em;
static GBytes *video;
static SoupSession *session;

static void
setup (void)
{
  LumaEmulatorTask task = { TASK, NULL, 0, 0, 1, NULL, NULL, NULL };
  LumaHttpConfig config = { "gst-luma-test", 5, NULL, TRUE };
  g_autoptr (GError) error = NULL;
  guint8 *bytes = g_malloc (1024 * 1024);
  guint i;

  for (i = 0; i < 1024 * 1024; i++)
    bytes[i] = i * 7 + i / 251;
  video = task.video = g_bytes_new_take (bytes, 1024 * 1024);
  em = luma_emulator_new (NULL);
  luma_emulator_add_task (em, &task);
  fail_unless (luma_emulator_start (em, 0, 0, &error));
  session = luma_http_session_new (&config);
}

static void
teardown (void)
{
  g_clear_object (&session);
  g_clear_pointer (&em, luma_emulator_free);
  g_clear_pointer (&video, g_bytes_unref);
}

static LumaStream *
open_task_stream (void)
{
  g_autofree gchar *base = luma_emulator_get_video_url_base (em);
  g_autofree gchar *url = g_strconcat (base, "/r/" TASK "/1.mp4", NULL);
  LumaStream *stream = luma_stream_new (session, 0);

  fail_unless (luma_stream_set_url (stream, url, NULL));
  return stream;
}

GST_START_TEST (test_reads_whole_file_with_size)
{
  g_autoptr (LumaStream) stream = open_task_stream ();
  g_autoptr (GByteArray) got = g_byte_array_new ();
  guint8 chunk[100000];
  gssize n;

  fail_unless (luma_stream_open (stream, NULL, NULL));
  fail_unless_equals_uint64 (luma_stream_get_size (stream),
      g_bytes_get_size (video));
  while ((n = luma_stream_read (stream, chunk, sizeof (chunk), NULL, NULL)) > 0)
    g_byte_array_append (got, chunk, n);
  fail_unless_equals_int (n, 0);
  fail_unless_equals_uint64 (got->len, g_bytes_get_size (video));
  fail_unless (memcmp (got->data, g_bytes_get_data (video, NULL),
          got->len) == 0);
  fail_unless_equals_uint64 (luma_stream_get_offset (stream), got->len);
}

GST_END_TEST;

/* Leaving a request in the middle of its body (a seek, a stop) must not
 * wait for the rest of it: the server may be stalled. */
GST_START_TEST (test_leaving_a_stalled_body_is_prompt)
{
  g_autoptr (LumaStream) stream = open_task_stream ();
  LumaEmulatorVideoFaults faults = { 0 };
  guint8 chunk[4096];
  gint64 before, took;

  faults.stall = TRUE;
  faults.stall_after = 200000;
  luma_emulator_set_video_faults (em, TASK, &faults);
  fail_unless (luma_stream_read (stream, chunk, sizeof (chunk), NULL,
          NULL) > 0);

  before = g_get_monotonic_time ();
  luma_stream_seek (stream, 500000);
  took = g_get_monotonic_time () - before;
  fail_unless (took < G_USEC_PER_SEC, "leaving took %" G_GINT64_FORMAT " us",
      took);

  before = g_get_monotonic_time ();
  fail_unless (luma_stream_read (stream, chunk, sizeof (chunk), NULL,
          NULL) > 0);
  g_clear_pointer (&stream, luma_stream_free);
  took = g_get_monotonic_time () - before;
  fail_unless (took < G_USEC_PER_SEC, "freeing took %" G_GINT64_FORMAT " us",
      took);
}

GST_END_TEST;

GST_START_TEST (test_seek_reads_from_offset)
{
  g_autoptr (LumaStream) stream = open_task_stream ();
  guint8 chunk[1000];
  gssize n;

  luma_stream_seek (stream, 777777);
  n = luma_stream_read (stream, chunk, sizeof (chunk), NULL, NULL);
  fail_unless (n > 0);
  fail_unless (memcmp (chunk, (guint8 *) g_bytes_get_data (video,
              NULL) + 777777, n) == 0);
  fail_unless_equals_uint64 (luma_stream_get_offset (stream), 777777 + n);
}

GST_END_TEST;

static Suite *
stream_suite (void)
{
  Suite *s = suite_create ("lumastream");
  TCase *tc = tcase_create ("stream");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_reads_whole_file_with_size);
  tcase_add_test (tc, test_leaving_a_stalled_body_is_prompt);
  tcase_add_test (tc, test_seek_reads_from_offset);
  return s;
}

GST_CHECK_MAIN (stream);
