/* gst-luma: the KIE.AI Luma Modify API client (record-info polling)
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Polls record-info until the task is finished, and decides what each
 * answer means: keep waiting, wait longer (rate limit, maintenance, a server
 * error), or stop with an error that names the cause. The API key is only
 * ever sent to the API's own origin and never appears in an error text.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumaapi.h"
#include "lumacache.h"
#include "lumafile.h"
#include "lumahttp.h"
#include "lumarecord.h"
#include "lumatext.h"
#include "lumaworkers.h"

#include <glib/gi18n-lib.h>

#define RECORD_INFO_PATH "/api/v1/modify/record-info"

/* The first retries after a host could not be reached at all, before it
 * has ever answered: most likely a wrong api-url, which must be said within
 * seconds, not after backoffs that grow from the poll interval. */
#define UNREACHABLE_BACKOFF_BASE_MS 250

/* *INDENT-OFF* */
G_DEFINE_QUARK (luma-api-error-quark, luma_api_error);
/* *INDENT-ON* */

struct _LumaApi
{
  SoupSession *session;
  GUri *base;                   /* the API's base URL: no query, no trailing / */
  gchar *api_key;
  gchar *cache_scope;           /* the API and (a digest of) the key */
  gint last_code;
  guint last_http_status;
};

static GstLumaRecord *
cache_lookup (LumaApi * api, const gchar * task_id)
{
  return luma_cache_lookup (api->cache_scope, task_id, g_get_monotonic_time ());
}

static void
cache_store (LumaApi * api, const gchar * task_id, const GstLumaRecord * record)
{
  luma_cache_store (api->cache_scope, task_id, record, g_get_monotonic_time ());
}

void
luma_api_forget_task (LumaApi * api, const gchar * task_id)
{
  luma_cache_forget (api->cache_scope, task_id);
}

#define DOWNLOAD_URL_PATH "/api/v1/common/download-url"
/* download-url's answer is small: a link */
#define LINK_ANSWER_MAX_SIZE (64 * 1024)

GUri *
luma_api_endpoint (LumaApi * api, const gchar * path, const gchar * query)
{
  g_autofree gchar *full_path = g_strconcat (g_uri_get_path (api->base),
      path, NULL);

  return g_uri_build (G_URI_FLAGS_ENCODED_PATH | G_URI_FLAGS_ENCODED_QUERY,
      g_uri_get_scheme (api->base), NULL, g_uri_get_host (api->base),
      g_uri_get_port (api->base), full_path, query, NULL);
}

static GBytes *
link_request_body (const gchar * url)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  gchar *text;

  json_builder_begin_object (builder);
  luma_json_add_string (builder, "url", url);
  json_builder_end_object (builder);
  text = luma_json_to_text (builder);
  return g_bytes_new_take (text, strlen (text));
}

/* The answer's link, if it is one to stream: an http(s) URL. */
static gchar *
judge_link (const gchar * link, gint code, const gchar * msg,
    const gchar * host, GError ** error)
{
  g_autoptr (GUri) uri = NULL;

  if (code == 200 && link != NULL)
    uri = luma_http_parse_url (link, NULL);
  if (uri != NULL)
    return g_strdup (link);
  g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_REFUSED,
      _("KIE gave no fresh link to the video on %s (%d: %s)"), host, code,
      msg != NULL && msg[0] != '\0' ? msg : _("no message"));
  return NULL;
}

static gchar *
fresh_link (LumaApi * api, const gchar * url, GCancellable * cancellable,
    GError ** error)
{
  g_autoptr (GUri) uri = luma_api_endpoint (api, DOWNLOAD_URL_PATH, NULL);
  g_autoptr (GBytes) body = link_request_body (url);
  g_autoptr (LumaHttpDeadline) deadline = luma_http_deadline_new (cancellable,
      luma_http_request_deadline (api->session));
  LumaHttpRequest request = { "POST", uri, api->api_key, 0, TRUE, body, TRUE,
    NULL
  };
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (GUri) expired = luma_http_parse_url (url, NULL);
  g_autofree gchar *text = NULL;
  g_autofree gchar *link = NULL;
  gint code;

  stream = luma_http_send (api->session, &request, &msg,
      luma_http_deadline_get_cancellable (deadline), error);
  if (stream == NULL)
    return NULL;
  answer = luma_http_read_body (msg, stream, LINK_ANSWER_MAX_SIZE,
      soup_session_get_timeout (api->session),
      luma_http_deadline_get_cancellable (deadline), error);
  g_input_stream_close (stream, NULL, NULL);
  if (answer == NULL)
    return NULL;
  answer = luma_secret_hide (answer, api->api_key);
  luma_record_parse_link_answer (answer, soup_message_get_status (msg), &code,
      &text, &link);
  luma_secret_hide_in_text (link, api->api_key);
  return judge_link (link, code, text,
      expired != NULL ? g_uri_get_host (expired) : "?", error);
}

/* A fresh link to @url. The server's refusal may quote the key in a form
 * the raw answer did not show (a JSON escape, a header): starred out of the
 * error, which lumasrc logs. */
gchar *
luma_api_fresh_link (LumaApi * api, const gchar * url,
    GCancellable * cancellable, GError ** error)
{
  gchar *link = fresh_link (api, url, cancellable, error);

  if (link == NULL)
    luma_secret_hide_in_error (error, api->api_key);
  return link;
}

/* What one poll tells the wait loop to do next. */
typedef enum
{
  POLL_FINISHED,                /* the video is ready */
  POLL_GENERATING,              /* ask again after the poll interval */
  POLL_THROTTLED,               /* 429, 455: ask again later, for as long as the wait lasts */
  POLL_SERVER_TROUBLE,          /* 5xx, transport: ask again, a bounded number of times */
  POLL_UNREACHABLE,             /* no such host, nobody listening: the same */
  POLL_WAIT_OVER,               /* the wait's deadline came during the poll */
  POLL_FAILED,                  /* stop with the error */
} PollOutcome;

LumaApi *
luma_api_new (SoupSession * session, const gchar * api_url,
    const gchar * api_key, GError ** error)
{
  g_autoptr (GUri) base = luma_http_parse_base_url (api_url, "", error);
  LumaApi *api;
  g_autofree gchar *digest = NULL;
  g_autofree gchar *base_url = NULL;

  if (base == NULL)
    return NULL;

  api = g_new0 (LumaApi, 1);
  api->session = g_object_ref (session);
  api->base = g_steal_pointer (&base);
  api->api_key = g_strdup (api_key);
  digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
      api_key ? api_key : "", -1);
  base_url = g_uri_to_string (api->base);
  api->cache_scope = g_strconcat (base_url, "\n", digest, NULL);
  return api;
}

void
luma_api_free (LumaApi * api)
{
  if (api == NULL)
    return;
  g_object_unref (api->session);
  g_uri_unref (api->base);
  luma_secret_free (api->api_key);
  g_free (api->cache_scope);
  g_free (api);
}

SoupSession *
luma_api_get_session (LumaApi * api)
{
  return api->session;
}

GUri *
luma_api_get_base (LumaApi * api)
{
  return api->base;
}

const gchar *
luma_api_get_key (LumaApi * api)
{
  return api->api_key;
}

static GUri *
record_info_uri (LumaApi * api, const gchar * task_id)
{
  g_autofree gchar *escaped = g_uri_escape_string (task_id, NULL, FALSE);
  g_autofree gchar *query = g_strconcat ("taskId=", escaped, NULL);

  return luma_api_endpoint (api, RECORD_INFO_PATH, query);
}

/* What an error code of the API (in the body, or as the HTTP status) means. */
static PollOutcome
classify_code (gint code, const gchar * msg, const gchar * task_id,
    GError ** error)
{
  if (msg == NULL || msg[0] == '\0')
    msg = _("no message");

  switch (code) {
    case 401:
      g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_NOT_AUTHORIZED,
          _("KIE refused the API key (401: %s); set the api-key property or "
              "KIE_API_KEY"), msg);
      return POLL_FAILED;
    case 404:
      g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_NOT_FOUND,
          _("KIE does not know task %s (404: %s)"), task_id, msg);
      return POLL_FAILED;
    case 429:
    case 455:
      g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_UNAVAILABLE,
          code == 429 ? _("KIE is rate limiting requests (429: %s)")
          : _("KIE is under maintenance (455: %s)"), msg);
      return POLL_THROTTLED;
    case 501:
      g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_TASK_FAILED,
          _("Task %s failed to generate (501: %s)"), task_id, msg);
      return POLL_FAILED;
    case 402:
    case 422:
    case 433:
    case 505:
      break;
    default:
      if (code >= 500 && code <= 599) {
        g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_UNAVAILABLE,
            _("KIE's server failed (%d: %s)"), code, msg);
        return POLL_SERVER_TROUBLE;
      }
      break;
  }
  g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_REFUSED,
      _("KIE refused to give the record of task %s (%d: %s)"), task_id, code,
      msg);
  return POLL_FAILED;
}

static PollOutcome
classify_record (const GstLumaRecord * record, const gchar * task_id,
    GError ** error)
{
  /* the record of another task would be streamed, and stored, as this
   * one's video (a record without a task id is taken) */
  if (record->task_id != NULL && strcmp (record->task_id, task_id) != 0) {
    g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_BAD_ANSWER,
        _("KIE answered the request for task %s with the record of another "
            "task, %s"), task_id, record->task_id);
    return POLL_FAILED;
  }
  switch (record->state) {
    case GST_LUMA_TASK_STATE_SUCCESS:
    case GST_LUMA_TASK_STATE_CALLBACK_FAILED:
      return POLL_FINISHED;
    case GST_LUMA_TASK_STATE_GENERATING:
      return POLL_GENERATING;
    case GST_LUMA_TASK_STATE_CREATE_FAILED:
    case GST_LUMA_TASK_STATE_GENERATE_FAILED:
      g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_TASK_FAILED,
          record->state == GST_LUMA_TASK_STATE_CREATE_FAILED ?
          _("Task %s could not be created (error code %s: %s)") :
          _("Task %s failed to generate (error code %s: %s)"), task_id,
          record->error_code ? record->error_code : _("none"),
          record->error_message ? record->error_message : _("no message"));
      return POLL_FAILED;
    default:
      return classify_code (record->code, record->msg, task_id, error);
  }
}

/* An error status whose body is no answer of KIE's (a page, or one too
 * large to keep): the status tells what to do. But a 501 is KIE's
 * "generation failed" only in its own answer: a page's (a proxy's or a web
 * server's Not Implemented) is no verdict on the task, which a user told
 * it failed might create, and pay for, again. */
static PollOutcome
classify_error_page (guint status, const gchar * task_id, GError ** error)
{
  if (status == SOUP_STATUS_NOT_IMPLEMENTED) {
    g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_UNAVAILABLE,
        _("KIE's server failed (%d: %s)"), (gint) status,
        soup_status_get_phrase (status));
    return POLL_SERVER_TROUBLE;
  }
  return classify_code ((gint) status, soup_status_get_phrase (status),
      task_id, error);
}

/* A body that is not a record: what the HTTP status says, else why it
 * cannot be read. */
static PollOutcome
classify_unreadable (guint http_status, GError * parse_error,
    const gchar * task_id, GError ** error)
{
  if (!SOUP_STATUS_IS_SUCCESSFUL (http_status))
    return classify_error_page (http_status, task_id, error);

  g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_BAD_ANSWER,
      _("KIE's answer for task %s cannot be read: %s"), task_id,
      parse_error->message);
  return POLL_FAILED;
}

/* "host", or "host:port" when the URL names a port */
static gchar *
origin_text (GUri * uri)
{
  if (g_uri_get_port (uri) > 0)
    return g_strdup_printf ("%s:%d", g_uri_get_host (uri),
        g_uri_get_port (uri));
  return g_strdup (g_uri_get_host (uri));
}

static gboolean
is_refusal (const GError * error)
{
  return g_error_matches (error, LUMA_API_ERROR, LUMA_API_ERROR_NOT_AUTHORIZED)
      || g_error_matches (error, LUMA_API_ERROR, LUMA_API_ERROR_NOT_FOUND)
      || g_error_matches (error, LUMA_API_ERROR, LUMA_API_ERROR_REFUSED);
}

/* A refusal (401, 403, 404...) from another host than the API's, which a
 * redirect named (a proxy, a CDN), is no verdict of KIE's on the key or the
 * task: the key was never sent there (luma_http_send () keeps it to the
 * API's origin), and the host may not even be KIE's. It is said as that
 * host's answer: a 404 is no "unknown task" (NOT_FOUND, which a user takes
 * for a wrong task id), and its code is not the API's (api-code 0; the
 * HTTP status stays). */
static PollOutcome
explain_other_host (LumaApi * api, GUri * api_uri, const gchar * task_id,
    SoupMessage * msg, PollOutcome outcome, GError ** error)
{
  GUri *answered_by = soup_message_get_uri (msg);
  gint code = api->last_code != 0 ? api->last_code
      : (gint) api->last_http_status;
  g_autofree gchar *ours = NULL;
  g_autofree gchar *other = NULL;

  if (outcome != POLL_FAILED || !is_refusal (*error)
      || luma_http_same_origin (answered_by, api_uri))
    return outcome;
  ours = origin_text (api_uri);
  other = origin_text (answered_by);
  api->last_code = 0;
  g_clear_error (error);
  if (code == SOUP_STATUS_UNAUTHORIZED)
    g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_NOT_AUTHORIZED,
        _("The API at %s redirected to another host, %s, which refused the "
            "request (401): the API key was not sent to %s, as it only ever "
            "goes to %s"), ours, other, other, ours);
  else
    g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_REFUSED,
        _("The API at %s redirected the request for task %s to another "
            "host, %s, which answered %d: that is not KIE's word on the "
            "task, and the API key was not sent to %s, as it only ever goes "
            "to %s"), ours, task_id, other, code, other, ours);
  return outcome;
}

/* What an answer whose body could not be had for what it is (too large,
 * in an encoding that cannot be read) means. */
static PollOutcome
classify_unkept (LumaApi * api, guint status, const gchar * task_id,
    GError ** error)
{
  g_autoptr (GError) cause = g_steal_pointer (error);

  /* a server in trouble may send a long page: its status tells what to
   * do, not the page */
  if (!SOUP_STATUS_IS_SUCCESSFUL (status)) {
    /* a page's 501 is no "generation failed" (report ()) */
    api->last_code = status == SOUP_STATUS_NOT_IMPLEMENTED ? 0 : (gint) status;
    return classify_error_page (status, task_id, error);
  }
  if (g_error_matches (cause, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_ENCODING))
    g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_BAD_ANSWER,
        _("KIE's answer for task %s cannot be read: %s"), task_id,
        cause->message);
  else
    g_propagate_error (error, g_steal_pointer (&cause));
  return POLL_FAILED;
}

/* What every poll of one wait shares, made once per wait: the request's
 * URL, the cancellable of its requests with their deadline, the last
 * answer. */
typedef struct
{
  const gchar *task_id;
  GUri *uri;
  LumaHttpDeadline *deadline;   /* cancelled with the wait's cancellable */
  GBytes *last_body;            /* the last answer read, and its record */
  GstLumaRecord *last_record;
} LumaPoller;


static void
hide_secret_in_urls (gchar ** urls, const gchar * secret)
{
  for (; urls != NULL && *urls != NULL; urls++)
    luma_secret_hide_in_text (*urls, secret);
}

/* What the server quoted of the key in a form the raw answer did not
 * show (a JSON escape: "\u0074est-..."), starred out of every text of the
 * record, which reaches messages, tags, the store and the video host. */
static void
hide_secret_in_record (GstLumaRecord * record, const gchar * secret)
{
  luma_secret_hide_in_text (record->msg, secret);
  luma_secret_hide_in_text (record->task_id, secret);
  hide_secret_in_urls (record->result_urls, secret);
  hide_secret_in_urls (record->origin_urls, secret);
  luma_secret_hide_in_text (record->error_code, secret);
  luma_secret_hide_in_text (record->error_message, secret);
  luma_secret_hide_in_text (record->prompt, secret);
  luma_secret_hide_in_text (record->source_url, secret);
}

/* A result URL in which the key was starred out would be fetched, fail,
 * and be renewed, into a run that ends naming none of this. */
static gboolean
result_url_held_key (const GstLumaRecord * record, const gchar * secret)
{
  gchar **url;

  for (url = record->result_urls; url != NULL && *url != NULL; url++)
    if (luma_secret_was_hidden_in (*url, secret))
      return TRUE;
  return FALSE;
}

/* A task that generates answers the same bytes poll after poll: a body
 * read before is not parsed again (its record is a pure function of it). */
static GstLumaRecord *
parse_record (LumaPoller * poller, GBytes * body, GError ** error)
{
  GstLumaRecord *record;

  if (poller->last_body != NULL && g_bytes_equal (body, poller->last_body))
    return gst_luma_record_copy (poller->last_record);
  g_clear_pointer (&poller->last_body, g_bytes_unref);
  g_clear_pointer (&poller->last_record, gst_luma_record_free);
  record = gst_luma_record_parse (body, error);
  if (record != NULL) {
    poller->last_body = g_bytes_ref (body);
    poller->last_record = gst_luma_record_copy (record);
  }
  return record;
}

static PollOutcome
classify_answer (LumaApi * api, LumaPoller * poller, SoupMessage * msg,
    GInputStream * stream, GstLumaRecord ** record,
    GCancellable * cancellable, GError ** error)
{
  const gchar *task_id = poller->task_id;
  guint status = api->last_http_status = soup_message_get_status (msg);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) parse_error = NULL;

  /* no bound of its own on the body: the request's deadline (@cancellable)
   * is the one bound on the whole answer */
  body = luma_http_read_body (msg, stream, GST_LUMA_RECORD_MAX_SIZE, 0,
      cancellable, error);
  g_input_stream_close (stream, NULL, NULL);
  if (body != NULL)
    body = luma_secret_hide (body, api->api_key);
  if (body == NULL) {
    if (g_error_matches (*error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TOO_LARGE)
        || g_error_matches (*error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_ENCODING))
      return classify_unkept (api, status, task_id, error);
    /* a slow answer is server trouble like any other: retried */
    return POLL_SERVER_TROUBLE;
  }

  *record = parse_record (poller, body, &parse_error);
  if (*record == NULL)
    return classify_unreadable (status, parse_error, task_id, error);
  hide_secret_in_record (*record, api->api_key);
  if (result_url_held_key (*record, api->api_key)) {
    g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_BAD_ANSWER,
        _("KIE's record of task %s gives a result URL that holds the API "
            "key: it is not fetched"), task_id);
    return POLL_FAILED;
  }

  /* An HTTP error status wins over a body that claims success. */
  api->last_code = SOUP_STATUS_IS_SUCCESSFUL (status) ? (*record)->code
      : (gint) status;
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    return classify_code ((gint) status, (*record)->msg, task_id, error);
  return classify_record (*record, task_id, error);
}

/* The answer's outcome, and when to ask again where it says "later": a
 * 429 or 455, as the HTTP status or in the body of a 200 (KIE's usual
 * way), or a 503 that says when (a maintenance page), which is waited out
 * like them rather than counted as a failure. */
static PollOutcome
read_answer (LumaApi * api, LumaPoller * poller, SoupMessage * msg,
    GInputStream * stream, GstLumaRecord ** record, guint64 * retry_after,
    GCancellable * cancellable, GError ** error)
{
  PollOutcome outcome = classify_answer (api, poller, msg, stream, record,
      cancellable, error);
  gint code = api->last_code != 0 ? api->last_code
      : (gint) api->last_http_status;

  *retry_after = luma_http_retry_after (msg, code);
  if (outcome == POLL_SERVER_TROUBLE && code == SOUP_STATUS_SERVICE_UNAVAILABLE
      && *retry_after != LUMA_HTTP_RETRY_AFTER_NONE)
    return POLL_THROTTLED;
  if (outcome != POLL_THROTTLED && outcome != POLL_SERVER_TROUBLE)
    *retry_after = LUMA_HTTP_RETRY_AFTER_NONE;
  return outcome;
}

/* One record-info request, over by min(its own deadline, @wait_deadline)
 * whatever the server does, or at once when the wait is cancelled. */
static PollOutcome
poll_once (LumaApi * api, LumaPoller * poller, gint64 wait_deadline,
    GstLumaRecord ** record, guint64 * retry_after, GError ** error)
{
  GUri *uri = poller->uri;
  LumaHttpDeadline *deadline = poller->deadline;
  LumaHttpRequest request = { "GET", uri, api->api_key, 0, TRUE };
  guint timeout = soup_session_get_timeout (api->session);
  gint64 request_deadline = luma_http_request_deadline (api->session);
  GCancellable *request_cancellable =
      luma_http_deadline_get_cancellable (deadline);
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GInputStream) stream = NULL;
  gboolean unreachable = FALSE;
  PollOutcome outcome;

  luma_http_deadline_rearm (deadline, MIN (request_deadline, wait_deadline));
  api->last_code = 0;
  api->last_http_status = 0;
  stream = luma_http_send_full (api->session, &request, &msg, &unreachable,
      request_cancellable, error);
  if (stream != NULL) {
    outcome = read_answer (api, poller, msg, stream, record, retry_after,
        request_cancellable, error);
    if (outcome != POLL_SERVER_TROUBLE)
      return explain_other_host (api, uri, poller->task_id, msg, outcome,
          error);
  }

  /* a redirect refused once is refused again; a proxy that wants
   * credentials wants them again */
  if (g_error_matches (*error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_REDIRECT)
      || g_error_matches (*error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_PROXY_AUTH))
    return POLL_FAILED;
  if (!g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return unreachable ? POLL_UNREACHABLE : POLL_SERVER_TROUBLE;
  if (!luma_http_deadline_has_passed (deadline))
    return POLL_FAILED;         /* the caller cancelled */
  g_clear_error (error);
  if (wait_deadline <= request_deadline) {
    g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_TIMEOUT,
        _("no answer from %s yet"), g_uri_get_host (uri));
    return POLL_WAIT_OVER;
  }
  luma_http_set_deadline_error (error, g_uri_get_host (uri), timeout);
  return POLL_SERVER_TROUBLE;
}

static void
set_timeout_error (GError ** error, const gchar * task_id, guint seconds,
    GError * last_error)
{
  if (last_error != NULL)
    g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_TIMEOUT,
        _("Gave up waiting for task %s after %u seconds (%s). The task may "
            "still finish: run again with the same task id to resume"),
        task_id, seconds, last_error->message);
  else
    g_set_error (error, LUMA_API_ERROR, LUMA_API_ERROR_TIMEOUT,
        _("Task %s is still generating after %u seconds (wait-timeout). It "
            "goes on at KIE: run again with the same task id to resume"),
        task_id, seconds);
}

static gboolean
record_is_taken (PollOutcome outcome, const GError * poll_error)
{
  return outcome == POLL_FINISHED || outcome == POLL_GENERATING
      || (outcome == POLL_FAILED && g_error_matches (poll_error,
          LUMA_API_ERROR, LUMA_API_ERROR_TASK_FAILED));
}

static void
report (LumaApi * api, LumaWaitFunc on_poll, gpointer user_data,
    LumaWaitStatus * status, const GstLumaRecord * record, gint64 start)
{
  status->polls++;
  status->elapsed = (g_get_monotonic_time () - start) * 1000;
  status->record = record;
  status->api_code = api->last_code;
  status->http_status = api->last_http_status;
  if (record != NULL && record->code == 200)
    status->state = record->state;
  else if (api->last_code == 501)
    status->state = GST_LUMA_TASK_STATE_GENERATE_FAILED;
  if (on_poll != NULL)
    on_poll (status, user_data);
}

/* One wait, from its first poll to its end: what poll_until_over () kept
 * in its frame when it polled from the caller's thread, now carried from
 * one step (one poll, run by a shared thread: lumaworkers.c) to the next. */
typedef struct
{
  LumaApi *api;
  LumaPoller *poller;
  const LumaWaitParams *params;
  LumaWaitFunc on_poll;
  gpointer user_data;
  gint64 start;
  gint64 deadline;              /* of the whole wait; G_MAXINT64: none */
  LumaWaitStatus status;
  guint troubles_in_a_row, throttles_in_a_row;
  gboolean answered;            /* the API has given an answer in this wait */
  gboolean generating;          /* what the last answered poll said */
  GError *poll_error;           /* of the last poll, if it failed */
  /* the end: */
  GstLumaRecord *record;
  GError *error;
} LumaWait;

/* How long to wait before the next poll, after an outcome that calls for
 * one; FALSE (and the error set) when the retries are spent. */
static gboolean
next_delay (LumaWait * wait, PollOutcome outcome, guint64 * delay)
{
  const LumaWaitParams *params = wait->params;

  switch (outcome) {
    case POLL_GENERATING:
      wait->troubles_in_a_row = wait->throttles_in_a_row = 0;
      wait->generating = TRUE;
      if (params->resume != NULL)
        params->resume->generating = TRUE;
      *delay = params->poll_interval;
      return TRUE;
    case POLL_THROTTLED:
      /* the server answered: its failures are no longer in a row */
      wait->troubles_in_a_row = 0;
      *delay = luma_http_backoff (params->poll_interval,
          wait->throttles_in_a_row++);
      return TRUE;
    case POLL_SERVER_TROUBLE:
    case POLL_UNREACHABLE:
      if (wait->troubles_in_a_row++ >= params->retries) {
        g_set_error (&wait->error, LUMA_API_ERROR, LUMA_API_ERROR_UNAVAILABLE,
            g_dngettext (GETTEXT_PACKAGE,
                "Could not read the record of task %s after %u attempt: %s",
                "Could not read the record of task %s after %u attempts: %s",
                wait->troubles_in_a_row), wait->status.task_id,
            wait->troubles_in_a_row, wait->poll_error->message);
        return FALSE;
      }
      *delay = luma_http_backoff (params->poll_interval,
          wait->troubles_in_a_row - 1);
      /* once the host has answered, the URL is right: a refusal is then
       * passing trouble (a restart), waited out like any other */
      if (outcome == POLL_UNREACHABLE && !wait->answered)
        *delay = MIN (*delay, luma_http_backoff (UNREACHABLE_BACKOFF_BASE_MS,
                wait->troubles_in_a_row - 1));
      return TRUE;
    default:
      g_assert_not_reached ();
  }
}

static void
wait_timed_out (LumaWait * wait, GError * last_error)
{
  set_timeout_error (&wait->error, wait->status.task_id,
      wait->params->wait_timeout, last_error);
}

/* One poll of the wait and what it calls for (see LumaStepFunc): TRUE when
 * the task is over (wait->record), the wait is, or an error ends it
 * (wait->error). */
static gboolean
wait_step (gpointer data, gint64 * next_due)
{
  LumaWait *wait = data;
  LumaApi *api = wait->api;
  g_autoptr (GstLumaRecord) record = NULL;
  guint64 retry_after = LUMA_HTTP_RETRY_AFTER_NONE, delay;
  gint64 left;
  PollOutcome outcome;

  /* the sleep before this poll ran to the end of the wait: over, without
   * a request that would have no time left */
  if (wait->status.polls > 0 && g_get_monotonic_time () >= wait->deadline) {
    wait_timed_out (wait, wait->poll_error);
    return TRUE;
  }
  g_clear_error (&wait->poll_error);
  outcome = poll_once (api, wait->poller, wait->deadline, &record,
      &retry_after, &wait->poll_error);
  wait->answered |= api->last_http_status != 0;

  /* a record the wait refused (another task's, one an HTTP error came
   * with) says nothing of this task */
  report (api, wait->on_poll, wait->user_data, &wait->status,
      record_is_taken (outcome, wait->poll_error) ? record : NULL, wait->start);
  if (outcome == POLL_FINISHED) {
    cache_store (api, wait->status.task_id, record);
    wait->record = g_steal_pointer (&record);
    return TRUE;
  }
  if (outcome == POLL_FAILED) {
    wait->error = g_steal_pointer (&wait->poll_error);
    return TRUE;
  }
  if (outcome == POLL_WAIT_OVER) {
    /* cut by our own deadline after the task was seen generating: that
     * is what is known, not a server that failed to answer */
    wait_timed_out (wait, wait->generating ? NULL : wait->poll_error);
    return TRUE;
  }
  if (!next_delay (wait, outcome, &delay))
    return TRUE;
  /* never sooner than the server asked; never sooner than our own
   * schedule either, which a Retry-After of 0 would turn into a flood */
  if (retry_after != LUMA_HTTP_RETRY_AFTER_NONE)
    delay = MAX (delay, retry_after);

  /* never past the end of the wait: it ends at wait-timeout, whatever
   * the server asked for */
  left = wait->deadline - g_get_monotonic_time ();
  if (left <= 0) {
    wait_timed_out (wait, wait->poll_error);
    return TRUE;
  }
  *next_due = g_get_monotonic_time () +
      (gint64) MIN (delay, (guint64) left / 1000 + 1) * 1000;
  if (wait->params->resume != NULL)
    wait->params->resume->next_due = *next_due;
  if (outcome == POLL_GENERATING && wait->params->until_generating) {
    g_set_error (&wait->error, LUMA_API_ERROR, LUMA_API_ERROR_GENERATING,
        _("Task %s is generating"), wait->status.task_id);
    return TRUE;
  }
  return FALSE;
}

/* The wait itself: polls until the task is over, the wait is, or an
 * error ends it (see luma_api_wait_for_task ()). The polls run in the
 * shared threads; this thread sleeps until the end. */
static GstLumaRecord *
poll_until_over (LumaApi * api, LumaPoller * poller,
    const LumaWaitParams * params, LumaWaitFunc on_poll, gpointer user_data,
    GCancellable * cancellable, GError ** error)
{
  LumaWaitResume *resume = params->resume;
  gint64 start = resume != NULL && resume->start > 0 ? resume->start
      : g_get_monotonic_time ();
  LumaWait wait = { api, poller, params, on_poll, user_data, start,
    luma_http_time_after (start, params->wait_timeout),
    {poller->task_id, GST_LUMA_TASK_STATE_WAITING, 0, 0, NULL, 0, 0}
  };

  if (resume != NULL) {
    resume->start = start;
    /* what the wait a flush cut short saw of the task */
    wait.generating = resume->generating;
  }
  if (luma_workers_run_steps_from (wait_step, &wait,
          resume != NULL ? resume->next_due : G_MININT64, wait.deadline,
          cancellable)) {
    g_clear_error (&wait.poll_error);
    if (wait.error != NULL)
      g_propagate_error (error, wait.error);
    return wait.record;
  }
  /* no step ran at the end: cancelled, or at the wait's deadline while
   * the shared threads were all held by slow answers */
  if (wait.status.polls == 0 && wait.poll_error == NULL && !wait.generating)
    g_set_error (&wait.poll_error, LUMA_API_ERROR, LUMA_API_ERROR_TIMEOUT,
        _("no request could be sent: every polling thread was held by "
            "servers that are slow to answer"));
  if (!g_cancellable_set_error_if_cancelled (cancellable, error))
    set_timeout_error (error, poller->task_id, params->wait_timeout,
        wait.poll_error);
  g_clear_error (&wait.poll_error);
  return NULL;
}

/**
 * luma_api_wait_for_task:
 * @on_poll: (nullable): called after each record-info request, from one of
 *   the shared threads that poll (lumaworkers.c) while the caller's thread
 *   sleeps, or from the caller's thread for a record this process has
 *   already seen finished; never after this function has returned
 *
 * Gives the record of a task this process has already seen finished, unless
 * @params->fresh. Otherwise polls the task's record at once, then every
 * poll interval, until the task
 * is finished (the record is returned), has failed, or the wait has lasted
 * longer than its timeout (even in the middle of a request). Rate limits
 * and maintenance are waited out (honouring Retry-After); server and network
 * errors are retried with a growing backoff, up to @params->retries times in
 * a row. With @params->until_generating, the wait is over at the first
 * answer that says the task generates (%LUMA_API_ERROR_GENERATING), its
 * @params->resume ready for the caller to wait on.
 */
GstLumaRecord *
luma_api_wait_for_task (LumaApi * api, const gchar * task_id,
    const LumaWaitParams * params, LumaWaitFunc on_poll, gpointer user_data,
    GCancellable * cancellable, GError ** error)
{
  GstLumaRecord *cached;
  g_autoptr (GUri) uri = NULL;
  g_autoptr (LumaHttpDeadline) deadline = NULL;
  LumaPoller poller = { task_id };
  GPollFD request_fd;
  GstLumaRecord *record;

  g_return_val_if_fail (!params->until_generating || params->resume != NULL,
      NULL);
  cached = params->fresh ? NULL : cache_lookup (api, task_id);
  if (cached != NULL) {
    LumaWaitStatus status = { task_id, cached->state, 0, 0, cached, 0, 0 };

    if (on_poll != NULL)
      on_poll (&status, user_data);
    return cached;
  }

  uri = record_info_uri (api, task_id);
  deadline = luma_http_deadline_new (cancellable, G_MAXINT64);
  poller.uri = uri;
  poller.deadline = deadline;
  /* GIO makes a cancellable's file descriptor (an eventfd) when a socket
   * waits on it, and closes it when the wait is over: held here, the
   * requests' one is made once, not at every poll. */
  g_cancellable_make_pollfd (luma_http_deadline_get_cancellable (deadline),
      &request_fd);
  record = poll_until_over (api, &poller, params, on_poll, user_data,
      cancellable, error);
  g_cancellable_release_fd (luma_http_deadline_get_cancellable (deadline));
  g_clear_pointer (&poller.last_body, g_bytes_unref);
  g_clear_pointer (&poller.last_record, gst_luma_record_free);
  /* what the server said may quote the key in a form the raw answer did
   * not (a JSON escape, a header) */
  if (record == NULL)
    luma_secret_hide_in_error (error, api->api_key);
  return record;
}
