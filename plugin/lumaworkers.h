/* gst-luma: a few shared threads that run the steps of many waits
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* One step of a wait (a poll): TRUE when the wait is over; else sets
 * @next_due (g_get_monotonic_time () microseconds) to when the next step
 * is due. Runs in one of the shared threads. */
typedef gboolean (*LumaStepFunc) (gpointer data, gint64 * next_due);

/* At most this many threads run steps at once, for the whole process,
 * not counting those whose step has run for LUMA_WORKERS_STALLED_US (a
 * server that does not answer) up to LUMA_WORKERS_LIMIT threads in all. */
#define LUMA_WORKERS_MAX 8
#define LUMA_WORKERS_LIMIT 32
#define LUMA_WORKERS_STALLED_US G_USEC_PER_SEC

gboolean luma_workers_run_steps (LumaStepFunc step, gpointer data,
    gint64 give_up, GCancellable * cancellable);
/* The same, with the first step not before @first_due (monotonic). */
gboolean luma_workers_run_steps_from (LumaStepFunc step, gpointer data,
    gint64 first_due, gint64 give_up, GCancellable * cancellable);

/* Runs and frees @data. */
typedef void (*LumaDeferFunc) (gpointer data);

/* From a step: runs @func (@data) after the steps due with this one (at
 * most 20 ms later, unless a step stalls), and before this step's wait is
 * over, unless the wait is cancelled first (so @data holds references of
 * its own); called outside the shared threads, runs it at once. */
void luma_workers_defer (LumaDeferFunc func, gpointer data);

/* How many threads run steps now, busy or idle. */
guint luma_workers_get_threads (void);

/* How many times the thread that hands out due steps has looked at the
 * queue since the process started: steps due close together share one
 * look. */
guint luma_workers_get_wakeups (void);

G_END_DECLS
