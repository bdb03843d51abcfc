/* gst-luma: many state changes landing anywhere, and many sources at once
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/luma/luma.h>
#include <sys/resource.h>

#include "harness.h"

#define CYCLES 500
#define INSTANCES 200

static void
setup (void)
{
  luma_test_fixture_setup (luma_test_random_bytes (2 * 1024 * 1024, 11));
}

static void
assert_no_error_on_bus (GstElement * pipeline)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR)) != NULL) {
    fail ("error: %" GST_PTR_FORMAT, msg);
    gst_message_unref (msg);
  }
}

static gint64
timed_set_state (GstElement * pipeline, GstState state)
{
  gint64 before = g_get_monotonic_time ();
  GstStateChangeReturn ret = gst_element_set_state (pipeline, state);

  fail_if (ret == GST_STATE_CHANGE_FAILURE);
  return g_get_monotonic_time () - before;
}

/* NULL -> PLAYING -> NULL again and again, the way down landing while the
 * source waits for a task, streams, is stalled by its server, or is done. */
GST_START_TEST (test_state_changes_at_random_points)
{
  static const gchar *tasks[] = { "t-waiting", "t-ready", "t-stalled" };
  LumaEmulatorTask waiting = {
    .task_id = "t-waiting",
    .video = fixture.video,
    .generating_polls = G_MAXUINT,
    .final_flag = 1,
  };
  LumaEmulatorVideoFaults stall = { 0 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (2026);
  LumaRun *run;
  gint64 slowest = 0;
  guint i;

  luma_emulator_add_task (fixture.em, &waiting);
  luma_test_add_ready_task (fixture.em, "t-ready", fixture.video);
  luma_test_add_ready_task (fixture.em, "t-stalled", fixture.video);
  stall.stall = TRUE;
  stall.stall_after = 300000;
  luma_emulator_set_video_faults (fixture.em, "t-stalled", &stall);

  run = luma_run_new (fixture.em, "t-ready", NULL);
  for (i = 0; i < CYCLES; i++) {
    g_object_set (run->src, "task-id", tasks[g_rand_int_range (rand, 0, 3)],
        NULL);
    timed_set_state (run->pipeline, GST_STATE_PLAYING);
    g_usleep (g_rand_int_range (rand, 0, 15000));
    assert_no_error_on_bus (run->pipeline);
    slowest = MAX (slowest, timed_set_state (run->pipeline, GST_STATE_READY));
    assert_no_error_on_bus (run->pipeline);
    slowest = MAX (slowest, timed_set_state (run->pipeline, GST_STATE_NULL));
  }
  GST_INFO ("slowest state change down: %" G_GINT64_FORMAT " us", slowest);
  fail_unless (slowest < 2 * G_USEC_PER_SEC * luma_test_slowdown (),
      "a state change took %" G_GINT64_FORMAT " us", slowest);
  fail_unless (luma_emulator_get_record_requests (fixture.em, "t-waiting") > 0);
  fail_unless (luma_emulator_get_video_requests (fixture.em, "t-ready") > 0);
  luma_run_free (run);
}

GST_END_TEST;

typedef struct
{
  gint64 bytes[INSTANCES];
} Counts;

static void
count_bytes (GstElement * sink, GstBuffer * buffer, GstPad * pad,
    gint64 * bytes)
{
  *bytes += gst_buffer_get_size (buffer);
}

static void
raise_fd_limit (void)
{
  struct rlimit limit;

  /* each instance holds a connection and, while it waits, a wake-up fd */
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 4096) {
    limit.rlim_cur = MIN (4096, limit.rlim_max);
    setrlimit (RLIMIT_NOFILE, &limit);
  }
}

/* Many sources in one process, each waiting for its own task: all of them
 * finish, with every byte. */
GST_START_TEST (test_many_sources_wait_at_once)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (fixture.em);
  g_autoptr (GBytes) small = luma_test_random_bytes (32 * 1024 + 5, 12);
  GstElement *pipeline = gst_pipeline_new (NULL);
  Counts *counts = g_new0 (Counts, 1);
  GstMessage *msg;
  guint i;

  raise_fd_limit ();
  for (i = 0; i < INSTANCES; i++) {
    g_autofree gchar *id = g_strdup_printf ("t-many-%u", i);
    LumaEmulatorTask task = {
      .task_id = id,
      .video = small,
      .generating_polls = 3,
      .final_flag = 1,
    };
    GstElement *src = gst_element_factory_make ("lumasrc", NULL);
    GstElement *sink = gst_element_factory_make ("fakesink", NULL);

    luma_emulator_add_task (fixture.em, &task);
    g_object_set (src, "api-url", api_url, "api-key", TEST_KEY, "task-id",
        id, "poll-interval", 200, NULL);
    g_object_set (sink, "sync", FALSE, "signal-handoffs", TRUE, NULL);
    g_signal_connect (sink, "handoff", G_CALLBACK (count_bytes),
        &counts->bytes[i]);
    gst_bin_add_many (GST_BIN (pipeline), src, sink, NULL);
    fail_unless (gst_element_link (src, sink));
  }

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "not all sources finished");
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);

  for (i = 0; i < INSTANCES; i++) {
    g_autofree gchar *id = g_strdup_printf ("t-many-%u", i);

    fail_unless_equals_int64 (counts->bytes[i], g_bytes_get_size (small));
    /* three answers "generating", then the URL: one more if a poll had to
     * be retried on a very busy machine */
    fail_unless (luma_emulator_get_record_requests (fixture.em, id) >= 4);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_free (counts);
}

GST_END_TEST;

static Suite *
stress_suite (void)
{
  Suite *s = suite_create ("lumasrc-stress");
  TCase *tc = tcase_create ("stress");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, luma_test_fixture_teardown);
  tcase_add_test (tc, test_state_changes_at_random_points);
  tcase_add_test (tc, test_many_sources_wait_at_once);
  return s;
}

GST_CHECK_MAIN (stress);
