/* gst-luma: the API client alone (LumaApi), against the emulator, a small
 * SoupServer and the misbehaving servers: redirects, Retry-After, deadlines,
 * hosts that cannot be reached, compressed and oversized answers
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>

#include "lumaapi.h"
#include "lumahttp.h"
#include "lumaworkers.h"
#include "harness.h"
#include "badservers.h"

#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GENERATING_BODY \
    "{\"code\":200,\"msg\":\"success\",\"data\":{\"successFlag\":0}}"

static void
setup (void)
{
  luma_test_fixture_setup (luma_test_random_bytes (4096, 3));
}

static SoupSession *
make_session (guint timeout, gboolean ssl_strict)
{
  LumaHttpConfig config = { "gst-luma-test", timeout, NULL, ssl_strict };

  return luma_http_session_new (&config);
}

static LumaApi *
make_api (SoupSession * session, const gchar * api_url)
{
  g_autoptr (GError) error = NULL;
  LumaApi *api = luma_api_new (session, api_url, TEST_KEY, &error);

  fail_unless (api != NULL, "%s", error ? error->message : "");
  return api;
}

/* Waits for @task_id on @api_url (the emulator's when NULL); the time it
 * took, in microseconds, goes to @took. */
static GstLumaRecord *
wait_for (const gchar * api_url, guint timeout, const gchar * task_id,
    guint poll_interval, guint wait_timeout, guint retries, gint64 * took,
    GCancellable * cancellable, GError ** error)
{
  g_autofree gchar *own_url = luma_emulator_get_api_url (fixture.em);
  g_autoptr (SoupSession) session = make_session (timeout, FALSE);
  g_autoptr (LumaApi) api = make_api (session, api_url ? api_url : own_url);
  LumaWaitParams params = { poll_interval, wait_timeout, retries, TRUE };
  gint64 before = g_get_monotonic_time ();
  GstLumaRecord *record;

  record = luma_api_wait_for_task (api, task_id, &params, NULL, NULL,
      cancellable, error);
  if (took != NULL)
    *took = g_get_monotonic_time () - before;
  return record;
}

#define SECONDS(s) ((gint64) (s) * G_USEC_PER_SEC * luma_test_slowdown ())

static void
assert_error_says (GError * error, const gchar * words)
{
  fail_unless (error != NULL, "no error");
  fail_unless (strstr (error->message, words) != NULL,
      "\"%s\" is not in \"%s\"", words, error->message);
}

/* ----- 5: never from https down to http ----- */

GST_START_TEST (test_https_to_http_redirect_refused)
{
  TlsServer *tls = tls_server_start (fixture.video);
  g_autofree gchar *tls_url = tls_server_get_url (tls);
  g_autofree gchar *plain_api = luma_emulator_get_api_url (fixture.em);
  g_autofree gchar *plain = g_strconcat (plain_api,
      "/api/v1/modify/record-info?taskId=t-down", NULL);
  g_autoptr (GError) error = NULL;
  GstLumaRecord *record;

  luma_test_add_ready_task (fixture.em, "t-down", fixture.video);
  tls_server_set_redirect (tls, plain);
  record = wait_for (tls_url, 5, "t-down", 10, 0, 3, NULL, NULL, &error);
  fail_unless (record == NULL);
  fail_unless (g_error_matches (error, LUMA_HTTP_ERROR,
          LUMA_HTTP_ERROR_REDIRECT), "%s", error->message);
  /* both ends named, so that a user sees who sent it where */
  assert_error_says (error, tls_url);
  assert_error_says (error, plain);
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-down"), 0);
  tls_server_stop (tls);
}

GST_END_TEST;

/* ----- 10: Retry-After, only where it means "come back later" ----- */

GST_START_TEST (test_retry_after_parsing)
{
  g_autoptr (GDateTime) now = g_date_time_new_utc (2026, 3, 1, 12, 0, 0);

  fail_unless_equals_uint64 (luma_http_parse_retry_after ("0", now), 0);
  fail_unless_equals_uint64 (luma_http_parse_retry_after ("120", now), 120000);
  fail_unless_equals_uint64 (luma_http_parse_retry_after (" 5 ", now), 5000);
  /* an hour at the most, however it is said */
  fail_unless_equals_uint64 (luma_http_parse_retry_after ("7200", now),
      LUMA_HTTP_RETRY_AFTER_MAX_MS);
  fail_unless_equals_uint64 (luma_http_parse_retry_after
      ("99999999999999999999999999", now), LUMA_HTTP_RETRY_AFTER_MAX_MS);
  fail_unless_equals_uint64 (luma_http_parse_retry_after
      ("Sun, 01 Mar 2026 12:00:30 GMT", now), 30000);
  fail_unless_equals_uint64 (luma_http_parse_retry_after
      ("Mon, 02 Mar 2026 12:00:00 GMT", now), LUMA_HTTP_RETRY_AFTER_MAX_MS);
  fail_unless_equals_uint64 (luma_http_parse_retry_after
      ("Sat, 28 Feb 2026 12:00:00 GMT", now), 0);
  /* garbage is no Retry-After */
  fail_unless_equals_uint64 (luma_http_parse_retry_after (NULL, now),
      LUMA_HTTP_RETRY_AFTER_NONE);
  fail_unless_equals_uint64 (luma_http_parse_retry_after ("", now),
      LUMA_HTTP_RETRY_AFTER_NONE);
  fail_unless_equals_uint64 (luma_http_parse_retry_after ("-5", now),
      LUMA_HTTP_RETRY_AFTER_NONE);
  fail_unless_equals_uint64 (luma_http_parse_retry_after ("+5", now),
      LUMA_HTTP_RETRY_AFTER_NONE);
  fail_unless_equals_uint64 (luma_http_parse_retry_after ("1.5", now),
      LUMA_HTTP_RETRY_AFTER_NONE);
  fail_unless_equals_uint64 (luma_http_parse_retry_after ("soon", now),
      LUMA_HTTP_RETRY_AFTER_NONE);
}

GST_END_TEST;

/* A 200 (the task still generating) with a Retry-After is polled again on
 * the poll interval: the header means nothing there. */
GST_START_TEST (test_retry_after_ignored_on_200)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstLumaRecord) record = NULL;
  gint64 took;

  luma_test_add_ready_task (fixture.em, "t-200", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-200", 200, "30", NULL,
      GENERATING_BODY);
  record = wait_for (NULL, 5, "t-200", 10, 0, 3, &took, NULL, &error);
  fail_unless (record != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-200"), 2);
  fail_unless (took < SECONDS (5), "took %" G_GINT64_FORMAT " us", took);
}

GST_END_TEST;

/* data.taskId names the task the record is of: a record of another task
 * (a caching proxy's mix-up, a server bug) is not the video asked for. */
GST_START_TEST (test_record_of_another_task_refused)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstLumaRecord) record = NULL;

  luma_test_add_ready_task (fixture.em, "t-mine", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-mine", 200, NULL, NULL,
      "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":"
      "\"t-someone-else\",\"successFlag\":1,\"response\":{\"resultUrls\":"
      "[\"http://127.0.0.1:9/someone-else.mp4\"]}}}");
  record = wait_for (NULL, 5, "t-mine", 10, 0, 3, NULL, NULL, &error);
  fail_unless (record == NULL, "took the record of %s, %s", record->task_id,
      record->result_urls[0]);
  fail_unless (g_error_matches (error, LUMA_API_ERROR,
          LUMA_API_ERROR_BAD_ANSWER));
  fail_unless (strstr (error->message, "t-someone-else") != NULL);
}

GST_END_TEST;

/* A record that names its task only in data.response.taskId (no
 * data.taskId), or names another there than in data.taskId, is the record
 * (or holds the response) of another task: its video is not this one's. */
static void
check_response_of_another_task_refused (const gchar * data_task_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstLumaRecord) record = NULL;
  g_autofree gchar *body = g_strdup_printf ("{\"code\":200,\"msg\":"
      "\"success\",\"data\":{%s\"successFlag\":1,\"response\":{"
      "\"taskId\":\"t-someone-else\",\"resultUrls\":"
      "[\"http://127.0.0.1:9/someone-else.mp4\"]}}}", data_task_id);

  luma_emulator_free (fixture.em);
  fixture.em = luma_test_emulator_new ();
  luma_test_add_ready_task (fixture.em, "t-mine", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-mine", 200, NULL, NULL, body);
  record = wait_for (NULL, 5, "t-mine", 10, 0, 3, NULL, NULL, &error);
  fail_unless (record == NULL, "took the record whose response is of "
      "t-someone-else (%s): %s", data_task_id, record->result_urls[0]);
  fail_unless (g_error_matches (error, LUMA_API_ERROR,
          LUMA_API_ERROR_BAD_ANSWER), "%s", error->message);
  fail_unless (strstr (error->message, "t-someone-else") != NULL, "%s",
      error->message);
}

GST_START_TEST (test_response_of_another_task_refused)
{
  check_response_of_another_task_refused ("");
  check_response_of_another_task_refused ("\"taskId\":\"t-mine\",");
}

GST_END_TEST;

GST_START_TEST (test_retry_after_ignored_on_500)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstLumaRecord) record = NULL;
  gint64 took;

  luma_test_add_ready_task (fixture.em, "t-500", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-500", 500, "30", NULL,
      "{\"code\":500,\"msg\":\"oops\"}");
  record = wait_for (NULL, 5, "t-500", 10, 0, 3, &took, NULL, &error);
  fail_unless (record != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-500"), 2);
  fail_unless (took < SECONDS (5), "took %" G_GINT64_FORMAT " us", took);
}

GST_END_TEST;

GST_START_TEST (test_retry_after_honoured_on_455_and_503)
{
  static const guint statuses[] = { 455, 503 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (statuses); i++) {
    g_autofree gchar *id = g_strdup_printf ("t-ra-%u", statuses[i]);
    g_autoptr (GError) error = NULL;
    g_autoptr (GstLumaRecord) record = NULL;
    gint64 took;

    luma_test_add_ready_task (fixture.em, id, fixture.video);
    luma_emulator_push_record_reply (fixture.em, id, statuses[i], "1", NULL,
        "{\"code\":503,\"msg\":\"later\"}");
    record = wait_for (NULL, 5, id, 10, 0, 3, &took, NULL, &error);
    fail_unless (record != NULL, "%s", error ? error->message : "");
    fail_unless (took >= 950 * 1000, "Retry-After: 1 was not waited for "
        "after %u", statuses[i]);
  }
}

GST_END_TEST;


/* KIE sends its errors as HTTP 200 with the code in the body (the
 * API doc: "read both"); a 429 said that way, with a Retry-After, must be
 * waited for like a 429 status. */
GST_START_TEST (test_retry_after_honoured_on_body_429)
{
  static const gint codes[] = { 429, 455 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (codes); i++) {
    g_autofree gchar *id = g_strdup_printf ("t-body-%d", codes[i]);
    g_autofree gchar *body = g_strdup_printf ("{\"code\":%d,\"msg\":"
        "\"slow down\"}", codes[i]);
    g_autoptr (GError) error = NULL;
    g_autoptr (GstLumaRecord) record = NULL;
    gint64 took;

    luma_test_add_ready_task (fixture.em, id, fixture.video);
    luma_emulator_push_record_reply (fixture.em, id, 200, "2", NULL, body);
    record = wait_for (NULL, 5, id, 10, 0, 3, &took, NULL, &error);
    fail_unless (record != NULL, "%s", error ? error->message : "");
    fail_unless (took >= 1900 * 1000, "code %d in a 200 with Retry-After: 2 "
        "polled again after %" G_GINT64_FORMAT " us", codes[i], took);
  }
}

GST_END_TEST;

/* A number of seconds too large for 32 bits is still a Retry-After: the
 * longest wait, here cut by wait-timeout, not "no Retry-After". */
GST_START_TEST (test_huge_retry_after_waits_until_wait_timeout)
{
  /* time enough for the first answer, however slow this run is */
  guint wait_timeout = 2 * luma_test_slowdown ();
  g_autoptr (GError) error = NULL;
  GstLumaRecord *record;
  gint64 took;

  luma_test_add_ready_task (fixture.em, "t-huge", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-huge", 429, "99999999999",
      NULL, "{\"code\":429,\"msg\":\"slow down\"}");
  record =
      wait_for (NULL, 5, "t-huge", 10, wait_timeout, 3, &took, NULL, &error);
  fail_unless (record == NULL);
  fail_unless (g_error_matches (error, LUMA_API_ERROR,
          LUMA_API_ERROR_TIMEOUT), "%s", error->message);
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-huge"), 1);
  fail_unless (took < SECONDS (wait_timeout + 2),
      "took %" G_GINT64_FORMAT " us", took);
}

GST_END_TEST;

/* ----- 11: one deadline for the whole request ----- */

/* Headers that never end keep an inactivity timeout happy forever. */
GST_START_TEST (test_trickled_headers_cut_by_request_deadline)
{
  BadServer *server = bad_server_start (BAD_SERVER_TRICKLE_HEADERS);
  g_autofree gchar *url = bad_server_get_url (server);
  g_autoptr (GError) error = NULL;
  GstLumaRecord *record;
  gint64 took;

  /* a byte a second, well within a timeout of 2 s */
  record = wait_for (url, 2, "t-slow", 10, 0, 0, &took, NULL, &error);
  fail_unless (record == NULL);
  fail_unless (g_error_matches (error, LUMA_API_ERROR,
          LUMA_API_ERROR_UNAVAILABLE), "%s", error->message);
  assert_error_says (error, "127.0.0.1 did not answer within 4 seconds");
  fail_unless (took >= 4 * G_USEC_PER_SEC - 10000);
  fail_unless (took < SECONDS (8), "took %" G_GINT64_FORMAT " us", took);
  fail_unless (bad_server_get_bytes_sent (server) > 0);
  bad_server_stop (server);
}

GST_END_TEST;

GST_START_TEST (test_wait_timeout_ends_a_poll_in_the_middle)
{
  BadServer *server = bad_server_start (BAD_SERVER_TRICKLE_HEADERS);
  g_autofree gchar *url = bad_server_get_url (server);
  g_autoptr (GError) error = NULL;
  GstLumaRecord *record;
  gint64 took;

  record = wait_for (url, 30, "t-slow", 10, 2, 3, &took, NULL, &error);
  fail_unless (record == NULL);
  fail_unless (g_error_matches (error, LUMA_API_ERROR,
          LUMA_API_ERROR_TIMEOUT), "%s", error->message);
  assert_error_says (error, "after 2 seconds");
  assert_error_says (error, "no answer from 127.0.0.1");
  fail_unless (took < SECONDS (5), "took %" G_GINT64_FORMAT " us", took);
  bad_server_stop (server);
}

GST_END_TEST;

static gpointer
cancel_later (gpointer cancellable)
{
  g_usleep (300 * 1000);
  g_cancellable_cancel (cancellable);
  return NULL;
}

/* The element's cancellable still stops a request at once, deadline or
 * not. */
GST_START_TEST (test_cancel_stops_a_trickling_request)
{
  BadServer *server = bad_server_start (BAD_SERVER_TRICKLE_HEADERS);
  g_autofree gchar *url = bad_server_get_url (server);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  GThread *thread = g_thread_new ("cancel", cancel_later, cancellable);
  GstLumaRecord *record;
  gint64 took;

  record = wait_for (url, 30, "t-slow", 10, 0, 3, &took, cancellable, &error);
  g_thread_join (thread);
  fail_unless (record == NULL);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED),
      "%s", error->message);
  fail_unless (took < SECONDS (2), "took %" G_GINT64_FORMAT " us", took);
  bad_server_stop (server);
}

GST_END_TEST;

/* ----- 12: a wrong api-url is said within seconds ----- */


GST_START_TEST (test_refused_connection_fails_fast)
{
  g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u",
      luma_test_refused_port ());
  g_autoptr (GError) error = NULL;
  GstLumaRecord *record;
  gint64 took;

  record = wait_for (url, 5, "t-typo", 30000, 0, 3, &took, NULL, &error);
  fail_unless (record == NULL);
  assert_error_says (error, "Connection refused by 127.0.0.1");
  assert_error_says (error, "4 attempts");
  /* 250 ms, 500 ms, 1 s between the four */
  fail_unless (took >= 1700 * 1000, "took %" G_GINT64_FORMAT " us", took);
  fail_unless (took < SECONDS (5), "took %" G_GINT64_FORMAT " us", took);
}

GST_END_TEST;

/* A resolver that knows no name, so that "no such host" does not depend on
 * this machine's DNS. */
typedef GResolver NoNameResolver;
typedef GResolverClass NoNameResolverClass;

GType no_name_resolver_get_type (void);
G_DEFINE_TYPE (NoNameResolver, no_name_resolver, G_TYPE_RESOLVER);

static GList *
no_name_lookup (GResolver * resolver, const gchar * host,
    GCancellable * cancellable, GError ** error)
{
  g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
      "Name or service not known");
  return NULL;
}

static GList *
no_name_lookup_with_flags (GResolver * resolver, const gchar * host,
    GResolverNameLookupFlags flags, GCancellable * cancellable, GError ** error)
{
  return no_name_lookup (resolver, host, cancellable, error);
}

static void
no_name_lookup_async (GResolver * resolver, const gchar * host,
    GCancellable * cancellable, GAsyncReadyCallback callback,
    gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (resolver, cancellable, callback,
      user_data);

  g_task_return_new_error (task, G_RESOLVER_ERROR,
      G_RESOLVER_ERROR_NOT_FOUND, "Name or service not known");
}

static void
no_name_lookup_with_flags_async (GResolver * resolver, const gchar * host,
    GResolverNameLookupFlags flags, GCancellable * cancellable,
    GAsyncReadyCallback callback, gpointer user_data)
{
  no_name_lookup_async (resolver, host, cancellable, callback, user_data);
}

static GList *
no_name_lookup_finish (GResolver * resolver, GAsyncResult * result,
    GError ** error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
no_name_resolver_class_init (NoNameResolverClass * klass)
{
  klass->lookup_by_name = no_name_lookup;
  klass->lookup_by_name_async = no_name_lookup_async;
  klass->lookup_by_name_finish = no_name_lookup_finish;
  klass->lookup_by_name_with_flags = no_name_lookup_with_flags;
  klass->lookup_by_name_with_flags_async = no_name_lookup_with_flags_async;
  klass->lookup_by_name_with_flags_finish = no_name_lookup_finish;
}

static void
no_name_resolver_init (NoNameResolver * resolver)
{
}

GST_START_TEST (test_unknown_host_fails_fast)
{
  g_autoptr (GResolver) system = g_resolver_get_default ();
  g_autoptr (GResolver) none = g_object_new (no_name_resolver_get_type (),
      NULL);
  g_autoptr (GError) error = NULL;
  GstLumaRecord *record;
  gint64 took;

  g_resolver_set_default (none);
  record = wait_for ("https://api.kie.invalid", 5, "t-typo", 30000, 0, 3,
      &took, NULL, &error);
  g_resolver_set_default (system);
  fail_unless (record == NULL);
  assert_error_says (error, "Could not resolve host name \"api.kie.invalid\"");
  assert_error_says (error, "Name or service not known");
  fail_unless (took < SECONDS (5), "took %" G_GINT64_FORMAT " us", took);
}

GST_END_TEST;

static void
stop_emulator (const LumaWaitStatus * status, gpointer user_data)
{
  LumaEmulator **emulator = user_data;

  if (status->polls == 1)
    g_clear_pointer (emulator, luma_emulator_free);
}

/* Once the API has answered, its URL is right: a refusal then is a restart
 * or an outage, retried on the ordinary schedule. */
GST_START_TEST (test_refusal_after_an_answer_is_ordinary_trouble)
{
  LumaEmulatorTask task = {
    .task_id = "t-gone",
    .video = fixture.video,
    .generating_polls = G_MAXUINT,
    .final_flag = 1,
  };
  g_autofree gchar *url = luma_emulator_get_api_url (fixture.em);
  g_autoptr (SoupSession) session = make_session (5, TRUE);
  g_autoptr (LumaApi) api = make_api (session, url);
  LumaWaitParams params = { 1000, 0, 1, TRUE };
  g_autoptr (GError) error = NULL;
  gint64 before = g_get_monotonic_time ();
  GstLumaRecord *record;

  luma_emulator_add_task (fixture.em, &task);
  record =
      luma_api_wait_for_task (api, "t-gone", &params, stop_emulator,
      &fixture.em, NULL, &error);
  fail_unless (record == NULL);
  assert_error_says (error, "Connection refused by 127.0.0.1");
  /* 1 s after the answer, then 1 s after the first refusal */
  fail_unless (g_get_monotonic_time () - before >= 1950 * 1000);
}

GST_END_TEST;

/* ----- 13: compressed answers, large error pages, a 401 elsewhere ----- */

/* A SoupServer that answers every request alike, in its own thread. */
typedef struct
{
  guint status;
  const gchar *encoding;
  GBytes *body;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *soup;
  GThread *thread;
  guint port;
  gint requests;                /* atomic */
  gchar *accept_encoding;       /* of the last request, under lock */
  GMutex lock;
  GCond ready;
} FixedServer;

static void
answer_fixed (SoupServer * soup, SoupServerMessage * msg, const gchar * path,
    GHashTable * query, gpointer user_data)
{
  FixedServer *server = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  gsize size;
  gconstpointer data = g_bytes_get_data (server->body, &size);

  g_atomic_int_inc (&server->requests);
  g_mutex_lock (&server->lock);
  g_free (server->accept_encoding);
  server->accept_encoding =
      g_strdup (soup_message_headers_get_one
      (soup_server_message_get_request_headers (msg), "Accept-Encoding"));
  g_mutex_unlock (&server->lock);
  soup_server_message_set_status (msg, server->status, NULL);
  if (server->encoding != NULL)
    soup_message_headers_replace (headers, "Content-Encoding",
        server->encoding);
  soup_server_message_set_response (msg, "application/json",
      SOUP_MEMORY_COPY, data, size);
}

static gpointer
fixed_server_main (gpointer user_data)
{
  FixedServer *server = user_data;
  g_autoptr (GError) error = NULL;
  GSList *uris;

  g_main_context_push_thread_default (server->context);
  server->soup = soup_server_new (NULL, NULL);
  soup_server_add_handler (server->soup, NULL, answer_fixed, server, NULL);
  g_assert_true (soup_server_listen_local (server->soup, 0,
          SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  uris = soup_server_get_uris (server->soup);
  g_mutex_lock (&server->lock);
  server->port = g_uri_get_port (uris->data);
  g_cond_signal (&server->ready);
  g_mutex_unlock (&server->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_main_loop_run (server->loop);
  soup_server_disconnect (server->soup);
  g_object_unref (server->soup);
  g_main_context_pop_thread_default (server->context);
  return NULL;
}

static FixedServer *
fixed_server_start (guint status, const gchar * encoding, GBytes * body)
{
  FixedServer *server = g_new0 (FixedServer, 1);

  server->status = status;
  server->encoding = encoding;
  server->body = g_bytes_ref (body);
  server->context = g_main_context_new ();
  server->loop = g_main_loop_new (server->context, FALSE);
  g_mutex_init (&server->lock);
  g_cond_init (&server->ready);
  g_mutex_lock (&server->lock);
  server->thread = g_thread_new ("fixed-server", fixed_server_main, server);
  while (server->port == 0)
    g_cond_wait (&server->ready, &server->lock);
  g_mutex_unlock (&server->lock);
  return server;
}

static gchar *
fixed_server_get_url (FixedServer * server)
{
  return g_strdup_printf ("http://127.0.0.1:%u", server->port);
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
fixed_server_stop (FixedServer * server)
{
  g_main_context_invoke (server->context, quit_loop, server->loop);
  g_thread_join (server->thread);
  g_main_loop_unref (server->loop);
  g_main_context_unref (server->context);
  g_bytes_unref (server->body);
  g_free (server->accept_encoding);
  g_mutex_clear (&server->lock);
  g_cond_clear (&server->ready);
  g_free (server);
}

static GBytes *
gzip (gconstpointer data, gsize size)
{
  g_autoptr (GZlibCompressor) compressor =
      g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 9);
  g_autoptr (GOutputStream) memory = g_memory_output_stream_new_resizable ();
  g_autoptr (GOutputStream) out =
      g_converter_output_stream_new (memory, G_CONVERTER (compressor));

  fail_unless (g_output_stream_write_all (out, data, size, NULL, NULL, NULL));
  fail_unless (g_output_stream_close (out, NULL, NULL));
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM
      (memory));
}


/* a key the server quotes back in a header (here Content-Encoding)
 * reaches the error text: only the body is starred out. */
GST_START_TEST (test_key_echoed_in_a_header_not_in_error)
{
  static const gchar record_text[] = "{\"code\":200,\"msg\":\"success\","
      "\"data\":{\"taskId\":\"t-hdr\",\"successFlag\":0}}";
  g_autoptr (GBytes) body = g_bytes_new_static (record_text,
      strlen (record_text));
  FixedServer *server = fixed_server_start (200, "x-" TEST_KEY, body);
  g_autofree gchar *url = fixed_server_get_url (server);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstLumaRecord) record = NULL;

  record = wait_for (url, 5, "t-hdr", 10, 0, 0, NULL, NULL, &error);
  fixed_server_stop (server);
  fail_unless (record == NULL);
  fail_unless (error != NULL);
  fail_unless (strstr (error->message, TEST_KEY) == NULL,
      "the key is in the error: %s", error->message);
}

GST_END_TEST;


/* JSON may escape what it quotes ("\/" is how PHP's json_encode
 * writes every '/'): the key starred out as raw bytes is missed, and
 * json-glib hands the unescaped key to the error. */
GST_START_TEST (test_key_echoed_json_escaped_not_in_error)
{
  static const gchar key[] = "sk/test-secret-0123456789";
  static const gchar record_text[] = "{\"code\":401,\"msg\":\"Invalid API "
      "key: sk\\/test-secret-0123456789\"}";
  g_autoptr (GBytes) body = g_bytes_new_static (record_text,
      strlen (record_text));
  FixedServer *server = fixed_server_start (200, NULL, body);
  g_autofree gchar *url = fixed_server_get_url (server);
  g_autoptr (SoupSession) session = make_session (5, FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (LumaApi) api = luma_api_new (session, url, key, &error);
  LumaWaitParams params = { 10, 0, 0, TRUE };
  g_autoptr (GstLumaRecord) record = NULL;

  fail_unless (api != NULL);
  record = luma_api_wait_for_task (api, "t-esc", &params, NULL, NULL, NULL,
      &error);
  fixed_server_stop (server);
  fail_unless (record == NULL);
  fail_unless (error != NULL);
  fail_unless (strstr (error->message, key) == NULL,
      "the key is in the error: %s", error->message);
}

GST_END_TEST;

/* Download-url's refusal quoting the key JSON-escaped, or in a
 * header: the error (which lumasrc logs, "no fresh link: ...") must not
 * hold it, as luma_api_wait_for_task ()'s errors do not. */
GST_START_TEST (test_key_echoed_by_download_url_not_in_error)
{
  static const gchar key[] = "sk/test-secret-0123456789";
  static const gchar text[] = "{\"code\":422,\"msg\":\"not yours, "
      "sk\\/test-secret-0123456789\"}";
  g_autoptr (GBytes) body = g_bytes_new_static (text, strlen (text));
  const gchar *encodings[] = { NULL, "x-sk/test-secret-0123456789" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (encodings); i++) {
    FixedServer *server = fixed_server_start (200, encodings[i], body);
    g_autofree gchar *url = fixed_server_get_url (server);
    g_autoptr (SoupSession) session = make_session (5, FALSE);
    g_autoptr (GError) error = NULL;
    g_autoptr (LumaApi) api = luma_api_new (session, url, key, &error);
    g_autofree gchar *link = NULL;

    fail_unless (api != NULL);
    link = luma_api_fresh_link (api, "http://127.0.0.1:1/r/t/1.mp4", NULL,
        &error);
    fixed_server_stop (server);
    fail_unless (link == NULL);
    fail_unless (error != NULL);
    fail_unless (strstr (error->message, key) == NULL,
        "the key is in the error: %s", error->message);
  }
}

GST_END_TEST;

GST_START_TEST (test_gzip_answer_is_read)
{
  static const gchar record_text[] = "{\"code\":200,\"msg\":\"success\","
      "\"data\":{\"taskId\":\"t-gz\",\"successFlag\":1,\"response\":"
      "{\"resultUrls\":[\"http://127.0.0.1:9/gz.mp4\"]}}}";
  g_autoptr (GBytes) body = gzip (record_text, strlen (record_text));
  FixedServer *server = fixed_server_start (200, "gzip", body);
  g_autofree gchar *url = fixed_server_get_url (server);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstLumaRecord) record = NULL;

  record = wait_for (url, 5, "t-gz", 10, 0, 0, NULL, NULL, &error);
  fail_unless (record != NULL, "%s", error ? error->message : "");
  fail_unless_equals_string (record->result_urls[0],
      "http://127.0.0.1:9/gz.mp4");
  g_mutex_lock (&server->lock);
  fail_unless_equals_string (server->accept_encoding, "gzip");
  g_mutex_unlock (&server->lock);
  fixed_server_stop (server);
}

GST_END_TEST;

/* 20 MB of spaces in 20 kB: the limit counts what it decodes to. */
GST_START_TEST (test_gzip_bomb_refused)
{
  gsize size = 20 * 1024 * 1024;
  g_autofree gchar *spaces = g_malloc (size);
  g_autoptr (GBytes) body = NULL;
  FixedServer *server;
  g_autofree gchar *url = NULL;
  g_autoptr (GError) error = NULL;
  GstLumaRecord *record;

  memset (spaces, ' ', size);
  body = gzip (spaces, size);
  fail_unless (g_bytes_get_size (body) < GST_LUMA_RECORD_MAX_SIZE);
  server = fixed_server_start (200, "gzip", body);
  url = fixed_server_get_url (server);
  record = wait_for (url, 5, "t-bomb", 10, 0, 3, NULL, NULL, &error);
  fail_unless (record == NULL);
  fail_unless (g_error_matches (error, LUMA_HTTP_ERROR,
          LUMA_HTTP_ERROR_TOO_LARGE), "%s", error->message);
  assert_error_says (error, "larger than 1048576 bytes");
  fail_unless_equals_int (g_atomic_int_get (&server->requests), 1);
  fixed_server_stop (server);
}

GST_END_TEST;

GST_START_TEST (test_unknown_encoding_is_a_bad_answer)
{
  g_autoptr (GBytes) body = g_bytes_new_static ("\x1b\x00\x00", 3);
  FixedServer *server = fixed_server_start (200, "br", body);
  g_autofree gchar *url = fixed_server_get_url (server);
  g_autoptr (GError) error = NULL;
  GstLumaRecord *record;

  record = wait_for (url, 5, "t-br", 10, 0, 3, NULL, NULL, &error);
  fail_unless (record == NULL);
  fail_unless (g_error_matches (error, LUMA_API_ERROR,
          LUMA_API_ERROR_BAD_ANSWER), "%s", error->message);
  assert_error_says (error, "\"br\"");
  fixed_server_stop (server);
}

GST_END_TEST;

/* A server in trouble may send a long page: it is a 5xx, retried. */
GST_START_TEST (test_large_5xx_page_is_retried)
{
  gsize size = 2 * 1024 * 1024;
  g_autofree gchar *page = g_malloc (size + 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstLumaRecord) record = NULL;

  memset (page, 'x', size);
  page[size] = '\0';
  luma_test_add_ready_task (fixture.em, "t-5xx", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-5xx", 502, NULL, "text/html",
      page);
  record = wait_for (NULL, 5, "t-5xx", 10, 0, 3, NULL, NULL, &error);
  fail_unless (record != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          "t-5xx"), 2);
}

GST_END_TEST;

/* The error of a wait for t-moved, whose record-info the emulator
 * redirects to @other's, which that error names. */
static GError *
wait_redirected_to (LumaEmulator * other)
{
  g_autofree gchar *other_api = luma_emulator_get_api_url (other);
  g_autofree gchar *target = g_strconcat (other_api,
      "/api/v1/modify/record-info?taskId=t-moved", NULL);
  GError *error = NULL;
  GstLumaRecord *record;

  luma_test_add_ready_task (fixture.em, "t-moved", fixture.video);
  luma_emulator_push_record_redirect (fixture.em, "t-moved", target);
  record = wait_for (NULL, 5, "t-moved", 10, 0, 3, NULL, NULL, &error);
  fail_unless (record == NULL);
  assert_error_says (error, other_api + strlen ("http://"));
  return error;
}

GST_START_TEST (test_401_from_other_host_says_key_was_not_sent)
{
  LumaEmulator *other = luma_test_emulator_new ();
  g_autoptr (GError) error = NULL;

  luma_test_add_ready_task (other, "t-moved", fixture.video);
  error = wait_redirected_to (other);
  fail_unless (g_error_matches (error, LUMA_API_ERROR,
          LUMA_API_ERROR_NOT_AUTHORIZED), "%s", error->message);
  assert_error_says (error, "the API key was not sent to");
  fail_unless_equals_int (luma_emulator_get_api_auth_requests (other), 0);
  luma_emulator_free (other);
}

GST_END_TEST;

/* A 404 or a 403 from another host than the API's, which a redirect
 * named (a proxy or CDN in front of the API), is no word of KIE's on the
 * task: that host never had the key. The error names it and does not
 * claim KIE's verdict ("KIE does not know task": a NOT_FOUND a user takes
 * for a wrong task id). As a page, as a JSON error, or as the code of a
 * 200's body. */
static const struct
{
  guint status;
  const gchar *content_type;
  const gchar *body;
} other_host_refusals[] = {
  {404, "text/html", "<html><body>Not Found</body></html>"},
  {404, NULL, "{\"code\":404,\"msg\":\"Task not found\"}"},
  {403, "text/html", "<html><body>Forbidden</body></html>"},
  {200, NULL, "{\"code\":404,\"msg\":\"Task not found\"}"},
};

GST_START_TEST (test_refusal_from_other_host_is_not_kie_s)
{
  LumaEmulator *other = luma_test_emulator_new ();
  g_autoptr (GError) error = NULL;

  luma_emulator_push_record_reply (other, "t-moved",
      other_host_refusals[__i__].status, NULL,
      other_host_refusals[__i__].content_type, other_host_refusals[__i__].body);
  error = wait_redirected_to (other);
  fail_if (g_error_matches (error, LUMA_API_ERROR, LUMA_API_ERROR_NOT_FOUND),
      "another host's answer is taken for KIE's: %s", error->message);
  fail_if (strstr (error->message, "KIE does not know") != NULL
      || strstr (error->message, "KIE refused") != NULL,
      "another host's answer is taken for KIE's: %s", error->message);
  fail_unless_equals_int (luma_emulator_get_record_requests (other,
          "t-moved"), 1);
  luma_emulator_free (other);
}

GST_END_TEST;

/* ----- 14: what a poll costs ----- */

/* GLib makes an eventfd for each GWakeup: the file descriptor of a
 * cancellable that a socket or a sleep waits on, a main context. They are
 * counted here, where the test program stands in for libc's eventfd () and
 * passes the call on. */
static gint eventfds_made;

int
eventfd (unsigned int count, int flags)
{
  g_atomic_int_inc (&eventfds_made);
  return syscall (SYS_eventfd2, count, flags);
}

#define COUNTED_POLLS 6

static void
count_eventfds (const LumaWaitStatus * status, gpointer user_data)
{
  gint *made_by_poll = user_data;

  if (status->polls < COUNTED_POLLS)
    made_by_poll[status->polls] = g_atomic_int_get (&eventfds_made);
}

/* A wait makes its cancellables' file descriptors once: the polls after
 * the first make none (GIO made and closed two a poll, one for the
 * request's socket wait, one for the sleep). */
GST_START_TEST (test_polls_make_no_eventfd)
{
  LumaEmulatorTask task = {
    .task_id = "t-fds",
    .video = fixture.video,
    .generating_polls = COUNTED_POLLS + 1,
    .final_flag = 1,
  };
  g_autofree gchar *url = luma_emulator_get_api_url (fixture.em);
  g_autoptr (SoupSession) session = make_session (5, TRUE);
  g_autoptr (LumaApi) api = make_api (session, url);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  LumaWaitParams params = { 10, 0, 1, TRUE };
  gint made_by_poll[COUNTED_POLLS] = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GstLumaRecord) record = NULL;

  luma_emulator_add_task (fixture.em, &task);
  record = luma_api_wait_for_task (api, "t-fds", &params, count_eventfds,
      made_by_poll, cancellable, &error);
  fail_unless (record != NULL, "%s", error ? error->message : "");
  fail_unless (made_by_poll[1] > 0, "eventfd () was not counted");
  fail_unless_equals_int (made_by_poll[COUNTED_POLLS - 1] - made_by_poll[2], 0);
}

GST_END_TEST;

/* Until @cancellable is cancelled, or 30 s (a deadline that never fires) */
static gboolean
becomes_cancelled (GCancellable * cancellable)
{
  gint64 give_up = g_get_monotonic_time () + SECONDS (30);

  while (!g_cancellable_is_cancelled (cancellable)
      && g_get_monotonic_time () < give_up)
    g_usleep (1000);
  return g_cancellable_is_cancelled (cancellable);
}

#define FROM_NOW(ms) (g_get_monotonic_time () + (gint64) (ms) * 1000)

/* A deadline armed again serves the next request: uncancelled, and
 * cancelled at its new time, or when its parent is. */
GST_START_TEST (test_deadline_rearmed)
{
  g_autoptr (GCancellable) parent = g_cancellable_new ();
  g_autoptr (LumaHttpDeadline) deadline =
      luma_http_deadline_new (parent, FROM_NOW (20));
  GCancellable *cancellable = luma_http_deadline_get_cancellable (deadline);

  fail_unless (becomes_cancelled (cancellable));
  fail_unless (luma_http_deadline_has_passed (deadline));

  luma_http_deadline_rearm (deadline, G_MAXINT64);
  fail_if (g_cancellable_is_cancelled (cancellable));
  fail_if (luma_http_deadline_has_passed (deadline));

  luma_http_deadline_rearm (deadline, FROM_NOW (20));
  fail_unless (becomes_cancelled (cancellable));
  fail_unless (luma_http_deadline_has_passed (deadline));

  luma_http_deadline_rearm (deadline, FROM_NOW (3600 * 1000));
  g_cancellable_cancel (parent);
  fail_unless (g_cancellable_is_cancelled (cancellable));
  fail_if (luma_http_deadline_has_passed (deadline));
  /* a cancelled parent stays the child's verdict */
  luma_http_deadline_rearm (deadline, G_MAXINT64);
  fail_unless (g_cancellable_is_cancelled (cancellable));
}

GST_END_TEST;

/* The timer thread sleeps until the earliest deadline it knows: one armed
 * earlier still fires on time, one disarmed never fires. */
GST_START_TEST (test_earlier_deadline_fires_first)
{
  g_autoptr (LumaHttpDeadline) late =
      luma_http_deadline_new (NULL, FROM_NOW (3600 * 1000));
  g_autoptr (LumaHttpDeadline) gone = NULL;
  g_autoptr (LumaHttpDeadline) early = NULL;

  /* let the thread go to sleep until the late one */
  g_usleep (20 * 1000);
  gone = luma_http_deadline_new (NULL, FROM_NOW (50));
  luma_http_deadline_rearm (gone, G_MAXINT64);
  early = luma_http_deadline_new (NULL, FROM_NOW (100));
  fail_unless (becomes_cancelled (luma_http_deadline_get_cancellable (early)));
  fail_if (g_cancellable_is_cancelled (luma_http_deadline_get_cancellable
          (gone)));
  fail_if (g_cancellable_is_cancelled (luma_http_deadline_get_cancellable
          (late)));
}

GST_END_TEST;

/* ----- 14: the polls of every wait run in a few shared threads ----- */

#define SHARED_WAITS 24

typedef struct
{
  GMutex lock;
  GHashTable *polled_from;      /* the threads on_poll was called in */
  GHashTable *waited_from;      /* the threads that waited */
  gint ready;
} SharedWaits;

static void
note_polling_thread (const LumaWaitStatus * status, gpointer user_data)
{
  SharedWaits *shared = user_data;

  g_mutex_lock (&shared->lock);
  g_hash_table_add (shared->polled_from, g_thread_self ());
  g_mutex_unlock (&shared->lock);
}

static gpointer
wait_in_thread (gpointer user_data)
{
  SharedWaits *shared = user_data;
  g_autofree gchar *url = luma_emulator_get_api_url (fixture.em);
  g_autoptr (SoupSession) session = make_session (5, TRUE);
  g_autoptr (LumaApi) api = make_api (session, url);
  LumaWaitParams params = { 20, 0, 1, TRUE };
  g_autofree gchar *task_id = NULL;
  g_autoptr (GstLumaRecord) record = NULL;
  g_autoptr (GError) error = NULL;
  static gint next_task;

  task_id = g_strdup_printf ("t-shared-%d", g_atomic_int_add (&next_task, 1));
  g_mutex_lock (&shared->lock);
  g_hash_table_add (shared->waited_from, g_thread_self ());
  g_mutex_unlock (&shared->lock);
  record = luma_api_wait_for_task (api, task_id, &params, note_polling_thread,
      shared, NULL, &error);
  if (record != NULL)
    g_atomic_int_inc (&shared->ready);
  else
    GST_WARNING ("%s: %s", task_id, error->message);
  return NULL;
}

static gboolean
threads_meet (GHashTable * a, GHashTable * b)
{
  GHashTableIter iter;
  gpointer thread;

  g_hash_table_iter_init (&iter, a);
  while (g_hash_table_iter_next (&iter, &thread, NULL))
    if (g_hash_table_contains (b, thread))
      return TRUE;
  return FALSE;
}

/* Many waits at once: every one polls to its end, the waiting threads are
 * never the ones that poll, and a few threads poll for all. */
GST_START_TEST (test_waits_share_a_few_polling_threads)
{
  SharedWaits shared = { 0 };
  GThread *threads[SHARED_WAITS];
  gint i;

  g_mutex_init (&shared.lock);
  shared.polled_from = g_hash_table_new (NULL, NULL);
  shared.waited_from = g_hash_table_new (NULL, NULL);
  for (i = 0; i < SHARED_WAITS; i++) {
    g_autofree gchar *task_id = g_strdup_printf ("t-shared-%d", i);
    LumaEmulatorTask task = {
      .task_id = task_id,
      .video = fixture.video,
      .generating_polls = 4,
      .final_flag = 1,
    };

    luma_emulator_add_task (fixture.em, &task);
  }
  for (i = 0; i < SHARED_WAITS; i++)
    threads[i] = g_thread_new ("waiter", wait_in_thread, &shared);
  for (i = 0; i < SHARED_WAITS; i++)
    g_thread_join (threads[i]);

  fail_unless_equals_int (g_atomic_int_get (&shared.ready), SHARED_WAITS);
  fail_unless_equals_int (g_hash_table_size (shared.waited_from), SHARED_WAITS);
  fail_if (threads_meet (shared.polled_from, shared.waited_from),
      "a waiting thread polled");
  fail_unless (g_hash_table_size (shared.polled_from) >= 1);
  /* under valgrind a poll may take longer than LUMA_WORKERS_STALLED_US,
   * and its thread no longer counts: fewer than one a wait, then */
  fail_unless (g_hash_table_size (shared.polled_from) <=
      (luma_test_slowdown () > 1 ? SHARED_WAITS - 1 : LUMA_WORKERS_MAX),
      "%u polling threads", g_hash_table_size (shared.polled_from));
  g_hash_table_unref (shared.polled_from);
  g_hash_table_unref (shared.waited_from);
  g_mutex_clear (&shared.lock);
}

GST_END_TEST;

typedef struct
{
  const gchar *url;
  GCancellable *cancellable;
  GError *error;
} StalledWait;

static gpointer
wait_on_stalled_server (gpointer user_data)
{
  StalledWait *wait = user_data;
  GstLumaRecord *record;

  record = wait_for (wait->url, 30, "t-stalled", 10, 0, 3, NULL,
      wait->cancellable, &wait->error);
  fail_unless (record == NULL);
  return NULL;
}

static void
start_stalled_waits (StalledWait * waits, GThread ** threads, guint count,
    const gchar * url)
{
  guint i;

  for (i = 0; i < count; i++) {
    waits[i].url = url;
    waits[i].cancellable = g_cancellable_new ();
    threads[i] = g_thread_new ("stalled", wait_on_stalled_server, &waits[i]);
  }
}

/* Cancelled, each stalled wait ends at once, in its request. */
static void
stop_stalled_waits (StalledWait * waits, GThread ** threads, guint count)
{
  gint64 before = g_get_monotonic_time ();
  guint i;

  for (i = 0; i < count; i++)
    g_cancellable_cancel (waits[i].cancellable);
  for (i = 0; i < count; i++) {
    g_thread_join (threads[i]);
    fail_unless (g_error_matches (waits[i].error, G_IO_ERROR,
            G_IO_ERROR_CANCELLED), "%s", waits[i].error->message);
    g_clear_error (&waits[i].error);
    g_object_unref (waits[i].cancellable);
  }
  fail_unless (g_get_monotonic_time () - before < SECONDS (2));
}

static gboolean
has_workers (gconstpointer count)
{
  return luma_workers_get_threads () >= GPOINTER_TO_UINT (count);
}

/* Until @count threads run steps (a test failure after 20 s). */
static void
wait_for_workers (guint count)
{
  luma_test_wait_until (has_workers, GUINT_TO_POINTER (count), 20);
  fail_unless_equals_int (luma_workers_get_threads (), count);
}

/* While @count waits are held by a server that never answers, another
 * wait is polled for and ends within a few seconds. */
static void
assert_free_wait_goes_on (guint count)
{
  BadServer *server = bad_server_start (BAD_SERVER_SILENT);
  g_autofree gchar *url = bad_server_get_url (server);
  LumaEmulatorTask task = {
    .task_id = "t-free",
    .video = fixture.video,
    .generating_polls = 2,
    .final_flag = 1,
  };
  g_autofree StalledWait *stalled = g_new0 (StalledWait, count);
  g_autofree GThread **threads = g_new0 (GThread *, count);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstLumaRecord) record = NULL;
  gint64 took;

  luma_emulator_add_task (fixture.em, &task);
  start_stalled_waits (stalled, threads, count, url);
  wait_for_workers (count);
  record = wait_for (NULL, 5, "t-free", 50, 10, 1, &took, NULL, &error);
  fail_unless (record != NULL, "%s", error ? error->message : "");
  fail_unless (took < SECONDS (4), "took %" G_GINT64_FORMAT " us", took);
  stop_stalled_waits (stalled, threads, count);
  bad_server_stop (server);
}

/* A server that never answers holds its own wait, not the others: while
 * one request hangs, another thread takes the polls that are due. */
GST_START_TEST (test_stalled_server_holds_no_other_wait)
{
  assert_free_wait_goes_on (1);
}

GST_END_TEST;

/* As many as threads may poll at once: threads held that long do not
 * count. */
GST_START_TEST (test_stalled_threads_do_not_count)
{
  assert_free_wait_goes_on (LUMA_WORKERS_MAX);
}

GST_END_TEST;

/* Every wait ends at its wait-timeout, even when every polling thread that
 * may be is held by a server that never answers and none could poll for
 * it. */
GST_START_TEST (test_wait_timeout_when_no_thread_is_free)
{
  BadServer *server = bad_server_start (BAD_SERVER_SILENT);
  g_autofree gchar *url = bad_server_get_url (server);
  LumaEmulatorTask task = {
    .task_id = "t-late",
    .video = fixture.video,
    .final_flag = 1,
  };
  StalledWait stalled[LUMA_WORKERS_LIMIT] = { {0}
  };
  GThread *threads[LUMA_WORKERS_LIMIT];
  g_autoptr (GError) error = NULL;
  GstLumaRecord *record;
  gint64 took;

  luma_emulator_add_task (fixture.em, &task);
  start_stalled_waits (stalled, threads, LUMA_WORKERS_LIMIT, url);
  /* a thread is added every 100 ms while polls wait for one */
  wait_for_workers (LUMA_WORKERS_LIMIT);
  g_usleep (200 * 1000);
  record = wait_for (NULL, 5, "t-late", 50, 1, 1, &took, NULL, &error);
  fail_unless (record == NULL);
  fail_unless (g_error_matches (error, LUMA_API_ERROR,
          LUMA_API_ERROR_TIMEOUT), "%s", error->message);
  assert_error_says (error, "after 1 seconds");
  assert_error_says (error, "no request could be sent");
  fail_unless (took < SECONDS (3), "took %" G_GINT64_FORMAT " us", took);
  stop_stalled_waits (stalled, threads, LUMA_WORKERS_LIMIT);
  bad_server_stop (server);
}

GST_END_TEST;

/* One session per process, use and settings: what a source asks for is the
 * session of any other source with the same settings, and never that of a
 * source whose settings differ; the API's is never the video's. */
GST_START_TEST (test_shared_session_per_settings)
{
  const LumaHttpUse api = LUMA_HTTP_FOR_API;
  LumaHttpConfig config = { "gst-luma-test", 5, NULL, TRUE };
  LumaHttpConfig slower = { "gst-luma-test", 6, NULL, TRUE };
  LumaHttpConfig lax = { "gst-luma-test", 5, NULL, FALSE };
  LumaHttpConfig other_agent = { "other", 5, NULL, TRUE };
  g_autoptr (SoupSession) first = luma_http_session_shared (&config, "x", api);
  g_autoptr (SoupSession) again = luma_http_session_shared (&config, "x", api);
  g_autoptr (SoupSession) other_proxy =
      luma_http_session_shared (&config, "y", api);
  g_autoptr (SoupSession) s2 = luma_http_session_shared (&slower, "x", api);
  g_autoptr (SoupSession) s3 = luma_http_session_shared (&lax, "x", api);
  g_autoptr (SoupSession) s4 = luma_http_session_shared (&other_agent, "x",
      api);
  g_autoptr (SoupSession) video = luma_http_session_shared (&config, "x",
      LUMA_HTTP_FOR_VIDEO);
  g_autoptr (SoupSession) video_again = luma_http_session_shared (&config,
      "x", LUMA_HTTP_FOR_VIDEO);

  fail_unless (first == again);
  fail_if (first == other_proxy);
  fail_if (first == s2);
  fail_if (first == s3);
  fail_if (first == s4);
  fail_if (first == video);
  fail_unless (video == video_again);
  fail_unless_equals_int (soup_session_get_timeout (s2), 6);
  fail_unless_equals_string (soup_session_get_user_agent (s4), "other");
  /* a paused clip keeps its connection: no bound may hold up the next */
  fail_unless_equals_int (soup_session_get_max_conns_per_host (video),
      G_MAXINT);
}

GST_END_TEST;

/* retries bounds "5xx and transport errors in a row" (lumaapi.h);
 * a maintenance answer (455) between two 502s (a load balancer that flaps
 * during the maintenance window) breaks the row: the wait must go on. */
GST_START_TEST (test_maintenance_between_server_errors)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstLumaRecord) record = NULL;
  guint i;

  luma_test_add_ready_task (fixture.em, "t-flap", fixture.video);
  for (i = 0; i < 5; i++) {
    luma_emulator_push_record_reply (fixture.em, "t-flap", 502, NULL,
        "text/html", "<html>Bad Gateway</html>");
    luma_emulator_push_record_reply (fixture.em, "t-flap", 200, NULL, NULL,
        "{\"code\":455,\"msg\":\"maintenance\"}");
  }
  record = wait_for (NULL, 5, "t-flap", 10, 60, 3, NULL, NULL, &error);
  fail_unless (record != NULL, "the wait ended during maintenance: %s",
      error ? error->message : "");
}

GST_END_TEST;

/* a 503 that says when to come back (Retry-After) is a
 * maintenance window, as lumastream.c treats it for the video host
 * (is_throttling ()): waited out within wait-timeout, not counted as a
 * failed attempt. */
GST_START_TEST (test_503_with_retry_after_is_waited_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstLumaRecord) record = NULL;
  guint i;

  luma_test_add_ready_task (fixture.em, "t-503", fixture.video);
  for (i = 0; i < 4; i++)
    luma_emulator_push_record_reply (fixture.em, "t-503", 503, "1",
        "text/html", "<html>Down for maintenance</html>");
  record = wait_for (NULL, 5, "t-503", 10, 60, 3, NULL, NULL, &error);
  fail_unless (record != NULL, "the wait ended during maintenance: %s",
      error ? error->message : "");
}

GST_END_TEST;

static Suite *
apiclient_suite (void)
{
  Suite *s = suite_create ("lumaapi");
  TCase *tc = tcase_create ("apiclient");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, luma_test_fixture_teardown);
  tcase_add_test (tc, test_https_to_http_redirect_refused);
  tcase_add_test (tc, test_retry_after_parsing);
  tcase_add_test (tc, test_retry_after_ignored_on_200);
  tcase_add_test (tc, test_retry_after_ignored_on_500);
  tcase_add_test (tc, test_record_of_another_task_refused);
  tcase_add_test (tc, test_response_of_another_task_refused);
  tcase_add_test (tc, test_retry_after_honoured_on_455_and_503);
  tcase_add_test (tc, test_retry_after_honoured_on_body_429);
  tcase_add_test (tc, test_huge_retry_after_waits_until_wait_timeout);
  tcase_add_test (tc, test_trickled_headers_cut_by_request_deadline);
  tcase_add_test (tc, test_wait_timeout_ends_a_poll_in_the_middle);
  tcase_add_test (tc, test_cancel_stops_a_trickling_request);
  tcase_add_test (tc, test_refused_connection_fails_fast);
  tcase_add_test (tc, test_unknown_host_fails_fast);
  tcase_add_test (tc, test_refusal_after_an_answer_is_ordinary_trouble);
  tcase_add_test (tc, test_gzip_answer_is_read);
  tcase_add_test (tc, test_key_echoed_json_escaped_not_in_error);
  tcase_add_test (tc, test_key_echoed_by_download_url_not_in_error);
  tcase_add_test (tc, test_key_echoed_in_a_header_not_in_error);
  tcase_add_test (tc, test_gzip_bomb_refused);
  tcase_add_test (tc, test_unknown_encoding_is_a_bad_answer);
  tcase_add_test (tc, test_large_5xx_page_is_retried);
  tcase_add_test (tc, test_401_from_other_host_says_key_was_not_sent);
  tcase_add_loop_test (tc, test_refusal_from_other_host_is_not_kie_s, 0,
      G_N_ELEMENTS (other_host_refusals));
  tcase_add_test (tc, test_polls_make_no_eventfd);
  tcase_add_test (tc, test_deadline_rearmed);
  tcase_add_test (tc, test_earlier_deadline_fires_first);
  tcase_add_test (tc, test_waits_share_a_few_polling_threads);
  tcase_add_test (tc, test_stalled_server_holds_no_other_wait);
  tcase_add_test (tc, test_stalled_threads_do_not_count);
  tcase_add_test (tc, test_wait_timeout_when_no_thread_is_free);
  tcase_add_test (tc, test_shared_session_per_settings);
  tcase_add_test (tc, test_maintenance_between_server_errors);
  tcase_add_test (tc, test_503_with_retry_after_is_waited_out);
  return s;
}

GST_CHECK_MAIN (apiclient);
