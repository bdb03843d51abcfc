/* gst-luma: creating a Luma Modify task (POST /api/v1/modify/generate)
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One POST, sent once: every task KIE creates is billed, there is no
 * idempotency key and no cancel. So a request is never repeated unless an
 * answer said that nothing was created (429: rate limited), a redirect is
 * not followed, and every failure tells the caller whether a task may exist
 * (the journal keeps that), besides why.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumacreate.h"
#include "lumafile.h"
#include "lumahttp.h"
#include "lumarecord.h"
#include "lumasettings.h"
#include "lumatext.h"
#include "lumauri.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#define GENERATE_PATH "/api/v1/modify/generate"
/* KIE allows about 20 creations per 10 s per account: a 429 is waited out
 * from 10 s on, doubling, within the caller's wait. */
#define RATE_LIMIT_BACKOFF_MS 10000
/* A POST that never left (no connection): as a poll before the API has
 * answered, a few quick tries (a restart, a network blip), not backoffs
 * that keep a wrong api-url unsaid for long */
#define UNSENT_BACKOFF_MS 250
#define ANSWER_MAX_SIZE (64 * 1024)

/* *INDENT-OFF* */
G_DEFINE_QUARK (luma-create-error-quark, luma_create_error);
/* *INDENT-ON* */

static GBytes *
build_body (const LumaCreateRequest * request)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  gsize length;
  gchar *text;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "prompt");
  json_builder_add_string_value (builder, request->prompt);
  json_builder_set_member_name (builder, "videoUrl");
  json_builder_add_string_value (builder, request->video_url);
  if (request->callback_url != NULL) {
    json_builder_set_member_name (builder, "callBackUrl");
    json_builder_add_string_value (builder, request->callback_url);
  }
  /* "" is no watermark to KIE (its record keeps "waterMark":"" then) */
  if (luma_settings_non_empty (request->watermark) != NULL) {
    json_builder_set_member_name (builder, "watermark");
    json_builder_add_string_value (builder, request->watermark);
  }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, &length);
  return g_bytes_new_take (text, length);
}

static GUri *
generate_uri (LumaApi * api)
{
  return luma_api_endpoint (api, GENERATE_PATH, NULL);
}

static LumaCreateOutcome
set_code_error (gint code, const gchar * msg, GError ** error)
{
  if (msg == NULL || msg[0] == '\0')
    msg = _("no message");

  switch (code) {
    case 401:
      g_set_error (error, LUMA_CREATE_ERROR, LUMA_CREATE_ERROR_NOT_AUTHORIZED,
          _("KIE refused the API key (401: %s); no task was created"), msg);
      return LUMA_CREATE_NOTHING;
    case 402:
      g_set_error (error, LUMA_CREATE_ERROR, LUMA_CREATE_ERROR_NO_CREDITS,
          _("KIE refused to create the task: no credits left (402: %s)"), msg);
      return LUMA_CREATE_NOTHING;
    case 422:
      g_set_error (error, LUMA_CREATE_ERROR, LUMA_CREATE_ERROR_INPUT_REFUSED,
          _("KIE refused the input (422: %s): the video must be an MP4, MOV "
              "or AVI of at most 10 s and 500 MB at a public URL, and the "
              "prompt in English"), msg);
      return LUMA_CREATE_NOTHING;
    case 433:
      g_set_error (error, LUMA_CREATE_ERROR, LUMA_CREATE_ERROR_REFUSED,
          _("KIE refused to create the task: a usage limit of this key was "
              "reached (433: %s)"), msg);
      return LUMA_CREATE_NOTHING;
    case 455:
      g_set_error (error, LUMA_CREATE_ERROR, LUMA_CREATE_ERROR_UNAVAILABLE,
          _("KIE is under maintenance (455: %s): no task was created, try "
              "again later"), msg);
      return LUMA_CREATE_NOTHING;
    case 505:
      g_set_error (error, LUMA_CREATE_ERROR, LUMA_CREATE_ERROR_REFUSED,
          _("Video modification is disabled for this account (505: %s)"), msg);
      return LUMA_CREATE_NOTHING;
    case 501:
      g_set_error (error, LUMA_CREATE_ERROR, LUMA_CREATE_ERROR_REFUSED,
          _("KIE could not generate the video (501: %s)"), msg);
      return LUMA_CREATE_NOTHING;
    default:
      break;
  }
  if (code >= 500) {
    /* a server that failed after reading the request may have created the
     * task before failing: only the record can tell */
    g_set_error (error, LUMA_CREATE_ERROR, LUMA_CREATE_ERROR_UNKNOWN_OUTCOME,
        _("KIE's server failed while creating the task (%d: %s): a billed "
            "task may exist"), code, msg);
    return LUMA_CREATE_MAYBE;
  }
  g_set_error (error, LUMA_CREATE_ERROR, LUMA_CREATE_ERROR_REFUSED,
      _("KIE refused to create the task (%d: %s)"), code, msg);
  return LUMA_CREATE_NOTHING;
}

/* One POST. Returns the task id, or NULL with @result saying what KIE may
 * have done. */
static gchar *
post_once (LumaApi * api, GBytes * body, LumaCreateResult * result,
    guint64 * retry_after, GCancellable * cancellable, GError ** error)
{
  g_autoptr (GUri) uri = generate_uri (api);
  SoupSession *session = luma_api_get_session (api);
  g_autoptr (LumaHttpDeadline) deadline = luma_http_deadline_new (cancellable,
      luma_http_request_deadline (session));
  GCancellable *request_cancellable =
      luma_http_deadline_get_cancellable (deadline);
  gboolean sent = FALSE;
  LumaHttpRequest request = { "POST", uri, luma_api_get_key (api), 0, TRUE,
    body, TRUE, &sent
  };
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (GBytes) answer = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *task_id = NULL;
  g_autoptr (GError) cause = NULL;
  gint code = 0;

  stream = luma_http_send (session, &request, &msg, request_cancellable,
      &cause);
  if (stream != NULL) {
    result->http_status = soup_message_get_status (msg);
    answer = luma_http_read_body (msg, stream, ANSWER_MAX_SIZE,
        soup_session_get_timeout (session), request_cancellable, &cause);
    g_input_stream_close (stream, NULL, NULL);
    if (answer != NULL)
      answer = luma_secret_hide (answer, request.bearer);
  }
  if (answer == NULL && luma_http_deadline_has_passed (deadline)) {
    /* a server that trickles its answer: over, like a silence */
    g_clear_error (&cause);
    luma_http_set_deadline_error (&cause, g_uri_get_host (uri),
        soup_session_get_timeout (session));
  }
  /* a proxy that wants credentials answered: the request went no further
   * than the proxy, whatever of it was written */
  if (g_error_matches (cause, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_PROXY_AUTH))
    sent = FALSE;
  if (answer == NULL) {
    /* no answer: if the request went out, KIE may have created the task */
    result->outcome = sent ? LUMA_CREATE_MAYBE : LUMA_CREATE_NOTHING;
    if (!sent || g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_propagate_error (error, g_steal_pointer (&cause));
    else
      g_set_error (error, LUMA_CREATE_ERROR,
          LUMA_CREATE_ERROR_UNKNOWN_OUTCOME,
          _("The request to create the task was sent, but no answer came "
              "(%s): a billed task may exist"), cause->message);
    return NULL;
  }

  /* a task id that is the key in a form the raw answer did not show (a
   * JSON escape) is no task id: it would be on the bus */
  if (luma_record_parse_create_answer (answer, result->http_status, &code,
          &text, &task_id)
      && code == 200 && luma_task_id_check (task_id, NULL)
      && !luma_secret_hide_in_text (task_id, request.bearer)) {
    result->api_code = code;
    result->outcome = LUMA_CREATE_CREATED;
    return g_steal_pointer (&task_id);
  }
  /* KIE's message may quote the key in a form the raw answer did not (a
   * JSON escape): hidden before the error, a message or the log has it */
  luma_secret_hide_in_text (text, request.bearer);
  result->api_code = code;
  if (code == 429) {
    /* as the HTTP status or in the body of a 200 */
    *retry_after = luma_http_retry_after (msg, code);
    result->outcome = LUMA_CREATE_NOTHING;
    g_set_error (error, LUMA_CREATE_ERROR, LUMA_CREATE_ERROR_UNAVAILABLE,
        _("KIE is rate limiting task creation (429: %s)"),
        text ? text : _("no message"));
    return NULL;
  }
  /* a success without a usable task id (200), a success of another kind
   * (201, 202, 3xx: none of KIE's) or an answer that cannot be read (0):
   * no refusal, and something was created, maybe */
  if (code >= 0 && code < 400) {
    result->outcome = LUMA_CREATE_MAYBE;
    g_set_error (error, LUMA_CREATE_ERROR, LUMA_CREATE_ERROR_BAD_ANSWER,
        _("KIE's answer to creating the task cannot be read (HTTP %u): a "
            "billed task may exist"), result->http_status);
    return NULL;
  }
  /* maintenance created nothing either: waited out as a 429 is */
  if (code == 455)
    *retry_after = luma_http_retry_after (msg, code);
  result->outcome = set_code_error (code, text, error);
  return NULL;
}

/* A request that could not be sent at all: no connection to the API (a
 * proxy that wants credentials is no passing trouble). Nothing reached
 * KIE, so nothing was created, and trying again costs nothing. */
static gboolean
never_left (const LumaCreateResult * result, const GError * cause)
{
  return result->outcome == LUMA_CREATE_NOTHING
      && g_error_matches (cause, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TRANSPORT);
}

static void
set_unsent_error (GError ** error, guint attempts, const GError * cause)
{
  g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TRANSPORT,
      g_dngettext (GETTEXT_PACKAGE,
          "Could not send the request to create the task (%u attempt), so "
          "no task was created: %s",
          "Could not send the request to create the task (%u attempts), so "
          "no task was created: %s", attempts), attempts, cause->message);
}

/**
 * luma_create_task:
 * @wait_seconds: how long rate limiting (429) and maintenance (455) may be
 *   waited out, 0: forever
 * @retries: how many times a request that could not be sent at all (no
 *   connection) is tried again
 * @result: (out caller-allocates): what the last request did, and said
 *
 * Creates a task. Only what creates nothing is tried again: a 429 or a
 * 455, and a request that never left.
 *
 * Returns: (transfer full): the new task's id, or %NULL
 */
gchar *
luma_create_task (LumaApi * api, const LumaCreateRequest * request,
    guint wait_seconds, guint retries, LumaCreateResult * result,
    GCancellable * cancellable, GError ** error)
{
  g_autoptr (GBytes) body = build_body (request);
  gint64 deadline = luma_http_time_after (g_get_monotonic_time (),
      wait_seconds);
  guint attempt, unsent = 0;

  for (attempt = 0;; attempt++) {
    g_autoptr (GError) cause = NULL;
    guint64 retry_after = G_MAXUINT64, delay;
    gchar *task_id;

    *result = (LumaCreateResult) {
    LUMA_CREATE_NOTHING, 0, 0};
    task_id = post_once (api, body, result, &retry_after, cancellable, &cause);
    if (task_id != NULL)
      return task_id;
    if (never_left (result, cause)) {
      if (unsent++ >= retries) {
        set_unsent_error (error, unsent, cause);
        return NULL;
      }
      if (!luma_http_sleep (luma_http_backoff (UNSENT_BACKOFF_MS, unsent - 1),
              cancellable, error))
        return NULL;
      continue;
    }
    if (result->api_code != 429 && result->api_code != 455) {
      g_propagate_error (error, g_steal_pointer (&cause));
      return NULL;
    }

    /* the server's word, but never a flood of POSTs */
    delay = luma_http_backoff (RATE_LIMIT_BACKOFF_MS, attempt);
    if (retry_after != G_MAXUINT64)
      delay = MAX (retry_after, 1000);
    if (!luma_http_wait_fits (deadline, delay)) {
      if (result->api_code == 455)
        g_set_error (error, LUMA_CREATE_ERROR, LUMA_CREATE_ERROR_UNAVAILABLE,
            _("KIE stayed under maintenance (455) beyond the wait allowed "
                "(%u s): no task was created"), wait_seconds);
      else
        g_set_error (error, LUMA_CREATE_ERROR, LUMA_CREATE_ERROR_UNAVAILABLE,
            _("KIE kept rate limiting task creation (429) beyond the wait "
                "allowed (%u s): no task was created"), wait_seconds);
      return NULL;
    }
    if (!luma_http_sleep (delay, cancellable, error))
      return NULL;
  }
}

/* One POST under the journal's claim, which ends as what the POST did:
 * committed with the task id, aborted when nothing was created, abandoned
 * when a billed task may exist (the next run then says so). */
static gchar *
create_under_claim (LumaApi * api, const LumaCreateRequest * request,
    const LumaCreateJournal * journal, LumaJournalClaim * claim,
    guint wait_seconds, guint retries, LumaCreateResult * result,
    GError ** journal_warning, GCancellable * cancellable, GError ** error)
{
  LumaCreateRequest with_url = *request;
  g_autofree gchar *video_url = NULL;
  gchar *id;

  if (journal->get_video_url != NULL) {
    video_url = journal->get_video_url (journal->user_data, cancellable, error);
    if (video_url == NULL) {
      luma_journal_abort (claim);
      return NULL;
    }
    with_url.video_url = video_url;
  }
  if (!luma_journal_send (claim, error)) {
    luma_journal_abort (claim);
    return NULL;
  }
  id = luma_create_task (api, &with_url, wait_seconds, retries, result,
      cancellable, error);
  if (id == NULL) {
    if (result->outcome == LUMA_CREATE_MAYBE)
      luma_journal_abandon (claim);
    else
      luma_journal_abort (claim);
    return NULL;
  }
  /* the task exists and is billed: it is used even if the journal failed */
  luma_journal_commit (claim, id, journal_warning);
  return id;
}

static void
set_journal_busy_error (GError ** error, const gchar * dir, guint seconds)
{
  g_autofree gchar *display = g_filename_display_name (dir);

  g_clear_error (error);
  g_set_error (error, LUMA_JOURNAL_ERROR, LUMA_JOURNAL_ERROR_BUSY,
      _("Another process or element held this request's journal entry (in "
          "%s) for all of the wait allowed (%u s): it is creating the same "
          "task, or it is stalled. No task was created"), display, seconds);
}

/* force-new forgets what the journal had before this element's run, once:
 * what this run's own attempt left there (a request sent, its answer cut
 * off by a flush) is kept, and said, never sent again. */
static gboolean
forget_once (LumaCreateJournal * journal, const gchar * key,
    GCancellable * cancellable, GError ** error)
{
  if (!luma_journal_forget (journal->dir, key, cancellable, error))
    return FALSE;
  journal->force_new = FALSE;
  return TRUE;
}

/**
 * luma_create_task_once:
 * @reused: (out): the task was created before, by the same request
 * @journal_warning: (out): set when the task was created but the journal
 *   could not record it
 *
 * The task of this request: the one the journal has (created before, by
 * this or another process, which may still be creating it: then this
 * waits), or a new one, created once.
 */
gchar *
luma_create_task_once (LumaApi * api, const LumaCreateRequest * request,
    LumaCreateJournal * journal, guint wait_seconds, guint retries,
    LumaCreateResult * result, gboolean * reused, GError ** journal_warning,
    GCancellable * cancellable, GError ** error)
{
  /* a watermark unset and one set to "" are the same request to KIE: one
   * key, or the second would be created and billed again */
  const gchar *watermark = luma_settings_non_empty (request->watermark);
  g_autofree gchar *key = luma_journal_key (journal->api_url,
      luma_api_get_key (api), journal->input, request->prompt, watermark);
  LumaJournalRequest what = { journal->api_url, journal->input,
    request->prompt, watermark
  };
  LumaJournalClaim *claim = NULL;
  gchar *id = NULL;
  g_autoptr (LumaHttpDeadline) journal_wait = luma_http_deadline_new
      (cancellable, luma_http_time_after (g_get_monotonic_time (),
          wait_seconds));
  GCancellable *journal_cancellable =
      luma_http_deadline_get_cancellable (journal_wait);

  *result = (LumaCreateResult) {
  LUMA_CREATE_NOTHING, 0, 0};
  *reused = FALSE;
  /* another process or element holds the entry while it creates this
   * very task (then this waits for its answer), or it is stalled: the
   * wait for it is a wait for the task, bounded the same */
  if ((journal->force_new && !forget_once (journal, key, journal_cancellable,
              error))
      || !luma_journal_begin (journal->dir, key, &what, journal->on_held,
          journal->user_data, journal_cancellable, &claim, &id, error)) {
    /* a request sent, its answer never recorded; or a task recorded in
     * an entry that cannot be read: either may be a billed task */
    if (g_error_matches (*error, LUMA_JOURNAL_ERROR,
            LUMA_JOURNAL_ERROR_CREATING_LEFT)
        || g_error_matches (*error, LUMA_JOURNAL_ERROR,
            LUMA_JOURNAL_ERROR_CORRUPT))
      result->outcome = LUMA_CREATE_MAYBE;
    /* what ended the wait: unless it found a task that may exist (the
     * busy error says none was created) */
    else if (luma_http_deadline_has_passed (journal_wait))
      set_journal_busy_error (error, journal->dir, wait_seconds);
    return NULL;
  }
  if (id != NULL) {
    *reused = TRUE;
    return id;
  }
  return create_under_claim (api, request, journal, claim, wait_seconds,
      retries, result, journal_warning, cancellable, error);
}
