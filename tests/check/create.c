/* gst-luma: lumasrc creating its task (prompt + video-url): one POST, its
 * answers, and the money rule (never a second task by accident)
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/luma/luma.h>

#include "badservers.h"
#include "harness.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define PROMPT "Make it snow"

static gchar *clip_url;
static gchar *state_dir;

static void
setup (void)
{
  g_autofree gchar *base = NULL;

  luma_test_fixture_setup (luma_test_random_bytes (200 * 1024, 11));
  /* the clip to modify: served on loopback by the emulator's video host */
  luma_test_add_ready_task (fixture.em, "input-clip", fixture.video);
  base = luma_emulator_get_video_url_base (fixture.em);
  clip_url = g_strconcat (base, "/r/input-clip/1.mp4", NULL);
  /* a journal of this test's own */
  state_dir = g_dir_make_tmp ("luma-create-XXXXXX", NULL);
  g_setenv ("XDG_STATE_HOME", state_dir, TRUE);
}

static void
teardown (void)
{
  luma_test_fixture_teardown ();
  g_clear_pointer (&clip_url, g_free);
  luma_test_remove_tree (state_dir);
  g_clear_pointer (&state_dir, g_free);
}

/* A run that creates its task: no task-id, a prompt and the clip's URL. */
static LumaRun *
creating_run (const gchar * prompt)
{
  LumaRun *run = luma_run_new (fixture.em, "unused", NULL);

  g_object_set (run->src, "task-id", NULL, "prompt", prompt, "video-url",
      clip_url, NULL);
  return run;
}

typedef struct
{
  guint count;
  gchar *task_id;
  gboolean reused;
} CreatedWatch;

static void
on_element_message (GstBus * bus, GstMessage * msg, CreatedWatch * watch)
{
  const GstStructure *s = gst_message_get_structure (msg);

  if (!gst_structure_has_name (s, GST_LUMA_MESSAGE_TASK_CREATED))
    return;
  watch->count++;
  g_free (watch->task_id);
  watch->task_id = g_strdup (gst_structure_get_string (s,
          GST_LUMA_FIELD_TASK_ID));
  fail_unless (gst_structure_get_boolean (s, GST_LUMA_FIELD_REUSED,
          &watch->reused));
  fail_unless_equals_string (gst_structure_get_string (s,
          GST_LUMA_FIELD_VIDEO_URL), clip_url);
}

static void
watch_created (LumaRun * run, CreatedWatch * watch)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (run->pipeline);

  gst_bus_enable_sync_message_emission (bus);
  g_signal_connect (bus, "sync-message::element",
      G_CALLBACK (on_element_message), watch);
}

GST_START_TEST (test_creates_then_streams)
{
  CreatedWatch watch = { 0, };
  LumaRun *run = creating_run (PROMPT);
  g_autofree gchar *task_id = NULL;
  g_autofree gchar *body = NULL;

  watch_created (run, &watch);
  luma_run_until_done (run, 30);
  luma_run_assert_output (run, fixture.video);

  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
  fail_unless_equals_int (watch.count, 1);
  fail_if (watch.reused);
  g_object_get (run->src, "task-id", &task_id, NULL);
  fail_unless (task_id != NULL && strlen (task_id) == 32);
  fail_unless_equals_string (task_id, watch.task_id);

  body = luma_emulator_get_last_generate_body (fixture.em);
  fail_unless (strstr (body, "\"prompt\":\"" PROMPT "\"") != NULL, "%s", body);
  fail_unless (strstr (body, clip_url) != NULL, "%s", body);
  /* the key went to the API, never to the video host */
  fail_unless (luma_emulator_get_api_auth_requests (fixture.em) >= 2);
  fail_unless_equals_int (luma_emulator_get_video_auth_requests (fixture.em),
      0);
  g_free (watch.task_id);
  luma_run_free (run);
}

GST_END_TEST;

static void
assert_settings_error (const gchar * task_id, const gchar * prompt,
    const gchar * video_url, const gchar * words)
{
  LumaRun *run = luma_run_new (fixture.em, "unused", NULL);

  g_object_set (run->src, "task-id", task_id, "prompt", prompt, "video-url",
      video_url, NULL);
  luma_run_until_done (run, 20);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, words);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em), 0);
}

/* Once the element has created its task, the URI it answers (a URI
 * query, as an editor saving its project asks) names that task, and opens
 * it again. */
GST_START_TEST (test_uri_names_the_created_task)
{
  LumaRun *run = creating_run (PROMPT);
  g_autoptr (GstQuery) query = gst_query_new_uri ();
  g_autofree gchar *task_id = NULL;
  g_autofree gchar *expected = NULL;
  g_autofree gchar *uri = NULL;
  GstElement *again;

  fail_unless (gst_uri_handler_get_uri (GST_URI_HANDLER (run->src)) == NULL);
  luma_run_until_done (run, 30);
  fail_unless (run->eos);
  g_object_get (run->src, "task-id", &task_id, NULL);
  expected = g_strconcat ("luma://", task_id, NULL);
  fail_unless (gst_element_query (run->src, query));
  gst_query_parse_uri (query, &uri);
  fail_unless_equals_string (uri, expected);

  again = gst_element_make_from_uri (GST_URI_SRC, uri, NULL, NULL);
  fail_unless (again != NULL);
  g_clear_pointer (&task_id, g_free);
  g_object_get (again, "task-id", &task_id, NULL);
  fail_unless_equals_string (task_id, expected + strlen ("luma://"));
  gst_object_unref (again);
  luma_run_free (run);
}

GST_END_TEST;

/* a URI names the task of the element's request: once the request
 * changes (another prompt, set in NULL to run again), the task created for
 * the old one is not its task, and "before the task is known it has none"
 * (docs/lumasrc.md). An editor saving its project then would keep a URI
 * that opens the video of the other prompt. */
static void
count_notify (guint * count)
{
  (*count)++;
}

GST_START_TEST (test_uri_forgets_task_of_other_prompt)
{
  LumaRun *run = creating_run (PROMPT);
  g_autofree gchar *uri = NULL;
  g_autofree gchar *task_id = NULL;
  guint notified = 0;

  luma_run_until_done (run, 30);
  fail_unless (run->eos);
  uri = gst_uri_handler_get_uri (GST_URI_HANDLER (run->src));
  fail_unless (uri != NULL);
  g_clear_pointer (&uri, g_free);

  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  /* told, for an application bound to task-id */
  g_signal_connect_swapped (run->src, "notify::task-id",
      G_CALLBACK (count_notify), &notified);
  g_object_set (run->src, "prompt", "make it snow instead", NULL);
  fail_unless_equals_int (notified, 1);
  uri = gst_uri_handler_get_uri (GST_URI_HANDLER (run->src));
  fail_unless (uri == NULL, "the URI of a prompt not yet run: %s", uri);
  g_object_get (run->src, "task-id", &task_id, NULL);
  fail_unless (task_id == NULL, "task-id of a prompt not yet run: %s", task_id);
  luma_run_free (run);
}

GST_END_TEST;

/* "A new request (another prompt ...) forgets the task of the last
 * one" (docs/lumasrc.md): the same prompt set again (an application that
 * sets all its properties before each run) is no other request; the task
 * is still the one its next run reuses, and its URI must still name it. */
GST_START_TEST (test_same_prompt_again_keeps_task)
{
  LumaRun *run = creating_run (PROMPT);
  g_autofree gchar *uri = NULL;
  g_autofree gchar *task_id = NULL;
  g_autofree gchar *expected = NULL;

  luma_run_until_done (run, 30);
  fail_unless (run->eos);
  g_object_get (run->src, "task-id", &task_id, NULL);
  expected = g_strconcat ("luma://", task_id, NULL);

  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  g_object_set (run->src, "prompt", PROMPT, NULL);
  uri = gst_uri_handler_get_uri (GST_URI_HANDLER (run->src));
  fail_unless (uri != NULL, "no URI after the same prompt was set again");
  fail_unless_equals_string (uri, expected);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_settings_that_cannot_create)
{
  assert_settings_error ("abc", PROMPT, NULL, "one or the other");
  assert_settings_error ("abc", NULL, "http://127.0.0.1:9/x.mp4",
      "one or the other");
  assert_settings_error (NULL, PROMPT, NULL, "video-url");
  assert_settings_error (NULL, PROMPT, "file:///etc/passwd", "video-url");
  assert_settings_error (NULL, PROMPT, "http://h/x\r\nX: 1", "video-url");
  assert_settings_error (NULL, "", "http://127.0.0.1:9/x.mp4", "prompt");
  /* blanks only: a billed task with nothing asked */
  assert_settings_error (NULL, " \n\t\u3000", "http://127.0.0.1:9/x.mp4",
      "prompt");
}

GST_END_TEST;

/* Editors open a URI several times: a URI that created would bill each. */
GST_START_TEST (test_uri_cannot_create)
{
  GstElement *src = gst_element_factory_make ("lumasrc", NULL);
  g_autoptr (GError) error = NULL;

  fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src),
          "luma://x?prompt=snow&video-url=http://h/c.mp4", &error));
  fail_unless (strstr (error->message, "prompt") != NULL, "%s", error->message);
  gst_object_unref (src);
}

GST_END_TEST;

static void
run_refused_create (guint http_status, gint code, GstResourceError expected,
    const gchar * words)
{
  g_autofree gchar *body = g_strdup_printf ("{\"code\":%d,\"msg\":\"said %d\"}",
      code, code);
  LumaRun *run;
  const GstStructure *details;
  gint api_code;
  gboolean may_exist;

  luma_emulator_push_generate_reply (fixture.em, http_status, NULL, body);
  run = creating_run (PROMPT);
  /* each case POSTs: after an uncertain one (500) the journal would stop
   * the next (test_uncertain_answer_stops_a_rerun) */
  g_object_set (run->src, "force-new", TRUE, NULL);
  luma_run_until_done (run, 20);
  details = luma_run_assert_error (run, expected, words);
  fail_unless (gst_structure_get_int (details, GST_LUMA_DETAIL_API_CODE,
          &api_code));
  fail_unless_equals_int (api_code, code);
  fail_unless (gst_structure_get_boolean (details,
          GST_LUMA_DETAIL_TASK_MAY_EXIST, &may_exist));
  fail_unless_equals_int (may_exist, code >= 500 && code != 501 && code != 505);
  luma_run_free (run);
}

/* @run (freed) failed with @code and @words and said no task may exist
 * (task-may-exist false): a rerun then creates the task, once. */
static void
assert_nothing_created_then_rerun (LumaRun * run, GstResourceError code,
    const gchar * words)
{
  const GstStructure *details = luma_run_assert_error (run, code, words);
  gboolean may_exist = TRUE;

  fail_unless (gst_structure_get_boolean (details,
          GST_LUMA_DETAIL_TASK_MAY_EXIST, &may_exist));
  fail_if (may_exist);
  luma_run_free (run);

  run = creating_run (PROMPT);
  luma_run_until_done (run, 30);
  fail_unless (run->eos);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
  luma_run_free (run);
}

typedef struct
{
  LumaEmulator *em;
  guint16 port;
} LateStart;

/* The API comes up a little after the first POST was refused a
 * connection (a restart). */
static gpointer
start_emulator_later (gpointer data)
{
  LateStart *late = data;
  g_autoptr (GError) error = NULL;

  g_usleep (400 * G_TIME_SPAN_MILLISECOND);
  fail_unless (luma_emulator_start (late->em, late->port, 0, &error),
      "emulator: %s", error ? error->message : "");
  return NULL;
}

/* A POST that could not be sent at all (no connection) created nothing:
 * it is tried again, as a poll is, and the task is created once. */
GST_START_TEST (test_request_that_never_left_is_tried_again)
{
  LateStart late = { luma_emulator_new (TEST_KEY), luma_test_refused_port () };
  g_autofree gchar *api_url = g_strdup_printf ("http://127.0.0.1:%u",
      late.port);
  LumaRun *run = creating_run (PROMPT);
  GThread *starter;

  g_object_set (run->src, "api-url", api_url, NULL);
  starter = g_thread_new ("late-api", start_emulator_later, &late);
  luma_run_until_done (run, 30);
  g_thread_join (starter);
  fail_unless (run->eos && run->error == NULL);
  fail_unless_equals_int (luma_emulator_get_creates (late.em), 1);
  luma_run_free (run);
  luma_emulator_free (late.em);
}

GST_END_TEST;

/* An API that never takes the connection: the error says the request
 * was never sent and nothing was created, and a rerun may create it. */
GST_START_TEST (test_request_that_never_left_says_nothing_created)
{
  g_autofree gchar *api_url = g_strdup_printf ("http://127.0.0.1:%u",
      luma_test_refused_port ());
  LumaRun *run = creating_run (PROMPT);

  g_object_set (run->src, "api-url", api_url, "retries", 2, NULL);
  luma_run_until_done (run, 30);
  assert_nothing_created_then_rerun (run, GST_RESOURCE_ERROR_OPEN_READ,
      "Could not send the request to create the task (3 attempts), so no "
      "task was created: Connection refused by 127.0.0.1");
}

GST_END_TEST;

/* A proxy on the way that wants credentials (407) stopped the request
 * there: no task, said so (task-may-exist false), and a rerun may create
 * it. */
GST_START_TEST (test_proxy_wanting_credentials_created_nothing)
{
  LumaRun *run;

  luma_emulator_push_generate_reply (fixture.em, 407, NULL, "");
  run = creating_run (PROMPT);
  luma_run_until_done (run, 20);
  assert_nothing_created_then_rerun (run, GST_RESOURCE_ERROR_NOT_AUTHORIZED,
      "proxy");
}

GST_END_TEST;

GST_START_TEST (test_each_refusal_has_its_error)
{
  const struct
  {
    gint code;
    GstResourceError error;
    const gchar *words;
  } cases[] = {
    {401, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "API key"},
    {402, GST_RESOURCE_ERROR_OPEN_WRITE, "credits"},
    {422, GST_RESOURCE_ERROR_OPEN_WRITE, "input"},
    {433, GST_RESOURCE_ERROR_OPEN_WRITE, "limit"},
    {500, GST_RESOURCE_ERROR_OPEN_WRITE, "may exist"},
    {501, GST_RESOURCE_ERROR_OPEN_WRITE, "could not generate"},
    {505, GST_RESOURCE_ERROR_OPEN_WRITE, "disabled"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    /* in the body of a 200, and as the HTTP status */
    run_refused_create (200, cases[i].code, cases[i].error, cases[i].words);
    run_refused_create (cases[i].code, cases[i].code, cases[i].error,
        cases[i].words);
  }
  run_refused_create (200, 401, GST_RESOURCE_ERROR_NOT_AUTHORIZED, NULL);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 0);
}

GST_END_TEST;

GST_START_TEST (test_rate_limit_is_waited_out)
{
  LumaRun *run;
  gint64 before, took;

  luma_emulator_push_generate_reply (fixture.em, 429, "1",
      "{\"code\":429,\"msg\":\"slow down\"}");
  luma_emulator_push_generate_reply (fixture.em, 200, "1",
      "{\"code\":429,\"msg\":\"slow down\"}");
  run = creating_run (PROMPT);
  before = g_get_monotonic_time ();
  luma_run_until_done (run, 30);
  took = g_get_monotonic_time () - before;
  fail_unless (run->eos, "%" GST_PTR_FORMAT, run->error);
  fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em), 3);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
  /* each Retry-After (1 s) waited out, as the status or in the body */
  fail_unless (took >= 2 * G_USEC_PER_SEC,
      "waited only %" G_GINT64_FORMAT " us", took);
  luma_run_free (run);
}

GST_END_TEST;

/* Maintenance (455) while creating is waited out within wait-timeout, as
 * rate limiting (429) is, and beyond it is BUSY: a 455 created nothing,
 * so trying again cannot bill twice. */
GST_START_TEST (test_maintenance_while_creating_is_waited_out)
{
  LumaRun *run;

  luma_emulator_push_generate_reply (fixture.em, 455, "1",
      "{\"code\":455,\"msg\":\"maintenance\"}");
  luma_emulator_push_generate_reply (fixture.em, 200, "1",
      "{\"code\":455,\"msg\":\"maintenance\"}");
  run = creating_run (PROMPT);
  luma_run_until_done (run, 30);
  if (run->error != NULL) {
    g_autoptr (GError) error = NULL;

    gst_message_parse_error (run->error, &error, NULL);
    fail ("a 455 while creating was not waited out: %s", error->message);
  }
  fail_unless (run->eos);
  fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em), 3);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
  luma_run_free (run);

  /* for longer than wait-timeout: BUSY, naming maintenance, nothing
   * created */
  luma_emulator_push_generate_reply (fixture.em, 455, "3",
      "{\"code\":455,\"msg\":\"maintenance\"}");
  run = creating_run ("Make it rain");
  g_object_set (run->src, "wait-timeout", 1, NULL);
  luma_run_until_done (run, 30);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_BUSY, "maintenance");
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
}

GST_END_TEST;

GST_START_TEST (test_prompt_not_english_warns_once)
{
  LumaRun *run = creating_run ("让视频里下雪");
  g_autoptr (GError) warning = NULL;

  luma_run_until_done (run, 30);
  fail_unless (run->eos);
  fail_unless_equals_int (run->warnings->len, 1);
  gst_message_parse_warning (g_ptr_array_index (run->warnings, 0), &warning,
      NULL);
  fail_unless (strstr (warning->message, "English") != NULL);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
  luma_run_free (run);

  run = creating_run ("Make it look like Kyōto in 雪");
  luma_run_until_done (run, 30);
  fail_unless_equals_int (run->warnings->len, 0);
  luma_run_free (run);
}

GST_END_TEST;

/* Sent, and no answer: KIE may have created (and billed) the task. */
GST_START_TEST (test_no_answer_means_a_task_may_exist)
{
  LumaRun *run = creating_run (PROMPT);
  const GstStructure *details;
  gboolean may_exist = FALSE;

  luma_emulator_set_generate_answer_delay (fixture.em, 4000);
  g_object_set (run->src, "timeout", 1, NULL);
  luma_run_until_done (run, 30);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_WRITE,
      "may exist");
  fail_unless (gst_structure_get_boolean (details,
          GST_LUMA_DETAIL_TASK_MAY_EXIST, &may_exist));
  fail_unless (may_exist);
  luma_run_free (run);
}

GST_END_TEST;

/* An answer that trickles in, a header byte a second, keeps the inactivity
 * timeout happy for ever: the request's deadline (twice the timeout) ends
 * it, and the task may exist. */
GST_START_TEST (test_trickled_answer_ends_at_the_request_deadline)
{
  BadServer *server = bad_server_start (BAD_SERVER_TRICKLE_HEADERS);
  g_autofree gchar *url = bad_server_get_url (server);
  LumaRun *run = creating_run (PROMPT);
  const GstStructure *details;
  gboolean may_exist = FALSE;
  gint64 start = g_get_monotonic_time ();

  g_object_set (run->src, "api-url", url, "timeout", 2, NULL);
  luma_run_until_done (run, 30);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_WRITE,
      "did not answer within 4 seconds");
  fail_unless (gst_structure_get_boolean (details,
          GST_LUMA_DETAIL_TASK_MAY_EXIST, &may_exist));
  fail_unless (may_exist);
  fail_unless (g_get_monotonic_time () - start < 15 * G_USEC_PER_SEC);
  fail_unless (bad_server_get_bytes_sent (server) > 0);
  luma_run_free (run);
  bad_server_stop (server);
}

GST_END_TEST;

/* A creating run, playing, once its POST has arrived and waits @delay_ms
 * for its answer. */
static LumaRun *
play_until_create_held (guint delay_ms)
{
  LumaRun *run = creating_run (PROMPT);
  gint i;

  luma_emulator_set_generate_answer_delay (fixture.em, delay_ms);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  for (i = 0; i < 500 && luma_emulator_get_generate_requests (fixture.em) == 0;
      i++)
    g_usleep (10 * 1000);
  fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em), 1);
  return run;
}

/* force-new is the request to create one new task, not one per flush: a
 * flushing seek while the POST waits for its answer cuts it, and create()
 * runs the creation again, which finds the request sent and says so. */
GST_START_TEST (test_flush_during_create_creates_once)
{
  LumaRun *run = creating_run (PROMPT);
  gint i;

  g_object_set (run->src, "force-new", TRUE, NULL);
  luma_emulator_set_generate_answer_delay (fixture.em, 2000);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  for (i = 0; i < 500 && luma_emulator_get_generate_requests (fixture.em) == 0;
      i++)
    g_usleep (10 * 1000);
  fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em), 1);
  g_usleep (200 * 1000);
  fail_unless (gst_element_send_event (run->src,
          gst_event_new_seek (1.0, GST_FORMAT_BYTES, GST_SEEK_FLAG_FLUSH,
              GST_SEEK_TYPE_SET, 0, GST_SEEK_TYPE_NONE, -1)));
  luma_emulator_set_generate_answer_delay (fixture.em, 0);
  luma_run_until_done (run, 30);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_WRITE,
      "never recorded the answer");
  luma_run_free (run);
}

GST_END_TEST;

/* A seek without flush while the POST that creates the task waits for its
 * answer is refused at once (there are no bytes to seek in yet), and the
 * creation goes on: cut, as a seek's wait is cut, the answer was lost and
 * the run failed with "may exist" for a task that was billed and never
 * streamed; waited for, the seek held a stop behind it (the state lock)
 * for as long as the POST took. */
GST_START_TEST (test_seek_without_flush_during_create_keeps_it)
{
  LumaRun *run = play_until_create_held (2000);
  LumaTestSeek seek;

  g_usleep (200 * 1000);
  luma_test_seek_start (&seek, run->src, 0);
  /* at once: well before the POST's answer, 1.8 s later */
  fail_unless (luma_test_wait_until (luma_test_seek_returned, &seek, 1),
      "the seek waited for the creation");
  fail_if (luma_test_seek_join (&seek),
      "the seek was taken during the creation");
  luma_run_until_done (run, 30);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
  if (run->error != NULL) {
    g_autoptr (GError) error = NULL;

    gst_message_parse_error (run->error, &error, NULL);
    fail ("the run failed: %s", error->message);
  }
  fail_unless (run->eos);
  luma_run_free (run);
}

GST_END_TEST;

/* And a stop after such a seek is as prompt as a stop during the creation
 * alone (test_stop_during_create_is_prompt). */
GST_START_TEST (test_stop_after_a_seek_during_create_is_prompt)
{
  LumaRun *run = play_until_create_held (3000);
  LumaTestSeek seek;
  gint64 start, took;

  g_usleep (200 * 1000);
  luma_test_seek_start (&seek, run->src, 0);
  g_usleep (200 * 1000);
  start = g_get_monotonic_time ();
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  took = g_get_monotonic_time () - start;
  luma_test_seek_join (&seek);
  fail_unless (took < 50000 * luma_test_slowdown () * luma_test_slowdown (),
      "the stop took %" G_GINT64_FORMAT " us", took);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_stop_during_create_is_prompt)
{
  LumaRun *run = play_until_create_held (3000);
  gint64 start, took;

  start = g_get_monotonic_time ();
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  took = g_get_monotonic_time () - start;
  /* 50 ms; valgrind (slowdown 3) runs the state change's teardown of
   * elements some ten times slower, hence the square */
  fail_unless (took < 50000 * luma_test_slowdown () * luma_test_slowdown (),
      "took %" G_GINT64_FORMAT " us", took);
  luma_run_free (run);
}

GST_END_TEST;

/* ----- the money rule ----- */

static LumaRun *
run_to_end (const gchar * prompt, gboolean force_new, CreatedWatch * watch)
{
  LumaRun *run = creating_run (prompt);

  g_object_set (run->src, "force-new", force_new, NULL);
  if (watch != NULL)
    watch_created (run, watch);
  luma_run_until_done (run, 30);
  return run;
}

GST_START_TEST (test_same_request_reuses_its_task)
{
  CreatedWatch w1 = { 0, }, w2 = { 0, };
  LumaRun *run;

  run = run_to_end (PROMPT, FALSE, &w1);
  fail_unless (run->eos);
  luma_run_free (run);
  run = run_to_end (PROMPT, FALSE, &w2);
  fail_unless (run->eos);
  fail_unless_equals_int (run->data->len, g_bytes_get_size (fixture.video));
  luma_run_free (run);

  fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em), 1);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
  fail_if (w1.reused);
  fail_unless (w2.reused);
  fail_unless_equals_string (w1.task_id, w2.task_id);

  /* another prompt is another request */
  run = run_to_end ("Make it rain", FALSE, NULL);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 2);
  g_free (w1.task_id);
  g_free (w2.task_id);
}

GST_END_TEST;

GST_START_TEST (test_force_new_creates_again)
{
  LumaRun *run;

  run = run_to_end (PROMPT, FALSE, NULL);
  luma_run_free (run);
  run = run_to_end (PROMPT, TRUE, NULL);
  fail_unless (run->eos);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 2);
}

GST_END_TEST;

/* An answer that does not say whether a task was created (a 500): the
 * next run refuses to create, and says how to go on. */
/* Answers that do not say whether a task was made: a server error, and a
 * success without a task id (something was created, maybe). */
static const struct
{
  guint status;
  const gchar *body;
  GstResourceError error;
} uncertain_answers[] = {
  {500, "{\"code\":500,\"msg\":\"oops\"}", GST_RESOURCE_ERROR_OPEN_WRITE},
  {200, "{\"code\":200,\"msg\":\"success\",\"data\":{}}",
      GST_RESOURCE_ERROR_READ},
};

GST_START_TEST (test_uncertain_answer_stops_a_rerun)
{
  LumaRun *run;
  const GstStructure *details;
  gboolean may_exist = FALSE;

  luma_emulator_push_generate_reply (fixture.em,
      uncertain_answers[__i__].status, NULL, uncertain_answers[__i__].body);
  run = run_to_end (PROMPT, FALSE, NULL);
  luma_run_assert_error (run, uncertain_answers[__i__].error, "may exist");
  luma_run_free (run);

  run = run_to_end (PROMPT, FALSE, NULL);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_WRITE,
      "force-new=true");
  fail_unless (gst_structure_get_boolean (details,
          GST_LUMA_DETAIL_TASK_MAY_EXIST, &may_exist) && may_exist);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em), 1);

  run = run_to_end (PROMPT, TRUE, NULL);
  fail_unless (run->eos);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
}

GST_END_TEST;

/* A redirect in answer to the billed POST (307 and 308 would send it
 * again, to wherever they point, here the same API): never followed.
 * What the first POST did is unknown, and said so. */
GST_START_TEST (test_redirect_of_generate_not_followed)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (fixture.em);
  g_autofree gchar *location = g_strconcat (api_url,
      "/api/v1/modify/generate", NULL);
  guint status[] = { 307, 308 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (status); i++) {
    LumaRun *run;

    luma_emulator_push_generate_redirect (fixture.em, status[i], location);
    run = run_to_end (PROMPT, TRUE, NULL);
    fail_unless (run->error != NULL, "the redirect was followed");
    luma_run_free (run);
    fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em),
        i + 1);
  }
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 0);
}

GST_END_TEST;

/* wait-timeout ends a run; the task goes on at KIE; the rerun waits on the
 * same task instead of creating another. */
GST_START_TEST (test_timeout_then_rerun_waits_on_the_same_task)
{
  LumaRun *run;

  luma_emulator_set_created_timing (fixture.em, 0, 3000);
  run = creating_run (PROMPT);
  g_object_set (run->src, "wait-timeout", 1, "poll-interval", 200, NULL);
  luma_run_until_done (run, 30);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_BUSY, "run again");
  luma_run_free (run);

  run = run_to_end (PROMPT, FALSE, NULL);
  fail_unless (run->eos, "%" GST_PTR_FORMAT, run->error);
  fail_unless_equals_int (run->data->len, g_bytes_get_size (fixture.video));
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
  fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em), 1);
}

GST_END_TEST;

/* gst-launch-1.0 lumasrc creating the test's task, as a process of its own */
static GPid
spawn_creator (void)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (fixture.em);
  g_autofree gchar *api_arg = g_strconcat ("api-url=", api_url, NULL);
  g_autofree gchar *video_arg = g_strconcat ("video-url=", clip_url, NULL);
  const gchar *argv[] = { "gst-launch-1.0", "-q", "lumasrc", api_arg,
    "prompt=" PROMPT, video_arg, "poll-interval=10", "!", "fakesink", NULL
  };

  return luma_test_spawn_with_key (argv);
}

GST_START_TEST (test_three_processes_create_one_task)
{
  GPid pids[3];
  guint i;

  /* a slow answer keeps the others waiting on the first one's claim */
  luma_emulator_set_generate_answer_delay (fixture.em, 500);
  for (i = 0; i < G_N_ELEMENTS (pids); i++)
    pids[i] = spawn_creator ();
  for (i = 0; i < G_N_ELEMENTS (pids); i++) {
    gint status = luma_test_wait_for_exit (pids[i]);

    fail_unless (WIFEXITED (status) && WEXITSTATUS (status) == 0,
        "process %u ended with %d", i, status);
  }
  fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em), 1);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
}

GST_END_TEST;

/* spawn_creator (), once its request to create the task has reached KIE
 * (which answers it after @delay_ms): it holds the request's journal
 * entry. */
static GPid
spawn_creator_answered_after (guint delay_ms)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC
      * luma_test_slowdown ();
  GPid pid;

  luma_emulator_set_generate_answer_delay (fixture.em, delay_ms);
  pid = spawn_creator ();
  while (luma_emulator_get_generate_requests (fixture.em) == 0) {
    fail_unless (g_get_monotonic_time () < deadline, "no request came");
    g_usleep (10 * 1000);
  }
  return pid;
}

/* Another process is creating the same task: a run waits for it, tells
 * that it waits (a progress START, then COMPLETE), and streams the task
 * that process created. */
GST_START_TEST (test_waiting_for_another_creator_is_told)
{
  GPid pid = spawn_creator_answered_after (1000);
  CreatedWatch watch = { 0, };
  LumaRun *run = creating_run (PROMPT);

  /* polled, not found in the store the other process fills */
  gst_util_set_object_arg (G_OBJECT (run->src), "store", "off");
  watch_created (run, &watch);
  luma_run_until_done (run, 30);
  fail_unless (run->eos);
  fail_unless (watch.reused);
  /* the journal's wait, then the task's */
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_START], 2);
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_COMPLETE], 2);
  luma_run_free (run);
  g_free (watch.task_id);
  fail_unless (WIFEXITED (luma_test_wait_for_exit (pid)));
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
}

GST_END_TEST;

/* Another process holds the request's journal entry and is stalled
 * (stopped by SIGSTOP while it waits for KIE's answer): the wait for it
 * ends at wait-timeout, with an error that says why, and creates
 * nothing. */
GST_START_TEST (test_stalled_creator_bounded_by_wait_timeout)
{
  GPid pid = spawn_creator_answered_after (5000);
  LumaRun *run;

  kill (pid, SIGSTOP);

  run = creating_run (PROMPT);
  g_object_set (run->src, "wait-timeout", 2, NULL);
  luma_run_until_done (run, 30);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_BUSY, "journal entry");
  /* the wait was told, and its end */
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_START], 1);
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_ERROR], 1);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em), 1);
  kill (pid, SIGKILL);
  luma_test_wait_for_exit (pid);
}

GST_END_TEST;

/* Killed after its POST went out, before the answer reached the journal:
 * the task was created at KIE; the rerun says so and creates nothing. */
GST_START_TEST (test_crash_between_post_and_journal)
{
  GPid pid;
  LumaRun *run;
  gint i, status;

  luma_emulator_set_generate_answer_delay (fixture.em, 5000);
  pid = spawn_creator ();
  for (i = 0; i < 1000 && luma_emulator_get_creates (fixture.em) == 0; i++)
    g_usleep (10 * 1000);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
  kill (pid, SIGKILL);
  status = luma_test_wait_for_exit (pid);
  fail_unless (WIFSIGNALED (status));

  luma_emulator_set_generate_answer_delay (fixture.em, 0);
  run = run_to_end (PROMPT, FALSE, NULL);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_WRITE, "billed");
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em), 1);
}

GST_END_TEST;

/* XDG_STATE_HOME holding a relative path, which the XDG spec says to
 * ignore: the journal would follow the working directory, and the same
 * request, run again from another directory, be created (billed) again.
 * The journal is the one in $HOME/.local/state. */
GST_START_TEST (test_relative_state_home_creates_once)
{
  g_autofree gchar *a = g_build_filename (state_dir, "a", NULL);
  g_autofree gchar *b = g_build_filename (state_dir, "b", NULL);
  g_autofree gchar *home = g_build_filename (state_dir, "home", NULL);
  g_autofree gchar *journal = g_build_filename (home, ".local", "state",
      "gst-luma", "journal", NULL);
  g_autofree gchar *cwd = g_get_current_dir ();
  LumaRun *run;

  fail_unless (g_mkdir (a, 0700) == 0 && g_mkdir (b, 0700) == 0);
  g_setenv ("HOME", home, TRUE);
  g_setenv ("XDG_STATE_HOME", "state", TRUE);
  fail_unless (chdir (a) == 0);
  run = run_to_end (PROMPT, FALSE, NULL);
  fail_unless (run->eos);
  luma_run_free (run);
  fail_unless (chdir (b) == 0);
  run = run_to_end (PROMPT, FALSE, NULL);
  fail_unless (run->eos);
  luma_run_free (run);
  fail_unless (chdir (cwd) == 0);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
  fail_unless (g_file_test (journal, G_FILE_TEST_IS_DIR),
      "no journal in %s", journal);
}

GST_END_TEST;

/* A task entry that cannot be read was written for a task KIE created (and
 * billed): the error says so in its text, and its details must too
 * (task-may-exist), or scripts (luma-modify's exit status 8) take it for
 * "no task". */
GST_START_TEST (test_corrupt_entry_says_a_task_may_exist)
{
  g_autofree gchar *dir = g_build_filename (state_dir, "gst-luma", "journal",
      NULL);
  g_autoptr (GDir) d = NULL;
  const gchar *name;
  const GstStructure *details;
  gboolean may_exist = FALSE;
  LumaRun *run;
  guint found = 0;

  run = run_to_end (PROMPT, FALSE, NULL);
  fail_unless (run->eos);
  luma_run_free (run);
  d = g_dir_open (dir, 0, NULL);
  fail_unless (d != NULL);
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".task")) {
      g_autofree gchar *path = g_build_filename (dir, name, NULL);

      fail_unless (g_file_set_contents (path, "not a task id\n", -1, NULL));
      found++;
    }
  fail_unless_equals_int (found, 1);

  run = run_to_end (PROMPT, FALSE, NULL);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_WRITE,
      "task created earlier");
  fail_unless (gst_structure_get_boolean (details,
          GST_LUMA_DETAIL_TASK_MAY_EXIST, &may_exist));
  fail_unless (may_exist, "a garbled entry of a created task: "
      "task-may-exist is false");
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_creates (fixture.em), 1);
}

GST_END_TEST;

/* force-new is one new task for the element, as for a flush: a request
 * whose answer said nothing (a 500: KIE may have created and billed it),
 * then the application restarts the same element (NULL, then PLAYING: a
 * retry on error), and force-new forgets what that element's own request
 * left, and sends it again. */
GST_START_TEST (test_force_new_restart_after_uncertain_answer_sends_once)
{
  LumaRun *run = creating_run (PROMPT);
  gboolean force_new = TRUE;

  g_object_set (run->src, "force-new", TRUE, NULL);
  luma_emulator_push_generate_reply (fixture.em, 500, NULL,
      "{\"code\":500,\"msg\":\"oops\"}");
  luma_run_until_done (run, 30);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_WRITE, "may exist");
  fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em), 1);
  g_object_get (run->src, "force-new", &force_new, NULL);
  fail_if (force_new, "force-new still set after it was acted on");

  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  gst_clear_message (&run->error);
  luma_run_until_done (run, 30);
  fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em), 1);
  luma_run_free (run);
}

GST_END_TEST;

/* luma.h and the README: "every error and warning message lumasrc
 * posts" carries a details structure (task-id, task-state, api-code,
 * http-status). */
GST_START_TEST (test_prompt_warning_has_details)
{
  LumaRun *run = creating_run ("让视频里下雪");
  const GstStructure *details = NULL;

  luma_run_until_done (run, 30);
  fail_unless (run->eos);
  fail_unless_equals_int (run->warnings->len, 1);
  gst_message_parse_warning_details (g_ptr_array_index (run->warnings, 0),
      &details);
  fail_unless (details != NULL, "the prompt warning has no details");
  fail_unless (gst_structure_has_field (details, GST_LUMA_DETAIL_TASK_STATE));
  luma_run_free (run);
}

GST_END_TEST;

/* luma.h: luma-wait progress is START, CONTINUE..., then
 * COMPLETE, ERROR or CANCELED: never an end without its START. */
GST_START_TEST (test_create_refused_progress_paired)
{
  LumaRun *run = creating_run (PROMPT);

  luma_emulator_push_generate_reply (fixture.em, 402, NULL,
      "{\"code\":402,\"msg\":\"insufficient credits\"}");
  luma_run_until_done (run, 30);
  fail_unless (run->error != NULL);
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_ERROR]
      + run->progress[GST_PROGRESS_TYPE_CANCELED]
      + run->progress[GST_PROGRESS_TYPE_COMPLETE],
      run->progress[GST_PROGRESS_TYPE_START]);
  luma_run_free (run);
}

GST_END_TEST;

/* An answer with a success code other than 200 that names a task (KIE's
 * table lists 200 only; 201/202 are what an API says of a task it created
 * or queued) is no refusal: a billed task may exist. Before, it was taken
 * for "nothing created", the journal was cleared and the rerun created,
 * and billed, a second task. */
GST_START_TEST (test_other_success_code_with_task_is_no_refusal)
{
  static const gint codes[] = { 201, 202 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (codes); i++) {
    g_autofree gchar *prompt = g_strdup_printf ("Make it snow %u", i);
    g_autofree gchar *body = g_strdup_printf ("{\"code\":%d,\"msg\":"
        "\"created\",\"data\":{\"taskId\":\"0123456789abcdef0123456789abcd%02x\"}}",
        codes[i], i);
    const GstStructure *details;
    gboolean may_exist = FALSE;
    LumaRun *run;

    luma_emulator_push_generate_reply (fixture.em, 200, NULL, body);
    run = run_to_end (prompt, FALSE, NULL);
    fail_unless (run->error != NULL);
    gst_message_parse_error_details (run->error, &details);
    fail_unless (details != NULL && gst_structure_get_boolean (details,
            GST_LUMA_DETAIL_TASK_MAY_EXIST, &may_exist));
    fail_unless (may_exist, "code %d with a task id taken for a refusal "
        "(task-may-exist false)", codes[i]);
    luma_run_free (run);

    /* the same request again: it must not be sent a second time */
    run = run_to_end (prompt, FALSE, NULL);
    luma_run_free (run);
    fail_unless_equals_int (luma_emulator_get_generate_requests (fixture.em),
        i + 1);
  }
}

GST_END_TEST;

static Suite *
create_suite (void)
{
  Suite *s = suite_create ("lumasrc-create");
  TCase *tc = tcase_create ("create");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_creates_then_streams);
  tcase_add_test (tc, test_settings_that_cannot_create);
  tcase_add_test (tc, test_uri_cannot_create);
  tcase_add_test (tc, test_each_refusal_has_its_error);
  tcase_add_test (tc, test_proxy_wanting_credentials_created_nothing);
  tcase_add_test (tc, test_request_that_never_left_is_tried_again);
  tcase_add_test (tc, test_uri_names_the_created_task);
  tcase_add_test (tc, test_uri_forgets_task_of_other_prompt);
  tcase_add_test (tc, test_same_prompt_again_keeps_task);
  tcase_add_test (tc, test_request_that_never_left_says_nothing_created);
  tcase_add_test (tc, test_rate_limit_is_waited_out);
  tcase_add_test (tc, test_maintenance_while_creating_is_waited_out);
  tcase_add_test (tc, test_prompt_not_english_warns_once);
  tcase_add_test (tc, test_no_answer_means_a_task_may_exist);
  tcase_add_test (tc, test_trickled_answer_ends_at_the_request_deadline);
  tcase_add_test (tc, test_stop_during_create_is_prompt);
  tcase_add_test (tc, test_flush_during_create_creates_once);
  tcase_add_test (tc, test_seek_without_flush_during_create_keeps_it);
  tcase_add_test (tc, test_stop_after_a_seek_during_create_is_prompt);
  tcase_add_test (tc, test_same_request_reuses_its_task);
  tcase_add_test (tc, test_force_new_creates_again);
  tcase_add_loop_test (tc, test_uncertain_answer_stops_a_rerun, 0,
      G_N_ELEMENTS (uncertain_answers));
  tcase_add_test (tc, test_redirect_of_generate_not_followed);
  tcase_add_test (tc, test_timeout_then_rerun_waits_on_the_same_task);
  tcase_add_test (tc, test_three_processes_create_one_task);
  tcase_add_test (tc, test_crash_between_post_and_journal);
  tcase_add_test (tc, test_stalled_creator_bounded_by_wait_timeout);
  tcase_add_test (tc, test_waiting_for_another_creator_is_told);
  tcase_add_test (tc, test_relative_state_home_creates_once);
  tcase_add_test (tc, test_corrupt_entry_says_a_task_may_exist);
  tcase_add_test (tc, test_force_new_restart_after_uncertain_answer_sends_once);
  tcase_add_test (tc, test_prompt_warning_has_details);
  tcase_add_test (tc, test_create_refused_progress_paired);
  tcase_add_test (tc, test_other_success_code_with_task_is_no_refusal);
  return s;
}

GST_CHECK_MAIN (create);
