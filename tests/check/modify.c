/* gst-luma: lumamodify, a clip in and its modified video out: the
 * collector, the checks before any request, the upload under the journal's
 * claim, the inner lumasrc
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/luma/luma.h>
#include <glib/gstdio.h>

#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <utime.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROMPT "Make it snow"
#define FAKESINK "fakesink name=sink sync=false signal-handoffs=true"
#define X264 "video/x-raw,format=I420,width=160,height=120,framerate=25/1 ! " \
    "x264enc speed-preset=ultrafast key-int-max=25"

static LumaEmulator *em;
static GBytes *clip;            /* a 2 s MP4 */
static gchar *clip_path;
static gchar *state_dir;
static gchar *tmp_dir;          /* where lumamodify's temporary files go */

static gchar *
write_file (const gchar * name, GBytes * bytes)
{
  gchar *path = g_build_filename (state_dir, name, NULL);

  fail_unless (g_file_set_contents (path, g_bytes_get_data (bytes, NULL),
          g_bytes_get_size (bytes), NULL));
  return path;
}

static void
setup (void)
{
  /* a journal of this test's own */
  state_dir = g_dir_make_tmp ("luma-test-state-XXXXXX", NULL);
  g_setenv ("XDG_STATE_HOME", state_dir, TRUE);
  em = luma_test_emulator_new ();
  clip = luma_test_make_mp4 (50, FALSE);
  clip_path = write_file ("clip.mp4", clip);
}

static void
teardown (void)
{
  g_clear_pointer (&em, luma_emulator_free);
  g_clear_pointer (&clip, g_bytes_unref);
  g_clear_pointer (&clip_path, g_free);
  luma_test_remove_tree (state_dir);
  g_clear_pointer (&state_dir, g_free);
}

/* "@input ! lumamodify ! @sink" against the emulator, with a 10 ms poll. */
static LumaRun *
modify_run (const gchar * input, const gchar * prompt, const gchar * sink)
{
  g_autofree gchar *desc = g_strdup_printf ("%s ! lumamodify name=modify ! %s",
      input, sink ? sink : FAKESINK);
  g_autofree gchar *api_url = luma_emulator_get_api_url (em);
  g_autofree gchar *upload_url = luma_emulator_get_upload_url (em);
  LumaRun *run = luma_run_new_launch (desc, "modify");

  g_object_set (run->src, "api-url", api_url, "upload-url", upload_url,
      "api-key", TEST_KEY, "prompt", prompt, "poll-interval", 10, NULL);
  return run;
}

static LumaRun *
file_run (const gchar * path, const gchar * prompt)
{
  g_autofree gchar *input = g_strdup_printf ("filesrc location=\"%s\"", path);

  return modify_run (input, prompt, NULL);
}

/* What lumamodify posted: luma-task-created and luma-upload. */
typedef struct
{
  GMutex lock;
  guint created;
  gchar *task_id;
  gboolean reused;
  gchar *video_url;
  guint upload_messages;
  guint64 sent, total;
  guint journal_waits;          /* progress: another creates the same task */
} Watch;

static void
on_element_message (GstBus * bus, GstMessage * msg, Watch * watch)
{
  const GstStructure *s = gst_message_get_structure (msg);

  g_mutex_lock (&watch->lock);
  if (gst_structure_has_name (s, GST_LUMA_MESSAGE_TASK_CREATED)) {
    watch->created++;
    g_free (watch->task_id);
    watch->task_id = g_strdup (gst_structure_get_string (s,
            GST_LUMA_FIELD_TASK_ID));
    g_free (watch->video_url);
    watch->video_url = g_strdup (gst_structure_get_string (s,
            GST_LUMA_FIELD_VIDEO_URL));
    fail_unless (gst_structure_get_boolean (s, GST_LUMA_FIELD_REUSED,
            &watch->reused));
  } else if (gst_structure_has_name (s, GST_LUMA_MESSAGE_UPLOAD)) {
    watch->upload_messages++;
    fail_unless (gst_structure_get_uint64 (s, GST_LUMA_FIELD_BYTES_SENT,
            &watch->sent));
    fail_unless (gst_structure_get_uint64 (s, GST_LUMA_FIELD_BYTES_TOTAL,
            &watch->total));
  }
  g_mutex_unlock (&watch->lock);
}

static void
on_progress_message (GstBus * bus, GstMessage * msg, Watch * watch)
{
  GstProgressType type;
  g_autofree gchar *text = NULL;

  gst_message_parse_progress (msg, &type, NULL, &text);
  g_mutex_lock (&watch->lock);
  if (type == GST_PROGRESS_TYPE_START
      && g_str_has_prefix (text, "Another process or element is creating"))
    watch->journal_waits++;
  g_mutex_unlock (&watch->lock);
}

static void
watch_run (LumaRun * run, Watch * watch)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (run->pipeline);

  gst_bus_enable_sync_message_emission (bus);
  g_signal_connect (bus, "sync-message::element",
      G_CALLBACK (on_element_message), watch);
  g_signal_connect (bus, "sync-message::progress",
      G_CALLBACK (on_progress_message), watch);
}

static void
watch_clear (Watch * watch)
{
  g_free (watch->task_id);
  g_free (watch->video_url);
}

static void
assert_got_clip (LumaRun * run)
{
  if (run->error != NULL) {
    g_autoptr (GError) error = NULL;

    gst_message_parse_error (run->error, &error, NULL);
    fail ("the run failed: %s", error->message);
  }
  fail_unless (run->eos);
  fail_unless_equals_int (run->data->len, g_bytes_get_size (clip));
  fail_unless (memcmp (run->data->data, g_bytes_get_data (clip, NULL),
          run->data->len) == 0, "the video differs from the clip");
}

/* After a run stopped or killed during its upload: the next one, with
 * the upload host answering at once, uploads and creates the task. */
static void
assert_next_run_creates_the_task (void)
{
  LumaRun *run;

  luma_emulator_set_upload_answer_delay (em, 0);
  run = file_run (clip_path, PROMPT);
  luma_run_until_done (run, 60);
  assert_got_clip (run);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_creates (em), 1);
}

/* Nothing left the machine: no upload, no task. */
static void
assert_no_request (void)
{
  fail_unless_equals_int (luma_emulator_get_upload_requests (em), 0);
  fail_unless_equals_int (luma_emulator_get_generate_requests (em), 0);
  fail_unless_equals_int (luma_emulator_get_creates (em), 0);
}

static const GstStructure *
assert_refused (LumaRun * run, const gchar * words, const gchar * reason)
{
  const GstStructure *details =
      luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_WRITE, words);

  fail_unless_equals_string (gst_structure_get_string (details,
          GST_LUMA_DETAIL_INPUT_REFUSED), reason);
  return details;
}

/* The result is paid for: the inner lumasrc stores it (in the test's
 * store, GST_LUMA_STORE_DIR), and its store settings are reachable through
 * GstChildProxy. */
GST_START_TEST (test_result_is_stored)
{
  LumaRun *run = file_run (clip_path, PROMPT);
  g_autofree gchar *store = g_strdup (g_getenv ("GST_LUMA_STORE_DIR"));

  fail_unless (store != NULL);
  luma_run_until_done (run, 60);
  assert_got_clip (run);
  luma_run_free (run);
  /* meta.json is written when the entry is complete */
  fail_unless (luma_test_tree_holds (store, "\"task-id\""),
      "no stored entry in %s", store);
}

GST_END_TEST;

GST_START_TEST (test_store_off_through_child_proxy)
{
  g_autofree gchar *dir = g_build_filename (g_getenv ("GST_LUMA_STORE_DIR"),
      "never", NULL);
  LumaRun *run = file_run (clip_path, PROMPT);

  gst_child_proxy_set (GST_CHILD_PROXY (run->src), "lumasrc::store",
      GST_LUMA_STORE_MODE_OFF, "lumasrc::store-dir", dir, NULL);
  luma_run_until_done (run, 60);
  assert_got_clip (run);
  luma_run_free (run);
  fail_if (g_file_test (dir, G_FILE_TEST_EXISTS));
}

GST_END_TEST;

GST_START_TEST (test_modifies_a_file)
{
  Watch watch = { 0, };
  LumaRun *run = file_run (clip_path, PROMPT);
  g_autofree gchar *task_id = NULL;
  g_autofree gchar *uploaded_url = NULL;
  g_autofree gchar *body = NULL;
  g_autoptr (GBytes) uploaded = NULL;
  GstLumaTaskState state;

  watch_run (run, &watch);
  luma_run_until_done (run, 60);
  assert_got_clip (run);
  fail_unless_equals_int (luma_emulator_get_uploads (em), 1);
  fail_unless_equals_int (luma_emulator_get_creates (em), 1);

  g_object_get (run->src, "task-id", &task_id, "uploaded-url", &uploaded_url,
      "task-state", &state, NULL);
  fail_unless (task_id != NULL && strlen (task_id) == 32);
  fail_unless_equals_int (state, GST_LUMA_TASK_STATE_SUCCESS);
  fail_unless_equals_int (watch.created, 1);
  fail_if (watch.reused);
  fail_unless_equals_string (watch.task_id, task_id);
  fail_unless_equals_string (watch.video_url, uploaded_url);
  /* the upload host has the clip itself, and generate was given its URL */
  uploaded = luma_emulator_get_uploaded_file (em, uploaded_url);
  fail_unless (uploaded != NULL && g_bytes_equal (uploaded, clip));
  body = luma_emulator_get_last_generate_body (em);
  fail_unless (strstr (body, uploaded_url) != NULL, "%s", body);
  fail_unless (strstr (body, "\"prompt\":\"" PROMPT "\"") != NULL, "%s", body);
  /* progress, ending with all of the request sent */
  fail_unless (watch.upload_messages >= 1);
  fail_unless (watch.sent == watch.total && watch.total > g_bytes_get_size
      (clip), "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT, watch.sent,
      watch.total);
  luma_run_free (run);
  watch_clear (&watch);
}

GST_END_TEST;

/* A run of @path with PROMPT (and @watermark, if not NULL) to its clip,
 * watched by @watch. */
static void
run_to_the_clip (const gchar * path, const gchar * watermark, Watch * watch)
{
  LumaRun *run = file_run (path, PROMPT);

  if (watermark != NULL)
    g_object_set (run->src, "watermark", watermark, NULL);
  watch_run (run, watch);
  luma_run_until_done (run, 60);
  assert_got_clip (run);
  luma_run_free (run);
}

GST_START_TEST (test_same_clip_and_prompt_reuse_the_task)
{
  Watch w1 = { 0, }, w2 = { 0, };
  g_autofree gchar *copy = write_file ("copy.mp4", clip);
  g_autofree gchar *uploaded_url = NULL;
  LumaRun *run;

  run_to_the_clip (clip_path, NULL, &w1);

  /* the same bytes under another name: the journal knows the clip by them */
  run = file_run (copy, PROMPT);
  watch_run (run, &w2);
  luma_run_until_done (run, 60);
  assert_got_clip (run);
  g_object_get (run->src, "uploaded-url", &uploaded_url, NULL);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_uploads (em), 1);
  fail_unless_equals_int (luma_emulator_get_upload_requests (em), 1);
  fail_unless_equals_int (luma_emulator_get_generate_requests (em), 1);
  fail_unless_equals_int (luma_emulator_get_creates (em), 1);
  fail_if (w1.reused);
  fail_unless (w2.reused);
  fail_unless_equals_string (w1.task_id, w2.task_id);
  fail_unless (uploaded_url == NULL);
  fail_unless (w2.video_url == NULL);

  /* another prompt is another task, of another upload */
  run = file_run (clip_path, "Make it rain");
  luma_run_until_done (run, 60);
  assert_got_clip (run);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_uploads (em), 2);
  fail_unless_equals_int (luma_emulator_get_creates (em), 2);
  watch_clear (&w1);
  watch_clear (&w2);
}

GST_END_TEST;

GST_START_TEST (test_force_new_uploads_and_creates_again)
{
  LumaRun *run;

  run = file_run (clip_path, PROMPT);
  luma_run_until_done (run, 60);
  assert_got_clip (run);
  luma_run_free (run);
  run = file_run (clip_path, PROMPT);
  g_object_set (run->src, "force-new", TRUE, NULL);
  luma_run_until_done (run, 60);
  assert_got_clip (run);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_uploads (em), 2);
  fail_unless_equals_int (luma_emulator_get_creates (em), 2);
}

GST_END_TEST;

GST_START_TEST (test_longer_than_10_s_is_refused)
{
  g_autoptr (GBytes) long_clip = luma_test_make_mp4 (275, FALSE);
  g_autofree gchar *path = write_file ("long.mp4", long_clip);
  LumaRun *run = file_run (path, PROMPT);
  GstLumaTaskState state;

  luma_run_until_done (run, 60);
  assert_refused (run, "11.00 s, more than the 10 s", "duration");
  g_object_get (run->src, "task-state", &state, NULL);
  fail_unless_equals_int (state, GST_LUMA_TASK_STATE_ERROR);
  luma_run_free (run);
  assert_no_request ();
}

GST_END_TEST;

GST_START_TEST (test_larger_than_max_input_size_is_refused)
{
  LumaRun *run = file_run (clip_path, PROMPT);

  g_object_set (run->src, "max-input-size", (guint64) 1000, NULL);
  luma_run_until_done (run, 60);
  assert_refused (run, "1000 bytes", "size");
  luma_run_free (run);
  assert_no_request ();
}

GST_END_TEST;

GST_START_TEST (test_live_input_is_refused)
{
  LumaRun *run = modify_run ("videotestsrc is-live=true ! " X264
      " tune=zerolatency ! mp4mux", PROMPT, NULL);

  luma_run_until_done (run, 60);
  assert_refused (run, "live", "live");
  luma_run_free (run);
  assert_no_request ();
}

GST_END_TEST;

GST_START_TEST (test_not_a_container_is_refused)
{
  g_autoptr (GBytes) noise = luma_test_random_bytes (100 * 1024, 3);
  g_autofree gchar *path = write_file ("noise.mp4", noise);
  LumaRun *run;

  /* bytes of no known type */
  run = file_run (path, PROMPT);
  luma_run_until_done (run, 60);
  assert_refused (run, "not an MP4, MOV or AVI file", "container");
  luma_run_free (run);

  /* raw video: refused at its caps, before a byte is written */
  run = modify_run ("videotestsrc num-buffers=10", PROMPT, NULL);
  luma_run_until_done (run, 60);
  assert_refused (run, "not an MP4, MOV or AVI file", "container");
  luma_run_free (run);

  /* nothing at all */
  run = modify_run ("filesrc location=/dev/null", PROMPT, NULL);
  luma_run_until_done (run, 60);
  assert_refused (run, "before its first byte", "container");
  luma_run_free (run);
  assert_no_request ();
}

GST_END_TEST;

/* Prerolls "filesrc ! qtdemux ! h264parse ! fakesink" on @bytes: the
 * demuxer must find an H.264 track; returns the duration it reads. */
static GstClockTime
mp4_duration (GBytes * bytes)
{
  g_autofree gchar *path = write_file ("check.mp4", bytes);
  g_autofree gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! "
      "qtdemux ! video/x-h264 ! h264parse ! fakesink name=sink", path);
  LumaRun *run = luma_run_new_launch (desc, "sink");
  g_autoptr (GstPad) pad = gst_element_get_static_pad (run->src, "sink");
  g_autoptr (GstCaps) caps = NULL;
  gint64 duration = -1;

  luma_run_preroll (run, 30);
  caps = gst_pad_get_current_caps (pad);
  fail_unless (caps != NULL && gst_structure_has_name
      (gst_caps_get_structure (caps, 0), "video/x-h264"));
  fail_unless (gst_element_query_duration (run->pipeline, GST_FORMAT_TIME,
          &duration));
  luma_run_free (run);
  return duration;
}

/* mp4mux goes back to the start of the file (a BYTES segment) to write the
 * size of its mdat box once it knows it: the collector puts those bytes
 * where they belong, and the result is a valid file. */
GST_START_TEST (test_muxer_output_arrives_valid)
{
  LumaRun *run = modify_run ("videotestsrc num-buffers=100 ! " X264
      " ! mp4mux", PROMPT, NULL);
  g_autoptr (GBytes) result = NULL;
  g_autofree gchar *uploaded_url = NULL;
  g_autoptr (GBytes) uploaded = NULL;
  GstClockTime duration;

  luma_run_until_done (run, 60);
  fail_unless (run->eos, "%" GST_PTR_FORMAT, run->error);
  g_object_get (run->src, "uploaded-url", &uploaded_url, NULL);
  uploaded = luma_emulator_get_uploaded_file (em, uploaded_url);
  result = g_bytes_new (run->data->data, run->data->len);
  luma_run_free (run);

  /* the uploaded file is what mp4mux wrote, no more: no byte appended */
  fail_unless (g_bytes_equal (uploaded, result));
  duration = mp4_duration (result);
  fail_unless (duration > 3900 * GST_MSECOND && duration < 4100 * GST_MSECOND,
      "duration %" GST_TIME_FORMAT, GST_TIME_ARGS (duration));
}

GST_END_TEST;

static gboolean
tmp_has_collected_file (void)
{
  g_autoptr (GDir) dir = g_dir_open (tmp_dir, 0, NULL);
  const gchar *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "luma-modify-"))
      return TRUE;
  return FALSE;
}

/* A run of the clip, playing, whose upload has arrived whole at the upload
 * host, which holds its answer back @delay_ms. */
static LumaRun *
play_until_upload_held (guint delay_ms)
{
  LumaRun *run = file_run (clip_path, PROMPT);
  gint i;

  luma_emulator_set_upload_answer_delay (em, delay_ms);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  for (i = 0; i < 3000 && luma_emulator_get_uploads (em) == 0; i++)
    g_usleep (10 * 1000);
  fail_unless_equals_int (luma_emulator_get_uploads (em), 1);
  return run;
}

/* Set to NULL during a slow upload: at once, with nothing created; the
 * journal's claim was given up (the upload never finished, no task can
 * exist), so a rerun uploads and creates. */
GST_START_TEST (test_stop_during_upload_is_prompt)
{
  LumaRun *run = play_until_upload_held (5000);
  gint64 start, took;

  fail_unless (tmp_has_collected_file ());

  start = g_get_monotonic_time ();
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  took = g_get_monotonic_time () - start;
  fail_unless (took < 50000 * luma_test_slowdown (), "took %" G_GINT64_FORMAT
      " us", took);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_generate_requests (em), 0);
  fail_unless_equals_int (luma_emulator_get_creates (em), 0);
  fail_if (tmp_has_collected_file (), "the temporary file was left");

  assert_next_run_creates_the_task ();
  fail_if (tmp_has_collected_file (), "the temporary file was left");
}

GST_END_TEST;

/* An input larger than this process may write a file (`ulimit -f`): an
 * error that says so, and nothing is uploaded or created. Before, the
 * kernel killed the process (SIGXFSZ) as the temporary file passed the
 * limit. */
GST_START_TEST (test_input_past_the_file_size_limit_is_an_error)
{
  g_autofree gchar *input = g_strdup_printf ("filesrc location=\"%s\" "
      "blocksize=1024", clip_path);
  LumaRun *run = modify_run (input, PROMPT, NULL);

  luma_test_limit_file_size (g_bytes_get_size (clip) / 2);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  luma_run_until_done (run, 30);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_WRITE, "ulimit -f");
  luma_run_free (run);
  assert_no_request ();
  fail_if (tmp_has_collected_file (), "the temporary file was left");
}

GST_END_TEST;

/* A file of @age_s in lumamodify's temporary folder. */
static gchar *
tmp_file_of_age (const gchar * name, gint64 age_s)
{
  gchar *path = g_build_filename (tmp_dir, name, NULL);
  gint64 now = g_get_real_time ();

  fail_unless (g_file_set_contents (path, "a clip cut short", -1, NULL));
  fail_unless (g_utime (path, &(struct utimbuf) {
            now / G_USEC_PER_SEC - age_s, now / G_USEC_PER_SEC - age_s
          }) == 0);
  return path;
}

/* A temporary file a process that died left behind (a crash, a kill
 * during the upload) is removed by the next run; one in use by another
 * process (locked), one just made and another program's are kept. */
GST_START_TEST (test_orphaned_temporary_file_removed)
{
  g_autofree gchar *orphan = tmp_file_of_age ("luma-modify-Orphan.mp4", 7200);
  g_autofree gchar *in_use = tmp_file_of_age ("luma-modify-InUse", 7200);
  g_autofree gchar *fresh = tmp_file_of_age ("luma-modify-Fresh", 0);
  g_autofree gchar *other = tmp_file_of_age ("not-luma-modify", 7200);
  gint held = g_open (in_use, O_RDONLY, 0);

  fail_unless (held >= 0 && flock (held, LOCK_EX) == 0);
  assert_next_run_creates_the_task ();
  fail_if (g_file_test (orphan, G_FILE_TEST_EXISTS), "the orphan was kept");
  fail_unless (g_file_test (in_use, G_FILE_TEST_EXISTS),
      "a file in use was removed");
  fail_unless (g_file_test (fresh, G_FILE_TEST_EXISTS),
      "a file just made was removed");
  fail_unless (g_file_test (other, G_FILE_TEST_EXISTS),
      "another program's file was removed");
  g_close (held, NULL);
  /* the folder is the next tests' too */
  g_unlink (in_use);
  g_unlink (fresh);
  g_unlink (other);
}

GST_END_TEST;

/* The temporary files in lumamodify's folder. */
static GPtrArray *
tmp_collected_files (void)
{
  g_autoptr (GDir) dir = g_dir_open (tmp_dir, 0, NULL);
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "luma-modify-"))
      g_ptr_array_add (files, g_build_filename (tmp_dir, name, NULL));
  return files;
}

/* @data: a temporary file's path */
static gboolean
tmp_has_another_collected_file (gconstpointer data)
{
  g_autoptr (GPtrArray) files = tmp_collected_files ();
  guint i;

  for (i = 0; i < files->len; i++)
    if (g_strcmp0 (g_ptr_array_index (files, i), data) != 0)
      return TRUE;
  return FALSE;
}

/* A run's own temporary file, however old it looks, is kept by the sweep
 * of another run that starts meanwhile: it is locked. */
GST_START_TEST (test_temporary_file_in_use_kept)
{
  LumaRun *first = play_until_upload_held (10000);
  g_autoptr (GPtrArray) files = tmp_collected_files ();
  g_autofree gchar *input = g_strdup_printf ("filesrc location=\"%s\" "
      "blocksize=1024 ! identity sleep-time=20000", clip_path);
  LumaRun *second = modify_run (input, "another prompt", NULL);
  const gchar *first_file;
  gint64 then = g_get_real_time () / G_USEC_PER_SEC - 7200;

  fail_unless_equals_int (files->len, 1);
  first_file = g_ptr_array_index (files, 0);
  fail_unless (g_utime (first_file, &(struct utimbuf) {
            then, then
          }) == 0);
  gst_element_set_state (second->pipeline, GST_STATE_PLAYING);
  fail_unless (luma_test_wait_until (tmp_has_another_collected_file,
          first_file, 20), "the second run made no temporary file");
  fail_unless (g_file_test (first_file, G_FILE_TEST_EXISTS),
      "the second run removed the first's temporary file");
  luma_run_free (second);
  luma_run_free (first);
}

GST_END_TEST;

/* The words of the error when the application ends the pipeline before
 * the task is known. */
#define ENDED_EARLY "before lumamodify had its task"

/* gst-launch-1.0 -e at Ctrl-C: an EOS sent to the pipeline, which reaches
 * the upstream source as well as lumamodify. */
static void
end_the_pipeline (LumaRun * run)
{
  /* what the run does next tells, not the answer (FALSE from the bin
   * once the inner lumasrc streams, whose EOS works all the same) */
  gst_element_send_event (run->pipeline, gst_event_new_eos ());
}

/* Ended while the clip is still coming in (a slow source): the input that
 * ends then is cut short. Nothing is uploaded or created, and the run
 * fails with an error that says why (before, the cut clip went on to the
 * checks, and one that passed them was uploaded and billed). */
GST_START_TEST (test_end_of_stream_during_input_creates_nothing)
{
  g_autofree gchar *input = g_strdup_printf ("filesrc location=\"%s\" "
      "blocksize=1024 ! identity sleep-time=20000", clip_path);
  LumaRun *run = modify_run (input, PROMPT, NULL);

  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  g_usleep (200 * 1000);
  end_the_pipeline (run);
  luma_run_until_done (run, 30);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, ENDED_EARLY);
  luma_run_free (run);
  assert_no_request ();
  fail_if (tmp_has_collected_file (), "the temporary file was left");
}

GST_END_TEST;

/* Ended during the upload: the upload is cut, no task is created (before,
 * the task was created and billed, and the run ended at once with an empty
 * output and no error), and a run started again creates the task once. */
GST_START_TEST (test_end_of_stream_during_upload_creates_nothing)
{
  LumaRun *run = play_until_upload_held (3000);

  end_the_pipeline (run);
  luma_run_until_done (run, 30);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, ENDED_EARLY);
  fail_unless_equals_int (run->data->len, 0);
  luma_run_free (run);
  /* the answer held back, then given to no one */
  g_usleep (3500 * 1000);
  fail_unless_equals_int (luma_emulator_get_generate_requests (em), 0);
  fail_unless_equals_int (luma_emulator_get_creates (em), 0);
  fail_if (tmp_has_collected_file (), "the temporary file was left");

  assert_next_run_creates_the_task ();
}

GST_END_TEST;

static gboolean
modify_is_generating (gconstpointer data)
{
  GstLumaTaskState state;

  g_object_get ((gpointer) data, "task-state", &state, NULL);
  return state == GST_LUMA_TASK_STATE_GENERATING;
}

/* @run, ended once its task was known, ends at once with no error and no
 * output; the task was created once. */
static void
assert_ended_with_the_task (LumaRun * run)
{
  luma_run_until_done (run, 30);
  fail_unless (run->error == NULL && run->eos);
  fail_unless_equals_int (run->data->len, 0);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_creates (em), 1);
}

/* Ended once the task is known (it generates): the EOS goes to the inner
 * lumasrc, as to any source, and the run ends at once with no error; the
 * task, billed, is the journal's for the next run. */
GST_START_TEST (test_end_of_stream_after_the_task_ends_the_output)
{
  LumaRun *run = file_run (clip_path, PROMPT);

  luma_emulator_set_created_timing (em, 1000, 0);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  fail_unless (luma_test_wait_until (modify_is_generating, run->src, 30));
  end_the_pipeline (run);
  assert_ended_with_the_task (run);
}

GST_END_TEST;

static void
end_at_created (GstBus * bus, GstMessage * msg, LumaRun * run)
{
  if (gst_structure_has_name (gst_message_get_structure (msg),
          GST_LUMA_MESSAGE_TASK_CREATED))
    end_the_pipeline (run);
}

/* Ended between the task's creation and the start of the inner lumasrc
 * (here from a bus sync handler at luma-task-created, in lumamodify's own
 * thread): the task is known, so the EOS is the inner lumasrc's, sent to
 * it as it starts. */
GST_START_TEST (test_end_of_stream_at_task_created_ends_the_output)
{
  LumaRun *run = file_run (clip_path, PROMPT);
  g_autoptr (GstBus) bus = gst_element_get_bus (run->pipeline);

  luma_emulator_set_created_timing (em, 1000, 0);
  gst_bus_enable_sync_message_emission (bus);
  g_signal_connect (bus, "sync-message::element", G_CALLBACK (end_at_created),
      run);
  assert_ended_with_the_task (run);
}

GST_END_TEST;

/* For the same pipeline to run again, after a run that ended in an error
 * or EOS: the bus's leftovers and what the sink kept go. */
static void
reset_run (LumaRun * run)
{
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  luma_run_drain_bus (run);
  if (run->error != NULL)
    gst_message_unref (run->error);
  run->error = NULL;
  run->eos = FALSE;
  g_byte_array_set_size (run->data, 0);
}

/* An application that sends its EOS twice (a second Ctrl-C, a stop button
 * pressed twice) before the task is known: the second one is dropped.
 * Passed on to the inner lumasrc, locked in NULL, it was kept pending by
 * GstBaseSrc, and the next run of the same element created and billed its
 * task, then ended at once with an empty output and no error. */
GST_START_TEST (test_second_end_of_stream_leaves_the_next_run_whole)
{
  LumaRun *run = play_until_upload_held (3000);

  end_the_pipeline (run);
  end_the_pipeline (run);
  luma_run_until_done (run, 30);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, ENDED_EARLY);
  fail_unless_equals_int (luma_emulator_get_creates (em), 0);

  /* the same pipeline played again */
  reset_run (run);
  luma_emulator_set_upload_answer_delay (em, 0);
  luma_run_until_done (run, 60);
  fail_unless_equals_int (luma_emulator_get_creates (em), 1);
  fail_unless (run->error == NULL && run->eos);
  fail_unless_equals_int (run->data->len, g_bytes_get_size (clip));
  luma_run_free (run);
}

GST_END_TEST;

/* An EOS sent while the request to create the task is out (KIE answers
 * late): the request is cut with no answer, so a billed task may exist,
 * and the error says so, with task-may-exist (it said that nothing was
 * created, while the journal, rightly, stopped the next run). */
GST_START_TEST (test_end_of_stream_during_creation_says_task_may_exist)
{
  LumaRun *run = file_run (clip_path, PROMPT);
  const GstStructure *details;
  gboolean may_exist = FALSE;
  gint i;

  luma_emulator_set_generate_answer_delay (em, 3000);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  for (i = 0; i < 3000 && luma_emulator_get_creates (em) == 0; i++)
    g_usleep (10 * 1000);
  fail_unless_equals_int (luma_emulator_get_creates (em), 1);
  end_the_pipeline (run);
  luma_run_until_done (run, 30);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_READ,
      "a billed task may exist");
  fail_unless (gst_structure_get_boolean (details,
          GST_LUMA_DETAIL_TASK_MAY_EXIST, &may_exist) && may_exist,
      "the request to create the task went out: task-may-exist is not true");
  luma_run_free (run);
}

GST_END_TEST;

static gboolean
collected_file_gone (gconstpointer unused)
{
  return !tmp_has_collected_file ();
}

/* An application may stop the pipeline from its bus sync handler, on a
 * message lumamodify posts from its own thread (which cannot wait for
 * itself to end); a run started right after creates one task, the stopped
 * one none. */
GST_START_TEST (test_stop_from_a_sync_handler_during_upload)
{
  LumaRun *run = file_run (clip_path, PROMPT);

  luma_emulator_set_upload_answer_delay (em, 5000);
  luma_run_assert_stop_from_sync_handler (run, GST_LUMA_MESSAGE_UPLOAD);
  fail_unless (luma_test_wait_until (collected_file_gone, NULL, 10),
      "the temporary file was left");

  luma_emulator_set_upload_answer_delay (em, 0);
  luma_run_until_done (run, 60);
  assert_got_clip (run);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_creates (em), 1);
  fail_unless (luma_test_wait_until (collected_file_gone, NULL, 10),
      "the temporary file was left");
}

GST_END_TEST;

/* The inner lumasrc has gone from NULL to READY: the worker is handing it
 * the task. */
static gboolean
is_inner_source_ready (GstMessage * msg, gconstpointer unused)
{
  GstState old, new;

  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_STATE_CHANGED
      || g_strcmp0 (GST_MESSAGE_SRC_NAME (msg), "lumasrc") != 0)
    return FALSE;
  gst_message_parse_state_changed (msg, &old, &new, NULL);
  return new == GST_STATE_READY;
}

static gboolean
pad_inactive (gconstpointer pad)
{
  return !GST_PAD_IS_ACTIVE (pad);
}

/* The inner lumasrc's pad goes inactive within 10 s: no streaming thread,
 * nothing left of a state change. */
static gboolean
inner_source_goes_inactive (LumaRun * run)
{
  g_autoptr (GstElement) inner = gst_bin_get_by_name (GST_BIN (run->src),
      "lumasrc");
  g_autoptr (GstPad) pad = gst_element_get_static_pad (inner, "src");

  return luma_test_wait_until (pad_inactive, pad, 10);
}

/* The same, at the inner lumasrc's first state change, which the worker
 * makes while a stop from another thread waits for it: the inner lumasrc
 * is left stopped (GStreamer would go on with the transitions begun
 * before the stop), and the next run finds the task in the journal and
 * streams it. */
GST_START_TEST (test_stop_from_a_sync_handler_at_the_handover)
{
  LumaRun *run = file_run (clip_path, PROMPT);

  luma_run_assert_stop_from_sync_handler_at (run, is_inner_source_ready, NULL);
  fail_unless (inner_source_goes_inactive (run),
      "the inner lumasrc was left running");
  luma_run_until_done (run, 60);
  assert_got_clip (run);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_creates (em), 1);
}

GST_END_TEST;

/* The key goes to the API and the upload host, and to no other host: not
 * to the uploaded file's URL (fetched by KIE), not to the result's host. */
GST_START_TEST (test_key_goes_to_api_and_upload_hosts_only)
{
  LumaRun *run = file_run (clip_path, PROMPT);

  luma_run_until_done (run, 60);
  assert_got_clip (run);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_upload_requests (em), 1);
  fail_unless_equals_int (luma_emulator_get_upload_auth_requests (em), 1);
  /* generate, and at least one reading of the record */
  fail_unless (luma_emulator_get_api_auth_requests (em) >= 2);
  fail_unless (luma_emulator_get_upload_downloads (em) >= 1);
  fail_unless_equals_int (luma_emulator_get_upload_download_auth_requests
      (em), 0);
  fail_unless_equals_int (luma_emulator_get_video_auth_requests (em), 0);
}

GST_END_TEST;

/* A seek from downstream ends at the inner lumasrc: a new Range request
 * for the result, never the input side again. */
GST_START_TEST (test_seek_after_preroll_does_not_upload_again)
{
  g_autofree gchar *input = g_strdup_printf ("filesrc location=\"%s\"",
      clip_path);
  LumaRun *run;
  g_autofree gchar *task_id = NULL;
  guint requests;

  /* without the store: a seek back would be served from the bytes it
   * holds already, and this test counts the Range request that shows the
   * seek reached the inner lumasrc */
  g_setenv ("GST_LUMA_STORE", "off", TRUE);
  run = modify_run (input, PROMPT, "qtdemux ! fakesink name=sink sync=false");
  luma_run_preroll (run, 60);
  g_object_get (run->src, "task-id", &task_id, NULL);
  requests = luma_emulator_get_video_requests (em, task_id);
  fail_unless (requests >= 1);

  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT, GST_SECOND));
  luma_run_until_done (run, 60);
  fail_unless (run->eos, "%" GST_PTR_FORMAT, run->error);
  luma_run_free (run);

  fail_unless (luma_emulator_get_video_requests (em, task_id) > requests);
  fail_unless_equals_int (luma_emulator_get_upload_requests (em), 1);
  fail_unless_equals_int (luma_emulator_get_generate_requests (em), 1);
  fail_unless_equals_int (luma_emulator_get_creates (em), 1);
}

GST_END_TEST;

/* KIE's answers to generate, in the details of lumamodify's error. */
GST_START_TEST (test_creation_failures_have_details)
{
  LumaRun *run;
  const GstStructure *details;
  gboolean may_exist = TRUE;
  gint api_code = 0;

  luma_emulator_push_generate_reply (em, 422, NULL,
      "{\"code\":422,\"msg\":\"video too long\"}");
  run = file_run (clip_path, PROMPT);
  luma_run_until_done (run, 60);
  details = assert_refused (run, "video too long", "kie");
  fail_unless (gst_structure_get_boolean (details,
          GST_LUMA_DETAIL_TASK_MAY_EXIST, &may_exist));
  fail_if (may_exist);
  fail_unless (gst_structure_get_int (details, GST_LUMA_DETAIL_API_CODE,
          &api_code));
  fail_unless_equals_int (api_code, 422);
  luma_run_free (run);

  luma_emulator_push_generate_reply (em, 500, NULL,
      "{\"code\":500,\"msg\":\"oops\"}");
  run = file_run (clip_path, PROMPT);
  luma_run_until_done (run, 60);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_WRITE,
      "may exist");
  fail_unless (gst_structure_get_boolean (details,
          GST_LUMA_DETAIL_TASK_MAY_EXIST, &may_exist));
  fail_unless (may_exist);
  fail_unless (gst_structure_get_string (details,
          GST_LUMA_DETAIL_INPUT_REFUSED) == NULL);
  luma_run_free (run);

  /* the rerun does not create blindly: the journal says a task may exist */
  run = file_run (clip_path, PROMPT);
  luma_run_until_done (run, 60);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_WRITE,
      "force-new");
  fail_unless (gst_structure_get_boolean (details,
          GST_LUMA_DETAIL_TASK_MAY_EXIST, &may_exist) && may_exist);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_generate_requests (em), 2);
  fail_unless_equals_int (luma_emulator_get_creates (em), 0);
}

GST_END_TEST;

/* The details of an error are "like lumasrc's": http-status is "the last
 * HTTP status, 0 if none" and api-code "the API's code" (gst/luma/luma.h).
 * An upload the host refused (401, 413) has an HTTP status and a code,
 * which an application reads to tell causes apart; before, both were 0. */
/* The HTTP status and the code an error's details name. */
static void
assert_detail_codes (const GstStructure * details, guint http_status,
    gint api_code)
{
  guint status = 0;
  gint code = 0;

  fail_unless (gst_structure_get_uint (details, GST_LUMA_DETAIL_HTTP_STATUS,
          &status));
  fail_unless_equals_int (status, http_status);
  fail_unless (gst_structure_get_int (details, GST_LUMA_DETAIL_API_CODE,
          &code));
  fail_unless_equals_int (code, api_code);
}

GST_START_TEST (test_upload_refusal_details_name_the_status)
{
  LumaRun *run;

  luma_emulator_push_upload_reply (em, 401, NULL,
      "{\"success\":false,\"code\":401,\"msg\":\"bad key\"}");
  run = file_run (clip_path, PROMPT);
  luma_run_until_done (run, 60);
  assert_detail_codes (luma_run_assert_error (run,
          GST_RESOURCE_ERROR_NOT_AUTHORIZED, "bad key"), 401, 401);
  luma_run_free (run);

  /* KIE's way: a 200 whose body says 413 */
  luma_emulator_push_upload_reply (em, 200, NULL,
      "{\"success\":false,\"code\":413,\"msg\":\"too big\"}");
  run = file_run (clip_path, PROMPT);
  luma_run_until_done (run, 60);
  assert_detail_codes (assert_refused (run, "too big", "size"), 200, 413);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_generate_requests (em), 0);
}

GST_END_TEST;

/* A watermark left unset and one set to "" are the same request
 * to KIE (its record keeps "waterMark":"" for a task without one): the
 * second run must reuse the first run's task, not pay for another. */
GST_START_TEST (test_empty_watermark_is_no_watermark)
{
  Watch w1 = { 0, }, w2 = { 0, };

  run_to_the_clip (clip_path, NULL, &w1);
  run_to_the_clip (clip_path, "", &w2);
  fail_unless_equals_int (luma_emulator_get_creates (em), 1);
  fail_unless (w2.reused);
  fail_unless_equals_string (w1.task_id, w2.task_id);
  watch_clear (&w1);
  watch_clear (&w2);
}

GST_END_TEST;

/* The journal's path of this clip's task entry, once a run
 * created it */
static gchar *
find_task_entry (void)
{
  g_autofree gchar *dir = g_build_filename (state_dir, "gst-luma", "journal",
      NULL);
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  gchar *path = NULL;

  fail_unless (d != NULL);
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".task"))
      path = g_build_filename (dir, name, NULL);
  g_dir_close (d);
  fail_unless (path != NULL, "no task entry in %s", dir);
  return path;
}

/* A task entry that exists but cannot be opened (one left by a
 * run as another user, e.g. under sudo, is not readable: EACCES; the
 * tests run as root, so a socket stands in for it: ENXIO) records a
 * billed task: the error must say that a task may exist (task-may-exist,
 * luma-modify's exit status 8), as it does for an entry that cannot be
 * parsed, rather than leave the user to delete the journal and pay
 * twice. */
GST_START_TEST (test_unopenable_task_entry_says_a_task_may_exist)
{
  g_autofree gchar *task_path = NULL;
  g_autofree gchar *cwd = g_get_current_dir ();
  g_autofree gchar *dir = NULL;
  g_autofree gchar *base = NULL;
  struct sockaddr_un addr = { AF_UNIX, };
  const GstStructure *details;
  gboolean may_exist = FALSE;
  LumaRun *run;
  gint fd;

  run = file_run (clip_path, PROMPT);
  luma_run_until_done (run, 60);
  assert_got_clip (run);
  luma_run_free (run);

  /* the entry is there, but cannot be opened */
  task_path = find_task_entry ();
  dir = g_path_get_dirname (task_path);
  base = g_path_get_basename (task_path);
  fail_unless (g_unlink (task_path) == 0);
  fail_unless (chdir (dir) == 0);
  g_strlcpy (addr.sun_path, base, sizeof addr.sun_path);
  fd = socket (AF_UNIX, SOCK_STREAM, 0);
  fail_unless (fd >= 0 && bind (fd, (struct sockaddr *) &addr,
          sizeof addr) == 0);
  fail_unless (chdir (cwd) == 0);

  run = file_run (clip_path, PROMPT);
  luma_run_until_done (run, 60);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_WRITE, NULL);
  fail_unless (gst_structure_get_boolean (details,
          GST_LUMA_DETAIL_TASK_MAY_EXIST, &may_exist));
  fail_unless (may_exist, "a task entry that cannot be opened: "
      "task-may-exist is false");
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_creates (em), 1);
  close (fd);
}

GST_END_TEST;

GST_START_TEST (test_settings)
{
  GstElement *modify = gst_element_factory_make ("lumamodify", NULL);
  g_autofree gchar *key = NULL;
  g_autofree gchar *upload_url = NULL;
  guint64 max_input_size;
  LumaRun *run;

  g_setenv ("KIE_UPLOAD_URL", "http://127.0.0.1:9/up", TRUE);
  g_object_set (modify, "api-key", TEST_KEY, NULL);
  g_object_get (modify, "api-key", &key, "upload-url", &upload_url,
      "max-input-size", &max_input_size, NULL);
  fail_unless (strstr (key, TEST_KEY) == NULL);
  fail_unless_equals_string (upload_url, "http://127.0.0.1:9/up");
  fail_unless_equals_uint64 (max_input_size, 500000000);
  gst_object_unref (modify);
  g_unsetenv ("KIE_UPLOAD_URL");

  /* no prompt, or blanks only: refused when it starts, before the input is
   * read */
  run = file_run (clip_path, PROMPT);
  g_object_set (run->src, "prompt", NULL, NULL);
  luma_run_until_done (run, 60);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "prompt");
  luma_run_free (run);
  run = file_run (clip_path, PROMPT);
  g_object_set (run->src, "prompt", " \n\t ", NULL);
  luma_run_until_done (run, 60);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "prompt");
  luma_run_free (run);

  run = file_run (clip_path, PROMPT);
  g_object_set (run->src, "upload-url", "ftp://127.0.0.1/", NULL);
  luma_run_until_done (run, 60);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "upload-url");
  luma_run_free (run);
  assert_no_request ();
}

GST_END_TEST;

/* An upload-url that is no base URL (a query, a fragment) is a settings
 * error that names upload-url, found when the element starts, as a bad
 * api-url is, not once the whole input has been collected, typefound,
 * probed and hashed. */
GST_START_TEST (test_upload_url_not_a_base_url_is_a_settings_error)
{
  g_autoptr (GBytes) noise = luma_test_random_bytes (100 * 1024, 3);
  g_autofree gchar *noise_path = write_file ("noise.mp4", noise);
  g_autofree gchar *upload_url = luma_emulator_get_upload_url (em);
  const gchar *suffixes[] = { "/?a=b", "/#frag" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (suffixes); i++) {
    g_autofree gchar *bad = g_strconcat (upload_url, suffixes[i], NULL);
    LumaRun *run = file_run (clip_path, PROMPT);

    g_object_set (run->src, "upload-url", bad, NULL);
    luma_run_until_done (run, 60);
    luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "upload-url");
    luma_run_free (run);

    /* at start: an input that the checks would refuse is never looked at */
    run = file_run (noise_path, PROMPT);
    g_object_set (run->src, "upload-url", bad, NULL);
    luma_run_until_done (run, 60);
    luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "upload-url");
    luma_run_free (run);
  }
  assert_no_request ();
}

GST_END_TEST;

/* The README's line, in a process of its own, configured from the
 * environment only. */
GST_START_TEST (test_launch_line)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (em);
  g_autofree gchar *upload_url = luma_emulator_get_upload_url (em);
  g_autofree gchar *input = g_strconcat ("location=", clip_path, NULL);
  g_autofree gchar *out_path = g_build_filename (state_dir, "snowy.mp4", NULL);
  g_autofree gchar *output = g_strconcat ("location=", out_path, NULL);
  const gchar *argv[] = { "gst-launch-1.0", "-q", "filesrc", input, "!",
    "lumamodify", "prompt=" PROMPT, "poll-interval=10", "!", "filesink",
    output, NULL
  };
  g_auto (GStrv) envp = g_get_environ ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *contents = NULL;
  gsize length;
  gint status;

  envp = g_environ_setenv (envp, "KIE_API_KEY", TEST_KEY, TRUE);
  envp = g_environ_setenv (envp, "KIE_API_URL", api_url, TRUE);
  envp = g_environ_setenv (envp, "KIE_UPLOAD_URL", upload_url, TRUE);
  fail_unless (g_spawn_sync (NULL, (gchar **) argv, envp,
          G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
          NULL, &status, &error), "%s", error ? error->message : "");
  fail_unless (WIFEXITED (status) && WEXITSTATUS (status) == 0,
      "gst-launch-1.0 ended with %d", status);
  fail_unless (g_file_get_contents (out_path, &contents, &length, NULL));
  fail_unless (length == g_bytes_get_size (clip)
      && memcmp (contents, g_bytes_get_data (clip, NULL), length) == 0);
  fail_unless_equals_int (luma_emulator_get_creates (em), 1);
}

GST_END_TEST;

/* gst-launch-1.0 lumamodify for the test's clip and prompt, as a process
 * of its own, once its upload has reached the upload host (which answers
 * it after @answer_delay_ms). */
static GPid
spawn_uploading_launch (guint answer_delay_ms)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (em);
  g_autofree gchar *upload_url = luma_emulator_get_upload_url (em);
  g_autofree gchar *input = g_strconcat ("location=", clip_path, NULL);
  g_autofree gchar *api_arg = g_strconcat ("api-url=", api_url, NULL);
  g_autofree gchar *upload_arg = g_strconcat ("upload-url=", upload_url,
      NULL);
  const gchar *argv[] = { "gst-launch-1.0", "-q", "filesrc", input, "!",
    "lumamodify", "prompt=" PROMPT, api_arg, upload_arg, "poll-interval=10",
    "!", "fakesink", NULL
  };
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC
      * luma_test_slowdown ();
  GPid pid;

  luma_emulator_set_upload_answer_delay (em, answer_delay_ms);
  pid = luma_test_spawn_with_key (argv);
  while (luma_emulator_get_upload_requests (em) == 0) {
    fail_unless (g_get_monotonic_time () < deadline, "no upload came");
    g_usleep (10000);
  }
  return pid;
}

/* A run killed during its upload (SIGKILL, an OOM kill, `timeout`), long
 * before any request to create the task: the next run uploads and
 * creates it, rather than refusing with "a billed task may exist". */
GST_START_TEST (test_killed_during_upload_then_run_again)
{
  GPid pid = spawn_uploading_launch (20000);

  kill (pid, SIGKILL);
  fail_unless (WIFSIGNALED (luma_test_wait_for_exit (pid)));
  fail_unless_equals_int (luma_emulator_get_generate_requests (em), 0);
  assert_next_run_creates_the_task ();
}

GST_END_TEST;

/* Another process uploads the same clip for the same prompt: a run waits
 * for it, tells that it waits, and gets the task that process created,
 * with no upload of its own. */
GST_START_TEST (test_waiting_for_another_upload_is_told)
{
  /* the other's claim lasts while this run, valgrind's slowness and all,
   * comes to the journal */
  GPid pid = spawn_uploading_launch (1000 * luma_test_slowdown ());
  Watch watch = { 0, };
  LumaRun *run = file_run (clip_path, PROMPT);

  watch_run (run, &watch);
  luma_run_until_done (run, 60);
  assert_got_clip (run);
  fail_unless (watch.reused);
  fail_unless_equals_int (watch.journal_waits, 1);
  luma_run_free (run);
  watch_clear (&watch);
  fail_unless (WIFEXITED (luma_test_wait_for_exit (pid)));
  fail_unless_equals_int (luma_emulator_get_upload_requests (em), 1);
  fail_unless_equals_int (luma_emulator_get_creates (em), 1);
}

GST_END_TEST;

/* Runs the pipeline @desc (one that writes a clip) to its end. */
static void
make_with (const gchar * desc)
{
  g_autoptr (GError) error = NULL;
  GstElement *maker = gst_parse_launch (desc, &error);
  g_autoptr (GstBus) bus = NULL;
  GstMessage *msg;

  fail_unless (maker != NULL, "%s", error ? error->message : "");
  gst_element_set_state (maker, GST_STATE_PLAYING);
  bus = gst_element_get_bus (maker);
  msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_element_set_state (maker, GST_STATE_NULL);
  gst_object_unref (maker);
}

/* An upstream error (here identity error-after, as a failing read
 * would): GstBaseSrc posts its error and then sends EOS. The input is cut
 * short: nothing may be uploaded, no task created for it. */
GST_START_TEST (test_upstream_error_creates_nothing)
{
  g_autofree gchar *fast = g_build_filename (state_dir, "fast.mp4", NULL);
  g_autofree gchar *make = g_strdup_printf ("videotestsrc num-buffers=50 ! "
      X264 " ! mp4mux faststart=true ! filesink location=\"%s\"", fast);
  g_autofree gchar *input = g_strdup_printf ("filesrc location=\"%s\" "
      "blocksize=8192 ! identity error-after=4", fast);
  LumaRun *run;

  make_with (make);

  run = modify_run (input, PROMPT, NULL);
  luma_run_until_done (run, 60);
  fail_unless (run->error != NULL);
  /* the application looks at the error for a moment before stopping */
  g_usleep (2 * G_USEC_PER_SEC);
  luma_run_free (run);
  fail_unless (luma_emulator_get_upload_requests (em) == 0
      && luma_emulator_get_creates (em) == 0,
      "after an upstream error: %u upload(s), %u task(s) created",
      luma_emulator_get_upload_requests (em), luma_emulator_get_creates (em));
}

GST_END_TEST;

/* Every text lumamodify puts on the bus */
static void
on_any_sync_message (GstBus * bus, GstMessage * msg, GString * text)
{
  luma_test_append_message_text (text, msg);
}

/* Runs the clip to its error with the host's 401 @body (the upload host's
 * or the API's, @upload), and returns all the bus carried. */
static gchar *
bus_text_of_refused_key (gboolean upload, const gchar * body)
{
  LumaRun *run = file_run (clip_path, PROMPT);
  g_autoptr (GstBus) bus = gst_element_get_bus (run->pipeline);
  GString *text = g_string_new (NULL);

  if (upload)
    luma_emulator_push_upload_reply (em, 401, NULL, body);
  else
    luma_emulator_push_generate_reply (em, 401, NULL, body);
  gst_bus_enable_sync_message_emission (bus);
  g_signal_connect (bus, "sync-message", G_CALLBACK (on_any_sync_message),
      text);
  luma_run_until_done (run, 60);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "401");
  luma_run_free (run);
  return g_string_free (text, FALSE);
}

/* A host that quotes the key back JSON-escaped (here its first letter as
 * \u0074, as some encoders escape "/" as "\/"): the raw body holds no copy
 * of the key to star out, the parsed "msg" does. Neither the error nor the
 * progress message that says the upload (or the create) failed has the
 * key. */
GST_START_TEST (test_escaped_key_quoted_back_not_on_bus)
{
  g_autofree gchar *upload_body = g_strdup_printf ("{\"success\":false,"
      "\"code\":401,\"msg\":\"Invalid key: \\u0074%s\"}", TEST_KEY + 1);
  g_autofree gchar *create_body = g_strdup_printf ("{\"code\":401,"
      "\"msg\":\"Invalid key: \\u0074%s\"}", TEST_KEY + 1);
  gchar *texts[2];
  guint i;

  texts[0] = bus_text_of_refused_key (TRUE, upload_body);
  texts[1] = bus_text_of_refused_key (FALSE, create_body);
  for (i = 0; i < G_N_ELEMENTS (texts); i++) {
    fail_unless (strstr (texts[i], "Invalid key") != NULL, "%s", texts[i]);
    fail_unless (strstr (texts[i], TEST_KEY) == NULL,
        "the key is on the bus: %s", texts[i]);
    g_free (texts[i]);
  }
}

GST_END_TEST;

/* Rate limiting of the upload is part of creating the task, and
 * "rate limits (429, honouring Retry-After) ... are waited out within
 * wait-timeout" (README), "rate limiting or maintenance while creating,
 * beyond wait-timeout" is GST_RESOURCE_ERROR_BUSY (docs/lumamodify.md):
 * an upload host that keeps answering 429 ends the run at wait-timeout,
 * with BUSY, not after five waits of its Retry-After with WRITE. */
GST_START_TEST (test_upload_rate_limit_ends_at_wait_timeout)
{
  LumaRun *run = file_run (clip_path, PROMPT);
  gint64 before, took;
  gint i;

  for (i = 0; i < 8; i++)
    luma_emulator_push_upload_reply (em, 429, "4",
        "{\"success\":false,\"code\":429,\"msg\":\"Too many requests\"}");
  g_object_set (run->src, "wait-timeout", 2, NULL);
  before = g_get_monotonic_time ();
  luma_run_until_done (run, 60);
  took = g_get_monotonic_time () - before;
  luma_run_assert_error (run, GST_RESOURCE_ERROR_BUSY, NULL);
  fail_unless (took < 8 * G_USEC_PER_SEC * luma_test_slowdown (),
      "the run ended after %" G_GINT64_FORMAT " us, wait-timeout is 2 s", took);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_generate_requests (em), 0);
}

GST_END_TEST;

/* An application's bus sync handler that takes its time with a
 * message of the inner lumasrc's wait, while the application stops and
 * drops the pipeline (a stop never waits for the application,
 * lumaworkers.c): the calls of the wait still deferred run afterwards. */
typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean blocked, released;
} Holdup;

static GstBusSyncReply
hold_first_inner_task_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  Holdup *hold = data;
  const GstStructure *s = gst_message_get_structure (msg);

  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT
      || !gst_structure_has_name (s, GST_LUMA_MESSAGE_TASK)
      || g_strcmp0 (GST_MESSAGE_SRC_NAME (msg), "lumasrc") != 0)
    return GST_BUS_PASS;
  g_mutex_lock (&hold->lock);
  if (hold->blocked) {
    g_mutex_unlock (&hold->lock);
    return GST_BUS_PASS;
  }
  hold->blocked = TRUE;
  g_cond_broadcast (&hold->cond);
  while (!hold->released)
    g_cond_wait (&hold->cond, &hold->lock);
  g_mutex_unlock (&hold->lock);
  /* the bus is flushing by now, but took this one before */
  gst_message_unref (msg);
  return GST_BUS_DROP;
}

GST_START_TEST (test_task_state_after_the_bin_is_gone)
{
  LumaRun *run = file_run (clip_path, PROMPT);
  g_autoptr (GstBus) bus = gst_element_get_bus (run->pipeline);
  Holdup hold = { 0, };
  GstElement *pipeline = run->pipeline, *inner;
  gint64 end;

  g_mutex_init (&hold.lock);
  g_cond_init (&hold.cond);
  /* a few polls generating, then ready: task-state changes again after
   * the first message */
  luma_emulator_set_created_timing (em, 3, 0);
  inner = gst_bin_get_by_name (GST_BIN (run->src), "lumasrc");
  gst_bus_set_sync_handler (bus, hold_first_inner_task_message, &hold, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  g_mutex_lock (&hold.lock);
  while (!hold.blocked && g_cond_wait_until (&hold.cond, &hold.lock, end));
  g_mutex_unlock (&hold.lock);
  fail_unless (hold.blocked, "no poll message of the inner lumasrc");
  /* the polls go on meanwhile, until the task is ready */
  g_usleep (G_USEC_PER_SEC);

  /* the application stops and drops the pipeline */
  fail_if (gst_element_set_state (pipeline, GST_STATE_NULL) ==
      GST_STATE_CHANGE_FAILURE);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  /* the messages it holds hold the inner lumasrc */
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (run->src);
  gst_object_unref (pipeline);

  /* the handler returns: the wait's later calls run now */
  g_mutex_lock (&hold.lock);
  hold.released = TRUE;
  g_cond_broadcast (&hold.cond);
  g_mutex_unlock (&hold.lock);
  end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (G_OBJECT (inner)->ref_count > 1 && g_get_monotonic_time () < end)
    g_usleep (10000);
  fail_unless_equals_int (G_OBJECT (inner)->ref_count, 1);
  gst_object_unref (inner);

  g_byte_array_unref (run->data);
  g_ptr_array_unref (run->warnings);
  gst_tag_list_unref (run->tags);
  g_free (run);
  g_mutex_clear (&hold.lock);
  g_cond_clear (&hold.cond);
}

GST_END_TEST;

/* A clip with a sound track, as nearly every camera and phone
 * records one: the duration probe (filesrc ! parsebin, a fakesink a
 * stream) must preroll it. qtdemux pushes every stream from one thread:
 * the first stream's sink, prerolled, blocks that thread, and the other
 * stream's sink never gets its first buffer. The clip was refused as
 * unreadable after 30 s ("its streams could not be read in 30 s"). */
GST_START_TEST (test_clip_with_sound_is_modified)
{
  g_autofree gchar *path = g_build_filename (state_dir, "av.mp4", NULL);
  g_autofree gchar *make = g_strdup_printf ("videotestsrc num-buffers=50 ! "
      X264 " ! mp4mux name=mux ! filesink location=\"%s\" "
      "audiotestsrc num-buffers=40 ! lamemp3enc ! mux.", path);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *contents = NULL;
  gsize length;
  LumaRun *run;

  make_with (make);
  fail_unless (g_file_get_contents (path, &contents, &length, NULL));

  run = file_run (path, PROMPT);
  luma_run_until_done (run, 90);
  if (run->error != NULL) {
    g_autoptr (GError) run_error = NULL;

    gst_message_parse_error (run->error, &run_error, NULL);
    fail ("a 2 s clip with sound was refused: %s", run_error->message);
  }
  fail_unless (run->eos);
  fail_unless_equals_int (run->data->len, length);
  fail_unless (memcmp (run->data->data, contents, length) == 0);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_creates (em), 1);
}

GST_END_TEST;

/* The downloadUrl with the key in it, starred out, is no longer
 * the upload's URL ("...?sig=*****"): generate must not be asked (and
 * bill) a task for a video at a URL that does not hold it. The upload
 * answer is one that cannot be used: an error, no task, no key on the
 * bus. */
GST_START_TEST (test_download_url_with_the_key_creates_no_task)
{
  g_autofree gchar *video = luma_emulator_get_video_url_base (em);
  g_autofree gchar *body = NULL;
  LumaRun *run = file_run (clip_path, PROMPT);
  g_autoptr (GstBus) bus = gst_element_get_bus (run->pipeline);
  g_autoptr (GString) text = g_string_new (NULL);
  g_autofree gchar *generate = NULL;

  luma_test_add_ready_task (em, "t-src", clip);
  body = g_strdup_printf ("{\"success\":true,\"code\":200,\"msg\":\"ok\","
      "\"data\":{\"downloadUrl\":\"%s/r/t-src/1.mp4?sig=\\u0074%s\"}}",
      video, TEST_KEY + 1);
  luma_emulator_push_upload_reply (em, 200, NULL, body);
  gst_bus_enable_sync_message_emission (bus);
  g_signal_connect (bus, "sync-message", G_CALLBACK (on_any_sync_message),
      text);
  luma_run_until_done (run, 60);
  generate = luma_emulator_get_last_generate_body (em);
  fail_unless (luma_emulator_get_generate_requests (em) == 0,
      "a task was asked for with the starred URL: %s", generate);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, "downloadUrl");
  luma_run_free (run);
  luma_test_assert_not_on_bus (text->str, TEST_KEY);
}

GST_END_TEST;

/* A pad that pushes into @element's sink pad, linked and active */
static GstPad *
input_pad_of (GstElement * element)
{
  g_autoptr (GstPad) sink = gst_element_get_static_pad (element, "sink");
  GstPad *in = gst_pad_new ("test-in", GST_PAD_SRC);

  fail_unless (gst_pad_link (in, sink) == GST_PAD_LINK_OK);
  gst_pad_set_active (in, TRUE);
  return in;
}

/* "lumamodify ! fakesink" against the emulator, as modify_run ()
 * makes it, with a pad of the test's pushing into its sink pad (@in) */
static LumaRun *
pushed_run (GstPad ** in)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (em);
  g_autofree gchar *upload_url = luma_emulator_get_upload_url (em);
  LumaRun *run = luma_run_new_launch ("lumamodify name=modify ! " FAKESINK,
      "modify");

  g_object_set (run->src, "api-url", api_url, "upload-url", upload_url,
      "api-key", TEST_KEY, "prompt", PROMPT, "poll-interval", 10, NULL);
  *in = input_pad_of (run->src);
  return run;
}

/* A BYTES segment that puts the next bytes at @start */
static void
push_segment (GstPad * in, guint64 start)
{
  GstSegment segment;

  gst_segment_init (&segment, GST_FORMAT_BYTES);
  segment.start = segment.position = start;
  fail_unless (gst_pad_push_event (in, gst_event_new_segment (&segment)));
}

/* A source that sends a first try of its bytes (@try), is
 * flushed (a flushing seek back to its start), then sends @bytes from
 * byte 0 and ends. */
static void
push_flushed_input (GstPad * in, GBytes * try, GBytes * bytes)
{
  fail_unless (gst_pad_push_event (in, gst_event_new_stream_start ("in")));
  push_segment (in, 0);
  fail_unless_equals_int (gst_pad_push (in, gst_buffer_new_wrapped_bytes
          (try)), GST_FLOW_OK);
  fail_unless (gst_pad_push_event (in, gst_event_new_flush_start ()));
  fail_unless (gst_pad_push_event (in, gst_event_new_flush_stop (TRUE)));
  push_segment (in, 0);
  fail_unless_equals_int (gst_pad_push (in, gst_buffer_new_wrapped_bytes
          (bytes)), GST_FLOW_OK);
  fail_unless (gst_pad_push_event (in, gst_event_new_eos ()));
}

/* What filesink writes of that input */
static GBytes *
filesink_bytes (GBytes * first, GBytes * bytes)
{
  g_autofree gchar *path = g_build_filename (state_dir, "filesink.out", NULL);
  GstElement *sink = gst_element_factory_make ("filesink", NULL);
  GstPad *in;
  gchar *data;
  gsize size;

  g_object_set (sink, "location", path, "async", FALSE, NULL);
  gst_element_set_state (sink, GST_STATE_PLAYING);
  in = input_pad_of (sink);
  push_flushed_input (in, first, bytes);
  gst_element_set_state (sink, GST_STATE_NULL);
  gst_object_unref (in);
  gst_object_unref (sink);
  fail_unless (g_file_get_contents (path, &data, &size, NULL));
  return g_bytes_new_take (data, size);
}

/* An upstream flushed during the input (a flushing seek back to
 * its start) sends its bytes again from a new BYTES segment at 0: what is
 * collected is what filesink writes, the second stream's bytes and no byte
 * of the first past them. Before, the first try's tail stayed in the
 * temporary file, and a clip that is not the input's bytes was uploaded
 * and billed. */
GST_START_TEST (test_flush_during_input_keeps_no_stale_bytes)
{
  g_autoptr (GBytes) first = luma_test_random_bytes (g_bytes_get_size (clip)
      + 5000, 7);
  g_autoptr (GBytes) expected = filesink_bytes (first, clip);
  GstPad *in;
  LumaRun *run = pushed_run (&in);
  g_autofree gchar *uploaded_url = NULL;
  g_autoptr (GBytes) uploaded = NULL;

  /* filesink truncates its file at the flush */
  fail_unless (g_bytes_equal (expected, clip));

  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  push_flushed_input (in, first, clip);
  luma_run_until_done (run, 60);
  g_object_get (run->src, "uploaded-url", &uploaded_url, NULL);
  if (uploaded_url != NULL)
    uploaded = luma_emulator_get_uploaded_file (em, uploaded_url);
  fail_unless (uploaded == NULL || g_bytes_equal (uploaded, clip),
      "the uploaded clip (%" G_GSIZE_FORMAT " bytes) is not the input's %"
      G_GSIZE_FORMAT " bytes", g_bytes_get_size (uploaded),
      g_bytes_get_size (clip));
  assert_got_clip (run);
  luma_run_free (run);
  gst_object_unref (in);
}

GST_END_TEST;

/* A BYTES segment near 2^64 (an absurd upstream): the input is larger
 * than max-input-size, refused as such before any byte of it is written.
 * Before, the size check's sum wrapped, and the error blamed the
 * temporary file (a seek in it that failed). */
GST_START_TEST (test_segment_at_the_end_of_the_range_is_too_large)
{
  GstPad *in;
  LumaRun *run = pushed_run (&in);
  const guint8 *bytes = g_bytes_get_data (clip, NULL);

  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  fail_unless (gst_pad_push_event (in, gst_event_new_stream_start ("in")));
  push_segment (in, 0);
  fail_unless_equals_int (gst_pad_push (in, gst_buffer_new_memdup (bytes,
              1000)), GST_FLOW_OK);
  push_segment (in, G_MAXUINT64 - 10);
  fail_unless_equals_int (gst_pad_push (in, gst_buffer_new_memdup (bytes,
              100)), GST_FLOW_ERROR);
  gst_pad_push_event (in, gst_event_new_eos ());
  luma_run_until_done (run, 60);
  assert_refused (run, "larger than the limit", "size");
  luma_run_free (run);
  gst_object_unref (in);
  assert_no_request ();
}

GST_END_TEST;

static Suite *
modify_suite (void)
{
  Suite *s = suite_create ("lumamodify");
  TCase *tc = tcase_create ("modify");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_modifies_a_file);
  tcase_add_test (tc, test_task_state_after_the_bin_is_gone);
  tcase_add_test (tc, test_result_is_stored);
  tcase_add_test (tc, test_store_off_through_child_proxy);
  tcase_add_test (tc, test_same_clip_and_prompt_reuse_the_task);
  tcase_add_test (tc, test_force_new_uploads_and_creates_again);
  tcase_add_test (tc, test_longer_than_10_s_is_refused);
  tcase_add_test (tc, test_larger_than_max_input_size_is_refused);
  tcase_add_test (tc, test_live_input_is_refused);
  tcase_add_test (tc, test_not_a_container_is_refused);
  tcase_add_test (tc, test_muxer_output_arrives_valid);
  tcase_add_test (tc, test_stop_during_upload_is_prompt);
  tcase_add_test (tc, test_end_of_stream_during_input_creates_nothing);
  tcase_add_test (tc, test_input_past_the_file_size_limit_is_an_error);
  tcase_add_test (tc, test_orphaned_temporary_file_removed);
  tcase_add_test (tc, test_temporary_file_in_use_kept);
  tcase_add_test (tc, test_end_of_stream_during_upload_creates_nothing);
  tcase_add_test (tc, test_end_of_stream_after_the_task_ends_the_output);
  tcase_add_test (tc, test_end_of_stream_at_task_created_ends_the_output);
  tcase_add_test (tc, test_second_end_of_stream_leaves_the_next_run_whole);
  tcase_add_test (tc, test_end_of_stream_during_creation_says_task_may_exist);
  tcase_add_test (tc, test_stop_from_a_sync_handler_during_upload);
  tcase_add_test (tc, test_stop_from_a_sync_handler_at_the_handover);
  tcase_add_test (tc, test_key_goes_to_api_and_upload_hosts_only);
  tcase_add_test (tc, test_seek_after_preroll_does_not_upload_again);
  tcase_add_test (tc, test_creation_failures_have_details);
  tcase_add_test (tc, test_upload_refusal_details_name_the_status);
  tcase_add_test (tc, test_settings);
  tcase_add_test (tc, test_upload_url_not_a_base_url_is_a_settings_error);
  tcase_add_test (tc, test_launch_line);
  tcase_add_test (tc, test_killed_during_upload_then_run_again);
  tcase_add_test (tc, test_waiting_for_another_upload_is_told);
  tcase_add_test (tc, test_upstream_error_creates_nothing);
  tcase_add_test (tc, test_escaped_key_quoted_back_not_on_bus);
  tcase_add_test (tc, test_empty_watermark_is_no_watermark);
  tcase_add_test (tc, test_unopenable_task_entry_says_a_task_may_exist);
  tcase_add_test (tc, test_upload_rate_limit_ends_at_wait_timeout);
  tcase_add_test (tc, test_clip_with_sound_is_modified);
  tcase_add_test (tc, test_download_url_with_the_key_creates_no_task);
  tcase_add_test (tc, test_flush_during_input_keeps_no_stale_bytes);
  tcase_add_test (tc, test_segment_at_the_end_of_the_range_is_too_large);
  return s;
}

/* GST_CHECK_MAIN, with a temporary folder of this process's own, set
 * before GLib reads TMPDIR (once, for the process): the tests look there
 * for the files lumamodify leaves or not. */
int
main (int argc, char **argv)
{
  gchar template[] = "/tmp/luma-modify-tmp-XXXXXX";
  int status;

  tmp_dir = g_mkdtemp (template);
  g_assert (tmp_dir != NULL);
  g_setenv ("TMPDIR", tmp_dir, TRUE);
  gst_check_init (&argc, &argv);
  status = gst_check_run_suite (modify_suite (), "modify", __FILE__);
  luma_test_remove_tree (tmp_dir);
  return status;
}
