/* gst-luma: one upload with luma_upload_file(), for bench-upload.sh to time
 * beside curl -F.
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: bench-upload --url UPLOAD_URL --key KEY [--upload-path FOLDER]
 *        [--progress] FILE
 * Prints the downloadUrl on stdout; exits 1 when the upload fails.
 */
#include <locale.h>
#include <stdlib.h>

#include "lumahttp.h"
#include "lumaupload.h"

static gchar *url = NULL;
static gchar *key = NULL;
static gchar *upload_path = NULL;
static gboolean show_progress = FALSE;

static GOptionEntry entries[] = {
  {"url", 'u', 0, G_OPTION_ARG_STRING, &url, "the upload host's base URL",
      "URL"},
  {"key", 'k', 0, G_OPTION_ARG_STRING, &key, "the API key", "KEY"},
  {"upload-path", 0, 0, G_OPTION_ARG_STRING, &upload_path,
      "the folder at the host (default: bench)", "FOLDER"},
  {"progress", 0, 0, G_OPTION_ARG_NONE, &show_progress,
      "print the progress reports on stderr", NULL},
  G_OPTION_ENTRY_NULL
};

static void
print_progress (guint64 sent, guint64 total, gpointer user_data)
{
  g_printerr ("%" G_GUINT64_FORMAT " / %" G_GUINT64_FORMAT "\n", sent, total);
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("FILE");
  g_autoptr (GError) error = NULL;
  g_autoptr (SoupSession) session = NULL;
  g_autoptr (GFile) file = NULL;
  g_autofree gchar *download_url = NULL;
  LumaHttpConfig config = { "gst-luma-bench", 60, NULL, TRUE };

  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)
      || argc != 2 || url == NULL) {
    g_printerr ("bench-upload: %s\n", error != NULL ? error->message
        : "usage: bench-upload --url URL --key KEY FILE");
    return 2;
  }

  session = luma_http_session_new (&config);
  file = g_file_new_for_commandline_arg (argv[1]);
  download_url = luma_upload_file (session, url, key, file,
      upload_path != NULL ? upload_path : "bench", 0,
      show_progress ? print_progress : NULL, NULL, NULL, &error);
  if (download_url == NULL) {
    g_printerr ("bench-upload: %s\n", error->message);
    return 1;
  }
  g_print ("%s\n", download_url);
  return 0;
}
