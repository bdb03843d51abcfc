/* gst-luma: the shared threads that run the steps of many waits, alone:
 * when steps run, and how steps due close together share a wake-up
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>

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
   * with the slack, WAITS each without it; a few more for a busy machine */
  fail_unless (luma_workers_get_wakeups () - before <= (STEPS - 1) * 3,
      "%u looks for %u steps", luma_workers_get_wakeups () - before,
      (STEPS - 1) * WAITS);
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
  return s;
}

GST_CHECK_MAIN (workers);
