/* gst-luma: luma-emulator, a KIE.AI Luma Modify API emulator on loopback,
 * for the demo and for developing pipelines offline.
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   luma-emulator [--port N] [--video-port N] [--key KEY]
 *       --task ID=PATH[,generating-ms=MS][,generating-polls=N][,flag=F]
 *                     [,url=URL][,FAULT...]
 *       [--task ...] [--ready-file FILE]
 *       [--created-generating-polls N] [--created-generating-ms MS]
 *       [--upload-port N] [--print-upload-url]
 *
 * The FAULTs are how the result-file host misbehaves for the task, the
 * fields of LumaEmulatorVideoFaults (see FAULTS_HELP below).
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

#define TASK_SETTINGS "generating-ms, generating-polls, flag, error-code, " \
  "error-message, prompt, url"
#define FAULT_SETTINGS "ignore-range, drop-after, drop-count, " \
  "drop-fail-status, stall, stall-after, fail-status, fail-count, " \
  "fail-after, fail-html, fail-retry-after, redirect-to, " \
  "partial-content-range, range-piece, rate, no-validators"

#define FAULTS_HELP \
  "How the result-file host misbehaves for a task, as more NAME=VALUE of\n" \
  "its --task (N a number; a yes/no setting alone means yes):\n" \
  "  ignore-range[=yes]    answer 200 with the whole file to Range requests\n" \
  "  range-piece=N         answer a Range with at most N bytes (a 206 for a\n" \
  "                        part of what was asked)\n" \
  "  partial-content-range=TEXT  send this Content-Range on 206 answers\n" \
  "                        instead of the true one (empty: none at all)\n" \
  "  drop-after=N          close the connection after N body bytes...\n" \
  "  drop-count=N|always   ...for the first N answers (default 1)\n" \
  "  drop-fail-status=S    answer status S to the request after each drop\n" \
  "  stall[=yes]           send nothing, not even the headers; never close\n" \
  "  stall-after=N         stall after N body bytes (0: as stall)\n" \
  "  fail-status=S         answer status S (403, 404, 410, 503...)...\n" \
  "  fail-count=N|always   ...to N requests (default: always)...\n" \
  "  fail-after=N          ...once N requests have been answered (default 0)\n" \
  "  fail-html[=yes]       ...with an HTML page as body (a CDN's block)\n" \
  "  fail-retry-after=TEXT ...and this Retry-After\n" \
  "  redirect-to=URL       answer 302 with this Location (any scheme)\n" \
  "  rate=N                send a whole answer at N bytes a second\n" \
  "  no-validators[=yes]   send no ETag: only the size tells files apart\n" \
  "  only-below=N          the faults only for requests that begin below\n" \
  "                        byte N (the others: as from a good server)\n" \
  "as in --task t1=clip.mp4,fail-status=403,fail-after=1 (an expired link\n" \
  "after the first request) or --task t2=clip.mp4,drop-after=65536.\n"

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
  /* the result-file host's faults for the task; its strings are owned */
  LumaEmulatorVideoFaults faults;
  gboolean has_faults;
  gboolean has_drop_after;
  gboolean has_drop_count;
  gboolean has_fail_count;
  GString *fault_text;          /* the fault settings as given, for the log */
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
  g_free ((gchar *) spec->faults.redirect_to);
  g_free ((gchar *) spec->faults.fail_retry_after);
  g_free ((gchar *) spec->faults.partial_content_range);
  if (spec->fault_text != NULL)
    g_string_free (spec->fault_text, TRUE);
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

/* A number, or "always" (G_MAXUINT) where @always is allowed. */
static gboolean
parse_count_setting (const gchar * spec_text, const gchar * name,
    const gchar * value, guint * count, GError ** error)
{
  guint64 number;

  if (strcmp (value, "always") == 0) {
    *count = G_MAXUINT;
    return TRUE;
  }
  if (!parse_uint_setting (spec_text, name, value, G_MAXUINT - 1, &number,
          error))
    return FALSE;
  *count = number;
  return TRUE;
}

/* An HTTP status: three digits. */
static gboolean
parse_status_setting (const gchar * spec_text, const gchar * name,
    const gchar * value, guint * status, GError ** error)
{
  guint64 number;

  if (!parse_uint_setting (spec_text, name, value, 999, &number, error))
    return FALSE;
  if (number < 100) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--task %s: bad %s: %s is no HTTP status", spec_text, name, value);
    return FALSE;
  }
  *status = number;
  return TRUE;
}

/* "yes", "no" and the like; a setting without a value is a yes. */
static gboolean
parse_bool_setting (const gchar * spec_text, const gchar * name,
    const gchar * value, gboolean * flag, GError ** error)
{
  if (value == NULL || g_ascii_strcasecmp (value, "yes") == 0
      || g_ascii_strcasecmp (value, "true") == 0 || strcmp (value, "1") == 0) {
    *flag = TRUE;
  } else if (g_ascii_strcasecmp (value, "no") == 0
      || g_ascii_strcasecmp (value, "false") == 0 || strcmp (value, "0") == 0) {
    *flag = FALSE;
  } else {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--task %s: bad %s: \"%s\" is not yes or no", spec_text, name, value);
    return FALSE;
  }
  return TRUE;
}

static void
replace_fault_string (const gchar ** field, const gchar * value)
{
  g_free ((gchar *) * field);
  *field = g_strdup (value);
}

/* One ",name[=value]" of the result-file host's faults; FALSE with @error
 * unset if @name is none of them. */
static gboolean
apply_fault_setting (TaskSpec * spec, const gchar * spec_text,
    const gchar * name, const gchar * value, gboolean * known, GError ** error)
{
  LumaEmulatorVideoFaults *faults = &spec->faults;
  guint64 number;
  gboolean is_bool = strcmp (name, "ignore-range") == 0
      || strcmp (name, "stall") == 0 || strcmp (name, "fail-html") == 0
      || strcmp (name, "no-validators") == 0;

  *known = TRUE;
  if (value == NULL && !is_bool) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--task %s: \"%s\" is not NAME=VALUE", spec_text, name);
    return FALSE;
  }

  if (strcmp (name, "ignore-range") == 0) {
    if (!parse_bool_setting (spec_text, name, value, &faults->ignore_range,
            error))
      return FALSE;
  } else if (strcmp (name, "stall") == 0) {
    if (!parse_bool_setting (spec_text, name, value, &faults->stall, error))
      return FALSE;
  } else if (strcmp (name, "fail-html") == 0) {
    if (!parse_bool_setting (spec_text, name, value, &faults->fail_html, error))
      return FALSE;
  } else if (strcmp (name, "no-validators") == 0) {
    if (!parse_bool_setting (spec_text, name, value, &faults->no_validators,
            error))
      return FALSE;
  } else if (strcmp (name, "drop-after") == 0) {
    if (!parse_uint_setting (spec_text, name, value, G_MAXSIZE, &number, error))
      return FALSE;
    faults->drop_after = number;
    spec->has_drop_after = TRUE;
  } else if (strcmp (name, "drop-count") == 0) {
    if (!parse_count_setting (spec_text, name, value, &faults->drop_count,
            error))
      return FALSE;
    spec->has_drop_count = TRUE;
  } else if (strcmp (name, "drop-fail-status") == 0) {
    if (!parse_status_setting (spec_text, name, value,
            &faults->drop_fail_status, error))
      return FALSE;
  } else if (strcmp (name, "stall-after") == 0) {
    if (!parse_uint_setting (spec_text, name, value, G_MAXSIZE, &number, error))
      return FALSE;
    faults->stall_after = number;
    faults->stall = TRUE;
  } else if (strcmp (name, "fail-status") == 0) {
    if (!parse_status_setting (spec_text, name, value, &faults->fail_status,
            error))
      return FALSE;
  } else if (strcmp (name, "fail-count") == 0) {
    if (!parse_count_setting (spec_text, name, value, &faults->fail_count,
            error))
      return FALSE;
    spec->has_fail_count = TRUE;
  } else if (strcmp (name, "fail-after") == 0) {
    if (!parse_uint_setting (spec_text, name, value, G_MAXUINT, &number, error))
      return FALSE;
    faults->fail_after = number;
  } else if (strcmp (name, "fail-retry-after") == 0) {
    replace_fault_string (&faults->fail_retry_after, value);
  } else if (strcmp (name, "redirect-to") == 0) {
    if (*value == '\0') {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--task %s: redirect-to is empty", spec_text);
      return FALSE;
    }
    replace_fault_string (&faults->redirect_to, value);
  } else if (strcmp (name, "partial-content-range") == 0) {
    /* empty: 206 answers without a Content-Range */
    replace_fault_string (&faults->partial_content_range, value);
  } else if (strcmp (name, "range-piece") == 0) {
    if (!parse_uint_setting (spec_text, name, value, G_MAXSIZE, &number, error))
      return FALSE;
    faults->range_piece = number;
  } else if (strcmp (name, "rate") == 0) {
    if (!parse_uint_setting (spec_text, name, value, G_MAXSIZE, &number, error))
      return FALSE;
    faults->rate = number;
  } else if (strcmp (name, "only-below") == 0) {
    if (!parse_uint_setting (spec_text, name, value, G_MAXSIZE, &number, error))
      return FALSE;
    faults->only_below = number;
  } else {
    *known = FALSE;
    return FALSE;
  }

  spec->has_faults = TRUE;
  if (spec->fault_text->len > 0)
    g_string_append_c (spec->fault_text, ',');
  g_string_append (spec->fault_text, name);
  if (value != NULL)
    g_string_append_printf (spec->fault_text, "=%s", value);
  return TRUE;
}

/* What the fault settings mean together, once all are read. */
static gboolean
check_faults (TaskSpec * spec, const gchar * spec_text, GError ** error)
{
  LumaEmulatorVideoFaults *faults = &spec->faults;

  if (faults->fail_status != 0 && !spec->has_fail_count)
    faults->fail_count = G_MAXUINT;
  if (spec->has_drop_after && !spec->has_drop_count)
    faults->drop_count = 1;

  if ((spec->has_fail_count || faults->fail_after != 0 || faults->fail_html
          || faults->fail_retry_after != NULL) && faults->fail_status == 0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--task %s: fail-count, fail-after, fail-html and fail-retry-after "
        "go with a fail-status", spec_text);
    return FALSE;
  }
  if ((spec->has_drop_count || faults->drop_fail_status != 0)
      && !spec->has_drop_after) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--task %s: drop-count and drop-fail-status go with a drop-after",
        spec_text);
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
  gboolean known;

  if (apply_fault_setting (spec, spec_text, name, value, &known, error))
    return TRUE;
  if (known)
    return FALSE;

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
        "--task %s: unknown setting \"%s\" (known: " TASK_SETTINGS ", "
        FAULT_SETTINGS ")", spec_text, name);
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
    if (task_is_failed (spec) || spec->url != NULL
        || spec->faults.redirect_to != NULL)
      return TRUE;
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--task %s: a video file is needed unless flag is 2 or 3 or a url "
        "or redirect-to is given", spec->task_id);
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
        "--task %s: expected ID=PATH[,generating-ms=MS][,flag=F][,url=URL]"
        "[,FAULT...]", text);
    return NULL;
  }

  spec->task_id = g_strndup (text, equals - text);
  spec->fault_text = g_string_new (NULL);
  parts = g_strsplit (equals + 1, ",", -1);
  spec->path = g_strdup (parts[0] != NULL ? parts[0] : "");
  for (i = 1; parts[0] != NULL && parts[i] != NULL; i++) {
    if (!apply_task_setting (spec, text, parts[i], error))
      return NULL;
  }
  if (!check_faults (spec, text, error))
    return NULL;

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
  if (spec->has_faults)
    luma_emulator_set_video_faults (em, spec->task_id, &spec->faults);
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
    if (spec->has_faults)
      g_printerr ("luma-emulator: task %s: result-file faults: %s\n",
          spec->task_id, spec->fault_text->str);
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
    guint upload_port, gboolean print_upload_url, GPtrArray * specs,
    guint created_polls, guint created_ms, guint upload_delay_ms,
    const gchar * ready_file)
{
  LumaEmulator *em = luma_emulator_new (key);
  g_autoptr (GError) error = NULL;
  guint i;

  for (i = 0; i < specs->len; i++)
    add_task_spec (em, g_ptr_array_index (specs, i));
  luma_emulator_set_created_timing (em, created_polls, created_ms);
  luma_emulator_set_upload_port (em, upload_port);
  luma_emulator_set_upload_answer_delay (em, upload_delay_ms);

  if (!luma_emulator_start (em, api_port, video_port, &error)) {
    g_printerr ("luma-emulator: cannot listen: %s\n", error->message);
    luma_emulator_free (em);
    return EXIT_FAILURE;
  }

  describe_tasks (em, specs);
  if (created_polls != 0 || created_ms != 0)
    g_printerr ("luma-emulator: tasks created through generate: flag 1 "
        "after %u polls and %u ms\n", created_polls, created_ms);
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
  gint created_polls = 0, created_ms = 0, upload_delay_ms = 0;
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
          "url (the result URL its record gives instead of the emulator's), "
          "and faults of the result-file host (below)",
        "ID=PATH[,generating-ms=MS][,flag=F][,url=URL][,FAULT...]"},
    {"created-generating-polls", 0, 0, G_OPTION_ARG_INT, &created_polls,
          "Tasks created through POST /api/v1/modify/generate generate for "
          "N polls (default 0)",
        "N"},
    {"created-generating-ms", 0, 0, G_OPTION_ARG_INT, &created_ms,
          "... and for MS milliseconds after their first poll (default 0)",
        "MS"},
    {"ready-file", 0, 0, G_OPTION_ARG_FILENAME, &ready_file,
        "Also write the KIE_API_URL line into FILE once listening", "FILE"},
    {"upload-port", 0, 0, G_OPTION_ARG_INT, &upload_port,
        "Port of the file upload host (default: a free one)", "N"},
    {"upload-delay-ms", 0, 0, G_OPTION_ARG_INT, &upload_delay_ms,
          "Answer each upload MS milliseconds after its body arrived "
          "(default 0)",
        "MS"},
    {"print-upload-url", 0, 0, G_OPTION_ARG_NONE, &print_upload_url,
          "Also print KIE_UPLOAD_URL=http://127.0.0.1:PORT (the file upload "
          "host) after the KIE_API_URL line, and write it to the ready file",
        NULL},
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
      "A PATH or a value with a comma in it is not supported.\n\n" FAULTS_HELP);

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
  if (created_polls < 0 || created_ms < 0 || upload_delay_ms < 0) {
    g_printerr ("luma-emulator: --created-generating-polls, "
        "--created-generating-ms and --upload-delay-ms are not negative\n");
    return EXIT_USAGE;
  }

  specs = parse_task_specs (task_texts, &error);
  if (specs == NULL) {
    g_printerr ("luma-emulator: %s\n", error->message);
    /* an unreadable file is not a usage error */
    return error->domain == G_FILE_ERROR ? EXIT_FAILURE : EXIT_USAGE;
  }

  return run_emulator (key, api_port, video_port, upload_port,
      print_upload_url, specs, created_polls, created_ms, upload_delay_ms,
      ready_file);
}
