/* gst-luma: the bad-input matrix: every API code both ways, pages that are
 * not JSON, answers that are too large, too slow or never come, TLS that
 * cannot be trusted
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/luma/luma.h>
#include <gio/gio.h>
#include <string.h>

#include "harness.h"
#include "badservers.h"

static void
setup (void)
{
  luma_test_fixture_setup (luma_test_random_bytes (100 * 1024 + 1, 5));
}

/* The codes that mean "wait and ask again", as `code` and as the status. */
GST_START_TEST (test_waiting_codes_both_ways)
{
  static const gint codes[] = { 429, 455, 500, 502, 503 };
  guint i, as_status;

  for (i = 0; i < G_N_ELEMENTS (codes); i++) {
    for (as_status = 0; as_status < 2; as_status++) {
      g_autofree gchar *id = g_strdup_printf ("t-%d-%u", codes[i], as_status);
      g_autofree gchar *body = g_strdup_printf ("{\"code\":%d,\"msg\":\"m\"}",
          codes[i]);
      LumaRun *run;

      luma_test_add_ready_task (fixture.em, id, fixture.video);
      luma_emulator_push_record_reply (fixture.em, id,
          as_status ? codes[i] : 200, NULL, NULL, body);
      run = luma_run_new (fixture.em, id, NULL);
      luma_run_until_done (run, 20);
      luma_run_assert_output (run, fixture.video);
      fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
              id), 2);
      luma_run_free (run);
    }
  }
}

GST_END_TEST;

/* Retry-After: 0 is honoured as "no sooner than now", not as a licence to
 * ask again at once: the backoff still applies. */
GST_START_TEST (test_retry_after_zero_is_not_a_flood)
{
  LumaRun *run;
  gint64 before;

  luma_test_add_ready_task (fixture.em, "t-zero", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-zero", 429, "0", NULL,
      "{\"code\":429,\"msg\":\"slow down\"}");
  luma_emulator_push_record_reply (fixture.em, "t-zero", 429, "0", NULL,
      "{\"code\":429,\"msg\":\"slow down\"}");
  run = luma_run_new (fixture.em, "t-zero", NULL);
  g_object_set (run->src, "poll-interval", 200, NULL);
  before = g_get_monotonic_time ();
  luma_run_until_done (run, 20);
  /* 200 ms, then 400 ms */
  fail_unless (g_get_monotonic_time () - before >= 600 * 1000);
  luma_run_assert_output (run, fixture.video);
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-zero"), 3);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_api_html_403_page)
{
  LumaRun *run;
  const GstStructure *details;
  guint status = 0;

  luma_test_add_ready_task (fixture.em, "t-403", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-403", 403, NULL, "text/html",
      "<html><body>Access denied</body></html>");
  run = luma_run_new (fixture.em, "t-403", NULL);
  luma_run_until_done (run, 20);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, "403");
  fail_unless (gst_structure_get_uint (details, GST_LUMA_DETAIL_HTTP_STATUS,
          &status));
  fail_unless_equals_int (status, 403);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_50mb_answer_refused_by_length)
{
  gsize size = 50 * 1024 * 1024;
  gchar *body = g_malloc (size + 1);
  LumaRun *run;

  memset (body, ' ', size);
  body[size] = '\0';
  luma_test_add_ready_task (fixture.em, "t-huge", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-huge", 200, NULL, NULL, body);
  g_free (body);
  run = luma_run_new (fixture.em, "t-huge", NULL);
  luma_run_until_done (run, 30);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, "larger than");
  luma_run_free (run);
}

GST_END_TEST;

static LumaRun *
run_against (BadServer * server, guint timeout, guint retries)
{
  g_autofree gchar *url = bad_server_get_url (server);
  LumaRun *run = luma_run_new (fixture.em, "t-bad-server", NULL);

  g_object_set (run->src, "api-url", url, "timeout", timeout, "retries",
      retries, NULL);
  luma_run_until_done (run, 30);
  return run;
}

/* No Content-Length: the answer is cut off as it comes, not kept whole. */
GST_START_TEST (test_flood_refused_as_it_comes)
{
  BadServer *server = bad_server_start (BAD_SERVER_FLOOD);
  LumaRun *run = run_against (server, 5, 0);

  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, "larger than");
  luma_run_free (run);
  fail_unless (bad_server_get_bytes_sent (server) < 20 * 1024 * 1024,
      "%" G_GUINT64_FORMAT " bytes were taken",
      bad_server_get_bytes_sent (server));
  bad_server_stop (server);
}

GST_END_TEST;

/* A video host that sends, unasked, a second answer behind each one: the
 * next clip from that host, which could take the connection the last one
 * left, gets its own answer, never the forged one. */
GST_START_TEST (test_unasked_answer_never_served)
{
  BadServer *server = bad_server_start (BAD_SERVER_SMUGGLER);
  g_autofree gchar *url = bad_server_get_url (server);
  g_autoptr (GBytes) genuine = g_bytes_new_static (BAD_SERVER_GENUINE,
      strlen (BAD_SERVER_GENUINE));
  const gchar *tasks[] = { "t-clip-1", "t-clip-2" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (tasks); i++) {
    g_autofree gchar *location = g_strconcat (url, "/", tasks[i], ".mp4",
        NULL);
    LumaRun *run;

    luma_test_add_ready_task (fixture.em, tasks[i], genuine);
    luma_emulator_set_result_url (fixture.em, tasks[i], location);
    run = luma_run_new (fixture.em, tasks[i], NULL);
    luma_run_until_done (run, 30);
    luma_run_assert_output (run, genuine);
    luma_run_free (run);
  }
  bad_server_stop (server);
}

GST_END_TEST;

GST_START_TEST (test_silent_server_times_out)
{
  BadServer *server = bad_server_start (BAD_SERVER_SILENT);
  gint64 before = g_get_monotonic_time ();
  LumaRun *run = run_against (server, 1, 1);

  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, "timeout");
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, "2 attempts");
  fail_unless (g_get_monotonic_time () - before <
      10 * G_USEC_PER_SEC * luma_test_slowdown ());
  luma_run_free (run);
  bad_server_stop (server);
}

GST_END_TEST;

/* A byte a second keeps the inactivity timeout happy: only a bound on the
 * whole answer stops it. */
GST_START_TEST (test_trickling_server_cut_off)
{
  BadServer *server = bad_server_start (BAD_SERVER_TRICKLE);
  gint64 before = g_get_monotonic_time ();
  LumaRun *run = run_against (server, 2, 0);

  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ,
      "did not answer within 4 seconds");
  fail_unless (g_get_monotonic_time () - before <
      10 * G_USEC_PER_SEC * luma_test_slowdown ());
  luma_run_free (run);
  bad_server_stop (server);
}

GST_END_TEST;

/* Headers that never end: the wait still ends at wait-timeout, in the
 * middle of the request. */
GST_START_TEST (test_trickled_headers_end_at_wait_timeout)
{
  BadServer *server = bad_server_start (BAD_SERVER_TRICKLE_HEADERS);
  g_autofree gchar *url = bad_server_get_url (server);
  LumaRun *run = luma_run_new (fixture.em, "t-bad-server", NULL);
  gint64 before = g_get_monotonic_time ();

  g_object_set (run->src, "api-url", url, "timeout", 30, "wait-timeout", 2,
      NULL);
  luma_run_until_done (run, 30);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_BUSY, "after 2 seconds");
  fail_unless (g_get_monotonic_time () - before <
      5 * G_USEC_PER_SEC * luma_test_slowdown ());
  luma_run_free (run);
  bad_server_stop (server);
}

GST_END_TEST;

/* A video host whose headers never end: each attempt is over within twice
 * the timeout, and the retries are spent. */
GST_START_TEST (test_video_host_trickling_headers_cut_off)
{
  BadServer *server = bad_server_start (BAD_SERVER_TRICKLE_HEADERS);
  g_autofree gchar *url = bad_server_get_url (server);
  LumaRun *run;
  gint64 before = g_get_monotonic_time ();

  luma_test_add_ready_task (fixture.em, "t-slow-host", fixture.video);
  luma_emulator_set_result_url (fixture.em, "t-slow-host", url);
  run = luma_run_new (fixture.em, "t-slow-host", NULL);
  g_object_set (run->src, "timeout", 2, "retries", 1, NULL);
  luma_run_until_done (run, 40);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ,
      "did not send its answer within 4 seconds");
  fail_unless (g_get_monotonic_time () - before <
      20 * G_USEC_PER_SEC * luma_test_slowdown ());
  fail_unless (bad_server_get_bytes_sent (server) > 0);
  luma_run_free (run);
  bad_server_stop (server);
}

GST_END_TEST;

/* A run of a task whose video is on @server, to its end (60 s at most). */
static LumaRun *
run_video_from (BadServer * server, const gchar * task, guint timeout,
    guint retries)
{
  g_autofree gchar *base = bad_server_get_url (server);
  g_autofree gchar *url = g_strconcat (base, "/video.mp4", NULL);
  LumaRun *run;

  luma_test_add_ready_task (fixture.em, task, fixture.video);
  luma_emulator_set_result_url (fixture.em, task, url);
  run = luma_run_new (fixture.em, task, NULL);
  g_object_set (run->src, "timeout", timeout, "retries", retries, NULL);
  luma_run_until_done (run, 60);
  return run;
}

#define TRICKLE_FAST (16 * 1024)

/* A video host that trickles its body, a byte every 200 ms, is never
 * silent for the timeout (1 s), yet would take hours: fewer than 1 KiB a
 * second over twice the timeout of waiting is a stalled connection, asked
 * again from where it stopped, then an error once the retries are spent. */
GST_START_TEST (test_video_host_trickling_body_cut_off)
{
  BadServer *server = bad_server_start_paced (fixture.video, TRICKLE_FAST, 1,
      200);
  LumaRun *run = run_video_from (server, "t-trickle", 1, 1);
  gsize size;
  const guint8 *video = g_bytes_get_data (fixture.video, &size);

  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, "from 127.0.0.1");
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, "after 2 attempts");
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, "too slow");
  /* what went out before is the file's start, past what came fast */
  fail_unless (run->data->len > TRICKLE_FAST && run->data->len < size,
      "%u bytes went out", run->data->len);
  fail_unless (memcmp (run->data->data, video, run->data->len) == 0);
  /* asked again once, from where the first answer stalled */
  fail_unless_equals_int (bad_server_get_requests (server), 2);
  fail_unless (bad_server_get_last_offset (server) > TRICKLE_FAST);
  fail_unless (bad_server_get_last_offset (server) <= run->data->len);
  luma_run_free (run);
  bad_server_stop (server);
}

GST_END_TEST;

/* The whole video comes from @server (stopped after), in @requests
 * requests, with @retries. */
static void
assert_whole_video_from (BadServer * server, const gchar * task_id,
    guint retries, guint requests)
{
  LumaRun *run = run_video_from (server, task_id, 1, retries);

  luma_run_assert_output (run, fixture.video);
  fail_unless_equals_int (bad_server_get_requests (server), requests);
  luma_run_free (run);
  bad_server_stop (server);
}

/* A slow host that keeps its pace, 1 KiB every 200 ms (5 KiB a second,
 * five times the least) for its last 32 KiB, is never cut: the whole
 * video, in one answer, with no retry to spare. */
GST_START_TEST (test_slow_steady_video_host_not_cut)
{
  assert_whole_video_from (bad_server_start_paced (fixture.video,
          g_bytes_get_size (fixture.video) - 32 * 1024, 1024, 200),
      "t-steady", 0, 1);
}

GST_END_TEST;

/* A host that trickled once, then went fast: the stall was asked
 * again from where it stopped and the next answer gave 16 KiB at once, far
 * above the pace, before its connection dropped. That drop is a new
 * trouble, after progress, and gets its retry (`retries`: "tried again in
 * a row"): the earlier stall is no attempt already spent. */
GST_START_TEST (test_stall_not_counted_after_fast_answer)
{
  assert_whole_video_from (bad_server_start_scripted (fixture.video,
          TRICKLE_FAST, 1, 200, 1, 2, 16 * 1024), "t-trickle-once", 1, 3);
}

GST_END_TEST;

/* A host that is silent (the timeout, 1 s) on its first two
 * connections, then sends the whole video at once. Each silence is a
 * network error, tried again within `retries` (README: "network errors and
 * dropped connections tried again in a row"); with retries=2 the third
 * connection is the second retry, and must be read. The pace window that
 * 9511ffa carries over from one answer to the next adds the two silences
 * up (2 s of waiting, no byte: "twice the timeout") and cuts the third
 * answer before its first byte, as a stall: each silence counted twice. */
GST_START_TEST (test_two_silences_not_a_stall)
{
  assert_whole_video_from (bad_server_start_scripted (fixture.video, 0, 1,
          5000, 2, 0, 0), "t-silent-twice", 2, 3);
}

GST_END_TEST;

/* A host that ignores Range and trickles: each answer is the
 * file from its start, at once up to 16 KiB or the offset asked for (a
 * cache holds what was asked before), then a byte every 200 ms. Asked
 * again after a stall, it sends the bytes before the offset again, fast:
 * they count for the pace, and clear the stall before it, so that the
 * retries never run out (one stall, a fast skip, one stall...): a trickle
 * that never ends. Those bytes are no progress: with retries=1, the second
 * stall in a row must end the read, "too slow", as for a host that
 * honours Range (test_video_host_trickling_body_cut_off). */
GST_START_TEST (test_trickle_ignoring_range_cut_off)
{
  BadServer *server = bad_server_start_paced_ignoring_range (fixture.video,
      TRICKLE_FAST, 1, 200);
  LumaRun *run = run_video_from (server, "t-trickle-200", 1, 1);

  fail_unless (bad_server_get_requests (server) <= 2,
      "%u requests: the retries never ran out",
      bad_server_get_requests (server));
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, "too slow");
  luma_run_free (run);
  bad_server_stop (server);
}

GST_END_TEST;

/* A host that trickles in pieces: each request from where the last
 * answer ended gets a 206 of one byte, sent 1.5 s after the headers. Every
 * piece keeps within the timeout (2 s), yet over twice the timeout of
 * waiting for the body (README: "on average over each stretch of twice
 * this spent waiting for it") far fewer than 1 KiB a second come: a 100 KiB
 * video would take two days. It must be cut as the one-answer trickle is. */
GST_START_TEST (test_trickle_in_pieces_cut_off)
{
  BadServer *server = bad_server_start_pieces (fixture.video, TRICKLE_FAST,
      1500);
  LumaRun *run = run_video_from (server, "t-pieces", 2, 1);

  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, "too slow");
  luma_run_free (run);
  bad_server_stop (server);
}

GST_END_TEST;

/* With the default poll interval (30 s), a wrong api-url is still said
 * within seconds. */
GST_START_TEST (test_refused_api_fails_fast)
{
  guint16 port = luma_test_refused_port ();
  g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u", port);
  g_autofree gchar *words = g_strdup_printf ("Connection refused by "
      "127.0.0.1:%u", port);
  LumaRun *run = luma_run_new (fixture.em, "t-typo", NULL);
  gint64 before = g_get_monotonic_time ();

  g_object_set (run->src, "api-url", url, "poll-interval", 30000, NULL);
  luma_run_until_done (run, 30);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, words);
  fail_unless (g_get_monotonic_time () - before <
      5 * G_USEC_PER_SEC * luma_test_slowdown ());
  luma_run_free (run);
}

GST_END_TEST;

static LumaRun *
run_over_tls (TlsServer * server, gboolean strict)
{
  g_autofree gchar *url = tls_server_get_url (server);
  LumaRun *run;

  luma_test_add_ready_task (fixture.em, "t-tls", fixture.video);
  luma_emulator_set_result_url (fixture.em, "t-tls", url);
  run = luma_run_new (fixture.em, "t-tls", NULL);
  g_object_set (run->src, "ssl-strict", strict, "retries", 0, NULL);
  luma_run_until_done (run, 20);
  return run;
}

GST_START_TEST (test_untrusted_certificate_refused)
{
  TlsServer *server = tls_server_start (fixture.video);
  LumaRun *run = run_over_tls (server, TRUE);

  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ,
      "Secure connection to 127.0.0.1 failed");
  fail_unless_equals_int (run->data->len, 0);
  luma_run_free (run);
  tls_server_stop (server);
}

GST_END_TEST;

GST_START_TEST (test_untrusted_certificate_allowed_when_lax)
{
  TlsServer *server = tls_server_start (fixture.video);
  LumaRun *run = run_over_tls (server, FALSE);

  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  tls_server_stop (server);
}

GST_END_TEST;

/* A result URL on https that redirects to http: refused, for the video as
 * for the API, before a byte is asked of the plain host. */
GST_START_TEST (test_video_https_to_http_redirect_refused)
{
  TlsServer *server = tls_server_start (fixture.video);
  g_autofree gchar *tls_url = tls_server_get_url (server);
  g_autofree gchar *base = luma_emulator_get_video_url_base (fixture.em);
  g_autofree gchar *plain = g_strconcat (base, "/r/t-tls/1.mp4", NULL);
  LumaRun *run;

  tls_server_set_redirect (server, plain);
  run = run_over_tls (server, FALSE);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, tls_url);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, plain);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, "plain http");
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          "t-tls"), 0);
  fail_unless_equals_int (run->data->len, 0);
  luma_run_free (run);
  tls_server_stop (server);
}

GST_END_TEST;

static Suite *
badinput_suite (void)
{
  Suite *s = suite_create ("lumasrc-badinput");
  TCase *tc = tcase_create ("badinput");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, luma_test_fixture_teardown);
  tcase_add_test (tc, test_waiting_codes_both_ways);
  tcase_add_test (tc, test_retry_after_zero_is_not_a_flood);
  tcase_add_test (tc, test_api_html_403_page);
  tcase_add_test (tc, test_50mb_answer_refused_by_length);
  tcase_add_test (tc, test_flood_refused_as_it_comes);
  tcase_add_test (tc, test_unasked_answer_never_served);
  tcase_add_test (tc, test_silent_server_times_out);
  tcase_add_test (tc, test_trickling_server_cut_off);
  tcase_add_test (tc, test_trickled_headers_end_at_wait_timeout);
  tcase_add_test (tc, test_video_host_trickling_headers_cut_off);
  tcase_add_test (tc, test_video_host_trickling_body_cut_off);
  tcase_add_test (tc, test_slow_steady_video_host_not_cut);
  tcase_add_test (tc, test_stall_not_counted_after_fast_answer);
  tcase_add_test (tc, test_trickle_in_pieces_cut_off);
  tcase_add_test (tc, test_two_silences_not_a_stall);
  tcase_add_test (tc, test_trickle_ignoring_range_cut_off);
  tcase_add_test (tc, test_refused_api_fails_fast);
  tcase_add_test (tc, test_untrusted_certificate_refused);
  tcase_add_test (tc, test_untrusted_certificate_allowed_when_lax);
  tcase_add_test (tc, test_video_https_to_http_redirect_refused);
  return s;
}

GST_CHECK_MAIN (badinput);
