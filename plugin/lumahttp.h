/* gst-luma: what the API client and the streamer share of HTTP
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

#define LUMA_HTTP_ERROR (luma_http_error_quark ())
GQuark luma_http_error_quark (void);

typedef enum {
  LUMA_HTTP_ERROR_BAD_URL,          /* not an absolute http(s) URL */
  LUMA_HTTP_ERROR_REDIRECT,         /* a redirect lumasrc will not follow */
  LUMA_HTTP_ERROR_TRANSPORT,        /* DNS, connection, TLS, timeout, drop */
  LUMA_HTTP_ERROR_TOO_LARGE,        /* an answer larger than asked for */
  LUMA_HTTP_ERROR_TOO_SLOW,         /* an answer that takes too long to come */
  LUMA_HTTP_ERROR_ENCODING,         /* a body that cannot be decoded */
  LUMA_HTTP_ERROR_PROXY_AUTH,       /* a proxy on the way asks for credentials */
} LumaHttpError;

#define LUMA_HTTP_MAX_REDIRECTS 10

typedef struct {
  const gchar *user_agent;
  guint timeout;                /* seconds of inactivity, 0 = none */
  GProxyResolver *proxy_resolver;       /* NULL: the system's */
  gboolean ssl_strict;
} LumaHttpConfig;

SoupSession *luma_http_session_new (const LumaHttpConfig * config);
/* What a shared session carries. */
typedef enum {
  LUMA_HTTP_FOR_API,            /* the API's small requests: the polls of
                                 * many sources share a few connections */
  LUMA_HTTP_FOR_VIDEO,          /* videos: a finished clip's connection
                                 * serves the next from the same host */
} LumaHttpUse;

/* A session shared by every caller in the process that asks with the same
 * @config, @proxy_text (luma_proxy_settings_text ()) and @use. */
SoupSession *luma_http_session_shared (const LumaHttpConfig * config,
    const gchar * proxy_text, LumaHttpUse use);

GUri *luma_http_parse_url (const gchar * url, GError ** error);
/* A base URL to append @path_end to (no query, fragment or credentials;
 * its trailing slashes dropped). */
GUri *luma_http_parse_base_url (const gchar * url, const gchar * path_end,
    GError ** error);

/* What one request asks for. The bearer token goes only to the origin
 * (scheme, host, port) of @uri, never to a host a redirect leads to. */
typedef struct {
  const gchar *method;
  GUri *uri;
  const gchar *bearer;          /* nullable */
  guint64 range_start;          /* 0: no Range header */
  gboolean json;                /* send Content-Type/Accept: application/json,
                                 * and Accept-Encoding: gzip (read the body
                                 * with luma_http_read_body(), which decodes) */
  GBytes *body;                 /* a JSON body to send, or NULL */
  gboolean no_redirect;         /* a redirect is an error: a billed POST is
                                 * never sent twice */
  gboolean *body_sent;          /* nullable: set once the whole body went out */
} LumaHttpRequest;

GInputStream *luma_http_send (SoupSession * session,
    const LumaHttpRequest * request, SoupMessage ** final_message,
    GCancellable * cancellable, GError ** error);
/* The same, and on failure says in @unreachable (nullable) whether the host
 * could not be reached at all: no such host name, nobody listening. */
GInputStream *luma_http_send_full (SoupSession * session,
    const LumaHttpRequest * request, SoupMessage ** final_message,
    gboolean * unreachable, GCancellable * cancellable, GError ** error);

/* Same scheme, host and port (the default port of the scheme if none). */
gboolean luma_http_same_origin (GUri * a, GUri * b);

/* A cancellable for one request that is cancelled when @parent is, or at
 * @deadline (g_get_monotonic_time() microseconds; G_MAXINT64: never),
 * whichever comes first. The timers of all requests run in one shared
 * thread. */
typedef struct _LumaHttpDeadline LumaHttpDeadline;

/* A request must be over, connection, headers and body, within this many
 * times the session's timeout: the timeout only bounds silence, and a server
 * that trickles a byte now and then would hold the wait forever. Twice, so
 * that a plain silence is still reported as the timeout it is. */
#define LUMA_HTTP_REQUEST_DEADLINE_FACTOR 2

gint64 luma_http_request_deadline (SoupSession * session);
/* The monotonic time @seconds after @from; G_MAXINT64 (never) for 0, a
 * wait without a bound (wait-timeout's 0). */
gint64 luma_http_time_after (gint64 from, guint seconds);
/* Whether a wait of @delay_ms from now is over by @deadline. */
gboolean luma_http_wait_fits (gint64 deadline, guint64 delay_ms);

LumaHttpDeadline *luma_http_deadline_new (GCancellable * parent,
    gint64 deadline);
/* The same cancellable, for another request: uncancelled (unless @parent
 * is cancelled) and cancelled at @deadline. Only between requests. */
void luma_http_deadline_rearm (LumaHttpDeadline * self, gint64 deadline);
/* Makes a deadline that was made never due (G_MAXINT64) due at
 * @deadline, once (later calls change nothing): unlike a rearm, while a
 * request uses the cancellable (for the answer alone, once the request's
 * body is sent). */
void luma_http_deadline_set (LumaHttpDeadline * self, gint64 deadline);
GCancellable *luma_http_deadline_get_cancellable (LumaHttpDeadline * self);
/* TRUE when the deadline cancelled it, and @parent was not cancelled */
gboolean luma_http_deadline_has_passed (LumaHttpDeadline * self);
/* The error of a request whose deadline passed: @host did not answer
 * within LUMA_HTTP_REQUEST_DEADLINE_FACTOR times @timeout seconds. */
void luma_http_set_deadline_error (GError ** error, const gchar * host,
    guint timeout);
void luma_http_deadline_free (LumaHttpDeadline * self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LumaHttpDeadline, luma_http_deadline_free)

gboolean luma_http_sleep (guint64 milliseconds, GCancellable * cancellable,
    GError ** error);

G_END_DECLS

G_BEGIN_DECLS
/* The error of a 407: a proxy on the way to @host asks for credentials
 * (the request went no further). */
void luma_http_set_proxy_auth_error (GError ** error, const gchar * host);
void luma_http_set_transport_error (GError ** error, GError * cause,
    GUri * uri);
guint64 luma_http_backoff (guint64 base_ms, guint attempt);

/* No Retry-After (or one that cannot be read): G_MAXUINT64. */
#define LUMA_HTTP_RETRY_AFTER_NONE G_MAXUINT64
/* A Retry-After is never followed for longer than this (milliseconds). */
#define LUMA_HTTP_RETRY_AFTER_MAX_MS (3600 * 1000)

guint64 luma_http_parse_retry_after (const gchar * value, GDateTime * now);
guint64 luma_http_retry_after (SoupMessage * msg, gint code);
GBytes *luma_http_read_body (SoupMessage * msg, GInputStream * body,
    gsize max_size, guint max_seconds, GCancellable * cancellable,
    GError ** error);
G_END_DECLS
