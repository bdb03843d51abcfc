/* gst-luma example: luma-modify, has a clip modified by KIE.AI Luma Modify
 * and saves the result.
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   export KIE_API_KEY=...
 *   luma-modify --prompt TEXT [--force-new] [--poll-interval MS]
 *       [--wait-timeout S] INPUT OUTPUT
 *
 * INPUT is a local file (MP4, MOV or AVI, at most 10 s and 500 MB), which
 * lumamodify uploads to KIE's file host:
 *
 *   filesrc location=INPUT ! lumamodify prompt=TEXT ! filesink
 *
 * or the http(s) URL of a clip KIE can fetch itself:
 *
 *   lumasrc prompt=TEXT video-url=INPUT ! filesink
 *
 * The result video is saved as it comes (an MP4) to OUTPUT.part, renamed
 * OUTPUT once complete. The same INPUT and prompt again reuse the task
 * created before (no new upload, no new charge), unless --force-new. The
 * exit status tells why a run failed: see --help.
 */

#include "luma-example.h"

#include <gst/luma/luma.h>
#include <locale.h>

#define EXIT_STATUS_HELP \
  "INPUT is a file (MP4, MOV or AVI of at most 10 s and 500 MB), uploaded\n" \
  "to KIE's file host, or the http(s) URL of a clip KIE can fetch. The same\n" \
  "INPUT and prompt again reuse the task they created: no new upload, no\n" \
  "new charge.\n" \
  "\n" \
  "Exit status:\n" \
  "  0    done\n" \
  "  1    any other error (network, output file, no key...)\n" \
  "  2    bad command line (an INPUT that is neither a file nor a URL)\n" \
  "  3    the task failed at KIE (creation or generation failed)\n" \
  "  4    the result of the task (reused) has expired: use --force-new\n" \
  "  5    the API key was refused\n" \
  "  6    the task was still generating when the wait timed out\n" \
  "       (it goes on at KIE: run again with the same INPUT and prompt,\n" \
  "       without --force-new)\n" \
  "  7    the input was refused: longer than 10 s, larger than 500 MB,\n" \
  "       not MP4, MOV or AVI, a live stream, or refused by KIE (422)\n" \
  "  8    a billed task may exist for this request, but no answer said\n" \
  "       so: check KIE's dashboard, or run again with --force-new\n" \
  "  130  interrupted (Ctrl-C, SIGTERM)\n" \
  "\n" \
  "Environment: KIE_API_KEY (required), KIE_API_URL (default: the KIE API),\n" \
  "KIE_UPLOAD_URL (default: KIE's file upload host)."

typedef struct
{
  gchar *prompt;
  gboolean force_new;
  gint poll_interval;           /* ms; 0: the element's default */
  gint wait_timeout;            /* s; -1: the element's default */
  const gchar *input;
  const gchar *output;
} Options;

typedef struct
{
  GMainLoop *loop;
  GstElement *pipeline;
  LumaProgressLine progress;
  LumaExitStatus status;
  gboolean task_known;
  /* what a rerun that waits for the same task leaves out: with it, the
   * command again would create (and bill) another */
  const gchar *rerun_without;
} Modify;

/* ----- the pipeline ----- */

static gboolean
is_url (const gchar * input)
{
  return g_str_has_prefix (input, "http://")
      || g_str_has_prefix (input, "https://");
}

/* "filesrc ! lumamodify" for a file, "lumasrc" alone for a URL: the
 * element that makes the task, whose properties the options set. */
static GstElement *
add_source (GstElement * pipeline, const Options * options, GError ** error)
{
  const gchar *desc = is_url (options->input) ? "lumasrc name=task"
      : "filesrc name=input ! lumamodify name=task";
  GstElement *bin = gst_parse_bin_from_description (desc, TRUE, error);
  g_autoptr (GstElement) input = NULL;
  GstElement *task;

  if (bin == NULL)
    return NULL;
  task = gst_bin_get_by_name (GST_BIN (bin), "task");
  input = gst_bin_get_by_name (GST_BIN (bin), "input");
  if (input != NULL)
    g_object_set (input, "location", options->input, NULL);
  else
    g_object_set (task, "video-url", options->input, NULL);
  g_object_set (task, "prompt", options->prompt, "force-new",
      options->force_new, NULL);
  if (options->poll_interval > 0)
    g_object_set (task, "poll-interval", (guint) options->poll_interval, NULL);
  if (options->wait_timeout >= 0)
    g_object_set (task, "wait-timeout", (guint) options->wait_timeout, NULL);
  gst_object_unref (task);
  gst_bin_add (GST_BIN (pipeline), bin);
  return bin;
}

static gboolean
build_pipeline (Modify * m, const Options * options, const gchar * part_path,
    GError ** error)
{
  GstElement *source, *sink;

  m->pipeline = gst_pipeline_new ("luma-modify");
  source = add_source (m->pipeline, options, error);
  if (source == NULL)
    return FALSE;
  sink = gst_element_factory_make ("filesink", NULL);
  g_object_set (sink, "location", part_path, NULL);
  gst_bin_add (GST_BIN (m->pipeline), sink);
  if (!gst_element_link (source, sink)) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
        "Could not link the pipeline's elements");
    return FALSE;
  }
  return TRUE;
}

/* ----- running it ----- */

static void
finish (Modify * m, LumaExitStatus status)
{
  luma_progress_line_end (&m->progress);
  m->status = status;
  g_main_loop_quit (m->loop);
}

static void
show_task_created (Modify * m, const GstStructure * s)
{
  const gchar *task_id = gst_structure_get_string (s, GST_LUMA_FIELD_TASK_ID);
  gboolean reused = FALSE;

  gst_structure_get_boolean (s, GST_LUMA_FIELD_REUSED, &reused);
  m->task_known = TRUE;
  luma_progress_line_end (&m->progress);
  if (reused)
    g_print ("Reusing task %s, created before for the same input and "
        "prompt (no new upload, no new charge)\n", task_id);
  else
    g_print ("Created task %s\n", task_id);
}

static void
show_error (Modify * m, GstMessage * message, LumaExitStatus status)
{
  luma_progress_line_end (&m->progress);
  luma_example_print_error (message);
  if (status == LUMA_EXIT_TASK_MAY_EXIST)
    g_printerr ("%s: check KIE's dashboard for a task with this prompt "
        "before running again, or run again with --force-new to create "
        "another (billed) task\n", g_get_prgname ());
  else if (status == LUMA_EXIT_TIMEOUT)
    g_printerr ("%s: run again with the same INPUT and prompt%s to wait for "
        "the same task\n", g_get_prgname (), m->rerun_without);
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * message, gpointer user_data)
{
  Modify *m = user_data;
  LumaExitStatus status;

  if (luma_progress_line_handle (&m->progress, message))
    return G_SOURCE_CONTINUE;

  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (message, GST_LUMA_MESSAGE_TASK_CREATED))
        show_task_created (m, gst_message_get_structure (message));
      break;
    case GST_MESSAGE_EOS:
      finish (m, LUMA_EXIT_OK);
      break;
    case GST_MESSAGE_ERROR:
      status = luma_example_create_exit_status (message);
      show_error (m, message, status);
      finish (m, status);
      break;
    case GST_MESSAGE_WARNING:
      luma_progress_line_end (&m->progress);
      luma_example_print_warning (message);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_interrupt (gpointer user_data)
{
  Modify *m = user_data;

  finish (m, LUMA_EXIT_INTERRUPTED);
  if (m->task_known)
    g_printerr ("%s: interrupted; the task goes on at KIE: run again with "
        "the same INPUT and prompt%s to get its video\n", g_get_prgname (),
        m->rerun_without);
  else
    /* without --force-new: with it, the rerun would set aside what this
     * run may have created, and bill another task */
    g_printerr ("%s: interrupted before the task was known; run again "
        "with the same INPUT and prompt%s to reuse a task created and "
        "recorded; if the request to create it was under way, that run says "
        "so, and a billed task may exist (check KIE's dashboard before "
        "--force-new)\n", g_get_prgname (), m->rerun_without);
  return G_SOURCE_CONTINUE;
}

static LumaExitStatus
run (const Options * options)
{
  Modify m = { 0, };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *part_path = g_strconcat (options->output, ".part", NULL);
  gint part_lock;

  m.status = LUMA_EXIT_ERROR;
  m.rerun_without = options->force_new ? ", without --force-new," : "";
  luma_progress_line_init (&m.progress);
  /* OUTPUT.part is this run's alone */
  part_lock = luma_example_claim_part (part_path);
  if (part_lock < 0)
    return LUMA_EXIT_ERROR;
  if (!build_pipeline (&m, options, part_path, &error)) {
    g_printerr ("%s: %s\n", g_get_prgname (), error->message);
    g_clear_object (&m.pipeline);
    return luma_example_keep_output (LUMA_EXIT_ERROR, part_path, part_lock,
        options->output);
  }

  m.loop = g_main_loop_new (NULL, FALSE);
  luma_example_run_pipeline (m.pipeline, GST_STATE_PLAYING, m.loop,
      on_bus_message, on_interrupt, &m, &m.status);
  gst_object_unref (m.pipeline);
  g_main_loop_unref (m.loop);
  return luma_example_keep_output (m.status, part_path, part_lock,
      options->output);
}

/* ----- the command line ----- */

static gboolean
parse_options (int *argc, char ***argv, Options * options)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *prompt = NULL;
  GOptionEntry entries[] = {
    {"prompt", 't', 0, G_OPTION_ARG_STRING, &prompt,
        "The modification to apply, in English (required)", "TEXT"},
    {"force-new", 'f', 0, G_OPTION_ARG_NONE, &options->force_new,
        "Upload and create a new task (billed) even when the same INPUT "
          "and prompt created one before", NULL},
    {"poll-interval", 'p', 0, G_OPTION_ARG_INT, &options->poll_interval,
          "Milliseconds between two readings of the task (default: 30000)",
        "MS"},
    {"wait-timeout", 'w', 0, G_OPTION_ARG_INT, &options->wait_timeout,
        "Seconds to wait for the task at the most, 0 = forever (default: "
          "3600)", "S"},
    G_OPTION_ENTRY_NULL
  };

  options->wait_timeout = -1;
  context = g_option_context_new ("INPUT OUTPUT - have a clip modified by "
      "KIE.AI Luma Modify and save the result as an MP4 file");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  g_option_context_set_description (context, EXIT_STATUS_HELP);

  if (!g_option_context_parse (context, argc, argv, &error)) {
    g_printerr ("%s: %s\nTry --help.\n", g_get_prgname (), error->message);
    return FALSE;
  }
  if (*argc != 3) {
    g_printerr ("%s: expected INPUT OUTPUT\nTry --help.\n", g_get_prgname ());
    return FALSE;
  }
  if (!is_url ((*argv)[1])
      && !g_file_test ((*argv)[1], G_FILE_TEST_IS_REGULAR)) {
    g_printerr ("%s: %s is neither a file nor an http(s) URL\n",
        g_get_prgname (), (*argv)[1]);
    return FALSE;
  }
  if (prompt == NULL || prompt[0] == '\0') {
    g_printerr ("%s: --prompt is required: the modification to apply, in "
        "English\nTry --help.\n", g_get_prgname ());
    return FALSE;
  }
  if (!luma_example_check_wait_options (options->poll_interval,
          options->wait_timeout))
    return FALSE;
  options->prompt = g_steal_pointer (&prompt);
  options->input = (*argv)[1];
  options->output = (*argv)[2];
  return TRUE;
}

int
main (int argc, char **argv)
{
  Options options = { 0, };
  LumaExitStatus status;

  /* the elements' messages in the user's language, sizes in its charset */
  setlocale (LC_ALL, "");
  g_set_prgname ("luma-modify");
  if (!parse_options (&argc, &argv, &options))
    return LUMA_EXIT_USAGE;
  status = run (&options);
  g_free (options.prompt);
  return status;
}
