/* gst-luma: lumasrc's input surfaces held to their rules: what a luma://
 * URI may set, what may go into a header, what of a server's text reaches
 * the bus, how api-url is read, and values that make no sense
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/luma/luma.h>

#include "harness.h"
#include "lumahttp.h"
#include "lumatext.h"

static void
setup (void)
{
  luma_test_fixture_setup (luma_test_random_bytes (32 * 1024, 7));
}

/* ----- luma:// URIs ----- */

static void
assert_uri_refused (GstElement * src, const gchar * uri, const gchar * words)
{
  g_autoptr (GError) error = NULL;

  fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src), uri, &error),
      "%s was taken", uri);
  fail_unless (g_error_matches (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI),
      "%s: not a BAD_URI error", uri);
  fail_unless (strstr (error->message, words) != NULL,
      "%s: \"%s\" not in \"%s\"", uri, words, error->message);
  fail_unless (g_utf8_validate (error->message, -1, NULL)
      && luma_text_is_safe (error->message), "%s: unsafe message", uri);
}

/* Nothing of a refused URI stays applied: the settings are as before. */
static void
assert_settings_untouched (GstElement * src)
{
  g_autofree gchar *task = NULL, *proxy = NULL, *agent = NULL;
  guint interval, retries, wait, timeout;
  gboolean strict;

  g_object_get (src, "task-id", &task, "proxy", &proxy, "user-agent", &agent,
      "poll-interval", &interval, "retries", &retries, "wait-timeout", &wait,
      "timeout", &timeout, "ssl-strict", &strict, NULL);
  fail_unless_equals_string (task, "before");
  fail_unless (proxy == NULL, "proxy became %s", proxy);
  fail_unless (g_str_has_prefix (agent, "gst-luma/"), "user-agent is %s",
      agent);
  fail_unless_equals_int (interval, 1234);
  fail_unless_equals_int (retries, 3);
  fail_unless_equals_int (wait, 3600);
  fail_unless_equals_int (timeout, 15);
  fail_unless (strict);
}

GST_START_TEST (test_uri_cannot_send_the_key_elsewhere)
{
  GstElement *src = gst_element_factory_make ("lumasrc", NULL);
  const struct
  {
    const gchar *uri, *words;
  } refused[] = {
    {"luma://t1?proxy=http://attacker.example:8080&ssl-strict=false", "proxy"},
    {"luma://t1?ssl-strict=false", "ssl-strict"},
    {"luma://t1?user-agent=x%0D%0AX-Injected:%201", "user-agent"},
    {"luma://t1?retries=5&proxy=http://attacker.example", "proxy"},
    {"luma://t1?api-url=http://attacker.example/", "KIE_API_URL"},
    {"luma://t1?poll-interval=abc", "poll-interval"},
    {"luma://t1?poll-interval=5", "poll-interval"},
    {"luma://t1?poll-interval=-1", "poll-interval"},
    {"luma://t1?retries=101", "retries"},
    {"luma://t1?timeout=99999999999999999999", "timeout"},
    {"luma://t1?wait-timeout=", "wait-timeout"},
    {"luma://t1?retries=1&retries=2", "retries"},
    {"luma://t1?retries=1&timeout=5&poll-interval=x", "poll-interval"},
    {"luma://t1#frag", "luma://TASKID"},
    {"luma://t1:8080", "luma://TASKID"},
  };
  guint i;

  g_object_set (src, "task-id", "before", "poll-interval", 1234, NULL);
  for (i = 0; i < G_N_ELEMENTS (refused); i++) {
    assert_uri_refused (src, refused[i].uri, refused[i].words);
    assert_settings_untouched (src);
  }
  gst_object_unref (src);
}

GST_END_TEST;

GST_START_TEST (test_uri_takes_the_wait_settings_whole)
{
  GstElement *src = gst_element_factory_make ("lumasrc", NULL);
  g_autoptr (GError) error = NULL;
  guint interval, retries, wait, timeout;

  fail_unless (gst_uri_handler_set_uri (GST_URI_HANDLER (src),
          "luma://t2?poll-interval=10&wait-timeout=1&retries=100&timeout=3600",
          &error), "%s", error ? error->message : "");
  g_object_get (src, "poll-interval", &interval, "retries", &retries,
      "wait-timeout", &wait, "timeout", &timeout, NULL);
  fail_unless_equals_int (interval, 10);
  fail_unless_equals_int (wait, 1);
  fail_unless_equals_int (retries, 100);
  fail_unless_equals_int (timeout, 3600);
  gst_object_unref (src);
}

GST_END_TEST;

/* A task id holding what a URI gives meaning to comes back as a task id,
 * never as settings. */
GST_START_TEST (test_uri_round_trips_any_task_id)
{
  const gchar *ids[] = { "a?poll-interval=10&retries=0", "x#y", "a/b", "50%",
    "été", "a&proxy=http://h"
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (ids); i++) {
    GstElement *src = gst_element_factory_make ("lumasrc", NULL);
    GstElement *copy = gst_element_factory_make ("lumasrc", NULL);
    g_autofree gchar *uri = NULL, *task = NULL, *proxy = NULL;
    g_autoptr (GError) error = NULL;
    guint interval, retries;

    g_object_set (src, "task-id", ids[i], NULL);
    uri = gst_uri_handler_get_uri (GST_URI_HANDLER (src));
    fail_unless (gst_uri_handler_set_uri (GST_URI_HANDLER (copy), uri, &error),
        "%s: %s", uri, error ? error->message : "");
    g_object_get (copy, "task-id", &task, "poll-interval", &interval,
        "retries", &retries, "proxy", &proxy, NULL);
    fail_unless_equals_string (task, ids[i]);
    fail_unless_equals_int (interval, 30000);
    fail_unless_equals_int (retries, 3);
    fail_unless (proxy == NULL);
    gst_object_unref (src);
    gst_object_unref (copy);
  }
}

GST_END_TEST;

GST_START_TEST (test_task_id_too_long_or_unprintable)
{
  g_autofree gchar *long_id = g_strnfill (257, 'a');
  g_autofree gchar *long_uri = g_strconcat ("luma://", long_id, NULL);
  GstElement *src = gst_element_factory_make ("lumasrc", NULL);
  LumaRun *run;

  g_object_set (src, "task-id", "before", "poll-interval", 1234, NULL);
  assert_uri_refused (src, long_uri, "256");
  assert_uri_refused (src, "luma://a%0Ab", "control");
  assert_uri_refused (src, "luma://a%1B%5B2J", "control");
  assert_settings_untouched (src);
  gst_object_unref (src);

  /* through the property: refused at start, before any request */
  luma_test_add_ready_task (fixture.em, long_id, fixture.video);
  run = luma_run_new (fixture.em, long_id, NULL);
  luma_run_until_done (run, 20);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "256");
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          long_id), 0);
  luma_run_free (run);
}

GST_END_TEST;

/* ----- header values ----- */

static void
assert_refused_before_any_request (const gchar * prop, const gchar * value,
    const gchar * words)
{
  LumaRun *run;

  luma_test_add_ready_task (fixture.em, "t-hdr", fixture.video);
  run = luma_run_new (fixture.em, "t-hdr", NULL);
  if (prop != NULL)
    g_object_set (run->src, prop, value, NULL);
  luma_run_until_done (run, 20);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, words);
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-hdr"), 0);
  luma_run_free (run);
}

GST_START_TEST (test_no_control_characters_in_headers)
{
  assert_refused_before_any_request ("user-agent", "x\r\nX-Injected: 1",
      "user-agent");
  assert_refused_before_any_request ("user-agent", "tab\there", "user-agent");
  assert_refused_before_any_request ("api-key", TEST_KEY "\r\nX-Injected: 1",
      "API key");
  assert_refused_before_any_request ("api-key", "\x7f" TEST_KEY, "API key");
}

GST_END_TEST;

GST_START_TEST (test_no_control_characters_in_key_from_environment)
{
  LumaRun *run;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *debug = NULL;

  luma_test_add_ready_task (fixture.em, "t-env", fixture.video);
  run = luma_run_new (fixture.em, "t-env", NULL);
  g_object_set (run->src, "api-key", NULL, NULL);
  g_setenv ("KIE_API_KEY", TEST_KEY "\nX-Injected: 1", TRUE);
  luma_run_until_done (run, 20);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "KIE_API_KEY");
  gst_message_parse_error (run->error, &error, &debug);
  fail_if (strstr (error->message, TEST_KEY) != NULL, "the key is shown");
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-env"), 0);
  luma_run_free (run);
}

GST_END_TEST;

/* ----- server text ----- */

/* Every string of every message the run posted is valid UTF-8 without
 * control characters. */
static void
assert_error_text_safe (LumaRun * run, const gchar * words)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *debug = NULL;

  fail_unless (run->error != NULL);
  gst_message_parse_error (run->error, &error, &debug);
  fail_unless (luma_text_is_safe (error->message), "unsafe: %s",
      error->message);
  fail_unless (strstr (error->message, words) != NULL, "\"%s\" not in \"%s\"",
      words, error->message);
}

GST_START_TEST (test_server_text_reaches_the_bus_made_safe)
{
  LumaRun *run;

  /* a lone surrogate, which json-glib turns into invalid UTF-8 */
  luma_emulator_push_record_reply (fixture.em, "t-utf", 200, NULL, NULL,
      "{\"code\":404,\"msg\":\"no \\ud800 task\"}");
  run = luma_run_new (fixture.em, "t-utf", NULL);
  luma_run_until_done (run, 20);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_FOUND, "task");
  assert_error_text_safe (run, "no ");
  luma_run_free (run);

  /* a terminal escape in a failed task's errorMessage */
  luma_emulator_push_record_reply (fixture.em, "t-esc", 200, NULL, NULL,
      "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":\"t-esc\","
      "\"successFlag\":3,\"errorCode\":\"\\u001b]0;owned\\u0007\","
      "\"errorMessage\":\"bad\\u001b[2J\\u009b31mthing\\r\\nX\"}}");
  run = luma_run_new (fixture.em, "t-esc", NULL);
  luma_run_until_done (run, 20);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, NULL);
  assert_error_text_safe (run, "bad[2J31mthing  X");
  luma_run_free (run);
}

GST_END_TEST;

/* ----- api-url ----- */

GST_START_TEST (test_api_url_is_parsed_not_joined)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (fixture.em);
  const gchar *suffixes[] = { "/#fragment", "/?x=1", "?taskId=other" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (suffixes); i++) {
    g_autofree gchar *bad = g_strconcat (api_url, suffixes[i], NULL);
    LumaRun *run;

    luma_test_add_ready_task (fixture.em, "t-url", fixture.video);
    run = luma_run_new (fixture.em, "t-url", NULL);
    g_object_set (run->src, "api-url", bad, NULL);
    luma_run_until_done (run, 20);
    luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "api-url");
    luma_run_free (run);
  }
  {
    g_autofree gchar *with_user = g_strconcat ("http://user:pw@",
        api_url + strlen ("http://"), NULL);
    LumaRun *run = luma_run_new (fixture.em, "t-url", NULL);

    g_object_set (run->src, "api-url", with_user, NULL);
    luma_run_until_done (run, 20);
    luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "credentials");
    luma_run_free (run);
  }
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-url"), 0);
  fail_unless_equals_int (luma_emulator_get_api_auth_requests (fixture.em), 0);

  /* trailing slashes are fine */
  {
    g_autofree gchar *slashed = g_strconcat (api_url, "//", NULL);
    LumaRun *run = luma_run_new (fixture.em, "t-url", NULL);

    g_object_set (run->src, "api-url", slashed, NULL);
    luma_run_until_done (run, 20);
    fail_unless (run->eos);
    fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
            "t-url"), 1);
    luma_run_free (run);
  }
}

GST_END_TEST;

/* Port 0 is no port: an api-url that names it is a settings error
 * that says so, not a connection "refused by 127.0.0.1:80" (a port the
 * user never wrote) after the retries. */
GST_START_TEST (test_api_url_port_zero_is_a_settings_error)
{
  LumaRun *run;

  luma_test_add_ready_task (fixture.em, "t-port", fixture.video);
  run = luma_run_new (fixture.em, "t-port", NULL);
  g_object_set (run->src, "api-url", "http://127.0.0.1:0", "retries", 0, NULL);
  luma_run_until_done (run, 20);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "port 0");
  luma_run_free (run);
}

GST_END_TEST;

/* ----- values that make no sense ----- */

GST_START_TEST (test_blocksize_out_of_range_is_a_settings_error)
{
  guint sizes[] = { 0, G_MAXUINT };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (sizes); i++) {
    LumaRun *run;

    luma_test_add_ready_task (fixture.em, "t-bs", fixture.video);
    run = luma_run_new (fixture.em, "t-bs", NULL);
    g_object_set (run->src, "blocksize", sizes[i], NULL);
    luma_run_until_done (run, 20);
    luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "blocksize");
    luma_run_free (run);
  }
}

GST_END_TEST;

/* ----- the key's copies ----- */

GST_START_TEST (test_secret_wipe_overwrites_the_copy)
{
  gchar *copy = g_strdup (TEST_KEY);
  gsize i, length = strlen (TEST_KEY);

  luma_secret_wipe (copy);
  for (i = 0; i < length; i++)
    fail_unless (copy[i] == '\0', "byte %" G_GSIZE_FORMAT " kept", i);
  g_free (copy);
  luma_secret_free (NULL);
}

GST_END_TEST;

static gchar *
hide (const gchar * text, gsize size, const gchar * secret)
{
  GBytes *body = luma_secret_hide (g_bytes_new (text, size), secret);
  gsize hidden_size;
  const gchar *hidden = g_bytes_get_data (body, &hidden_size);
  gchar *copy;

  fail_unless_equals_int (hidden_size, size);
  copy = g_malloc0 (hidden_size + 1);
  memcpy (copy, hidden, hidden_size);
  /* a NUL inside stays where it was */
  if (memchr (text, '\0', size) != NULL)
    fail_unless (memchr (hidden, '\0', size) != NULL);
  g_bytes_unref (body);
  return copy;
}

/* every occurrence, at the start, the end, side by side, after a NUL;
 * a key too short to be a secret stays, and so does what it is part of */
GST_START_TEST (test_secret_hidden_in_answers)
{
  static const gchar after_nul[] = "x\0kkey12345key12345";
  g_autofree gchar *none = hide ("no secret here", 14, "key12345");
  g_autofree gchar *all = hide ("key12345 and key12345key12345, key1234", 38,
      "key12345");
  g_autofree gchar *nul = hide (after_nul, sizeof after_nul - 1, "key12345");
  g_autofree gchar *no_key = hide ("key12345", 8, NULL);
  g_autofree gchar *short_key = hide ("{\"taskId\":\"k\"}", 14, "k");
  g_autofree gchar *text = g_strdup ("invalid key key12345.");
  g_autofree gchar *short_text = g_strdup ("invalid key k");

  fail_unless_equals_string (none, "no secret here");
  fail_unless_equals_string (all, "******** and ****************, key1234");
  fail_unless (memcmp (nul, "x\0k****************", sizeof after_nul - 1)
      == 0);
  fail_unless_equals_string (no_key, "key12345");
  fail_unless_equals_string (short_key, "{\"taskId\":\"k\"}");
  fail_unless (luma_secret_hide_in_text (text, "key12345"));
  fail_unless_equals_string (text, "invalid key ********.");
  fail_unless (!luma_secret_hide_in_text (short_text, "k"));
  fail_unless_equals_string (short_text, "invalid key k");
}

GST_END_TEST;

static void
assert_base_url_refused (const gchar * url, const gchar * words)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GUri) uri = luma_http_parse_base_url (url, "/x", &error);

  fail_unless (uri == NULL, "%s was taken", url);
  fail_unless (strstr (error->message, words) != NULL, "%s: %s", url,
      error->message);
}

/* A base URL's path is kept as written (it was escaped a second time:
 * "%20" went out as "%2520"). */
GST_START_TEST (test_base_url_path_kept)
{
  g_autoptr (GUri) uri =
      luma_http_parse_base_url ("https://api.example/a%20b/c%2Fd//", "/x",
      NULL);
  g_autofree gchar *text = NULL;

  fail_unless (uri != NULL);
  text = g_uri_to_string (uri);
  /* (not fail_unless_equals_string (): it takes '%' for formats) */
  fail_unless (strcmp (text, "https://api.example:443/a%20b/c%2Fd/x") == 0,
      "%s", text);
  g_clear_pointer (&uri, g_uri_unref);
  g_clear_pointer (&text, g_free);
  /* blanks and line breaks are escaped by GLib, never sent raw */
  uri = luma_http_parse_base_url ("https://api.example/a b\r\nX: y", "/x",
      NULL);
  fail_unless (uri != NULL);
  text = g_uri_to_string (uri);
  fail_unless (strcmp (text, "https://api.example:443/a%20b%0D%0AX:%20y/x")
      == 0, "%s", text);
  assert_base_url_refused ("https://api.example/?q=1", "not a base URL");
}

GST_END_TEST;

static Suite *
surface_suite (void)
{
  Suite *s = suite_create ("lumasrc-surface");
  TCase *tc = tcase_create ("surface");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, luma_test_fixture_teardown);
  tcase_add_test (tc, test_uri_cannot_send_the_key_elsewhere);
  tcase_add_test (tc, test_uri_takes_the_wait_settings_whole);
  tcase_add_test (tc, test_uri_round_trips_any_task_id);
  tcase_add_test (tc, test_task_id_too_long_or_unprintable);
  tcase_add_test (tc, test_no_control_characters_in_headers);
  tcase_add_test (tc, test_no_control_characters_in_key_from_environment);
  tcase_add_test (tc, test_server_text_reaches_the_bus_made_safe);
  tcase_add_test (tc, test_api_url_is_parsed_not_joined);
  tcase_add_test (tc, test_api_url_port_zero_is_a_settings_error);
  tcase_add_test (tc, test_blocksize_out_of_range_is_a_settings_error);
  tcase_add_test (tc, test_secret_wipe_overwrites_the_copy);
  tcase_add_test (tc, test_secret_hidden_in_answers);
  tcase_add_test (tc, test_base_url_path_kept);
  return s;
}

GST_CHECK_MAIN (surface);
