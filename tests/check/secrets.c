/* gst-luma: the API key never leaves for another host and never shows in a
 * log, a bus message, an error text, a property or a pipeline dump
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/luma/luma.h>

#include "harness.h"

#define WRONG_KEY "wrong-secret-key-9876543210"

static GMutex log_lock;
static GString *log_text;

static void
log_to_text (GstDebugCategory * category, GstDebugLevel level,
    const gchar * file, const gchar * function, gint line, GObject * object,
    GstDebugMessage * message, gpointer user_data)
{
  /* formatting may log in turn: do it before taking the lock */
  const gchar *text = gst_debug_message_get (message);

  g_mutex_lock (&log_lock);
  g_string_append_printf (log_text, "%s %s:%d %s\n",
      gst_debug_category_get_name (category), function, line, text);
  g_mutex_unlock (&log_lock);
}

static void
glib_log_to_text (const gchar * domain, GLogLevelFlags level,
    const gchar * message, gpointer user_data)
{
  g_mutex_lock (&log_lock);
  g_string_append_printf (log_text, "%s: %s\n", domain, message);
  g_mutex_unlock (&log_lock);
}

/* Everything at the most verbose level, into log_text. */
static void
setup (void)
{
  luma_test_fixture_setup (luma_test_random_bytes (64 * 1024, 3));
  log_text = g_string_new (NULL);
  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  g_log_set_default_handler (glib_log_to_text, NULL);
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (log_to_text, NULL, NULL);
  gst_debug_set_default_threshold (GST_LEVEL_MEMDUMP);
  gst_debug_set_active (TRUE);
}

static void
teardown (void)
{
  gst_debug_set_default_threshold (GST_LEVEL_NONE);
  gst_debug_remove_log_function (log_to_text);
  luma_test_fixture_teardown ();
  g_string_free (log_text, TRUE);
}

static void
assert_log_clean (const gchar * key)
{
  g_mutex_lock (&log_lock);
  /* proof that the most verbose level was captured, whatever the number
   * of plugins in the registry (the valgrind stage loads fewer) */
  fail_unless (strstr (log_text->str, "creating element \"lumasrc\"") != NULL,
      "the log does not hold GStreamer's info lines (%" G_GSIZE_FORMAT
      " bytes): nothing was captured", log_text->len);
  if (strstr (log_text->str, key) != NULL)
    g_file_set_contents ("secrets-failure.log", log_text->str, -1, NULL);
  fail_unless (strstr (log_text->str, key) == NULL, "the key is in the log "
      "(written to secrets-failure.log)");
  g_mutex_unlock (&log_lock);
}

/* Plays @desc to its end, and returns all that its bus carried. */
static gchar *
play_and_collect (const gchar * desc, GstMessageType * ended_with)
{
  g_autoptr (GError) error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  g_autoptr (GstBus) bus = NULL;
  GString *text = g_string_new (NULL);
  g_autofree gchar *dot = NULL;

  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop (bus, 20 * GST_SECOND);

    fail_unless (msg != NULL, "the pipeline did not finish");
    luma_test_append_message_text (text, msg);
    *ended_with = GST_MESSAGE_TYPE (msg);
    gst_message_unref (msg);
    if (*ended_with == GST_MESSAGE_EOS || *ended_with == GST_MESSAGE_ERROR)
      break;
  }
  /* what GST_DEBUG_DUMP_DOT_DIR would write: every property's value */
  dot = gst_debug_bin_to_dot_data (GST_BIN (pipeline),
      GST_DEBUG_GRAPH_SHOW_ALL);
  g_string_append (text, dot);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  return g_string_free (text, FALSE);
}

/* As gst-launch-1.0 would run it, with the key in the environment as the
 * README asks: GStreamer's own parser logs the launch line it is given, so
 * a key written there would be in a debug log whatever lumasrc does. */
static gchar *
launch_line (const gchar * task_id, const gchar * key)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (fixture.em);

  g_setenv ("KIE_API_KEY", key, TRUE);
  return g_strdup_printf ("lumasrc api-url=%s task-id=%s poll-interval=10 "
      "! fakesink sync=false", api_url, task_id);
}

/* A ready task @task_id whose record is answered @body, played with the
 * test key to its end: all that the bus carried. */
static gchar *
poll_and_collect (const gchar * task_id, const gchar * body,
    GstMessageType * ended_with)
{
  g_autofree gchar *desc = launch_line (task_id, TEST_KEY);

  luma_test_add_ready_task (fixture.em, task_id, fixture.video);
  luma_emulator_push_record_reply (fixture.em, task_id, 200, NULL, NULL, body);
  return play_and_collect (desc, ended_with);
}

GST_START_TEST (test_key_not_in_log_messages_or_dump)
{
  LumaEmulatorTask task = {
    .task_id = "t-secret",
    .video = fixture.video,
    .generating_polls = 2,
    .final_flag = 4,
  };
  g_autofree gchar *desc = NULL;
  g_autofree gchar *bus_text = NULL;
  GstMessageType ended;

  luma_emulator_add_task (fixture.em, &task);
  desc = launch_line ("t-secret", TEST_KEY);
  bus_text = play_and_collect (desc, &ended);
  fail_unless_equals_int (ended, GST_MESSAGE_EOS);
  fail_unless (strstr (bus_text, "t-secret") != NULL);
  fail_unless (strstr (bus_text, TEST_KEY) == NULL, "the key is on the bus");
  assert_log_clean (TEST_KEY);
  /* the key did its job, at the API only */
  fail_unless (luma_emulator_get_api_auth_requests (fixture.em) >= 3);
  fail_unless_equals_int (luma_emulator_get_video_auth_requests (fixture.em),
      0);
}

GST_END_TEST;

GST_START_TEST (test_refused_key_not_in_error)
{
  g_autofree gchar *desc = NULL;
  g_autofree gchar *bus_text = NULL;
  GstMessageType ended;

  luma_test_add_ready_task (fixture.em, "t-refused", fixture.video);
  desc = launch_line ("t-refused", WRONG_KEY);
  bus_text = play_and_collect (desc, &ended);
  fail_unless_equals_int (ended, GST_MESSAGE_ERROR);
  fail_unless (strstr (bus_text, "refused the API key") != NULL);
  fail_unless (strstr (bus_text, WRONG_KEY) == NULL, "the key is on the bus");
  assert_log_clean (WRONG_KEY);
}

GST_END_TEST;

GST_START_TEST (test_api_redirect_to_other_host_drops_key)
{
  LumaEmulator *other = luma_test_emulator_new ();
  g_autofree gchar *other_api = luma_emulator_get_api_url (other);
  g_autofree gchar *target = g_strconcat (other_api,
      "/api/v1/modify/record-info?taskId=t-moved", NULL);
  LumaRun *run;

  luma_test_add_ready_task (fixture.em, "t-moved", fixture.video);
  luma_test_add_ready_task (other, "t-moved", fixture.video);
  luma_emulator_push_record_redirect (fixture.em, "t-moved", target);
  run = luma_run_new (fixture.em, "t-moved", NULL);
  luma_run_until_done (run, 20);
  /* the other host saw the request, without the key, and refused it */
  luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_AUTHORIZED, NULL);
  fail_unless_equals_int (luma_emulator_get_record_requests (other, "t-moved"),
      1);
  fail_unless_equals_int (luma_emulator_get_api_auth_requests (other), 0);
  luma_run_free (run);
  luma_emulator_free (other);
}

GST_END_TEST;

GST_START_TEST (test_api_redirect_same_host_keeps_key)
{
  g_autofree gchar *api = luma_emulator_get_api_url (fixture.em);
  g_autofree gchar *target = g_strconcat (api,
      "/api/v1/modify/record-info?taskId=t-same", NULL);
  LumaRun *run;
  gsize size;

  luma_test_add_ready_task (fixture.em, "t-same", fixture.video);
  luma_emulator_push_record_redirect (fixture.em, "t-same", target);
  run = luma_run_new (fixture.em, "t-same", NULL);
  luma_run_until_done (run, 20);
  fail_unless (run->error == NULL, "%" GST_PTR_FORMAT, run->error);
  g_bytes_get_data (fixture.video, &size);
  fail_unless_equals_uint64 (run->data->len, size);
  luma_run_free (run);
}

GST_END_TEST;

/* A server that quotes the key it was sent back in its refusal (as many
 * APIs do: "Incorrect API key provided: ...") must not put it on the bus. */
GST_START_TEST (test_key_echoed_by_api_not_in_error)
{
  g_autofree gchar *bus_text = NULL;
  g_autofree gchar *body = g_strdup_printf ("{\"code\":401,\"msg\":"
      "\"Invalid API key: %s\"}", TEST_KEY);
  GstMessageType ended;

  bus_text = poll_and_collect ("t-echo", body, &ended);
  fail_unless_equals_int (ended, GST_MESSAGE_ERROR);
  fail_unless (strstr (bus_text, "refused the API key") != NULL);
  fail_unless (strstr (bus_text, TEST_KEY) == NULL, "the key is on the bus");
  assert_log_clean (TEST_KEY);
}

GST_END_TEST;

/* A failed task whose record quotes the key (its errorCode and
 * errorMessage): not on the bus, in the error nor in its details. */
GST_START_TEST (test_key_in_a_failed_record_not_on_the_bus)
{
  g_autofree gchar *bus_text = NULL;
  g_autofree gchar *body = g_strdup_printf ("{\"code\":200,\"msg\":"
      "\"success\",\"data\":{\"taskId\":\"t-quoted\",\"successFlag\":3,"
      "\"errorCode\":\"%s\",\"errorMessage\":\"no such key: %s\"}}",
      TEST_KEY, TEST_KEY);
  GstMessageType ended;

  bus_text = poll_and_collect ("t-quoted", body, &ended);
  fail_unless_equals_int (ended, GST_MESSAGE_ERROR);
  fail_unless (strstr (bus_text, "failed to generate") != NULL, "%s", bus_text);
  fail_unless (strstr (bus_text, TEST_KEY) == NULL, "the key is on the bus");
  assert_log_clean (TEST_KEY);
}

GST_END_TEST;

/* A lumasrc that creates a task (XDG_STATE_HOME and KIE_API_KEY set by
 * the caller), generate answering @body with @status: what the bus said. */
static gchar *
create_and_collect (guint status, const gchar * body, GstMessageType * ended)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (fixture.em);
  g_autofree gchar *video = luma_emulator_get_video_url_base (fixture.em);
  g_autofree gchar *desc = g_strdup_printf ("lumasrc api-url=%s "
      "prompt=\"Make it snow\" video-url=%s/clip.mp4 poll-interval=10 ! "
      "fakesink sync=false", api_url, video);

  luma_emulator_push_generate_reply (fixture.em, status, NULL, body);
  return play_and_collect (desc, ended);
}

/* generate's answer quoting the key: not on the bus either, as it is or
 * with a letter JSON-escaped (which only the parsed message shows). */
GST_START_TEST (test_key_quoted_by_generate_not_on_the_bus)
{
  g_autofree gchar *state_home = g_dir_make_tmp ("luma-secrets-XXXXXX", NULL);
  const gchar *quotes[] = { "%s", "\\u0074%s" };
  guint i;

  g_setenv ("XDG_STATE_HOME", state_home, TRUE);
  g_setenv ("KIE_API_KEY", TEST_KEY, TRUE);
  for (i = 0; i < G_N_ELEMENTS (quotes); i++) {
    g_autofree gchar *bus_text = NULL;
    g_autofree gchar *quote = g_strdup_printf (quotes[i],
        i == 0 ? TEST_KEY : TEST_KEY + 1);
    g_autofree gchar *body = g_strdup_printf ("{\"code\":401,\"msg\":"
        "\"Invalid API key: %s\"}", quote);
    GstMessageType ended;

    bus_text = create_and_collect (401, body, &ended);
    fail_unless_equals_int (ended, GST_MESSAGE_ERROR);
    fail_unless (strstr (bus_text, "refused the API key") != NULL, "%s",
        bus_text);
    fail_unless (strstr (bus_text, "Invalid API key") != NULL, "%s", bus_text);
    luma_test_assert_not_on_bus (bus_text, TEST_KEY);
  }
  assert_log_clean (TEST_KEY);
  luma_test_remove_tree (state_home);
}

GST_END_TEST;

/* generate's answer giving the key, a letter JSON-escaped, as the task
 * id: no task id to take (the answer is a bad one: a billed task may
 * exist), and never the key on the bus as the task's id. */
GST_START_TEST (test_key_as_the_created_task_id_not_on_the_bus)
{
  g_autofree gchar *state_home = g_dir_make_tmp ("luma-secrets-XXXXXX", NULL);
  g_autofree gchar *body = g_strdup_printf ("{\"code\":200,\"msg\":"
      "\"success\",\"data\":{\"taskId\":\"\\u0074%s\"}}", TEST_KEY + 1);
  g_autofree gchar *bus_text = NULL;
  GstMessageType ended;

  g_setenv ("XDG_STATE_HOME", state_home, TRUE);
  g_setenv ("KIE_API_KEY", TEST_KEY, TRUE);
  bus_text = create_and_collect (200, body, &ended);
  fail_unless_equals_int (ended, GST_MESSAGE_ERROR);
  luma_test_assert_not_on_bus (bus_text, TEST_KEY);
  fail_unless (strstr (bus_text, "task-may-exist=(boolean)true") != NULL,
      "%s", bus_text);
  assert_log_clean (TEST_KEY);
  luma_test_remove_tree (state_home);
}

GST_END_TEST;

/* A record whose result URL quotes the key with a letter
 * JSON-escaped (which only the parsed text shows, as in
 * test_key_quoted_by_generate_not_on_the_bus): the key must not reach the
 * bus (luma-task's result-url, the tags), the store, nor the video host. */
GST_START_TEST (test_key_escaped_in_result_url_not_on_the_bus)
{
  g_autofree gchar *video = luma_emulator_get_video_url_base (fixture.em);
  g_autofree gchar *bus_text = NULL;
  g_autofree gchar *body = g_strdup_printf ("{\"code\":200,\"msg\":"
      "\"success\",\"data\":{\"taskId\":\"t-esc\",\"successFlag\":1,"
      "\"completeTime\":1700000000000,\"paramJson\":\"{}\","
      "\"response\":{\"resultUrls\":[\"%s/r/t-esc/1.mp4?sig=\\u0074%s\"]}}}",
      video, TEST_KEY + 1);
  GstMessageType ended;

  bus_text = poll_and_collect ("t-esc", body, &ended);
  luma_test_assert_not_on_bus (bus_text, TEST_KEY);
  fail_if (luma_test_tree_holds (g_getenv ("GST_LUMA_STORE_DIR"), TEST_KEY),
      "the key is in the store");
  assert_log_clean (TEST_KEY);
}

GST_END_TEST;

/* A record whose result URL holds the key, as it is or JSON-escaped: the
 * run stops with an error that says so (starred out, the URL would be
 * fetched, fail and be renewed, into an error about an expired URL). */
GST_START_TEST (test_result_url_with_the_key_is_refused)
{
  g_autofree gchar *video = luma_emulator_get_video_url_base (fixture.em);
  /* the key as it is, and with its first letter (a "t") JSON-escaped */
  const gchar *forms[] = { "%s/r/t-key/1.mp4?sig=%s",
    "%s/r/t-key/1.mp4?sig=\\u0074%s"
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (forms); i++) {
    g_autofree gchar *url = g_strdup_printf (forms[i], video,
        i == 0 ? TEST_KEY : TEST_KEY + 1);
    g_autofree gchar *body = g_strdup_printf ("{\"code\":200,\"msg\":"
        "\"success\",\"data\":{\"taskId\":\"t-key\",\"successFlag\":1,"
        "\"paramJson\":\"{}\",\"response\":{\"resultUrls\":[\"%s\"]}}}",
        url);
    g_autofree gchar *bus_text = NULL;
    GstMessageType ended;
    guint videos = luma_emulator_get_video_requests (fixture.em, "t-key");

    bus_text = poll_and_collect ("t-key", body, &ended);
    fail_unless_equals_int (ended, GST_MESSAGE_ERROR);
    fail_unless (strstr (bus_text, "holds the API key") != NULL, "%s",
        bus_text);
    luma_test_assert_not_on_bus (bus_text, TEST_KEY);
    fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
            "t-key"), videos);
  }
  assert_log_clean (TEST_KEY);
}

GST_END_TEST;

/* Credentials in KIE_API_URL (or KIE_UPLOAD_URL) are refused, and the
 * error never quotes them: before, it quoted the URL whole, password and
 * all, on the bus, in the debug log, in an application's error dialog (a
 * user who put the key there, "https://x:KEY@api.kie.ai", saw it in every
 * report). */
#define URL_PASSWORD "s3cret-in-the-url"

GST_START_TEST (test_url_credentials_not_in_error)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (fixture.em);
  g_autofree gchar *with_user = g_strconcat ("http://user:" URL_PASSWORD "@",
      api_url + strlen ("http://"), NULL);
  g_autofree gchar *bus_text = NULL;
  g_autofree gchar *modify_text = NULL;
  GstMessageType ended;

  luma_test_add_ready_task (fixture.em, "t-url-pw", fixture.video);
  g_setenv ("KIE_API_KEY", TEST_KEY, TRUE);
  g_setenv ("KIE_API_URL", with_user, TRUE);
  bus_text = play_and_collect ("lumasrc task-id=t-url-pw ! fakesink", &ended);
  fail_unless_equals_int (ended, GST_MESSAGE_ERROR);
  fail_unless (strstr (bus_text, "KIE_API_URL") != NULL, "%s", bus_text);
  fail_unless (strstr (bus_text, URL_PASSWORD) == NULL,
      "the URL's password is on the bus: ...%.300s", MAX (bus_text,
          strstr (bus_text, URL_PASSWORD) - 200));
  assert_log_clean (URL_PASSWORD);
  g_unsetenv ("KIE_API_URL");

  g_setenv ("KIE_UPLOAD_URL", with_user, TRUE);
  modify_text = play_and_collect ("fakesrc num-buffers=1 ! lumamodify "
      "prompt=snow ! fakesink", &ended);
  g_unsetenv ("KIE_UPLOAD_URL");
  fail_unless_equals_int (ended, GST_MESSAGE_ERROR);
  fail_unless (strstr (modify_text, "KIE_UPLOAD_URL") != NULL, "%s",
      modify_text);
  fail_unless (strstr (modify_text, URL_PASSWORD) == NULL,
      "the upload URL's password is on the bus: ...%.300s", MAX (modify_text,
          strstr (modify_text, URL_PASSWORD) - 200));
  assert_log_clean (URL_PASSWORD);
}

GST_END_TEST;

/* Credentials in KIE_API_URL (or KIE_UPLOAD_URL) whose scheme is not
 * http(s) (a typo, "htps://user:KEY@api.kie.ai"), whose host is empty, or
 * that the parser takes for a path (a slash too few or too many: it sees
 * no credentials to hide) are refused too, and that error no longer quotes
 * them either. */
GST_START_TEST (test_url_credentials_with_a_bad_scheme_not_in_error)
{
  static const gchar *urls[] = {
    "htps://user:" URL_PASSWORD "@api.kie.ai",
    "http://user:" URL_PASSWORD "@",
    "https:/user:" URL_PASSWORD "@api.kie.ai",
    "http:///user:" URL_PASSWORD "@api.kie.ai/",
  };
  guint i;

  g_setenv ("KIE_API_KEY", TEST_KEY, TRUE);
  for (i = 0; i < G_N_ELEMENTS (urls); i++) {
    g_autofree gchar *bus_text = NULL;
    g_autofree gchar *modify_text = NULL;
    GstMessageType ended;

    g_setenv ("KIE_API_URL", urls[i], TRUE);
    bus_text = play_and_collect ("lumasrc task-id=t-url-pw ! fakesink", &ended);
    g_unsetenv ("KIE_API_URL");
    fail_unless_equals_int (ended, GST_MESSAGE_ERROR);
    fail_unless (strstr (bus_text, URL_PASSWORD) == NULL,
        "%s: the URL's password is on the bus: ...%.300s", urls[i],
        MAX (bus_text, strstr (bus_text, URL_PASSWORD) - 200));

    g_setenv ("KIE_UPLOAD_URL", urls[i], TRUE);
    modify_text = play_and_collect ("fakesrc num-buffers=1 ! lumamodify "
        "prompt=snow ! fakesink", &ended);
    g_unsetenv ("KIE_UPLOAD_URL");
    fail_unless_equals_int (ended, GST_MESSAGE_ERROR);
    fail_unless (strstr (modify_text, URL_PASSWORD) == NULL,
        "%s: the upload URL's password is on the bus: ...%.300s", urls[i],
        MAX (modify_text, strstr (modify_text, URL_PASSWORD) - 200));
  }
  assert_log_clean (URL_PASSWORD);
}

GST_END_TEST;

GST_START_TEST (test_key_property_reads_back_masked)
{
  GstElement *src = gst_element_factory_make ("lumasrc", NULL);
  g_autofree gchar *value = NULL;
  g_autofree gchar *unset = NULL;

  g_object_get (src, "api-key", &unset, NULL);
  fail_unless (unset == NULL);
  gst_util_set_object_arg (G_OBJECT (src), "api-key", TEST_KEY);
  g_object_get (src, "api-key", &value, NULL);
  fail_unless (value != NULL);
  fail_unless (strstr (value, TEST_KEY) == NULL);
  fail_unless (strstr (TEST_KEY, value) == NULL, "a part of the key shows");
  gst_object_unref (src);
  assert_log_clean (TEST_KEY);
}

GST_END_TEST;

static Suite *
secrets_suite (void)
{
  Suite *s = suite_create ("lumasrc-secrets");
  TCase *tc = tcase_create ("secrets");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_key_not_in_log_messages_or_dump);
  tcase_add_test (tc, test_refused_key_not_in_error);
  tcase_add_test (tc, test_api_redirect_to_other_host_drops_key);
  tcase_add_test (tc, test_api_redirect_same_host_keeps_key);
  tcase_add_test (tc, test_key_property_reads_back_masked);
  tcase_add_test (tc, test_key_echoed_by_api_not_in_error);
  tcase_add_test (tc, test_key_in_a_failed_record_not_on_the_bus);
  tcase_add_test (tc, test_key_quoted_by_generate_not_on_the_bus);
  tcase_add_test (tc, test_key_as_the_created_task_id_not_on_the_bus);
  tcase_add_test (tc, test_key_escaped_in_result_url_not_on_the_bus);
  tcase_add_test (tc, test_result_url_with_the_key_is_refused);
  tcase_add_test (tc, test_url_credentials_not_in_error);
  tcase_add_test (tc, test_url_credentials_with_a_bad_scheme_not_in_error);
  return s;
}

GST_CHECK_MAIN (secrets);
