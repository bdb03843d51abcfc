/* gst-luma: the idempotency journal of task creation
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define LUMA_JOURNAL_ERROR (luma_journal_error_quark ())
GQuark luma_journal_error_quark (void);

typedef enum {
  /* an earlier run began creating this task and did not record the answer:
   * a billed task may exist */
  LUMA_JOURNAL_ERROR_CREATING_LEFT,
  LUMA_JOURNAL_ERROR_IO,        /* a file or the directory: path and errno text */
  LUMA_JOURNAL_ERROR_CORRUPT,   /* an entry that cannot be read: says what to delete */
  LUMA_JOURNAL_ERROR_INVALID,   /* a key or task id that cannot be journalled */
  LUMA_JOURNAL_ERROR_BUSY,      /* another held the entry all the wait allowed */
} LumaJournalError;

/* What a "creating" entry records for a person who must find out whether
 * the task was created (KIE's dashboard): never the API key. Any field may
 * be NULL. */
typedef struct {
  const gchar *api_url;
  const gchar *input;           /* the video URL, or "sha256:<hex>" of a file */
  const gchar *prompt;
  const gchar *watermark;
} LumaJournalRequest;

/* An exclusive right to create the task of one key: the entry's lock is
 * held until luma_journal_commit(), _abort() or _abandon(), each of which
 * frees it. */
typedef struct _LumaJournalClaim LumaJournalClaim;

/* $XDG_STATE_HOME/gst-luma/journal */
gchar *luma_journal_default_dir (void);

/* The entry's name for one generate request: 64 hex digits. The API key
 * enters only as its SHA-256 digest. */
gchar *luma_journal_key (const gchar * api_url, const gchar * api_key,
    const gchar * input, const gchar * prompt, const gchar * watermark);

/* TRUE and *existing_task_id: the task was created before, use it.
 * TRUE and *claim: nobody created it; send (then POST), then commit,
 * abort or abandon.
 * FALSE: an error; LUMA_JOURNAL_ERROR_CREATING_LEFT if an earlier attempt
 * may have created it, G_IO_ERROR_CANCELLED if @cancellable was cancelled
 * while another process or thread held the entry. */
/* Called once, in the thread that begins, when another process or thread
 * holds the entry: from then on the begin waits for it. */
typedef void (*LumaJournalHeldFunc) (gpointer user_data);

gboolean luma_journal_begin (const gchar * dir, const gchar * key,
    const LumaJournalRequest * what, LumaJournalHeldFunc on_held,
    gpointer user_data, GCancellable * cancellable,
    LumaJournalClaim ** claim, gchar ** existing_task_id, GError ** error);

/* Right before the POST: records, durably, that it may go out, so that
 * whatever comes after (a crash, a cut) is never taken for nothing sent.
 * Until then a claim dropped in any way leaves nothing behind. FALSE: the
 * POST must not be sent (abort the claim). */
gboolean luma_journal_send (LumaJournalClaim * claim, GError ** error);

/* The POST answered with @task_id. Always frees @claim; on an error the
 * "creating" entry stays, so that the task is never created again
 * silently (the caller may still use @task_id). */
gboolean luma_journal_commit (LumaJournalClaim * claim, const gchar * task_id,
    GError ** error);

/* The POST certainly created nothing: it was never sent, or was answered
 * with a refusal (4xx, 429). */
void luma_journal_abort (LumaJournalClaim * claim);

/* Whether the POST created a task cannot be known (cancelled or cut after
 * it was sent, a 5xx, an unreadable answer): the "creating" entry stays and
 * the next begin reports LUMA_JOURNAL_ERROR_CREATING_LEFT. */
void luma_journal_abandon (LumaJournalClaim * claim);

/* force-new: drops what the journal holds for @key (waiting for the entry's
 * lock like begin), so that the next begin claims it. */
gboolean luma_journal_forget (const gchar * dir, const gchar * key,
    GCancellable * cancellable, GError ** error);

/* A claim dropped without a decision is abandoned: the safe outcome. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LumaJournalClaim, luma_journal_abandon);

G_END_DECLS
