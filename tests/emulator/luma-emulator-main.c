/* gst-luma: luma-emulator, a KIE.AI Luma Modify API emulator on loopback,
 * for the demo and for developing pipelines offline.
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   luma-emulator [--port N] [--video-port N] [--key KEY]
 *       --task ID=PATH[,generating-ms=MS][,generating-polls=N][,flag=F]
 *                     [,url=URL]
 *       [--task ...] [--ready-file FILE]
 *       [--upload-port N] [--print-upload-url] [--created-generating-ms MS]
 *
 * Prints "KIE_API_URL=http://127.0.0.1:PORT" once it listens (and, with
 * --print-upload-url, "KIE_UPLOAD_URL=http://127.0.0.1:PORT" on the next
 * line), and runs until SIGINT or SIGTERM.
 */

#include "luma-emulator.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib-unix.h>

#define EXIT_USAGE 2

typedef struct
{
  gchar *task_id;
  gchar *path;
  GBytes *video;
  guint generating_ms;
  guint generating_polls;
  gint flag;
  gchar *error_code;
  gchar *error_message;
  gchar *prompt;
  gchar *url;                   /* the result URL the record gives, or NULL */
} TaskSpec;

static void
task_spec_free (TaskSpec * spec)
{
  g_free (spec->task_id);
  g_free (spec->path);
  g_clear_pointer (&spec->video, g_bytes_unref);
  g_free (spec->error_code);
  g_free (spec->error_message);
  g_free (spec->prompt);
  g_free (spec->url);
  g_free (spec);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TaskSpec, task_spec_free);

static gboolean
parse_uint_setting (const gchar * spec_text, const gchar * name,
    const gchar * value, guint64 max, guint64 * number, GError ** error)
{
  g_autoptr (GError) parse_error = NULL;

  if (!g_ascii_string_to_unsigned (value, 10, 0, max, number, &parse_error)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--task %s: bad %s: %s", spec_text, name, parse_error->message);
    return FALSE;
  }
  return TRUE;
}

/* One ",name=value" after the path. */
static gboolean
apply_task_setting (TaskSpec * spec, const gchar * spec_text,
    const gchar * setting, GError ** error)
{
  g_auto (GStrv) pair = g_strsplit (setting, "=", 2);
  const gchar *name = pair[0];
  const gchar *value = pair[1];
  guint64 number;

  if (value == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--task %s: \"%s\" is not NAME=VALUE", spec_text, setting);
    return FALSE;
  }

  if (strcmp (name, "generating-ms") == 0) {
    if (!parse_uint_setting (spec_text, name, value, G_MAXUINT, &number, error))
      return FALSE;
    spec->generating_ms = number;
  } else if (strcmp (name, "generating-polls") == 0) {
    if (!parse_uint_setting (spec_text, name, value, G_MAXUINT, &number, error))
      return FALSE;
    spec->generating_polls = number;
  } else if (strcmp (name, "flag") == 0) {
    if (!parse_uint_setting (spec_text, name, value, 4, &number, error))
      return FALSE;
    spec->flag = number;
  } else if (strcmp (name, "error-code") == 0) {
    g_free (spec->error_code);
    spec->error_code = g_strdup (value);
  } else if (strcmp (name, "error-message") == 0) {
    g_free (spec->error_message);
    spec->error_message = g_strdup (value);
  } else if (strcmp (name, "prompt") == 0) {
    g_free (spec->prompt);
    spec->prompt = g_strdup (value);
  } else if (strcmp (name, "url") == 0) {
    if (*value == '\0') {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--task %s: url is empty", spec_text);
      return FALSE;
    }
    /* taken as it is: a bad URL is a case worth pointing lumasrc at */
    g_free (spec->url);
    spec->url = g_strdup (value);
  } else {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--task %s: unknown setting \"%s\" (known: generating-ms, "
        "generating-polls, flag, error-code, error-message, prompt, url)",
        spec_text, name);
    return FALSE;
  }
  return TRUE;
}

static gboolean
task_is_failed (const TaskSpec * spec)
{
  return spec->flag == 2 || spec->flag == 3;
}

/* Maps the file: result files can be big, and they are only read. */
static gboolean
load_task_video (TaskSpec * spec, GError ** error)
{
  g_autoptr (GMappedFile) file = NULL;
  g_autoptr (GError) map_error = NULL;

  if (*spec->path == '\0') {
    /* nothing to serve: the task failed, or its result lives elsewhere */
    if (task_is_failed (spec) || spec->url != NULL)
      return TRUE;
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--task %s: a video file is needed unless flag is 2 or 3 or a url "
        "is given", spec->task_id);
    return FALSE;
  }

  if (g_file_test (spec->path, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_ISDIR,
        "task %s: %s is a directory", spec->task_id, spec->path);
    return FALSE;
  }

  file = g_mapped_file_new (spec->path, FALSE, &map_error);
  if (file == NULL) {
    g_set_error (error, G_FILE_ERROR, map_error->code,
        "task %s: %s", spec->task_id, map_error->message);
    return FALSE;
  }
  spec->video = g_mapped_file_get_bytes (file);
  return TRUE;
}

/* "ID=PATH[,NAME=VALUE...]"; a PATH with a comma is not supported. */
static TaskSpec *
parse_task_spec (const gchar * text, GError ** error)
{
  g_autoptr (TaskSpec) spec = g_new0 (TaskSpec, 1);
  const gchar *equals = strchr (text, '=');
  g_auto (GStrv) parts = NULL;
  guint i;

  if (equals == NULL || equals == text) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--task %s: expected ID=PATH[,generating-ms=MS][,flag=F][,url=URL]",
        text);
    return NULL;
  }

  spec->task_id = g_strndup (text, equals - text);
  parts = g_strsplit (equals + 1, ",", -1);
  spec->path = g_strdup (parts[0] != NULL ? parts[0] : "");
  for (i = 1; parts[0] != NULL && parts[i] != NULL; i++) {
    if (!apply_task_setting (spec, text, parts[i], error))
      return NULL;
  }

  if (!load_task_video (spec, error))
    return NULL;
  return g_steal_pointer (&spec);
}

static GPtrArray *
parse_task_specs (gchar ** texts, GError ** error)
{
  g_autoptr (GPtrArray) specs =
      g_ptr_array_new_with_free_func ((GDestroyNotify) task_spec_free);
  TaskSpec *spec;
  guint i;

  /* none: the tasks are created through generate (lumamodify, the demo) */
  for (i = 0; texts != NULL && texts[i] != NULL; i++) {
    spec = parse_task_spec (texts[i], error);
    if (spec == NULL)
      return NULL;
    g_ptr_array_add (specs, spec);
  }
  return g_steal_pointer (&specs);
}

static void
add_task_spec (LumaEmulator * em, const TaskSpec * spec)
{
  LumaEmulatorTask task = { 0, };

  task.task_id = spec->task_id;
  task.video = spec->video;
  task.generating_polls = spec->generating_polls;
  task.generating_ms = spec->generating_ms;
  task.final_flag = spec->flag;
  task.error_code = spec->error_code;
  task.error_message = spec->error_message;
  task.prompt = spec->prompt;
  luma_emulator_add_task (em, &task);
  if (spec->url != NULL)
    luma_emulator_set_result_url (em, spec->task_id, spec->url);
}

static void
describe_tasks (LumaEmulator * em, GPtrArray * specs)
{
  g_autofree gchar *video_base = luma_emulator_get_video_url_base (em);
  const TaskSpec *spec;
  guint i;

  g_autofree gchar *upload_url = luma_emulator_get_upload_url (em);

  g_printerr ("luma-emulator: result files on %s\n", video_base);
  g_printerr ("luma-emulator: file uploads (POST /api/file-stream-upload) "
      "on %s\n", upload_url);
  for (i = 0; i < specs->len; i++) {
    spec = g_ptr_array_index (specs, i);
    g_printerr ("luma-emulator: task %s: %s (%" G_GSIZE_FORMAT " bytes), "
        "flag %d after %u polls and %u ms\n", spec->task_id,
        *spec->path != '\0' ? spec->path : "no file",
        spec->video != NULL ? g_bytes_get_size (spec->video) : 0,
        spec->flag != 0 ? spec->flag : 1, spec->generating_polls,
        spec->generating_ms);
    if (spec->url != NULL)
      g_printerr ("luma-emulator: task %s: its record gives %s\n",
          spec->task_id, spec->url);
  }
}

/* The line a script waits for, on stdout and in the ready file. */
static gboolean
announce_ready (LumaEmulator * em, const gchar * ready_file,
    gboolean print_upload_url, GError ** error)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (em);
  g_autofree gchar *upload_url = luma_emulator_get_upload_url (em);
  g_autofree gchar *line = print_upload_url ?
      g_strdup_printf ("KIE_API_URL=%s\nKIE_UPLOAD_URL=%s\n", api_url,
      upload_url) : g_strdup_printf ("KIE_API_URL=%s\n", api_url);

  /* written whole, through a rename: a reader never sees half a line */
  if (ready_file != NULL && !g_file_set_contents (ready_file, line, -1, error))
    return FALSE;

  fputs (line, stdout);
  fflush (stdout);
  return TRUE;
}

static gboolean
on_quit_signal (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

static void
run_until_signalled (void)
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint sigint_id = g_unix_signal_add (SIGINT, on_quit_signal, loop);
  guint sigterm_id = g_unix_signal_add (SIGTERM, on_quit_signal, loop);

  g_main_loop_run (loop);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
}

static int
run_emulator (const gchar * key, guint api_port, guint video_port,
    guint upload_port, gboolean print_upload_url, guint created_generating_ms,
    GPtrArray * specs, const gchar * ready_file)
{
  LumaEmulator *em = luma_emulator_new (key);
  g_autoptr (GError) error = NULL;
  guint i;

  for (i = 0; i < specs->len; i++)
    add_task_spec (em, g_ptr_array_index (specs, i));
  luma_emulator_set_upload_port (em, upload_port);
  luma_emulator_set_created_timing (em, 0, created_generating_ms);

  if (!luma_emulator_start (em, api_port, video_port, &error)) {
    g_printerr ("luma-emulator: cannot listen: %s\n", error->message);
    luma_emulator_free (em);
    return EXIT_FAILURE;
  }

  describe_tasks (em, specs);
  if (!announce_ready (em, ready_file, print_upload_url, &error)) {
    g_printerr ("luma-emulator: cannot write the ready file: %s\n",
        error->message);
    luma_emulator_free (em);
    return EXIT_FAILURE;
  }

  run_until_signalled ();
  luma_emulator_free (em);
  return EXIT_SUCCESS;
}

int
main (int argc, char **argv)
{
  gint api_port = 0, video_port = 0, upload_port = 0;
  gint created_generating_ms = 0;
  gboolean print_upload_url = FALSE;
  g_autofree gchar *key = NULL;
  g_autofree gchar *ready_file = NULL;
  g_auto (GStrv) task_texts = NULL;
  g_autoptr (GPtrArray) specs = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) context = NULL;
  GOptionEntry entries[] = {
    {"port", 'p', 0, G_OPTION_ARG_INT, &api_port,
        "Port of the API (default: a free one)", "N"},
    {"video-port", 0, 0, G_OPTION_ARG_INT, &video_port,
        "Port of the result-file host (default: a free one)", "N"},
    {"key", 'k', 0, G_OPTION_ARG_STRING, &key,
        "API key to require (default: accept any)", "KEY"},
    {"task", 't', 0, G_OPTION_ARG_STRING_ARRAY, &task_texts,
          "A task: its id, its result file and optionally generating-ms, "
          "generating-polls, flag (1-4), error-code, error-message, prompt, "
          "url (the result URL its record gives instead of the emulator's)",
        "ID=PATH[,generating-ms=MS][,flag=F][,url=URL]"},
    {"ready-file", 0, 0, G_OPTION_ARG_FILENAME, &ready_file,
        "Also write the KIE_API_URL line into FILE once listening", "FILE"},
    {"upload-port", 0, 0, G_OPTION_ARG_INT, &upload_port,
        "Port of the file upload host (default: a free one)", "N"},
    {"print-upload-url", 0, 0, G_OPTION_ARG_NONE, &print_upload_url,
          "Also print KIE_UPLOAD_URL=http://127.0.0.1:PORT (the file upload "
          "host) after the KIE_API_URL line, and write it to the ready file",
        NULL},
    {"created-generating-ms", 0, 0, G_OPTION_ARG_INT, &created_generating_ms,
          "Tasks created through POST /api/v1/modify/generate generate for "
          "MS milliseconds after their first poll (default: 0, done at once)",
        "MS"},
    G_OPTION_ENTRY_NULL
  };

  setlocale (LC_ALL, "");

  context = g_option_context_new ("- KIE.AI Luma API emulator on 127.0.0.1");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Prints KIE_API_URL=http://127.0.0.1:PORT once listening, then serves "
      "until SIGINT or SIGTERM.\nA task with flag 2 or 3 (failed) may have "
      "an empty PATH, as in --task t1=,flag=3,error-code=501\n"
      "So may a task whose result is served elsewhere, as in\n"
      "  --task bench=,url=http://127.0.0.1:8080/big.bin\n"
      "A PATH or a value with a comma in it is not supported.");

  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("luma-emulator: %s\nTry --help.\n", error->message);
    return EXIT_USAGE;
  }
  if (argc > 1) {
    g_printerr ("luma-emulator: unexpected argument \"%s\"\nTry --help.\n",
        argv[1]);
    return EXIT_USAGE;
  }
  if (api_port < 0 || api_port > 65535 || video_port < 0
      || video_port > 65535 || upload_port < 0 || upload_port > 65535) {
    g_printerr ("luma-emulator: a port is a number from 0 to 65535\n");
    return EXIT_USAGE;
  }
  if (created_generating_ms < 0) {
    g_printerr ("luma-emulator: --created-generating-ms cannot be negative\n");
    return EXIT_USAGE;
  }

  specs = parse_task_specs (task_texts, &error);
  if (specs == NULL) {
    g_printerr ("luma-emulator: %s\n", error->message);
    /* an unreadable file is not a usage error */
    return error->domain == G_FILE_ERROR ? EXIT_FAILURE : EXIT_USAGE;
  }

  return run_emulator (key, api_port, video_port, upload_port,
      print_upload_url, created_generating_ms, specs, ready_file);
}
