/* gst-luma: creating a Luma Modify task (POST /api/v1/modify/generate)
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "lumaapi.h"
#include "lumajournal.h"

G_BEGIN_DECLS

#define LUMA_CREATE_ERROR (luma_create_error_quark ())
GQuark luma_create_error_quark (void);

typedef enum {
  LUMA_CREATE_ERROR_NOT_AUTHORIZED,     /* 401 */
  LUMA_CREATE_ERROR_NO_CREDITS,         /* 402 */
  LUMA_CREATE_ERROR_INPUT_REFUSED,      /* 422 */
  LUMA_CREATE_ERROR_REFUSED,            /* 404, 433, 501, 505, other codes */
  LUMA_CREATE_ERROR_UNAVAILABLE,        /* 455, or 429 for longer than allowed */
  LUMA_CREATE_ERROR_UNKNOWN_OUTCOME,    /* sent, but no answer says what happened */
  LUMA_CREATE_ERROR_BAD_ANSWER,         /* 200 that cannot be read */
} LumaCreateError;

/* What a failed request did at KIE, for the journal: a billed task may
 * exist only after LUMA_CREATE_MAYBE. */
typedef enum {
  LUMA_CREATE_NOTHING,          /* not sent, or answered with a refusal */
  LUMA_CREATE_MAYBE,            /* sent, and no answer tells */
  LUMA_CREATE_CREATED,
} LumaCreateOutcome;

typedef struct {
  const gchar *prompt;
  const gchar *video_url;
  const gchar *callback_url;    /* nullable */
  const gchar *watermark;       /* nullable */
} LumaCreateRequest;

/* What the failure said, for error details. */
typedef struct {
  LumaCreateOutcome outcome;
  gint api_code;
  guint http_status;
} LumaCreateResult;

gchar *luma_create_task (LumaApi * api, const LumaCreateRequest * request,
    guint wait_seconds, guint retries, LumaCreateResult * result,
    GCancellable * cancellable, GError ** error);

/* Gives the URL of the clip once the journal's claim is held (lumamodify
 * uploads it then, and only then). */
typedef gchar *(*LumaCreateInputFunc) (gpointer user_data,
    GCancellable * cancellable, GError ** error);

/* How a request is journalled (lumajournal.c): under the journal in @dir,
 * keyed by the API, the key, @input (what names the clip: its URL, or
 * "sha256:<hex>" of a file), the prompt and the watermark. */
typedef struct {
  const gchar *dir;
  const gchar *api_url;
  const gchar *input;
  gboolean force_new;           /* forget what the journal has: cleared once
                                 * done, so that an attempt again (after a
                                 * flush) never sends a second request */
  LumaCreateInputFunc get_video_url;    /* nullable: request->video_url */
  gpointer user_data;
  /* nullable: another process or element holds the request's entry, and
   * the creation waits for it (see luma_journal_begin ()) */
  LumaJournalHeldFunc on_held;
} LumaCreateJournal;

gchar *luma_create_task_once (LumaApi * api, const LumaCreateRequest * request,
    LumaCreateJournal * journal, guint wait_seconds, guint retries,
    LumaCreateResult * result, gboolean * reused, GError ** journal_warning,
    GCancellable * cancellable, GError ** error);

G_END_DECLS
