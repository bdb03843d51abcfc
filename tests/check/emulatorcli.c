/* gst-luma: the luma-emulator program's command line: the result-file
 * host's faults as --task settings, the timing of tasks created through
 * generate, and the settings it refuses
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

#include "harness.h"

#define VIDEO_SIZE 100000

static gchar *work_dir;
static gchar *video_path;
static GBytes *video;

/* A luma-emulator process, and what it listens on. */
typedef struct
{
  GSubprocess *process;
  gchar *api_url;
} Emulator;

static void
setup (void)
{
  GError *error = NULL;

  work_dir = g_dir_make_tmp ("luma-emulator-cli-XXXXXX", &error);
  fail_unless (work_dir != NULL, "%s", error ? error->message : "");
  video = luma_test_random_bytes (VIDEO_SIZE, 13);
  video_path = g_build_filename (work_dir, "clip.mp4", NULL);
  fail_unless (g_file_set_contents (video_path, g_bytes_get_data (video, NULL),
          VIDEO_SIZE, NULL));
}

static void
teardown (void)
{
  g_autofree gchar *ready = g_build_filename (work_dir, "ready", NULL);

  g_unlink (ready);
  g_unlink (video_path);
  g_rmdir (work_dir);
  g_clear_pointer (&video_path, g_free);
  g_clear_pointer (&work_dir, g_free);
  g_clear_pointer (&video, g_bytes_unref);
}

/* "ID=<the clip>,SETTINGS" */
static gchar *
task_arg (const gchar * task_id, const gchar * settings)
{
  return g_strdup_printf ("%s=%s%s%s", task_id, video_path,
      settings ? "," : "", settings ? settings : "");
}

/* Runs luma-emulator with the test key and @args (NULL-terminated), and
 * waits until it listens. */
static Emulator *
emulator_start (const gchar * const *args)
{
  Emulator *em = g_new0 (Emulator, 1);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) argv = NULL;
  g_autofree gchar *ready = g_build_filename (work_dir, "ready", NULL);
  g_autofree gchar *line = NULL;
  g_autoptr (GError) error = NULL;
  gint64 deadline;

  g_unlink (ready);
  g_strv_builder_add_many (builder, LUMA_EMULATOR_PROGRAM, "--key", TEST_KEY,
      "--ready-file", ready, NULL);
  g_strv_builder_addv (builder, (const gchar **) args);
  argv = g_strv_builder_end (builder);
  em->process = g_subprocess_newv ((const gchar * const *) argv,
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error);
  fail_unless (em->process != NULL, "%s", error ? error->message : "");

  deadline = g_get_monotonic_time () +
      10 * G_USEC_PER_SEC * luma_test_slowdown ();
  while (!g_file_get_contents (ready, &line, NULL, NULL)) {
    fail_unless (g_get_monotonic_time () < deadline,
        "luma-emulator did not start");
    /* no identifier: it has ended */
    fail_if (g_subprocess_get_identifier (em->process) == NULL,
        "luma-emulator ended before it listened");
    g_usleep (10 * 1000);
  }
  g_strchomp (line);
  fail_unless (g_str_has_prefix (line, "KIE_API_URL="), "%s", line);
  em->api_url = g_strdup (line + strlen ("KIE_API_URL="));
  return em;
}

/* SIGTERM, and it exits 0. */
static void
emulator_stop (Emulator * em)
{
  g_autoptr (GError) error = NULL;

  g_subprocess_send_signal (em->process, SIGTERM);
  fail_unless (g_subprocess_wait_check (em->process, NULL, &error),
      "luma-emulator: %s", error ? error->message : "");
  g_object_unref (em->process);
  g_free (em->api_url);
  g_free (em);
}

/* What one request got. */
typedef struct
{
  guint status;
  GBytes *body;                 /* NULL if reading it failed */
  GError *error;                /* why, then */
  SoupMessageHeaders *headers;
} Answer;

static void
answer_free (Answer * answer)
{
  g_clear_pointer (&answer->body, g_bytes_unref);
  g_clear_error (&answer->error);
  g_clear_pointer (&answer->headers, soup_message_headers_unref);
  g_free (answer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Answer, answer_free);

/* @method @url with a Range header if @range is not NULL, and the key if
 * @body is not NULL (a JSON body); redirects are not followed. */
static Answer *
request (const gchar * method, const gchar * url, const gchar * range,
    const gchar * json, guint timeout_s)
{
  g_autoptr (SoupSession) session = soup_session_new_with_options ("timeout",
      timeout_s * luma_test_slowdown (), NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  SoupMessageHeaders *headers;
  Answer *answer = g_new0 (Answer, 1);

  fail_unless (msg != NULL, "bad URL %s", url);
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  headers = soup_message_get_request_headers (msg);
  if (range != NULL)
    soup_message_headers_append (headers, "Range", range);
  if (json != NULL) {
    g_autoptr (GBytes) body = g_bytes_new (json, strlen (json));

    soup_message_set_request_body_from_bytes (msg, "application/json", body);
  }
  soup_message_headers_append (headers, "Authorization", "Bearer " TEST_KEY);
  answer->body = soup_session_send_and_read (session, msg, NULL,
      &answer->error);
  answer->status = soup_message_get_status (msg);
  answer->headers =
      soup_message_headers_ref (soup_message_get_response_headers (msg));
  return answer;
}

/* The first match of @pattern's group in @answer's body. */
static gchar *
body_match (Answer * answer, const gchar * pattern)
{
  g_autoptr (GRegex) regex = g_regex_new (pattern, 0, 0, NULL);
  g_autoptr (GMatchInfo) match = NULL;
  g_autofree gchar *text = NULL;

  fail_unless (answer->body != NULL, "no body: %s",
      answer->error ? answer->error->message : "");
  text = g_strndup (g_bytes_get_data (answer->body, NULL),
      g_bytes_get_size (answer->body));
  fail_unless (g_regex_match (regex, text, 0, &match), "%s not in %s",
      pattern, text);
  return g_match_info_fetch (match, 1);
}

static Answer *
record_info (Emulator * em, const gchar * task_id)
{
  g_autofree gchar *url = g_strdup_printf ("%s/api/v1/modify/record-info"
      "?taskId=%s", em->api_url, task_id);
  Answer *answer = request ("GET", url, NULL, NULL, 10);

  fail_unless_equals_int (answer->status, 200);
  return answer;
}

/* The task's result URL, as its record gives it. */
static gchar *
result_url (Emulator * em, const gchar * task_id)
{
  g_autoptr (Answer) answer = record_info (em, task_id);

  return body_match (answer, "\"resultUrls\":\\[\"([^\"]+)\"");
}

static gint
success_flag (Emulator * em, const gchar * task_id)
{
  g_autoptr (Answer) answer = record_info (em, task_id);
  g_autofree gchar *flag = body_match (answer, "\"successFlag\":([0-9])");

  return atoi (flag);
}

static void
assert_whole_file (Answer * answer)
{
  fail_unless (answer->error == NULL, "%s", answer->error ?
      answer->error->message : "");
  fail_unless_equals_int (answer->status, 200);
  fail_unless (g_bytes_equal (answer->body, video));
}

static void
assert_range_answer (Answer * answer, gsize start, gsize length)
{
  fail_unless (answer->error == NULL, "%s", answer->error ?
      answer->error->message : "");
  fail_unless_equals_int (answer->status, 206);
  fail_unless_equals_uint64 (g_bytes_get_size (answer->body), length);
  fail_unless (memcmp (g_bytes_get_data (answer->body, NULL),
          (const guint8 *) g_bytes_get_data (video, NULL) + start,
          length) == 0);
}

GST_START_TEST (test_ignore_range)
{
  g_autofree gchar *plain = task_arg ("plain", NULL);
  g_autofree gchar *whole = task_arg ("whole", "ignore-range");
  const gchar *args[] = { "--task", plain, "--task", whole, NULL };
  Emulator *em = emulator_start (args);
  g_autofree gchar *plain_url = result_url (em, "plain");
  g_autofree gchar *whole_url = result_url (em, "whole");
  g_autoptr (Answer) good = request ("GET", plain_url, "bytes=0-9", NULL, 10);
  g_autoptr (Answer) bad = request ("GET", whole_url, "bytes=0-9", NULL, 10);

  /* the same file; only the task with the fault answers the whole of it */
  assert_range_answer (good, 0, 10);
  assert_whole_file (bad);
  emulator_stop (em);
}

GST_END_TEST;

/* no-validators: the file without its ETag. */
GST_START_TEST (test_no_validators)
{
  g_autofree gchar *plain = task_arg ("plain", NULL);
  g_autofree gchar *bare = task_arg ("bare", "no-validators");
  const gchar *args[] = { "--task", plain, "--task", bare, NULL };
  Emulator *em = emulator_start (args);
  g_autofree gchar *plain_url = result_url (em, "plain");
  g_autofree gchar *bare_url = result_url (em, "bare");
  g_autoptr (Answer) good = request ("GET", plain_url, "bytes=0-9", NULL, 10);
  g_autoptr (Answer) stripped = request ("GET", bare_url, "bytes=0-9", NULL,
      10);

  fail_unless (soup_message_headers_get_one (good->headers, "ETag") != NULL);
  fail_unless (soup_message_headers_get_one (stripped->headers, "ETag") ==
      NULL);
  assert_range_answer (stripped, 0, 10);
  emulator_stop (em);
}

GST_END_TEST;

GST_START_TEST (test_ignore_range_as_yes_or_no)
{
  g_autofree gchar *no = task_arg ("no", "ignore-range=no");
  g_autofree gchar *yes = task_arg ("yes", "ignore-range=yes");
  const gchar *args[] = { "--task", no, "--task", yes, NULL };
  Emulator *em = emulator_start (args);
  g_autofree gchar *no_url = result_url (em, "no");
  g_autofree gchar *yes_url = result_url (em, "yes");
  g_autoptr (Answer) ranged = request ("GET", no_url, "bytes=5-9", NULL, 10);
  g_autoptr (Answer) whole = request ("GET", yes_url, "bytes=5-9", NULL, 10);

  assert_range_answer (ranged, 5, 5);
  assert_whole_file (whole);
  emulator_stop (em);
}

GST_END_TEST;

/* One answer, then 410 with an HTML page and Retry-After twice, then the
 * file again. */
GST_START_TEST (test_fail_status)
{
  g_autofree gchar *gone = task_arg ("gone", "fail-status=410,fail-count=2,"
      "fail-after=1,fail-html,fail-retry-after=7");
  const gchar *args[] = { "--task", gone, NULL };
  Emulator *em = emulator_start (args);
  g_autofree gchar *url = result_url (em, "gone");
  guint i;

  for (i = 0; i < 4; i++) {
    g_autoptr (Answer) answer = request ("GET", url, NULL, NULL, 10);

    if (i == 0 || i == 3) {
      assert_whole_file (answer);
      continue;
    }
    fail_unless_equals_int (answer->status, 410);
    fail_unless (g_str_has_prefix (soup_message_headers_get_content_type
            (answer->headers, NULL), "text/html"));
    fail_unless_equals_string (soup_message_headers_get_one (answer->headers,
            "Retry-After"), "7");
  }
  emulator_stop (em);
}

GST_END_TEST;

/* fail-status alone: every request, as an expired link */
GST_START_TEST (test_fail_status_always)
{
  g_autofree gchar *expired = task_arg ("expired", "fail-status=404");
  const gchar *args[] = { "--task", expired, NULL };
  Emulator *em = emulator_start (args);
  g_autofree gchar *url = result_url (em, "expired");
  guint i;

  for (i = 0; i < 3; i++) {
    g_autoptr (Answer) answer = request ("GET", url, NULL, NULL, 10);

    fail_unless_equals_int (answer->status, 404);
  }
  emulator_stop (em);
}

GST_END_TEST;

/* The connection closed after 1000 bytes, the next request refused with
 * 403, then the file. */
GST_START_TEST (test_drop)
{
  g_autofree gchar *cut = task_arg ("cut", "drop-after=1000,"
      "drop-fail-status=403");
  const gchar *args[] = { "--task", cut, NULL };
  Emulator *em = emulator_start (args);
  g_autofree gchar *url = result_url (em, "cut");
  g_autoptr (Answer) dropped = request ("GET", url, NULL, NULL, 10);
  g_autoptr (Answer) refused = request ("GET", url, NULL, NULL, 10);
  g_autoptr (Answer) whole = request ("GET", url, NULL, NULL, 10);

  fail_unless (dropped->error != NULL, "the whole file came");
  fail_unless_equals_int (refused->status, 403);
  assert_whole_file (whole);
  emulator_stop (em);
}

GST_END_TEST;

/* 100 bytes, then nothing: the client's timeout ends it. */
GST_START_TEST (test_stall)
{
  g_autofree gchar *stuck = task_arg ("stuck", "stall-after=100");
  const gchar *args[] = { "--task", stuck, NULL };
  Emulator *em = emulator_start (args);
  g_autofree gchar *url = result_url (em, "stuck");
  g_autoptr (Answer) answer = request ("GET", url, NULL, NULL, 1);

  fail_unless_equals_int (answer->status, 200);
  fail_unless (answer->error != NULL, "the whole file came");
  fail_unless (g_error_matches (answer->error, G_IO_ERROR,
          G_IO_ERROR_TIMED_OUT), "%s", answer->error->message);
  emulator_stop (em);
}

GST_END_TEST;

/* Stalls only the requests that begin below byte 1000: one from byte
 * 1000 on gets its bytes. */
GST_START_TEST (test_only_below)
{
  g_autofree gchar *stuck = task_arg ("stuck", "stall-after=100,"
      "only-below=1000");
  const gchar *args[] = { "--task", stuck, NULL };
  Emulator *em = emulator_start (args);
  g_autofree gchar *url = result_url (em, "stuck");
  g_autoptr (Answer) stalled = request ("GET", url, "bytes=999-", NULL, 1);
  g_autoptr (Answer) served = request ("GET", url, "bytes=1000-", NULL, 10);

  fail_unless (stalled->error != NULL, "the request below 1000 was served");
  assert_range_answer (served, 1000, 100000 - 1000);
  emulator_stop (em);
}

GST_END_TEST;

/* 100000 bytes at 200000 a second: the whole file, in about half a
 * second rather than at once. */
GST_START_TEST (test_rate)
{
  g_autofree gchar *slow = task_arg ("slow", "rate=200000");
  const gchar *args[] = { "--task", slow, NULL };
  Emulator *em = emulator_start (args);
  g_autofree gchar *url = result_url (em, "slow");
  gint64 start = g_get_monotonic_time ();
  g_autoptr (Answer) answer = request ("GET", url, NULL, NULL, 10);
  gint64 took_ms = (g_get_monotonic_time () - start) / 1000;

  assert_whole_file (answer);
  fail_unless (took_ms >= 400, "the file came in %" G_GINT64_FORMAT " ms",
      took_ms);
  emulator_stop (em);
}

GST_END_TEST;

GST_START_TEST (test_range_piece_and_content_range)
{
  g_autofree gchar *piece = task_arg ("piece", "range-piece=4");
  g_autofree gchar *odd = task_arg ("odd",
      "partial-content-range=bytes 5-9/99");
  g_autofree gchar *none = task_arg ("none", "partial-content-range=");
  const gchar *args[] = { "--task", piece, "--task", odd, "--task", none,
    NULL
  };
  Emulator *em = emulator_start (args);
  g_autofree gchar *piece_url = result_url (em, "piece");
  g_autofree gchar *odd_url = result_url (em, "odd");
  g_autofree gchar *none_url = result_url (em, "none");
  g_autoptr (Answer) part = request ("GET", piece_url, "bytes=0-9", NULL, 10);
  g_autoptr (Answer) lying = request ("GET", odd_url, "bytes=0-9", NULL, 10);
  g_autoptr (Answer) bare = request ("GET", none_url, "bytes=0-9", NULL, 10);

  assert_range_answer (part, 0, 4);
  fail_unless_equals_string (soup_message_headers_get_one (part->headers,
          "Content-Range"), "bytes 0-3/100000");
  assert_range_answer (lying, 0, 10);
  fail_unless_equals_string (soup_message_headers_get_one (lying->headers,
          "Content-Range"), "bytes 5-9/99");
  assert_range_answer (bare, 0, 10);
  fail_unless (soup_message_headers_get_one (bare->headers,
          "Content-Range") == NULL);
  emulator_stop (em);
}

GST_END_TEST;

/* No file needed: the host only sends the client elsewhere. */
GST_START_TEST (test_redirect)
{
  const gchar *args[] = { "--task",
    "moved=,redirect-to=ftp://127.0.0.1/elsewhere.mp4", NULL
  };
  Emulator *em = emulator_start (args);
  g_autofree gchar *url = result_url (em, "moved");
  g_autoptr (Answer) answer = request ("GET", url, NULL, NULL, 10);

  fail_unless_equals_int (answer->status, 302);
  fail_unless_equals_string (soup_message_headers_get_one (answer->headers,
          "Location"), "ftp://127.0.0.1/elsewhere.mp4");
  emulator_stop (em);
}

GST_END_TEST;

/* Creates a task from the clip of task "input"; returns its id. */
static gchar *
create_task (Emulator * em)
{
  g_autofree gchar *input_url = result_url (em, "input");
  g_autofree gchar *url = g_strdup_printf ("%s/api/v1/modify/generate",
      em->api_url);
  g_autofree gchar *json = g_strdup_printf ("{\"prompt\":\"a lake\","
      "\"videoUrl\":\"%s\"}", input_url);
  g_autoptr (Answer) answer = request ("POST", url, NULL, json, 10);

  fail_unless_equals_int (answer->status, 200);
  return body_match (answer, "\"taskId\":\"([^\"]+)\"");
}

GST_START_TEST (test_created_generating_polls)
{
  g_autofree gchar *input = task_arg ("input", NULL);
  const gchar *args[] = { "--task", input, "--created-generating-polls", "2",
    NULL
  };
  Emulator *em = emulator_start (args);
  g_autofree gchar *task_id = create_task (em);

  fail_unless_equals_int (success_flag (em, task_id), 0);
  fail_unless_equals_int (success_flag (em, task_id), 0);
  fail_unless_equals_int (success_flag (em, task_id), 1);
  emulator_stop (em);
}

GST_END_TEST;

GST_START_TEST (test_created_generating_ms)
{
  g_autofree gchar *input = task_arg ("input", NULL);
  const gchar *args[] = { "--task", input, "--created-generating-ms",
    "600000", NULL
  };
  Emulator *em = emulator_start (args);
  g_autofree gchar *task_id = create_task (em);
  guint i;

  /* without the option, the first poll would find it done */
  for (i = 0; i < 3; i++)
    fail_unless_equals_int (success_flag (em, task_id), 0);
  emulator_stop (em);
}

GST_END_TEST;

/* luma-emulator ARGS exits with @status and says @words on stderr. */
static void
check_refused (const gchar * settings, gint status, const gchar * words)
{
  g_autofree gchar *task = task_arg ("t", settings);
  const gchar *argv[] = { LUMA_EMULATOR_PROGRAM, "--task", task, NULL };
  g_autofree gchar *err = NULL;
  g_autoptr (GError) error = NULL;
  gint wait_status;

  fail_unless (g_spawn_sync (NULL, (gchar **) argv, NULL,
          G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &wait_status,
          &error), "%s", error ? error->message : "");
  fail_unless (WIFEXITED (wait_status));
  fail_unless_equals_int (WEXITSTATUS (wait_status), status);
  fail_unless (strstr (err, words) != NULL, "\"%s\" is not in: %s", words, err);
}

GST_START_TEST (test_bad_fault_settings_refused)
{
  check_refused ("no-such-fault=1", 2, "ignore-range, drop-after");
  check_refused ("stall=maybe", 2, "is not yes or no");
  check_refused ("fail-status=42", 2, "is no HTTP status");
  check_refused ("fail-status=x", 2, "bad fail-status");
  check_refused ("fail-count=3", 2, "go with a fail-status");
  check_refused ("drop-count=2", 2, "go with a drop-after");
  check_refused ("drop-after", 2, "is not NAME=VALUE");
  check_refused ("redirect-to=", 2, "redirect-to is empty");
}

GST_END_TEST;

GST_START_TEST (test_help_lists_faults)
{
  const gchar *argv[] = { LUMA_EMULATOR_PROGRAM, "--help", NULL };
  g_autofree gchar *out = NULL;
  g_autoptr (GError) error = NULL;
  gint wait_status;
  const gchar *words[] = { "--created-generating-polls",
    "--created-generating-ms", "ignore-range", "drop-after=N", "drop-count=",
    "drop-fail-status=", "stall[=yes]", "stall-after=N", "fail-status=S",
    "fail-count=", "fail-after=N", "fail-html", "fail-retry-after=",
    "redirect-to=URL", "partial-content-range=", "range-piece=N", "rate=N",
    "no-validators", "only-below=N"
  };
  guint i;

  fail_unless (g_spawn_sync (NULL, (gchar **) argv, NULL,
          G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &wait_status,
          &error), "%s", error ? error->message : "");
  fail_unless (g_spawn_check_wait_status (wait_status, NULL));
  for (i = 0; i < G_N_ELEMENTS (words); i++)
    fail_unless (strstr (out, words[i]) != NULL, "no %s in --help", words[i]);
}

GST_END_TEST;

static Suite *
emulatorcli_suite (void)
{
  Suite *s = suite_create ("emulator-cli");
  TCase *tc = tcase_create ("options");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_ignore_range);
  tcase_add_test (tc, test_ignore_range_as_yes_or_no);
  tcase_add_test (tc, test_no_validators);
  tcase_add_test (tc, test_fail_status);
  tcase_add_test (tc, test_fail_status_always);
  tcase_add_test (tc, test_drop);
  tcase_add_test (tc, test_stall);
  tcase_add_test (tc, test_only_below);
  tcase_add_test (tc, test_rate);
  tcase_add_test (tc, test_range_piece_and_content_range);
  tcase_add_test (tc, test_redirect);
  tcase_add_test (tc, test_created_generating_polls);
  tcase_add_test (tc, test_created_generating_ms);
  tcase_add_test (tc, test_bad_fault_settings_refused);
  tcase_add_test (tc, test_help_lists_faults);
  return s;
}

GST_CHECK_MAIN (emulatorcli);
