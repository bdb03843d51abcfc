/* gst-luma examples: the progress line and the exit status, from the
 * messages lumasrc posts (see gst/luma/luma.h for their fields).
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "luma-example.h"

#include <gst/luma/luma.h>

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static gboolean
is_failed_state (GstLumaTaskState state)
{
  return state == GST_LUMA_TASK_STATE_CREATE_FAILED
      || state == GST_LUMA_TASK_STATE_GENERATE_FAILED;
}

static gboolean
is_done_state (GstLumaTaskState state)
{
  return state == GST_LUMA_TASK_STATE_SUCCESS
      || state == GST_LUMA_TASK_STATE_CALLBACK_FAILED;
}

/* lumasrc says why it failed in two places: the error code, and the task's
 * state in the details structure. The code alone is not enough: a failed
 * task and an unreachable server are both OPEN_READ, and NOT_FOUND is an
 * unknown task id while waiting but an expired result once the task is
 * done. */
LumaExitStatus
luma_example_exit_status (GstMessage * error_message)
{
  g_autoptr (GError) error = NULL;
  const GstStructure *details = NULL;
  gint state;

  gst_message_parse_error (error_message, &error, NULL);
  gst_message_parse_error_details (error_message, &details);

  /* an error without lumasrc's details comes from another element: a
   * demuxer that cannot read the video, a sink that cannot write... */
  if (error->domain != GST_RESOURCE_ERROR || details == NULL
      || !gst_structure_get_enum (details, GST_LUMA_DETAIL_TASK_STATE,
          GST_TYPE_LUMA_TASK_STATE, &state))
    return LUMA_EXIT_ERROR;

  if (is_failed_state (state))
    return LUMA_EXIT_TASK_FAILED;
  switch (error->code) {
    case GST_RESOURCE_ERROR_NOT_AUTHORIZED:
      return LUMA_EXIT_NOT_AUTHORIZED;
    case GST_RESOURCE_ERROR_BUSY:
      /* a task that is done waits for nothing more at KIE: what is busy
       * is its video host (rate limiting past the waits) */
      return is_done_state (state) ? LUMA_EXIT_ERROR : LUMA_EXIT_TIMEOUT;
    case GST_RESOURCE_ERROR_NOT_FOUND:
      return is_done_state (state) ? LUMA_EXIT_EXPIRED : LUMA_EXIT_ERROR;
    default:
      return LUMA_EXIT_ERROR;
  }
}

/* Creating a task adds two causes to the details: the input was refused
 * (by lumamodify before any upload, or by KIE), and a billed task may exist
 * although no answer said so. Rate limiting or maintenance while creating
 * (BUSY) is not a wait that timed out. */
LumaExitStatus
luma_example_create_exit_status (GstMessage * error_message)
{
  g_autoptr (GError) error = NULL;
  const GstStructure *details = NULL;
  gboolean may_exist = FALSE;

  gst_message_parse_error (error_message, &error, NULL);
  gst_message_parse_error_details (error_message, &details);
  if (error->domain != GST_RESOURCE_ERROR || details == NULL)
    return LUMA_EXIT_ERROR;
  if (gst_structure_has_field (details, GST_LUMA_DETAIL_INPUT_REFUSED))
    return LUMA_EXIT_INPUT_REFUSED;
  if (gst_structure_get_boolean (details, GST_LUMA_DETAIL_TASK_MAY_EXIST,
          &may_exist)) {
    if (may_exist)
      return LUMA_EXIT_TASK_MAY_EXIST;
    if (error->code == GST_RESOURCE_ERROR_BUSY)
      return LUMA_EXIT_ERROR;
  }
  return luma_example_exit_status (error_message);
}

void
luma_example_print_error (GstMessage * error_message)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *debug = NULL;

  gst_message_parse_error (error_message, &error, &debug);
  g_printerr ("%s: %s\n", g_get_prgname (), error->message);
  /* the debug text is for developers: only with GST_DEBUG set */
  if (debug != NULL && g_getenv ("GST_DEBUG") != NULL)
    g_printerr ("%s: (%s)\n", g_get_prgname (), debug);
}

/* lumasrc warns when the task succeeded but its callback failed: worth a
 * line, as the callback's receiver never heard of the video. */
void
luma_example_print_warning (GstMessage * warning_message)
{
  g_autoptr (GError) warning = NULL;

  gst_message_parse_warning (warning_message, &warning, NULL);
  g_printerr ("%s: warning: %s\n", g_get_prgname (), warning->message);
}

/* A pipeline that failed to start at once (no key, an OUTPUT that cannot
 * be written, a URI no element handles...) has already posted why. */
LumaExitStatus
luma_example_status_of_failed_start (GstBus * bus)
{
  g_autoptr (GstMessage) message =
      gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

  if (message == NULL) {
    g_printerr ("%s: could not start the pipeline\n", g_get_prgname ());
    return LUMA_EXIT_ERROR;
  }
  luma_example_print_error (message);
  return luma_example_exit_status (message);
}

/* Runs @pipeline towards @state until @loop is quit, by @on_message (the
 * bus watch) or @on_interrupt (SIGINT, SIGTERM), then stops it. Returns
 * FALSE, with *status set from what the bus says, when the pipeline refused
 * to start. */
gboolean
luma_example_run_pipeline (GstElement * pipeline, GstState state,
    GMainLoop * loop, GstBusFunc on_message, GSourceFunc on_interrupt,
    gpointer data, LumaExitStatus * status)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  guint sigint_id, sigterm_id;
  gboolean started;

  gst_bus_add_watch (bus, on_message, data);
  sigint_id = g_unix_signal_add (SIGINT, on_interrupt, data);
  sigterm_id = g_unix_signal_add (SIGTERM, on_interrupt, data);

  /* lumasrc waits (and lumamodify uploads) in their own threads: this
   * returns at once */
  started = gst_element_set_state (pipeline, state) != GST_STATE_CHANGE_FAILURE;
  if (started)
    g_main_loop_run (loop);
  else
    *status = luma_example_status_of_failed_start (bus);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_bus_remove_watch (bus);
  return started;
}

/* What a run written to @part_path leaves: @output when it succeeded,
 * nothing otherwise. Returns the run's status, or an error when the file
 * could not be renamed. */
LumaExitStatus
luma_example_keep_output (LumaExitStatus status, const gchar * part_path,
    gint part_lock, const gchar * output)
{
  if (status == LUMA_EXIT_OK && g_rename (part_path, output) != 0) {
    int saved_errno = errno;

    g_printerr ("%s: cannot rename %s to %s: %s\n", g_get_prgname (),
        part_path, output, g_strerror (saved_errno));
    status = LUMA_EXIT_ERROR;
  }
  if (status != LUMA_EXIT_OK)
    g_unlink (part_path);
  else
    g_print ("Saved %s\n", output);
  /* renamed or removed: the next run may have the path */
  close (part_lock);
  return status;
}

/* Two runs of the same command (a retry while the first still
 * runs, a batch that starts it twice) used to share OUTPUT.part: the second
 * truncated the first's bytes, and removed the file when it failed or was
 * interrupted, so that the first renamed a file with a hole of zeros, or
 * found none. The file is locked (flock) for the run that writes it; the
 * lock taken, the path is checked to still name the locked file (the run
 * that held it may have renamed or removed it meanwhile). */
gint
luma_example_claim_part (const gchar * part_path)
{
  for (;;) {
    struct stat fd_stat, path_stat;
    int fd = g_open (part_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    int saved_errno;

    if (fd < 0) {
      saved_errno = errno;
      g_printerr ("%s: cannot write %s: %s\n", g_get_prgname (), part_path,
          g_strerror (saved_errno));
      return -1;
    }
    /* Not one of the standard descriptors: with stdout (or stderr)
     * closed when the program starts, open () gives that number, and every
     * g_print () (the progress lines, "Saved OUTPUT") went into the video */
    if (fd <= STDERR_FILENO) {
      int high = fcntl (fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);

      saved_errno = errno;
      close (fd);
      if (high < 0) {
        g_printerr ("%s: cannot write %s: %s\n", g_get_prgname (), part_path,
            g_strerror (saved_errno));
        return -1;
      }
      fd = high;
    }
    if (flock (fd, LOCK_EX | LOCK_NB) != 0) {
      saved_errno = errno;
      /* A file system without locks (NFS without lockd: ENOLCK,
       * some FUSE ones: EOPNOTSUPP) is written unlocked, as before the
       * lock was taken, rather than refused */
      if (saved_errno == ENOLCK || saved_errno == EOPNOTSUPP
          || saved_errno == ENOSYS)
        return fd;
      close (fd);
      if (saved_errno == EWOULDBLOCK)
        g_printerr ("%s: %s is being written by another run: wait for it "
            "to end, or give another OUTPUT\n", g_get_prgname (), part_path);
      else
        g_printerr ("%s: cannot lock %s: %s\n", g_get_prgname (), part_path,
            g_strerror (saved_errno));
      return -1;
    }
    if (fstat (fd, &fd_stat) == 0 && g_stat (part_path, &path_stat) == 0
        && fd_stat.st_dev == path_stat.st_dev
        && fd_stat.st_ino == path_stat.st_ino)
      return fd;
    close (fd);
  }
}

void
luma_progress_line_init (LumaProgressLine * line)
{
  line->is_tty = isatty (STDOUT_FILENO);
  line->open = FALSE;
  line->upload_step = -1;
}

void
luma_progress_line_show (LumaProgressLine * line, const gchar * text)
{
  if (line->is_tty) {
    /* back to the start of the line, and erase what a longer text left */
    g_print ("\r%s\033[K", text);
    line->open = TRUE;
  } else {
    g_print ("%s\n", text);
  }
  fflush (stdout);
}

void
luma_progress_line_end (LumaProgressLine * line)
{
  if (line->open)
    g_print ("\n");
  line->open = FALSE;
}

static void
show_task_poll (LumaProgressLine * line, const GstStructure * s)
{
  const gchar *task_id = gst_structure_get_string (s, GST_LUMA_FIELD_TASK_ID);
  gint state = GST_LUMA_TASK_STATE_WAITING;
  guint polls = 0;
  guint64 elapsed = 0;
  guint seconds;
  g_autofree gchar *text = NULL;

  gst_structure_get_enum (s, GST_LUMA_FIELD_TASK_STATE,
      GST_TYPE_LUMA_TASK_STATE, &state);
  gst_structure_get_uint (s, GST_LUMA_FIELD_POLLS, &polls);
  gst_structure_get_uint64 (s, GST_LUMA_FIELD_ELAPSED, &elapsed);
  seconds = elapsed / GST_SECOND;

  text = g_strdup_printf ("Task %s: %s, %u:%02u elapsed, %u poll%s",
      task_id, gst_luma_task_state_get_nick (state), seconds / 60,
      seconds % 60, polls, polls == 1 ? "" : "s");
  luma_progress_line_show (line, text);
}

static void
show_upload (LumaProgressLine * line, const GstStructure * s)
{
  guint64 sent = 0, total = 0;
  g_autofree gchar *size = NULL;
  g_autofree gchar *text = NULL;

  guint percent;

  gst_structure_get_uint64 (s, GST_LUMA_FIELD_BYTES_SENT, &sent);
  gst_structure_get_uint64 (s, GST_LUMA_FIELD_BYTES_TOTAL, &total);
  percent = total > 0 ? (guint) (sent * 100 / total) : 0;
  /* in a file, a line per tenth of the upload is enough */
  if (!line->is_tty && (gint) (percent / 10) == line->upload_step)
    return;
  line->upload_step = percent / 10;
  size = g_format_size (total);
  text = g_strdup_printf ("Uploading: %u %% of %s", percent, size);
  luma_progress_line_show (line, text);
}

/* The luma-task element message carries the task's state at each poll,
 * luma-upload what an upload has sent; the luma-wait and luma-upload
 * progress messages say when each starts and ends. */
gboolean
luma_progress_line_handle (LumaProgressLine * line, GstMessage * message)
{
  const GstStructure *s;
  GstProgressType type;
  gchar *code = NULL, *text = NULL;
  gboolean is_luma;

  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ELEMENT) {
    s = gst_message_get_structure (message);
    if (gst_structure_has_name (s, GST_LUMA_MESSAGE_UPLOAD)) {
      show_upload (line, s);
      return TRUE;
    }
    if (!gst_structure_has_name (s, GST_LUMA_MESSAGE_TASK))
      return FALSE;
    show_task_poll (line, s);
    return TRUE;
  }
  if (GST_MESSAGE_TYPE (message) != GST_MESSAGE_PROGRESS)
    return FALSE;

  gst_message_parse_progress (message, &type, &code, &text);
  is_luma = g_strcmp0 (code, GST_LUMA_PROGRESS_CODE) == 0
      || g_strcmp0 (code, GST_LUMA_PROGRESS_UPLOAD_CODE) == 0;
  if (is_luma) {
    /* CONTINUE is skipped: the luma-task message of the same poll said it
     * all. After ERROR or CANCELED, the error has a line of its own. */
    if (type == GST_PROGRESS_TYPE_START || type == GST_PROGRESS_TYPE_COMPLETE)
      luma_progress_line_show (line, text);
    if (type != GST_PROGRESS_TYPE_START && type != GST_PROGRESS_TYPE_CONTINUE)
      luma_progress_line_end (line);
  }
  g_free (code);
  g_free (text);
  return is_luma;
}

gboolean
luma_example_check_wait_options (gint poll_interval, gint wait_timeout)
{
  if (poll_interval != 0 && poll_interval < 10) {
    g_printerr ("%s: --poll-interval is at least 10 ms\n", g_get_prgname ());
    return FALSE;
  }
  if (wait_timeout < -1) {
    g_printerr ("%s: --wait-timeout cannot be negative\n", g_get_prgname ());
    return FALSE;
  }
  return TRUE;
}
