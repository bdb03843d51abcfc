/* gst-luma: what the API client and the streamer share of HTTP
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Redirects are followed here rather than by libsoup so that each hop can be
 * checked: only http(s), a bounded number, and the bearer token only ever
 * sent to the origin it was meant for (Debian's libsoup carries request
 * headers to any host a redirect names).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumahttp.h"
#include "lumatext.h"

#include <glib/gi18n-lib.h>

/* *INDENT-OFF* */
G_DEFINE_QUARK (luma-http-error-quark, luma_http_error);
/* *INDENT-ON* */

static gboolean
accept_any_certificate (SoupMessage * msg, GTlsCertificate * certificate,
    GTlsCertificateFlags errors, gpointer user_data)
{
  return TRUE;
}

/* ssl-strict=false: every message of the session takes any certificate. */
static void
on_request_queued (SoupSession * session, SoupMessage * msg,
    gpointer user_data)
{
  g_signal_connect (msg, "accept-certificate",
      G_CALLBACK (accept_any_certificate), NULL);
}

SoupSession *
luma_http_session_new (const LumaHttpConfig * config)
{
  SoupSession *session = soup_session_new_with_options ("user-agent",
      config->user_agent, "timeout", config->timeout, NULL);

  /* Video must arrive as the bytes the server holds: offsets and sizes are
   * byte positions in the file, which a content decoder would break. */
  soup_session_remove_feature_by_type (session, SOUP_TYPE_CONTENT_DECODER);

  if (config->proxy != NULL && config->proxy[0] != '\0') {
    g_autoptr (GProxyResolver) resolver =
        g_simple_proxy_resolver_new (config->proxy, NULL);

    soup_session_set_proxy_resolver (session, resolver);
  }
  if (!config->ssl_strict)
    g_signal_connect (session, "request-queued",
        G_CALLBACK (on_request_queued), NULL);
  return session;
}

static gboolean
is_http_scheme (const gchar * scheme)
{
  return scheme != NULL && (g_ascii_strcasecmp (scheme, "http") == 0
      || g_ascii_strcasecmp (scheme, "https") == 0);
}

GUri *
luma_http_parse_url (const gchar * url, GError ** error)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) parse_error = NULL;

  uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, &parse_error);
  if (uri == NULL) {
    g_autofree gchar *safe = luma_text_make_safe (url, -1);

    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_BAD_URL,
        _("\"%s\" is not a valid URL: %s"), safe, parse_error->message);
    return NULL;
  }
  if (!is_http_scheme (g_uri_get_scheme (uri)) || g_uri_get_host (uri) == NULL
      || g_uri_get_host (uri)[0] == '\0') {
    g_autofree gchar *safe = luma_text_make_safe (url, -1);

    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_BAD_URL,
        _("\"%s\" is not an http or https URL"), safe);
    return NULL;
  }
  return g_steal_pointer (&uri);
}

static gint
effective_port (GUri * uri)
{
  if (g_uri_get_port (uri) > 0)
    return g_uri_get_port (uri);
  return g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0 ? 443 : 80;
}

static gboolean
same_origin (GUri * a, GUri * b)
{
  return g_ascii_strcasecmp (g_uri_get_scheme (a), g_uri_get_scheme (b)) == 0
      && g_ascii_strcasecmp (g_uri_get_host (a), g_uri_get_host (b)) == 0
      && effective_port (a) == effective_port (b);
}

static SoupMessage *
build_message (const LumaHttpRequest * request, GUri * uri)
{
  SoupMessage *msg = soup_message_new_from_uri (request->method, uri);
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);

  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  if (request->bearer != NULL && same_origin (uri, request->uri)) {
    gchar *value = g_strconcat ("Bearer ", request->bearer, NULL);

    soup_message_headers_replace (headers, "Authorization", value);
    luma_secret_free (value);
  }
  if (request->range_start > 0)
    soup_message_headers_set_range (headers, request->range_start, -1);
  if (request->json) {
    soup_message_headers_replace (headers, "Accept", "application/json");
    soup_message_headers_set_content_type (headers, "application/json", NULL);
  }
  return msg;
}

/* Turns libsoup's and GIO's transport errors into one that names the host
 * and the cause in words a user can act on. */
void
luma_http_set_transport_error (GError ** error, GError * cause, GUri * uri)
{
  const gchar *host = g_uri_get_host (uri);

  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_propagate_error (error, g_error_copy (cause));
  } else if (cause->domain == G_RESOLVER_ERROR) {
    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TRANSPORT,
        _("Could not resolve host name \"%s\": %s"), host, cause->message);
  } else if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)) {
    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TRANSPORT,
        _("Connection refused by %s:%d"), host, effective_port (uri));
  } else if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TRANSPORT,
        _("%s stopped answering (timeout): %s"), host, cause->message);
  } else if (cause->domain == G_TLS_ERROR) {
    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TRANSPORT,
        _("Secure connection to %s failed: %s"), host, cause->message);
  } else {
    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TRANSPORT,
        _("Network error with %s: %s"), host, cause->message);
  }
}

static gboolean
is_followed_redirect (guint status)
{
  return status == 301 || status == 302 || status == 303 || status == 307
      || status == 308;
}

static GUri *
next_hop (SoupMessage * msg, guint hops, GError ** error)
{
  const gchar *location =
      soup_message_headers_get_one (soup_message_get_response_headers (msg),
      "Location");
  g_autoptr (GUri) target = NULL;

  if (location == NULL) {
    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_REDIRECT,
        _("%s answered a redirect without a Location"),
        g_uri_get_host (soup_message_get_uri (msg)));
    return NULL;
  }
  if (hops >= LUMA_HTTP_MAX_REDIRECTS) {
    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_REDIRECT,
        _("More than %d redirects (a redirect loop?)"),
        LUMA_HTTP_MAX_REDIRECTS);
    return NULL;
  }
  target = g_uri_parse_relative (soup_message_get_uri (msg), location,
      SOUP_HTTP_URI_FLAGS, NULL);
  if (target == NULL || !is_http_scheme (g_uri_get_scheme (target))
      || g_uri_get_host (target) == NULL) {
    g_autofree gchar *safe = luma_text_make_safe (location, -1);

    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_REDIRECT,
        _("Refusing a redirect to \"%s\": only http and https are followed"),
        safe);
    return NULL;
  }
  return g_steal_pointer (&target);
}

/**
 * luma_http_send:
 * @final_message: (out) (transfer full): the message of the answer returned
 *
 * Sends @request, following redirects, and returns the body of the final
 * answer whatever its status: what a status means is the caller's business.
 */
GInputStream *
luma_http_send (SoupSession * session, const LumaHttpRequest * request,
    SoupMessage ** final_message, GCancellable * cancellable, GError ** error)
{
  g_autoptr (GUri) uri = g_uri_ref (request->uri);
  guint hops;

  for (hops = 0;; hops++) {
    g_autoptr (SoupMessage) msg = build_message (request, uri);
    g_autoptr (GError) cause = NULL;
    g_autoptr (GInputStream) body = NULL;
    GUri *target;

    body = soup_session_send (session, msg, cancellable, &cause);
    if (body == NULL) {
      luma_http_set_transport_error (error, cause, uri);
      return NULL;
    }
    if (!is_followed_redirect (soup_message_get_status (msg))) {
      *final_message = g_steal_pointer (&msg);
      return g_steal_pointer (&body);
    }

    g_input_stream_close (body, NULL, NULL);
    target = next_hop (msg, hops, error);
    if (target == NULL)
      return NULL;
    g_uri_unref (uri);
    uri = target;
  }
}

/* Sleeps, but wakes up at once when @cancellable is cancelled, so that a
 * state change never waits for the rest of a poll interval. */
gboolean
luma_http_sleep (guint64 milliseconds, GCancellable * cancellable,
    GError ** error)
{
  GPollFD pollfd;
  gint64 deadline = g_get_monotonic_time () + milliseconds * 1000;

  if (!g_cancellable_make_pollfd (cancellable, &pollfd)) {
    g_usleep (milliseconds * 1000);
    return TRUE;
  }
  while (!g_cancellable_is_cancelled (cancellable)) {
    gint64 left = deadline - g_get_monotonic_time ();

    if (left <= 0)
      break;
    g_poll (&pollfd, 1, (gint) MIN ((left + 999) / 1000, G_MAXINT));
  }
  g_cancellable_release_fd (cancellable);
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

#define LUMA_HTTP_BACKOFF_CAP_MS (5 * 60 * 1000)

/* base, 2 x base, 4 x base ... up to five minutes (or base, if longer). */
guint64
luma_http_backoff (guint64 base_ms, guint attempt)
{
  guint64 cap = MAX (base_ms, LUMA_HTTP_BACKOFF_CAP_MS);
  guint shift = MIN (attempt, 20);

  return MIN (MAX (base_ms, 1) << shift, cap);
}

/* Retry-After in milliseconds (seconds or an HTTP date), G_MAXUINT64 when
 * the answer has none that can be read. */
guint64
luma_http_retry_after (SoupMessage * msg)
{
  const gchar *value =
      soup_message_headers_get_one (soup_message_get_response_headers (msg),
      "Retry-After");
  guint64 seconds;
  g_autoptr (GDateTime) when = NULL;
  g_autoptr (GDateTime) now = NULL;
  GTimeSpan span;

  if (value == NULL)
    return G_MAXUINT64;
  if (g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT32, &seconds, NULL))
    return seconds * 1000;

  when = soup_date_time_new_from_http_string (value);
  if (when == NULL)
    return G_MAXUINT64;
  now = g_date_time_new_now_utc ();
  span = g_date_time_difference (when, now);
  return span > 0 ? (guint64) span / 1000 : 0;
}

/* Reads a whole answer, but never more than @max_size bytes: a body that is
 * larger (by Content-Length, or as it comes) is refused without being kept.
 * The inactivity timeout does not stop a server that sends a byte now and
 * then, so the whole body must also come within @max_seconds (0: no limit). */
GBytes *
luma_http_read_body (SoupMessage * msg, GInputStream * body, gsize max_size,
    guint max_seconds, GCancellable * cancellable, GError ** error)
{
  gint64 deadline = max_seconds == 0 ? G_MAXINT64
      : g_get_monotonic_time () + max_seconds * G_USEC_PER_SEC;
  goffset length =
      soup_message_headers_get_content_length (soup_message_get_response_headers
      (msg));
  g_autoptr (GByteArray) data = g_byte_array_new ();
  guint8 chunk[16384];

  if (length > (goffset) max_size)
    goto too_large;

  for (;;) {
    g_autoptr (GError) cause = NULL;
    gssize n = g_input_stream_read (body, chunk, sizeof (chunk), cancellable,
        &cause);

    if (n < 0) {
      luma_http_set_transport_error (error, cause, soup_message_get_uri (msg));
      return NULL;
    }
    if (n == 0)
      break;
    if (data->len + (gsize) n > max_size)
      goto too_large;
    g_byte_array_append (data, chunk, n);
    if (g_get_monotonic_time () > deadline) {
      g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TOO_SLOW,
          _("%s took more than %u seconds to send its answer"),
          g_uri_get_host (soup_message_get_uri (msg)), max_seconds);
      return NULL;
    }
  }
  return g_byte_array_free_to_bytes (g_steal_pointer (&data));

too_large:
  g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TOO_LARGE,
      _("The answer of %s is larger than %zu bytes"),
      g_uri_get_host (soup_message_get_uri (msg)), max_size);
  return NULL;
}
