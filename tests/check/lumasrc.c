/* gst-luma: lumasrc against the KIE emulator: waiting, the task's outcomes,
 * the API's error codes, bad answers, cancellation, and the key's safety
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/luma/luma.h>

#include "harness.h"

static void
setup (void)
{
  luma_test_fixture_setup (luma_test_random_bytes (300 * 1024 + 17, 42));
}

/* The file, and in one go: from the start, without a restart. */
static void
assert_output_is (LumaRun * run, GBytes * expected)
{
  luma_run_assert_output_from (run, expected, 0);
  fail_unless (run->offsets_contiguous);
  fail_unless_equals_int (run->restarts, 0);
}

static gint
detail_int (const GstStructure * details, const gchar * field)
{
  gint value = -1;

  fail_unless (gst_structure_get_int (details, field, &value), "no %s", field);
  return value;
}

static GstLumaTaskState
detail_state (const GstStructure * details)
{
  gint value = -1;

  fail_unless (gst_structure_get_enum (details, GST_LUMA_DETAIL_TASK_STATE,
          GST_TYPE_LUMA_TASK_STATE, &value));
  return value;
}

/* A task that generates for as long as it is polled. */
static void
add_endless_task (const gchar * task_id)
{
  LumaEmulatorTask task = {
    .task_id = task_id,
    .video = fixture.video,
    .generating_polls = G_MAXUINT,
    .final_flag = 1,
  };

  luma_emulator_add_task (fixture.em, &task);
}

/* a result URL with a raw space (a file named by its user) was
 * streamed: GLib's parser writes the space as %20. */
GST_START_TEST (test_result_url_with_a_space_streams)
{
  g_autofree gchar *base = luma_emulator_get_video_url_base (fixture.em);
  g_autofree gchar *url = g_strconcat (base, "/r/t-blank/my clip.mp4", NULL);
  LumaRun *run;

  luma_test_add_ready_task (fixture.em, "t-blank", fixture.video);
  luma_emulator_set_result_url (fixture.em, "t-blank", url);
  run = luma_run_new (fixture.em, "t-blank", NULL);
  luma_run_until_done (run, 30);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_waits_then_streams_byte_identical)
{
  LumaEmulatorTask task = {
    .task_id = "t-happy",
    .video = fixture.video,
    .generating_polls = 3,
    .final_flag = 1,
  };
  LumaRun *run;
  GstLumaTaskState status;
  g_autofree gchar *location = NULL;

  luma_emulator_add_task (fixture.em, &task);
  run = luma_run_new (fixture.em, "t-happy", NULL);
  luma_run_until_done (run, 20);

  assert_output_is (run, fixture.video);
  /* three answers "generating", then the one that gives the URL */
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-happy"), 4);
  fail_unless_equals_int (run->task_messages, 4);
  fail_unless_equals_int (run->last_polls, 4);
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_START], 1);
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_CONTINUE], 4);
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_COMPLETE], 1);
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_ERROR], 0);
  fail_unless (run->duration_changed);
  g_object_get (run->src, "task-state", &status, "result-url", &location, NULL);
  fail_unless_equals_int (status, GST_LUMA_TASK_STATE_SUCCESS);
  fail_unless (g_str_has_prefix (location, "http://127.0.0.1:"));
  /* the key went to the API, never to the video host */
  fail_unless_equals_int (luma_emulator_get_video_auth_requests (fixture.em),
      0);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_state_change_is_async_while_generating)
{
  LumaEmulatorTask task = {
    .task_id = "t-slow",
    .video = fixture.video,
    .generating_ms = 400,
    .final_flag = 1,
  };
  LumaRun *run;
  gint64 before, took;
  GstStateChangeReturn ret;

  luma_emulator_add_task (fixture.em, &task);
  run = luma_run_new (fixture.em, "t-slow", NULL);
  before = g_get_monotonic_time ();
  ret = gst_element_set_state (run->pipeline, GST_STATE_PAUSED);
  took = g_get_monotonic_time () - before;
  fail_unless_equals_int (ret, GST_STATE_CHANGE_ASYNC);
  /* 200 ms; valgrind (slowdown 3) runs a state change's element setup
   * some ten times slower, hence the square */
  fail_unless (took < 200 * G_TIME_SPAN_MILLISECOND * luma_test_slowdown ()
      * luma_test_slowdown (), "took %" G_GINT64_FORMAT " us", took);
  luma_run_until_done (run, 20);
  assert_output_is (run, fixture.video);
  luma_run_free (run);
}

GST_END_TEST;

/* A run of task "t-forever", which stays generating. */
static LumaRun *
new_run_of_a_task_that_never_ends (void)
{

  add_endless_task ("t-forever");
  return luma_run_new (fixture.em, "t-forever", NULL);
}

/* Allowed by GStreamer for a thread that is not streaming: lumasrc posts
 * its wait's messages from a thread of its own, which a stop must not
 * wait for while it is the one stopping. */
GST_START_TEST (test_stop_from_a_sync_handler_during_wait)
{
  LumaRun *run = new_run_of_a_task_that_never_ends ();

  luma_run_assert_stop_from_sync_handler (run, GST_LUMA_MESSAGE_TASK);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_stop_during_wait_is_prompt)
{
  LumaRun *run;
  gint64 deadline;

  run = new_run_of_a_task_that_never_ends ();
  /* a whole minute between polls: only a cancelled sleep returns in time */
  g_object_set (run->src, "poll-interval", 60000, NULL);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (luma_emulator_get_record_requests (fixture.em, "t-forever") < 1
      && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-forever"), 1);
  g_usleep (50000);

  luma_run_assert_prompt_stop (run);
  luma_run_drain_bus (run);
  fail_unless (run->error == NULL);
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_CANCELED], 1);
  luma_run_free (run);
}

GST_END_TEST;

static void
check_failed_task (gint flag, GstLumaTaskState expected_state)
{
  LumaEmulatorTask task = {
    .task_id = "t-failed",
    .generating_polls = 1,
    .final_flag = flag,
    .error_code = "1234",
    .error_message = "the input video could not be read",
  };
  LumaRun *run;
  const GstStructure *details;
  GstLumaTaskState status;

  luma_emulator_add_task (fixture.em, &task);
  run = luma_run_new (fixture.em, "t-failed", NULL);
  luma_run_until_done (run, 20);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ,
      "the input video could not be read");
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, "t-failed");
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, "1234");
  fail_unless_equals_int (detail_state (details), expected_state);
  fail_unless_equals_string (gst_structure_get_string (details,
          GST_LUMA_DETAIL_TASK_ID), "t-failed");
  /* KIE's errorCode (sent as a number) as text */
  fail_unless_equals_string (gst_structure_get_string (details,
          GST_LUMA_DETAIL_ERROR_CODE), "1234");
  g_object_get (run->src, "task-state", &status, NULL);
  fail_unless_equals_int (status, expected_state);
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_ERROR], 1);
  fail_unless_equals_int (run->data->len, 0);
  luma_run_free (run);
}

GST_START_TEST (test_create_failed)
{
  check_failed_task (2, GST_LUMA_TASK_STATE_CREATE_FAILED);
}

GST_END_TEST;

GST_START_TEST (test_generate_failed)
{
  check_failed_task (3, GST_LUMA_TASK_STATE_GENERATE_FAILED);
}

GST_END_TEST;

GST_START_TEST (test_callback_failed_warns_and_streams)
{
  LumaEmulatorTask task = {
    .task_id = "t-cb",
    .video = fixture.video,
    .final_flag = 4,
  };
  LumaRun *run;
  g_autoptr (GError) warning = NULL;

  luma_emulator_add_task (fixture.em, &task);
  run = luma_run_new (fixture.em, "t-cb", NULL);
  luma_run_until_done (run, 20);
  assert_output_is (run, fixture.video);
  fail_unless_equals_int (run->warnings->len, 1);
  gst_message_parse_warning (g_ptr_array_index (run->warnings, 0), &warning,
      NULL);
  fail_unless (strstr (warning->message, "callback") != NULL);
  /* not a write error: lumasrc wrote nothing; KIE's call failed */
  fail_unless (g_error_matches (warning, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_FAILED), "%s", warning->message);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_wrong_key_is_not_authorized)
{
  LumaRun *run;
  const GstStructure *details;
  g_autofree gchar *text = NULL;

  luma_test_add_ready_task (fixture.em, "t-key", fixture.video);
  run = luma_run_new (fixture.em, "t-key", NULL);
  g_object_set (run->src, "api-key", "wrong-key", NULL);
  luma_run_until_done (run, 20);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_AUTHORIZED,
      "You do not have access permissions");
  fail_unless_equals_int (detail_int (details, GST_LUMA_DETAIL_API_CODE), 401);
  fail_unless_equals_int (detail_state (details), GST_LUMA_TASK_STATE_ERROR);
  text = gst_structure_to_string (details);
  fail_unless (strstr (text, "wrong-key") == NULL);
  {
    g_autoptr (GError) error = NULL;
    g_autofree gchar *debug = NULL;

    /* the debug text: in English, the details, and where in lumasrc the
     * failure was found (the streaming function, not the poster's) */
    gst_message_parse_error (run->error, &error, &debug);
    fail_unless (debug != NULL);
    fail_unless (strstr (debug, "api-code=(int)401") != NULL, "%s", debug);
    fail_unless (strstr (debug, "gst_luma_src_create") != NULL, "%s", debug);
    fail_unless (strstr (debug, "wrong-key") == NULL);
  }
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_unknown_task_is_not_found)
{
  LumaRun *run = luma_run_new (fixture.em, "t-nobody-knows", NULL);
  const GstStructure *details;

  luma_run_until_done (run, 20);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_FOUND,
      "t-nobody-knows");
  fail_unless_equals_int (detail_int (details, GST_LUMA_DETAIL_API_CODE), 404);
  luma_run_free (run);
}

GST_END_TEST;

/* A 404 from another host than the API's, which a redirect named (a proxy,
 * a CDN), is not KIE's "unknown task": no NOT_FOUND, no api-code 404 in the
 * details (its HTTP status is there), and the error names that host. */
GST_START_TEST (test_404_from_other_host_is_no_unknown_task)
{
  LumaEmulator *other = luma_test_emulator_new ();
  g_autofree gchar *other_api = luma_emulator_get_api_url (other);
  g_autofree gchar *target = g_strconcat (other_api,
      "/api/v1/modify/record-info?taskId=t-moved", NULL);
  const GstStructure *details;
  guint http_status = 0;
  LumaRun *run;

  luma_test_add_ready_task (fixture.em, "t-moved", fixture.video);
  luma_emulator_push_record_reply (other, "t-moved", 404, NULL, NULL,
      "{\"code\":404,\"msg\":\"Task not found\"}");
  luma_emulator_push_record_redirect (fixture.em, "t-moved", target);
  run = luma_run_new (fixture.em, "t-moved", NULL);
  luma_run_until_done (run, 20);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ,
      other_api + strlen ("http://"));
  fail_unless_equals_int (detail_int (details, GST_LUMA_DETAIL_API_CODE), 0);
  fail_unless (gst_structure_get_uint (details, GST_LUMA_DETAIL_HTTP_STATUS,
          &http_status));
  fail_unless_equals_int (http_status, 404);
  luma_run_free (run);
  luma_emulator_free (other);
}

GST_END_TEST;

/* The API's codes, as `code` in a 200 answer and as the HTTP status. */
static void
check_code (guint http_status, gint code, gint resource_code,
    const gchar * words)
{
  g_autofree gchar *body =
      g_strdup_printf ("{\"code\":%d,\"msg\":\"message %d\",\"data\":null}",
      code, code);
  LumaRun *run;
  const GstStructure *details;

  luma_test_add_ready_task (fixture.em, "t-code", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-code", http_status, NULL,
      NULL, body);
  run = luma_run_new (fixture.em, "t-code", NULL);
  luma_run_until_done (run, 20);
  details = luma_run_assert_error (run, resource_code, words);
  fail_unless_equals_int (detail_int (details, GST_LUMA_DETAIL_API_CODE), code);
  luma_run_free (run);
  luma_emulator_free (fixture.em);
  fixture.em = luma_test_emulator_new ();
}

GST_START_TEST (test_refusing_codes)
{
  static const gint codes[] = { 401, 402, 404, 422, 433, 501, 505 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (codes); i++) {
    gint resource_code = codes[i] == 401 ? GST_RESOURCE_ERROR_NOT_AUTHORIZED
        : codes[i] == 404 ? GST_RESOURCE_ERROR_NOT_FOUND
        : GST_RESOURCE_ERROR_OPEN_READ;
    g_autofree gchar *words = g_strdup_printf ("message %d", codes[i]);

    check_code (200, codes[i], resource_code, words);
    check_code (codes[i], codes[i], resource_code, words);
  }
}

GST_END_TEST;

static void
check_retried_then_streams (guint http_status, const gchar * body,
    const gchar * retry_after, guint replies)
{
  LumaRun *run;
  guint i;

  luma_test_add_ready_task (fixture.em, "t-retry", fixture.video);
  for (i = 0; i < replies; i++)
    luma_emulator_push_record_reply (fixture.em, "t-retry", http_status,
        retry_after, NULL, body);
  run = luma_run_new (fixture.em, "t-retry", NULL);
  luma_run_until_done (run, 30);
  assert_output_is (run, fixture.video);
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-retry"), replies + 1);
  luma_run_free (run);
}

GST_START_TEST (test_http_500_then_success)
{
  check_retried_then_streams (500, "Internal Server Error", NULL, 2);
}

GST_END_TEST;

/* A 501 is KIE's "generation failed" only in its own answer: a page with
 * that status (a proxy's or a web server's Not Implemented) is no verdict
 * on the task, and is retried as server trouble. Before, the task was
 * reported failed (exit status 3 of the examples: "failed at KIE"), and a
 * user told so might create, and pay for, another. */
GST_START_TEST (test_http_501_page_is_no_verdict)
{
  check_retried_then_streams (501, "<html><body>Not Implemented</body></html>",
      NULL, 1);
}

GST_END_TEST;

GST_START_TEST (test_body_500_then_success)
{
  check_retried_then_streams (200, "{\"code\":500,\"msg\":\"busy\"}", NULL, 1);
}

GST_END_TEST;

GST_START_TEST (test_429_retry_after_honoured)
{
  gint64 before = g_get_monotonic_time ();

  check_retried_then_streams (429, "{\"code\":429,\"msg\":\"slow down\"}", "1",
      1);
  fail_unless (g_get_monotonic_time () - before >= 900 * 1000,
      "Retry-After: 1 was not waited for");
}

GST_END_TEST;

GST_START_TEST (test_maintenance_455_waited_out)
{
  check_retried_then_streams (200, "{\"code\":455,\"msg\":\"maintenance\"}",
      NULL, 3);
}

GST_END_TEST;

GST_START_TEST (test_server_errors_give_up_after_retries)
{
  LumaRun *run;
  guint i;

  luma_test_add_ready_task (fixture.em, "t-down", fixture.video);
  for (i = 0; i < 10; i++)
    luma_emulator_push_record_reply (fixture.em, "t-down", 503, NULL,
        "text/plain", "down");
  run = luma_run_new (fixture.em, "t-down", NULL);
  g_object_set (run->src, "retries", 2, NULL);
  luma_run_until_done (run, 30);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, "after 3 attempts");
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-down"), 3);
  luma_run_free (run);
}

GST_END_TEST;

static void
check_bad_answer (const gchar * body, gint resource_code, const gchar * words)
{
  LumaRun *run;

  luma_test_add_ready_task (fixture.em, "t-bad", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-bad", 200, NULL, NULL, body);
  run = luma_run_new (fixture.em, "t-bad", NULL);
  luma_run_until_done (run, 20);
  luma_run_assert_error (run, resource_code, words);
  fail_unless_equals_int (run->data->len, 0);
  luma_run_free (run);
  luma_emulator_free (fixture.em);
  fixture.em = luma_test_emulator_new ();
}

GST_START_TEST (test_bad_answers)
{
  check_bad_answer ("{\"code\":200,\"data\":{\"successFl",
      GST_RESOURCE_ERROR_READ, "not valid JSON");
  check_bad_answer ("[1,2,3]", GST_RESOURCE_ERROR_READ, "not a JSON object");
  check_bad_answer ("{\"code\":200,\"data\":null}", GST_RESOURCE_ERROR_READ,
      "no \"data\"");
  check_bad_answer ("{\"code\":200,\"data\":{\"successFlag\":\"1\"}}",
      GST_RESOURCE_ERROR_READ, "successFlag is not an integer");
  check_bad_answer ("{\"code\":200,\"data\":{\"successFlag\":9}}",
      GST_RESOURCE_ERROR_READ, "not one of 0 to 4");
  check_bad_answer ("{\"code\":200,\"data\":{\"successFlag\":1,"
      "\"response\":{\"resultUrls\":[]}}}", GST_RESOURCE_ERROR_READ,
      "no result URL");
  check_bad_answer ("{\"code\":200,\"data\":{\"successFlag\":1,"
      "\"response\":{\"resultUrls\":\"http://x/\"}}}", GST_RESOURCE_ERROR_READ,
      "not an array");
  check_bad_answer ("{\"code\":200,\"data\":{\"successFlag\":1,"
      "\"response\":{\"resultUrls\":[1]}}}", GST_RESOURCE_ERROR_READ,
      "not a string");
}

GST_END_TEST;

GST_START_TEST (test_non_http_result_url_refused)
{
  LumaRun *run;

  luma_test_add_ready_task (fixture.em, "t-file", fixture.video);
  luma_emulator_set_result_url (fixture.em, "t-file", "file:///etc/passwd");
  run = luma_run_new (fixture.em, "t-file", NULL);
  luma_run_until_done (run, 20);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ,
      "not an http or https URL");
  fail_unless_equals_int (run->data->len, 0);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_wait_timeout_says_resume)
{
  LumaRun *run;
  const GstStructure *details;

  add_endless_task ("t-long");
  run = luma_run_new (fixture.em, "t-long", NULL);
  /* long enough for answers to come in even under valgrind */
  g_object_set (run->src, "wait-timeout", luma_test_slowdown (),
      "poll-interval", 100, NULL);
  luma_run_until_done (run, 20 * luma_test_slowdown ());
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_BUSY,
      "still generating");
  luma_run_assert_error (run, GST_RESOURCE_ERROR_BUSY, "same task id");
  fail_unless_equals_int (detail_state (details),
      GST_LUMA_TASK_STATE_GENERATING);
  fail_unless (luma_emulator_get_record_requests (fixture.em, "t-long") >=
      (guint) MAX (5 / luma_test_slowdown (), 1));
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_missing_task_id)
{
  LumaRun *run = luma_run_new (fixture.em, "", NULL);

  fail_unless_equals_int (gst_element_set_state (run->pipeline,
          GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  luma_run_drain_bus (run);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "task id");
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_key_from_environment_and_masked)
{
  LumaRun *run;
  g_autofree gchar *read_back = NULL;

  luma_test_add_ready_task (fixture.em, "t-env", fixture.video);
  run = luma_run_new (fixture.em, "t-env", NULL);
  g_object_set (run->src, "api-key", NULL, NULL);
  g_setenv ("KIE_API_KEY", TEST_KEY, TRUE);
  luma_run_until_done (run, 20);
  g_setenv ("KIE_API_KEY", "", TRUE);
  assert_output_is (run, fixture.video);

  g_object_set (run->src, "api-key", TEST_KEY, NULL);
  g_object_get (run->src, "api-key", &read_back, NULL);
  fail_unless (read_back != NULL && strstr (read_back, TEST_KEY) == NULL);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_decodebin_plays_the_video)
{
  g_autoptr (GBytes) mp4 = luma_test_make_mp4 (50, FALSE);
  LumaRun *run;

  luma_test_add_ready_task (fixture.em, "t-mp4", mp4);
  run = luma_run_new (fixture.em, "t-mp4", "decodebin ! fakesink sync=false");
  luma_run_until_done (run, 30);
  fail_unless (run->error == NULL, "error: %" GST_PTR_FORMAT, run->error);
  fail_unless (run->eos);
  luma_run_free (run);
}

GST_END_TEST;

/* A flushing seek made while the task still generates (the pipeline
 * PAUSED, not prerolled): once ready, the bytes from there, exactly. */
GST_START_TEST (test_seek_while_generating)
{
  LumaEmulatorTask task = {
    .task_id = "t-slow",
    .video = fixture.video,
    .generating_polls = 20,
    .final_flag = 1,
  };
  LumaRun *run;
  gint64 deadline;

  luma_emulator_add_task (fixture.em, &task);
  run = luma_run_new (fixture.em, "t-slow", NULL);
  gst_element_set_state (run->pipeline, GST_STATE_PAUSED);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (luma_emulator_get_record_requests (fixture.em, "t-slow") < 3
      && g_get_monotonic_time () < deadline)
    g_usleep (5000);
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, 12345));
  luma_run_until_done (run, 30);
  fail_unless (run->error == NULL, "error: %" GST_PTR_FORMAT, run->error);
  luma_run_assert_output_from (run, fixture.video, 12345);
  luma_run_free (run);
}

GST_END_TEST;

/* PLAYING and NULL again and again while the task generates, then the
 * element streams another task: its bytes, no error, no stale state. */
GST_START_TEST (test_cycles_during_wait_then_another_task)
{
  LumaRun *run = new_run_of_a_task_that_never_ends ();
  GstLumaTaskState state;
  guint i;

  for (i = 0; i < 20; i++) {
    fail_unless (gst_element_set_state (run->pipeline, GST_STATE_PLAYING)
        == GST_STATE_CHANGE_ASYNC);
    g_usleep (g_random_int_range (0, 40000));
    fail_unless (gst_element_set_state (run->pipeline, GST_STATE_NULL)
        == GST_STATE_CHANGE_SUCCESS);
  }
  luma_run_drain_bus (run);
  fail_unless (run->error == NULL, "error: %" GST_PTR_FORMAT, run->error);
  luma_test_add_ready_task (fixture.em, "t-ready", fixture.video);
  g_object_set (run->src, "task-id", "t-ready", NULL);
  luma_run_until_done (run, 30);
  assert_output_is (run, fixture.video);
  g_object_get (run->src, "task-state", &state, NULL);
  fail_unless_equals_int (state, GST_LUMA_TASK_STATE_SUCCESS);
  luma_run_free (run);
}

GST_END_TEST;

/* an answer that is refused (the record of another task; an HTTP
 * error status whose body claims success) says nothing about this task:
 * its state must not become this task's state in the messages and the
 * error's details. */
static gchar *posted_url;

static GstBusSyncReply
keep_result_url (GstBus * bus, GstMessage * msg, gpointer data)
{
  const GstStructure *s = gst_message_get_structure (msg);

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
      && gst_message_has_name (msg, GST_LUMA_MESSAGE_TASK)
      && gst_structure_get_string (s, GST_LUMA_FIELD_RESULT_URL) != NULL
      && posted_url == NULL)
    posted_url = g_strdup (gst_structure_get_string (s,
            GST_LUMA_FIELD_RESULT_URL));
  return GST_BUS_PASS;
}

GST_START_TEST (test_refused_record_state_not_taken)
{
  LumaRun *run;
  GstBus *bus;
  const GstStructure *details;

  luma_test_add_ready_task (fixture.em, "t-mine", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-mine", 200, NULL, NULL,
      "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":"
      "\"t-someone-else\",\"successFlag\":1,\"response\":{\"resultUrls\":"
      "[\"http://127.0.0.1:9/someone-else.mp4\"]}}}");
  run = luma_run_new (fixture.em, "t-mine", NULL);
  bus = gst_element_get_bus (run->pipeline);
  gst_bus_set_sync_handler (bus, keep_result_url, NULL, NULL);
  gst_object_unref (bus);
  luma_run_until_done (run, 20);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_READ,
      "t-someone-else");
  fail_unless (detail_state (details) != GST_LUMA_TASK_STATE_SUCCESS,
      "the error's details say task-state success");
  fail_unless (posted_url == NULL, "luma-task posted result-url %s, the "
      "video of another task", posted_url);
  luma_run_free (run);
  g_clear_pointer (&posted_url, g_free);
}

GST_END_TEST;

/* "An HTTP error status wins over a body that claims success"
 * (lumaapi.c): a 404 is "unknown task", yet its details say task-state
 * success, which the README's exit table reads as "the result has
 * expired" (status 4). */
GST_START_TEST (test_http_404_with_success_body)
{
  LumaRun *run;
  const GstStructure *details;
  g_autofree gchar *url = luma_emulator_get_video_url_base (fixture.em);
  g_autofree gchar *body = g_strdup_printf ("{\"code\":200,\"msg\":"
      "\"success\",\"data\":{\"taskId\":\"t-404\",\"successFlag\":1,"
      "\"response\":{\"resultUrls\":[\"%s/r/t-404/1.mp4\"]}}}", url);

  luma_test_add_ready_task (fixture.em, "t-404", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-404", 404, NULL, NULL, body);
  run = luma_run_new (fixture.em, "t-404", NULL);
  luma_run_until_done (run, 20);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_FOUND, NULL);
  fail_unless (detail_state (details) != GST_LUMA_TASK_STATE_SUCCESS,
      "a 404 is reported as NOT_FOUND with task-state success (an expired "
      "result)");
  luma_run_free (run);
}

GST_END_TEST;

/* the API doc: 501 is "generation failed": the task failed at
 * KIE (README exit status 3: task-state generate-failed), not a refusal to
 * give the record. */
GST_START_TEST (test_code_501_is_generation_failed)
{
  LumaRun *run;
  const GstStructure *details;
  g_autoptr (GError) error = NULL;

  luma_test_add_ready_task (fixture.em, "t-501", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-501", 200, NULL, NULL,
      "{\"code\":501,\"msg\":\"Generation failed\",\"data\":null}");
  run = luma_run_new (fixture.em, "t-501", NULL);
  luma_run_until_done (run, 20);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, NULL);
  gst_message_parse_error (run->error, &error, NULL);
  fail_unless (detail_state (details) == GST_LUMA_TASK_STATE_GENERATE_FAILED,
      "501 gives task-state %d and the text \"%s\"", detail_state (details),
      error->message);
  luma_run_free (run);
}

GST_END_TEST;

/* luma.h: lumasrc posts luma-task "at each poll of the task and
 * when the task's state changes", and the state "has one name everywhere":
 * the task-state property, the message field and the detail. */
GST_START_TEST (test_error_state_is_posted)
{
  LumaRun *run;
  GstLumaTaskState property;

  add_endless_task ("t-late");
  run = luma_run_new (fixture.em, "t-late", NULL);
  g_object_set (run->src, "wait-timeout", 1, NULL);
  luma_run_until_done (run, 20);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_BUSY, "t-late");
  g_object_get (run->src, "task-state", &property, NULL);
  fail_unless_equals_int (property, GST_LUMA_TASK_STATE_ERROR);
  fail_unless (run->task_messages > 0);
  fail_unless_equals_int (run->last_state, property);
  luma_run_free (run);
}

GST_END_TEST;

/* KIE asked for an hour's rest (429, Retry-After: 3600): a seek
 * (a user scrubbing while the video is not there yet) must not poll
 * again at once, each time. */
GST_START_TEST (test_seek_during_retry_after_sends_no_poll)
{
  LumaRun *run;
  gint64 deadline;
  guint i;

  luma_test_add_ready_task (fixture.em, "t-limited", fixture.video);
  for (i = 0; i < 10; i++)
    luma_emulator_push_record_reply (fixture.em, "t-limited", 429, "3600",
        NULL, "{\"code\":429,\"msg\":\"slow down\"}");
  run = luma_run_new (fixture.em, "t-limited", NULL);
  gst_element_set_state (run->pipeline, GST_STATE_PAUSED);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (luma_emulator_get_record_requests (fixture.em, "t-limited") < 1
      && g_get_monotonic_time () < deadline)
    g_usleep (5000);
  for (i = 0; i < 5; i++) {
    g_usleep (100 * 1000);
    gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
        GST_SEEK_FLAG_FLUSH, 1000 * i);
  }
  g_usleep (300 * 1000);
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-limited"), 1);
  luma_run_free (run);
}

GST_END_TEST;

/* wait-timeout counts from the first poll, not from the last seek: an
 * editor scrubbing while the task generates still sees the wait end. */
GST_START_TEST (test_seeks_do_not_restart_the_wait_timeout)
{
  LumaRun *run;
  GstBus *bus;
  GstMessage *error = NULL;
  gint64 start, deadline;

  add_endless_task ("t-endless");
  run = luma_run_new (fixture.em, "t-endless", NULL);
  g_object_set (run->src, "wait-timeout", 2, NULL);
  bus = gst_element_get_bus (run->pipeline);
  gst_element_set_state (run->pipeline, GST_STATE_PAUSED);
  start = g_get_monotonic_time ();
  deadline = start + 20 * G_USEC_PER_SEC;
  while (error == NULL && g_get_monotonic_time () < deadline) {
    error = gst_bus_timed_pop_filtered (bus, 300 * GST_MSECOND,
        GST_MESSAGE_ERROR);
    if (error == NULL)
      gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, 0);
  }
  fail_unless (error != NULL, "the wait never ended while seeks came");
  gst_message_unref (error);
  gst_object_unref (bus);
  luma_run_free (run);
}

GST_END_TEST;

/* one application's bus sync handler that takes its time (a
 * database write, a hop to its UI thread) runs in a shared polling
 * thread: the other pipelines of the process must not wait for it. */
static gint handler_entered;

static GstBusSyncReply
slow_at_first_task_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
      && gst_message_has_name (msg, GST_LUMA_MESSAGE_TASK)
      && g_atomic_int_compare_and_exchange (&handler_entered, 0, 1)) {
    g_usleep (5 * G_USEC_PER_SEC);
    g_atomic_int_set (&handler_entered, 2);
  }
  return GST_BUS_PASS;
}

static gboolean
handler_is_in (gconstpointer data)
{
  return g_atomic_int_get (&handler_entered) == 1;
}

/* Pipeline A, for a task that never ends, played until its slow handler
 * is in (for 5 s). */
static LumaRun *
start_slow_application (void)
{
  LumaRun *a;
  GstBus *bus;

  add_endless_task ("t-slow-app");
  a = luma_run_new (fixture.em, "t-slow-app", NULL);
  bus = gst_element_get_bus (a->pipeline);
  gst_bus_set_sync_handler (bus, slow_at_first_task_message, NULL, NULL);
  gst_object_unref (bus);
  gst_element_set_state (a->pipeline, GST_STATE_PLAYING);
  fail_unless (luma_test_wait_until (handler_is_in, NULL, 5));
  return a;
}

GST_START_TEST (test_slow_sync_handler_holds_other_pipelines)
{
  LumaRun *a, *b;
  gint64 before, took;

  add_endless_task ("t-other-app");
  b = luma_run_new (fixture.em, "t-other-app", NULL);
  g_object_set (b->src, "wait-timeout", 1, NULL);
  a = start_slow_application ();

  before = g_get_monotonic_time ();
  luma_run_until_done (b, 30);
  took = g_get_monotonic_time () - before;
  luma_run_assert_error (b, GST_RESOURCE_ERROR_BUSY, "wait-timeout");
  fail_unless (took < 2 * G_USEC_PER_SEC,
      "pipeline B (wait-timeout=1) ended after %" G_GINT64_FORMAT " us while "
      "pipeline A's sync handler was busy", took);
  luma_run_free (b);
  luma_run_free (a);
}

GST_END_TEST;

/* task-state is notified from the shared polling thread; an
 * application that stops the pipeline from its notify::task-state handler
 * (a thread that is not the streaming thread, as the docs allow) must not
 * hang: the stop waits for the streaming thread, which waited for the
 * poll that runs the handler. */
static gint notify_stop;

static void
stop_on_generating (GObject * src, GParamSpec * pspec, GstElement * pipeline)
{
  GstLumaTaskState state;

  g_object_get (src, "task-state", &state, NULL);
  if (state == GST_LUMA_TASK_STATE_GENERATING
      && g_atomic_int_compare_and_exchange (&notify_stop, 0, 1)) {
    gst_element_set_state (pipeline, GST_STATE_NULL);
    g_atomic_int_set (&notify_stop, 2);
  }
}

static gboolean
notify_stop_returned (gconstpointer data)
{
  return g_atomic_int_get (&notify_stop) == 2;
}

GST_START_TEST (test_stop_from_task_state_notify)
{
  LumaRun *run = new_run_of_a_task_that_never_ends ();

  g_signal_connect (run->src, "notify::task-state",
      G_CALLBACK (stop_on_generating), run->pipeline);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  fail_unless (luma_test_wait_until (notify_stop_returned, NULL, 10),
      "the stop from a notify::task-state handler did not return");
  luma_run_free (run);
}

GST_END_TEST;

/* The same slow handler must not stop the polls of the other
 * pipelines either: a task of pipeline B that is done after a few polls
 * ends while pipeline A's handler still takes its time. The shared
 * threads that were to run the deferred messages queued up behind the
 * handler, and each new thread did too before it ran any poll. */
GST_START_TEST (test_slow_handler_does_not_stop_other_polls)
{
  LumaEmulatorTask task = {
    .task_id = "t-finite-app",
    .video = fixture.video,
    .generating_polls = 3,
    .final_flag = 1,
  };
  LumaRun *a, *b;
  gint64 before, took;

  luma_emulator_add_task (fixture.em, &task);
  b = luma_run_new (fixture.em, "t-finite-app", NULL);
  a = start_slow_application ();

  before = g_get_monotonic_time ();
  luma_run_until_done (b, 30);
  took = g_get_monotonic_time () - before;
  assert_output_is (b, fixture.video);
  fail_unless (took < 2 * G_USEC_PER_SEC * luma_test_slowdown (),
      "pipeline B's task (4 polls, 10 ms apart) took %" G_GINT64_FORMAT
      " us while pipeline A's sync handler was busy", took);
  luma_run_free (b);
  luma_run_free (a);
}

GST_END_TEST;

/* A wait stopped while the shared threads post another pipeline's
 * messages (a slow sync handler) ends with its CANCELED, which must not
 * land in the middle of the element's next wait. */
static gint starts_seen;
static gint canceled_seen;
static gint canceled_after_last_start;

static GstBusSyncReply
count_progress (GstBus * bus, GstMessage * msg, gpointer data)
{
  GstProgressType type;

  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_PROGRESS)
    return GST_BUS_PASS;
  gst_message_parse_progress (msg, &type, NULL, NULL);
  if (type == GST_PROGRESS_TYPE_START) {
    g_atomic_int_inc (&starts_seen);
    g_atomic_int_set (&canceled_after_last_start, 0);
  } else if (type == GST_PROGRESS_TYPE_CANCELED) {
    g_atomic_int_inc (&canceled_seen);
    g_atomic_int_inc (&canceled_after_last_start);
  }
  return GST_BUS_PASS;
}

static gboolean
two_starts_seen (gconstpointer data)
{
  return g_atomic_int_get (&starts_seen) >= 2;
}

GST_START_TEST (test_canceled_never_ends_the_next_wait)
{
  LumaRun *a, *b;
  GstBus *bus;

  add_endless_task ("t-other-app");
  b = luma_run_new (fixture.em, "t-other-app", NULL);
  bus = gst_element_get_bus (b->pipeline);
  gst_bus_set_sync_handler (bus, count_progress, NULL, NULL);
  gst_object_unref (bus);
  a = start_slow_application ();

  gst_element_set_state (b->pipeline, GST_STATE_PLAYING);
  g_usleep (300 * 1000);
  gst_element_set_state (b->pipeline, GST_STATE_READY);
  gst_element_set_state (b->pipeline, GST_STATE_PLAYING);
  fail_unless (luma_test_wait_until (two_starts_seen, NULL, 5));
  /* until A's handler is done, and a little after */
  g_usleep (6 * G_USEC_PER_SEC);
  fail_unless_equals_int (g_atomic_int_get (&canceled_seen), 1);
  fail_unless_equals_int (g_atomic_int_get (&canceled_after_last_start), 0);
  luma_run_free (b);
  luma_run_free (a);
}

GST_END_TEST;

/* An application's bus sync handler that takes its time on a
 * poll's luma-task message (in a shared thread), while the pipeline is
 * stopped from another thread: the wait ends with its CANCELED, posted at
 * once. The CONTINUE of that poll, posted right after the luma-task by
 * the same thread once the handler returns, must not come after the
 * CANCELED ("they never come after its CANCELED"): a progress of a wait
 * that is over. */
static gint held_in_handler;

static GstBusSyncReply
hold_first_task_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
      && gst_message_has_name (msg, GST_LUMA_MESSAGE_TASK)
      && g_atomic_int_compare_and_exchange (&held_in_handler, 0, 1))
    while (g_atomic_int_get (&held_in_handler) == 1
        && g_get_monotonic_time () < deadline)
      g_usleep (10 * 1000);
  return GST_BUS_PASS;
}

static gboolean
held_is_in (gconstpointer data)
{
  return g_atomic_int_get (&held_in_handler) == 1;
}

GST_START_TEST (test_no_continue_after_canceled)
{
  LumaRun *run = new_run_of_a_task_that_never_ends ();
  g_autoptr (GstBus) bus = gst_element_get_bus (run->pipeline);
  gboolean canceled = FALSE;
  GstMessage *msg;

  gst_bus_set_sync_handler (bus, hold_first_task_message, NULL, NULL);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  fail_unless (luma_test_wait_until (held_is_in, NULL, 10));
  fail_unless_equals_int (gst_element_set_state (run->pipeline,
          GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  g_atomic_int_set (&held_in_handler, 2);
  /* the poster returns from the handler and posts what is left */
  g_usleep (500 * 1000);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);

  while ((msg = gst_bus_pop (bus)) != NULL) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_PROGRESS) {
      GstProgressType type;
      gchar *code, *text;

      gst_message_parse_progress (msg, &type, &code, &text);
      fail_if (canceled && type != GST_PROGRESS_TYPE_START,
          "a progress (%d: %s) came after the wait's CANCELED", type, text);
      if (type == GST_PROGRESS_TYPE_CANCELED)
        canceled = TRUE;
      g_free (code);
      g_free (text);
    }
    gst_message_unref (msg);
  }
  fail_unless (canceled, "no CANCELED");
  luma_run_free (run);
}

GST_END_TEST;

/* An application whose bus sync handler takes 300 ms on each of
 * its pipeline's luma-task messages, polling every 10 ms: its messages
 * come faster than it takes them (the shared threads go on polling, and
 * deferring, while one of them posts). Pipeline B's task is done after 30
 * polls: B's wait must still end (its own messages posted, before its
 * COMPLETE), not wait until the other application's backlog is empty,
 * which it never is. */
static gint slow_each_message;  /* atomic: A's handler sleeps while set */
static gint slow_entered;

static GstBusSyncReply
slow_at_each_task_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
      && gst_message_has_name (msg, GST_LUMA_MESSAGE_TASK)
      && g_atomic_int_get (&slow_each_message)) {
    g_atomic_int_set (&slow_entered, 1);
    g_usleep (300 * 1000);
  }
  return GST_BUS_PASS;
}

static gboolean
slow_handler_entered (gconstpointer data)
{
  return g_atomic_int_get (&slow_entered) == 1;
}

GST_START_TEST (test_backlog_of_a_slow_handler_does_not_hold_a_wait)
{
  LumaEmulatorTask task = {
    .task_id = "t-finite-b",
    .video = fixture.video,
    .generating_polls = 30,
    .final_flag = 1,
  };
  LumaRun *a, *b;
  GstBus *bus;
  GstMessage *end;

  add_endless_task ("t-backlog-app");
  a = luma_run_new (fixture.em, "t-backlog-app", NULL);
  bus = gst_element_get_bus (a->pipeline);
  g_atomic_int_set (&slow_each_message, 1);
  gst_bus_set_sync_handler (bus, slow_at_each_task_message, NULL, NULL);
  gst_object_unref (bus);
  gst_element_set_state (a->pipeline, GST_STATE_PLAYING);
  fail_unless (luma_test_wait_until (slow_handler_entered, NULL, 5));

  luma_emulator_add_task (fixture.em, &task);
  b = luma_run_new (fixture.em, "t-finite-b", NULL);
  g_object_set (b->src, "wait-timeout", 10, NULL);
  gst_element_set_state (b->pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (b->pipeline);
  end = gst_bus_timed_pop_filtered (bus, 20 * GST_SECOND
      * luma_test_slowdown (), GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_object_unref (bus);
  g_atomic_int_set (&slow_each_message, 0);
  fail_unless (end != NULL, "pipeline B's wait (30 polls, wait-timeout "
      "10 s) did not end within 20 s while pipeline A's sync handler had a "
      "backlog");
  fail_unless_equals_int (GST_MESSAGE_TYPE (end), GST_MESSAGE_EOS);
  gst_message_unref (end);
  luma_run_free (b);
  luma_run_free (a);
}

GST_END_TEST;

/* A seek that sets only the stop (its start GST_SEEK_TYPE_NONE) goes on
 * from where the stream is, as filesrc does: before, the bytes already
 * pushed were pushed again from the segment's start. */
static gboolean
has_pushed_40000_bytes (gconstpointer data)
{
  GstElement *src = (GstElement *) data;
  gint64 position = 0;

  return gst_element_query_position (src, GST_FORMAT_BYTES, &position)
      && position >= 40000;
}

GST_START_TEST (test_seek_of_the_stop_only_goes_on)
{
  g_autoptr (GBytes) expected = g_bytes_new_from_bytes (fixture.video, 0,
      200000);
  LumaRun *run;

  luma_test_add_ready_task (fixture.em, "t-stop", fixture.video);
  run = luma_run_new (fixture.em, "t-stop", "identity sleep-time=3000 ! "
      "fakesink name=sink sync=false signal-handoffs=true");
  g_object_set (run->src, "blocksize", 4096, NULL);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  fail_unless (luma_test_wait_until (has_pushed_40000_bytes, run->src, 20));
  /* not flushing: what went downstream stays there */
  fail_unless (gst_element_seek (run->pipeline, 1.0, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_NONE, GST_SEEK_TYPE_NONE, -1, GST_SEEK_TYPE_SET,
          200000));
  luma_run_until_done (run, 30);
  fail_unless (run->error == NULL, "error: %" GST_PTR_FORMAT, run->error);
  fail_unless_equals_int (run->restarts, 0);
  luma_run_assert_output (run, expected);
  luma_run_free (run);
}

GST_END_TEST;

/* A seek that does not flush, made while the task generates, returns at
 * once (as a flushing one does), and a stop after it too. Before, both
 * waited until the task was ready (an hour, by default): GstBaseSrc pauses
 * the task first, which waits for create (). */
/* A run of a task that generates for @generating_polls polls, playing,
 * once its record has been asked for @polls times, @poll_ms apart. */
static LumaRun *
play_until_polled (const gchar * task_id, guint generating_polls,
    guint poll_ms, guint polls)
{
  LumaEmulatorTask task = {.task_id = task_id,.video = fixture.video,
    .generating_polls = generating_polls,.final_flag = 1
  };
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  LumaRun *run;

  luma_emulator_add_task (fixture.em, &task);
  run = luma_run_new (fixture.em, task_id, NULL);
  g_object_set (run->src, "poll-interval", poll_ms, NULL);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  while (luma_emulator_get_record_requests (fixture.em, task_id) < polls
      && g_get_monotonic_time () < deadline)
    g_usleep (5000);
  return run;
}

typedef struct
{
  GstElement *pipeline;
  gint done;                    /* atomic */
} StopInThread;

static gpointer
stop_pipeline (gpointer data)
{
  StopInThread *stop = data;

  gst_element_set_state (stop->pipeline, GST_STATE_NULL);
  g_atomic_int_set (&stop->done, TRUE);
  return NULL;
}

static gboolean
stop_returned (gconstpointer data)
{
  return g_atomic_int_get (&((const StopInThread *) data)->done);
}

GST_START_TEST (test_seek_without_flush_while_generating_returns)
{
  LumaRun *run = play_until_polled ("t-later", G_MAXUINT, 1000, 1);
  StopInThread stop = { run->pipeline, FALSE };
  LumaTestSeek seek;
  GThread *stopper;
  gboolean seek_returned_at_once, stop_returned_at_once;

  /* in the wait between two polls */
  g_usleep (50000);

  luma_test_seek_start (&seek, run->src, 12345);
  seek_returned_at_once = luma_test_wait_until (luma_test_seek_returned,
      &seek, 10);
  /* and a stop, which must never wait for the task either */
  stopper = g_thread_new ("stop", stop_pipeline, &stop);
  stop_returned_at_once = luma_test_wait_until (stop_returned, &stop, 10);
  /* held: the task made ready ends the wait, and both with it */
  if (!stop_returned_at_once)
    luma_test_add_ready_task (fixture.em, "t-later", fixture.video);
  g_thread_join (stopper);
  fail_unless (luma_test_seek_join (&seek));
  fail_unless (seek_returned_at_once, "a seek without flush did not return "
      "while the task was generating (and a stop %s)",
      stop_returned_at_once ? "returned" : "was held too");
  fail_unless (stop_returned_at_once, "a stop did not return while a seek "
      "without flush waited for the task");
  luma_run_free (run);
}

GST_END_TEST;

/* And the wait goes on after it, then streams from there. */
GST_START_TEST (test_seek_without_flush_while_generating_streams)
{
  LumaRun *run = play_until_polled ("t-soon", 30, 10, 3);
  LumaTestSeek seek;

  luma_test_seek_start (&seek, run->src, 12345);
  fail_unless (luma_test_wait_until (luma_test_seek_returned, &seek, 10));
  fail_unless (luma_test_seek_join (&seek));
  luma_run_until_done (run, 30);
  fail_unless (run->error == NULL, "error: %" GST_PTR_FORMAT, run->error);
  luma_run_assert_output_from (run, fixture.video, 12345);
  luma_run_free (run);
}

GST_END_TEST;

/* error-code is KIE's errorCode "for a task that failed"
 * (docs/lumasrc.md): a finished task whose record also carries an
 * errorCode (an odd answer) has not failed, and an error of the video host
 * after it does not say it did (before, it did). */
GST_START_TEST (test_error_code_of_a_success_not_in_details)
{
  g_autofree gchar *base = luma_emulator_get_video_url_base (fixture.em);
  g_autofree gchar *body = g_strdup_printf ("{\"code\":200,\"msg\":"
      "\"success\",\"data\":{\"taskId\":\"t-odd\",\"successFlag\":1,"
      "\"errorCode\":\"E9\",\"errorMessage\":\"\",\"response\":"
      "{\"resultUrls\":[\"%s/r/t-odd/video.mp4\"]}}}", base);
  LumaEmulatorVideoFaults faults = {
    .fail_status = 403,
    .fail_count = G_MAXUINT,
    .fail_html = TRUE,
  };
  const GstStructure *details;
  LumaRun *run;

  luma_test_add_ready_task (fixture.em, "t-odd", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-odd", 200, NULL, NULL, body);
  luma_emulator_set_video_faults (fixture.em, "t-odd", &faults);
  run = luma_run_new (fixture.em, "t-odd", NULL);
  luma_run_until_done (run, 30);
  fail_unless (run->error != NULL);
  gst_message_parse_error_details (run->error, &details);
  fail_unless (details != NULL);
  {
    g_autofree gchar *text = gst_structure_to_string (details);

    fail_if (gst_structure_has_field (details, GST_LUMA_DETAIL_ERROR_CODE),
        "a task that succeeded has the error-code of a failed one: %s", text);
  }
  luma_run_free (run);
}

GST_END_TEST;

/* A wait a flushing seek cut, resumed (as the wait-timeout
 * counts from the first wait) only once its wait-timeout has passed: the
 * task was last seen generating, and the error must say so, not blame
 * polling threads held by slow servers (no request was even due), as it
 * did before. */
static GstPadProbeReturn
hold_flush_stop (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_FLUSH_STOP)
    g_usleep (GPOINTER_TO_UINT (data));
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_wait_resumed_past_its_timeout_says_generating)
{
  LumaRun *run;
  GstPad *pad;
  gint64 deadline;

  add_endless_task ("t-long");
  run = luma_run_new (fixture.em, "t-long", NULL);
  g_object_set (run->src, "wait-timeout", 2, "poll-interval", 100, NULL);
  gst_element_set_state (run->pipeline, GST_STATE_PAUSED);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (luma_emulator_get_record_requests (fixture.em, "t-long") < 2
      && g_get_monotonic_time () < deadline)
    g_usleep (5000);
  /* the seek's thread, downstream, takes its time with the flush */
  pad = gst_element_get_static_pad (run->src, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_FLUSH, hold_flush_stop,
      GUINT_TO_POINTER (3 * G_USEC_PER_SEC), NULL);
  gst_object_unref (pad);
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, 100));
  luma_run_until_done (run, 20);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_BUSY, "still generating");
  luma_run_free (run);
}

GST_END_TEST;

static Suite *
lumasrc_suite (void)
{
  Suite *s = suite_create ("lumasrc");
  TCase *tc = tcase_create ("task");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, luma_test_fixture_teardown);
  tcase_add_test (tc, test_waits_then_streams_byte_identical);
  tcase_add_test (tc, test_error_code_of_a_success_not_in_details);
  tcase_add_test (tc, test_wait_resumed_past_its_timeout_says_generating);
  tcase_add_test (tc, test_result_url_with_a_space_streams);
  tcase_add_test (tc, test_state_change_is_async_while_generating);
  tcase_add_test (tc, test_stop_from_a_sync_handler_during_wait);
  tcase_add_test (tc, test_stop_during_wait_is_prompt);
  tcase_add_test (tc, test_create_failed);
  tcase_add_test (tc, test_generate_failed);
  tcase_add_test (tc, test_callback_failed_warns_and_streams);
  tcase_add_test (tc, test_wrong_key_is_not_authorized);
  tcase_add_test (tc, test_unknown_task_is_not_found);
  tcase_add_test (tc, test_404_from_other_host_is_no_unknown_task);
  tcase_add_test (tc, test_refusing_codes);
  tcase_add_test (tc, test_http_500_then_success);
  tcase_add_test (tc, test_body_500_then_success);
  tcase_add_test (tc, test_429_retry_after_honoured);
  tcase_add_test (tc, test_maintenance_455_waited_out);
  tcase_add_test (tc, test_server_errors_give_up_after_retries);
  tcase_add_test (tc, test_bad_answers);
  tcase_add_test (tc, test_non_http_result_url_refused);
  tcase_add_test (tc, test_wait_timeout_says_resume);
  tcase_add_test (tc, test_missing_task_id);
  tcase_add_test (tc, test_key_from_environment_and_masked);
  tcase_add_test (tc, test_decodebin_plays_the_video);
  tcase_add_test (tc, test_seek_while_generating);
  tcase_add_test (tc, test_cycles_during_wait_then_another_task);
  tcase_add_test (tc, test_refused_record_state_not_taken);
  tcase_add_test (tc, test_http_404_with_success_body);
  tcase_add_test (tc, test_code_501_is_generation_failed);
  tcase_add_test (tc, test_http_501_page_is_no_verdict);
  tcase_add_test (tc, test_error_state_is_posted);
  tcase_add_test (tc, test_seek_during_retry_after_sends_no_poll);
  tcase_add_test (tc, test_seeks_do_not_restart_the_wait_timeout);
  tcase_add_test (tc, test_slow_sync_handler_holds_other_pipelines);
  tcase_add_test (tc, test_stop_from_task_state_notify);
  tcase_add_test (tc, test_slow_handler_does_not_stop_other_polls);
  tcase_add_test (tc, test_canceled_never_ends_the_next_wait);
  tcase_add_test (tc, test_no_continue_after_canceled);
  tcase_add_test (tc, test_backlog_of_a_slow_handler_does_not_hold_a_wait);
  tcase_add_test (tc, test_seek_of_the_stop_only_goes_on);
  tcase_add_test (tc, test_seek_without_flush_while_generating_returns);
  tcase_add_test (tc, test_seek_without_flush_while_generating_streams);
  return s;
}

GST_CHECK_MAIN (lumasrc);
