/* gst-luma: what lumastream.c checks of an answer, for its tests and fuzzer
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "lumastream.h"

G_BEGIN_DECLS

/* Where the body of an answer lies in the file (byte positions; end is one
 * past the last byte) and how large the file is, LUMA_STREAM_SIZE_UNKNOWN
 * when the answer does not say. */
typedef struct {
  guint64 start;
  guint64 end;
  guint64 size;
} LumaStreamAnswer;

/* Checks what a successful answer (@status 2xx) to a request for the bytes
 * from @asked on says of its body: a 206 must have a Content-Range that
 * parses, starts at @asked, ends before the total it gives, and agrees with
 * its Content-Length; a 200 (Range ignored) is the whole file from byte 0,
 * which must reach @asked; neither may have a Content-Encoding that
 * compresses (none is asked for). Pure: no I/O, only @headers read. On failure,
 * a LUMA_STREAM_ERROR_RANGE error that names @host and what was wrong. */
gboolean luma_stream_check_answer (guint status, SoupMessageHeaders * headers,
    guint64 asked, const gchar * host, LumaStreamAnswer * answer,
    GError ** error);

/* The version of the file, as the answers of one server told it: NULL
 * where none of them did yet. */
typedef struct _LumaStreamVersion LumaStreamVersion;
struct _LumaStreamVersion {
  gchar *scope;                 /* scheme://host:port of that server */
  gchar *etag;
  gchar *last_modified;
  GPtrArray *others;            /* LumaStreamVersion *: other servers' */
};

void luma_stream_version_clear (LumaStreamVersion * version);

/* Checks that an answer, from @answered (the URL that answered, after
 * redirects), is of the version of the file that the earlier answers of
 * the same server (scheme, host, port) were: by its ETag where it and
 * @version have one (weak comparison), else by its Last-Modified date
 * likewise. An answer with neither, or from a server that had not
 * answered before (whose validators are its own), is left to the size
 * check; up to 8 other servers' validators are kept for when they answer
 * again. Keeps in @version what the answer
 * tells that it did not hold yet. Pure: only @headers and @answered read.
 * On failure, a LUMA_STREAM_ERROR_CHANGED error that names the host and
 * both validators. */
gboolean luma_stream_check_version (LumaStreamVersion * version,
    SoupMessageHeaders * headers, GUri * answered, GError ** error);

/* The version tag of @scope's file whose ETag or Last-Modified date is
 * @validator (see luma_stream_get_version ()); NULL if either is NULL. */
gchar *luma_stream_version_tag_new (const gchar * scope,
    const gchar * validator);

/* luma_stream_version_agrees () on @kept: FALSE when the tag @version is
 * of a server whose validators @kept holds (the one answering, or one
 * that answered before) and names another file than they do. */
gboolean luma_stream_version_tag_agrees (LumaStreamVersion * kept,
    const gchar * version);

G_END_DECLS
