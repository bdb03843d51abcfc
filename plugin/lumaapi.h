/* gst-luma: the KIE.AI Luma Modify API client (record-info polling)
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "lumarecord.h"
#include <libsoup/soup.h>

G_BEGIN_DECLS
/* KIE's API host: where api-url points when neither it nor KIE_API_URL is
 * set (lumasrc, lumamodify) */
#define LUMA_API_DEFAULT_URL "https://api.kie.ai"
#define LUMA_API_ERROR (luma_api_error_quark ())
    GQuark luma_api_error_quark (void);

typedef enum
{
  LUMA_API_ERROR_NOT_AUTHORIZED,        /* 401 */
  LUMA_API_ERROR_NOT_FOUND,     /* 404 */
  LUMA_API_ERROR_REFUSED,       /* 402, 422, 433, 501, 505, other codes;
                                 * a refusal from another host than the
                                 * API's, which a redirect named */
  LUMA_API_ERROR_TASK_FAILED,   /* successFlag 2 or 3 */
  LUMA_API_ERROR_TIMEOUT,       /* still generating after wait-timeout */
  LUMA_API_ERROR_BAD_ANSWER,    /* an answer that cannot be read */
  LUMA_API_ERROR_UNAVAILABLE,   /* 5xx or transport errors, retries spent */
  LUMA_API_ERROR_GENERATING,    /* until_generating: the task generates */
} LumaApiError;

typedef struct _LumaApi LumaApi;

/* What a wait cut short (a flush: a seek while the task generates)
 * leaves to the next wait for the same thing: when the waiting began
 * (wait-timeout counts from there) and when it may poll again (a
 * Retry-After is kept, and a seek does not poll at once). Zeros: none. */
typedef struct
{
  gint64 start;                 /* monotonic microseconds */
  gint64 next_due;
  gboolean generating;          /* a poll of it saw the task generating */
} LumaWaitResume;

typedef struct
{
  guint poll_interval;          /* milliseconds */
  guint wait_timeout;           /* seconds, 0 = forever */
  guint retries;                /* for 5xx and transport errors in a row */
  gboolean fresh;               /* ask the API even if the task is cached */
  LumaWaitResume *resume;       /* nullable: kept across waits, updated */
  /* over (LUMA_API_ERROR_GENERATING) at the first answer that says the
   * task generates, @resume (then required) ready for the wait that goes
   * on: for a caller that did not expect to wait, and tells its user
   * before it does */
  gboolean until_generating;
} LumaWaitParams;

/* What a wait has seen so far, for progress reports. */
typedef struct
{
  const gchar *task_id;
  GstLumaTaskState state;
  guint polls;
  guint64 elapsed;              /* nanoseconds since the wait began */
  const GstLumaRecord *record;  /* the last record read, or NULL */
  /* what the last poll's answer said, for error details (0: no answer) */
  gint api_code;
  guint http_status;
} LumaWaitStatus;

/* Called after each poll, from a thread that is not the caller's (see
 * luma_api_wait_for_task ()). */
typedef void (*LumaWaitFunc) (const LumaWaitStatus * status,
    gpointer user_data);

LumaApi *luma_api_new (SoupSession * session, const gchar * api_url,
    const gchar * api_key, GError ** error);
void luma_api_free (LumaApi * api);

/* For the other requests to the same API (lumacreate.c). */
SoupSession *luma_api_get_session (LumaApi * api);
GUri *luma_api_get_base (LumaApi * api);
/* The URL of one of the API's endpoints: @path (escaped) after the base
 * URL's path, with @query (escaped, or NULL). */
GUri *luma_api_endpoint (LumaApi * api, const gchar * path,
    const gchar * query);
const gchar *luma_api_get_key (LumaApi * api);

GstLumaRecord *luma_api_wait_for_task (LumaApi * api, const gchar * task_id,
    const LumaWaitParams * params, LumaWaitFunc on_poll, gpointer user_data,
    GCancellable * cancellable, GError ** error);

/* Drops what this process remembers of a finished task, e.g. because its
 * result URL has expired. */
void luma_api_forget_task (LumaApi * api, const gchar * task_id);

/* A fresh link to @url, one of KIE's result files whose link expired
 * (POST download-url, the key to the API only): an http(s) URL, valid for
 * a while (20 minutes); NULL with @error set when KIE gives none (422 for
 * a file not its own) or cannot be asked. One request, no retry. */
gchar *luma_api_fresh_link (LumaApi * api, const gchar * url,
    GCancellable * cancellable, GError ** error);


G_DEFINE_AUTOPTR_CLEANUP_FUNC (LumaApi, luma_api_free)
    G_END_DECLS
