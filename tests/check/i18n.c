/* gst-luma: a user whose locale is zh_CN reads lumasrc's errors and progress
 * in Chinese
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The catalogue is the one in the build tree (LUMA_TEST_LOCALEDIR, given by
 * tests/meson.build), not an installed one. The zh_CN.UTF-8 locale is
 * compiled by the test itself into a temporary directory that LOCPATH points
 * at: Debian images often hold no locale but C.UTF-8, under which gettext
 * translates nothing, and making one system-wide would need root.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/luma/luma.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <locale.h>

#include "harness.h"

#ifndef LUMA_TEST_LOCALEDIR
#error "LUMA_TEST_LOCALEDIR (the build tree's po directory) must be defined"
#endif

#define LOCALE_NAME "zh_CN.UTF-8"
#define WRONG_KEY "wrong-key-for-the-i18n-test"

/* The START progress text, posted from the streaming thread. */
static GMutex progress_lock;
static gchar *start_text;

static void
setup (void)
{
  luma_test_fixture_setup (luma_test_random_bytes (4096, 7));
}

static void
teardown (void)
{
  luma_test_fixture_teardown ();
  g_mutex_lock (&progress_lock);
  g_clear_pointer (&start_text, g_free);
  g_mutex_unlock (&progress_lock);
}

static gboolean
has_han (const gchar * text)
{
  const gchar *p;

  for (p = text; *p != '\0'; p = g_utf8_next_char (p)) {
    if (g_unichar_get_script (g_utf8_get_char (p)) == G_UNICODE_SCRIPT_HAN)
      return TRUE;
  }
  return FALSE;
}

/* The catalogue's text for @msgid. A missing translation fails the test
 * here: comparing the English text with itself would prove nothing. */
static const gchar *
chinese (const gchar * msgid)
{
  const gchar *text = g_dgettext (GETTEXT_PACKAGE, msgid);

  fail_unless (g_strcmp0 (text, msgid) != 0 && has_han (text),
      "no zh_CN translation of \"%s\" in " LUMA_TEST_LOCALEDIR, msgid);
  return text;
}

static const gchar *
chinese_plural (const gchar * msgid, const gchar * msgid_plural, gulong n)
{
  const gchar *text = g_dngettext (GETTEXT_PACKAGE, msgid, msgid_plural, n);

  fail_unless (g_strcmp0 (text, msgid) != 0
      && g_strcmp0 (text, msgid_plural) != 0 && has_han (text),
      "no zh_CN translation of \"%s\" in " LUMA_TEST_LOCALEDIR, msgid);
  return text;
}

static gchar *
error_text (LumaRun * run)
{
  g_autoptr (GError) error = NULL;

  gst_message_parse_error (run->error, &error, NULL);
  return g_strdup (error->message);
}

static GstBusSyncReply
keep_start_text (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  GstProgressType type;
  gchar *text = NULL;

  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_PROGRESS)
    return GST_BUS_PASS;
  gst_message_parse_progress (msg, &type, NULL, &text);
  g_mutex_lock (&progress_lock);
  if (type == GST_PROGRESS_TYPE_START && start_text == NULL)
    start_text = g_steal_pointer (&text);
  g_mutex_unlock (&progress_lock);
  g_free (text);
  return GST_BUS_PASS;
}

GST_START_TEST (test_settings_error)
{
  LumaRun *run = luma_run_new (fixture.em, "", NULL);
  g_autofree gchar *text = NULL;

  fail_unless_equals_int (gst_element_set_state (run->pipeline,
          GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  luma_run_drain_bus (run);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, NULL);
  text = error_text (run);
  fail_unless_equals_string (text,
      chinese ("No task id given: set the task-id property or use a "
          "luma://TASKID URI, or set prompt and video-url to create a task"));
  luma_run_free (run);
}

GST_END_TEST;

/* The emulator's own 401 text is English and goes into the middle of the
 * sentence: what is around it must be the translation. */
GST_START_TEST (test_refused_key_and_progress)
{
  LumaRun *run;
  g_autoptr (GstBus) bus = NULL;
  g_auto (GStrv) around = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *expected_start = NULL;

  luma_test_add_ready_task (fixture.em, "t-key", fixture.video);
  run = luma_run_new (fixture.em, "t-key", NULL);
  g_object_set (run->src, "api-key", WRONG_KEY, NULL);
  bus = gst_element_get_bus (run->pipeline);
  gst_bus_set_sync_handler (bus, keep_start_text, NULL, NULL);
  luma_run_until_done (run, 20);

  luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_AUTHORIZED, NULL);
  text = error_text (run);
  around = g_strsplit (chinese ("KIE refused the API key (401: %s); set the "
          "api-key property or KIE_API_KEY"), "%s", 2);
  fail_unless_equals_int (g_strv_length (around), 2);
  fail_unless (g_str_has_prefix (text, around[0])
      && g_str_has_suffix (text, around[1]), "not the translation: \"%s\"",
      text);

  expected_start = g_strdup_printf (chinese ("Waiting for Luma task %s"),
      "t-key");
  g_mutex_lock (&progress_lock);
  fail_unless_equals_string (start_text, expected_start);
  g_mutex_unlock (&progress_lock);
  luma_run_free (run);
}

GST_END_TEST;

/* A message built from two translated ones; the inner one holds a 64-bit
 * number, whose format the catalogue knows as <PRId64>. */
GST_START_TEST (test_bad_answer_with_64_bit_number)
{
  LumaRun *run;
  g_autofree gchar *text = NULL;
  g_autofree gchar *cause = NULL;
  g_autofree gchar *expected = NULL;

  luma_test_add_ready_task (fixture.em, "t-flag", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-flag", 200, NULL, NULL,
      "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":\"t-flag\","
      "\"successFlag\":7}}");
  run = luma_run_new (fixture.em, "t-flag", NULL);
  luma_run_until_done (run, 20);

  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, NULL);
  text = error_text (run);
  cause = g_strdup_printf (chinese ("successFlag %" PRId64
          " is not one of 0 to 4"), (int64_t) 7);
  expected = g_strdup_printf (chinese ("KIE's answer for task %s cannot be "
          "read: %s"), "t-flag", cause);
  fail_unless_equals_string (text, expected);
  luma_run_free (run);
}

GST_END_TEST;

/* A counted message: Chinese has one form for every count. */
GST_START_TEST (test_plural_after_server_error)
{
  LumaRun *run;
  g_autofree gchar *text = NULL;
  g_autofree gchar *cause = NULL;
  g_autofree gchar *expected = NULL;

  luma_test_add_ready_task (fixture.em, "t-down", fixture.video);
  luma_emulator_push_record_reply (fixture.em, "t-down", 503, NULL, NULL,
      "{\"code\":503,\"msg\":\"down\"}");
  run = luma_run_new (fixture.em, "t-down", NULL);
  g_object_set (run->src, "retries", 0, NULL);
  luma_run_until_done (run, 20);

  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, NULL);
  text = error_text (run);
  cause = g_strdup_printf (chinese ("KIE's server failed (%d: %s)"), 503,
      "down");
  expected = g_strdup_printf (chinese_plural ("Could not read the record of "
          "task %s after %u attempt: %s", "Could not read the record of task "
          "%s after %u attempts: %s", 1), "t-down", 1, cause);
  fail_unless_equals_string (text, expected);
  luma_run_free (run);
}

GST_END_TEST;

static Suite *
i18n_suite (void)
{
  Suite *s = suite_create ("lumasrc-i18n");
  TCase *tc = tcase_create ("zh_CN");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_settings_error);
  tcase_add_test (tc, test_refused_key_and_progress);
  tcase_add_test (tc, test_bad_answer_with_64_bit_number);
  tcase_add_test (tc, test_plural_after_server_error);
  return s;
}

/* Compiles zh_CN.UTF-8 from glibc's locale sources into a new temporary
 * directory and points LOCPATH at it. Returns the directory, or NULL after
 * saying why on stderr. */
static gchar *
make_chinese_locale (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("luma-i18n-XXXXXX", &error);
  g_autofree gchar *target = NULL;
  g_autofree gchar *errors = NULL;
  gint status;
  const gchar *argv[] = { "localedef", "-i", "zh_CN", "-f", "UTF-8", NULL,
    NULL
  };

  if (dir == NULL) {
    g_printerr ("i18n: no temporary directory for the locale: %s\n",
        error->message);
    return NULL;
  }
  target = g_build_filename (dir, LOCALE_NAME, NULL);
  argv[5] = target;
  if (!g_spawn_sync (NULL, (gchar **) argv, NULL,
          G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
          &errors, &status, &error)
      || !g_spawn_check_wait_status (status, &error)) {
    g_printerr ("i18n: could not compile the " LOCALE_NAME " locale with "
        "localedef: %s\n%s"
        "i18n: localedef comes with the Debian package libc-bin, the zh_CN "
        "sources it reads (/usr/share/i18n/locales/zh_CN, "
        "/usr/share/i18n/charmaps/UTF-8.gz) with the package locales\n",
        error->message, errors ? errors : "");
    luma_test_remove_tree (dir);
    return NULL;
  }
  g_setenv ("LOCPATH", dir, TRUE);
  return g_steal_pointer (&dir);
}

/* The locale for the whole process (the forked tests inherit it), and the
 * build tree's catalogue in place of the installed one. The binding must
 * come after the plugin's own, which its plugin_init() makes. */
static gboolean
speak_chinese (void)
{
  GstPlugin *plugin;

  if (setlocale (LC_ALL, LOCALE_NAME) == NULL) {
    g_printerr ("i18n: setlocale (LC_ALL, \"" LOCALE_NAME "\") failed with "
        "LOCPATH=%s\n", g_getenv ("LOCPATH"));
    return FALSE;
  }
  plugin = gst_plugin_load_by_name ("luma");
  if (plugin == NULL) {
    g_printerr ("i18n: the luma plugin cannot be loaded\n");
    return FALSE;
  }
  gst_object_unref (plugin);
  bindtextdomain (GETTEXT_PACKAGE, LUMA_TEST_LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *locale_dir = NULL;
  int failures = 1;

  /* before any thread exists: the environment is not thread-safe */
  locale_dir = make_chinese_locale ();
  if (locale_dir == NULL)
    return EXIT_FAILURE;
  /* LANGUAGE would win over the locale when gettext picks a catalogue */
  g_unsetenv ("LANGUAGE");

  gst_check_init (&argc, &argv);
  if (speak_chinese ())
    failures = gst_check_run_suite (i18n_suite (), "i18n", __FILE__);
  luma_test_remove_tree (locale_dir);
  return failures;
}
