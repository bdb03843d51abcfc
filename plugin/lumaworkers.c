/* gst-luma: a few shared threads that run the steps of many waits
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A source waiting for its task used to poll from its own streaming
 * thread: every poll woke that thread, took a connection of its own
 * session and posted its messages, and hundreds of sources woke hundreds of
 * threads in step. Here the waits of the whole process are kept in one
 * queue, earliest first. One thread sleeps until the first is due (give
 * or take a little slack, so that steps due close together go at once)
 * and hands what is due to a worker thread, which runs the steps one after
 * the other; more workers (up to LUMA_WORKERS_MAX) are added only while steps
 * wait too long for one (slow answers, a stalled server). A worker whose
 * step has run for a second does not count (a server that does not answer
 * holds it until its timeout; the other waits go on), up to
 * LUMA_WORKERS_LIMIT workers in all. The thread that
 * waits sleeps until its wait is over, it is cancelled, or it gives up: it
 * is woken for none of the polls.
 *
 * A step is never abandoned half-way: a caller that is cancelled, or gives
 * up, while a step of its wait runs, waits for that step to return (the
 * step's own requests are cancelled with the caller's cancellable, so it
 * returns at once). What a step uses thus lives as long as the caller's
 * frame does.
 *
 * Workers with nothing to do for a while end; the next wait starts one.
 *
 * What a step hands to the application (lumasrc's messages) it defers
 * (luma_workers_defer ()): the worker runs the deferred calls, in order,
 * once it has run every step that was due with this one. An application
 * waiting for messages is then woken once for the polls of a batch, not
 * once for each poll: on a machine with few cores it was woken between
 * two polls, took the core from the worker and gave it back, two context
 * switches a poll. A batch longer than DEFER_MAX_US hands them on as it
 * goes; a step that stalls (a server that does not answer) holds back
 * those of the steps before it until another worker has run a step, at
 * the latest when those sources poll again. Whatever a step deferred has
 * run when its wait is over, unless the wait was cancelled while another
 * thread ran them: a stop never waits for the application.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumaworkers.h"

/* Another thread is put to work only when the steps that are due have
 * waited this long for one: on a fast network one thread keeps up with
 * hundreds of waits, and more would only contend for the same locks; on a
 * slow one, or when a server stalls, threads are added as needed. */
#define LATE_US (100 * G_TIME_SPAN_MILLISECOND)

/* A worker with nothing to do for this long ends. */
#define IDLE_END_US (10 * G_USEC_PER_SEC)

/* A step may run this much after it is due, at the most, and a sixteenth
 * of how far ahead it was set, so that steps due close together run in
 * one go: one wake-up of the scheduler and of a worker for a batch of
 * polls, not one for each. Never early: a server's Retry-After is kept. */
#define SLACK_MAX_US (20 * G_TIME_SPAN_MILLISECOND)
#define SLACK_SHARE 16

/* A batch hands on what its steps deferred at least this often. */
#define DEFER_MAX_US (20 * G_TIME_SPAN_MILLISECOND)

typedef struct
{
  LumaDeferFunc func;
  gpointer data;
  gint64 since;
  gconstpointer owner;          /* the wait (LumaSteps) whose step deferred
                                 * it; NULL: none */
} Deferred;

typedef struct
{
  LumaStepFunc step;
  gpointer data;
  gint64 give_up;
  gint64 due;
  gint64 latest;                /* due, and the slack it is given */
  GSequenceIter *queued;        /* in the queue, or NULL */
  GList *ready;                 /* in the ready list, or NULL */
  GList *running;               /* in pool.running while a worker runs
                                 * its step, else NULL */
  gint64 started;               /* when the step that runs began */
  gboolean over;                /* a step said so */
  gboolean abandoned;           /* the caller has gone: never queued again */
  GCond changed;                /* over, the caller's cancel, or a step's end
                                 * that the caller waits for */
} LumaSteps;

/* Everything under one lock. One thread, the scheduler, sleeps until the
 * first step is due, moves what is due to the ready list and wakes a
 * worker; the workers run the ready steps one after the other. */
static struct
{
  GMutex lock;
  GCond schedule;               /* the queue's head changed */
  GCond work;                   /* a step is ready */
  GSequence *queue;             /* of LumaSteps, earliest due first */
  GQueue ready;                 /* of LumaSteps, due, in order */
  GQueue running;               /* of LumaSteps, whose step runs now */
  guint workers;
  guint idle;                   /* workers waiting for work */
  gint64 sleeps_until;          /* the scheduler's, G_MAXINT64: no step */
  guint wakeups;                /* of the scheduler, ever */
  GQueue deferred;              /* of Deferred, oldest first */
  GThread *runs_deferred;       /* the worker that runs them now, or NULL */
  /* the calls it took and has not run yet, in order (a wait's caller
   * takes its own from there), and the wait of the one it runs now, while
   * call_running: compared, never used (a wait may be over) */
  GQueue batch;
  gboolean call_running;
  gconstpointer running_owner;
  GCond deferred_done;          /* a call of the batch was run, or
                                 * runs_deferred went back to NULL */
} pool;

/* Set in the workers: luma_workers_defer () defers only there. */
static GPrivate in_worker;
/* The wait whose step a worker runs now: what it defers is that wait's. */
static GPrivate running_steps;

static gint
compare_due (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const LumaSteps *sa = a, *sb = b;

  return sa->due < sb->due ? -1 : sa->due > sb->due;
}

static gpointer run_worker (gpointer unused);
static gpointer run_scheduler (gpointer unused);

static void
queue_locked (LumaSteps * steps, gint64 due, gint64 now)
{
  if (pool.queue == NULL) {
    pool.queue = g_sequence_new (NULL);
    g_thread_unref (g_thread_new ("luma-schedule", run_scheduler, NULL));
  }
  steps->due = due;
  steps->latest = due + CLAMP ((due - now) / SLACK_SHARE, 0, SLACK_MAX_US);
  steps->queued = g_sequence_insert_sorted (pool.queue, steps, compare_due,
      NULL);
  /* a step that may not wait as long as the scheduler sleeps */
  if (steps->latest < pool.sleeps_until)
    g_cond_signal (&pool.schedule);
}

/* When the scheduler must look again: the earliest latest time of the
 * steps queued (only those due before it can have an earlier one). */
static gint64
next_wake_locked (void)
{
  GSequenceIter *iter = g_sequence_get_begin_iter (pool.queue);
  gint64 wake_at = G_MAXINT64;

  for (; !g_sequence_iter_is_end (iter); iter = g_sequence_iter_next (iter)) {
    LumaSteps *steps = g_sequence_get (iter);

    if (steps->due >= wake_at)
      break;
    wake_at = MIN (wake_at, steps->latest);
  }
  return wake_at;
}

/* The workers held by a step that has run for LUMA_WORKERS_STALLED_US */
static guint
stalled_workers_locked (gint64 now)
{
  guint stalled = 0;
  GList *l;

  for (l = pool.running.head; l != NULL; l = l->next) {
    const LumaSteps *steps = l->data;

    if (now - steps->started >= LUMA_WORKERS_STALLED_US)
      stalled++;
  }
  return stalled;
}

/* @late: the ready steps have waited LATE_US: a busy worker is not
 * enough */
static void
get_a_worker_locked (gboolean late, gint64 now)
{
  if (pool.idle > 0) {
    g_cond_signal (&pool.work);
  } else if (pool.workers == 0 || (late && pool.workers < LUMA_WORKERS_LIMIT
          && pool.workers - stalled_workers_locked (now) < LUMA_WORKERS_MAX)) {
    pool.workers++;
    g_thread_unref (g_thread_new ("luma-poll", run_worker, NULL));
  }
}

/* Moves the steps that are due to the ready list; returns when to look
 * again. */
static gint64
schedule_locked (gint64 now)
{
  GSequenceIter *first;
  gboolean was_empty = g_queue_is_empty (&pool.ready);
  LumaSteps *oldest;
  gint64 wake_at;

  while (!g_sequence_iter_is_end (first =
          g_sequence_get_begin_iter (pool.queue))
      && ((LumaSteps *) g_sequence_get (first))->due <= now) {
    LumaSteps *steps = g_sequence_get (first);

    g_sequence_remove (first);
    steps->queued = NULL;
    g_queue_push_tail (&pool.ready, steps);
    steps->ready = pool.ready.tail;
  }
  oldest = g_queue_peek_head (&pool.ready);
  if (oldest != NULL && (was_empty || now - oldest->due >= LATE_US))
    get_a_worker_locked (now - oldest->due >= LATE_US, now);

  /* the next step that may wait no longer, or the time to see whether the
   * ready ones are late, whichever comes first */
  wake_at = next_wake_locked ();
  if (oldest != NULL)
    wake_at = MIN (wake_at, MAX (now, oldest->due) + LATE_US);
  return wake_at;
}

static gpointer
run_scheduler (gpointer unused)
{
  g_mutex_lock (&pool.lock);
  for (;;) {
    gint64 wake_at = schedule_locked (g_get_monotonic_time ());

    pool.wakeups++;
    pool.sleeps_until = wake_at;
    if (wake_at == G_MAXINT64)
      g_cond_wait (&pool.schedule, &pool.lock);
    else
      g_cond_wait_until (&pool.schedule, &pool.lock, wake_at);
  }
  g_mutex_unlock (&pool.lock);
  return NULL;
}

/* Moves the calls deferred by @owner's steps out of @from to the end of
 * @taken, in order; NULL: all of them. */
static void
take_calls_locked (GQueue * from, gconstpointer owner, GQueue * taken)
{
  GList *link = from->head;

  while (link != NULL) {
    GList *next = link->next;

    if (owner == NULL || ((Deferred *) link->data)->owner == owner) {
      g_queue_unlink (from, link);
      g_queue_push_tail_link (taken, link);
    }
    link = next;
  }
}

/* Runs @calls in order, without the lock (taken again at the end). */
static void
run_calls_unlocked (GQueue * calls)
{
  Deferred *call;

  g_mutex_unlock (&pool.lock);
  while ((call = g_queue_pop_head (calls)) != NULL) {
    call->func (call->data);
    g_free (call);
  }
  g_mutex_lock (&pool.lock);
}

/* The worker runs now a call of @owner's wait. */
static gboolean
runs_call_of_locked (gconstpointer owner)
{
  return pool.runs_deferred != NULL && pool.call_running
      && pool.running_owner == owner;
}

/* Runs every deferred call, oldest first, without the lock: a worker's
 * part. One worker at a time (the others wait for it), so that the order
 * holds whichever thread runs them; a call that itself leads here returns
 * at once. The calls not run yet wait in pool.batch. */
static void
run_all_deferred_locked (void)
{
  GThread *me = g_thread_self ();

  if (pool.runs_deferred == me)
    return;
  while (pool.runs_deferred != NULL)
    g_cond_wait (&pool.deferred_done, &pool.lock);
  /* one call at a time out of pool.batch, the lock taken again
   * after each: a wait's caller takes its own calls that have not run, and
   * is woken as soon as the one of its wait that runs is done, instead of
   * waiting for every call deferred meanwhile (a handler slower than the
   * polls: never) */
  for (take_calls_locked (&pool.deferred, NULL, &pool.batch);
      !g_queue_is_empty (&pool.batch);
      take_calls_locked (&pool.deferred, NULL, &pool.batch)) {
    Deferred *call;

    pool.runs_deferred = me;
    while ((call = g_queue_pop_head (&pool.batch)) != NULL) {
      pool.call_running = TRUE;
      pool.running_owner = call->owner;
      g_mutex_unlock (&pool.lock);
      call->func (call->data);
      g_free (call);
      g_mutex_lock (&pool.lock);
      pool.call_running = FALSE;
      g_cond_broadcast (&pool.deferred_done);
    }
    pool.runs_deferred = NULL;
  }
  g_cond_broadcast (&pool.deferred_done);
}

/* The caller of a wait, at its end: runs the calls its wait's steps
 * deferred that are left, in order, after those a worker runs now (if
 * it took some of them). Only its own: the others' are another element's
 * messages, which its thread (a streaming thread) must not post, since a
 * bus sync handler may stop that element's pipeline from the thread that
 * posts; and they may wait for a handler that takes its time, which this
 * wait then does not. What is left goes to a worker.
 *
 * A caller whose @cancellable is cancelled stops waiting for a worker's
 * calls, which then run without it: they may be what cancelled it (an
 * application's bus sync handler, stopping the pipeline from the thread
 * that posts, waits for the caller's streaming thread to end). */
static void
run_own_deferred_locked (GCancellable * cancellable, gconstpointer owner)
{
  GQueue calls = G_QUEUE_INIT;

  /* only for the call of its wait that a worker runs now; those
   * the worker took and has not run yet are taken back, before those
   * left in the queue (deferred later) */
  while (runs_call_of_locked (owner)) {
    if (g_cancellable_is_cancelled (cancellable))
      return;
    g_cond_wait (&pool.deferred_done, &pool.lock);
  }
  take_calls_locked (&pool.batch, owner, &calls);
  take_calls_locked (&pool.deferred, owner, &calls);
  if (!g_queue_is_empty (&calls))
    run_calls_unlocked (&calls);
  if (!g_queue_is_empty (&pool.deferred) && pool.runs_deferred == NULL)
    get_a_worker_locked (FALSE, g_get_monotonic_time ());
}

static gboolean
deferred_too_long_locked (gint64 now)
{
  Deferred *oldest = g_queue_peek_head (&pool.deferred);

  return oldest != NULL && now - oldest->since >= DEFER_MAX_US;
}

static void
run_one_step_locked (LumaSteps * steps)
{
  gint64 next_due = 0;
  gboolean over;

  steps->started = g_get_monotonic_time ();
  g_queue_push_tail (&pool.running, steps);
  steps->running = pool.running.tail;
  g_mutex_unlock (&pool.lock);
  g_private_set (&running_steps, steps);
  over = steps->step (steps->data, &next_due);
  g_private_set (&running_steps, NULL);
  g_mutex_lock (&pool.lock);
  g_queue_delete_link (&pool.running, steps->running);
  steps->running = NULL;
  if (over)
    steps->over = TRUE;
  else if (!steps->abandoned)
    queue_locked (steps, next_due, g_get_monotonic_time ());
  /* the caller sleeps through the polls: woken only when it has something
   * to do */
  if (over || steps->abandoned || g_get_monotonic_time () >= steps->give_up)
    g_cond_broadcast (&steps->changed);
}

static gpointer
run_worker (gpointer unused)
{
  g_private_set (&in_worker, GINT_TO_POINTER (TRUE));
  g_mutex_lock (&pool.lock);
  for (;;) {
    LumaSteps *steps;
    gboolean woken;

    /* a long batch hands on what it deferred as it goes; a finished one,
     * all of it; unless another worker runs them now: it runs these too
     * before it is done, and waiting for it (an application's handler
     * that takes its time) would stop every poll of the process */
    if (!g_queue_is_empty (&pool.deferred) && pool.runs_deferred == NULL
        && (g_queue_is_empty (&pool.ready)
            || deferred_too_long_locked (g_get_monotonic_time ()))) {
      run_all_deferred_locked ();
      continue;
    }
    steps = g_queue_pop_head (&pool.ready);
    if (steps != NULL) {
      steps->ready = NULL;
      run_one_step_locked (steps);
      continue;
    }
    pool.idle++;
    woken = g_cond_wait_until (&pool.work, &pool.lock,
        g_get_monotonic_time () + IDLE_END_US);
    pool.idle--;
    if (!woken && g_queue_is_empty (&pool.ready))
      break;
  }
  pool.workers--;
  g_mutex_unlock (&pool.lock);
  return NULL;
}

/* in its wait, or waiting for another thread's deferred calls */
static void
wake_caller (GCancellable * cancellable, LumaSteps * steps)
{
  g_mutex_lock (&pool.lock);
  g_cond_broadcast (&steps->changed);
  g_cond_broadcast (&pool.deferred_done);
  g_mutex_unlock (&pool.lock);
}

/**
 * luma_workers_run_steps:
 * @give_up: g_get_monotonic_time () microseconds; G_MAXINT64: never
 *
 * Runs @step at once, then whenever it says, in the shared threads, until
 * it says the wait is over. The caller sleeps meanwhile, and comes back
 * early when @cancellable is cancelled or @give_up has passed while no step
 * ran (a step that runs then is waited for).
 *
 * Returns: TRUE when a step said the wait is over.
 */
gboolean
luma_workers_run_steps (LumaStepFunc step, gpointer data, gint64 give_up,
    GCancellable * cancellable)
{
  return luma_workers_run_steps_from (step, data, G_MININT64, give_up,
      cancellable);
}

gboolean
luma_workers_run_steps_from (LumaStepFunc step, gpointer data,
    gint64 first_due, gint64 give_up, GCancellable * cancellable)
{
  LumaSteps steps = { step, data, give_up };
  gulong handler = 0;
  gboolean over;
  gint64 now;

  g_cond_init (&steps.changed);
  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (wake_caller),
        &steps, NULL);

  g_mutex_lock (&pool.lock);
  now = g_get_monotonic_time ();
  queue_locked (&steps, MAX (first_due, now), now);
  while (!steps.over && !g_cancellable_is_cancelled (cancellable)) {
    now = g_get_monotonic_time ();
    if (now >= give_up && steps.running == NULL)
      break;
    /* past @give_up, a step that runs says when it is over */
    if (give_up == G_MAXINT64 || now >= give_up)
      g_cond_wait (&steps.changed, &pool.lock);
    else
      g_cond_wait_until (&steps.changed, &pool.lock, give_up);
  }
  steps.abandoned = TRUE;
  while (steps.running != NULL)
    g_cond_wait (&steps.changed, &pool.lock);
  if (steps.queued != NULL)
    g_sequence_remove (steps.queued);
  if (steps.ready != NULL)
    g_queue_delete_link (&pool.ready, steps.ready);
  /* what the steps deferred comes before what the caller does next */
  run_own_deferred_locked (cancellable, &steps);
  over = steps.over;
  g_mutex_unlock (&pool.lock);

  if (handler != 0)
    g_cancellable_disconnect (cancellable, handler);
  g_cond_clear (&steps.changed);
  return over;
}

static void
push_deferred_locked (LumaDeferFunc func, gpointer data, gconstpointer owner)
{
  Deferred *call = g_new (Deferred, 1);

  call->func = func;
  call->data = data;
  call->since = g_get_monotonic_time ();
  call->owner = owner;
  g_queue_push_tail (&pool.deferred, call);
}

/**
 * luma_workers_defer:
 *
 * In a step: runs @func (@data) once the worker has run the steps due with
 * this one (see the top of this file), and before the wait of this step is
 * over, unless that wait is cancelled first: @data must then hold what
 * @func needs. Elsewhere: at once.
 */
void
luma_workers_defer (LumaDeferFunc func, gpointer data)
{
  if (g_private_get (&in_worker) == NULL) {
    func (data);
    return;
  }
  g_mutex_lock (&pool.lock);
  push_deferred_locked (func, data, g_private_get (&running_steps));
  g_mutex_unlock (&pool.lock);
}

static guint
read_under_lock (const guint * counter)
{
  guint value;

  g_mutex_lock (&pool.lock);
  value = *counter;
  g_mutex_unlock (&pool.lock);
  return value;
}

guint
luma_workers_get_threads (void)
{
  return read_under_lock (&pool.workers);
}

guint
luma_workers_get_wakeups (void)
{
  return read_under_lock (&pool.wakeups);
}
