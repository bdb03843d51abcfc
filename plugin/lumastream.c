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
 * error rather than a splice of two files. So is a file whose ETag (or,
 * without one, its Last-Modified date) changed between two answers of the
 * same server: a new version of the same size. For the same reason a
 * partial answer is only taken when its Content-Range says it starts where
 * it was asked to, and is read no further than the end that range gives.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumastream.h"
#include "lumastream-private.h"
#include "lumahttp.h"

#include <glib/gi18n-lib.h>
#include <inttypes.h>
#include <string.h>

#define RESUME_BACKOFF_BASE_MS 250
/* A 429 (or a 503 with Retry-After) is waited out: for as long as the
 * server asks, but never more than five minutes at a time (a server's
 * Retry-After of hours would look like a hang), and at most `retries` plus
 * this many times in a row, since the host is not broken, only busy. */
#define THROTTLE_BACKOFF_BASE_MS 1000
#define THROTTLE_WAIT_CAP_MS (5 * 60 * 1000)
#define THROTTLE_EXTRA_WAITS 5
#define HTTP_TOO_MANY_REQUESTS 429
/* the servers whose validators a stream keeps besides the one answering */
#define MAX_OTHER_SERVERS 8
/* A body must also come at a pace: the timeout (libsoup's, of inactivity)
 * bounds only silence, and a host that sends a byte now and then would
 * hold a read for ever. Fewer than SLOW_BYTES_PER_SECOND on average over
 * SLOW_WINDOW_TIMEOUTS times the timeout spent waiting for the host (30 s
 * with the default 15) is a stalled connection, asked again from where it
 * stopped as a silent one is (curl's --speed-limit and --speed-time). 1 KiB
 * a second (8 kbit/s) is a tenth of what even a tiny video (100 kbit/s)
 * plays at, and a few hundredth of a KIE result's; at that pace a 10 MB
 * video takes three hours. Only the time spent in reads counts: a pipeline
 * that is paused, or slow to take the bytes, never makes the host look
 * slow. */
#define SLOW_BYTES_PER_SECOND 1024
#define SLOW_WINDOW_TIMEOUTS 2

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
  guint64 answer_end;           /* where the open answer's body ends in the file */
  guint64 answer_from;          /* where its bytes began to be handed out */
  guint64 unsized_end;          /* where an answer without a length last
                                 * ended (G_MAXUINT64: none) */
  guint64 read_end;             /* the farthest byte read from the
                                 * host: its file has at least that many */
  guint64 offset;
  guint64 size;
  guint http_status;
  guint64 retry_after;          /* of the last failed answer, in ms; G_MAXUINT64: none */
  /* the file's validators, and the server they are of */
  LumaStreamVersion version;

  /* the body's pace (check_pace ()), over a window of waiting */
  gint64 pace_window;           /* its length in us; 0: no timeout, no bound */
  gint64 pace_waited;           /* us spent in reads since it began */
  guint64 pace_bytes;           /* read since it began */
  guint64 pace_progress;        /* of those, past the offset (not
                                 * the bytes a host that ignores Range
                                 * sends again before it) */
  guint slow_windows;           /* windows in a row that fell short */
  gboolean pace_fresh;          /* the next answer starts a window */

  /* URL renewals (luma_stream_get_renewals_without_progress()) */
  gboolean renewed;             /* the URL replaced another one */
  guint64 url_bytes;            /* handed out since the URL was set */
  guint idle_renewals;          /* before this URL, in a row */
};

LumaStream *
luma_stream_new (SoupSession * session, guint retries)
{
  LumaStream *stream = g_new0 (LumaStream, 1);

  stream->session = g_object_ref (session);
  stream->retries = retries;
  stream->size = LUMA_STREAM_SIZE_UNKNOWN;
  stream->answer_end = LUMA_STREAM_SIZE_UNKNOWN;
  stream->unsized_end = G_MAXUINT64;
  stream->retry_after = G_MAXUINT64;
  stream->pace_fresh = TRUE;
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
  luma_stream_version_clear (&stream->version);
  g_object_unref (stream->session);
  g_free (stream);
}

gboolean
luma_stream_set_url (LumaStream * stream, const gchar * url, GError ** error)
{
  GUri *uri = luma_http_parse_url (url, error);

  if (uri == NULL)
    return FALSE;
  if (stream->uri != NULL) {
    /* a renewal: the previous one made progress if its URL gave enough */
    if (stream->renewed && stream->url_bytes < LUMA_STREAM_RENEWAL_PROGRESS)
      stream->idle_renewals++;
    else
      stream->idle_renewals = 0;
    stream->renewed = TRUE;
  }
  stream->url_bytes = 0;
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
  stream->pace_fresh = TRUE;
}

guint64
luma_stream_get_offset (LumaStream * stream)
{
  return stream->offset;
}

void
luma_stream_expect_size (LumaStream * stream, guint64 size)
{
  stream->size = size;
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

const gchar *
luma_stream_get_host (LumaStream * stream)
{
  return stream->uri != NULL ? g_uri_get_host (stream->uri) : NULL;
}

gboolean
luma_stream_replace_url (LumaStream * stream, const gchar * url,
    GError ** error)
{
  GUri *uri = luma_http_parse_url (url, error);

  if (uri == NULL)
    return FALSE;
  close_request (stream);
  g_clear_pointer (&stream->uri, g_uri_unref);
  stream->uri = uri;
  return TRUE;
}

LumaStream *
luma_stream_new_sibling (LumaStream * stream, guint64 offset)
{
  g_autofree gchar *version = NULL;
  LumaStream *sibling;

  g_return_val_if_fail (stream->uri != NULL, NULL);
  sibling = luma_stream_new (stream->session, stream->retries);
  version = luma_stream_get_version (stream);
  sibling->uri = g_uri_ref (stream->uri);
  sibling->size = stream->size;
  luma_stream_expect_version (sibling, version);
  sibling->offset = offset;
  return sibling;
}

guint
luma_stream_get_renewals_without_progress (LumaStream * stream)
{
  gboolean last_idle = stream->renewed
      && stream->url_bytes < LUMA_STREAM_RENEWAL_PROGRESS;

  return stream->idle_renewals + (last_idle ? 1 : 0);
}

/* A host that asks to be left alone for a while, rather than one that is
 * broken: a 503 counts only when it says for how long. */
static gboolean
is_throttling (LumaStream * stream)
{
  return stream->http_status == HTTP_TOO_MANY_REQUESTS
      || (stream->http_status == SOUP_STATUS_SERVICE_UNAVAILABLE
      && stream->retry_after != G_MAXUINT64);
}

static gboolean
answer_is_html (SoupMessage * msg)
{
  const gchar *type =
      soup_message_headers_get_content_type (soup_message_get_response_headers
      (msg), NULL);

  return type != NULL && g_ascii_strcasecmp (type, "text/html") == 0;
}

/* The host that answered, for messages: a redirect may have led to
 * another (a CDN's refusal is not the first host's). */
static const gchar *
answering_host (LumaStream * stream)
{
  return g_uri_get_host (stream->msg != NULL ?
      soup_message_get_uri (stream->msg) : stream->uri);
}

static void
set_status_error (LumaStream * stream, GError ** error)
{
  guint status = stream->http_status;
  const gchar *host = answering_host (stream);

  /* libsoup 3.2 has no phrase for 429 */
  if (is_throttling (stream) && status == HTTP_TOO_MANY_REQUESTS)
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_THROTTLED,
        _("The video host %s is rate limiting downloads (429 Too Many "
            "Requests)"), host);
  else if (is_throttling (stream))
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_THROTTLED,
        _("The video host %s asks to wait (%u %s)"), host, status,
        soup_status_get_phrase (status));
  else if (status == SOUP_STATUS_FORBIDDEN && answer_is_html (stream->msg))
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

static gboolean
range_error (GError ** error, const gchar * host, guint64 asked, gchar * reason)
{
  g_autofree gchar *owned = reason;

  g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_RANGE,
      _("The video host %s answered the request for the bytes from %" PRIu64
          " with a partial answer that does not fit it: %s"), host, asked,
      reason);
  return FALSE;
}

/* A Content-Encoding that names a transformation of the bytes (IANA's
 * HTTP content coding registry, and the x- forms). Others ("identity",
 * "", "none", and labels that name no coding, which misconfigured servers
 * send) are taken as the file's bytes, as curl takes them. */
/* Whether a coding of the header's @list (comma-separated, any case) is
 * one that @changes_bytes. */
static gboolean
any_coding (const gchar * list, gboolean (*changes_bytes) (const gchar *))
{
  g_auto (GStrv) names = NULL;
  guint i;

  if (list == NULL)
    return FALSE;
  names = g_strsplit (list, ",", -1);
  for (i = 0; names[i] != NULL; i++) {
    g_autofree gchar *name = g_ascii_strdown (g_strstrip (names[i]), -1);

    if (changes_bytes (name))
      return TRUE;
  }
  return FALSE;
}

static gboolean
is_compression (const gchar * name)
{
  static const gchar *const compressions[] = { "gzip", "x-gzip", "deflate",
    "compress", "x-compress", "br", "zstd", "aes128gcm", "exi",
    "pack200-gzip", "dcb", "dcz", NULL
  };

  return g_strv_contains (compressions, name);
}

static gboolean
is_compressed (const gchar * coding)
{
  return any_coding (coding, is_compression);
}

/* A transfer coding other than chunked (gzip, deflate...), which libsoup
 * leaves undecoded when a Content-Length frames the body. */
static gboolean
is_transforming (const gchar * name)
{
  return name[0] != '\0' && strcmp (name, "chunked") != 0
      && strcmp (name, "identity") != 0;
}

static gboolean
is_transformed_transfer (const gchar * coding)
{
  return any_coding (coding, is_transforming);
}

/* Content-Length given more than once, not always the same
 * (RFC 9112 6.3: the framing cannot be trusted) */
static gboolean
lengths_differ (const gchar * lengths)
{
  g_auto (GStrv) values = NULL;
  guint i;

  if (lengths == NULL || strchr (lengths, ',') == NULL)
    return FALSE;
  values = g_strsplit (lengths, ",", -1);
  for (i = 1; values[i] != NULL; i++)
    if (strcmp (g_strstrip (values[i]), g_strstrip (values[0])) != 0)
      return TRUE;
  return FALSE;
}

gboolean
luma_stream_check_answer (guint status, SoupMessageHeaders * headers,
    guint64 asked, const gchar * host, LumaStreamAnswer * answer,
    GError ** error)
{
  const gchar *range = soup_message_headers_get_one (headers, "Content-Range");
  const gchar *coding = soup_message_headers_get_list (headers,
      "Content-Encoding");
  goffset length = -1, start, end, total;

  /* none was asked for (no Accept-Encoding): the body would be the file
   * compressed, and its ranges the compressed one's */
  if (is_compressed (coding)) {
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_RANGE,
        _("The video host %s sent the video encoded (Content-Encoding: %s), "
            "which was not asked for"), host, coding);
    return FALSE;
  }

  if (is_transformed_transfer (soup_message_headers_get_list (headers,
              "Transfer-Encoding"))) {
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_RANGE,
        _("The video host %s sent the video encoded (Transfer-Encoding: %s), "
            "which was not asked for"), host,
        soup_message_headers_get_list (headers, "Transfer-Encoding"));
    return FALSE;
  }

  if (lengths_differ (soup_message_headers_get_list (headers,
              "Content-Length"))) {
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_RANGE,
        _("The video host %s sent Content-Lengths that differ (\"%s\")"),
        host, soup_message_headers_get_list (headers, "Content-Length"));
    return FALSE;
  }

  if (soup_message_headers_get_encoding (headers) ==
      SOUP_ENCODING_CONTENT_LENGTH) {
    length = soup_message_headers_get_content_length (headers);
    if (length < 0) {
      g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_RANGE,
          _("The video host %s sent a Content-Length that is not a size "
              "(\"%s\")"), host,
          soup_message_headers_get_one (headers, "Content-Length"));
      return FALSE;
    }
  }

  if (status != SOUP_STATUS_PARTIAL_CONTENT) {
    /* a 200 that says it holds a part of the file (a partial answer sent
     * with the wrong status: from another byte than the first, or ending
     * before the file does) is not the whole file: skipping to the offset
     * in it would hand out the bytes of other offsets, and its end is not
     * the file's */
    /* nor is one whose Content-Range cannot be read ("bytes=",
     * no unit...): it may name a part as well, and nothing says which */
    if (range != NULL
        && !soup_message_headers_get_content_range (headers, &start, &end,
            &total)) {
      g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_RANGE,
          _("The video host %s answered the request for the bytes from %"
              PRIu64 " with a %u whose Content-Range \"%s\" cannot be read"),
          host, asked, status, range);
      return FALSE;
    }
    if (range != NULL && (start != 0 || (total >= 0 && end != total - 1))) {
      g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_RANGE,
          _("The video host %s answered the request for the bytes from %"
              PRIu64 " with a %u whose Content-Range \"%s\" says it holds "
              "a part of the file, not the whole file"), host, asked, status,
          range);
      return FALSE;
    }
    /* nor one whose Content-Length ends it before the size its
     * Content-Range gives: by its own word, not the whole file */
    if (range != NULL && total >= 0 && length >= 0 && length != total) {
      g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_RANGE,
          _("The video host %s answered the request for the bytes from %"
              PRIu64 " with a %u whose Content-Length %" PRIu64 " is not "
              "the size its Content-Range \"%s\" gives"), host, asked,
          status, (guint64) length, range);
      return FALSE;
    }
    /* Range ignored (or none asked for): the whole file from its start */
    answer->start = 0;
    answer->end = answer->size = length >= 0 ? (guint64) length
        : LUMA_STREAM_SIZE_UNKNOWN;
    if (answer->size != LUMA_STREAM_SIZE_UNKNOWN && asked > answer->size) {
      g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_RANGE,
          _("The video host %s sent a file of %" PRIu64 " bytes when asked "
              "for the bytes from %" PRIu64), host, answer->size, asked);
      return FALSE;
    }
    return TRUE;
  }

  /* A 206 that cannot say where its bytes belong is not read from byte 0
   * on a guess: that would put them at the wrong place in the file. The
   * parser is lenient (signs, overflows), hence the checks after it. */
  if (range == NULL)
    return range_error (error, host, asked,
        g_strdup (_("it has no Content-Range")));
  if (!soup_message_headers_get_content_range (headers, &start, &end, &total))
    return range_error (error, host, asked,
        g_strdup_printf (_("its Content-Range \"%s\" cannot be read"), range));
  if (total < 0)
    return range_error (error, host, asked,
        g_strdup_printf (_("its Content-Range \"%s\" gives no file size"),
            range));
  if (start < 0 || end < start || end >= total)
    return range_error (error, host, asked,
        g_strdup_printf (_("its Content-Range \"%s\" is not a range within "
                "the file"), range));
  if ((guint64) start != asked)
    return range_error (error, host, asked,
        g_strdup_printf (_("its Content-Range \"%s\" starts at byte %"
                PRIu64), range, (guint64) start));
  if (length >= 0 && length != end - start + 1)
    return range_error (error, host, asked,
        g_strdup_printf (_("its Content-Length %" PRIu64 " is not the "
                "length of its Content-Range \"%s\""), (guint64) length,
            range));

  answer->start = start;
  answer->end = (guint64) end + 1;
  answer->size = total;
  return TRUE;
}

/* A new answer: a new window of its own. */
static void
start_pace (LumaStream * stream)
{
  gint64 timeout = soup_session_get_timeout (stream->session);

  stream->pace_window = SLOW_WINDOW_TIMEOUTS * timeout * G_USEC_PER_SEC;
  stream->pace_waited = 0;
  stream->pace_bytes = 0;
  stream->pace_progress = 0;
}

/* The bytes a window must bring: SLOW_BYTES_PER_SECOND over its length. */
static guint64
window_quota (LumaStream * stream)
{
  return SLOW_BYTES_PER_SECOND * (guint64) (stream->pace_window /
      G_USEC_PER_SEC);
}

/* Before a read: once a whole window has been spent waiting, whether it
 * brought enough bytes; if not, the connection is stalled. A window that
 * falls short right after another counts as one more in a row. */
static gboolean
check_pace (LumaStream * stream, GError ** error)
{
  guint seconds;

  if (stream->pace_window == 0 || stream->pace_waited < stream->pace_window)
    return TRUE;
  seconds = stream->pace_window / G_USEC_PER_SEC;

  if (stream->pace_bytes >= window_quota (stream)) {
    /* bytes sent again before the offset (a host that ignores
     * Range, asked again after a stall) keep the window, but are no
     * progress: the stalls before stay in a row */
    if (stream->pace_progress >= window_quota (stream))
      stream->slow_windows = 0;
    stream->pace_waited = 0;
    stream->pace_bytes = 0;
    stream->pace_progress = 0;
    return TRUE;
  }
  stream->slow_windows++;
  /* the answer that asks again from here has a window of its own */
  stream->pace_fresh = TRUE;
  g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TOO_SLOW,
      g_dngettext (GETTEXT_PACKAGE,
          "%s is too slow: it sent %" PRIu64 " byte in %u seconds, less "
          "than %u bytes a second",
          "%s is too slow: it sent %" PRIu64 " bytes in %u seconds, less "
          "than %u bytes a second", stream->pace_bytes),
      answering_host (stream), stream->pace_bytes, seconds,
      SLOW_BYTES_PER_SECOND);
  return FALSE;
}

/* One read of the body, the time it waited for the host counted for its
 * pace: two clock reads (vDSO, tens of ns) to a read of kilobytes. */
static gssize
read_paced (LumaStream * stream, guint8 * data, gsize size,
    gboolean skipping, GCancellable * cancellable, GError ** error)
{
  g_autoptr (GError) cause = NULL;
  gint64 started;
  gssize n;

  if (!check_pace (stream, error))
    return -1;
  started = g_get_monotonic_time ();
  n = g_input_stream_read (stream->body, data, size, cancellable, &cause);
  stream->pace_waited += g_get_monotonic_time () - started;
  if (n < 0) {
    /* a read that fails (a silence: the timeout) is an attempt
     * of its own; where the window ran out in it, short of its bytes,
     * that is its stall, counted here once, and the answer that asks again
     * has a window of its own: not cut before its first byte by the
     * silences already counted, as each one a second time */
    if (stream->pace_window > 0 && stream->pace_waited >= stream->pace_window
        && stream->pace_bytes < window_quota (stream)
        && !g_cancellable_is_cancelled (cancellable)) {
      stream->slow_windows++;
      stream->pace_fresh = TRUE;
    }
    luma_http_set_transport_error (error, cause, stream->uri);
    return -1;
  }
  stream->pace_bytes += n;
  if (!skipping)
    stream->pace_progress += n;
  /* a window that already has its bytes cannot fall short: the
   * host goes at the pace again, whatever ends the answer (its end, a
   * drop, a seek), and the stalls before are no longer in a row (only
   * bytes past the offset: those sent again before it are none) */
  if (stream->pace_window > 0 && stream->pace_progress >= window_quota (stream))
    stream->slow_windows = 0;
  return n;
}

/* Brings the body to the offset: a server that ignores Range sends the file
 * from its start, and those bytes have already been handed out. They are
 * read, at the pace asked of the rest: a skip returns only once all of it
 * has come. */
static gboolean
skip_to_offset (LumaStream * stream, guint64 start, GCancellable * cancellable,
    GError ** error)
{
  guint8 skipped[8192];
  guint64 to_skip;

  if (start > stream->offset) {
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_HTTP,
        _("The video host %s sent bytes from %" PRIu64
            " when asked for bytes from %" PRIu64),
        answering_host (stream), start, stream->offset);
    return FALSE;
  }
  for (to_skip = stream->offset - start; to_skip > 0;) {
    gssize n = read_paced (stream, skipped, MIN (to_skip, sizeof (skipped)),
        TRUE, cancellable, error);

    if (n == 0) {
      g_autoptr (GError) cause = NULL;

      g_set_error (&cause, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
          _("the file ended early"));
      luma_http_set_transport_error (error, cause, stream->uri);
    }
    if (n <= 0)
      return FALSE;
    to_skip -= n;
  }
  return TRUE;
}

static gboolean
check_same_file (LumaStream * stream, guint64 size, GError ** error)
{
  /* a file shorter than the bytes already read from it is another
   * file, though no size was known (an answer without a length) */
  if (size != LUMA_STREAM_SIZE_UNKNOWN && size < stream->read_end) {
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_CHANGED,
        _("The video on %s changed size to %" PRIu64 " bytes while it was "
            "being read (%" PRIu64 " bytes had been read)"),
        answering_host (stream), size, stream->read_end);
    return FALSE;
  }
  if (stream->size == LUMA_STREAM_SIZE_UNKNOWN
      || size == LUMA_STREAM_SIZE_UNKNOWN || size == stream->size) {
    if (size != LUMA_STREAM_SIZE_UNKNOWN)
      stream->size = size;
    return TRUE;
  }
  g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_CHANGED,
      _("The video on %s changed size from %" PRIu64 " to %"
          PRIu64 " bytes while it was being read"),
      answering_host (stream), stream->size, size);
  return FALSE;
}

void
luma_stream_version_clear (LumaStreamVersion * version)
{
  g_clear_pointer (&version->scope, g_free);
  g_clear_pointer (&version->etag, g_free);
  g_clear_pointer (&version->last_modified, g_free);
  g_clear_pointer (&version->others, g_ptr_array_unref);
}

static void
version_free (LumaStreamVersion * version)
{
  luma_stream_version_clear (version);
  g_free (version);
}

/* Another server answers (a redirect to another node, a mirror): what
 * the one before told is kept for when it answers again, and what this
 * one told before, if it did, is the version's again. A balancer that
 * sends each request to one of its nodes has each node's compared with
 * its own. */
static void
switch_scope (LumaStreamVersion * version, const gchar * scope)
{
  LumaStreamVersion *before = g_new0 (LumaStreamVersion, 1);
  guint i;

  before->scope = g_steal_pointer (&version->scope);
  before->etag = g_steal_pointer (&version->etag);
  before->last_modified = g_steal_pointer (&version->last_modified);
  if (version->others == NULL)
    version->others = g_ptr_array_new_with_free_func ((GDestroyNotify)
        version_free);
  /* a few servers are kept: past that, the one answered longest ago goes */
  if (version->others->len == MAX_OTHER_SERVERS)
    g_ptr_array_remove_index (version->others, 0);
  g_ptr_array_add (version->others, before);
  version->scope = g_strdup (scope);
  for (i = 0; i < version->others->len; i++) {
    LumaStreamVersion *other = g_ptr_array_index (version->others, i);

    if (strcmp (other->scope, scope) == 0) {
      version->etag = g_steal_pointer (&other->etag);
      version->last_modified = g_steal_pointer (&other->last_modified);
      g_ptr_array_remove_index (version->others, i);
      break;
    }
  }
}

/* Where validators can be compared: the server that answered (scheme,
 * host, port). A server tags a file the same whatever its path or query
 * (a URL renewed or signed anew names the same file); another server's
 * tags are its own (an nginx ETag is made of its file's mtime). */
static gchar *
version_scope (GUri * answered)
{
  return g_uri_join (G_URI_FLAGS_NONE, g_uri_get_scheme (answered), NULL,
      g_uri_get_host (answered), g_uri_get_port (answered), "", NULL, NULL);
}

/* RFC 9110's weak comparison: W/"x" and "x" are the same tag. A host may
 * weaken its tags on some answers; a change of the tag is what tells. */
static const gchar *
opaque_tag (const gchar * etag)
{
  return g_str_has_prefix (etag, "W/") ? etag + 2 : etag;
}

gchar *
luma_stream_version_tag_new (const gchar * scope, const gchar * validator)
{
  if (scope == NULL || validator == NULL || strchr (scope, ' ') != NULL)
    return NULL;
  return g_strconcat (scope, " ", validator, NULL);
}

gchar *
luma_stream_get_version (LumaStream * stream)
{
  const LumaStreamVersion *kept = &stream->version;

  return luma_stream_version_tag_new (kept->scope,
      kept->etag ? kept->etag : kept->last_modified);
}

/* An ETag is quoted (RFC 9110), a date is not. */
static gboolean
is_etag (const gchar * validator)
{
  return validator[0] == '"' || g_str_has_prefix (validator, "W/\"");
}

static gboolean
is_scope (const LumaStreamVersion * version, const gchar * scope, gsize length)
{
  return version->scope != NULL && strlen (version->scope) == length
      && strncmp (version->scope, scope, length) == 0;
}

/* Where @kept keeps the kind of validator the tag @version has (its ETag
 * or its date), if the tag is of a server @kept knows (the one answering,
 * or one that answered before); NULL if it is of another one, or no tag.
 * *@validator: the tag's. */
static gchar **
kept_validator (LumaStreamVersion * kept, const gchar * version,
    const gchar ** validator)
{
  const gchar *space = version ? strchr (version, ' ') : NULL;
  LumaStreamVersion *server = NULL;
  guint i;

  if (space == NULL || space == version || space[1] == '\0')
    return NULL;
  if (is_scope (kept, version, space - version))
    server = kept;
  for (i = 0; server == NULL && kept->others && i < kept->others->len; i++)
    if (is_scope (g_ptr_array_index (kept->others, i), version,
            space - version))
      server = g_ptr_array_index (kept->others, i);
  if (server == NULL)
    return NULL;
  *validator = space + 1;
  return is_etag (*validator) ? &server->etag : &server->last_modified;
}

void
luma_stream_expect_version (LumaStream * stream, const gchar * version)
{
  LumaStreamVersion *kept = &stream->version;
  const gchar *space = version ? strchr (version, ' ') : NULL;
  const gchar *validator;
  gchar **slot;

  /* told before any answer: the next answers are the tag's server's to
   * agree with, if they come from it */
  if (kept->scope == NULL && space != NULL && space != version)
    kept->scope = g_strndup (version, space - version);
  slot = kept_validator (kept, version, &validator);
  if (slot != NULL && *slot == NULL)
    *slot = g_strdup (validator);
}

gboolean
luma_stream_version_agrees (LumaStream * stream, const gchar * version)
{
  return luma_stream_version_tag_agrees (&stream->version, version);
}

gboolean
luma_stream_version_tag_agrees (LumaStreamVersion * kept, const gchar * version)
{
  const gchar *validator;
  gchar **slot = kept_validator (kept, version, &validator);

  if (slot == NULL || *slot == NULL)
    return TRUE;
  if (is_etag (validator))
    return strcmp (opaque_tag (*slot), opaque_tag (validator)) == 0;
  return strcmp (*slot, validator) == 0;
}

gboolean
luma_stream_check_version (LumaStreamVersion * version,
    SoupMessageHeaders * headers, GUri * answered, GError ** error)
{
  const gchar *etag = soup_message_headers_get_one (headers, "ETag");
  const gchar *modified = soup_message_headers_get_one (headers,
      "Last-Modified");
  g_autofree gchar *scope = version_scope (answered);
  gboolean changed = FALSE;
  const gchar *kind = NULL, *was = NULL, *now = NULL;

  /* another server's tags say nothing of this one's: the size alone ties
   * the two */
  if (version->scope == NULL)
    version->scope = g_steal_pointer (&scope);
  else if (strcmp (version->scope, scope) != 0)
    switch_scope (version, scope);

  if (etag != NULL && version->etag != NULL) {
    kind = "ETag";
    was = version->etag;
    now = etag;
    changed = strcmp (opaque_tag (was), opaque_tag (now)) != 0;
  } else if (modified != NULL && version->last_modified != NULL) {
    kind = "Last-Modified";
    was = version->last_modified;
    now = modified;
    changed = strcmp (was, now) != 0;
  }
  if (changed) {
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_CHANGED,
        _("The video on %s changed while it was being read (its %s was %s, "
            "then %s)"), g_uri_get_host (answered), kind, was, now);
    return FALSE;
  }
  if (version->etag == NULL)
    version->etag = g_strdup (etag);
  if (version->last_modified == NULL)
    version->last_modified = g_strdup (modified);
  return TRUE;
}

/* Sends the request and reads the answer's headers, within twice the
 * timeout whatever the host does: headers that trickle in a byte at a time
 * keep the inactivity timeout happy for ever. The body that follows may be
 * slow, as long as it is never silent for the timeout. */
static gboolean
send_request (LumaStream * stream, GCancellable * cancellable, GError ** error)
{
  LumaHttpRequest request = { "GET", stream->uri, NULL, stream->offset, FALSE };
  g_autoptr (LumaHttpDeadline) deadline = luma_http_deadline_new (cancellable,
      luma_http_request_deadline (stream->session));
  g_autoptr (GError) cause = NULL;

  stream->body = luma_http_send (stream->session, &request, &stream->msg,
      luma_http_deadline_get_cancellable (deadline), &cause);
  if (stream->body != NULL)
    return TRUE;
  if (luma_http_deadline_has_passed (deadline)) {
    /* like a silence: the request is tried again */
    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TRANSPORT,
        _("%s did not send its answer within %u seconds (twice the "
            "timeout)"), answering_host (stream),
        LUMA_HTTP_REQUEST_DEADLINE_FACTOR *
        soup_session_get_timeout (stream->session));
    return FALSE;
  }
  g_propagate_error (error, g_steal_pointer (&cause));
  return FALSE;
}

/* The file's size a 416 gives ("Content-Range: bytes *\/SIZE"), which
 * libsoup does not read; else LUMA_STREAM_SIZE_UNKNOWN. */
static guint64
unsatisfied_range_size (SoupMessage * msg)
{
  const gchar *range =
      soup_message_headers_get_one (soup_message_get_response_headers (msg),
      "Content-Range");
  guint64 size;

  if (range == NULL || !g_str_has_prefix (range, "bytes */")
      || !g_ascii_string_to_unsigned (range + strlen ("bytes */"), 10, 0,
          LUMA_STREAM_SIZE_UNKNOWN - 1, &size, NULL))
    return LUMA_STREAM_SIZE_UNKNOWN;
  return size;
}

/* Asking again from where an answer without a length ended, the size not
 * known yet: whatever comes says whether that was the end. */
static gboolean
at_unsized_end (LumaStream * stream)
{
  return stream->size == LUMA_STREAM_SIZE_UNKNOWN
      && stream->offset == stream->unsized_end;
}

static gboolean
at_end (LumaStream * stream)
{
  return stream->size != LUMA_STREAM_SIZE_UNKNOWN
      && stream->offset >= stream->size;
}

static gboolean
open_request (LumaStream * stream, GCancellable * cancellable, GError ** error)
{
  LumaStreamAnswer answer;

  stream->answer_end = LUMA_STREAM_SIZE_UNKNOWN;
  stream->retry_after = G_MAXUINT64;
  if (!send_request (stream, cancellable, error))
    return FALSE;
  stream->http_status = soup_message_get_status (stream->msg);

  /* Asked for the bytes from the end of the file on: there are none. */
  if (stream->http_status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE
      && stream->offset > 0) {
    if (!check_same_file (stream, unsatisfied_range_size (stream->msg), error))
      return FALSE;
    /* asked again where an answer without a length ended, and
     * nothing is there: that was the end of the file */
    if (at_unsized_end (stream))
      stream->size = stream->offset;
    if (at_end (stream))
      return TRUE;
  }
  /* of the successes, only a 200 (the file) and a 206 (a part
   * of it) carry the file's bytes: not a 202 (accepted, not done), a
   * 203 (content a proxy transformed), a 204 or 205 (none) */
  if (SOUP_STATUS_IS_SUCCESSFUL (stream->http_status)
      && stream->http_status != SOUP_STATUS_OK
      && stream->http_status != SOUP_STATUS_PARTIAL_CONTENT) {
    set_status_error (stream, error);
    return FALSE;
  }
  if (!SOUP_STATUS_IS_SUCCESSFUL (stream->http_status)) {
    stream->retry_after = luma_http_retry_after (stream->msg,
        (gint) stream->http_status);
    set_status_error (stream, error);
    return FALSE;
  }
  /* a web page is no video: the page of a CDN, a proxy or a captive
   * portal sent as a success would be played, and stored as the video */
  if (answer_is_html (stream->msg)) {
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_BLOCKED,
        _("The video host %s answered %u with a web page (text/html), not "
            "the video: the page of a CDN, a proxy or a captive portal"),
        answering_host (stream), stream->http_status);
    return FALSE;
  }
  /* the host that answered, which a redirect may have made another. A 200
   * (without a Content-Range) is the whole file whatever was asked: one
   * that ends before the offset tells the size, as a 416 does, and there
   * is nothing left to read (a seek to the end or beyond of a host that
   * ignores Range, before the size was known) */
  if (!luma_stream_check_answer (stream->http_status,
          soup_message_get_response_headers (stream->msg),
          stream->http_status == SOUP_STATUS_PARTIAL_CONTENT
          || soup_message_headers_get_one (soup_message_get_response_headers
              (stream->msg), "Content-Range") != NULL ? stream->offset : 0,
          g_uri_get_host (soup_message_get_uri (stream->msg)), &answer, error)
      || !check_same_file (stream, answer.size, error)
      || !luma_stream_check_version (&stream->version,
          soup_message_get_response_headers (stream->msg),
          soup_message_get_uri (stream->msg), error))
    return FALSE;
  if (at_end (stream))
    return TRUE;
  /* An answer that does not say where its body ends (chunked, or ended by
   * closing) is read no further than the size an earlier answer gave:
   * what comes after it is no part of that file. */
  stream->answer_end = answer.end != LUMA_STREAM_SIZE_UNKNOWN ? answer.end
      : stream->size;
  stream->answer_from = stream->offset;
  /* an answer that goes on where the last one ended (a file sent
   * in pieces, a drop) goes on with its window: only a new start (the
   * first answer, a seek, one after a stall) begins one, or a host that
   * trickles one small answer after another would never be cut */
  if (stream->pace_fresh)
    start_pace (stream);
  stream->pace_fresh = FALSE;
  return skip_to_offset (stream, answer.start, cancellable, error);
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
      || g_error_matches (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TOO_SLOW)
      || (g_error_matches (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_HTTP)
      && SOUP_STATUS_IS_SERVER_ERROR (stream->http_status));
}

/* The open answer has given all its range, and the file goes on: a server
 * may send a file in pieces, each asked for again from where it stopped. */
static gboolean
answer_spent (LumaStream * stream)
{
  return stream->body != NULL
      && stream->answer_end != LUMA_STREAM_SIZE_UNKNOWN
      && stream->offset >= stream->answer_end && !at_end (stream);
}

static void
set_throttled_error (LumaStream * stream, GError ** error, guint waits,
    GError * cause)
{
  g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_THROTTLED,
      g_dngettext (GETTEXT_PACKAGE,
          "The video host %s still asks to wait after %u wait: %s",
          "The video host %s still asks to wait after %u waits: %s", waits),
      answering_host (stream), waits, cause->message);
}

/* As long as the host asked (Retry-After), else a growing wait; within
 * bounds either way. */
static guint64
throttle_delay (LumaStream * stream, guint waits)
{
  guint64 delay = stream->retry_after;

  if (delay == G_MAXUINT64)
    delay = luma_http_backoff (THROTTLE_BACKOFF_BASE_MS, waits);
  return CLAMP (delay, RESUME_BACKOFF_BASE_MS, THROTTLE_WAIT_CAP_MS);
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
            attempts), answering_host (stream), attempts, cause->message);
  else
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_READ,
        g_dngettext (GETTEXT_PACKAGE,
            "Reading the video from %s failed at byte %" PRIu64
            " after %u attempt: %s",
            "Reading the video from %s failed at byte %" PRIu64
            " after %u attempts: %s", attempts), answering_host (stream),
        stream->offset, attempts, cause->message);
}

/* After the last byte of the file the answer is closed at once, not when
 * the source stops (GstBaseSrc knows the size and asks for no read past
 * it): libsoup gives a connection to the next request, of this source or
 * another, only once a read has seen the end of the answer. The read that
 * looks never waits: an answer whose end has not arrived yet (the last
 * chunk of a chunked one) just loses its connection, as before. */
static void
finish_request (LumaStream * stream)
{
  guint8 past_the_end;

  if (G_IS_POLLABLE_INPUT_STREAM (stream->body))
    g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM
        (stream->body), &past_the_end, 1, NULL, NULL);
  close_request (stream);
}

/* read_body ()'s answer for an answer without a length that ended after
 * giving bytes: asked again from there, at once */
#define READ_BODY_ASK_AGAIN (-2)

/* @cause refused the request that asked again where an answer without a
 * length ended: a 4xx, not a server's trouble worth retrying. An expired
 * URL (403, 404, 410) is renewed first, as anywhere else in the file (the
 * answer may have been cut just as its URL expired): only a renewed URL
 * that refuses too leaves the end unconfirmed. */
static gboolean
ended_unconfirmed (LumaStream * stream, const GError * cause,
    GCancellable * cancellable)
{
  if (!at_unsized_end (stream) || g_cancellable_is_cancelled (cancellable)
      || SOUP_STATUS_IS_SERVER_ERROR (stream->http_status))
    return FALSE;
  if (g_error_matches (cause, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_EXPIRED))
    return stream->renewed && stream->url_bytes == 0;
  return g_error_matches (cause, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_HTTP)
      || g_error_matches (cause, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_BLOCKED);
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
  /* never past the range the answer said it holds */
  if (stream->answer_end != LUMA_STREAM_SIZE_UNKNOWN)
    size = MIN (size, stream->answer_end - stream->offset);
  n = read_paced (stream, data, size, FALSE, cancellable, error);
  if (n > 0) {
    stream->offset += n;
    stream->read_end = MAX (stream->read_end, stream->offset);
    stream->url_bytes += n;
    if (at_end (stream))
      finish_request (stream);
    return n;
  }
  /* an answer without a length (chunked, or ended by closing)
   * ends where its connection closes, and libsoup takes a close between
   * two chunks for the last chunk: the end of the file only once a request
   * from there gets nothing more (a 416, or an answer that gives no byte
   * from there; a host that ignores Range sends the file again for it). */
  if (n == 0 && stream->size == LUMA_STREAM_SIZE_UNKNOWN) {
    /* an answer that gave nothing is the confirmation only when
     * it was the request asked again from where another one ended: the
     * first answer cut before its first byte is a cut like any other */
    if (stream->offset == stream->answer_from && at_unsized_end (stream)) {
      stream->size = stream->offset;
      finish_request (stream);
      return 0;
    }
    stream->unsized_end = stream->offset;
    return READ_BODY_ASK_AGAIN;
  }
  if (n == 0) {
    g_set_error (&cause, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
        _("the connection closed before the end of the file"));
    luma_http_set_transport_error (error, cause, stream->uri);
  }
  return -1;
}

gssize
luma_stream_read (LumaStream * stream, guint8 * data, gsize size,
    GCancellable * cancellable, GError ** error)
{
  /* a host that trickles gives a byte to each read, each asked again
   * after a stall: the stalls in a row are attempts already spent, or
   * the retries would never run out */
  guint attempt = stream->slow_windows, waits = 0;

  for (;;) {
    g_autoptr (GError) cause = NULL;
    gssize n = -1;

    if (answer_spent (stream))
      close_request (stream);
    if (luma_stream_open (stream, cancellable, &cause))
      n = read_body (stream, data, size, cancellable, &cause);
    if (n >= 0)
      return n;
    if (n == READ_BODY_ASK_AGAIN) {
      close_request (stream);
      continue;
    }

    close_request (stream);
    if (g_error_matches (cause, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_THROTTLED)
        && !g_cancellable_is_cancelled (cancellable)) {
      if (waits >= stream->retries + THROTTLE_EXTRA_WAITS) {
        set_throttled_error (stream, error, waits, cause);
        return -1;
      }
      if (!luma_http_sleep (throttle_delay (stream, waits++), cancellable,
              error))
        return -1;
      continue;
    }
    /* a host that refuses the request that would confirm where an answer
     * without a length ended (a Range it will not serve): that end stands,
     * as it would without the request, but unconfirmed: the size stays
     * unknown (and the video is not stored as whole) */
    if (ended_unconfirmed (stream, cause, cancellable))
      return 0;
    if (!is_worth_retrying (stream, cause)
        || g_cancellable_is_cancelled (cancellable)) {
      g_propagate_error (error, g_steal_pointer (&cause));
      return -1;
    }
    if (attempt >= stream->retries) {
      /* nor does a host whose server errors (or silence) outlast
       * the retries of that request: the end stands, unconfirmed, as for
       * a refusal (README: "played but not kept") */
      if (at_unsized_end (stream))
        return 0;
      set_gave_up_error (stream, error, attempt + 1, cause);
      return -1;
    }
    if (!luma_http_sleep (luma_http_backoff (RESUME_BACKOFF_BASE_MS, attempt),
            cancellable, error))
      return -1;
    attempt++;
  }
}
