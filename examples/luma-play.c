/* gst-luma example: luma-play, plays the video of a Luma Modify task with
 * playbin and a luma:// URI, with seeking from the keyboard.
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   export KIE_API_KEY=...
 *   luma-play [--fakesinks] [--seek-test] [--poll-interval MS]
 *       [--wait-timeout S] TASK_ID
 *
 * TASK_ID may also be a whole luma://TASK_ID URI. On a terminal: left and
 * right arrows seek 5 s back and forth, space pauses and resumes, q quits.
 *
 * --fakesinks plays into fakesinks (no window, no sound), at the normal
 * pace: for machines without a display, and for tests.
 * --seek-test needs no keyboard: once the video is ready it seeks to its
 * middle, checks that the frame shown is the one asked for, plays to the
 * end and exits 0, or exits 1 if the seek went wrong.
 */

#include "luma-example.h"

#include <locale.h>

#include <glib-unix.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define SEEK_STEP (5 * GST_SECOND)
/* an accurate seek lands on the frame that covers the time asked for: a
 * frame and a half of leeway at 25 fps and more */
#define SEEK_TOLERANCE (60 * GST_MSECOND)

typedef struct
{
  gboolean fakesinks;
  gboolean seek_test;
  gint poll_interval;           /* ms; 0: lumasrc's default */
  gint wait_timeout;            /* s; -1: lumasrc's default */
  const gchar *task;
} Options;

typedef enum
{
  SEEK_TEST_OFF,
  SEEK_TEST_PREROLLING,         /* waiting for the first frame */
  SEEK_TEST_SEEKING,            /* waiting for the frame at the target */
  SEEK_TEST_PLAYING,            /* checked; playing to the end */
} SeekTestStage;

typedef struct
{
  GMainLoop *loop;
  GstElement *playbin;
  LumaProgressLine progress;
  LumaExitStatus status;
  gboolean user_paused;
  gboolean buffering;
  guint position_id;

  /* the keyboard */
  gboolean raw_terminal;
  struct termios saved_termios;
  guint stdin_id;
  guint escape_state;           /* 0, 1 after ESC, 2 after ESC [ */

  SeekTestStage seek_test;
  GstClockTime seek_target;
} Player;

static void
quit (Player * p, LumaExitStatus status)
{
  luma_progress_line_end (&p->progress);
  p->status = status;
  g_main_loop_quit (p->loop);
}

/* ----- the status line while playing (on a terminal only) ----- */

static gboolean
show_position (gpointer user_data)
{
  Player *p = user_data;
  gint64 position = 0, duration = -1;
  guint pos_s, dur_s;
  g_autofree gchar *text = NULL;

  gst_element_query_position (p->playbin, GST_FORMAT_TIME, &position);
  gst_element_query_duration (p->playbin, GST_FORMAT_TIME, &duration);
  pos_s = position / GST_SECOND;
  dur_s = duration > 0 ? duration / GST_SECOND : 0;
  text = g_strdup_printf ("%s %u:%02u / %u:%02u   (<- -> seek, space "
      "pause, q quit)", p->user_paused ? "Paused " : "Playing", pos_s / 60,
      pos_s % 60, dur_s / 60, dur_s % 60);
  luma_progress_line_show (&p->progress, text);
  return G_SOURCE_CONTINUE;
}

static void
start_position_line (Player * p)
{
  if (p->position_id != 0 || !p->progress.is_tty
      || p->seek_test != SEEK_TEST_OFF)
    return;
  p->position_id = g_timeout_add (250, show_position, p);
}

/* ----- what the keys do ----- */

static void
seek_to (Player * p, GstClockTime target)
{
  /* ACCURATE: with KEY_UNIT, a video with few keyframes would snap back
   * to the same one at each press */
  if (!gst_element_seek_simple (p->playbin, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, target))
    g_printerr ("\n%s: the video cannot seek\n", g_get_prgname ());
}

static void
seek_by (Player * p, gint64 step)
{
  gint64 position, duration = -1, target;

  /* no position yet: still waiting for the task */
  if (!gst_element_query_position (p->playbin, GST_FORMAT_TIME, &position))
    return;
  gst_element_query_duration (p->playbin, GST_FORMAT_TIME, &duration);
  target = MAX (position + step, 0);
  if (duration > 0)
    target = MIN (target, duration);
  seek_to (p, target);
}

static void
toggle_pause (Player * p)
{
  p->user_paused = !p->user_paused;
  if (!p->buffering)
    gst_element_set_state (p->playbin,
        p->user_paused ? GST_STATE_PAUSED : GST_STATE_PLAYING);
}

/* Arrows come as ESC [ C (right) and ESC [ D (left), possibly with
 * modifiers as ESC [ 1 ; 2 C: the letter ends the sequence. */
static void
on_key (Player * p, guchar c)
{
  if (p->escape_state == 1) {
    p->escape_state = c == '[' ? 2 : 0;
    return;
  }
  if (p->escape_state == 2) {
    if (g_ascii_isdigit (c) || c == ';')
      return;
    p->escape_state = 0;
    if (c == 'C')
      seek_by (p, SEEK_STEP);
    else if (c == 'D')
      seek_by (p, -SEEK_STEP);
    return;
  }

  switch (c) {
    case 0x1b:
      p->escape_state = 1;
      break;
    case ' ':
      toggle_pause (p);
      break;
    case 'q':
    case 'Q':
      quit (p, LUMA_EXIT_OK);
      break;
    default:
      break;
  }
}

static gboolean
on_stdin (gint fd, GIOCondition condition, gpointer user_data)
{
  Player *p = user_data;
  guchar keys[32];
  gssize n, i;

  n = read (fd, keys, sizeof (keys));
  if (n <= 0) {
    p->stdin_id = 0;
    return G_SOURCE_REMOVE;
  }
  for (i = 0; i < n; i++)
    on_key (p, keys[i]);
  return G_SOURCE_CONTINUE;
}

/* Each key as it is pressed, not echoed; Ctrl-C still sends SIGINT. */
static void
keyboard_start (Player * p)
{
  struct termios raw;

  if (!isatty (STDIN_FILENO) || tcgetattr (STDIN_FILENO,
          &p->saved_termios) != 0)
    return;
  raw = p->saved_termios;
  raw.c_lflag &= ~(ICANON | ECHO);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr (STDIN_FILENO, TCSAFLUSH, &raw) != 0)
    return;
  p->raw_terminal = TRUE;
  p->stdin_id = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP, on_stdin, p);
}

static void
keyboard_stop (Player * p)
{
  if (p->stdin_id != 0)
    g_source_remove (p->stdin_id);
  p->stdin_id = 0;
  if (p->raw_terminal)
    tcsetattr (STDIN_FILENO, TCSAFLUSH, &p->saved_termios);
  p->raw_terminal = FALSE;
}

/* ----- the scripted seek of --seek-test ----- */

static GstClockTime
shown_frame_time (Player * p)
{
  g_autoptr (GstSample) sample = NULL;
  GstBuffer *buffer;

  g_object_get (p->playbin, "sample", &sample, NULL);
  if (sample == NULL || (buffer = gst_sample_get_buffer (sample)) == NULL)
    return GST_CLOCK_TIME_NONE;
  return GST_BUFFER_PTS (buffer);
}

static gboolean
near_target (Player * p, GstClockTime time)
{
  return GST_CLOCK_TIME_IS_VALID (time)
      && time + SEEK_TOLERANCE >= p->seek_target
      && time <= p->seek_target + SEEK_TOLERANCE;
}

static void
seek_test_start (Player * p)
{
  gint64 duration;

  if (!gst_element_query_duration (p->playbin, GST_FORMAT_TIME, &duration)
      || duration <= 0) {
    g_printerr ("%s: seek test: the video has no duration\n", g_get_prgname ());
    quit (p, LUMA_EXIT_ERROR);
    return;
  }
  p->seek_target = duration / 2;
  g_print ("Seek test: duration %" GST_TIME_FORMAT ", seeking to %"
      GST_TIME_FORMAT "\n", GST_TIME_ARGS (duration),
      GST_TIME_ARGS (p->seek_target));
  p->seek_test = SEEK_TEST_SEEKING;
  seek_to (p, p->seek_target);
}

/* The position alone only echoes the seek; the frame the video sink holds
 * tells that the data really came from there. */
static void
seek_test_check (Player * p)
{
  gint64 position = -1;
  GstClockTime frame = shown_frame_time (p);

  gst_element_query_position (p->playbin, GST_FORMAT_TIME, &position);
  g_print ("Seek test: position %" GST_TIME_FORMAT ", frame at %"
      GST_TIME_FORMAT "\n", GST_TIME_ARGS (position), GST_TIME_ARGS (frame));
  if (!near_target (p, position) || !near_target (p, frame)) {
    g_printerr ("%s: seek test: landed away from %" GST_TIME_FORMAT "\n",
        g_get_prgname (), GST_TIME_ARGS (p->seek_target));
    quit (p, LUMA_EXIT_ERROR);
    return;
  }
  p->seek_test = SEEK_TEST_PLAYING;
  gst_element_set_state (p->playbin, GST_STATE_PLAYING);
}

static void
on_async_done (Player * p)
{
  switch (p->seek_test) {
    case SEEK_TEST_PREROLLING:
      seek_test_start (p);
      break;
    case SEEK_TEST_SEEKING:
      seek_test_check (p);
      break;
    default:
      start_position_line (p);
      break;
  }
}

/* ----- the bus ----- */

/* What a network player does: pause while the buffer fills up. */
static void
on_buffering (Player * p, GstMessage * message)
{
  gint percent;

  if (p->seek_test != SEEK_TEST_OFF)
    return;                     /* the test drives the states itself */
  gst_message_parse_buffering (message, &percent);
  if (percent < 100 && !p->buffering) {
    p->buffering = TRUE;
    gst_element_set_state (p->playbin, GST_STATE_PAUSED);
  } else if (percent == 100 && p->buffering) {
    p->buffering = FALSE;
    if (!p->user_paused)
      gst_element_set_state (p->playbin, GST_STATE_PLAYING);
  }
}

static void
on_eos (Player * p)
{
  if (p->seek_test == SEEK_TEST_OFF || p->seek_test == SEEK_TEST_PLAYING) {
    if (p->seek_test == SEEK_TEST_PLAYING)
      g_print ("Seek test: played to the end after the seek\n");
    quit (p, LUMA_EXIT_OK);
    return;
  }
  g_printerr ("%s: seek test: the video ended before the seek\n",
      g_get_prgname ());
  quit (p, LUMA_EXIT_ERROR);
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * message, gpointer user_data)
{
  Player *p = user_data;

  if (luma_progress_line_handle (&p->progress, message))
    return G_SOURCE_CONTINUE;

  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_EOS:
      on_eos (p);
      break;
    case GST_MESSAGE_ERROR:
      luma_progress_line_end (&p->progress);
      luma_example_print_error (message);
      quit (p, luma_example_exit_status (message));
      break;
    case GST_MESSAGE_WARNING:
      luma_progress_line_end (&p->progress);
      luma_example_print_warning (message);
      break;
    case GST_MESSAGE_ASYNC_DONE:
      on_async_done (p);
      break;
    case GST_MESSAGE_BUFFERING:
      on_buffering (p, message);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

/* ----- setting up ----- */

/* luma://TASK_ID?poll-interval=...: the URI carries lumasrc's non-secret
 * settings; the key comes from KIE_API_KEY. */
static gchar *
make_uri (const Options * options)
{
  GString *uri = g_string_new (NULL);
  const gchar *sep = "?";

  if (strstr (options->task, "://") != NULL)
    g_string_append (uri, options->task);
  else
    g_string_append_printf (uri, "luma://%s", options->task);
  if (strchr (uri->str, '?') != NULL)
    sep = "&";
  if (options->poll_interval > 0) {
    g_string_append_printf (uri, "%spoll-interval=%d", sep,
        options->poll_interval);
    sep = "&";
  }
  /* a URI cannot turn a bound off: 0 (forever) is set on the source
   * (on_source_setup ()) */
  if (options->wait_timeout > 0)
    g_string_append_printf (uri, "%swait-timeout=%d", sep,
        options->wait_timeout);
  return g_string_free (uri, FALSE);
}

static void
on_source_setup (GstElement * playbin, GstElement * source, gpointer unused)
{
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (source),
          "wait-timeout") != NULL)
    g_object_set (source, "wait-timeout", 0u, NULL);
}

static GstElement *
make_fakesink (void)
{
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);

  /* at the video's pace, as a real sink would play it */
  g_object_set (sink, "sync", TRUE, NULL);
  return sink;
}

static GstElement *
make_playbin (const Options * options)
{
  GstElement *playbin = gst_element_factory_make ("playbin", NULL);
  g_autofree gchar *uri = NULL;

  if (playbin == NULL)
    return NULL;
  uri = make_uri (options);
  g_object_set (playbin, "uri", uri, NULL);
  if (options->wait_timeout == 0)
    g_signal_connect (playbin, "source-setup", G_CALLBACK (on_source_setup),
        NULL);
  if (options->fakesinks)
    g_object_set (playbin, "video-sink", make_fakesink (),
        "audio-sink", make_fakesink (), NULL);
  return playbin;
}

static gboolean
on_interrupt (gpointer user_data)
{
  quit (user_data, LUMA_EXIT_INTERRUPTED);
  return G_SOURCE_CONTINUE;
}

static LumaExitStatus
run (const Options * options)
{
  Player p = { 0, };

  p.playbin = make_playbin (options);
  if (p.playbin == NULL) {
    g_printerr ("%s: the playbin element is missing: install "
        "gstreamer1.0-plugins-base\n", g_get_prgname ());
    return LUMA_EXIT_ERROR;
  }
  p.loop = g_main_loop_new (NULL, FALSE);
  p.status = LUMA_EXIT_ERROR;
  p.seek_test = options->seek_test ? SEEK_TEST_PREROLLING : SEEK_TEST_OFF;
  luma_progress_line_init (&p.progress);

  if (!options->seek_test)
    keyboard_start (&p);
  /* the seek test starts PAUSED, to seek before a frame is played */
  luma_example_run_pipeline (p.playbin, options->seek_test ?
      GST_STATE_PAUSED : GST_STATE_PLAYING, p.loop, on_bus_message,
      on_interrupt, &p, &p.status);
  keyboard_stop (&p);
  if (p.position_id != 0)
    g_source_remove (p.position_id);
  gst_object_unref (p.playbin);
  g_main_loop_unref (p.loop);
  return p.status;
}

/* ----- the command line ----- */

static gboolean
parse_options (int *argc, char ***argv, Options * options)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    {"fakesinks", 'f', 0, G_OPTION_ARG_NONE, &options->fakesinks,
        "Play into fakesinks: no window, no sound", NULL},
    {"seek-test", 0, 0, G_OPTION_ARG_NONE, &options->seek_test,
        "Seek to the middle, check the frame shown, play to the end", NULL},
    {"poll-interval", 'p', 0, G_OPTION_ARG_INT, &options->poll_interval,
        "Milliseconds between two readings of the task (default: lumasrc's, "
          "30000)", "MS"},
    {"wait-timeout", 'w', 0, G_OPTION_ARG_INT, &options->wait_timeout,
        "Seconds to wait for the task at the most, 0 = forever (default: "
          "lumasrc's, 3600)", "S"},
    G_OPTION_ENTRY_NULL
  };

  options->wait_timeout = -1;
  context = g_option_context_new ("TASK_ID - play the video of a Luma "
      "Modify task");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  g_option_context_set_description (context,
      "Keys: left/right arrows seek 5 s, space pauses, q quits.\n\n"
      LUMA_EXIT_STATUS_HELP);

  if (!g_option_context_parse (context, argc, argv, &error)) {
    g_printerr ("%s: %s\nTry --help.\n", g_get_prgname (), error->message);
    return FALSE;
  }
  if (*argc != 2) {
    g_printerr ("%s: expected TASK_ID\nTry --help.\n", g_get_prgname ());
    return FALSE;
  }
  if (!luma_example_check_wait_options (options->poll_interval,
          options->wait_timeout))
    return FALSE;
  options->task = (*argv)[1];
  return TRUE;
}

int
main (int argc, char **argv)
{
  Options options = { 0, };

  /* As luma-modify: without it the C library stays in the "C"
   * locale whatever the user's, and g_printerr () turns every character
   * beyond ASCII of a message (KIE's errorMessage, a translation, GLib's
   * quotes) into "?" */
  setlocale (LC_ALL, "");
  g_set_prgname ("luma-play");
  if (!parse_options (&argc, &argv, &options))
    return LUMA_EXIT_USAGE;
  return run (&options);
}
