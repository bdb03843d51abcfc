/* gst-luma: lumasrc where players and editors meet it: luma:// URIs,
 * playbin, the discoverer, the per-process task cache, tags
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/pbutils/pbutils.h>
#include <gst/luma/luma.h>

#include "harness.h"

static void
setup (void)
{
  luma_test_fixture_setup (luma_test_make_mp4 (50, FALSE));
  luma_test_fixture_set_environment ();
}

static void
add_mp4_task (const gchar * task_id)
{
  LumaEmulatorTask task = {
    .task_id = task_id,
    .video = fixture.video,
    .generating_polls = 2,
    .final_flag = 1,
    .prompt = "A calm lake at dawn",
  };

  luma_emulator_add_task (fixture.em, &task);
}

GST_START_TEST (test_uri_sets_task_and_properties)
{
  g_autoptr (GError) error = NULL;
  GstElement *src = gst_element_make_from_uri (GST_URI_SRC,
      "luma://abc123?poll-interval=5000&retries=7", NULL, &error);
  g_autofree gchar *task = NULL;
  g_autofree gchar *uri = NULL;
  guint interval, retries;

  fail_unless (src != NULL, "%s", error ? error->message : "");
  fail_unless_equals_string (G_OBJECT_TYPE_NAME (src), "GstLumaSrc");
  g_object_get (src, "task-id", &task, "poll-interval", &interval,
      "retries", &retries, NULL);
  fail_unless_equals_string (task, "abc123");
  fail_unless_equals_int (interval, 5000);
  fail_unless_equals_int (retries, 7);
  uri = gst_uri_handler_get_uri (GST_URI_HANDLER (src));
  fail_unless_equals_string (uri, "luma://abc123");
  gst_object_unref (src);
}

GST_END_TEST;

static void
check_uri_refused (const gchar * uri, const gchar * words)
{
  GstElement *src = gst_element_factory_make ("lumasrc", NULL);
  g_autoptr (GError) error = NULL;

  fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src), uri, &error),
      "%s was taken", uri);
  fail_unless (error != NULL && strstr (error->message, words) != NULL,
      "%s: \"%s\" not in \"%s\"", uri, words, error ? error->message : "");
  fail_if (strstr (error->message, "s3cret") != NULL, "%s: the password is "
      "in \"%s\"", uri, error->message);
  gst_object_unref (src);
}

GST_START_TEST (test_uri_refuses_secrets_and_nonsense)
{
  check_uri_refused ("luma://abc?api-key=s3cret", "logs");
  check_uri_refused ("luma://abc?api-url=http://elsewhere/", "KIE_API_URL");
  check_uri_refused ("luma://user:s3cret@abc", "credentials");
  /* refused for their port, path or fragment too: never quoted */
  check_uri_refused ("luma://user:s3cret@abc:80", "credentials");
  check_uri_refused ("luma://user:s3cret@abc/some/path", "credentials");
  check_uri_refused ("luma://user:s3cret@abc#x", "credentials");
  check_uri_refused ("luma://user:s3cret@abc:port", "password");
  check_uri_refused ("luma://abc?colour=blue", "colour");
  /* the store's settings are the user's, not a playlist's */
  check_uri_refused ("luma://abc?store=off", "store");
  check_uri_refused ("luma://abc?store-dir=/tmp", "store-dir");
  check_uri_refused ("luma://abc?store-limit=1", "store-limit");
  check_uri_refused ("luma://", "luma://TASKID");
  check_uri_refused ("luma://abc/some/path", "luma://TASKID");
}

GST_END_TEST;

/* A URI is a playlist's, read as hostile: it may tune the waits, but not
 * take away the bounds that end them. With timeout=0 (none) a video host
 * that accepts and never answers held the pipeline for ever. */
GST_START_TEST (test_uri_cannot_turn_off_a_timeout)
{
  GstElement *src = gst_element_factory_make ("lumasrc", NULL);
  g_autoptr (GError) error = NULL;
  guint timeout, wait_timeout;

  check_uri_refused ("luma://abc?timeout=0", "timeout");
  check_uri_refused ("luma://abc?wait-timeout=0", "wait-timeout");
  fail_unless (gst_uri_handler_set_uri (GST_URI_HANDLER (src),
          "luma://abc?timeout=1&wait-timeout=1", &error), "%s",
      error ? error->message : "");
  g_object_get (src, "timeout", &timeout, "wait-timeout", &wait_timeout, NULL);
  fail_unless_equals_int (timeout, 1);
  fail_unless_equals_int (wait_timeout, 1);
  /* the user's own setting may still turn them off */
  g_object_set (src, "timeout", 0, "wait-timeout", 0, NULL);
  g_object_get (src, "timeout", &timeout, "wait-timeout", &wait_timeout, NULL);
  fail_unless_equals_int (timeout, 0);
  fail_unless_equals_int (wait_timeout, 0);
  gst_object_unref (src);
}

GST_END_TEST;

GST_START_TEST (test_playbin_plays_luma_uri)
{
  LumaRun *run;
  GstElement *playbin;

  add_mp4_task ("t-play");
  playbin = gst_element_factory_make ("playbin", NULL);
  g_object_set (playbin, "uri", "luma://t-play?poll-interval=10",
      "video-sink", gst_element_factory_make ("fakesink", NULL),
      "audio-sink", gst_element_factory_make ("fakesink", NULL), NULL);
  run = luma_run_new_for (playbin, gst_object_ref (playbin));
  luma_run_until_done (run, 30);
  fail_unless (run->error == NULL, "%" GST_PTR_FORMAT, run->error);
  fail_unless (run->eos);
  fail_unless (run->progress[GST_PROGRESS_TYPE_COMPLETE] == 1);
  luma_run_free (run);
}

GST_END_TEST;

static GstDiscovererInfo *
discover (const gchar * uri, GstClockTime * took)
{
  g_autoptr (GError) error = NULL;
  GstDiscoverer *discoverer = gst_discoverer_new (10 * GST_SECOND, &error);
  GstDiscovererInfo *info;
  gint64 before = g_get_monotonic_time ();

  fail_unless (discoverer != NULL);
  info = gst_discoverer_discover_uri (discoverer, uri, &error);
  *took = (g_get_monotonic_time () - before) * GST_USECOND;
  fail_unless (info != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (gst_discoverer_info_get_result (info),
      GST_DISCOVERER_OK);
  gst_object_unref (discoverer);
  return info;
}

GST_START_TEST (test_discoverer_and_cache)
{
  GstDiscovererInfo *info;
  GstClockTime took;
  const GstTagList *tags;
  gchar *value = NULL;

  add_mp4_task ("t-disc");
  info = discover ("luma://t-disc?poll-interval=200", &took);
  fail_unless (gst_discoverer_info_get_seekable (info));
  fail_unless (gst_discoverer_info_get_duration (info) == 2 * GST_SECOND,
      "duration %" GST_TIME_FORMAT,
      GST_TIME_ARGS (gst_discoverer_info_get_duration (info)));
  tags = gst_discoverer_info_get_tags (info);
  fail_unless (tags != NULL);
  fail_unless (gst_tag_list_get_string (tags, GST_TAG_DESCRIPTION, &value));
  fail_unless_equals_string (value, "A calm lake at dawn");
  g_free (value);
  fail_unless (gst_tag_list_get_string (tags, GST_LUMA_TAG_TASK_ID, &value));
  fail_unless_equals_string (value, "t-disc");
  g_free (value);
  gst_discoverer_info_unref (info);
  /* two polls "generating" at 200 ms, then the one that gives the URL */
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-disc"), 3);

  /* a second opening of the same task, as editors do: no poll, no wait */
  info = discover ("luma://t-disc?poll-interval=200", &took);
  gst_discoverer_info_unref (info);
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-disc"), 3);
  fail_unless (took < GST_SECOND * (guint) luma_test_slowdown (),
      "took %" GST_TIME_FORMAT, GST_TIME_ARGS (took));
}

GST_END_TEST;

typedef struct
{
  LumaRun *run;
  GstTagList *at_sink;          /* the tags that reached the sink */
  gboolean before_data;         /* ... before any byte of the video */
} TagWatch;

/* Runs in the streaming thread, as the sink gets the tag event. */
static void
on_tag (GstBus * bus, GstMessage * msg, TagWatch * watch)
{
  GstTagList *tags;

  if (GST_MESSAGE_SRC (msg) == GST_OBJECT (watch->run->src))
    return;
  gst_message_parse_tag (msg, &tags);
  gst_tag_list_insert (watch->at_sink, tags, GST_TAG_MERGE_APPEND);
  gst_tag_list_unref (tags);
  if (watch->run->data->len == 0)
    watch->before_data = TRUE;
}

GST_START_TEST (test_tags_before_first_buffer)
{
  TagWatch watch = { NULL, gst_tag_list_new_empty (), FALSE };
  GstTagList *tags = watch.at_sink;
  LumaRun *run;
  g_autoptr (GstBus) bus = NULL;
  gchar *value = NULL;
  GstDateTime *when = NULL;
  g_autofree gchar *source = NULL;
  g_autofree gchar *base = NULL;

  add_mp4_task ("t-tags");
  run = watch.run = luma_run_new (fixture.em, "t-tags", NULL);
  bus = gst_element_get_bus (run->pipeline);
  gst_bus_enable_sync_message_emission (bus);
  g_signal_connect (bus, "sync-message::tag", G_CALLBACK (on_tag), &watch);
  luma_run_until_done (run, 20);
  gst_bus_disable_sync_message_emission (bus);

  fail_unless (run->eos);
  fail_unless (watch.before_data, "no tags reached the sink before the data");
  fail_unless (gst_tag_list_get_string (tags, GST_LUMA_TAG_TASK_ID, &value));
  fail_unless_equals_string (value, "t-tags");
  g_free (value);
  fail_unless (gst_tag_list_get_string (tags, GST_TAG_DESCRIPTION, &value));
  fail_unless_equals_string (value, "A calm lake at dawn");
  g_free (value);
  base = luma_emulator_get_video_url_base (fixture.em);
  source = g_strconcat (base, "/input/t-tags.mp4", NULL);
  fail_unless (gst_tag_list_get_string (tags, GST_TAG_LOCATION, &value));
  fail_unless_equals_string (value, source);
  g_free (value);
  fail_unless (gst_tag_list_get_date_time (tags, GST_TAG_DATE_TIME, &when));
  fail_unless (gst_date_time_get_year (when) >= 2024);
  gst_date_time_unref (when);
  gst_tag_list_unref (tags);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_uri_query_gives_redirection)
{
  LumaRun *run;
  GstQuery *query = gst_query_new_uri ();
  gchar *uri = NULL, *redirect = NULL, *location = NULL;

  add_mp4_task ("t-query");
  run = luma_run_new (fixture.em, "t-query", NULL);
  luma_run_preroll (run, 20);
  fail_unless (gst_element_query (run->src, query));
  gst_query_parse_uri (query, &uri);
  gst_query_parse_uri_redirection (query, &redirect);
  g_object_get (run->src, "result-url", &location, NULL);
  fail_unless_equals_string (uri, "luma://t-query");
  fail_unless (redirect != NULL && g_str_has_prefix (redirect, "http://"));
  fail_unless_equals_string (redirect, location);
  g_free (uri);
  g_free (redirect);
  g_free (location);
  gst_query_unref (query);
  luma_run_free (run);
}

GST_END_TEST;

static Suite *
uri_suite (void)
{
  Suite *s = suite_create ("lumasrc-uri");
  TCase *tc = tcase_create ("uri");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, luma_test_fixture_teardown);
  tcase_add_test (tc, test_uri_sets_task_and_properties);
  tcase_add_test (tc, test_uri_refuses_secrets_and_nonsense);
  tcase_add_test (tc, test_uri_cannot_turn_off_a_timeout);
  tcase_add_test (tc, test_playbin_plays_luma_uri);
  tcase_add_test (tc, test_discoverer_and_cache);
  tcase_add_test (tc, test_tags_before_first_buffer);
  tcase_add_test (tc, test_uri_query_gives_redirection);
  return s;
}

GST_CHECK_MAIN (uri);
