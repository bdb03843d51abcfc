/* gst-luma: what the API client and the streamer share of HTTP
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Redirects are followed here rather than by libsoup so that each hop can be
 * checked: only http(s), never from https down to http, a bounded number,
 * and the bearer token only ever sent to the origin it was meant for
 * (Debian's libsoup carries request headers to any host a redirect names).
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
on_request_queued (SoupSession * session, SoupMessage * msg, gpointer user_data)
{
  g_signal_connect (msg, "accept-certificate",
      G_CALLBACK (accept_any_certificate), NULL);
}

/* A session belongs to the main context that is the thread's default when
 * it is made, and libsoup wakes that context at every step of every
 * request, even a synchronous one. Ours only ever send synchronously, from
 * the streaming thread or the shared polling threads: given a context of
 * their own that nobody runs, they never wake the application's main loop
 * (or contend for its lock) at each poll. */
static SoupSession *
new_session_in_own_context (const LumaHttpConfig * config, gint max_conns)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  SoupSession *session;

  g_main_context_push_thread_default (context);
  if (max_conns > 0)
    session = soup_session_new_with_options ("user-agent", config->user_agent,
        "timeout", config->timeout, "max-conns", max_conns,
        "max-conns-per-host", max_conns, NULL);
  else
    session = soup_session_new_with_options ("user-agent", config->user_agent,
        "timeout", config->timeout, NULL);
  g_main_context_pop_thread_default (context);
  return session;
}

/* @max_conns: 0 for libsoup's limits */
static SoupSession *
make_session (const LumaHttpConfig * config, gint max_conns)
{
  SoupSession *session = new_session_in_own_context (config, max_conns);

  /* Video must arrive as the bytes the server holds: offsets and sizes are
   * byte positions in the file, which a content decoder would break. */
  soup_session_remove_feature_by_type (session, SOUP_TYPE_CONTENT_DECODER);

  /* luma_proxy_resolver_new () makes it from the settings */
  if (config->proxy_resolver != NULL)
    soup_session_set_proxy_resolver (session, config->proxy_resolver);
  if (!config->ssl_strict)
    g_signal_connect (session, "request-queued",
        G_CALLBACK (on_request_queued), NULL);
  return session;
}

SoupSession *
luma_http_session_new (const LumaHttpConfig * config)
{
  return make_session (config, 0);
}

/* Connections the API's shared session may open to one host: the few its
 * polls need, and the task creations and uploads of many sources at once. */
#define API_SESSION_MAX_CONNS 256

/* The video's has no bound of its own: each source streams over one
 * connection at a time, and a paused stream keeps its connection, so that
 * a bound would let hundreds of paused clips (an editor's timeline) hold
 * up the next one. What sharing gains is the connections of clips that
 * have finished: the next clip from the same host starts without a new
 * connection (TCP, TLS, proxy) of its own. */
#define VIDEO_SESSION_MAX_CONNS G_MAXINT

/* Kept for the life of the process: a session is made once per use and
 * set of settings, of which a process has one or a few. The API's and the
 * video's are never the same session: the two never share a connection. */
SoupSession *
luma_http_session_shared (const LumaHttpConfig * config,
    const gchar * proxy_text, LumaHttpUse use)
{
  static GMutex lock;
  static GHashTable *sessions;
  const gchar *user_agent = config->user_agent ? config->user_agent : "";
  g_autofree gchar *key = g_strdup_printf ("%d|%zu:%s|%u|%d|%s", use,
      strlen (user_agent), user_agent, config->timeout, config->ssl_strict,
      proxy_text);
  SoupSession *session;

  g_mutex_lock (&lock);
  if (sessions == NULL)
    sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        g_object_unref);
  session = g_hash_table_lookup (sessions, key);
  if (session == NULL) {
    session = make_session (config, use == LUMA_HTTP_FOR_VIDEO ?
        VIDEO_SESSION_MAX_CONNS : API_SESSION_MAX_CONNS);
    g_hash_table_insert (sessions, g_steal_pointer (&key), session);
  }
  g_object_ref (session);
  g_mutex_unlock (&lock);
  return session;
}

static gboolean
is_http_scheme (const gchar * scheme)
{
  return scheme != NULL && (g_ascii_strcasecmp (scheme, "http") == 0
      || g_ascii_strcasecmp (scheme, "https") == 0);
}

/* @uri as safe text for a message, never with its credentials: they may
 * be a password, or the key. */
static gchar *
text_without_credentials (GUri * uri)
{
  g_autofree gchar *shown = g_uri_to_string_partial (uri,
      G_URI_HIDE_USERINFO);

  return luma_text_make_safe (shown, -1);
}

GUri *
luma_http_parse_url (const gchar * url, GError ** error)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) parse_error = NULL;

  uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, &parse_error);
  if (uri == NULL && strchr (url, '@') != NULL) {
    /* not quoted, nor GLib's message, which quotes a part of it: what
     * precedes the '@' may be a password ("user:s3cret/x@host") */
    g_set_error_literal (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_BAD_URL,
        _("The URL is not valid, and it may hold credentials (user@): it "
            "is not shown"));
    return NULL;
  }
  if (uri == NULL) {
    g_autofree gchar *safe = luma_text_make_safe (url, -1);

    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_BAD_URL,
        _("\"%s\" is not a valid URL: %s"), safe, parse_error->message);
    return NULL;
  }
  if (!is_http_scheme (g_uri_get_scheme (uri)) || g_uri_get_host (uri) == NULL
      || g_uri_get_host (uri)[0] == '\0') {
    g_autofree gchar *safe = text_without_credentials (uri);

    /* nor what the parser took for a path or a host ("https:/user:KEY@h",
     * a slash too few): an '@' left may follow a password */
    if (strchr (safe, '@') != NULL) {
      g_set_error_literal (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_BAD_URL,
          _("The URL is not an http or https URL with a host, and it may "
              "hold credentials (user@): it is not shown"));
      return NULL;
    }
    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_BAD_URL,
        _("\"%s\" is not an http or https URL"), safe);
    return NULL;
  }
  return g_steal_pointer (&uri);
}

/* The base URL is parsed, not joined as a string: a query, a fragment or
 * credentials in it would change where the key goes (with a fragment,
 * everything after it, our path included, would never reach the server).
 * Its path stays as it was written, %-escapes and all. */
GUri *
luma_http_parse_base_url (const gchar * url, const gchar * path_end,
    GError ** error)
{
  g_autoptr (GUri) base = luma_http_parse_url (url, error);
  g_autofree gchar *path = NULL;
  gsize length;

  if (base == NULL)
    return NULL;
  if (g_uri_get_query (base) != NULL || g_uri_get_fragment (base) != NULL
      || g_uri_get_userinfo (base) != NULL) {
    g_autofree gchar *safe = text_without_credentials (base);

    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_BAD_URL,
        _("\"%s\" is not a base URL: it may not hold a query (?), a fragment "
            "(#) or credentials (user@)"), safe);
    return NULL;
  }
  /* no server listens on port 0 (and a connection error would name the
   * scheme's default port instead) */
  if (g_uri_get_port (base) == 0) {
    g_autofree gchar *safe = luma_text_make_safe (url, -1);

    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_BAD_URL,
        _("\"%s\" is not a base URL: port 0"), safe);
    return NULL;
  }
  path = g_strdup (g_uri_get_path (base));
  for (length = strlen (path); length > 0 && path[length - 1] == '/'; length--)
    path[length - 1] = '\0';
  {
    g_autofree gchar *full = g_strconcat (path, path_end, NULL);

    return g_uri_build (G_URI_FLAGS_ENCODED_PATH, g_uri_get_scheme (base),
        NULL, g_uri_get_host (base), g_uri_get_port (base), full, NULL, NULL);
  }
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

gboolean
luma_http_same_origin (GUri * a, GUri * b)
{
  return same_origin (a, b);
}

/* The server has the whole request: from here on, what it did with it can
 * only be learnt from its answer. */
static void
mark_sent (gboolean * sent)
{
  *sent = TRUE;
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
    /* decoded by luma_http_read_body(); the session has no content
     * decoder, so nothing else asks for compressed answers */
    soup_message_headers_replace (headers, "Accept-Encoding", "gzip");
  }
  if (request->body != NULL)
    soup_message_set_request_body_from_bytes (msg, "application/json",
        request->body);
  if (request->body_sent != NULL)
    g_signal_connect_swapped (msg, "wrote-body", G_CALLBACK (mark_sent),
        request->body_sent);
  return msg;
}

void
luma_http_set_proxy_auth_error (GError ** error, const gchar * host)
{
  g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_PROXY_AUTH,
      _("A proxy on the way to %s asks for credentials (407 Proxy "
          "Authentication Required): give them in the proxy's URL "
          "(http://user:password@host:port), in the proxy property or "
          "http_proxy / https_proxy"), host);
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

/* Not a passing trouble but, more likely, a wrong URL: no such host name,
 * or nobody listening on the port. */
static gboolean
is_unreachable (GError * cause)
{
  return g_error_matches (cause, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND)
      || g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
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
  /* What came over TLS must not go on in clear text, where anyone on the
   * way could read or change it. */
  if (g_ascii_strcasecmp (g_uri_get_scheme (soup_message_get_uri (msg)),
          "https") == 0
      && g_ascii_strcasecmp (g_uri_get_scheme (target), "http") == 0) {
    g_autofree gchar *from =
        g_uri_to_string_partial (soup_message_get_uri (msg),
        G_URI_HIDE_PASSWORD);
    g_autofree gchar *to = g_uri_to_string_partial (target,
        G_URI_HIDE_PASSWORD);

    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_REDIRECT,
        _("Refusing a redirect from %s to %s: it would leave https for "
            "plain http"), from, to);
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
  return luma_http_send_full (session, request, final_message, NULL,
      cancellable, error);
}

GInputStream *
luma_http_send_full (SoupSession * session, const LumaHttpRequest * request,
    SoupMessage ** final_message, gboolean * unreachable,
    GCancellable * cancellable, GError ** error)
{
  g_autoptr (GUri) uri = g_uri_ref (request->uri);
  guint hops;

  if (unreachable != NULL)
    *unreachable = FALSE;
  for (hops = 0;; hops++) {
    g_autoptr (SoupMessage) msg = build_message (request, uri);
    g_autoptr (GError) cause = NULL;
    g_autoptr (GInputStream) body = NULL;
    GUri *target;

    body = soup_session_send (session, msg, cancellable, &cause);
    if (body == NULL) {
      if (unreachable != NULL)
        *unreachable = is_unreachable (cause);
      luma_http_set_transport_error (error, cause, uri);
      return NULL;
    }
    /* the proxy's answer, not the host's: the request went no further */
    if (soup_message_get_status (msg) ==
        SOUP_STATUS_PROXY_AUTHENTICATION_REQUIRED) {
      g_input_stream_close (body, NULL, NULL);
      luma_http_set_proxy_auth_error (error, g_uri_get_host (uri));
      return NULL;
    }
    if (!is_followed_redirect (soup_message_get_status (msg))) {
      *final_message = g_steal_pointer (&msg);
      return g_steal_pointer (&body);
    }

    g_input_stream_close (body, NULL, NULL);
    if (request->no_redirect) {
      g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_REDIRECT,
          _("%s answered %u (a redirect) to a request that is not sent "
              "twice"), g_uri_get_host (uri), soup_message_get_status (msg));
      return NULL;
    }
    target = next_hop (msg, hops, error);
    if (target == NULL)
      return NULL;
    g_uri_unref (uri);
    uri = target;
  }
}

/* ----- deadlines ----- */

/* The deadlines of every request in the process are kept in one list,
 * earliest first, and fire in one thread of their own: a request blocks its
 * thread in libsoup's sync API, so its timer must fire elsewhere, and one
 * thread is plenty for the hundreds of timers that many sources waiting at
 * once need. The thread lives as long as the process.
 *
 * Arming a deadline costs a lock and a list insertion: the thread is woken
 * only when a deadline comes before the one it sleeps until. Requests are
 * over long before their deadline (a poll takes milliseconds, its deadline
 * is twice the timeout away), so arming is almost always silent, and so is
 * disarming: a thread that wakes for a deadline that is gone finds nothing
 * due and sleeps again. (A GSource per deadline in a GMainContext, as
 * before, woke the thread at every attach: a context switch per poll.)
 *
 * A wait arms the same deadline again for each poll (rearm), so that its
 * cancellable, and the file descriptor GIO makes for it to wait on a
 * socket, are made once per wait, not once per request. */
typedef struct
{
  GMutex lock;
  GCond changed;                /* the timer thread waits on it */
  GCond fired;                  /* a deadline's cancel is over */
  GSequence *pending;           /* of LumaHttpDeadline, earliest first */
  gint64 sleeps_until;          /* G_MAXINT64: until signalled */
} LumaTimers;

struct _LumaHttpDeadline
{
  GCancellable *parent;
  gulong parent_handler;
  GCancellable *cancellable;
  gint64 when;
  /* under the timers' lock: */
  GSequenceIter *pending;       /* in timers->pending, or NULL */
  gboolean firing;              /* the timer thread is cancelling it */
  gboolean armed_once;          /* the timers exist for it */
};

static gint
compare_deadlines (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const LumaHttpDeadline *da = a, *db = b;

  return da->when < db->when ? -1 : da->when > db->when;
}

static gpointer
run_timers (gpointer data)
{
  LumaTimers *timers = data;

  g_mutex_lock (&timers->lock);
  for (;;) {
    GSequenceIter *first = g_sequence_get_begin_iter (timers->pending);
    LumaHttpDeadline *due;

    if (g_sequence_iter_is_end (first)) {
      timers->sleeps_until = G_MAXINT64;
      g_cond_wait (&timers->changed, &timers->lock);
      continue;
    }
    due = g_sequence_get (first);
    if (due->when > g_get_monotonic_time ()) {
      timers->sleeps_until = due->when;
      g_cond_wait_until (&timers->changed, &timers->lock, due->when);
      continue;
    }
    /* cancelled without the lock: the cancellable's handlers (libsoup's)
     * may take locks of their own. Until "firing" is cleared, the deadline
     * is neither rearmed nor freed (disarm () waits for it). */
    g_sequence_remove (first);
    due->pending = NULL;
    due->firing = TRUE;
    g_mutex_unlock (&timers->lock);
    g_cancellable_cancel (due->cancellable);
    g_mutex_lock (&timers->lock);
    due->firing = FALSE;
    g_cond_broadcast (&timers->fired);
  }
  return NULL;
}

static LumaTimers *
get_timers (void)
{
  static LumaTimers *timers;

  if (g_once_init_enter (&timers)) {
    LumaTimers *made = g_new0 (LumaTimers, 1);

    g_mutex_init (&made->lock);
    g_cond_init (&made->changed);
    g_cond_init (&made->fired);
    made->pending = g_sequence_new (NULL);
    made->sleeps_until = G_MAXINT64;
    g_thread_unref (g_thread_new ("luma-deadlines", run_timers, made));
    g_once_init_leave (&timers, made);
  }
  return timers;
}

static void
cancel_child (GCancellable * parent, gpointer child)
{
  g_cancellable_cancel (child);
}

/* Not due any more, and certainly not being cancelled by the timer
 * thread once this returns. */
static void
disarm (LumaHttpDeadline * self)
{
  LumaTimers *timers;

  if (!self->armed_once)
    return;
  timers = get_timers ();
  g_mutex_lock (&timers->lock);
  while (self->firing)
    g_cond_wait (&timers->fired, &timers->lock);
  /* no signal: a thread that wakes for it finds nothing due */
  if (self->pending != NULL)
    g_sequence_remove (self->pending);
  self->pending = NULL;
  g_mutex_unlock (&timers->lock);
}

static void
arm (LumaHttpDeadline * self, gint64 deadline)
{
  LumaTimers *timers;

  self->when = deadline;
  if (deadline == G_MAXINT64)
    return;
  if (deadline <= g_get_monotonic_time ()) {
    g_cancellable_cancel (self->cancellable);
    return;
  }
  timers = get_timers ();
  g_mutex_lock (&timers->lock);
  self->armed_once = TRUE;
  self->pending = g_sequence_insert_sorted (timers->pending, self,
      compare_deadlines, NULL);
  if (deadline < timers->sleeps_until)
    g_cond_signal (&timers->changed);
  g_mutex_unlock (&timers->lock);
}

/* The monotonic time by which a request sent now must be over, or
 * G_MAXINT64 when the session has no timeout. */
gint64
luma_http_request_deadline (SoupSession * session)
{
  guint timeout = soup_session_get_timeout (session);

  if (timeout == 0)
    return G_MAXINT64;
  return g_get_monotonic_time () +
      timeout * G_USEC_PER_SEC * (gint64) LUMA_HTTP_REQUEST_DEADLINE_FACTOR;
}

gint64
luma_http_time_after (gint64 from, guint seconds)
{
  return seconds == 0 ? G_MAXINT64 : from + (gint64) seconds *G_USEC_PER_SEC;
}

gboolean
luma_http_wait_fits (gint64 deadline, guint64 delay_ms)
{
  gint64 left = deadline - g_get_monotonic_time ();

  return left > 0 && (guint64) left / 1000 >= delay_ms;
}

LumaHttpDeadline *
luma_http_deadline_new (GCancellable * parent, gint64 deadline)
{
  LumaHttpDeadline *self = g_new0 (LumaHttpDeadline, 1);

  self->cancellable = g_cancellable_new ();
  if (parent != NULL) {
    /* called at once if @parent is already cancelled */
    self->parent = g_object_ref (parent);
    self->parent_handler = g_cancellable_connect (parent,
        G_CALLBACK (cancel_child), g_object_ref (self->cancellable),
        g_object_unref);
  }
  arm (self, deadline);
  return self;
}

/* For the next request: no longer cancelled (unless @parent is), and due
 * at @deadline. Not while a request uses the cancellable. */
void
luma_http_deadline_rearm (LumaHttpDeadline * self, gint64 deadline)
{
  disarm (self);
  g_cancellable_reset (self->cancellable);
  /* after the reset: a parent cancelled before it is seen here, one
   * cancelled after it cancels the child through cancel_child () */
  if (self->parent != NULL && g_cancellable_is_cancelled (self->parent))
    g_cancellable_cancel (self->cancellable);
  arm (self, deadline);
}

void
luma_http_deadline_set (LumaHttpDeadline * self, gint64 deadline)
{
  /* once only: a message sent again (wrote-body twice) keeps its first */
  if (self->when == G_MAXINT64)
    arm (self, deadline);
}

GCancellable *
luma_http_deadline_get_cancellable (LumaHttpDeadline * self)
{
  return self->cancellable;
}

gboolean
luma_http_deadline_has_passed (LumaHttpDeadline * self)
{
  return g_cancellable_is_cancelled (self->cancellable)
      && !g_cancellable_is_cancelled (self->parent);
}

void
luma_http_set_deadline_error (GError ** error, const gchar * host,
    guint timeout)
{
  g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TOO_SLOW,
      _("%s did not answer within %u seconds (twice the timeout)"),
      host, LUMA_HTTP_REQUEST_DEADLINE_FACTOR * timeout);
}

void
luma_http_deadline_free (LumaHttpDeadline * self)
{
  if (self == NULL)
    return;
  disarm (self);
  if (self->parent != NULL) {
    /* waits for a cancel_child() running in another thread to return */
    g_cancellable_disconnect (self->parent, self->parent_handler);
    g_object_unref (self->parent);
  }
  g_object_unref (self->cancellable);
  g_free (self);
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

/**
 * luma_http_parse_retry_after:
 * @value: (nullable): a Retry-After header's value
 * @now: the time to count an HTTP date from
 *
 * Returns: the milliseconds to wait (seconds or an HTTP date), at most
 * %LUMA_HTTP_RETRY_AFTER_MAX_MS; 0 for a date that has passed;
 * %LUMA_HTTP_RETRY_AFTER_NONE when @value cannot be read. A pure function
 * of its arguments, fuzzed by tests/fuzz/fuzz-retry-after.c.
 */
guint64
luma_http_parse_retry_after (const gchar * value, GDateTime * now)
{
  g_autofree gchar *text = NULL;
  g_autoptr (GError) number_error = NULL;
  g_autoptr (GDateTime) when = NULL;
  guint64 seconds;
  GTimeSpan span;

  if (value == NULL)
    return LUMA_HTTP_RETRY_AFTER_NONE;
  text = g_strstrip (g_strdup (value));
  if (g_ascii_string_to_unsigned (text, 10, 0,
          LUMA_HTTP_RETRY_AFTER_MAX_MS / 1000, &seconds, &number_error))
    return seconds * 1000;
  /* a number of seconds too large even for 64 bits is still a number: a
   * server that wants us gone for long gets the longest wait we give */
  if (g_error_matches (number_error, G_NUMBER_PARSER_ERROR,
          G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS))
    return LUMA_HTTP_RETRY_AFTER_MAX_MS;

  when = soup_date_time_new_from_http_string (text);
  if (when == NULL)
    return LUMA_HTTP_RETRY_AFTER_NONE;
  span = g_date_time_difference (when, now);
  if (span <= 0)
    return 0;
  return MIN (((guint64) span + 999) / 1000, LUMA_HTTP_RETRY_AFTER_MAX_MS);
}

/* Retry-After in milliseconds, LUMA_HTTP_RETRY_AFTER_NONE when the answer
 * has none that can be read. Only the codes that say "come back later" are
 * heeded (429, KIE's 455, 503), as the HTTP status or, for KIE's API, the
 * code of a 200's body (@code: the one that decides): on any other (a 200,
 * a 500) the header is no promise that waiting helps, and a stray one
 * could stall a wait for an hour. */
guint64
luma_http_retry_after (SoupMessage * msg, gint code)
{
  const gchar *value =
      soup_message_headers_get_one (soup_message_get_response_headers (msg),
      "Retry-After");
  g_autoptr (GDateTime) now = NULL;

  if (code != 429 && code != 455 && code != SOUP_STATUS_SERVICE_UNAVAILABLE)
    return LUMA_HTTP_RETRY_AFTER_NONE;
  if (value == NULL)
    return LUMA_HTTP_RETRY_AFTER_NONE;
  now = g_date_time_new_now_utc ();
  return luma_http_parse_retry_after (value, now);
}

/* API answers may come compressed (build_message() asks for gzip): they are
 * decoded here, where a whole answer is read, and not by the session, so
 * that the video's bytes stay those the server holds. */
static GInputStream *
decoded_body (SoupMessage * msg, GInputStream * body, gboolean * decoding,
    GError ** error)
{
  const gchar *encoding =
      soup_message_headers_get_list (soup_message_get_response_headers (msg),
      "Content-Encoding");
  g_autoptr (GZlibDecompressor) decompressor = NULL;
  GInputStream *decoded;

  *decoding = FALSE;
  if (encoding == NULL || g_ascii_strcasecmp (encoding, "identity") == 0)
    return g_object_ref (body);
  if (g_ascii_strcasecmp (encoding, "gzip") != 0
      && g_ascii_strcasecmp (encoding, "x-gzip") != 0) {
    g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_ENCODING,
        _("The answer of %s is encoded as \"%s\", which lumasrc cannot "
            "decode"), g_uri_get_host (soup_message_get_uri (msg)), encoding);
    return NULL;
  }
  decompressor = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
  decoded = g_converter_input_stream_new (body, G_CONVERTER (decompressor));
  /* the caller closes @body, as it would without an encoding */
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM
      (decoded), FALSE);
  *decoding = TRUE;
  return decoded;
}

/* Reads a whole answer, but never more than @max_size bytes: a body that is
 * larger (by Content-Length, or as it comes, after decoding: a small gzip
 * bomb is no way around the limit) is refused without being kept.
 * The inactivity timeout does not stop a server that sends a byte now and
 * then, so the whole body must also come within @max_seconds (0: no limit). */
GBytes *
luma_http_read_body (SoupMessage * msg, GInputStream * body, gsize max_size,
    guint max_seconds, GCancellable * cancellable, GError ** error)
{
  gint64 deadline = luma_http_time_after (g_get_monotonic_time (),
      max_seconds);
  goffset length =
      soup_message_headers_get_content_length (soup_message_get_response_headers
      (msg));
  g_autoptr (GByteArray) data = g_byte_array_new ();
  g_autoptr (GInputStream) decoded = NULL;
  gboolean decoding;
  guint8 chunk[16384];

  if (length > (goffset) max_size)
    goto too_large;
  decoded = decoded_body (msg, body, &decoding, error);
  if (decoded == NULL)
    return NULL;

  for (;;) {
    g_autoptr (GError) cause = NULL;
    gssize n = g_input_stream_read (decoded, chunk, sizeof (chunk),
        cancellable, &cause);

    if (n < 0 && decoding && g_error_matches (cause, G_IO_ERROR,
            G_IO_ERROR_INVALID_DATA)) {
      g_set_error (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_ENCODING,
          _("The answer of %s is not valid gzip: %s"),
          g_uri_get_host (soup_message_get_uri (msg)), cause->message);
      return NULL;
    }
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
