/* gst-luma example: luma-transcode, waits for a Luma Modify task and saves
 * its video as an MP4 file.
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   export KIE_API_KEY=...
 *   luma-transcode [--reencode] [--poll-interval MS] [--wait-timeout S]
 *       TASK_ID OUTPUT
 *
 * By default the streams are remuxed, not decoded:
 *
 *   lumasrc ! parsebin ! mp4mux ! filesink
 *
 * With --reencode, the video is decoded and encoded again with x264enc
 * (and any audio as AAC):
 *
 *   lumasrc ! decodebin ! encodebin (MP4: H.264 + AAC) ! filesink
 *
 * While the task generates, one line tells its state. The video goes to
 * OUTPUT.part first and is renamed OUTPUT once complete, so that OUTPUT
 * never holds half a file. The exit status tells why a run failed: see
 * --help.
 */

#include "luma-example.h"

#include <locale.h>

#include <gst/pbutils/pbutils.h>

typedef struct
{
  gboolean reencode;
  gint poll_interval;           /* ms; 0: lumasrc's default */
  gint wait_timeout;            /* s; -1: lumasrc's default */
  const gchar *task_id;
  const gchar *output;
} Options;

typedef struct
{
  GMainLoop *loop;
  GstElement *pipeline;
  GstElement *mux;              /* mp4mux or encodebin: where streams go */
  gboolean reencode;
  guint linked_streams;
  LumaProgressLine progress;
  LumaExitStatus status;
} Transcode;

/* ----- the pipeline ----- */

/* A stream that cannot go into the MP4 file (a subtitle format mp4mux does
 * not take, say) ends in a fakesink rather than stopping the others. */
static void
drop_stream (Transcode * t, GstPad * pad, GstCaps * caps)
{
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);
  g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (sink, "sink");
  g_autofree gchar *caps_text = gst_caps_to_string (caps);

  g_printerr ("%s: not saving a stream of type %s\n", g_get_prgname (),
      caps_text);
  g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (GST_BIN (t->pipeline), sink);
  gst_element_sync_state_with_parent (sink);
  gst_pad_link (pad, sinkpad);
}

/* The muxer's (or encodebin's) pad for a stream of these caps, or NULL. */
static GstPad *
request_mux_pad (Transcode * t, GstPad * pad, GstCaps * caps)
{
  GstPad *mux_pad = NULL;

  if (t->reencode)
    g_signal_emit_by_name (t->mux, "request-pad", caps, &mux_pad);
  else
    mux_pad = gst_element_get_compatible_pad (t->mux, pad, caps);
  return mux_pad;
}

/* parsebin pushes every stream from the one thread that reads the file,
 * and mp4mux waits for data on all of its pads: each stream needs a queue
 * of its own. Unbounded, as a bounded one would still deadlock on a file
 * whose streams are not interleaved; a Luma result is a short clip. */
static GstPad *
add_stream_queue (Transcode * t, GstPad * pad)
{
  GstElement *queue = gst_element_factory_make ("queue", NULL);
  g_autoptr (GstPad) queue_sink = gst_element_get_static_pad (queue, "sink");

  g_object_set (queue, "max-size-buffers", 0, "max-size-bytes", 0,
      "max-size-time", (guint64) 0, NULL);
  gst_bin_add (GST_BIN (t->pipeline), queue);
  gst_element_sync_state_with_parent (queue);
  gst_pad_link (pad, queue_sink);
  return gst_element_get_static_pad (queue, "src");
}

static void
on_pad_added (GstElement * demux, GstPad * pad, gpointer user_data)
{
  Transcode *t = user_data;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  g_autoptr (GstPad) mux_pad = NULL;
  g_autoptr (GstPad) stream_pad = NULL;

  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  /* encodebin has a queue in front of each encoder already */
  stream_pad = t->reencode ? gst_object_ref (pad) : add_stream_queue (t, pad);
  mux_pad = request_mux_pad (t, stream_pad, caps);
  if (mux_pad != NULL
      && GST_PAD_LINK_SUCCESSFUL (gst_pad_link (stream_pad, mux_pad))) {
    t->linked_streams++;
    return;
  }
  if (mux_pad != NULL)
    gst_element_release_request_pad (t->mux, mux_pad);
  drop_stream (t, stream_pad, caps);
}

/* Once every stream is known: a video with none that fits would make an
 * empty file. */
static void
on_no_more_pads (GstElement * demux, gpointer user_data)
{
  Transcode *t = user_data;

  if (t->linked_streams == 0)
    GST_ELEMENT_ERROR (t->pipeline, STREAM, FORMAT,
        ("The task's video has no stream that fits in an MP4 file"), (NULL));
}

/* MP4 with H.264 video from x264enc and, when the video has sound, AAC
 * from the best ranked AAC encoder (on Debian, voaacenc from
 * gstreamer1.0-plugins-bad: avenc_aac has no rank, encodebin skips it). */
static GstEncodingProfile *
make_mp4_profile (void)
{
  g_autoptr (GstCaps) mp4 =
      gst_caps_from_string ("video/quicktime,variant=iso");
  g_autoptr (GstCaps) h264 = gst_caps_from_string ("video/x-h264");
  g_autoptr (GstCaps) aac = gst_caps_from_string ("audio/mpeg,mpegversion=4");
  GstEncodingContainerProfile *container =
      gst_encoding_container_profile_new ("mp4", NULL, mp4, NULL);
  GstEncodingVideoProfile *video =
      gst_encoding_video_profile_new (h264, NULL, NULL, 0);
  GstEncodingAudioProfile *audio =
      gst_encoding_audio_profile_new (aac, NULL, NULL, 0);

  /* the preset name picks the encoder: the best ranked might be another */
  gst_encoding_profile_set_preset_name (GST_ENCODING_PROFILE (video),
      "x264enc");
  gst_encoding_container_profile_add_profile (container,
      GST_ENCODING_PROFILE (video));
  gst_encoding_container_profile_add_profile (container,
      GST_ENCODING_PROFILE (audio));
  return GST_ENCODING_PROFILE (container);
}

static GstElement *
add_element (GstElement * pipeline, const gchar * factory,
    const gchar * package, GError ** error)
{
  GstElement *element = gst_element_factory_make (factory, NULL);

  if (element == NULL) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
        "The %s element is missing: install %s", factory, package);
    return NULL;
  }
  gst_bin_add (GST_BIN (pipeline), element);
  return element;
}

static void
configure_source (GstElement * src, const Options * options)
{
  g_object_set (src, "task-id", options->task_id, NULL);
  if (options->poll_interval > 0)
    g_object_set (src, "poll-interval", (guint) options->poll_interval, NULL);
  if (options->wait_timeout >= 0)
    g_object_set (src, "wait-timeout", (guint) options->wait_timeout, NULL);
}

static gboolean
build_pipeline (Transcode * t, const Options * options,
    const gchar * part_path, GError ** error)
{
  GstElement *pipe = gst_pipeline_new ("luma-transcode");
  GstElement *src, *demux, *sink;
  g_autoptr (GstEncodingProfile) profile = NULL;

  t->pipeline = pipe;
  src = add_element (pipe, "lumasrc", "gst-luma", error);
  if (src == NULL)
    return FALSE;
  demux = add_element (pipe, t->reencode ? "decodebin" : "parsebin",
      "gstreamer1.0-plugins-base", error);
  if (demux == NULL)
    return FALSE;
  t->mux = add_element (pipe, t->reencode ? "encodebin" : "mp4mux",
      t->reencode ? "gstreamer1.0-plugins-base" : "gstreamer1.0-plugins-good",
      error);
  if (t->mux == NULL)
    return FALSE;
  sink = add_element (pipe, "filesink", "gstreamer1.0 core", error);
  if (sink == NULL)
    return FALSE;

  configure_source (src, options);
  if (t->reencode) {
    profile = make_mp4_profile ();
    g_object_set (t->mux, "profile", profile, NULL);
  }
  g_object_set (sink, "location", part_path, NULL);

  if (!gst_element_link (src, demux) || !gst_element_link (t->mux, sink)) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
        "Could not link the pipeline's elements");
    return FALSE;
  }
  g_signal_connect (demux, "pad-added", G_CALLBACK (on_pad_added), t);
  g_signal_connect (demux, "no-more-pads", G_CALLBACK (on_no_more_pads), t);
  return TRUE;
}

/* ----- running it ----- */

static void
finish (Transcode * t, LumaExitStatus status)
{
  luma_progress_line_end (&t->progress);
  t->status = status;
  g_main_loop_quit (t->loop);
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * message, gpointer user_data)
{
  Transcode *t = user_data;

  if (luma_progress_line_handle (&t->progress, message))
    return G_SOURCE_CONTINUE;

  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_EOS:
      finish (t, LUMA_EXIT_OK);
      break;
    case GST_MESSAGE_ERROR:
      luma_progress_line_end (&t->progress);
      luma_example_print_error (message);
      finish (t, luma_example_exit_status (message));
      break;
    case GST_MESSAGE_WARNING:
      luma_progress_line_end (&t->progress);
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
  Transcode *t = user_data;

  finish (t, LUMA_EXIT_INTERRUPTED);
  g_printerr ("%s: interrupted; the task goes on at KIE: run again with "
      "the same id to get its video\n", g_get_prgname ());
  return G_SOURCE_CONTINUE;
}

static LumaExitStatus
run (const Options * options)
{
  Transcode t = { 0, };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *part_path = g_strconcat (options->output, ".part", NULL);
  gint part_lock;

  t.reencode = options->reencode;
  t.status = LUMA_EXIT_ERROR;
  luma_progress_line_init (&t.progress);
  /* OUTPUT.part is this run's alone */
  part_lock = luma_example_claim_part (part_path);
  if (part_lock < 0)
    return LUMA_EXIT_ERROR;
  if (!build_pipeline (&t, options, part_path, &error)) {
    g_printerr ("%s: %s\n", g_get_prgname (), error->message);
    g_clear_object (&t.pipeline);
    return luma_example_keep_output (LUMA_EXIT_ERROR, part_path, part_lock,
        options->output);
  }

  t.loop = g_main_loop_new (NULL, FALSE);
  luma_example_run_pipeline (t.pipeline, GST_STATE_PLAYING, t.loop,
      on_bus_message, on_interrupt, &t, &t.status);
  gst_object_unref (t.pipeline);
  g_main_loop_unref (t.loop);
  return luma_example_keep_output (t.status, part_path, part_lock,
      options->output);
}

/* ----- the command line ----- */

static gboolean
parse_options (int *argc, char ***argv, Options * options)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    {"reencode", 'r', 0, G_OPTION_ARG_NONE, &options->reencode,
        "Decode the video and encode it again (H.264, AAC) instead of "
          "remuxing its streams", NULL},
    {"poll-interval", 'p', 0, G_OPTION_ARG_INT, &options->poll_interval,
        "Milliseconds between two readings of the task (default: lumasrc's, "
          "30000)", "MS"},
    {"wait-timeout", 'w', 0, G_OPTION_ARG_INT, &options->wait_timeout,
        "Seconds to wait for the task at the most, 0 = forever (default: "
          "lumasrc's, 3600)", "S"},
    G_OPTION_ENTRY_NULL
  };

  options->wait_timeout = -1;
  context = g_option_context_new ("TASK_ID OUTPUT - save the video of a "
      "Luma Modify task as an MP4 file");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  g_option_context_set_description (context, LUMA_EXIT_STATUS_HELP);

  if (!g_option_context_parse (context, argc, argv, &error)) {
    g_printerr ("%s: %s\nTry --help.\n", g_get_prgname (), error->message);
    return FALSE;
  }
  if (*argc != 3) {
    g_printerr ("%s: expected TASK_ID OUTPUT\nTry --help.\n", g_get_prgname ());
    return FALSE;
  }
  if (!luma_example_check_wait_options (options->poll_interval,
          options->wait_timeout))
    return FALSE;
  options->task_id = (*argv)[1];
  options->output = (*argv)[2];
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
  g_set_prgname ("luma-transcode");
  if (!parse_options (&argc, &argv, &options))
    return LUMA_EXIT_USAGE;
  return run (&options);
}
