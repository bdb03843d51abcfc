/* gst-luma: the shared threads that run the steps of many waits, alone:
 * when steps run, how steps due close together share a wake-up, and when
 * what they defer runs
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <stdlib.h>
#include <string.h>

#include "lumaworkers.h"

#define WAITS 20
#define STEPS 4

typedef struct
{
  guint index;
  guint steps;
  gint64 due;                   /* of the step to run next */
  gint64 earliest;              /* the least (run - due) seen */
  gint64 first_round_end;       /* shared: when the second steps fall due */
} Wait;

static gint first_steps_run;

/* Each wait's next step is due at a time of its own, 1 ms after the
 * previous wait's, a few hundred ms ahead. */
static gboolean
spread_step (gpointer data, gint64 * next_due)
{
  Wait *wait = data;
  gint64 late = g_get_monotonic_time () - wait->due;

  wait->earliest = MIN (wait->earliest, late);
  if (++wait->steps == 1)
    g_atomic_int_inc (&first_steps_run);
  if (wait->steps == STEPS)
    return TRUE;
  wait->due = wait->first_round_end + (wait->steps - 1) * 400 * 1000
      + wait->index * 1000;
  *next_due = wait->due;
  return FALSE;
}

static gpointer
run_wait (gpointer data)
{
  Wait *wait = data;

  fail_unless (luma_workers_run_steps (spread_step, wait, G_MAXINT64, NULL));
  return NULL;
}

/* WAITS waits whose steps fall due 1 ms apart: no step runs before it is
 * due, and each round of steps takes a few looks of the scheduler, not
 * one a step. */
GST_START_TEST (test_close_steps_share_a_wakeup)
{
  Wait waits[WAITS];
  GThread *threads[WAITS];
  gint64 start = g_get_monotonic_time ();
  guint before, i;

  for (i = 0; i < WAITS; i++) {
    waits[i] = (Wait) {
    i, 0, start, G_MAXINT64, start + 300 * 1000};
    threads[i] = g_thread_new ("wait", run_wait, &waits[i]);
  }
  while (g_atomic_int_get (&first_steps_run) < WAITS)
    g_usleep (1000);
  before = luma_workers_get_wakeups ();
  for (i = 0; i < WAITS; i++)
    g_thread_join (threads[i]);

  for (i = 0; i < WAITS; i++) {
    fail_unless_equals_int (waits[i].steps, STEPS);
    fail_unless (waits[i].earliest >= 0, "a step ran %" G_GINT64_FORMAT
        " us before it was due", -waits[i].earliest);
  }
  /* (STEPS - 1) rounds of WAITS steps spread over 19 ms: one look each
   * with the slack, WAITS each without it; a few more for a busy machine,
   * and more again under valgrind (CK_TIMEOUT_MULTIPLIER), where a round's
   * steps take long enough to be found late: still far from one a step */
  fail_unless (luma_workers_get_wakeups () - before <= (STEPS - 1) * 3
      * (g_getenv ("CK_TIMEOUT_MULTIPLIER") ? 3 : 1),
      "%u looks for %u steps", luma_workers_get_wakeups () - before,
      (STEPS - 1) * WAITS);
}

GST_END_TEST;

/* ----- what steps defer ----- */

static GMutex log_lock;
static GString *events;

static void
log_event (const gchar * format, guint index)
{
  g_mutex_lock (&log_lock);
  g_string_append_printf (events, format, index);
  g_mutex_unlock (&log_lock);
}

static void
log_deferred (gpointer data)
{
  log_event ("d%u ", GPOINTER_TO_UINT (data));
}

typedef struct
{
  guint index;
  guint steps;
  gint64 due;                   /* of the second step, shared by the batch */
  guint stall_ms;               /* the second step takes this long */
} Batched;

/* The first step sets the second at a time shared with the others; the
 * second logs itself, defers a call, and sets a third far ahead; the
 * third says the wait is over. */
static gboolean
batched_step (gpointer data, gint64 * next_due)
{
  Batched *wait = data;

  switch (++wait->steps) {
    case 1:
      *next_due = wait->due;
      return FALSE;
    case 2:
      log_event ("s%u ", wait->index);
      luma_workers_defer (log_deferred, GUINT_TO_POINTER (wait->index));
      if (wait->stall_ms > 0)
        g_usleep (wait->stall_ms * 1000);
      *next_due = g_get_monotonic_time () + 300 * 1000;
      return FALSE;
    default:
      return TRUE;
  }
}

static gpointer
run_batched (gpointer data)
{
  fail_unless (luma_workers_run_steps (batched_step, data, G_MAXINT64, NULL));
  return NULL;
}

/* Three waits whose second steps fall due together (1 us apart, in that
 * order), the second of which takes @stall_ms; returns what ran, in order,
 * up to the end of the waits. */
static gchar *
run_a_batch (guint stall_ms)
{
  Batched waits[3];
  GThread *threads[3];
  /* far enough ahead that the three threads have set it before it falls
   * due, under valgrind too (which starts threads slowly) */
  const gchar *slowdown = g_getenv ("CK_TIMEOUT_MULTIPLIER");
  gint64 due = g_get_monotonic_time () + 200 * 1000
      * (slowdown != NULL ? MAX (atoi (slowdown), 1) : 1);
  guint i;

  events = g_string_new (NULL);
  for (i = 0; i < 3; i++) {
    waits[i] = (Batched) {
    i, 0, due + i, i == 1 ? stall_ms : 0};
    threads[i] = g_thread_new ("wait", run_batched, &waits[i]);
  }
  for (i = 0; i < 3; i++)
    g_thread_join (threads[i]);
  return g_string_free (g_steal_pointer (&events), FALSE);
}

/* The application is woken once for a batch: what the steps deferred runs
 * after the last step due with them, in the order of the steps. */
GST_START_TEST (test_deferred_after_the_batch)
{
  g_autofree gchar *order = run_a_batch (0);

  fail_unless_equals_string (order, "s0 s1 s2 d0 d1 d2 ");
}

GST_END_TEST;

/* A long batch hands on what it deferred as it goes: a step that takes
 * longer than 20 ms does not hold back, beyond itself, what the steps
 * before it deferred. */
GST_START_TEST (test_long_batch_hands_on_as_it_goes)
{
  g_autofree gchar *order = run_a_batch (40);

  fail_unless_equals_string (order, "s0 s1 d0 d1 s2 d2 ");
}

GST_END_TEST;

static gboolean
defer_and_wait_on (gpointer data, gint64 * next_due)
{
  luma_workers_defer (log_deferred, GUINT_TO_POINTER (7));
  g_cancellable_cancel (data);
  *next_due = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  return FALSE;
}

static gboolean
defer_and_end (gpointer data, gint64 * next_due)
{
  luma_workers_defer (log_deferred, GUINT_TO_POINTER (8));
  return TRUE;
}

/* What a step deferred has run when its wait is over. */
GST_START_TEST (test_deferred_before_the_wait_returns)
{
  events = g_string_new (NULL);
  fail_unless (luma_workers_run_steps (defer_and_end, NULL, G_MAXINT64, NULL));
  fail_unless_equals_string (events->str, "d8 ");
  g_string_free (events, TRUE);
}

GST_END_TEST;

/* Waits up to 10 s for @text in the log. */
static gboolean
log_gets (const gchar * text)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  gboolean found = FALSE;

  while (!found && g_get_monotonic_time () < deadline) {
    g_mutex_lock (&log_lock);
    found = strstr (events->str, text) != NULL;
    g_mutex_unlock (&log_lock);
    if (!found)
      g_usleep (1000);
  }
  return found;
}

/* A cancelled wait may come back before what it deferred has run: that
 * is still run, by a worker (the element's call then decides what of it
 * is still to be done). */
GST_START_TEST (test_cancelled_waits_calls_still_run)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();

  events = g_string_new (NULL);
  fail_if (luma_workers_run_steps (defer_and_wait_on, cancellable,
          G_MAXINT64, cancellable));
  fail_unless (log_gets ("d7 "));
  fail_unless_equals_string (events->str, "d7 ");
  g_string_free (events, TRUE);
}

GST_END_TEST;

/* What an application's bus sync handler does when it stops a pipeline
 * from the thread that posts: the stop cancels the wait, then waits for
 * the waiting thread to end. */
typedef struct
{
  GCancellable *cancellable;
  GMutex lock;
  GCond cond;
  gboolean caller_back;
} Blocking;

static void
cancel_and_wait_for_the_caller (gpointer data)
{
  Blocking *blocking = data;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_cancellable_cancel (blocking->cancellable);
  g_mutex_lock (&blocking->lock);
  while (!blocking->caller_back
      && g_cond_wait_until (&blocking->cond, &blocking->lock, deadline));
  log_event ("b%u ", blocking->caller_back);
  g_mutex_unlock (&blocking->lock);
}

static gboolean
defer_a_blocking_call (gpointer data, gint64 * next_due)
{
  luma_workers_defer (cancel_and_wait_for_the_caller, data);
  *next_due = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  return FALSE;
}

/* A cancelled wait does not wait for the deferred calls another thread
 * runs: one of them may be waiting for it. */
GST_START_TEST (test_cancelled_wait_does_not_wait_for_deferred_calls)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Blocking blocking = { cancellable, };

  g_mutex_init (&blocking.lock);
  g_cond_init (&blocking.cond);
  events = g_string_new (NULL);
  fail_if (luma_workers_run_steps (defer_a_blocking_call, &blocking,
          G_MAXINT64, cancellable));
  g_mutex_lock (&blocking.lock);
  blocking.caller_back = TRUE;
  g_cond_signal (&blocking.cond);
  g_mutex_unlock (&blocking.lock);
  fail_unless (log_gets ("b1 "));
  fail_unless_equals_string (events->str, "b1 ");
  g_string_free (events, TRUE);
  g_mutex_clear (&blocking.lock);
  g_cond_clear (&blocking.cond);
}

GST_END_TEST;

/* Outside the shared threads nothing is deferred. */
GST_START_TEST (test_defer_elsewhere_runs_at_once)
{
  events = g_string_new (NULL);
  luma_workers_defer (log_deferred, GUINT_TO_POINTER (5));
  fail_unless_equals_string (events->str, "d5 ");
  g_string_free (events, TRUE);
}

GST_END_TEST;

/* what a step defers is an element's messages, whose bus sync
 * handler may stop that element's pipeline ("from any thread that is not
 * the streaming thread", docs/lumasrc.md). The caller of another wait is
 * another element's streaming thread (maybe of the same pipeline): the
 * calls deferred by wait A must never run there. */
static GThread *caller_b;
static GThread *ran_a_in;

static void
note_thread (gpointer data)
{
  ran_a_in = g_thread_self ();
}

typedef struct
{
  guint role;                   /* 0: A defers, 1: B ends, 2: C is slow */
  guint steps;
  gint64 due;
} Role;

static gboolean
role_step (gpointer data, gint64 * next_due)
{
  Role *r = data;

  if (++r->steps == 1) {
    *next_due = r->due;
    return FALSE;
  }
  switch (r->role) {
    case 0:
      if (r->steps == 2)
        luma_workers_defer (note_thread, NULL);
      break;
    case 1:
      return TRUE;
    default:
      if (r->steps == 2)
        g_usleep (300 * 1000);
      break;
  }
  if (r->steps >= 3)
    return TRUE;
  *next_due = g_get_monotonic_time () + 1000 * 1000;
  return FALSE;
}

static gpointer
run_role (gpointer data)
{
  Role *r = data;

  if (r->role == 1)
    caller_b = g_thread_self ();
  fail_unless (luma_workers_run_steps (role_step, r, G_MAXINT64, NULL));
  return NULL;
}

GST_START_TEST (test_deferred_never_run_by_another_waits_caller)
{
  Role roles[3];
  GThread *threads[3];
  gint64 due = g_get_monotonic_time () + 200 * 1000;
  guint i;

  for (i = 0; i < 3; i++) {
    roles[i] = (Role) {
    i, 0, due + i};
    threads[i] = g_thread_new ("wait", run_role, &roles[i]);
  }
  for (i = 0; i < 3; i++)
    g_thread_join (threads[i]);
  fail_unless (ran_a_in != NULL);
  fail_if (ran_a_in == caller_b, "wait A's deferred call (its element's "
      "messages) ran in wait B's caller thread (another element's streaming "
      "thread)");
}

GST_END_TEST;

static Suite *
workers_suite (void)
{
  Suite *s = suite_create ("luma-workers");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_close_steps_share_a_wakeup);
  tcase_add_test (tc, test_deferred_after_the_batch);
  tcase_add_test (tc, test_long_batch_hands_on_as_it_goes);
  tcase_add_test (tc, test_deferred_before_the_wait_returns);
  tcase_add_test (tc, test_cancelled_waits_calls_still_run);
  tcase_add_test (tc, test_cancelled_wait_does_not_wait_for_deferred_calls);
  tcase_add_test (tc, test_defer_elsewhere_runs_at_once);
  tcase_add_test (tc, test_deferred_never_run_by_another_waits_caller);
  return s;
}

GST_CHECK_MAIN (workers);
