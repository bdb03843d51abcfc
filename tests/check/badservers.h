/* gst-luma: servers that misbehave below HTTP, for tests
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  BAD_SERVER_SILENT,            /* accepts, then never says a word */
  BAD_SERVER_TRICKLE,           /* headers, then one body byte a second */
  BAD_SERVER_TRICKLE_HEADERS,   /* a status line, then one header byte a
                                 * second, never ending the headers */
  BAD_SERVER_FLOOD,             /* headers with no length, then 50 MB */
  BAD_SERVER_SMUGGLER,          /* answers each request on a connection with
                                 * BAD_SERVER_GENUINE, then, unasked, with a
                                 * forged answer of as many bytes */
  BAD_SERVER_PACED,             /* bad_server_start_paced () */
} BadServerKind;

#define BAD_SERVER_GENUINE "genuine video 16"

typedef struct _BadServer BadServer;

/* Listens on 127.0.0.1 (a free port) in a thread of its own. */
BadServer *bad_server_start (BadServerKind kind);
gchar *bad_server_get_url (BadServer * server);
/* body bytes the server managed to send */
guint64 bad_server_get_bytes_sent (BadServer * server);
void bad_server_stop (BadServer * server);

/* A video host that honours Range ("bytes=N-", a 206), but slow: the
 * bytes of @video before @fast_until go out at once, those from there on
 * @step bytes every @interval_ms. Serves one connection at a time, the
 * next once the client has closed the last. */
BadServer *bad_server_start_paced (GBytes * video, gsize fast_until,
    gsize step, guint interval_ms);
/* the first @paced_requests requests paced, the later ones at
 * once; request @cut_request (1-based) gets only @cut_bytes, then a close */
BadServer *bad_server_start_scripted (GBytes * video, gsize fast_until,
    gsize step, guint interval_ms, gint paced_requests, gint cut_request,
    gsize cut_bytes);
/* one-byte 206 pieces, each @piece_ms late, after a first answer
 * cut after @fast_until bytes */
BadServer *bad_server_start_pieces (GBytes * video, gsize fast_until,
    guint piece_ms);
/* As bad_server_start_paced (), Range ignored (a 200 from 0) */
BadServer *bad_server_start_paced_ignoring_range (GBytes * video,
    gsize fast_until, gsize step, guint interval_ms);
/* The requests it was sent, and the offset the last one asked for. */
guint bad_server_get_requests (BadServer * server);
guint64 bad_server_get_last_offset (BadServer * server);

typedef struct _TlsServer TlsServer;

/* An HTTPS server (a self-signed certificate) that answers every GET with
 * @body, in a thread of its own. */
TlsServer *tls_server_start (GBytes * body);
gchar *tls_server_get_url (TlsServer * server);
/* From now on, answers every request with a 302 to @location instead. */
void tls_server_set_redirect (TlsServer * server, const gchar * location);
void tls_server_stop (TlsServer * server);

G_END_DECLS
