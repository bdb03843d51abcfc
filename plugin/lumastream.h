/* gst-luma: one result URL to bytes, with Range and resume
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

#define LUMA_STREAM_ERROR (luma_stream_error_quark ())
GQuark luma_stream_error_quark (void);

typedef enum {
  LUMA_STREAM_ERROR_EXPIRED,    /* 403, 404 or 410: the URL is no longer valid */
  LUMA_STREAM_ERROR_BLOCKED,    /* 403 with an HTML page: a CDN turned us away */
  LUMA_STREAM_ERROR_HTTP,       /* another status that is not a success */
  LUMA_STREAM_ERROR_CHANGED,    /* the file is not the one streaming began with */
  LUMA_STREAM_ERROR_OPEN,       /* no answer could be had, retries spent */
  LUMA_STREAM_ERROR_READ,       /* the body could not be read, retries spent */
  LUMA_STREAM_ERROR_RANGE,      /* an answer whose range is not what was asked */
  LUMA_STREAM_ERROR_THROTTLED,  /* 429 (or 503 with Retry-After), waits spent */
} LumaStreamError;

#define LUMA_STREAM_SIZE_UNKNOWN G_MAXUINT64

/* A renewed URL that gives fewer bytes than this before it fails too has
 * not really been renewed: see luma_stream_get_renewals_without_progress(). */
#define LUMA_STREAM_RENEWAL_PROGRESS (1024 * 1024)

typedef struct _LumaStream LumaStream;

LumaStream *luma_stream_new (SoupSession * session, guint retries);
void luma_stream_free (LumaStream * stream);

/* The URL to read from; the offset is kept, so a fresh URL of the same file
 * goes on where the old one stopped. */
gboolean luma_stream_set_url (LumaStream * stream, const gchar * url,
    GError ** error);
/* Another URL for the file the last luma_stream_set_url () named (a fresh
 * link to it): not a renewal of its own. */
gboolean luma_stream_replace_url (LumaStream * stream, const gchar * url,
    GError ** error);
/* The next read starts at @offset. */
void luma_stream_seek (LumaStream * stream, guint64 offset);
/* The size the file is known to have (what came before from elsewhere):
 * an answer that says otherwise is LUMA_STREAM_ERROR_CHANGED, as between
 * two requests. */
void luma_stream_expect_size (LumaStream * stream, guint64 size);
/* Likewise the file's version tag (nullable), told from elsewhere (see
 * luma_stream_get_version ()), unless the answers gave one already: an
 * answer of that tag's server with another ETag is
 * LUMA_STREAM_ERROR_CHANGED. */
void luma_stream_expect_version (LumaStream * stream, const gchar * version);

/* Opens the request at the current offset, if it is not open yet, so that
 * the size is known. */
gboolean luma_stream_open (LumaStream * stream, GCancellable * cancellable,
    GError ** error);
/* Returns the number of bytes read, 0 at the end of the file, -1 on error.
 * A connection that drops is opened again at the offset it stopped at; a
 * 429 (or 503 with Retry-After) is waited out, up to `retries` + 5 times in
 * a row; an answer whose range does not fit the request is an error. */
gssize luma_stream_read (LumaStream * stream, guint8 * data, gsize size,
    GCancellable * cancellable, GError ** error);

guint64 luma_stream_get_offset (LumaStream * stream);
guint64 luma_stream_get_size (LumaStream * stream);
guint luma_stream_get_http_status (LumaStream * stream);
const gchar *luma_stream_get_host (LumaStream * stream);
/* Which of its host's files the stream reads, as a tag to keep (free
 * it): the server that answered and the ETag it gave, else its
 * Last-Modified date ("SCHEME://HOST:PORT ETAG-OR-DATE"), or NULL where
 * there was neither. Validators are compared only between answers of one
 * server: another server's are its own. */
gchar *luma_stream_get_version (LumaStream * stream);
/* FALSE when @version (from elsewhere: an earlier run's, another
 * process's) and what the stream's answers gave are of the same server
 * and name two files: by the tag's ETag (RFC 9110's weak comparison) or
 * date, against the stream's of the same kind. */
gboolean luma_stream_version_agrees (LumaStream * stream,
    const gchar * version);

/* Another stream of the file @stream reads (its URL; its size and version
 * as known, and expected), at @offset: to read another part of the file
 * at the same time, from another thread. */
LumaStream *luma_stream_new_sibling (LumaStream * stream, guint64 offset);

/* luma_stream_set_url() on a stream that had a URL is a renewal. Returns
 * how many renewals in a row were not followed by progress (fewer than
 * LUMA_STREAM_RENEWAL_PROGRESS bytes read from the URL they gave), the
 * last one included while its URL has not given that much. */
guint luma_stream_get_renewals_without_progress (LumaStream * stream);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LumaStream, luma_stream_free)

G_END_DECLS
