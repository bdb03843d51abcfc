/* gst-luma: a local file to a public URL through KIE's File Upload API
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS
/* KIE's upload host (a host of its own, not the API's) */
#define LUMA_UPLOAD_DEFAULT_URL "https://kieai.redpandaai.co"
#define LUMA_UPLOAD_ERROR (luma_upload_error_quark ())
    GQuark luma_upload_error_quark (void);

typedef enum
{
  LUMA_UPLOAD_ERROR_FILE,       /* the local file cannot be read */
  LUMA_UPLOAD_ERROR_NOT_AUTHORIZED,     /* 401, or a key that cannot be sent */
  LUMA_UPLOAD_ERROR_NO_CREDITS, /* 402 */
  LUMA_UPLOAD_ERROR_TOO_LARGE,  /* 413 */
  LUMA_UPLOAD_ERROR_REFUSED,    /* 422, other 4xx, 501, 505, a redirect */
  LUMA_UPLOAD_ERROR_UNAVAILABLE,        /* 5xx, transport: retries spent */
  LUMA_UPLOAD_ERROR_BAD_ANSWER, /* unreadable, or no usable downloadUrl */
  LUMA_UPLOAD_ERROR_BAD_ARGUMENT,       /* an upload path that cannot be sent */
  LUMA_UPLOAD_ERROR_THROTTLED,  /* 429, 455 beyond the wait allowed */
} LumaUploadError;

/* @sent bytes of the request body out of @total (the file and the
 * multipart framing around it). Called from the uploading thread, at most
 * every 100 ms, and once with @sent == @total. A retried upload starts
 * over from 0. */
typedef void (*LumaUploadProgress) (guint64 sent, guint64 total,
    gpointer user_data);

gchar *luma_upload_file (SoupSession * session, const gchar * upload_url,
    const gchar * api_key, GFile * file, const gchar * upload_path,
    guint wait_seconds, LumaUploadProgress progress_cb, gpointer user_data,
    GCancellable * cancellable, GError ** error);

/* What the upload host last answered: its HTTP status, and the code of
 * its answer (KIE's "code", else a failing HTTP status); 0 for none. */
typedef struct
{
  guint http_status;
  gint api_code;
} LumaUploadAnswerStatus;

gchar *luma_upload_file_full (SoupSession * session, const gchar * upload_url,
    const gchar * api_key, GFile * file, const gchar * upload_path,
    guint wait_seconds, LumaUploadProgress progress_cb, gpointer user_data,
    LumaUploadAnswerStatus * answer_status, GCancellable * cancellable,
    GError ** error);

G_END_DECLS
