/* gst-luma tests: a KIE emulator with one finished task whose result file
 * has expired (the file host answers 404 to every request), for the exit
 * status the examples give then. (luma-emulator plays it too, with
 * --task ID=VIDEO,fail-status=404: this program could give way to it.)
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   expired-emulator KEY TASK_ID VIDEO READY_FILE
 *
 * Writes "KIE_API_URL=http://127.0.0.1:PORT" into READY_FILE once it
 * listens, and serves until SIGTERM or SIGINT.
 */

#include "luma-emulator.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdlib.h>

static gboolean
on_quit_signal (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
write_ready_file (LumaEmulator * em, const gchar * path, GError ** error)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (em);
  g_autofree gchar *line = g_strdup_printf ("KIE_API_URL=%s\n", api_url);

  return g_file_set_contents (path, line, -1, error);
}

int
main (int argc, char **argv)
{
  LumaEmulatorTask task = { 0, };
  LumaEmulatorVideoFaults faults = { 0, };
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GBytes) video = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *contents = NULL;
  gsize size;
  LumaEmulator *em;

  if (argc != 5) {
    g_printerr ("usage: %s KEY TASK_ID VIDEO READY_FILE\n", argv[0]);
    return 2;
  }
  if (!g_file_get_contents (argv[3], &contents, &size, &error)) {
    g_printerr ("%s: %s\n", argv[0], error->message);
    return EXIT_FAILURE;
  }
  video = g_bytes_new_take (g_steal_pointer (&contents), size);

  em = luma_emulator_new (argv[1]);
  task.task_id = argv[2];
  task.video = video;
  task.final_flag = 1;
  luma_emulator_add_task (em, &task);
  faults.fail_status = 404;
  faults.fail_count = G_MAXUINT;
  luma_emulator_set_video_faults (em, argv[2], &faults);

  if (!luma_emulator_start (em, 0, 0, &error)
      || !write_ready_file (em, argv[4], &error)) {
    g_printerr ("%s: %s\n", argv[0], error->message);
    luma_emulator_free (em);
    return EXIT_FAILURE;
  }

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_quit_signal, loop);
  g_unix_signal_add (SIGINT, on_quit_signal, loop);
  g_main_loop_run (loop);
  luma_emulator_free (em);
  return EXIT_SUCCESS;
}
