/* gst-luma: one result URL to bytes, with Range and resume
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Streams a file over HTTP from a given byte offset. Never sends an
 * Authorization header: result files live on other hosts than the API. The
 * invariant is that @offset is the position in the file of the next byte
 * handed out, whatever the server does: a server that ignores Range has the
 * bytes before the offset skipped, a dropped connection is asked again from
 * the offset, and a file whose size changed between two requests is an
 * error rather than a splice of two files.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumastream.h"
#include "lumahttp.h"

#include <glib/gi18n-lib.h>
#include <inttypes.h>

#define RESUME_BACKOFF_BASE_MS 250

/* *INDENT-OFF* */
G_DEFINE_QUARK (luma-stream-error-quark, luma_stream_error);
/* *INDENT-ON* */

struct _LumaStream
{
  SoupSession *session;
  guint retries;
  GUri *uri;

  SoupMessage *msg;             /* the open request, or NULL */
  GInputStream *body;
  guint64 offset;
  guint64 size;
  guint http_status;
};

LumaStream *
luma_stream_new (SoupSession * session, guint retries)
{
  LumaStream *stream = g_new0 (LumaStream, 1);

  stream->session = g_object_ref (session);
  stream->retries = retries;
  stream->size = LUMA_STREAM_SIZE_UNKNOWN;
  return stream;
}

static void
close_request (LumaStream * stream)
{
  if (stream->body != NULL)
    g_input_stream_close (stream->body, NULL, NULL);
  g_clear_object (&stream->body);
  g_clear_object (&stream->msg);
}

void
luma_stream_free (LumaStream * stream)
{
  if (stream == NULL)
    return;
  close_request (stream);
  g_clear_pointer (&stream->uri, g_uri_unref);
  g_object_unref (stream->session);
  g_free (stream);
}

gboolean
luma_stream_set_url (LumaStream * stream, const gchar * url, GError ** error)
{
  GUri *uri = luma_http_parse_url (url, error);

  if (uri == NULL)
    return FALSE;
  close_request (stream);
  g_clear_pointer (&stream->uri, g_uri_unref);
  stream->uri = uri;
  return TRUE;
}

void
luma_stream_seek (LumaStream * stream, guint64 offset)
{
  if (offset == stream->offset && stream->body != NULL)
    return;
  close_request (stream);
  stream->offset = offset;
}

guint64
luma_stream_get_offset (LumaStream * stream)
{
  return stream->offset;
}

guint64
luma_stream_get_size (LumaStream * stream)
{
  return stream->size;
}

guint
luma_stream_get_http_status (LumaStream * stream)
{
  return stream->http_status;
}

static gboolean
answer_is_html (SoupMessage * msg)
{
  const gchar *type =
      soup_message_headers_get_content_type (soup_message_get_response_headers
      (msg), NULL);

  return type != NULL && g_ascii_strcasecmp (type, "text/html") == 0;
}

static void
set_status_error (LumaStream * stream, GError ** error)
{
  guint status = stream->http_status;
  const gchar *host = g_uri_get_host (stream->uri);

  if (status == SOUP_STATUS_FORBIDDEN && answer_is_html (stream->msg))
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_BLOCKED,
        _("The video host %s refused the download with an HTML page (403): "
            "a CDN block, not a problem with the API key"), host);
  else if (status == SOUP_STATUS_FORBIDDEN || status == SOUP_STATUS_NOT_FOUND
      || status == SOUP_STATUS_GONE)
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_EXPIRED,
        _("The video URL on %s is no longer valid (%u %s)"), host, status,
        soup_status_get_phrase (status));
  else
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_HTTP,
        _("The video host %s answered %u %s"), host, status,
        soup_status_get_phrase (status));
}

/* The file's size as this answer gives it. */
static guint64
answer_file_size (SoupMessage * msg)
{
  SoupMessageHeaders *headers = soup_message_get_response_headers (msg);
  goffset start, end, total;

  if (soup_message_get_status (msg) == SOUP_STATUS_PARTIAL_CONTENT) {
    if (soup_message_headers_get_content_range (headers, &start, &end, &total)
        && total >= 0)
      return total;
    return LUMA_STREAM_SIZE_UNKNOWN;
  }
  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH)
    return soup_message_headers_get_content_length (headers);
  return LUMA_STREAM_SIZE_UNKNOWN;
}

/* Where in the file the answer's body begins. */
static guint64
answer_start (SoupMessage * msg)
{
  goffset start = 0, end, total;

  if (soup_message_get_status (msg) == SOUP_STATUS_PARTIAL_CONTENT
      && soup_message_headers_get_content_range
      (soup_message_get_response_headers (msg), &start, &end, &total))
    return start;
  return 0;
}

/* Brings the body to the offset: a server that ignores Range sends the file
 * from its start, and those bytes have already been handed out. */
static gboolean
skip_to_offset (LumaStream * stream, guint64 start, GCancellable * cancellable,
    GError ** error)
{
  guint64 to_skip;

  if (start > stream->offset) {
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_HTTP,
        _("The video host %s sent bytes from %" PRIu64
            " when asked for bytes from %" PRIu64),
        g_uri_get_host (stream->uri), start, stream->offset);
    return FALSE;
  }
  for (to_skip = stream->offset - start; to_skip > 0;) {
    g_autoptr (GError) cause = NULL;
    gssize n = g_input_stream_skip (stream->body, MIN (to_skip, G_MAXSSIZE),
        cancellable, &cause);

    if (n <= 0) {
      if (n == 0)
        g_set_error (&cause, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
            _("the file ended early"));
      luma_http_set_transport_error (error, cause, stream->uri);
      return FALSE;
    }
    to_skip -= n;
  }
  return TRUE;
}

static gboolean
check_same_file (LumaStream * stream, guint64 size, GError ** error)
{
  if (stream->size == LUMA_STREAM_SIZE_UNKNOWN
      || size == LUMA_STREAM_SIZE_UNKNOWN || size == stream->size) {
    if (size != LUMA_STREAM_SIZE_UNKNOWN)
      stream->size = size;
    return TRUE;
  }
  g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_CHANGED,
      _("The video on %s changed size from %" PRIu64 " to %"
          PRIu64 " bytes while it was being read"),
      g_uri_get_host (stream->uri), stream->size, size);
  return FALSE;
}

static gboolean
open_request (LumaStream * stream, GCancellable * cancellable, GError ** error)
{
  LumaHttpRequest request = { "GET", stream->uri, NULL, stream->offset, FALSE };

  stream->body = luma_http_send (stream->session, &request, &stream->msg,
      cancellable, error);
  if (stream->body == NULL)
    return FALSE;
  stream->http_status = soup_message_get_status (stream->msg);

  /* Asked for the bytes from the end of the file on: there are none. */
  if (stream->http_status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE
      && stream->offset > 0 && stream->offset == stream->size)
    return TRUE;
  if (!SOUP_STATUS_IS_SUCCESSFUL (stream->http_status)) {
    set_status_error (stream, error);
    return FALSE;
  }
  return check_same_file (stream, answer_file_size (stream->msg), error)
      && skip_to_offset (stream, answer_start (stream->msg), cancellable, error);
}

gboolean
luma_stream_open (LumaStream * stream, GCancellable * cancellable,
    GError ** error)
{
  g_return_val_if_fail (stream->uri != NULL, FALSE);

  if (stream->body != NULL)
    return TRUE;
  if (open_request (stream, cancellable, error))
    return TRUE;
  close_request (stream);
  return FALSE;
}

/* Network trouble and server errors may pass; a refusal will not. */
static gboolean
is_worth_retrying (LumaStream * stream, GError * error)
{
  return g_error_matches (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TRANSPORT)
      || (g_error_matches (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_HTTP)
      && SOUP_STATUS_IS_SERVER_ERROR (stream->http_status));
}

static gboolean
at_end (LumaStream * stream)
{
  return stream->size != LUMA_STREAM_SIZE_UNKNOWN
      && stream->offset >= stream->size;
}

static void
set_gave_up_error (LumaStream * stream, GError ** error, guint attempts,
    GError * cause)
{
  if (stream->http_status == 0)
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_OPEN,
        g_dngettext (GETTEXT_PACKAGE,
            "Could not download the video from %s after %u attempt: %s",
            "Could not download the video from %s after %u attempts: %s",
            attempts), g_uri_get_host (stream->uri), attempts, cause->message);
  else
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_READ,
        g_dngettext (GETTEXT_PACKAGE,
            "Reading the video from %s failed at byte %" PRIu64
            " after %u attempt: %s",
            "Reading the video from %s failed at byte %" PRIu64
            " after %u attempts: %s", attempts), g_uri_get_host (stream->uri),
        stream->offset, attempts, cause->message);
}

/* One read from the open body; 0 only at the true end of the file. A body
 * that ends before the size the server announced is an error to resume. */
static gssize
read_body (LumaStream * stream, guint8 * data, gsize size,
    GCancellable * cancellable, GError ** error)
{
  g_autoptr (GError) cause = NULL;
  gssize n;

  if (at_end (stream))
    return 0;
  n = g_input_stream_read (stream->body, data, size, cancellable, &cause);
  if (n > 0) {
    stream->offset += n;
    return n;
  }
  if (n == 0 && stream->size == LUMA_STREAM_SIZE_UNKNOWN)
    return 0;
  if (n == 0)
    g_set_error (&cause, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
        _("the connection closed before the end of the file"));
  luma_http_set_transport_error (error, cause, stream->uri);
  return -1;
}

gssize
luma_stream_read (LumaStream * stream, guint8 * data, gsize size,
    GCancellable * cancellable, GError ** error)
{
  guint attempt;

  for (attempt = 0;; attempt++) {
    g_autoptr (GError) cause = NULL;
    gssize n = -1;

    if (luma_stream_open (stream, cancellable, &cause))
      n = read_body (stream, data, size, cancellable, &cause);
    if (n >= 0)
      return n;

    close_request (stream);
    if (!is_worth_retrying (stream, cause) || g_cancellable_is_cancelled (cancellable)) {
      g_propagate_error (error, g_steal_pointer (&cause));
      return -1;
    }
    if (attempt >= stream->retries) {
      set_gave_up_error (stream, error, attempt + 1, cause);
      return -1;
    }
    if (!luma_http_sleep (luma_http_backoff (RESUME_BACKOFF_BASE_MS, attempt),
            cancellable, error))
      return -1;
  }
}
