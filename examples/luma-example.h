/* gst-luma examples: what luma-transcode and luma-play both do with the
 * messages of lumasrc: a progress line while the task generates, and an
 * exit status that tells a script why a run failed.
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* The exit statuses of the examples, so that a script can tell a task that
 * failed (do not try again) from a wait that timed out (try again later). */
typedef enum
{
  LUMA_EXIT_OK = 0,
  LUMA_EXIT_ERROR = 1,
  LUMA_EXIT_USAGE = 2,
  LUMA_EXIT_TASK_FAILED = 3,
  LUMA_EXIT_EXPIRED = 4,
  LUMA_EXIT_NOT_AUTHORIZED = 5,
  LUMA_EXIT_TIMEOUT = 6,
  LUMA_EXIT_INPUT_REFUSED = 7,
  LUMA_EXIT_TASK_MAY_EXIST = 8,
  LUMA_EXIT_INTERRUPTED = 130,
} LumaExitStatus;

/* For the --help text of each example. */
#define LUMA_EXIT_STATUS_HELP \
  "Exit status:\n" \
  "  0    done\n" \
  "  1    any other error (unknown task, network, output file...)\n" \
  "  2    bad command line\n" \
  "  3    the task failed at KIE (creation or generation failed)\n" \
  "  4    the task's result has expired\n" \
  "  5    the API key was refused\n" \
  "  6    the task was still generating when the wait timed out\n" \
  "       (it goes on at KIE: run again with the same id later)\n" \
  "  130  interrupted (Ctrl-C, SIGTERM)\n" \
  "\n" \
  "Environment: KIE_API_KEY (required), KIE_API_URL (default: the KIE API)."

LumaExitStatus luma_example_exit_status (GstMessage * error_message);
/* The same for a run that creates its task (lumamodify, lumasrc with a
 * prompt): an input refused (7), a billed task that may exist (8). */
LumaExitStatus luma_example_create_exit_status (GstMessage * error_message);
/* Checks the --poll-interval (0: lumasrc's default) and --wait-timeout (-1:
 * lumasrc's default) options both programs take; prints why they are bad. */
gboolean luma_example_check_wait_options (gint poll_interval,
    gint wait_timeout);

void luma_example_print_error (GstMessage * error_message);
void luma_example_print_warning (GstMessage * warning_message);
LumaExitStatus luma_example_status_of_failed_start (GstBus * bus);
gboolean luma_example_run_pipeline (GstElement * pipeline, GstState state,
    GMainLoop * loop, GstBusFunc on_message, GSourceFunc on_interrupt,
    gpointer data, LumaExitStatus * status);
/* Renames @part_path to @output when @status is LUMA_EXIT_OK, else removes
 * it; closes @part_lock (luma_example_claim_part ()) after. */
LumaExitStatus luma_example_keep_output (LumaExitStatus status,
    const gchar * part_path, gint part_lock, const gchar * output);
/* Makes @part_path this run's own while it runs (a lock another run
 * of the same command sees), before filesink truncates it; returns the
 * lock's descriptor, to close once the file is renamed or removed, or -1
 * (why printed) when another run is writing it. */
gint luma_example_claim_part (const gchar * part_path);

/* One line on a terminal that each poll of the task (and each step of an
 * upload) rewrites; one line per poll when stdout is a file or a pipe. */
typedef struct
{
  gboolean is_tty;
  gboolean open;                /* a line was drawn and not yet ended */
  gint upload_step;             /* tens of percent of the upload last shown */
} LumaProgressLine;

void luma_progress_line_init (LumaProgressLine * line);
gboolean luma_progress_line_handle (LumaProgressLine * line,
    GstMessage * message);
void luma_progress_line_show (LumaProgressLine * line, const gchar * text);
void luma_progress_line_end (LumaProgressLine * line);

G_END_DECLS
