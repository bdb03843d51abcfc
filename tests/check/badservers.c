/* gst-luma: servers that misbehave below HTTP, for tests
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What the emulator cannot play because libsoup's server is too well
 * behaved: a server that never answers, one that trickles (its body or its
 * headers), one that floods, one that sends an answer nobody asked for.
 * They write raw bytes on purpose: the point is to be a broken HTTP server.
 */
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "badservers.h"

#define FLOOD_SIZE (50 * 1024 * 1024)

struct _BadServer
{
  BadServerKind kind;
  GSocketListener *listener;
  guint16 port;
  GCancellable *cancellable;
  GThread *thread;
  guint64 bytes_sent;           /* atomic */
  /* BAD_SERVER_PACED */
  GBytes *video;
  gsize fast_until;
  gsize step;
  guint interval_ms;
  gint requests;                /* atomic */
  guint64 last_offset;          /* atomic */
  /* bad_server_start_scripted () */
  gint paced_requests;          /* only the first ones trickle; 0: all */
  gint cut_request;             /* this one (1-based) closes after... */
  gsize cut_bytes;              /* ...as many bytes, sent at once */
  guint piece_ms;               /* a Range gets one byte, this late */
  gboolean ignore_range;        /* every answer the file from 0 */
};

static gboolean
send_all (BadServer * server, GOutputStream * out, const gchar * data,
    gsize size, gboolean count)
{
  gsize written = 0;
  gboolean ok = g_output_stream_write_all (out, data, size, &written,
      server->cancellable, NULL);

  if (count)
    g_atomic_pointer_add (&server->bytes_sent, written);
  return ok;
}

/* Reads a request's head (up to its blank line); NULL at the end. */
static GString *
read_request (BadServer * server, GInputStream * in)
{
  g_autoptr (GString) head = g_string_new (NULL);
  gchar c;

  while (!g_str_has_suffix (head->str, "\r\n\r\n")) {
    if (g_input_stream_read (in, &c, 1, server->cancellable, NULL) != 1)
      return NULL;
    g_string_append_c (head, c);
  }
  return g_steal_pointer (&head);
}

/* Each request gets its answer and, right behind it on the connection, a
 * second one that a client reusing the connection would take for the
 * answer to its next request. */
static void
smuggle (BadServer * server, GSocketConnection * connection)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  static const gchar answers[] = "HTTP/1.1 200 OK\r\n"
      "Content-Type: video/mp4\r\nContent-Length: 16\r\n\r\n"
      BAD_SERVER_GENUINE "HTTP/1.1 200 OK\r\n"
      "Content-Type: video/mp4\r\nContent-Length: 16\r\n\r\n"
      "EVILEVILEVILEVIL";

  for (;;) {
    g_autoptr (GString) head = read_request (server, in);

    if (head == NULL || !send_all (server, out, answers, strlen (answers),
            FALSE))
      return;
  }
}

/* The offset @head asks for with its Range, 0 without one. */
static guint64
asked_offset (GString * head, guint64 size)
{
  g_autoptr (SoupMessageHeaders) headers =
      soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autofree gchar *method = NULL;
  g_autofree gchar *path = NULL;
  SoupRange *ranges;
  gint count;
  guint64 offset = 0;

  g_assert_cmpuint (soup_headers_parse_request (head->str, head->len,
          headers, &method, &path, NULL), ==, SOUP_STATUS_OK);
  if (soup_message_headers_get_ranges (headers, size, &ranges, &count)) {
    offset = ranges[0].start;
    soup_message_headers_free_ranges (headers, ranges);
  }
  return offset;
}

/* Waits the paced server's interval: FALSE when the client has closed the
 * connection meanwhile (it sends nothing while its answer comes, so
 * anything to read is its end), or the server stops. */
static gboolean
pause_while_open (BadServer * server, GSocketConnection * connection)
{
  GSocket *socket = g_socket_connection_get_socket (connection);
  gint64 until = g_get_monotonic_time () + server->interval_ms * 1000;

  while (g_get_monotonic_time () < until) {
    if (g_cancellable_is_cancelled (server->cancellable)
        || g_socket_condition_check (socket, G_IO_IN | G_IO_HUP | G_IO_ERR))
      return FALSE;
    g_usleep (5000);
  }
  return TRUE;
}

/* The file from @from on: at once before fast_until, step by step after. */
static gboolean
send_paced (BadServer * server, GSocketConnection * connection, guint64 from,
    gint request)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  gsize size;
  const gchar *data = g_bytes_get_data (server->video, &size);
  g_autofree gchar *head = NULL;
  guint64 at;

  if (from >= size)
    head = g_strdup_printf ("HTTP/1.1 416 Range Not Satisfiable\r\n"
        "Content-Range: bytes */%zu\r\nContent-Length: 0\r\n\r\n", size);
  else if (from > 0)
    head = g_strdup_printf ("HTTP/1.1 206 Partial Content\r\n"
        "Content-Type: video/mp4\r\nContent-Length: %" G_GUINT64_FORMAT
        "\r\nContent-Range: bytes %" G_GUINT64_FORMAT "-%zu/%zu\r\n\r\n",
        size - from, from, size - 1, size);
  else
    head = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n"
        "Content-Length: %zu\r\n\r\n", size);
  /* the first answer cut after fast_until, then each Range
   * answered with its first byte only, piece_ms late */
  if (server->piece_ms > 0) {
    if (from == 0) {
      g_free (head);
      head = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n"
          "Content-Length: %zu\r\n\r\n", size);
      send_all (server, out, head, strlen (head), FALSE);
      send_all (server, out, data, MIN (server->fast_until, size), TRUE);
      return FALSE;
    }
    g_free (head);
    head = g_strdup_printf ("HTTP/1.1 206 Partial Content\r\n"
        "Content-Type: video/mp4\r\nContent-Length: 1\r\n"
        "Content-Range: bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
        "/%zu\r\n\r\n", from, from, size);
    if (!send_all (server, out, head, strlen (head), FALSE))
      return FALSE;
    g_usleep (server->piece_ms * 1000);
    return send_all (server, out, data + from, 1, TRUE);
  }
  if (!send_all (server, out, head, strlen (head), FALSE))
    return FALSE;
  /* a scripted request, at once (and cut) */
  if (server->paced_requests > 0 && request > server->paced_requests) {
    gsize piece = size - from;

    if (request == server->cut_request)
      piece = MIN (piece, server->cut_bytes);
    if (!send_all (server, out, data + from, piece, TRUE))
      return FALSE;
    return request != server->cut_request;
  }
  for (at = from; at < size;) {
    gsize piece = at < server->fast_until ? server->fast_until - at
        : server->step;

    piece = MIN (piece, size - at);
    if (at >= server->fast_until && !pause_while_open (server, connection))
      return FALSE;
    if (!send_all (server, out, data + at, piece, TRUE))
      return FALSE;
    at += piece;
  }
  return TRUE;
}

static void
serve_paced (BadServer * server, GSocketConnection * connection)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));

  for (;;) {
    g_autoptr (GString) head = read_request (server, in);
    guint64 from;

    if (head == NULL)
      return;
    from = asked_offset (head, g_bytes_get_size (server->video));
    g_atomic_int_inc (&server->requests);
    g_atomic_pointer_set (&server->last_offset, from);
    /* What was asked for before comes fast (a cache has it) */
    if (server->ignore_range)
      server->fast_until = MAX (server->fast_until, from);
    if (!send_paced (server, connection, server->ignore_range ? 0 : from,
            g_atomic_int_get (&server->requests)))
      return;
  }
}

static void
serve (BadServer * server, GSocketConnection * connection)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  static const gchar trickle_head[] = "HTTP/1.1 200 OK\r\n"
      "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n";
  static const gchar flood_head[] = "HTTP/1.1 200 OK\r\n"
      "Content-Type: application/json\r\nConnection: close\r\n\r\n";
  static const gchar slow_head[] = "HTTP/1.1 200 OK\r\nX-Slow: ";
  g_autofree gchar *spaces = NULL;
  guint64 sent;

  switch (server->kind) {
    case BAD_SERVER_SILENT:
      break;
    case BAD_SERVER_SMUGGLER:
      smuggle (server, connection);
      return;
    case BAD_SERVER_PACED:
      serve_paced (server, connection);
      return;
    case BAD_SERVER_TRICKLE:
      if (!send_all (server, out, trickle_head, strlen (trickle_head), FALSE))
        return;
      while (!g_cancellable_is_cancelled (server->cancellable)
          && send_all (server, out, " ", 1, TRUE))
        g_usleep (G_USEC_PER_SEC);
      return;
    case BAD_SERVER_TRICKLE_HEADERS:
      /* a header value that never ends: every byte resets an inactivity
       * timeout, and the headers never arrive */
      if (!send_all (server, out, slow_head, strlen (slow_head), FALSE))
        return;
      while (!g_cancellable_is_cancelled (server->cancellable)
          && send_all (server, out, "a", 1, TRUE))
        g_usleep (G_USEC_PER_SEC);
      return;
    case BAD_SERVER_FLOOD:
      if (!send_all (server, out, flood_head, strlen (flood_head), FALSE))
        return;
      spaces = g_malloc (65536);
      memset (spaces, ' ', 65536);
      for (sent = 0; sent < FLOOD_SIZE; sent += 65536)
        if (!send_all (server, out, spaces, 65536, TRUE))
          return;
      return;
  }
  /* silent: hold the connection until the test is over */
  while (!g_cancellable_is_cancelled (server->cancellable))
    g_usleep (10000);
}

static gpointer
bad_server_main (gpointer user_data)
{
  BadServer *server = user_data;

  for (;;) {
    g_autoptr (GSocketConnection) connection =
        g_socket_listener_accept (server->listener, NULL, server->cancellable,
        NULL);

    if (connection == NULL)
      return NULL;
    serve (server, connection);
  }
}



/* A server of @kind listening, whose thread is not started yet: its
 * settings are set before, with no lock. */
static BadServer *
bad_server_new (BadServerKind kind)
{
  BadServer *server = g_new0 (BadServer, 1);
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  server->kind = kind;
  server->cancellable = g_cancellable_new ();
  server->listener = g_socket_listener_new ();
  g_assert_true (g_socket_listener_add_address (server->listener, address,
          G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL, &bound, NULL));
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return server;
}

static BadServer *
bad_server_run (BadServer * server)
{
  server->thread = g_thread_new ("bad-server", bad_server_main, server);
  return server;
}

BadServer *
bad_server_start (BadServerKind kind)
{
  return bad_server_run (bad_server_new (kind));
}

/* A paced server, not started yet: fast until @fast_until, then @step
 * bytes every @interval_ms. */
static BadServer *
paced_server_new (GBytes * video, gsize fast_until, gsize step,
    guint interval_ms)
{
  BadServer *server = bad_server_new (BAD_SERVER_PACED);

  server->video = g_bytes_ref (video);
  server->fast_until = fast_until;
  server->step = step;
  server->interval_ms = interval_ms;
  return server;
}

BadServer *
bad_server_start_paced (GBytes * video, gsize fast_until, gsize step,
    guint interval_ms)
{
  g_return_val_if_fail (step > 0, NULL);
  return bad_server_run (paced_server_new (video, fast_until, step,
          interval_ms));
}

/* as bad_server_start_paced (), but only the first @paced_requests
 * requests trickle; the later ones are answered at once, request number
 * @cut_request (1-based) with only @cut_bytes, then its connection closed */
BadServer *
bad_server_start_scripted (GBytes * video, gsize fast_until, gsize step,
    guint interval_ms, gint paced_requests, gint cut_request, gsize cut_bytes)
{
  BadServer *server = paced_server_new (video, fast_until, step,
      interval_ms);

  server->paced_requests = paced_requests;
  server->cut_request = cut_request;
  server->cut_bytes = cut_bytes;
  return bad_server_run (server);
}

/* As bad_server_start_paced (), but Range ignored: every answer
 * is a 200 of the whole file from its start, fast until @fast_until or
 * the offset asked for, whichever is farther */
BadServer *
bad_server_start_paced_ignoring_range (GBytes * video, gsize fast_until,
    gsize step, guint interval_ms)
{
  BadServer *server = paced_server_new (video, fast_until, step,
      interval_ms);

  server->ignore_range = TRUE;
  return bad_server_run (server);
}

/* a host that sends the file in one-byte pieces, each @piece_ms
 * late: a first answer (200) cut after @fast_until bytes, then each
 * request with a Range answered with one byte (206) */
BadServer *
bad_server_start_pieces (GBytes * video, gsize fast_until, guint piece_ms)
{
  BadServer *server;

  server = bad_server_new (BAD_SERVER_PACED);
  server->video = g_bytes_ref (video);
  server->fast_until = fast_until;
  server->step = 1;
  server->piece_ms = piece_ms;
  return bad_server_run (server);
}

guint
bad_server_get_requests (BadServer * server)
{
  return g_atomic_int_get (&server->requests);
}

guint64
bad_server_get_last_offset (BadServer * server)
{
  return (guint64) g_atomic_pointer_get (&server->last_offset);
}

gchar *
bad_server_get_url (BadServer * server)
{
  return g_strdup_printf ("http://127.0.0.1:%u", server->port);
}

guint64
bad_server_get_bytes_sent (BadServer * server)
{
  return (guint64) g_atomic_pointer_get (&server->bytes_sent);
}

void
bad_server_stop (BadServer * server)
{
  g_cancellable_cancel (server->cancellable);
  g_socket_listener_close (server->listener);
  g_thread_join (server->thread);
  g_object_unref (server->listener);
  g_object_unref (server->cancellable);
  g_clear_pointer (&server->video, g_bytes_unref);
  g_free (server);
}

/* ----- HTTPS with a certificate nobody trusts ----- */

struct _TlsServer
{
  GBytes *body;
  gchar *redirect;              /* under lock */
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *soup;
  guint port;
  GThread *thread;
  GMutex lock;
  GCond ready;
};

static void
answer_with_body (SoupServer * soup, SoupServerMessage * msg,
    const gchar * path, GHashTable * query, gpointer user_data)
{
  TlsServer *server = user_data;
  gsize size;
  gconstpointer data = g_bytes_get_data (server->body, &size);
  g_autofree gchar *redirect = NULL;

  g_mutex_lock (&server->lock);
  redirect = g_strdup (server->redirect);
  g_mutex_unlock (&server->lock);
  if (redirect != NULL) {
    soup_server_message_set_redirect (msg, SOUP_STATUS_FOUND, redirect);
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "video/mp4", SOUP_MEMORY_COPY, data,
      size);
}

static gpointer
tls_server_main (gpointer user_data)
{
  TlsServer *server = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) certificate =
      g_tls_certificate_new_from_files (TEST_DATA_DIR "/test-cert.pem",
      TEST_DATA_DIR "/test-key.pem", &error);
  GSList *uris;

  g_assert_no_error (error);
  g_main_context_push_thread_default (server->context);
  server->soup = soup_server_new ("tls-certificate", certificate, NULL);
  soup_server_add_handler (server->soup, NULL, answer_with_body, server, NULL);
  g_assert_true (soup_server_listen_local (server->soup, 0,
          SOUP_SERVER_LISTEN_IPV4_ONLY | SOUP_SERVER_LISTEN_HTTPS, &error));
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

TlsServer *
tls_server_start (GBytes * body)
{
  TlsServer *server = g_new0 (TlsServer, 1);

  server->body = g_bytes_ref (body);
  server->context = g_main_context_new ();
  server->loop = g_main_loop_new (server->context, FALSE);
  g_mutex_init (&server->lock);
  g_cond_init (&server->ready);
  g_mutex_lock (&server->lock);
  server->thread = g_thread_new ("tls-server", tls_server_main, server);
  while (server->port == 0)
    g_cond_wait (&server->ready, &server->lock);
  g_mutex_unlock (&server->lock);
  return server;
}

gchar *
tls_server_get_url (TlsServer * server)
{
  return g_strdup_printf ("https://127.0.0.1:%u/video.mp4", server->port);
}

void
tls_server_set_redirect (TlsServer * server, const gchar * location)
{
  g_mutex_lock (&server->lock);
  g_free (server->redirect);
  server->redirect = g_strdup (location);
  g_mutex_unlock (&server->lock);
}

static gboolean
quit_loop (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

void
tls_server_stop (TlsServer * server)
{
  g_main_context_invoke (server->context, quit_loop, server->loop);
  g_thread_join (server->thread);
  g_main_loop_unref (server->loop);
  g_main_context_unref (server->context);
  g_bytes_unref (server->body);
  g_free (server->redirect);
  g_mutex_clear (&server->lock);
  g_cond_clear (&server->ready);
  g_free (server);
}
