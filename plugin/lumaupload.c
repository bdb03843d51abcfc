/* gst-luma: a local file to a public URL through KIE's File Upload API
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * POST {upload}/api/file-stream-upload with a multipart/form-data body
 * (uploadPath, fileName, file) and the API key, and read the downloadUrl
 * of the answer: the public URL that generate is given.
 *
 * The clip can be 500 MB: the body is streamed from the file, never held in
 * memory. libsoup 3 builds multipart bodies only in memory
 * (soup_multipart_to_message() gives one GBytes), so the body here is a
 * stream of three pieces: the framing libsoup writes for the form with an
 * empty file part, cut where the file's bytes belong, then the file, then
 * the closing delimiter. The boundary, the part headers and their quoting
 * stay libsoup's; only the cut is ours, and it is checked.
 *
 * The API key goes in this one request to the upload host, which is never
 * redirected (a redirect would have to carry the body and the key
 * elsewhere), and never into an error text.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumaupload.h"
#include "lumafile.h"
#include "lumahttp.h"
#include "lumarecord.h"
#include "lumatext.h"

#include <inttypes.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#define UPLOAD_PATH "/api/file-stream-upload"
#define ANSWER_MAX_SIZE (1024 * 1024)

/* 5xx and transport errors: attempts after the first, 1 s, 2 s, 4 s apart */
#define SERVER_RETRIES 3
#define SERVER_BACKOFF_MS 1000
/* 429 and 455 (nothing was stored): waits in all, 5 s, 10 s ... apart
 * unless Retry-After says otherwise, and never longer than 10 min each */
#define THROTTLE_BACKOFF_MS 5000
#define RETRY_AFTER_MIN_MS 250

#define FILE_READ_SIZE (64 * 1024)
#define PROGRESS_INTERVAL_US (100 * G_TIME_SPAN_MILLISECOND)

/* *INDENT-OFF* */
G_DEFINE_QUARK (luma-upload-error-quark, luma_upload_error);
/* *INDENT-ON* */

/* ------------------------------------------------------------------------
 * The request body: head (framing), the file, tail (framing)
 * ------------------------------------------------------------------------ */

#define LUMA_TYPE_UPLOAD_STREAM (luma_upload_stream_get_type ())
G_DECLARE_FINAL_TYPE (LumaUploadStream, luma_upload_stream, LUMA,
    UPLOAD_STREAM, GInputStream);

struct _LumaUploadStream
{
  GInputStream parent;

  GBytes *head;
  GInputStream *file;
  guint64 file_size;
  GBytes *tail;
  gchar *file_name;             /* for messages: the user's path, made safe */

  guint64 position;
  guint64 total;
  /* why reading the file failed (not the network): kept, because libsoup
   * gives back only its own error */
  GError *file_error;

  LumaUploadProgress progress;
  gpointer user_data;
  gint64 last_report;           /* monotonic, us */
};

G_DEFINE_TYPE (LumaUploadStream, luma_upload_stream, G_TYPE_INPUT_STREAM);

static void
report_progress (LumaUploadStream * self)
{
  gint64 now;

  if (self->progress == NULL)
    return;
  now = g_get_monotonic_time ();
  if (self->position < self->total
      && now - self->last_report < PROGRESS_INTERVAL_US)
    return;
  self->last_report = now;
  self->progress (self->position, self->total, self->user_data);
}

/* Copies what is left of @bytes from @offset. */
static gssize
read_from_bytes (GBytes * bytes, guint64 offset, void *buffer, gsize count)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  gsize n = MIN (count, size - offset);

  memcpy (buffer, data + offset, n);
  return n;
}

static void
set_file_error (LumaUploadStream * self, GError ** error, GError * cause,
    const gchar * format)
{
  g_clear_error (&self->file_error);
  if (cause != NULL)
    g_set_error (&self->file_error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_FILE,
        format, self->file_name, cause->message);
  else
    g_set_error (&self->file_error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_FILE,
        format, self->file_name);
  g_propagate_error (error, g_error_copy (self->file_error));
}

/* A file that changes while it is sent would not match the Content-Length
 * given: a shorter one is an error, and so is a longer one, rather than a
 * clip cut short without a word. */
static gssize
read_from_file (LumaUploadStream * self, void *buffer, gsize count,
    GCancellable * cancellable, GError ** error)
{
  guint64 offset = self->position - g_bytes_get_size (self->head);
  guint64 left = self->file_size - offset;
  g_autoptr (GError) cause = NULL;
  gssize n;

  n = g_input_stream_read (self->file, buffer, MIN (count, left), cancellable,
      &cause);
  if (n < 0) {
    if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_propagate_error (error, g_steal_pointer (&cause));
    else
      set_file_error (self, error, cause, _("Could not read %s: %s"));
    return -1;
  }
  if (n == 0) {
    set_file_error (self, error, NULL,
        _("%s became shorter while it was uploaded"));
    return -1;
  }

  if ((guint64) n == left) {
    guint8 probe;
    gssize more = g_input_stream_read (self->file, &probe, 1, cancellable,
        &cause);

    if (more < 0 && g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_propagate_error (error, g_steal_pointer (&cause));
      return -1;
    }
    if (more != 0) {
      set_file_error (self, error, NULL, _("%s grew while it was uploaded"));
      return -1;
    }
  }
  return n;
}

static gssize
luma_upload_stream_read (GInputStream * stream, void *buffer, gsize count,
    GCancellable * cancellable, GError ** error)
{
  LumaUploadStream *self = LUMA_UPLOAD_STREAM (stream);
  guint64 head_size = g_bytes_get_size (self->head);
  guint64 tail_start = head_size + self->file_size;
  gssize n;

  if (count == 0 || self->position >= self->total)
    return 0;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return -1;

  if (self->position < head_size)
    n = read_from_bytes (self->head, self->position, buffer, count);
  else if (self->position < tail_start)
    n = read_from_file (self, buffer, count, cancellable, error);
  else
    n = read_from_bytes (self->tail, self->position - tail_start, buffer,
        count);
  if (n < 0)
    return -1;

  self->position += n;
  report_progress (self);
  return n;
}

static gboolean
luma_upload_stream_close (GInputStream * stream, GCancellable * cancellable,
    GError ** error)
{
  LumaUploadStream *self = LUMA_UPLOAD_STREAM (stream);

  return g_input_stream_close (self->file, cancellable, error);
}

static void
luma_upload_stream_finalize (GObject * object)
{
  LumaUploadStream *self = LUMA_UPLOAD_STREAM (object);

  g_bytes_unref (self->head);
  g_object_unref (self->file);
  g_bytes_unref (self->tail);
  g_free (self->file_name);
  g_clear_error (&self->file_error);
  G_OBJECT_CLASS (luma_upload_stream_parent_class)->finalize (object);
}

static void
luma_upload_stream_class_init (LumaUploadStreamClass * klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  object_class->finalize = luma_upload_stream_finalize;
  stream_class->read_fn = luma_upload_stream_read;
  stream_class->close_fn = luma_upload_stream_close;
}

static void
luma_upload_stream_init (LumaUploadStream * self)
{
}

static LumaUploadStream *
luma_upload_stream_new (GBytes * head, GInputStream * file,
    guint64 file_size, GBytes * tail, const gchar * file_name,
    LumaUploadProgress progress, gpointer user_data)
{
  LumaUploadStream *self = g_object_new (LUMA_TYPE_UPLOAD_STREAM, NULL);

  self->head = g_bytes_ref (head);
  self->file = g_object_ref (file);
  self->file_size = file_size;
  self->tail = g_bytes_ref (tail);
  self->file_name = g_strdup (file_name);
  self->total = g_bytes_get_size (head) + file_size + g_bytes_get_size (tail);
  self->progress = progress;
  self->user_data = user_data;
  /* the first read is reported: the upload has begun */
  self->last_report = G_MININT64 / 2;
  return self;
}

/* ------------------------------------------------------------------------
 * The form
 * ------------------------------------------------------------------------ */

typedef struct
{
  gchar *content_type;          /* multipart/form-data; boundary=... */
  GBytes *head;                 /* up to where the file's bytes go */
  GBytes *tail;                 /* the closing delimiter */
} Framing;

static void
framing_clear (Framing * framing)
{
  g_clear_pointer (&framing->content_type, g_free);
  g_clear_pointer (&framing->head, g_bytes_unref);
  g_clear_pointer (&framing->tail, g_bytes_unref);
}

/* The form as libsoup writes it, with an empty file part last: the file's
 * bytes then belong right before the closing delimiter,
 * "\r\n--BOUNDARY--\r\n", which must be what the serialization ends with. */
static gboolean
build_framing (const gchar * upload_path, const gchar * file_name,
    const gchar * mime_type, Framing * framing, GError ** error)
{
  SoupMultipart *multipart = soup_multipart_new (SOUP_FORM_MIME_TYPE_MULTIPART);
  g_autoptr (SoupMessageHeaders) headers =
      soup_message_headers_new (SOUP_MESSAGE_HEADERS_MULTIPART);
  g_autoptr (GBytes) empty = g_bytes_new_static ("", 0);
  g_autoptr (GBytes) form = NULL;
  g_autoptr (GHashTable) params = NULL;
  g_autofree gchar *closing = NULL;
  const gchar *boundary = NULL;
  const guint8 *data;
  gsize size, closing_size;

  soup_multipart_append_form_string (multipart, "uploadPath", upload_path);
  soup_multipart_append_form_string (multipart, "fileName", file_name);
  soup_multipart_append_form_file (multipart, "file", file_name, mime_type,
      empty);
  soup_multipart_to_message (multipart, headers, &form);
  soup_multipart_free (multipart);

  if (soup_message_headers_get_content_type (headers, &params) != NULL)
    boundary = g_hash_table_lookup (params, "boundary");
  if (boundary != NULL)
    closing = g_strconcat ("\r\n--", boundary, "--\r\n", NULL);
  closing_size = closing != NULL ? strlen (closing) : 0;
  data = g_bytes_get_data (form, &size);
  if (closing == NULL || size < closing_size
      || memcmp (data + size - closing_size, closing, closing_size) != 0) {
    g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_BAD_ARGUMENT,
        _("This libsoup writes multipart forms in a way gst-luma does not "
            "know: cannot stream the upload"));
    return FALSE;
  }

  framing->content_type = g_strdup (soup_message_headers_get_one (headers,
          "Content-Type"));
  framing->head = g_bytes_new_from_bytes (form, 0, size - closing_size);
  framing->tail = g_bytes_new (closing, closing_size);
  return TRUE;
}

/* A new random name each time, with the clip's extension in lower case: an
 * upload under a name used before replaces the old file at KIE. */
static gchar *
random_file_name (GFile * file)
{
  g_autofree gchar *base = g_file_get_basename (file);
  g_autofree gchar *uuid = g_uuid_string_random ();
  const gchar *dot = base != NULL ? strrchr (base, '.') : NULL;
  gsize i, length;

  if (dot == NULL || dot == base)
    return g_steal_pointer (&uuid);
  /* an extension is a few letters and digits, nothing else */
  length = strlen (dot + 1);
  if (length == 0 || length > 8)
    return g_steal_pointer (&uuid);
  for (i = 0; i < length; i++)
    if (!g_ascii_isalnum (dot[1 + i]))
      return g_steal_pointer (&uuid);
  {
    g_autofree gchar *extension = g_ascii_strdown (dot + 1, -1);

    return g_strconcat (uuid, ".", extension, NULL);
  }
}

static gchar *
guess_mime_type (const gchar * file_name)
{
  g_autofree gchar *content_type = g_content_type_guess (file_name, NULL, 0,
      NULL);
  gchar *mime_type = content_type != NULL ?
      g_content_type_get_mime_type (content_type) : NULL;

  return mime_type != NULL ? mime_type : g_strdup ("application/octet-stream");
}

/* ------------------------------------------------------------------------
 * One upload, and what its answer means
 * ------------------------------------------------------------------------ */

typedef enum
{
  ATTEMPT_DONE,
  ATTEMPT_THROTTLED,            /* 429, 455: nothing stored, wait and retry */
  ATTEMPT_SERVER_TROUBLE,       /* 5xx, transport: retry a bounded number of times */
  ATTEMPT_FAILED,
} AttemptOutcome;

typedef struct
{
  SoupSession *session;
  GUri *uri;                    /* of the upload endpoint */
  const gchar *host;
  const gchar *api_key;
  GFile *file;
  gchar *file_label;            /* the user's path, safe to show */
  Framing framing;
  LumaUploadProgress progress;
  gpointer user_data;
  GCancellable *cancellable;
  LumaUploadAnswerStatus answered;      /* the last answer's */
} Upload;

/* What an error code (the HTTP status, or the code in the body) means. */
static AttemptOutcome
classify_code (Upload * up, gint code, const gchar * msg, GError ** error)
{
  if (msg == NULL || msg[0] == '\0')
    msg = _("no message");

  switch (code) {
    case 401:
      g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_NOT_AUTHORIZED,
          _("The upload host %s refused the API key (401: %s); set the "
              "api-key property or KIE_API_KEY"), up->host, msg);
      return ATTEMPT_FAILED;
    case 402:
      g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_NO_CREDITS,
          _("The upload host %s refused the upload: insufficient credits "
              "(402: %s)"), up->host, msg);
      return ATTEMPT_FAILED;
    case 413:
      g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_TOO_LARGE,
          _("The upload host %s refused %s as too large (413: %s)"),
          up->host, up->file_label, msg);
      return ATTEMPT_FAILED;
    case 429:
    case 455:
      g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_UNAVAILABLE,
          code == 429 ? _("The upload host %s is rate limiting (429: %s)")
          : _("The upload host %s is under maintenance (455: %s)"),
          up->host, msg);
      return ATTEMPT_THROTTLED;
    case 501:
    case 505:
      break;
    default:
      if (code >= 500 && code <= 599) {
        g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_UNAVAILABLE,
            _("The upload host %s failed (%d: %s)"), up->host, code, msg);
        return ATTEMPT_SERVER_TROUBLE;
      }
      break;
  }
  g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_REFUSED,
      _("The upload host %s refused %s (%d: %s)"), up->host, up->file_label,
      code, msg);
  return ATTEMPT_FAILED;
}

static gchar *
check_download_url (Upload * up, const gchar * url, GError ** error)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) cause = NULL;
  gchar *copy;

  if (url == NULL || url[0] == '\0') {
    g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_BAD_ANSWER,
        _("The upload host %s answered success without a downloadUrl"),
        up->host);
    return NULL;
  }
  /* it goes into generate's request and into messages as it is */
  if (!luma_text_is_safe (url)) {
    g_autofree gchar *safe = luma_text_make_safe (url, -1);

    g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_BAD_ANSWER,
        _("The upload host %s gave a downloadUrl with control characters: "
            "\"%s\""), up->host, safe);
    return NULL;
  }
  uri = luma_http_parse_url (url, &cause);
  if (uri == NULL) {
    g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_BAD_ANSWER,
        _("The upload host %s gave an unusable downloadUrl: %s"), up->host,
        cause->message);
    return NULL;
  }
  /* the key quoted in a form the raw answer did not show (a JSON escape)
   * would go into messages, the journal and generate's request; starred
   * out, the URL is no longer the upload's, and a task created for it
   * would be billed for a video it cannot fetch: refused */
  copy = g_strdup (url);
  if (luma_secret_hide_in_text (copy, up->api_key)) {
    g_autofree gchar *safe = luma_text_make_safe (copy, -1);

    g_free (copy);
    g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_BAD_ANSWER,
        _("The upload host %s gave a downloadUrl that holds the API key: "
            "\"%s\""), up->host, safe);
    return NULL;
  }
  return copy;
}

/* Reads the answer: the HTTP status first (an error status wins over a body
 * that claims success), then "code" and "success", then data.downloadUrl. */
static AttemptOutcome
classify_answer (Upload * up, guint status, GBytes * body, guint64 sent,
    gchar ** download_url, GError ** error)
{
  g_auto (LumaUploadAnswer) answer = { 0, };

  luma_record_parse_upload_answer (body, &answer);
  up->answered.http_status = status;
  up->answered.api_code = !SOUP_STATUS_IS_SUCCESSFUL (status) ? (gint) status
      : answer.has_code ? answer.code : 0;
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    return classify_code (up, (gint) status, answer.msg != NULL ? answer.msg
        : soup_status_get_phrase (status), error);

  if (answer.why != NULL) {
    g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_BAD_ANSWER,
        _("The answer of the upload host %s cannot be read: %s"), up->host,
        answer.why);
    return ATTEMPT_FAILED;
  }
  if (answer.has_code && answer.code != 200)
    return classify_code (up, answer.code, answer.msg, error);

  if (answer.has_success && !answer.success) {
    g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_REFUSED,
        _("The upload host %s refused %s (%s)"), up->host, up->file_label,
        answer.msg != NULL ? answer.msg : _("no message"));
    return ATTEMPT_FAILED;
  }

  /* a clip the host kept in part would be billed as the whole */
  if (answer.has_file_size && (answer.file_size < 0
          || (guint64) answer.file_size != sent)) {
    g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_BAD_ANSWER,
        _("The upload host %s says it stored %" PRId64 " bytes of the %"
            PRIu64 " of %s"), up->host, answer.file_size, sent, up->file_label);
    return ATTEMPT_FAILED;
  }
  *download_url = check_download_url (up, answer.download_url, error);
  return *download_url != NULL ? ATTEMPT_DONE : ATTEMPT_FAILED;
}

static SoupMessage *
build_message (Upload * up, LumaUploadStream * body)
{
  SoupMessage *msg = soup_message_new_from_uri (SOUP_METHOD_POST, up->uri);
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);

  /* a redirect or an authentication retry would send the body again,
   * which has been read: neither happens here */
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  soup_message_disable_feature (msg, SOUP_TYPE_AUTH_MANAGER);
  if (up->api_key != NULL) {
    gchar *value = g_strconcat ("Bearer ", up->api_key, NULL);

    soup_message_headers_replace (headers, "Authorization", value);
    luma_secret_free (value);
  }
  soup_message_headers_replace (headers, "Accept", "application/json");
  /* the length is known: no chunked encoding */
  soup_message_set_request_body (msg, up->framing.content_type,
      G_INPUT_STREAM (body), body->total);
  return msg;
}

/* Opens the file anew (a retry starts from its first byte) and streams it. */
static LumaUploadStream *
open_body (Upload * up, GError ** error)
{
  g_autoptr (GFileInputStream) file = NULL;
  g_autoptr (GFileInfo) info = NULL;
  g_autoptr (GInputStream) buffered = NULL;
  g_autoptr (GError) cause = NULL;

  file = g_file_read (up->file, up->cancellable, &cause);
  if (file != NULL)
    info = g_file_input_stream_query_info (file,
        G_FILE_ATTRIBUTE_STANDARD_TYPE "," G_FILE_ATTRIBUTE_STANDARD_SIZE,
        up->cancellable, &cause);
  if (info == NULL) {
    if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_propagate_error (error, g_steal_pointer (&cause));
    else
      g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_FILE,
          _("Could not read %s: %s"), up->file_label, cause->message);
    return NULL;
  }
  /* the size goes into Content-Length before a byte is read: a pipe or a
   * device has none to give */
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR) {
    g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_FILE,
        _("%s is not a regular file"), up->file_label);
    return NULL;
  }
  if (g_file_info_get_size (info) <= 0) {
    g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_FILE,
        _("%s is empty"), up->file_label);
    return NULL;
  }
  /* libsoup asks for 8 KiB at a time (GIO's splice): read the file in
   * larger blocks, an eighth of the read calls */
  buffered = g_buffered_input_stream_new_sized (G_INPUT_STREAM (file),
      FILE_READ_SIZE);
  return luma_upload_stream_new (up->framing.head, buffered,
      g_file_info_get_size (info), up->framing.tail, up->file_label,
      up->progress, up->user_data);
}

/* One attempt's cancellable: the upload's, and the answer's deadline. */
typedef struct
{
  SoupSession *session;
  LumaHttpDeadline *deadline;
} AnswerDeadline;

/* Sending the body takes what the file's size and the link make it; the
 * answer, from then on, is bounded as any request's is: the timeout only
 * bounds silence, and a host that trickles its headers would hold the
 * upload (and the request's journal entry) for ever. */
static void
bound_the_answer (SoupMessage * msg, gpointer user_data)
{
  AnswerDeadline *answer = user_data;

  luma_http_deadline_set (answer->deadline,
      luma_http_request_deadline (answer->session));
}

/* The upload's own cancellation, or a host that did not answer in time
 * (then a server's trouble, tried again). */
static AttemptOutcome
fail_unanswered (Upload * up, LumaHttpDeadline * deadline, GError * cause,
    GError ** error)
{
  if (luma_http_deadline_has_passed (deadline)) {
    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TOO_SLOW,
        _("%s did not answer the upload within %u seconds (twice the "
            "timeout)"), up->host, LUMA_HTTP_REQUEST_DEADLINE_FACTOR *
        soup_session_get_timeout (up->session));
    return ATTEMPT_SERVER_TROUBLE;
  }
  luma_http_set_transport_error (error, cause, up->uri);
  return g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ?
      ATTEMPT_FAILED : ATTEMPT_SERVER_TROUBLE;
}

static AttemptOutcome
upload_once (Upload * up, gchar ** download_url, guint64 * retry_after,
    GError ** error)
{
  g_autoptr (LumaUploadStream) body = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GInputStream) answer = NULL;
  g_autoptr (GBytes) answer_body = NULL;
  g_autoptr (GError) cause = NULL;
  g_autoptr (LumaHttpDeadline) deadline =
      luma_http_deadline_new (up->cancellable, G_MAXINT64);
  GCancellable *cancellable = luma_http_deadline_get_cancellable (deadline);
  AnswerDeadline bound = { up->session, deadline };
  AttemptOutcome outcome;
  guint status;

  body = open_body (up, error);
  if (body == NULL)
    return ATTEMPT_FAILED;
  msg = build_message (up, body);
  if (soup_session_get_timeout (up->session) > 0)
    g_signal_connect (msg, "wrote-body", G_CALLBACK (bound_the_answer), &bound);

  answer = soup_session_send (up->session, msg, cancellable, &cause);
  if (answer == NULL) {
    if (body->file_error != NULL) {
      g_propagate_error (error, g_steal_pointer (&body->file_error));
      return ATTEMPT_FAILED;
    }
    return fail_unanswered (up, deadline, cause, error);
  }

  status = soup_message_get_status (msg);
  up->answered.http_status = status;
  up->answered.api_code = SOUP_STATUS_IS_SUCCESSFUL (status) ? 0
      : (gint) status;
  *retry_after = luma_http_retry_after (msg, (gint) status);
  if (status == SOUP_STATUS_PROXY_AUTHENTICATION_REQUIRED) {
    g_input_stream_close (answer, NULL, NULL);
    luma_http_set_proxy_auth_error (error, up->host);
    return ATTEMPT_FAILED;
  }
  if (SOUP_STATUS_IS_REDIRECTION (status)) {
    g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_REFUSED,
        _("The upload host %s answered %u (a redirect): uploads are not "
            "redirected; set the upload URL to where it points"), up->host,
        status);
    return ATTEMPT_FAILED;
  }

  answer_body = luma_http_read_body (msg, answer, ANSWER_MAX_SIZE,
      soup_session_get_timeout (up->session), cancellable, &cause);
  g_input_stream_close (answer, NULL, NULL);
  if (answer_body != NULL)
    answer_body = luma_secret_hide (answer_body, up->api_key);
  if (answer_body == NULL) {
    if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      return fail_unanswered (up, deadline, cause, error);
    g_propagate_error (error, g_steal_pointer (&cause));
    if (g_error_matches (*error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TOO_LARGE)) {
      g_autoptr (GError) too_large = g_steal_pointer (error);

      g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_BAD_ANSWER,
          "%s", too_large->message);
      return ATTEMPT_FAILED;
    }
    return ATTEMPT_SERVER_TROUBLE;
  }
  outcome = classify_answer (up, status, answer_body, body->file_size,
      download_url, error);
  /* a 429 or 455 in the body of a 200: the header is its word too */
  if (outcome == ATTEMPT_THROTTLED)
    *retry_after = luma_http_retry_after (msg, 429);
  /* a 503 that says when to come back is maintenance: waited out within
   * the wait allowed, as a 429 is (and as the polls do), not given up
   * after a few attempts */
  if (outcome == ATTEMPT_SERVER_TROUBLE
      && status == SOUP_STATUS_SERVICE_UNAVAILABLE
      && *retry_after != LUMA_HTTP_RETRY_AFTER_NONE)
    outcome = ATTEMPT_THROTTLED;
  return outcome;
}

/* How long to wait before the next attempt, or FALSE to give up. A rate
 * limit is waited out for as long as the wait allowed (luma_upload_file ()),
 * as generate's; server and network trouble a number of times. */
static gboolean
next_delay (AttemptOutcome outcome, guint64 retry_after, guint * throttles,
    guint * troubles, guint64 * delay)
{
  if (outcome == ATTEMPT_THROTTLED) {
    *delay = luma_http_backoff (THROTTLE_BACKOFF_MS, (*throttles)++);
  } else {
    if (*troubles >= SERVER_RETRIES)
      return FALSE;
    *delay = luma_http_backoff (SERVER_BACKOFF_MS, (*troubles)++);
  }
  /* the server knows best when it will take the file (an hour at most:
   * luma_http_retry_after ()) */
  if (retry_after != G_MAXUINT64)
    *delay = MAX (retry_after, RETRY_AFTER_MIN_MS);
  return TRUE;
}

/**
 * luma_upload_file:
 * @session: the session to use (its timeout and proxy apply)
 * @upload_url: the upload host's base URL, e.g. %LUMA_UPLOAD_DEFAULT_URL
 * @api_key: (nullable): sent as Bearer to the upload host only
 * @file: the clip
 * @upload_path: the folder at KIE (uploadPath)
 * @wait_seconds: how long rate limits and maintenance may be waited out
 *   (the wait-timeout of the task the clip is for); 0: for ever
 * @progress_cb: (nullable): told how much of the body has been sent
 *
 * Uploads @file under a new random name with its extension, streaming it
 * from disk. Rate limits and maintenance (429, 455, a 503 with
 * Retry-After) are waited out
 * (%LUMA_UPLOAD_ERROR_THROTTLED once a wait would end past @wait_seconds),
 * server and network errors retried with a backoff a bounded number of
 * times; other refusals fail at once. Cancelling @cancellable stops the
 * upload at once with %G_IO_ERROR_CANCELLED.
 *
 * Returns: (transfer full): the public downloadUrl of the uploaded file
 *   (an http or https URL), or %NULL with @error set
 */
gchar *
luma_upload_file (SoupSession * session, const gchar * upload_url,
    const gchar * api_key, GFile * file, const gchar * upload_path,
    guint wait_seconds, LumaUploadProgress progress_cb, gpointer user_data,
    GCancellable * cancellable, GError ** error)
{
  return luma_upload_file_full (session, upload_url, api_key, file,
      upload_path, wait_seconds, progress_cb, user_data, NULL, cancellable,
      error);
}

/**
 * luma_upload_file_full:
 * @answer_status: (out caller-allocates) (nullable): what the upload host
 *   last answered (HTTP status and code), zeros when it never answered
 *
 * As luma_upload_file ().
 */
gchar *
luma_upload_file_full (SoupSession * session, const gchar * upload_url,
    const gchar * api_key, GFile * file, const gchar * upload_path,
    guint wait_seconds, LumaUploadProgress progress_cb, gpointer user_data,
    LumaUploadAnswerStatus * answer_status, GCancellable * cancellable,
    GError ** error)
{
  /* the waits rate limiting asks for end within the task's wait-timeout */
  gint64 deadline = luma_http_time_after (g_get_monotonic_time (),
      wait_seconds);
  g_autoptr (GUri) uri = NULL;
  g_autofree gchar *file_name = NULL;
  g_autofree gchar *mime_type = NULL;
  g_autofree gchar *parse_name = NULL;
  Upload up = { 0, };
  guint throttles = 0, troubles = 0;
  gchar *download_url = NULL;

  g_return_val_if_fail (SOUP_IS_SESSION (session), NULL);
  g_return_val_if_fail (upload_url != NULL, NULL);
  g_return_val_if_fail (G_IS_FILE (file), NULL);
  g_return_val_if_fail (upload_path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  uri = luma_http_parse_base_url (upload_url, UPLOAD_PATH, error);
  if (uri == NULL)
    return NULL;
  if (api_key != NULL && !luma_text_is_header_safe (api_key)) {
    g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_NOT_AUTHORIZED,
        _("The API key holds characters that cannot be sent in an HTTP "
            "header"));
    return NULL;
  }
  /* it is sent as a form field, and KIE makes it part of a URL */
  if (upload_path[0] == '\0' || !luma_text_is_header_safe (upload_path)) {
    g_autofree gchar *safe = luma_text_make_safe (upload_path, -1);

    g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_BAD_ARGUMENT,
        _("\"%s\" is not an upload path: it must be one line of text"), safe);
    return NULL;
  }

  parse_name = g_file_get_parse_name (file);
  file_name = random_file_name (file);
  mime_type = guess_mime_type (file_name);

  up.session = session;
  up.uri = uri;
  up.host = g_uri_get_host (uri);
  up.api_key = api_key;
  up.file = file;
  up.file_label = luma_text_make_safe (parse_name, -1);
  up.progress = progress_cb;
  up.user_data = user_data;
  up.cancellable = cancellable;
  if (!build_framing (upload_path, file_name, mime_type, &up.framing, error))
    goto out;

  for (;;) {
    g_autoptr (GError) attempt_error = NULL;
    guint64 retry_after = G_MAXUINT64, delay = 0;
    gboolean again;
    AttemptOutcome outcome = upload_once (&up, &download_url, &retry_after,
        &attempt_error);

    if (outcome == ATTEMPT_DONE)
      break;
    if (outcome == ATTEMPT_FAILED) {
      g_propagate_error (error, g_steal_pointer (&attempt_error));
      break;
    }
    again = next_delay (outcome, retry_after, &throttles, &troubles, &delay);
    if (again && outcome == ATTEMPT_THROTTLED
        && !luma_http_wait_fits (deadline, delay)) {
      g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_THROTTLED,
          _("The upload host %s kept asking to wait beyond the wait allowed "
              "(%u s): %s"), up.host, wait_seconds, attempt_error->message);
      break;
    }
    if (!again) {
      guint attempts = throttles + troubles + 1;

      g_set_error (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_UNAVAILABLE,
          g_dngettext (GETTEXT_PACKAGE,
              "Could not upload %s to %s after %u attempt: %s",
              "Could not upload %s to %s after %u attempts: %s", attempts),
          up.file_label, up.host, attempts, attempt_error->message);
      break;
    }
    if (!luma_http_sleep (delay, cancellable, error))
      break;
  }

out:
  /* what the host said may quote the key in a form the raw answer did not
   * (a JSON escape): hidden before any message or log has it */
  if (download_url == NULL)
    luma_secret_hide_in_error (error, api_key);
  if (answer_status != NULL)
    *answer_status = up.answered;
  framing_clear (&up.framing);
  g_free (up.file_label);
  return download_url;
}
