/* gst-luma: lumasrc with its store: reopening offline, integrity, resume
 * of a killed download, one download for two processes, eviction, a full
 * disk, the modes and their environment variables
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/luma/luma.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "lumafill.h"
#include "lumastore.h"
#include "lumastream-private.h"
#include "lumatext.h"

#define TASK "t-stored"
#define VIDEO_SIZE (700 * 1024 + 13)

static void
setup (void)
{
  luma_test_fixture_setup (luma_test_random_bytes (VIDEO_SIZE, 21));
  luma_test_add_ready_task (fixture.em, TASK, fixture.video);
}

static void
teardown (void)
{
  luma_test_fixture_teardown ();
}

static const gchar *
store_dir (void)
{
  return luma_test_use_fresh_store ();
}

/* The store as lumasrc has it in these tests (its directory, API URL and
 * key), for a test to write into as another process would. */
static LumaStore *
lumasrc_store_new (void)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (fixture.em);
  g_autofree gchar *digest = luma_store_key_digest (TEST_KEY);
  LumaStoreConfig config = { store_dir (), api_url, digest, 0, FALSE };

  return luma_store_new (&config);
}

/* The entry of @task_id taken for writing, as another process would. */
static LumaStoreWriter *
begin_writing (LumaStore * store, const gchar * task_id)
{
  LumaStoreWriter *writer = NULL;
  LumaStoreReader *reader = NULL;
  LumaStoreFollower *follower = NULL;

  fail_unless (luma_store_begin (store, task_id, NULL, &writer, &reader,
          &follower, NULL));
  fail_unless (writer != NULL, "not a writer");
  return writer;
}

/* Streams TASK to the end with @props ("name", value, ..., NULL) set. */
static LumaRun *
run_task_valist (const gchar * first, va_list args)
{
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);

  if (first != NULL)
    g_object_set_valist (G_OBJECT (run->src), first, args);
  luma_run_until_done (run, 60);
  return run;
}

static LumaRun *
run_task (const gchar * first, ...)
{
  va_list args;
  LumaRun *run;

  va_start (args, first);
  run = run_task_valist (first, args);
  va_end (args);
  return run;
}

static void
stream_once (void)
{
  LumaRun *run = run_task (NULL);

  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
}

/* The one entry directory of the store (or NULL). */
static gchar *
entry_dir (const gchar * dir)
{
  g_autoptr (GDir) scopes = g_dir_open (dir, 0, NULL);
  const gchar *scope;

  while (scopes != NULL && (scope = g_dir_read_name (scopes)) != NULL) {
    g_autofree gchar *scope_dir = g_build_filename (dir, scope, NULL);
    g_autoptr (GDir) entries = g_dir_open (scope_dir, 0, NULL);
    const gchar *name = entries ? g_dir_read_name (entries) : NULL;

    if (name != NULL)
      return g_build_filename (scope_dir, name, NULL);
  }
  return NULL;
}

static gboolean
has_entry (const gchar * dir)
{
  g_autofree gchar *entry = entry_dir (dir);

  return entry != NULL;
}

static gchar *
entry_file (const gchar * name)
{
  g_autofree gchar *dir = entry_dir (store_dir ());

  fail_unless (dir != NULL, "nothing in the store");
  return g_build_filename (dir, name, NULL);
}

static void
assert_stored (void)
{
  g_autofree gchar *video = entry_file ("video");
  g_autofree gchar *part = entry_file ("video.part");
  g_autofree gchar *previous = entry_file ("video.previous");
  g_autofree gchar *contents = NULL;
  gsize length;

  fail_unless (g_file_get_contents (video, &contents, &length, NULL),
      "no complete video in the store");
  fail_unless_equals_uint64 (length, VIDEO_SIZE);
  fail_unless (memcmp (contents, g_bytes_get_data (fixture.video, NULL),
          length) == 0);
  fail_if (g_file_test (part, G_FILE_TEST_EXISTS));
  /* a video set aside is gone once a new one is stored */
  fail_if (g_file_test (previous, G_FILE_TEST_EXISTS));
}

/* @data: an entry's directory (nullable) */
static gboolean
entry_has_video (gconstpointer data)
{
  g_autofree gchar *video = data ? g_build_filename (data, "video",
      NULL) : NULL;

  return video != NULL && g_file_test (video, G_FILE_TEST_EXISTS);
}

static void
fail_video_host (void)
{
  LumaEmulatorVideoFaults faults = { 0, };

  faults.fail_status = 404;
  faults.fail_count = G_MAXUINT;
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
}

static gboolean
has_warning_with (LumaRun * run, const gchar * words)
{
  guint i;

  for (i = 0; i < run->warnings->len; i++) {
    g_autoptr (GError) error = NULL;

    gst_message_parse_warning (run->warnings->pdata[i], &error, NULL);
    if (strstr (error->message, words) != NULL)
      return TRUE;
  }
  return FALSE;
}

/* The second open needs no key, no poll and no video host: the file KIE
 * deleted (404) is served from the store, with the task's state and URL
 * shown as after a poll, and seeking within it. */
GST_START_TEST (test_reopen_offline)
{
  LumaRun *run;
  guint records, videos;
  GstLumaTaskState state;
  g_autofree gchar *location = NULL;

  stream_once ();
  assert_stored ();
  records = luma_emulator_get_record_requests (fixture.em, TASK);
  videos = luma_emulator_get_video_requests (fixture.em, TASK);
  fail_video_host ();

  run = run_task ("api-key", NULL, NULL);
  luma_run_assert_output (run, fixture.video);
  fail_unless (run->offsets_contiguous);
  g_object_get (run->src, "task-state", &state, "result-url", &location, NULL);
  fail_unless_equals_int (state, GST_LUMA_TASK_STATE_SUCCESS);
  fail_unless (location != NULL);
  fail_unless_equals_int (run->last_state, GST_LUMA_TASK_STATE_SUCCESS);
  luma_run_free (run);

  /* seeking: served from the file at the offset */
  run = luma_run_new (fixture.em, TASK, NULL);
  g_object_set (run->src, "api-key", NULL, NULL);
  luma_run_preroll (run, 20);
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, VIDEO_SIZE / 2 + 1));
  luma_run_until_done (run, 30);
  luma_run_assert_output_from (run, fixture.video, VIDEO_SIZE / 2 + 1);
  luma_run_free (run);

  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          TASK), records);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), videos);
}

GST_END_TEST;

/* With the emulator gone altogether: luma://ID, no key. */
GST_START_TEST (test_reopen_without_network)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (fixture.em);
  g_autoptr (GError) error = NULL;
  LumaRun *run;

  stream_once ();
  g_clear_pointer (&fixture.em, luma_emulator_free);
  g_setenv ("KIE_API_URL", api_url, TRUE);
  run = luma_run_new_launch ("lumasrc name=src ! fakesink name=sink "
      "sync=false signal-handoffs=true", "src");
  fail_unless (gst_uri_handler_set_uri (GST_URI_HANDLER (run->src),
          "luma://" TASK, &error), "%s", error ? error->message : "");
  luma_run_until_done (run, 30);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  g_unsetenv ("KIE_API_URL");
}

GST_END_TEST;

/* Without a key and nothing stored: the usual settings error. */
GST_START_TEST (test_no_key_nothing_stored)
{
  LumaRun *run = run_task ("api-key", NULL, NULL);

  luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "No KIE API key");
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          TASK), 0);
  luma_run_free (run);
}

GST_END_TEST;

/* A changed byte in an entry not verified yet: dropped, a warning naming
 * the task, fetched again (one more download), stored again. */
GST_START_TEST (test_damaged_entry_fetched_again)
{
  g_autofree gchar *video = NULL;
  LumaRun *run;
  guint videos;

  stream_once ();
  video = entry_file ("video");
  luma_test_flip_byte (video, 1000);
  videos = luma_emulator_get_video_requests (fixture.em, TASK);

  run = run_task (NULL);
  luma_run_assert_output (run, fixture.video);
  fail_unless (has_warning_with (run, TASK), "no warning names the task");
  fail_unless (has_warning_with (run, "damaged"));
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), videos + 1);
  assert_stored ();
}

GST_END_TEST;

/* A truncated file is caught by the size check of every open. */
GST_START_TEST (test_truncated_entry_fetched_again)
{
  g_autofree gchar *video = NULL;
  LumaRun *run;
  guint videos;

  stream_once ();
  /* verified at this open: from now on only the size is checked */
  run = run_task (NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  video = entry_file ("video");
  fail_unless (truncate (video, VIDEO_SIZE - 10) == 0);
  videos = luma_emulator_get_video_requests (fixture.em, TASK);

  run = run_task (NULL);
  luma_run_assert_output (run, fixture.video);
  fail_unless (has_warning_with (run, TASK));
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), videos + 1);
  assert_stored ();
}

GST_END_TEST;

/* A run of the stored task that truncates its stored video to half once
 * it has prerolled: the cut is met while lumasrc reads, past the open's
 * size check. */
static LumaRun *
run_cutting_the_stored_video (const gchar * api_key)
{
  g_autofree gchar *video = entry_file ("video");
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);

  g_object_set (run->src, "blocksize", 4096, "api-key", api_key, NULL);
  luma_run_preroll (run, 20);
  fail_unless (truncate (video, VIDEO_SIZE / 2) == 0);
  luma_run_until_done (run, 30);
  return run;
}

/* A stored video cut short while lumasrc reads it: with a key, the rest
 * comes from the network, from where the file ended, with a warning that
 * says so; the video that reaches the sink is whole. */
GST_START_TEST (test_stored_video_cut_short_read_on_from_the_network)
{
  g_autofree gchar *range = NULL;
  guint videos;
  LumaRun *run;

  stream_once ();
  videos = luma_emulator_get_video_requests (fixture.em, TASK);
  run = run_cutting_the_stored_video (TEST_KEY);
  luma_run_assert_output (run, fixture.video);
  fail_unless (run->offsets_contiguous);
  fail_unless (has_warning_with (run, "cut short"));
  fail_unless (has_warning_with (run, TASK), "no warning names the task");
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), videos + 1);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless (range != NULL && !g_str_has_prefix (range, "bytes=0-"),
      "the rest was asked for from %s", range ? range : "the start");
}

GST_END_TEST;

/* Without a key: an error that says so, not an end of stream alone that
 * would pass a shorter video for the whole one. */
GST_START_TEST (test_stored_video_cut_short_without_a_key)
{
  LumaRun *run;

  stream_once ();
  run = run_cutting_the_stored_video (NULL);
  /* (basesrc sends EOS downstream after an error: the error is what
   * tells) */
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, "cut short");
  fail_unless (run->data->len < VIDEO_SIZE);
  luma_run_free (run);
}

GST_END_TEST;

/* The rest comes only from a video of the stored one's size: bytes of
 * another file are never spliced in. */
GST_START_TEST (test_stored_video_cut_short_not_spliced_with_another)
{
  g_autoptr (GBytes) other = luma_test_random_bytes (VIDEO_SIZE + 100, 22);
  LumaRun *run;

  stream_once ();
  luma_test_add_ready_task (fixture.em, TASK, other);
  run = run_cutting_the_stored_video (TEST_KEY);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, "changed size");
  fail_unless (run->data->len < VIDEO_SIZE);
  luma_run_free (run);
}

GST_END_TEST;

/* Nor from another version of the same size: the ETag stored with the
 * video tells. */
GST_START_TEST (test_stored_video_cut_short_not_spliced_with_another_version)
{
  g_autoptr (GBytes) other = luma_test_random_bytes (VIDEO_SIZE, 22);
  LumaRun *run;

  stream_once ();
  luma_test_add_ready_task (fixture.em, TASK, other);
  run = run_cutting_the_stored_video (TEST_KEY);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ,
      "changed while it was being read");
  fail_unless (run->data->len < VIDEO_SIZE);
  luma_run_free (run);
}

GST_END_TEST;

/* A seek in the first streaming: what was skipped is not in the store,
 * and no complete entry has holes. The next run resumes the .part where
 * its prefix ends (one Range request) and completes it. */
/* Until the video host has had a request more than @requests. */
static void
wait_for_a_video_request (guint requests)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (luma_emulator_get_video_requests (fixture.em, TASK) == requests
      && g_get_monotonic_time () < deadline)
    g_usleep (5000);
  fail_unless (luma_emulator_get_video_requests (fixture.em, TASK) > requests,
      "no new request to the video host");
}

/* @data: a count of requests (GUINT_TO_POINTER) */
static gboolean
video_requests_reach (gconstpointer data)
{
  return luma_emulator_get_video_requests (fixture.em, TASK)
      >= GPOINTER_TO_UINT (data);
}

/* A first streaming with a seek half way in, closed before the bytes the
 * seek skipped are stored in the background (the host stalls the
 * requests for them after FILL_STALL bytes): the store keeps a .part of
 * the video's first bytes, never the video. Returns the .part's length. */
#define FILL_STALL 65536

/* A run of TASK, 4096 bytes a buffer, from a host that stalls the
 * requests that begin in the video's first half after FILL_STALL bytes:
 * a fill's, not a seek's into the second half. */
static LumaRun *
new_run_stalling_fills (void)
{
  LumaEmulatorVideoFaults stall_the_fill = {.stall = TRUE,
    .stall_after = FILL_STALL,.only_below = VIDEO_SIZE / 2
  };
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);

  luma_emulator_set_video_faults (fixture.em, TASK, &stall_the_fill);
  g_object_set (run->src, "blocksize", 4096, NULL);
  return run;
}

static gsize
leave_a_part (void)
{
  LumaEmulatorVideoFaults none = { 0 };
  LumaRun *run = new_run_stalling_fills ();
  g_autofree gchar *video = NULL;
  g_autofree gchar *part = NULL;
  GStatBuf st;

  luma_run_preroll (run, 20);
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, VIDEO_SIZE / 2));
  luma_run_until_done (run, 30);
  luma_run_assert_output_from (run, fixture.video, VIDEO_SIZE / 2);
  luma_run_free (run);
  luma_emulator_set_video_faults (fixture.em, TASK, &none);

  video = entry_file ("video");
  part = entry_file ("video.part");
  fail_if (g_file_test (video, G_FILE_TEST_EXISTS),
      "an entry with holes was completed");
  fail_unless (g_stat (part, &st) == 0);
  fail_unless (st.st_size > 0 && st.st_size <= 4096 + FILL_STALL);
  return st.st_size;
}

/* @run's clip from its in-point (half way) to its out-point 50000 bytes
 * on, as an editor plays a trimmed clip. */
static void
play_clip_of (LumaRun * run)
{
  g_byte_array_set_size (run->data, 0);
  run->eos = FALSE;
  fail_unless (gst_element_seek (run->pipeline, 1.0, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, GST_SEEK_TYPE_SET, VIDEO_SIZE / 2,
          GST_SEEK_TYPE_SET, VIDEO_SIZE / 2 + 50000));
  luma_run_until_done (run, 30);
  fail_unless_equals_uint64 (run->data->len, 50000);
}

/* @task_id as an editor opens a trimmed clip: prerolled, its clip
 * played, and left open. */
static LumaRun *
open_trimmed_clip (const gchar * task_id)
{
  LumaRun *run = luma_run_new (fixture.em, task_id, NULL);

  g_object_set (run->src, "blocksize", 4096, NULL);
  luma_run_preroll (run, 20);
  play_clip_of (run);
  return run;
}

static LumaRun *
play_trimmed_clip (void)
{
  return open_trimmed_clip (TASK);
}

/* The bytes a seek skipped are stored in the background while the clip
 * is open (an editor opens a trimmed clip at its in-point and plays to
 * its out-point): the whole video is stored, and opens offline. */
GST_START_TEST (test_trimmed_clip_stored_whole)
{
  LumaRun *run = play_trimmed_clip ();
  g_autofree gchar *dir = NULL;

  /* still open at its out-point */
  dir = entry_dir (store_dir ());
  fail_unless (luma_test_wait_until (entry_has_video, dir, 30),
      "the trimmed clip was not stored whole while it was open");
  luma_run_free (run);
  assert_stored ();

  fail_video_host ();
  run = run_task ("api-key", NULL, NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
}

GST_END_TEST;

/* @data: a task id */
static gboolean
task_is_stored (gconstpointer data)
{
  LumaStore *store = lumasrc_store_new ();
  LumaStoreReader *reader = luma_store_open (store, data, NULL, NULL);
  gboolean stored = reader != NULL;

  g_clear_pointer (&reader, luma_store_reader_free);
  luma_store_free (store);
  return stored;
}

/* How many bytes the `.part` of @task_id holds (it is not stored). */
static guint64
part_of_task_holds (const gchar * task_id)
{
  LumaStore *store = lumasrc_store_new ();
  LumaStoreWriter *writer = begin_writing (store, task_id);
  guint64 prefix = luma_store_writer_get_prefix (writer);

  luma_store_writer_free (writer, FALSE);
  luma_store_free (store);
  return prefix;
}

static guint
video_requests_of_layers (guint layers)
{
  guint requests = 0;
  guint i;

  for (i = 0; i < layers; i++) {
    g_autofree gchar *task_id = g_strdup_printf ("t-layer-%u", i);

    requests += luma_emulator_get_video_requests (fixture.em, task_id);
  }
  return requests;
}

/* @data: a count of requests to the clips' video host */
static gboolean
layer_requests_reach (gconstpointer data)
{
  return video_requests_of_layers (LUMA_FILLS_AT_ONCE + 1)
      >= GPOINTER_TO_UINT (data);
}

/* Trimmed clips stacked on the layers of an editor's timeline, all open at
 * once: at most LUMA_FILLS_AT_ONCE fills run in the process (each costs a
 * thread, a connection and descriptors; 80 clips ran the process out of
 * descriptors). A clip past the bound plays from the network, its fill
 * waiting in line; once a place is free, the fill runs, with no read of
 * the clip needed, and the clip is stored. */
#define LAYERS (LUMA_FILLS_AT_ONCE + 1)
#define LAST_LAYER "t-layer-" G_STRINGIFY (LUMA_FILLS_AT_ONCE)

/* LAYERS trimmed clips open at once, their fills stalled by the host: the
 * first LUMA_FILLS_AT_ONCE run, and the last waits for a place. */
static void
open_stacked_clips (LumaRun * runs[LAYERS])
{
  LumaEmulatorVideoFaults stall_the_fill = {.stall = TRUE,
    .stall_after = FILL_STALL,.only_below = VIDEO_SIZE / 2
  };
  guint i;

  for (i = 0; i < LAYERS; i++) {
    g_autofree gchar *task_id = g_strdup_printf ("t-layer-%u", i);

    luma_test_add_ready_task (fixture.em, task_id, fixture.video);
    luma_emulator_set_video_faults (fixture.em, task_id, &stall_the_fill);
    runs[i] = open_trimmed_clip (task_id);
  }
  /* each clip's preroll and seek, and the first clips' stalled fills */
  fail_unless (luma_test_wait_until (layer_requests_reach,
          GUINT_TO_POINTER (2 * LAYERS + LUMA_FILLS_AT_ONCE), 20),
      "the first clips' fills made no request");
  g_usleep (G_USEC_PER_SEC);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          LAST_LAYER), 2);
  fail_unless_equals_int (video_requests_of_layers (LAYERS),
      2 * LAYERS + LUMA_FILLS_AT_ONCE);
  fail_if (task_is_stored (LAST_LAYER));
}

GST_START_TEST (test_fills_at_once_are_bounded)
{
  LumaEmulatorVideoFaults none = { 0 };
  LumaRun *runs[LAYERS];
  const gchar *last = LAST_LAYER;
  guint i;

  open_stacked_clips (runs);

  /* the first clip closes: its place goes to the last clip's fill, which
   * runs though that clip reads nothing more */
  luma_emulator_set_video_faults (fixture.em, last, &none);
  luma_run_free (runs[0]);
  fail_unless (luma_test_wait_until (task_is_stored, last, 30),
      "the last clip was not stored once a place was free");
  for (i = 1; i < LAYERS; i++)
    luma_run_free (runs[i]);
}

GST_END_TEST;

/* A clip closed while its fill waits for a place: the fill leaves the
 * line, and never runs (no request once a place is free); the clip's
 * `.part` stays, for the next open to resume. */
GST_START_TEST (test_waiting_fill_leaves_with_its_clip)
{
  LumaRun *runs[LAYERS];
  guint i;

  open_stacked_clips (runs);
  luma_run_free (runs[LAYERS - 1]);
  luma_run_free (runs[0]);
  g_usleep (G_USEC_PER_SEC);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          LAST_LAYER), 2);
  fail_unless (part_of_task_holds (LAST_LAYER) > 0);
  for (i = 1; i < LAYERS - 1; i++)
    luma_run_free (runs[i]);
}

GST_END_TEST;

/* The host refuses the background fill (a 403 with an HTML page: a CDN
 * turned it away, which no fresh link mends): the writer is given back,
 * and a fill started again at a read after a scrub (FILL_RETRY_DELAY_US
 * later at the earliest) stores the video. */
GST_START_TEST (test_failed_fill_tried_again)
{
  LumaEmulatorVideoFaults expire_once = {.fail_status = 403,.fail_html = TRUE,
    .fail_count = 1,.fail_after = 1,.only_below = VIDEO_SIZE / 2
  };
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  g_autofree gchar *dir = NULL;
  guint i;

  luma_emulator_set_video_faults (fixture.em, TASK, &expire_once);
  g_object_set (run->src, "blocksize", 4096, NULL);
  luma_run_preroll (run, 20);
  for (i = 0; i < 2; i++) {
    fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
            GST_SEEK_FLAG_FLUSH, VIDEO_SIZE / 2));
    luma_run_until_done (run, 30);
    fail_unless (run->error == NULL && run->eos);
    dir = entry_dir (store_dir ());
    if (i == 1)
      break;
    /* the preroll's request, the seek's, and the refused fill */
    fail_unless (luma_test_wait_until (video_requests_reach,
            GUINT_TO_POINTER (3), 20), "no request of a fill");
    fail_if (entry_has_video (dir), "stored by a fill the host refused");
    g_usleep (3 * G_USEC_PER_SEC);
    g_clear_pointer (&dir, g_free);
  }
  fail_unless (luma_test_wait_until (entry_has_video, dir, 30),
      "the second fill did not store the video");
  luma_run_free (run);
  assert_stored ();
}

GST_END_TEST;

/* A demuxer that reads an MP4's index at its end first (moov after mdat,
 * ffmpeg's default) seeks there and then back to the start of the file:
 * the source comes back within what the `.part` holds while the fill is
 * still under way (here the host stalls it). The bytes the `.part` holds
 * are read from it, and appending goes on from where it ends
 * (docs/lumasrc.md, Writing): one download, and the video streamed to its
 * end is stored by then. */
GST_START_TEST (test_back_within_the_part_during_a_fill)
{
  LumaEmulatorVideoFaults none = { 0 };
  LumaRun *run = new_run_stalling_fills ();
  g_autofree gchar *dir = NULL;
  g_autofree gchar *range = NULL;

  luma_run_preroll (run, 20);
  /* the index at the end */
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, VIDEO_SIZE - 8000));
  luma_run_until_done (run, 30);
  fail_unless (run->error == NULL && run->eos);
  /* the preroll's request, the seek's, and the fill's (stalled) */
  fail_unless (luma_test_wait_until (video_requests_reach,
          GUINT_TO_POINTER (3), 20), "no request of a fill");
  g_usleep (G_USEC_PER_SEC / 2);
  luma_emulator_set_video_faults (fixture.em, TASK, &none);
  /* and back to the start, to play the whole video */
  g_byte_array_set_size (run->data, 0);
  run->eos = FALSE;
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, 0));
  luma_run_until_done (run, 30);
  luma_run_assert_output (run, fixture.video);
  /* the source's last request: from where the .part ended (a request
   * from byte 0 has no Range) */
  range = luma_emulator_get_last_range (fixture.em, TASK);
  dir = entry_dir (store_dir ());
  fail_unless (entry_has_video (dir),
      "a video streamed to its end was not stored (its last request: %s)",
      range ? range : "the whole file, no Range");
  fail_unless (range != NULL && g_strcmp0 (range, "bytes=0-") != 0,
      "the bytes the .part holds were downloaded again");
  luma_run_free (run);
  assert_stored ();
}

GST_END_TEST;

/* A fill that has every byte of the file stops there: it knows the size
 * from the first answer. A request past the end ("bytes=SIZE-", for a
 * 416) that failed (here the host refuses it with a 403, as a URL that
 * expired meanwhile) would fail the fill with every byte in the `.part`,
 * and the trimmed clip would not be stored. */
GST_START_TEST (test_fill_asks_nothing_past_the_end)
{
  /* the preroll's request, the seek's and the fill's are answered */
  LumaEmulatorVideoFaults expire_after_three = {.fail_status = 403,
    .fail_count = G_MAXUINT,.fail_after = 3
  };
  LumaRun *run;
  g_autofree gchar *dir = NULL;
  g_autofree gchar *range = NULL;

  luma_emulator_set_video_faults (fixture.em, TASK, &expire_after_three);
  run = play_trimmed_clip ();
  dir = entry_dir (store_dir ());
  luma_test_wait_until (entry_has_video, dir, 10);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless (entry_has_video (dir), "the trimmed clip was not stored "
      "whole (%u requests, the last for %s)",
      luma_emulator_get_video_requests (fixture.em, TASK), range);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), 3);
  luma_run_free (run);
  assert_stored ();
}

GST_END_TEST;

/* A trimmed clip closed before its video was stored whole: the next
 * open resumes the .part from its end. */
GST_START_TEST (test_seek_then_resume)
{
  g_autofree gchar *range = NULL;
  g_autofree gchar *expected_range = NULL;
  gsize part_size = leave_a_part ();
  LumaRun *run;

  run = run_task (NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  expected_range = g_strdup_printf ("bytes=%" G_GSIZE_FORMAT "-", part_size);
  fail_unless_equals_string (range, expected_range);
  assert_stored ();
}

GST_END_TEST;

/* A .part left by an earlier run, and a host that now has another file of
 * @other_size bytes: the .part is dropped, and the other file streamed
 * (from its start) and stored whole, never the .part with the other's
 * rest after it. */
static void
assert_part_dropped_for_another_file (gsize other_size, gboolean bare)
{
  g_autoptr (GBytes) other = luma_test_random_bytes (other_size, 22);
  LumaEmulatorVideoFaults faults = {.no_validators = bare };
  g_autofree gchar *video = NULL;
  g_autofree gchar *stored = NULL;
  g_autofree gchar *range = NULL;
  gsize stored_size;
  LumaRun *run;

  leave_a_part ();
  luma_test_add_ready_task (fixture.em, TASK, other);
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
  run = run_task (NULL);
  luma_run_assert_output (run, other);
  luma_run_free (run);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless (range == NULL || g_str_has_prefix (range, "bytes=0-"),
      "the last request asked for %s", range);
  video = entry_file ("video");
  fail_unless (g_file_get_contents (video, &stored, &stored_size, NULL));
  fail_unless (stored_size == other_size
      && memcmp (stored, g_bytes_get_data (other, NULL), stored_size) == 0,
      "the stored video is not the host's file");
}

/* larger, so that the .part could be resumed from it */
GST_START_TEST (test_part_not_resumed_from_another_file)
{
  assert_part_dropped_for_another_file (VIDEO_SIZE + 100, FALSE);
}

GST_END_TEST;

/* the same from a host that sends no ETag: the size alone tells */
GST_START_TEST (test_part_not_resumed_from_another_file_without_validators)
{
  assert_part_dropped_for_another_file (VIDEO_SIZE + 100, TRUE);
}

GST_END_TEST;

/* another version of the file, of the same size (another ETag) */
GST_START_TEST (test_part_not_resumed_from_another_version)
{
  assert_part_dropped_for_another_file (VIDEO_SIZE, FALSE);
}

GST_END_TEST;

/* A flushing seek that cuts the .part's resume short, while it asks the
 * host for the rest (the answer held back): the next begin checks the
 * .part against the host's file as the first would have, and the .part of
 * another version is not read as the start of this one. */
GST_START_TEST (test_part_checked_after_a_seek_cut_its_resume)
{
  g_autoptr (GBytes) other = luma_test_random_bytes (VIDEO_SIZE, 22);
  LumaEmulatorVideoFaults held = {.stall = TRUE };
  LumaEmulatorVideoFaults none = { 0 };
  LumaRun *run;
  guint requests;

  leave_a_part ();
  luma_test_add_ready_task (fixture.em, TASK, other);
  luma_emulator_set_video_faults (fixture.em, TASK, &held);
  requests = luma_emulator_get_video_requests (fixture.em, TASK);
  run = luma_run_new (fixture.em, TASK, NULL);
  gst_element_set_state (run->pipeline, GST_STATE_PAUSED);
  wait_for_a_video_request (requests);
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, 0));
  luma_emulator_set_video_faults (fixture.em, TASK, &none);
  luma_run_until_done (run, 60);
  luma_run_assert_output (run, other);
  luma_run_free (run);
}

GST_END_TEST;

/* An editor seeking again and again while the `.part` is checked: each
 * begin the seeks cut is begun anew, and none counts toward the limit of
 * begins (which is for writers that stopped), so the video is stored. */
GST_START_TEST (test_many_seeks_during_the_begin_still_store)
{
  g_autofree gchar *range = NULL;
  g_autofree gchar *expected = NULL;
  LumaEmulatorVideoFaults held = {.stall = TRUE };
  LumaEmulatorVideoFaults none = { 0 };
  LumaRun *run;
  guint i;

  expected = g_strdup_printf ("bytes=%" G_GSIZE_FORMAT "-", leave_a_part ());
  luma_emulator_set_video_faults (fixture.em, TASK, &held);
  run = luma_run_new (fixture.em, TASK, NULL);
  gst_element_set_state (run->pipeline, GST_STATE_PAUSED);
  for (i = 0; i < 6; i++) {
    wait_for_a_video_request (luma_emulator_get_video_requests (fixture.em,
            TASK));
    fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
            GST_SEEK_FLAG_FLUSH, 0));
  }
  luma_emulator_set_video_faults (fixture.em, TASK, &none);
  luma_run_until_done (run, 60);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  assert_stored ();
  /* and the .part was still resumed: the cut checks kept what it is of */
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless (g_strcmp0 (range, expected) == 0,
      "the .part was not resumed: %s", range);
}

GST_END_TEST;

/* Makes the .part's lock file say it was written in another boot, and
 * its bytes what a file system may leave of an unsynced file after a
 * crash of the system: zeros of the same length. */
static void
make_part_from_another_boot (void)
{
  g_autofree gchar *lock = entry_file ("lock");
  g_autofree gchar *part = entry_file ("video.part");
  g_autofree gchar *told = NULL;
  g_autofree gchar *boot_id = NULL;
  g_autofree gchar *zeros = NULL;
  g_auto (GStrv) lines = NULL;
  g_auto (GStrv) fields = NULL;
  gsize part_size;

  /* "SIZE BOOT-ID\nETAG\n" */
  fail_unless (g_file_get_contents ("/proc/sys/kernel/random/boot_id",
          &boot_id, NULL, NULL));
  fail_unless (g_file_get_contents (lock, &told, NULL, NULL));
  lines = g_strsplit (told, "\n", 2);
  fields = g_strsplit (lines[0], " ", 2);
  fail_unless (g_strv_length (fields) == 2, "no boot id told: %s", told);
  fail_unless_equals_string (fields[1], g_strstrip (boot_id));
  g_free (told);
  told = g_strdup_printf ("%s 00000000-0000-4000-8000-000000000000\n%s",
      fields[0], lines[1] ? lines[1] : "");
  fail_unless (g_file_set_contents (lock, told, -1, NULL));

  fail_unless (g_file_get_contents (part, &zeros, &part_size, NULL));
  fail_unless (part_size > 0);
  memset (zeros, 0, part_size);
  fail_unless (g_file_set_contents (part, zeros, part_size, NULL));
}

/* A .part whose writer told its size in another boot: the system
 * stopped meanwhile, and the .part may hold what the disk never took. It
 * is not resumed; the video is streamed and stored from its start. */
GST_START_TEST (test_part_from_another_boot_not_resumed)
{
  g_autofree gchar *range = NULL;
  LumaRun *run;

  leave_a_part ();
  make_part_from_another_boot ();

  run = run_task (NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless (range == NULL || g_str_has_prefix (range, "bytes=0-"),
      "the .part was resumed: %s", range);
  assert_stored ();
}

GST_END_TEST;

/* gst-launch-1.0 lumasrc for TASK, a process of its own, its output to
 * @out (or a fakesink). */
static GPid
spawn_launch (const gchar * out, const gchar * extra)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (fixture.em);
  g_autofree gchar *line = g_strdup_printf ("gst-launch-1.0 -q lumasrc "
      "api-url=%s task-id=" TASK " poll-interval=10 %s ! %s%s", api_url,
      extra ? extra : "", out ? "filesink location=" : "fakesink",
      out ? out : "");
  g_auto (GStrv) argv = NULL;

  fail_unless (g_shell_parse_argv (line, NULL, &argv, NULL));
  return luma_test_spawn_with_key ((const gchar * const *) argv);
}

/* Waits until the .part holds @size bytes. */
static void
wait_for_part (gsize size)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC
      * luma_test_slowdown ();

  for (;;) {
    g_autofree gchar *dir = entry_dir (store_dir ());
    g_autofree gchar *part = dir ? g_build_filename (dir, "video.part",
        NULL) : NULL;
    GStatBuf st;

    if (part != NULL && g_stat (part, &st) == 0 && (gsize) st.st_size >= size)
      return;
    fail_unless (g_get_monotonic_time () < deadline,
        "the .part never reached %" G_GSIZE_FORMAT " bytes", size);
    g_usleep (10000);
  }
}

#define STALL_AFTER 262144
/* enough of the .part to know a download is under way */
#define CHUNK_SEEN 65536

static void
stall_video_host (void)
{
  LumaEmulatorVideoFaults faults = { 0, };

  faults.stall = TRUE;
  faults.stall_after = STALL_AFTER;
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
}

static void
heal_video_host (void)
{
  LumaEmulatorVideoFaults faults = { 0, };

  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
}

/* A download killed (SIGKILL) midway, by a host stalled after
 * STALL_AFTER bytes: its .part is left. */
static void
leave_a_killed_download (void)
{
  GPid pid;

  stall_video_host ();
  pid = spawn_launch (NULL, NULL);
  wait_for_part (STALL_AFTER);
  kill (pid, SIGKILL);
  luma_test_wait_for_exit (pid);
}

/* A download killed (SIGKILL) midway leaves its .part; the next run asks
 * the host for the rest only, from the .part's length. */
GST_START_TEST (test_killed_download_resumes)
{
  g_autofree gchar *range = NULL;
  LumaRun *run;

  leave_a_killed_download ();
  heal_video_host ();

  run = run_task (NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless_equals_string (range, "bytes=262144-");
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), 2);
  assert_stored ();
}

GST_END_TEST;

/* The same, when the first request of the resume fails: a server error
 * (503), an expired URL (410, renewed by the record), a dropped
 * connection. The .part stays: the rest only is asked for again, from its
 * length, never the whole video from byte 0. */
GST_START_TEST (test_resume_survives_a_failed_first_request)
{
  LumaEmulatorVideoFaults faults = { 0, };
  g_autofree gchar *range = NULL;
  LumaRun *run;

  leave_a_killed_download ();
  if (__i__ < 2) {
    faults.fail_status = __i__ == 0 ? 503 : 410;
    faults.fail_count = 1;
  } else {
    faults.drop_after = 1000;
    faults.drop_count = 1;
  }
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);

  run = run_task (NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless_equals_string (range, __i__ < 2 ? "bytes=262144-"
      : "bytes=263144-");
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), 3);
  assert_stored ();
}

GST_END_TEST;

static void
assert_file_is_video (const gchar * path)
{
  g_autofree gchar *contents = NULL;
  gsize length;

  fail_unless (g_file_get_contents (path, &contents, &length, NULL), "%s",
      path);
  fail_unless_equals_uint64 (length, VIDEO_SIZE);
  fail_unless (memcmp (contents, g_bytes_get_data (fixture.video, NULL),
          length) == 0);
}

/* Both processes end well, each having saved the whole video to its file
 * (removed then). */
static void
assert_both_saved_video (GPid first, const gchar * out1, GPid second,
    const gchar * out2)
{
  fail_unless (g_spawn_check_wait_status (luma_test_wait_for_exit (first),
          NULL));
  fail_unless (g_spawn_check_wait_status (luma_test_wait_for_exit (second),
          NULL));
  assert_file_is_video (out1);
  assert_file_is_video (out2);
  g_unlink (out1);
  g_unlink (out2);
}

/* Waits until the task's record was read @count times, then a little
 * more: a process that read it begins with the store's entry at once. */
static void
wait_for_record_reads (guint count)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (luma_emulator_get_record_requests (fixture.em, TASK) < count) {
    fail_unless (g_get_monotonic_time () < deadline);
    g_usleep (10000);
  }
  g_usleep (300000);
}

/* Two processes open the task at once: the first downloads (held up by
 * the host midway, so that the second certainly comes while it does), the
 * second follows its download, through the stall. The host sees the one
 * download: its first request and the resume of it after the stall, for
 * the rest of the bytes only. */
GST_START_TEST (test_two_processes_download_once)
{
  g_autofree gchar *out_dir = g_dir_make_tmp ("luma-out-XXXXXX", NULL);
  g_autofree gchar *out1 = g_build_filename (out_dir, "1.mp4", NULL);
  g_autofree gchar *out2 = g_build_filename (out_dir, "2.mp4", NULL);
  g_autofree gchar *range = NULL;
  GPid first, second;

  stall_video_host ();
  first = spawn_launch (out1, "timeout=1");
  wait_for_part (STALL_AFTER);
  second = spawn_launch (out2, NULL);
  /* the second has read the record: it now follows the first */
  wait_for_record_reads (2);
  heal_video_host ();

  assert_both_saved_video (first, out1, second, out2);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), 2);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless_equals_string (range, "bytes=262144-");
  assert_stored ();
  g_rmdir (out_dir);
}

GST_END_TEST;

/* How fast the host sends in the tests of one process following
 * another's download: the download takes 3.5 s. */
#define SLOW_RATE 200000

static void
slow_video_host (void)
{
  LumaEmulatorVideoFaults faults = { 0, };

  faults.rate = SLOW_RATE;
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
}

/* @pid has not ended yet (left unreaped). */
static gboolean
still_running (GPid pid)
{
  siginfo_t info = { 0, };

  fail_unless (waitid (P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0);
  return info.si_pid == 0;
}

/* Waits until the second process has written to @out, while @first is
 * still downloading: it follows the download, rather than wait for it. */
static void
wait_for_output_during (GPid first, const gchar * out)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  GStatBuf st;

  while (g_stat (out, &st) != 0 || st.st_size == 0) {
    fail_unless (still_running (first), "the second wrote nothing before "
        "the first one's download ended");
    fail_unless (g_get_monotonic_time () < deadline);
    g_usleep (10000);
  }
}

/* A first process downloading from a slow host (its output to
 * @first_out, or a fakesink), then a second one that opens the task while
 * it does, returned once it has written to @second_out. */
static GPid
spawn_follower (const gchar * first_out, GPid * first, const gchar * second_out)
{
  GPid second;

  slow_video_host ();
  *first = spawn_launch (first_out, NULL);
  wait_for_part (CHUNK_SEEN);
  second = spawn_launch (second_out, NULL);
  wait_for_output_during (*first, second_out);
  return second;
}

/* A second process that opens the task while the first downloads it reads
 * the first's .part as it is written: it has the video's first bytes
 * before the first is done, and the host sees one download. */
GST_START_TEST (test_second_process_follows_download)
{
  g_autofree gchar *out_dir = g_dir_make_tmp ("luma-out-XXXXXX", NULL);
  g_autofree gchar *out1 = g_build_filename (out_dir, "1.mp4", NULL);
  g_autofree gchar *out2 = g_build_filename (out_dir, "2.mp4", NULL);
  GPid first, second;

  second = spawn_follower (out1, &first, out2);

  assert_both_saved_video (first, out1, second, out2);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), 1);
  assert_stored ();
  g_rmdir (out_dir);
}

GST_END_TEST;

/* The first process is killed while the second follows its download: the
 * second takes the entry over, resumes the .part where the first left it,
 * and completes both its output and the stored video. */
GST_START_TEST (test_follower_takes_over_killed_download)
{
  g_autofree gchar *out_dir = g_dir_make_tmp ("luma-out-XXXXXX", NULL);
  g_autofree gchar *out = g_build_filename (out_dir, "2.mp4", NULL);
  g_autofree gchar *range = NULL;
  GPid first, second;

  second = spawn_follower (NULL, &first, out);
  kill (first, SIGKILL);
  luma_test_wait_for_exit (first);

  fail_unless (g_spawn_check_wait_status (luma_test_wait_for_exit (second),
          NULL));
  assert_file_is_video (out);
  assert_stored ();
  /* the first's download, then the rest of it */
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), 2);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless (range != NULL && g_str_has_prefix (range, "bytes="),
      "%s", range ? range : "no Range");
  fail_unless (g_ascii_strtoull (range + 6, NULL, 10) >= CHUNK_SEEN,
      "%s", range);
  g_unlink (out);
  g_rmdir (out_dir);
}

GST_END_TEST;


typedef struct
{
  LumaRun *run;
  gint done;                    /* atomic */
  const gchar *task_id;         /* NULL: TASK */
} ThreadRun;

static gpointer
run_in_thread (gpointer data)
{
  ThreadRun *job = data;

  job->run = luma_run_new (fixture.em, job->task_id ? job->task_id : TASK,
      NULL);
  luma_run_until_done (job->run, 60);
  g_atomic_int_set (&job->done, TRUE);
  return NULL;
}

/* Two pipelines of one process at once: one download too. */
GST_START_TEST (test_two_pipelines_download_once)
{
  ThreadRun jobs[2] = { {NULL, FALSE}, {NULL, FALSE}
  };
  GThread *threads[2];
  guint i;

  for (i = 0; i < 2; i++)
    threads[i] = g_thread_new ("run", run_in_thread, &jobs[i]);
  for (i = 0; i < 2; i++) {
    g_thread_join (threads[i]);
    luma_run_assert_output (jobs[i].run, fixture.video);
    luma_run_free (jobs[i].run);
  }
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), 1);
  assert_stored ();
}

GST_END_TEST;

/* Another process completes the entry while lumasrc polls a task that is
 * still generating: lumasrc reads the stored video (the host is not
 * asked for it), and what its polls showed stands: one task message a
 * poll, not one more for the store. */
GST_START_TEST (test_entry_completed_while_polling)
{
  LumaEmulatorTask task = {
    .task_id = "t-late",
    .video = fixture.video,
    .generating_polls = 20,
    .final_flag = 1,
  };
  LumaStore *store = lumasrc_store_new ();
  LumaStoreWriter *writer;
  LumaStoreMeta meta = { NULL, };
  ThreadRun job = { NULL, FALSE };
  GThread *thread;
  guint records;

  luma_emulator_add_task (fixture.em, &task);
  job.task_id = "t-late";
  thread = g_thread_new ("run", run_in_thread, &job);
  while (luma_emulator_get_record_requests (fixture.em, "t-late") == 0)
    g_usleep (1000);
  writer = begin_writing (store, "t-late");
  fail_unless (luma_store_writer_append (writer, 0, fixture.video, NULL));
  meta.size = VIDEO_SIZE;
  meta.kie_until = g_get_real_time () / 1000 + LUMA_STORE_KIE_RETENTION_MS;
  fail_unless (luma_store_writer_commit (writer, &meta, NULL));
  g_thread_join (thread);

  records = luma_emulator_get_record_requests (fixture.em, "t-late");
  fail_unless (records > 1, "the entry was there before the first poll");
  luma_run_assert_output (job.run, fixture.video);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          "t-late"), 0);
  fail_unless_equals_int (job.run->task_messages, records);
  fail_unless_equals_int (job.run->last_polls, records);
  luma_run_free (job.run);
  luma_store_free (store);
}

GST_END_TEST;

/* Two lumasrc of one task in one pipeline: the first holds the entry and
 * waits for the pipeline's preroll, which waits for the second. The second
 * streams without the store at once rather than wait for the first. */
GST_START_TEST (test_two_sources_in_one_pipeline)
{
  g_autofree gchar *desc = NULL;
  LumaRun *run;

  luma_test_fixture_set_environment ();
  desc = g_strdup_printf ("lumasrc name=src task-id=" TASK
      " poll-interval=10 ! fakesink name=sink sync=false signal-handoffs=true "
      "lumasrc task-id=" TASK " poll-interval=10 ! fakesink sync=false");
  run = luma_run_new_launch (desc, "src");
  luma_run_until_done (run, 60);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  assert_stored ();
}

GST_END_TEST;

/* The version tag lumasrc's writer tells of the emulator's video: of its
 * host, with @etag (NULL: the ETag the host sends now). */
static gchar *
emulator_version (const gchar * etag)
{
  g_autofree gchar *origin = luma_emulator_get_video_url_base (fixture.em);
  g_autofree gchar *own = luma_emulator_get_video_etag (fixture.em, TASK);

  return luma_stream_version_tag_new (origin, etag ? etag : own);
}

/* Appends pieces of the video from *@offset until @done says to stop
 * (past the video's end, the video again). */
static void
append_until (LumaStoreWriter * writer, guint64 * offset,
    gboolean (*done) (gpointer data), gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC
      * luma_test_slowdown ();

  while (!done (data)) {
    gsize from = *offset % VIDEO_SIZE;
    g_autoptr (GBytes) piece = g_bytes_new_from_bytes (fixture.video, from,
        MIN (4096, VIDEO_SIZE - from));

    fail_unless (luma_store_writer_append (writer, *offset, piece, NULL));
    *offset += g_bytes_get_size (piece);
    fail_unless (g_get_monotonic_time () < deadline);
    g_usleep (10000);
  }
}

static gboolean
run_is_done (gpointer data)
{
  return g_atomic_int_get (&((ThreadRun *) data)->done);
}

static gboolean
has_prerolled (gpointer data)
{
  return gst_element_get_state (data, NULL, NULL, 0)
      == GST_STATE_CHANGE_SUCCESS;
}

/* Prerolls @run, its lumasrc following @writer, which writes meanwhile. */
static void
preroll_following (LumaRun * run, LumaStoreWriter * writer, guint64 * offset)
{
  g_autofree gchar *version = emulator_version (NULL);

  /* what lumasrc's writer tells of the host's file */
  luma_store_writer_set_version (writer, version);
  luma_store_writer_set_size (writer, VIDEO_SIZE);
  gst_element_set_state (run->pipeline, GST_STATE_PAUSED);
  append_until (writer, offset, has_prerolled, run->pipeline);
}

/* A source that follows another's download waits in its streaming thread
 * for the writer to write more: stopping the pipeline ends that wait at
 * once, not after the 5 s in which a silent writer is given up on. */
GST_START_TEST (test_stop_while_following_is_prompt)
{
  LumaStore *store = lumasrc_store_new ();
  LumaStoreWriter *writer = begin_writing (store, TASK);
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  guint64 offset = 0;

  preroll_following (run, writer, &offset);
  /* it streams what there is, then waits for more */
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  g_usleep (300000);

  luma_run_assert_prompt_stop (run);
  luma_run_free (run);
  luma_store_writer_free (writer, TRUE);
  luma_store_free (store);
}

GST_END_TEST;

/* The writer a source follows falls silent for good (its pipeline
 * paused, its process stopped): after 5 s the rest comes from the
 * network, from where the follower was, and the video is whole. The
 * entry stays the writer's. */
GST_START_TEST (test_silent_writer_given_up)
{
  LumaStore *store = lumasrc_store_new ();
  LumaStoreWriter *writer = begin_writing (store, TASK);
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  g_autofree gchar *range = NULL;
  guint64 offset = 0;

  g_object_set (run->src, "blocksize", 4096, NULL);
  preroll_following (run, writer, &offset);
  fail_unless (offset < VIDEO_SIZE);
  luma_run_until_done (run, 30);
  luma_run_assert_output (run, fixture.video);
  fail_unless (run->offsets_contiguous);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), 1);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless (range != NULL, "the network was asked from the start");
  fail_unless_equals_uint64 (g_ascii_strtoull (range + strlen ("bytes="),
          NULL, 10), offset);
  fail_unless_equals_uint64 (luma_store_writer_get_prefix (writer), offset);
  luma_run_free (run);
  luma_store_writer_free (writer, TRUE);
  luma_store_free (store);
}

GST_END_TEST;

/* A seek ahead of a followed download is read from the network, from the
 * offset sought: the bytes are there at once, rather than when the writer
 * gets there (this one never does). */
GST_START_TEST (test_seek_ahead_of_followed_download)
{
  LumaStore *store = lumasrc_store_new ();
  LumaStoreWriter *writer = begin_writing (store, TASK);
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  g_autofree gchar *expected_range = g_strdup_printf ("bytes=%d-",
      VIDEO_SIZE / 2);
  g_autofree gchar *range = NULL;
  guint64 offset = 0;
  gint64 before, took;

  g_object_set (run->src, "blocksize", 4096, NULL);
  preroll_following (run, writer, &offset);
  fail_unless (offset < VIDEO_SIZE / 2);
  before = g_get_monotonic_time ();
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, VIDEO_SIZE / 2));
  luma_run_until_done (run, 30);
  /* not after the 5 s in which the silent writer would be given up on */
  took = g_get_monotonic_time () - before;
  fail_unless (took < 2 * G_USEC_PER_SEC * luma_test_slowdown (),
      "took %" G_GINT64_FORMAT " us", took);
  luma_run_assert_output_from (run, fixture.video, VIDEO_SIZE / 2);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless_equals_string (range, expected_range);
  luma_run_free (run);
  luma_store_writer_free (writer, TRUE);
  luma_store_free (store);
}

GST_END_TEST;

/* Follows a download that stops short (its writer falls silent, or the
 * run seeks ahead of it) while the host now has another file, of
 * @other_size bytes: the rest is not taken from it (bytes of two files
 * spliced into one), the run ends in an error that says why (@words). */
/* the video host sends no ETag (a test that sets it runs in a process of
 * its own) */
static gboolean bare_host;

static void
assert_followed_not_spliced (gboolean seek_ahead, gsize other_size,
    const gchar * words)
{
  g_autoptr (GBytes) other = luma_test_random_bytes (other_size, 22);
  LumaStore *store = lumasrc_store_new ();
  LumaStoreWriter *writer = begin_writing (store, TASK);
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  LumaEmulatorVideoFaults faults = {.no_validators = bare_host };
  guint64 offset = 0;

  g_object_set (run->src, "blocksize", 4096, NULL);
  preroll_following (run, writer, &offset);
  luma_test_add_ready_task (fixture.em, TASK, other);
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
  if (seek_ahead)
    fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
            GST_SEEK_FLAG_FLUSH, VIDEO_SIZE / 2));
  luma_run_until_done (run, 30);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, words);
  if (!seek_ahead)
    fail_unless (run->data->len <= offset);
  luma_run_free (run);
  luma_store_writer_free (writer, TRUE);
  luma_store_free (store);
}

GST_START_TEST (test_silent_writer_not_spliced_with_another)
{
  assert_followed_not_spliced (FALSE, VIDEO_SIZE + 100, "changed size");
}

GST_END_TEST;

GST_START_TEST (test_seek_ahead_of_followed_download_not_spliced)
{
  assert_followed_not_spliced (TRUE, VIDEO_SIZE + 100, "changed size");
}

GST_END_TEST;

/* the same from a host that sends no ETag: the size alone tells */
GST_START_TEST (test_followed_download_not_spliced_without_validators)
{
  bare_host = TRUE;
  assert_followed_not_spliced (FALSE, VIDEO_SIZE + 100, "changed size");
  assert_followed_not_spliced (TRUE, VIDEO_SIZE + 100, "changed size");
}

GST_END_TEST;

/* Another version of the same size: the ETag the writer told tells. */
GST_START_TEST (test_followed_download_not_spliced_with_another_version)
{
  assert_followed_not_spliced (FALSE, VIDEO_SIZE, "changed while it was "
      "being read");
}

GST_END_TEST;

static gboolean
wrote_the_video (gpointer data)
{
  return *(guint64 *) data >= VIDEO_SIZE;
}

/* A read-only source writes nothing, but follows a download under way
 * all the same: the host is not asked for the video a second time. */
GST_START_TEST (test_read_only_follows_download)
{
  g_autofree gchar *out_dir = g_dir_make_tmp ("luma-out-XXXXXX", NULL);
  g_autofree gchar *out = g_build_filename (out_dir, "ro.mp4", NULL);
  LumaStore *store = lumasrc_store_new ();
  LumaStoreWriter *writer = begin_writing (store, TASK);
  LumaStoreMeta meta = { NULL, };
  guint64 offset = 0;
  GPid reader;

  luma_store_writer_set_size (writer, VIDEO_SIZE);
  reader = spawn_launch (out, "store=read-only");
  wait_for_record_reads (1);
  append_until (writer, &offset, wrote_the_video, &offset);
  meta.size = VIDEO_SIZE;
  meta.kie_until = g_get_real_time () / 1000 + LUMA_STORE_KIE_RETENTION_MS;
  fail_unless (luma_store_writer_commit (writer, &meta, NULL));
  fail_unless (g_spawn_check_wait_status (luma_test_wait_for_exit (reader),
          NULL));
  assert_file_is_video (out);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), 0);
  luma_store_free (store);
  g_unlink (out);
  g_rmdir (out_dir);
}

GST_END_TEST;

/* The writer that takes an entry over, as another process would the
 * moment lumasrc saw the writer it followed stop (see
 * take_over_when_abandoned ()). */
static LumaStore *takeover_store;
static gint following;          /* atomic: lumasrc follows the first */
static LumaStoreWriter *takeover_writer;        /* atomic */
/* if set, the writer that takes over stores this other version of the
 * video (with ETag "v-new" of the same host) and completes the entry, in the hook */
static GBytes *takeover_version;

static void
complete_with_other_version (LumaStoreWriter * writer)
{
  g_autofree gchar *version = emulator_version ("\"v-new\"");
  LumaStoreMeta meta = { NULL, };

  fail_unless (luma_store_writer_restart (writer, NULL));
  luma_store_writer_set_version (writer, version);
  luma_store_writer_set_size (writer, VIDEO_SIZE);
  fail_unless (luma_store_writer_append (writer, 0, takeover_version, NULL));
  meta.size = VIDEO_SIZE;
  meta.kie_until = g_get_real_time () / 1000 + LUMA_STORE_KIE_RETENTION_MS;
  fail_unless (luma_store_writer_commit (writer, &meta, NULL));
}

/* A log function, called in lumasrc's streaming thread: it tells when
 * lumasrc follows; when lumasrc says it stopped following an abandoned
 * download, and before it begins with the entry again, another writer
 * takes the entry. Without a hook the order would be left to chance. */
static void
take_over_when_abandoned (GstDebugCategory * category, GstDebugLevel level,
    const gchar * file, const gchar * function, gint line, GObject * object,
    GstDebugMessage * message, gpointer user_data)
{
  const gchar *text;

  if (g_strcmp0 (gst_debug_category_get_name (category), "lumasrc") != 0)
    return;
  text = gst_debug_message_get (message);
  if (text != NULL && strstr (text, "following its download") != NULL)
    g_atomic_int_set (&following, TRUE);
  if (text == NULL || !g_str_has_prefix (text, "stopped following")
      || g_atomic_pointer_get (&takeover_writer) != NULL)
    return;
  if (takeover_version != NULL) {
    complete_with_other_version (begin_writing (takeover_store, TASK));
    g_atomic_pointer_set (&takeover_writer, GINT_TO_POINTER (1));
    return;
  }
  g_atomic_pointer_set (&takeover_writer, begin_writing (takeover_store, TASK));
}

/* The writer lumasrc follows stops, and another takes the entry over
 * before lumasrc can: lumasrc follows the new writer from where it was,
 * rather than read the rest from the network (one download in all; the
 * host is never asked for the video). */
GST_START_TEST (test_follows_writer_that_took_over)
{
  LumaStore *store = lumasrc_store_new ();
  LumaStoreWriter *first = begin_writing (store, TASK);
  LumaStoreWriter *second;
  ThreadRun job = { NULL, FALSE };
  LumaStoreMeta meta = { NULL, };
  g_autoptr (GBytes) half = g_bytes_new_from_bytes (fixture.video, 0,
      VIDEO_SIZE / 2);
  guint64 offset;
  GThread *thread;

  takeover_store = store;
  gst_debug_set_threshold_for_name ("lumasrc", GST_LEVEL_INFO);
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (take_over_when_abandoned, NULL, NULL);

  luma_store_writer_set_size (first, VIDEO_SIZE);
  fail_unless (luma_store_writer_append (first, 0, half, NULL));
  thread = g_thread_new ("run", run_in_thread, &job);
  while (!g_atomic_int_get (&following)) {
    fail_if (g_atomic_int_get (&job.done), "lumasrc never followed");
    g_usleep (1000);
  }
  /* stopped short, not discarded: what it wrote stays for the next */
  luma_store_writer_free (first, FALSE);

  while ((second = g_atomic_pointer_get (&takeover_writer)) == NULL) {
    fail_if (g_atomic_int_get (&job.done), "lumasrc never stopped following");
    g_usleep (1000);
  }
  offset = luma_store_writer_get_prefix (second);
  fail_unless_equals_uint64 (offset, VIDEO_SIZE / 2);
  luma_store_writer_set_size (second, VIDEO_SIZE);
  append_until (second, &offset, wrote_the_video, &offset);
  meta.size = VIDEO_SIZE;
  meta.kie_until = g_get_real_time () / 1000 + LUMA_STORE_KIE_RETENTION_MS;
  fail_unless (luma_store_writer_commit (second, &meta, NULL));
  g_thread_join (thread);

  gst_debug_remove_log_function (take_over_when_abandoned);
  gst_debug_add_log_function (gst_debug_log_default, NULL, NULL);
  luma_run_assert_output (job.run, fixture.video);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), 0);
  luma_run_free (job.run);
  luma_store_free (store);
}

GST_END_TEST;

static gboolean
handed_out_half (gpointer data)
{
  ThreadRun *job = data;

  fail_if (g_atomic_int_get (&job->done), "lumasrc stopped");
  return job->run != NULL && job->run->data->len >= VIDEO_SIZE / 2;
}

/* The writer lumasrc follows (which told ETag "v-old") stops half way,
 * and another version of the same size is stored in its place (as
 * lumasrc's own resume does when the host's ETag is another: from its
 * start): by a writer that takes the entry over and that lumasrc follows
 * on (@completed FALSE), or completed before lumasrc begins again. lumasrc
 * stops with an error rather than hand out the other version's bytes
 * after the first's. */
static void
assert_other_version_not_spliced_after_following (gboolean completed)
{
  g_autoptr (GBytes) other = luma_test_random_bytes (VIDEO_SIZE, 22);
  g_autoptr (GBytes) head = g_bytes_new_from_bytes (fixture.video, 0, 4096);
  g_autofree gchar *old_version = emulator_version ("\"v-old\"");
  LumaStore *store = lumasrc_store_new ();
  LumaStoreWriter *first = begin_writing (store, TASK);
  LumaStoreWriter *second;
  ThreadRun job = { NULL, FALSE };
  guint64 offset = 4096;
  GThread *thread;

  takeover_store = store;
  takeover_version = completed ? other : NULL;
  gst_debug_set_threshold_for_name ("lumasrc", GST_LEVEL_INFO);
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (take_over_when_abandoned, NULL, NULL);

  luma_store_writer_set_version (first, old_version);
  luma_store_writer_set_size (first, VIDEO_SIZE);
  fail_unless (luma_store_writer_append (first, 0, head, NULL));
  thread = g_thread_new ("run", run_in_thread, &job);
  while (!g_atomic_int_get (&following)) {
    fail_if (g_atomic_int_get (&job.done), "lumasrc never followed");
    g_usleep (1000);
  }
  append_until (first, &offset, handed_out_half, &job);
  luma_store_writer_free (first, FALSE);

  while ((second = g_atomic_pointer_get (&takeover_writer)) == NULL) {
    fail_if (g_atomic_int_get (&job.done), "lumasrc never stopped following");
    g_usleep (1000);
  }
  if (!completed) {
    takeover_version = other;
    fail_unless_equals_string (luma_store_writer_get_part_version (second),
        old_version);
    complete_with_other_version (second);
  }
  g_thread_join (thread);
  takeover_version = NULL;

  gst_debug_remove_log_function (take_over_when_abandoned);
  gst_debug_add_log_function (gst_debug_log_default, NULL, NULL);
  luma_run_assert_error (job.run, GST_RESOURCE_ERROR_READ,
      "changed while it was being read");
  fail_unless (job.run->data->len < VIDEO_SIZE);
  fail_unless (memcmp (job.run->data->data, g_bytes_get_data (fixture.video,
              NULL), job.run->data->len) == 0,
      "bytes of the other version went out");
  luma_run_free (job.run);
  luma_store_free (store);
}

GST_START_TEST (test_taken_over_by_another_version_not_spliced)
{
  assert_other_version_not_spliced_after_following (FALSE);
}

GST_END_TEST;

GST_START_TEST (test_completed_as_another_version_not_spliced)
{
  assert_other_version_not_spliced_after_following (TRUE);
}

GST_END_TEST;

/* Another writer tells a size (4096 bytes) and writes more: lumasrc,
 * following it, stops with an error that says so, rather than hand out
 * bytes it cannot vouch for. The writer goes on writing until lumasrc has
 * stopped, whenever lumasrc begins to follow it. */
GST_START_TEST (test_follower_refuses_writer_past_its_size)
{
  LumaStore *store = lumasrc_store_new ();
  LumaStoreWriter *writer = begin_writing (store, TASK);
  ThreadRun job = { NULL, FALSE };
  guint64 offset = 0;
  GThread *thread;

  luma_store_writer_set_size (writer, 4096);
  thread = g_thread_new ("run", run_in_thread, &job);
  append_until (writer, &offset, run_is_done, &job);
  g_thread_join (thread);
  luma_run_assert_error (job.run, GST_RESOURCE_ERROR_READ,
      "not what it was said to be");
  luma_run_free (job.run);
  luma_store_writer_free (writer, TRUE);
  luma_store_free (store);
}

GST_END_TEST;

/* Over store-limit: an only copy (KIE deleted it) goes, with a warning
 * that names its task. */
GST_START_TEST (test_eviction_warns_only_copy)
{
  LumaStore *store = lumasrc_store_new ();
  LumaStoreWriter *writer = begin_writing (store, "t-old");
  LumaStoreMeta meta = { NULL, };
  LumaRun *run;

  /* an old task's only copy, written as lumasrc would have */
  fail_unless (luma_store_writer_append (writer, 0, fixture.video, NULL));
  meta.size = VIDEO_SIZE;
  meta.kie_until = 1;
  fail_unless (luma_store_writer_commit (writer, &meta, NULL));
  luma_store_free (store);

  run = run_task ("store-limit", 1, NULL);
  luma_run_assert_output (run, fixture.video);
  fail_unless (has_warning_with (run, "t-old"), "no warning names t-old");
  luma_run_free (run);
  assert_stored ();
}

GST_END_TEST;

static guint
count_files_named (const gchar * path, const gchar * wanted)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;
  guint count = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    g_autofree gchar *child = g_build_filename (path, name, NULL);

    if (g_file_test (child, G_FILE_TEST_IS_DIR))
      count += count_files_named (child, wanted);
    else if (g_strcmp0 (name, wanted) == 0)
      count++;
  }
  return count;
}

/* GST_LUMA_STORE_DIR pointed at a folder of the user's, with a limit
 * smaller than what the folder holds: the video is stored all the same,
 * and nothing of the user's is removed, not even files that bear the
 * store's names. */
GST_START_TEST (test_store_in_a_user_folder)
{
  g_autofree gchar *holiday = g_build_filename (store_dir (), "Holiday",
      "2024", NULL);
  g_autofree gchar *clip = g_build_filename (holiday, "video", NULL);
  g_autofree gchar *notes = g_build_filename (holiday, "meta.json", NULL);
  g_autoptr (GBytes) mine = luma_test_random_bytes (2 * 1024 * 1024, 5);
  g_autofree gchar *contents = NULL;
  gsize length;
  guint videos;
  LumaRun *run;

  fail_unless (g_mkdir_with_parents (holiday, 0700) == 0);
  fail_unless (g_file_set_contents (clip, g_bytes_get_data (mine, NULL),
          g_bytes_get_size (mine), NULL));
  fail_unless (g_file_set_contents (notes, "{\"note\": \"mine\"}", -1, NULL));

  run = run_task ("store-limit", 1, NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  fail_unless (g_file_get_contents (clip, &contents, &length, NULL));
  fail_unless (length == g_bytes_get_size (mine)
      && memcmp (contents, g_bytes_get_data (mine, NULL), length) == 0);
  fail_unless (g_file_test (notes, G_FILE_TEST_EXISTS));
  fail_unless_equals_int (count_files_named (store_dir (), "video"), 2);

  /* and the task opens from the store */
  videos = luma_emulator_get_video_requests (fixture.em, TASK);
  fail_video_host ();
  run = run_task (NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), videos);
}

GST_END_TEST;

/* Leaves a `.part` that holds the whole video, its size told
 * in this boot, as a run stopped between the last byte and the rename. */
static void
leave_a_complete_part (void)
{
  LumaStore *store = lumasrc_store_new ();
  LumaStoreWriter *writer = begin_writing (store, TASK);

  fail_unless (luma_store_writer_append (writer, 0, fixture.video, NULL));
  luma_store_writer_set_size (writer, VIDEO_SIZE);
  luma_store_writer_free (writer, FALSE);
  luma_store_free (store);
}

/* A `.part` that holds the whole video (a run stopped between its last
 * byte and the rename) is completed as it is at the next open, and the
 * video read from it: not downloaded again. */
GST_START_TEST (test_complete_part_not_downloaded_again)
{
  LumaRun *run;
  guint videos;

  leave_a_complete_part ();
  videos = luma_emulator_get_video_requests (fixture.em, TASK);

  run = run_task (NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), videos);
  assert_stored ();
}

GST_END_TEST;

/* A `.part` that holds the whole file its writer told, larger
 * than store-limit (lowered since), while the host now has another file:
 * the .part is not kept (a video larger than the limit is not), and the
 * host's file plays. Nothing was read from the .part, so nothing would be
 * spliced: it is no "changed while it was being read" error. */
GST_START_TEST (test_complete_part_over_the_limit_of_another_file)
{
  g_autoptr (GBytes) old = luma_test_random_bytes (1024 * 1024 + 1, 24);
  LumaStore *store = lumasrc_store_new ();
  LumaStoreWriter *writer = begin_writing (store, TASK);
  LumaRun *run;

  fail_unless (luma_store_writer_append (writer, 0, old, NULL));
  luma_store_writer_set_size (writer, g_bytes_get_size (old));
  luma_store_writer_free (writer, FALSE);
  luma_store_free (store);

  run = luma_run_new (fixture.em, TASK, NULL);
  g_object_set (run->src, "store-limit", 1, NULL);
  luma_run_until_done (run, 60);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
}

GST_END_TEST;

/* TASK sought to its last 1000 bytes while the first open of its stored
 * video waits for the disk (a slow fdatasync), and streamed to its end,
 * without a key with @no_key. */
static LumaRun *
seek_during_a_slow_first_open (gboolean no_key)
{
  LumaRun *run;

  luma_test_stage_slow_sync (1500);
  run = luma_run_new (fixture.em, TASK, NULL);
  if (no_key)
    g_object_set (run->src, "api-key", NULL, NULL);
  gst_element_set_state (run->pipeline, GST_STATE_PAUSED);
  luma_test_wait_for_a_sync ();
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, VIDEO_SIZE - 1000));
  luma_run_until_done (run, 60);
  luma_test_stage_slow_sync (0);
  luma_run_assert_output_from (run, fixture.video, VIDEO_SIZE - 1000);
  return run;
}

/* A seek while the completed `.part` is first opened (its hash,
 * its sync) cuts that open: the video is still read from the store, as
 * after a seek during any first open (test_seek_during_first_open_stays_
 * offline), not downloaded again from the network. */
GST_START_TEST (test_seek_during_completion_reads_the_store)
{
  LumaRun *run;
  guint videos;

  leave_a_complete_part ();
  videos = luma_emulator_get_video_requests (fixture.em, TASK);

  run = seek_during_a_slow_first_open (FALSE);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), videos);
  assert_stored ();
}

GST_END_TEST;

/* The path of the one `.part` under @dir, or NULL. */
static gchar *
find_part (const gchar * dir)
{
  g_autoptr (GDir) children = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while (children != NULL && (name = g_dir_read_name (children)) != NULL) {
    g_autofree gchar *child = g_build_filename (dir, name, NULL);
    gchar *found = NULL;

    if (strcmp (name, "video.part") == 0)
      return g_steal_pointer (&child);
    if (g_file_test (child, G_FILE_TEST_IS_DIR)
        && (found = find_part (child)) != NULL)
      return found;
  }
  return NULL;
}

/* @data: a size */
static gboolean
part_reaches (gconstpointer data)
{
  g_autofree gchar *part = find_part (store_dir ());
  GStatBuf st;

  return part != NULL && g_stat (part, &st) == 0
      && (gsize) st.st_size >= GPOINTER_TO_SIZE (data);
}

/* A `.part` resumed over store-limit: room is made before its first
 * append, as for a download from the start, so that the store stays
 * within its limit while it writes (here while the host stalls the
 * resume), not only once the video is complete. */
GST_START_TEST (test_resumed_part_makes_room)
{
  g_autoptr (GBytes) other = luma_test_random_bytes (VIDEO_SIZE, 23);
  LumaEmulatorVideoFaults stall = {.stall = TRUE,.stall_after = 300000 };
  LumaStore *store = lumasrc_store_new ();
  gsize part_size = leave_a_part ();
  LumaRun *run;

  /* another task's video, which KIE still has: the first to go */
  luma_test_add_ready_task (fixture.em, "t-other", other);
  run = luma_run_new (fixture.em, "t-other", NULL);
  g_object_set (run->src, "store-limit", 1, NULL);
  luma_run_until_done (run, 60);
  luma_run_assert_output (run, other);
  luma_run_free (run);
  fail_unless_equals_int (count_files_named (store_dir (), "video"), 1);

  luma_emulator_set_video_faults (fixture.em, TASK, &stall);
  run = luma_run_new (fixture.em, TASK, NULL);
  g_object_set (run->src, "store-limit", 1, NULL);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  fail_unless (luma_test_wait_until (part_reaches,
          GSIZE_TO_POINTER (part_size + 300000), 30),
      "the resume stalled early");
  fail_unless (luma_store_get_usage (store) <= 1024 * 1024,
      "the store holds %" G_GUINT64_FORMAT " bytes, over its limit",
      luma_store_get_usage (store));
  luma_run_free (run);
  luma_store_free (store);
}

GST_END_TEST;

/* A video larger than store-limit is streamed, not stored, and nothing
 * else is evicted for it. */
GST_START_TEST (test_larger_than_limit_not_stored)
{
  g_autoptr (GBytes) big = luma_test_random_bytes (1024 * 1024 + 1, 3);
  LumaRun *run;

  stream_once ();
  luma_test_add_ready_task (fixture.em, "t-big", big);
  run = luma_run_new (fixture.em, "t-big", NULL);
  g_object_set (run->src, "store-limit", 1, NULL);
  luma_run_until_done (run, 60);
  luma_run_assert_output (run, big);
  fail_unless_equals_int (run->warnings->len, 0);
  luma_run_free (run);
  /* the store still holds TASK's video, and no other */
  fail_unless_equals_int (count_files_named (store_dir (), "video"), 1);
  fail_unless_equals_int (count_files_named (store_dir (), "video.part"), 0);
}

GST_END_TEST;

/* A full disk: a tmpfs of 256 KiB, for a video of 700 KiB. */
static gchar *
mount_small_disk (void)
{
  gchar *mount_dir = g_dir_make_tmp ("luma-tmpfs-XXXXXX", NULL);

  fail_unless (mount ("tmpfs", mount_dir, "tmpfs", 0, "size=256k") == 0,
      "this test needs a small tmpfs: mount -t tmpfs -o size=256k failed "
      "(%s); run it as root, as CI does", g_strerror (errno));
  return mount_dir;
}

static void
unmount_small_disk (gchar * mount_dir)
{
  umount2 (mount_dir, MNT_DETACH);
  g_rmdir (mount_dir);
  g_free (mount_dir);
}

/* @data: a store's directory */
static gboolean
has_no_part (gconstpointer data)
{
  g_autofree gchar *dir = entry_dir (data);
  g_autofree gchar *part = dir ? g_build_filename (dir, "video.part",
      NULL) : NULL;

  return part == NULL || !g_file_test (part, G_FILE_TEST_EXISTS);
}

/* A store on a full disk: a warning, and the stream goes on to its end,
 * every byte right, no .part left. */
GST_START_TEST (test_disk_full_keeps_playing)
{
  gchar *mount_dir = mount_small_disk ();
  LumaRun *run;

  run = run_task ("store-dir", mount_dir, NULL);
  luma_run_assert_output (run, fixture.video);
  fail_unless (has_warning_with (run, "not stored"), "no warning");
  fail_unless (has_warning_with (run, TASK));
  luma_run_free (run);
  fail_unless (has_no_part (mount_dir), "a .part was left behind");
  unmount_small_disk (mount_dir);
}

GST_END_TEST;

/* The disk fills up while the bytes a seek skipped are stored in the
 * background: the clip plays on, every byte right, no .part is left, and
 * the warning that names the task comes at the latest when it stops. */
GST_START_TEST (test_disk_full_during_fill_keeps_playing)
{
  gchar *mount_dir = mount_small_disk ();
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);

  g_object_set (run->src, "store-dir", mount_dir, "blocksize", 4096, NULL);
  luma_run_preroll (run, 20);
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, VIDEO_SIZE / 2));
  luma_run_until_done (run, 30);
  luma_run_assert_output_from (run, fixture.video, VIDEO_SIZE / 2);
  fail_unless (luma_test_wait_until (has_no_part, mount_dir, 30),
      "the .part of a full disk was kept");
  gst_element_set_state (run->pipeline, GST_STATE_READY);
  luma_run_drain_bus (run);
  fail_unless (has_warning_with (run, "not stored"), "no warning");
  fail_unless (has_warning_with (run, TASK));
  luma_run_free (run);
  fail_unless (has_no_part (mount_dir), "a .part was left behind");
  unmount_small_disk (mount_dir);
}

GST_END_TEST;

/* A file size limit (`ulimit -f`) below the video's size is a full disk
 * too: a warning, and the stream goes on to its end. Before, the first
 * append past the limit had the kernel kill the process (SIGXFSZ). */
GST_START_TEST (test_file_size_limit_keeps_playing)
{
  LumaRun *run;

  luma_test_limit_file_size (VIDEO_SIZE / 2);
  run = run_task (NULL);
  luma_run_assert_output (run, fixture.video);
  fail_unless (has_warning_with (run, "not stored"), "no warning");
  fail_unless (has_warning_with (run, TASK));
  luma_run_free (run);
  fail_unless (has_no_part (store_dir ()), "a .part was left behind");
}

GST_END_TEST;

/* No folder for the store (HOME relative, XDG_DATA_HOME and
 * GST_LUMA_STORE_DIR unset): the video plays, and a warning says the store
 * is off. Before, it was off without a word. In a process of its own:
 * GLib reads HOME once. */
GST_START_TEST (test_no_folder_for_the_store_warns)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (fixture.em);
  g_autofree gchar *api_url_arg = g_strconcat ("api-url=", api_url, NULL);
  const gchar *argv[] = { "gst-launch-1.0", "lumasrc", api_url_arg,
    "task-id=" TASK, "poll-interval=10", "!", "fakesink", NULL
  };
  g_auto (GStrv) envp = g_get_environ ();
  g_autofree gchar *out = NULL;
  g_autoptr (GError) error = NULL;
  gint status;

  envp = g_environ_setenv (envp, "KIE_API_KEY", TEST_KEY, TRUE);
  envp = g_environ_setenv (envp, "HOME", "relative/home", TRUE);
  envp = g_environ_unsetenv (envp, "XDG_DATA_HOME");
  envp = g_environ_unsetenv (envp, "GST_LUMA_STORE_DIR");
  fail_unless (g_spawn_sync (NULL, (gchar **) argv, envp,
          G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
          NULL, &status, &error), "%s", error ? error->message : "");
  fail_unless (g_spawn_check_wait_status (status, NULL), "%s", out);
  fail_unless (strstr (out, "The store is off") != NULL
      && strstr (out, "GST_LUMA_STORE_DIR") != NULL, "no warning: %s", out);
  fail_if (has_entry (store_dir ()), "stored in the test's store");
}

GST_END_TEST;

/* store=off: no file, not even the directory, and every open downloads. */
GST_START_TEST (test_off_touches_nothing)
{
  g_autofree gchar *dir = g_build_filename (store_dir (), "never", NULL);
  LumaRun *run;
  guint i;

  for (i = 0; i < 2; i++) {
    run = run_task ("store", GST_LUMA_STORE_MODE_OFF, "store-dir", dir, NULL);
    luma_run_assert_output (run, fixture.video);
    luma_run_free (run);
  }
  fail_if (g_file_test (dir, G_FILE_TEST_EXISTS));
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          TASK), 2);
}

GST_END_TEST;

/* read-only serves a stored video, and writes nothing: not when it
 * serves one, not when it streams one it does not hold. */
GST_START_TEST (test_read_only_never_writes)
{
  g_autofree gchar *before = NULL;
  g_autofree gchar *after = NULL;
  LumaRun *run;

  run = run_task ("store", GST_LUMA_STORE_MODE_READ_ONLY, NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  fail_if (has_entry (store_dir ()), "read-only stored a video");

  stream_once ();
  before = luma_test_describe_tree (store_dir ());
  fail_video_host ();
  g_usleep (20000);
  run = run_task ("store", GST_LUMA_STORE_MODE_READ_ONLY, NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  after = luma_test_describe_tree (store_dir ());
  fail_unless_equals_string (after, before);
}

GST_END_TEST;

/* meta.json is a file anyone may have edited: what it says reaches the
 * bus, the tags and the result-url property only as safe text (valid
 * UTF-8, no control characters), as a record's would. JSON's \ud800 (a
 * lone surrogate) decodes to bytes that are not UTF-8. */
static void
write_meta_with (const gchar * prompt_json, const gchar * url_json)
{
  g_autofree gchar *path = entry_file ("meta.json");
  g_autofree gchar *text = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  JsonObject *object;
  g_autoptr (GString) edited = NULL;
  g_autofree gchar *generated = NULL;

  fail_unless (g_file_get_contents (path, &text, NULL, NULL));
  fail_unless (json_parser_load_from_data (parser, text, -1, NULL));
  object = json_node_get_object (json_parser_get_root (parser));
  json_object_set_string_member (object, "prompt", "PROMPT");
  json_object_set_string_member (object, "result-url", "URL");
  json_generator_set_root (generator, json_parser_get_root (parser));
  generated = json_generator_to_data (generator, NULL);
  edited = g_string_new (generated);
  fail_unless (g_string_replace (edited, "\"PROMPT\"", prompt_json, 1) == 1);
  fail_unless (g_string_replace (edited, "\"URL\"", url_json, 1) == 1);
  fail_unless (g_file_set_contents (path, edited->str, -1, NULL));
}

static void
assert_tag_is_safe (LumaRun * run, const gchar * tag)
{
  g_autofree gchar *value = NULL;

  if (gst_tag_list_get_string (run->tags, tag, &value))
    fail_unless (luma_text_is_safe (value), "the %s tag is not safe text", tag);
}

/* completeTime is the API's to write: one at the end of gint64's range
 * must not overflow (undefined behaviour) when the store adds KIE's
 * retention to it, nor give a kie-until before the completion. */
GST_START_TEST (test_huge_complete_time_does_not_overflow)
{
  g_autofree gchar *base = luma_emulator_get_video_url_base (fixture.em);
  g_autofree gchar *body = g_strdup_printf ("{\"code\":200,\"msg\":\"success\","
      "\"data\":{\"taskId\":\"" TASK "\",\"successFlag\":1,"
      "\"completeTime\":9223372036854775807,\"response\":{\"resultUrls\":"
      "[\"%s/r/" TASK "/1.mp4\"]}}}", base);
  g_autofree gchar *path = NULL;
  g_autofree gchar *text = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *meta;
  LumaRun *run;

  luma_emulator_push_record_reply (fixture.em, TASK, 200, NULL, NULL, body);
  run = run_task (NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  path = entry_file ("meta.json");
  fail_unless (g_file_get_contents (path, &text, NULL, NULL));
  fail_unless (json_parser_load_from_data (parser, text, -1, NULL));
  meta = json_node_get_object (json_parser_get_root (parser));
  fail_unless (json_object_get_int_member (meta, "kie-until") >= 0,
      "kie-until %" G_GINT64_FORMAT " wrapped around",
      json_object_get_int_member (meta, "kie-until"));
}

GST_END_TEST;

GST_START_TEST (test_edited_meta_gives_safe_text)
{
  LumaRun *run;
  g_autofree gchar *location = NULL;
  g_autofree gchar *description = NULL;

  stream_once ();
  write_meta_with ("\"a \\ud800 b \\u0007\\u001b[2J c\"",
      "\"http://127.0.0.1/\\u0000\\r\\nX: y\"");
  fail_video_host ();

  run = run_task ("api-key", NULL, NULL);
  luma_run_assert_output (run, fixture.video);
  assert_tag_is_safe (run, GST_TAG_DESCRIPTION);
  fail_unless (gst_tag_list_get_string (run->tags, GST_TAG_DESCRIPTION,
          &description), "the prompt was not told at all");
  fail_unless (strstr (description, " c") != NULL, "%s", description);
  g_object_get (run->src, "result-url", &location, NULL);
  fail_unless (location == NULL || luma_text_is_safe (location),
      "an unsafe result-url: %s", location);
  luma_run_free (run);
}

GST_END_TEST;

/* A stored task's tags are the ones a poll gave: the prompt, the clip it
 * modified (GST_TAG_LOCATION) and when KIE completed it. */
static gchar *
tag_text (LumaRun * run, const gchar * tag)
{
  g_autoptr (GstDateTime) when = NULL;
  gchar *text = NULL;

  if (g_strcmp0 (tag, GST_TAG_DATE_TIME) == 0) {
    if (gst_tag_list_get_date_time (run->tags, tag, &when))
      return gst_date_time_to_iso8601_string (when);
    return NULL;
  }
  gst_tag_list_get_string (run->tags, tag, &text);
  return text;
}

GST_START_TEST (test_stored_open_tags_as_polled)
{
  static const gchar *tags[] = { GST_TAG_DESCRIPTION, GST_TAG_LOCATION,
    GST_TAG_DATE_TIME
  };
  LumaRun *polled = run_task (NULL);
  LumaRun *stored;
  guint i;

  luma_run_assert_output (polled, fixture.video);
  fail_video_host ();
  stored = run_task ("api-key", NULL, NULL);
  luma_run_assert_output (stored, fixture.video);
  for (i = 0; i < G_N_ELEMENTS (tags); i++) {
    /* not "first": gstcheck's macro declares a variable of that name */
    g_autofree gchar *after_poll = tag_text (polled, tags[i]);
    g_autofree gchar *from_store = tag_text (stored, tags[i]);

    fail_unless (after_poll != NULL, "no %s tag after a poll", tags[i]);
    fail_unless_equals_string (from_store, after_poll);
  }
  luma_run_free (stored);
  luma_run_free (polled);
}

GST_END_TEST;

GST_START_TEST (test_store_holds_no_key)
{
  stream_once ();
  fail_unless (has_entry (store_dir ()));
  fail_if (luma_test_tree_holds (store_dir (), TEST_KEY));
}

GST_END_TEST;

/* What the store properties read: the property set, else the variable. */
static void
check_effective (GstLumaStoreMode mode, const gchar * dir, guint limit,
    const gchar * first, ...)
{
  GstElement *src = gst_element_factory_make ("lumasrc", NULL);
  g_autofree gchar *read_dir = NULL;
  GstLumaStoreMode read_mode;
  guint read_limit;
  va_list args;

  va_start (args, first);
  if (first != NULL)
    g_object_set_valist (G_OBJECT (src), first, args);
  va_end (args);
  g_object_get (src, "store", &read_mode, "store-dir", &read_dir,
      "store-limit", &read_limit, NULL);
  fail_unless_equals_int (read_mode, mode);
  fail_unless_equals_string (read_dir, dir);
  fail_unless_equals_int (read_limit, limit);
  gst_object_unref (src);
}

/* The variables apply where the property is unset; a property wins. */
GST_START_TEST (test_environment)
{
  g_autofree gchar *env_dir = g_build_filename (store_dir (), "env", NULL);
  g_autofree gchar *prop_dir = g_build_filename (store_dir (), "prop", NULL);
  LumaRun *run;

  g_setenv ("GST_LUMA_STORE_DIR", env_dir, TRUE);
  g_setenv ("GST_LUMA_STORE", "off", TRUE);
  g_setenv ("GST_LUMA_STORE_LIMIT", "7", TRUE);
  check_effective (GST_LUMA_STORE_MODE_OFF, env_dir, 7, NULL);
  check_effective (GST_LUMA_STORE_MODE_READ_ONLY, prop_dir, 9,
      "store", GST_LUMA_STORE_MODE_READ_ONLY, "store-dir", prop_dir,
      "store-limit", 9, NULL);
  g_unsetenv ("GST_LUMA_STORE_LIMIT");
  run = run_task (NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  fail_if (g_file_test (env_dir, G_FILE_TEST_EXISTS), "GST_LUMA_STORE=off");

  run = run_task ("store", GST_LUMA_STORE_MODE_ON, NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  fail_unless (has_entry (env_dir), "GST_LUMA_STORE_DIR unused");

  g_setenv ("GST_LUMA_STORE", "on", TRUE);
  run = run_task ("store-dir", prop_dir, NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  fail_unless (has_entry (prop_dir), "store-dir lost to the variable");
}

GST_END_TEST;

static void
check_bad_variable (const gchar * name, const gchar * value)
{
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  g_autofree gchar *was = g_strdup (g_getenv (name));

  g_setenv (name, value, TRUE);
  fail_unless_equals_int (gst_element_set_state (run->pipeline,
          GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  luma_run_drain_bus (run);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, name);
  luma_run_free (run);
  if (was != NULL)
    g_setenv (name, was, TRUE);
  else
    g_unsetenv (name);
}

GST_START_TEST (test_bad_variables)
{
  check_bad_variable ("GST_LUMA_STORE", "maybe");
  check_bad_variable ("GST_LUMA_STORE_LIMIT", "lots");
  check_bad_variable ("GST_LUMA_STORE_LIMIT", "-1");
  check_bad_variable ("GST_LUMA_STORE_DIR", "gst-luma-results");
}

GST_END_TEST;

/* With the store off, its folder is not looked at: a relative one is no
 * error then. */
GST_START_TEST (test_relative_folder_of_a_store_off_is_no_error)
{
  LumaRun *run;

  g_setenv ("GST_LUMA_STORE_DIR", "gst-luma-results", TRUE);
  run = run_task ("store", GST_LUMA_STORE_MODE_OFF, NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  fail_if (g_file_test ("gst-luma-results", G_FILE_TEST_EXISTS));
}

GST_END_TEST;

/* a run stopped while its resume of a .part asks the host for
 * the rest (the answer held back) leaves the .part "for the next begin":
 * the next run resumes it, rather than drop it and download it all. */
GST_START_TEST (test_stop_during_resume_keeps_it_resumable)
{
  LumaEmulatorVideoFaults held = {.stall = TRUE };
  LumaEmulatorVideoFaults none = { 0 };
  g_autofree gchar *range = NULL;
  g_autofree gchar *expected = NULL;
  LumaRun *run;
  guint requests;

  expected = g_strdup_printf ("bytes=%" G_GSIZE_FORMAT "-", leave_a_part ());
  luma_emulator_set_video_faults (fixture.em, TASK, &held);
  requests = luma_emulator_get_video_requests (fixture.em, TASK);
  run = luma_run_new (fixture.em, TASK, NULL);
  gst_element_set_state (run->pipeline, GST_STATE_PAUSED);
  wait_for_a_video_request (requests);
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  luma_run_free (run);
  luma_emulator_set_video_faults (fixture.em, TASK, &none);

  run = run_task (NULL);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless_equals_string (range, expected);
}

GST_END_TEST;

/* a result host that answers with an empty file (a glitch of a
 * CDN): not kept as the task's video, which every later run would serve
 * without a poll. */
GST_START_TEST (test_empty_result_not_stored)
{
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  LumaRun *run;
  g_autofree gchar *dir = NULL;
  g_autofree gchar *video = NULL;

  luma_test_add_ready_task (fixture.em, "t-empty", empty);
  run = luma_run_new (fixture.em, "t-empty", NULL);
  luma_run_until_done (run, 60);
  GST_INFO ("eos %d error %p, %u bytes", run->eos, run->error, run->data->len);
  luma_run_free (run);
  dir = entry_dir (store_dir ());
  video = dir ? g_build_filename (dir, "video", NULL) : NULL;
  fail_if (video != NULL && g_file_test (video, G_FILE_TEST_EXISTS),
      "an empty video was stored as the task's whole video: %s", video);
}

GST_END_TEST;

/* room made for a video before its first byte evicts an only
 * copy (KIE deleted it); the download then fails (the host drops the
 * connection and answers 410 after): the only copy is gone, and nothing
 * took its place. */
GST_START_TEST (test_only_copy_not_evicted_for_a_failed_download)
{
  LumaStore *store = lumasrc_store_new ();
  LumaStoreWriter *writer = begin_writing (store, "t-old");
  LumaEmulatorVideoFaults faults = { 0, };
  LumaStoreMeta meta = { NULL, };
  LumaStoreReader *reader;
  LumaRun *run;

  fail_unless (luma_store_writer_append (writer, 0, fixture.video, NULL));
  meta.size = VIDEO_SIZE;
  meta.kie_until = 1;
  fail_unless (luma_store_writer_commit (writer, &meta, NULL));

  faults.drop_after = 64 * 1024;
  faults.drop_count = G_MAXUINT;
  faults.drop_fail_status = 410;
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
  run = run_task ("store-limit", 1, NULL);
  fail_unless (run->error != NULL, "the download did not fail");
  GST_INFO ("only copy warned about: %d", has_warning_with (run, "t-old"));
  luma_run_free (run);

  reader = luma_store_open (store, "t-old", NULL, NULL);
  fail_unless (reader != NULL, "the only copy of t-old was evicted for a "
      "video that was never stored");
  luma_store_reader_free (reader);
  luma_store_free (store);
}

GST_END_TEST;

/* a stored video whose meta.json cannot be read (damaged, edited,
 * too large, unreadable): a run whose download then fails (KIE deleted
 * the file; the record still answers) must leave the video where it was,
 * not remove it before a byte of its replacement arrived. */
GST_START_TEST (test_video_kept_until_replaced)
{
  g_autofree gchar *video = NULL;
  g_autofree gchar *meta = NULL;
  LumaRun *run;

  stream_once ();
  video = entry_file ("video");
  meta = entry_file ("meta.json");
  fail_unless (g_file_set_contents (meta, "{\"task-id\": \"t-stored\", ",
          -1, NULL));
  fail_video_host ();

  run = run_task (NULL);
  GST_INFO ("error: %p", run->error);
  luma_run_free (run);
  fail_unless (g_file_test (video, G_FILE_TEST_EXISTS),
      "the stored video was removed, and nothing replaced it");
}

GST_END_TEST;

/* Sets @name in the entry's meta.json to @value (-1: null), as another
 * program might. */
static void
set_meta_number (const gchar * name, gint64 value)
{
  g_autofree gchar *meta_path = entry_file ("meta.json");
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  JsonObject *object;

  fail_unless (json_parser_load_from_file (parser, meta_path, NULL));
  object = json_node_get_object (json_parser_get_root (parser));
  if (value < 0)
    json_object_set_null_member (object, name);
  else
    json_object_set_int_member (object, name, value);
  json_generator_set_root (generator, json_parser_get_root (parser));
  fail_unless (json_generator_to_file (generator, meta_path, NULL));
}

/* a damaged only copy (KIE deleted the file: kie-until past, the
 * video host answers 404): "dropped and downloaded again while KIE still
 * has it" -- once KIE has it no more, the copy is all there is. */
GST_START_TEST (test_damaged_only_copy_kept)
{
  g_autofree gchar *video = NULL;
  LumaRun *run;

  stream_once ();
  video = entry_file ("video");
  set_meta_number ("kie-until", 1);
  luma_test_flip_byte (video, 1000);
  fail_video_host ();

  run = run_task (NULL);
  luma_run_free (run);
  fail_unless (g_file_test (video, G_FILE_TEST_EXISTS),
      "the only copy (one byte off) was dropped");
}

GST_END_TEST;

/* A stored video cut short while it is read, with a key: the rest
 * comes from the network, after a read of the task's record. A flushing
 * seek made while that read waits (a server's Retry-After) left the
 * element streaming from a stream without a URL: a CRITICAL
 * (luma_stream_open: stream->uri != NULL) and an error without a GError,
 * which fail_at () read (a crash). The video is to come out whole. */
GST_START_TEST (test_seek_while_the_rest_is_asked_for)
{
  g_autofree gchar *video = NULL;
  g_autoptr (GstBus) bus = NULL;
  GstMessage *warning;
  LumaRun *run;
  guint records;

  /* stored by another process: this one has not seen the task yet */
  fail_unless (g_spawn_check_wait_status (luma_test_wait_for_exit
          (spawn_launch (NULL, NULL)), NULL));
  assert_stored ();
  video = entry_file ("video");
  records = luma_emulator_get_record_requests (fixture.em, TASK);
  luma_emulator_push_record_reply (fixture.em, TASK, 429, "5", NULL,
      "{\"code\":429,\"msg\":\"slow down\"}");

  run = luma_run_new (fixture.em, TASK, NULL);
  g_object_set (run->src, "blocksize", 4096, NULL);
  luma_run_preroll (run, 20);
  fail_unless (truncate (video, VIDEO_SIZE / 2) == 0);
  bus = gst_element_get_bus (run->pipeline);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  warning = gst_bus_timed_pop_filtered (bus, 20 * GST_SECOND,
      GST_MESSAGE_WARNING | GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  fail_unless (warning != NULL
      && GST_MESSAGE_TYPE (warning) == GST_MESSAGE_WARNING);
  gst_message_unref (warning);
  /* the record is being read: KIE asked to wait (5 s, which the read
   * after the seek honours too) */
  while (luma_emulator_get_record_requests (fixture.em, TASK) == records)
    g_usleep (10000);
  g_usleep (200000);

  /* emptied while the element waits, before the seek: after it, the
   * stored bytes flow at once, and a test thread slower than them (under
   * valgrind) would empty what came of them */
  g_byte_array_set_size (run->data, 0);
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, 1000));
  luma_run_until_done (run, 60);
  luma_run_assert_output_from (run, fixture.video, 1000);
  fail_unless (run->offsets_contiguous);
  luma_run_free (run);
}

GST_END_TEST;

/* A stored task opens offline, and seeks by reading the file
 * (docs/lumasrc.md). The first open after writing hashes the video and
 * syncs it; a flushing seek made meanwhile (an editor seeks its clip to
 * its in-point at once) cuts the open, and the store is looked at again
 * after the flush: not a "No KIE API key" error (nor, with a key, a
 * poll), though the store holds the video. */
GST_START_TEST (test_seek_during_first_open_stays_offline)
{
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  guint records;

  luma_run_until_done (run, 60);
  fail_unless (run->eos);
  luma_run_free (run);
  assert_stored ();
  records = luma_emulator_get_record_requests (fixture.em, TASK);

  run = seek_during_a_slow_first_open (TRUE);
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          TASK), records);
  luma_run_free (run);
}

GST_END_TEST;

/* The longest wait between two buffers, in µs. */
static gint64 last_buffer_time;
static gint64 longest_gap;

/* Slows the source's streaming thread down (a clip played in real time):
 * @data microseconds a buffer; and times the gaps between buffers. */
static GstPadProbeReturn
time_buffers (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  gint64 now = g_get_monotonic_time ();

  if (last_buffer_time > 0)
    longest_gap = MAX (longest_gap, now - last_buffer_time);
  last_buffer_time = now;
  g_usleep (GPOINTER_TO_UINT (data));
  return GST_PAD_PROBE_OK;
}

/* A run of TASK, 4096 bytes a buffer, from a host that refuses (403, an
 * expired URL) every request after the preroll's that begins in the
 * video's first half: a fill's, not a seek's into the second half. */
static LumaRun *
new_run_expiring_fills (void)
{
  LumaEmulatorVideoFaults expired = {.fail_status = 403,
    .fail_count = G_MAXUINT,.fail_after = 1,.only_below = VIDEO_SIZE / 2
  };
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);

  g_object_set (run->src, "blocksize", 4096, NULL);
  luma_emulator_set_video_faults (fixture.em, TASK, &expired);
  return run;
}

/* A trimmed clip of new_run_expiring_fills (), from its middle to its end,
 * @buffer_sleep_us after each buffer: every byte played, and the whole
 * video stored while the clip is open. */
static void
play_trimmed_clip_expiring_fills (guint buffer_sleep_us)
{
  LumaRun *run = new_run_expiring_fills ();
  g_autoptr (GstPad) pad = gst_element_get_static_pad (run->src, "src");
  g_autofree gchar *dir = NULL;

  luma_run_preroll (run, 20);
  if (buffer_sleep_us > 0)
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, time_buffers,
        GUINT_TO_POINTER (buffer_sleep_us), NULL);
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, VIDEO_SIZE / 2));
  luma_run_until_done (run, 60);
  luma_run_assert_output_from (run, fixture.video, VIDEO_SIZE / 2);
  dir = entry_dir (store_dir ());
  fail_unless (luma_test_wait_until (entry_has_video, dir, 10),
      "the trimmed clip was not stored whole while it was open (%u video "
      "requests, %u fresh links asked for)",
      luma_emulator_get_video_requests (fixture.em, TASK),
      luma_emulator_get_download_url_requests (fixture.em));
  luma_run_free (run);
  assert_stored ();
}

/* The result URL expires while a trimmed clip plays on over the
 * answer it opened before (KIE's fresh links last 20 minutes): every
 * request of the bytes the seek skipped is refused (403), the seek's own
 * answer is not. The source reads no URL that expired, so it renews
 * none: each fill was tried again with the URL that was refused, and the
 * video was never stored whole, though a fresh link would serve it. */
GST_START_TEST (test_fill_renews_an_expired_url)
{
  /* 86 buffers after the seek: 4 s, time for three fills */
  play_trimmed_clip_expiring_fills (50000);
}

GST_END_TEST;

/* The same, for a clip that is read to its end at once and then sits
 * idle (an editor's clip that played): the fill's own first request meets
 * the expired URL (as one does that waited in line past the URL's life).
 * Before, no read came after it to try the fill again, and the video
 * stayed a `.part` for as long as the clip was open. */
GST_START_TEST (test_fill_of_an_idle_clip_renews_an_expired_url)
{
  play_trimmed_clip_expiring_fills (0);
}

GST_END_TEST;

/* Two editors open the same trimmed clip. The first's fill
 * downloads the bytes its seek skipped (here from a slow host); the
 * second follows the first's `.part` for its preroll, and its seek to the
 * in-point, ahead of that `.part`, reads from the network. The first
 * closes (its fill cut, the `.part` kept): the second, still open and
 * reading, takes the entry over (docs/lumasrc.md, One download: "When the
 * first stops short (killed, stopped), the second takes the entry over")
 * and stores the whole video while it is open (Writing). */
GST_START_TEST (test_follower_ahead_takes_over_stopped_writer)
{
  /* the fill's requests (they begin in the first half) are slow */
  LumaEmulatorVideoFaults slow_fill = {.rate = 100000,
    .only_below = VIDEO_SIZE / 2
  };
  LumaEmulatorVideoFaults none = { 0 };
  LumaRun *first = luma_run_new (fixture.em, TASK, NULL);
  LumaRun *second;
  g_autofree gchar *dir = NULL;

  g_object_set (first->src, "blocksize", 4096, NULL);
  luma_run_preroll (first, 20);
  luma_emulator_set_video_faults (fixture.em, TASK, &slow_fill);
  fail_unless (gst_element_seek_simple (first->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, VIDEO_SIZE / 2));
  luma_run_until_done (first, 30);
  luma_run_assert_output_from (first, fixture.video, VIDEO_SIZE / 2);
  /* the first's preroll, its seek and its fill */
  fail_unless (luma_test_wait_until (video_requests_reach,
          GUINT_TO_POINTER (3), 20), "no request of a fill");

  second = luma_run_new (fixture.em, TASK, NULL);
  g_object_set (second->src, "blocksize", 4096, NULL);
  luma_run_preroll (second, 20);
  /* its in-point: ahead of the first's `.part` */
  fail_unless (gst_element_seek_simple (second->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, VIDEO_SIZE * 3 / 4));
  fail_unless (gst_element_get_state (second->pipeline, NULL, NULL,
          20 * GST_SECOND) == GST_STATE_CHANGE_SUCCESS);

  /* the first editor closes its project */
  luma_run_free (first);
  luma_emulator_set_video_faults (fixture.em, TASK, &none);
  dir = entry_dir (store_dir ());
  fail_if (entry_has_video (dir));

  /* the second plays its clip on, and stays open at its end */
  luma_run_until_done (second, 30);
  luma_run_assert_output_from (second, fixture.video, VIDEO_SIZE * 3 / 4);
  fail_unless (luma_test_wait_until (entry_has_video, dir, 10),
      "the second editor's clip, open and read after the first closed, "
      "was not stored (%u video requests)",
      luma_emulator_get_video_requests (fixture.em, TASK));
  luma_run_free (second);
  assert_stored ();
}

GST_END_TEST;

/* The fresh link a fill asks for after its URL expired is a
 * background matter (docs/lumasrc.md: the fill downloads the rest "while
 * the source streams on from the network"): a KIE that answers it
 * slowly (here in 8 s) must not hold the playing stream back that long. */
GST_START_TEST (test_slow_fresh_link_for_a_fill_holds_no_buffer)
{
  LumaRun *run = new_run_expiring_fills ();
  g_autoptr (GstPad) pad = gst_element_get_static_pad (run->src, "src");
  gulong probe;

  luma_emulator_set_download_url_delay (fixture.em, 8000);
  luma_run_preroll (run, 20);
  last_buffer_time = longest_gap = 0;
  /* 86 buffers after the seek, 50 ms each: 4 s, past the 2 s after
   * which a fill is tried again */
  probe = gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, time_buffers,
      GUINT_TO_POINTER (50000), NULL);
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, VIDEO_SIZE / 2));
  luma_run_until_done (run, 60);
  gst_pad_remove_probe (pad, probe);
  luma_run_assert_output_from (run, fixture.video, VIDEO_SIZE / 2);
  fail_unless (luma_emulator_get_download_url_requests (fixture.em) >= 1,
      "no fresh link was asked for");
  fail_unless (longest_gap < 3 * G_USEC_PER_SEC * luma_test_slowdown (),
      "the stream stood still for %.1f s while a fill asked KIE for a "
      "fresh link", longest_gap / (gdouble) G_USEC_PER_SEC);
  luma_run_free (run);
}

GST_END_TEST;

/* A meta.json that says size 0 over an empty video (edited, or left by
 * another program), which the writer never commits: the open takes it for
 * damaged (it was served as the whole video, for good), and the video is
 * fetched again while KIE has it. */
GST_START_TEST (test_empty_entry_fetched_again)
{
  g_autofree gchar *video = NULL;
  LumaRun *run;

  stream_once ();
  video = entry_file ("video");
  fail_unless (truncate (video, 0) == 0);
  set_meta_number ("size", 0);
  set_meta_number ("sha256", -1);

  run = run_task (NULL);
  fail_unless (run->error == NULL);
  fail_unless_equals_uint64 (run->data->len, VIDEO_SIZE);
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  assert_stored ();
}

GST_END_TEST;

static Suite *
storesrc_suite (void)
{
  Suite *s = suite_create ("luma-storesrc");
  TCase *tc = tcase_create ("storesrc");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_reopen_offline);
  tcase_add_test (tc, test_reopen_without_network);
  tcase_add_test (tc, test_no_key_nothing_stored);
  tcase_add_test (tc, test_damaged_entry_fetched_again);
  tcase_add_test (tc, test_truncated_entry_fetched_again);
  tcase_add_test (tc, test_stored_video_cut_short_read_on_from_the_network);
  tcase_add_test (tc, test_stored_video_cut_short_without_a_key);
  tcase_add_test (tc, test_stored_video_cut_short_not_spliced_with_another);
  tcase_add_test (tc,
      test_stored_video_cut_short_not_spliced_with_another_version);
  tcase_add_test (tc, test_trimmed_clip_stored_whole);
  tcase_add_test (tc, test_fills_at_once_are_bounded);
  tcase_add_test (tc, test_waiting_fill_leaves_with_its_clip);
  tcase_add_test (tc, test_failed_fill_tried_again);
  tcase_add_test (tc, test_back_within_the_part_during_a_fill);
  tcase_add_test (tc, test_fill_asks_nothing_past_the_end);
  tcase_add_test (tc, test_seek_then_resume);
  tcase_add_test (tc, test_part_not_resumed_from_another_file);
  tcase_add_test (tc,
      test_part_not_resumed_from_another_file_without_validators);
  tcase_add_test (tc, test_part_from_another_boot_not_resumed);
  tcase_add_test (tc, test_part_not_resumed_from_another_version);
  tcase_add_test (tc, test_part_checked_after_a_seek_cut_its_resume);
  tcase_add_test (tc, test_many_seeks_during_the_begin_still_store);
  tcase_add_test (tc, test_killed_download_resumes);
  tcase_add_loop_test (tc, test_resume_survives_a_failed_first_request, 0, 3);
  tcase_add_test (tc, test_two_processes_download_once);
  tcase_add_test (tc, test_second_process_follows_download);
  tcase_add_test (tc, test_follower_takes_over_killed_download);
  tcase_add_test (tc, test_two_pipelines_download_once);
  tcase_add_test (tc, test_entry_completed_while_polling);
  tcase_add_test (tc, test_two_sources_in_one_pipeline);
  tcase_add_test (tc, test_stop_while_following_is_prompt);
  tcase_add_test (tc, test_seek_ahead_of_followed_download);
  tcase_add_test (tc, test_silent_writer_given_up);
  tcase_add_test (tc, test_silent_writer_not_spliced_with_another);
  tcase_add_test (tc, test_seek_ahead_of_followed_download_not_spliced);
  tcase_add_test (tc, test_followed_download_not_spliced_without_validators);
  tcase_add_test (tc, test_followed_download_not_spliced_with_another_version);
  tcase_add_test (tc, test_follower_refuses_writer_past_its_size);
  tcase_add_test (tc, test_eviction_warns_only_copy);
  tcase_add_test (tc, test_larger_than_limit_not_stored);
  tcase_add_test (tc, test_store_in_a_user_folder);
  tcase_add_test (tc, test_disk_full_keeps_playing);
  tcase_add_test (tc, test_resumed_part_makes_room);
  tcase_add_test (tc, test_complete_part_not_downloaded_again);
  tcase_add_test (tc, test_seek_during_completion_reads_the_store);
  tcase_add_test (tc, test_complete_part_over_the_limit_of_another_file);
  tcase_add_test (tc, test_disk_full_during_fill_keeps_playing);
  tcase_add_test (tc, test_file_size_limit_keeps_playing);
  tcase_add_test (tc, test_no_folder_for_the_store_warns);
  tcase_add_test (tc, test_off_touches_nothing);
  tcase_add_test (tc, test_read_only_never_writes);
  tcase_add_test (tc, test_read_only_follows_download);
  tcase_add_test (tc, test_follows_writer_that_took_over);
  tcase_add_test (tc, test_taken_over_by_another_version_not_spliced);
  tcase_add_test (tc, test_completed_as_another_version_not_spliced);
  tcase_add_test (tc, test_store_holds_no_key);
  tcase_add_test (tc, test_edited_meta_gives_safe_text);
  tcase_add_test (tc, test_huge_complete_time_does_not_overflow);
  tcase_add_test (tc, test_stored_open_tags_as_polled);
  tcase_add_test (tc, test_environment);
  tcase_add_test (tc, test_bad_variables);
  tcase_add_test (tc, test_relative_folder_of_a_store_off_is_no_error);
  tcase_add_test (tc, test_stop_during_resume_keeps_it_resumable);
  tcase_add_test (tc, test_empty_result_not_stored);
  tcase_add_test (tc, test_only_copy_not_evicted_for_a_failed_download);
  tcase_add_test (tc, test_video_kept_until_replaced);
  tcase_add_test (tc, test_damaged_only_copy_kept);
  tcase_add_test (tc, test_seek_during_first_open_stays_offline);
  tcase_add_test (tc, test_seek_while_the_rest_is_asked_for);
  tcase_add_test (tc, test_fill_renews_an_expired_url);
  tcase_add_test (tc, test_fill_of_an_idle_clip_renews_an_expired_url);
  tcase_add_test (tc, test_slow_fresh_link_for_a_fill_holds_no_buffer);
  tcase_add_test (tc, test_follower_ahead_takes_over_stopped_writer);
  tcase_add_test (tc, test_empty_entry_fetched_again);
  return s;
}

GST_CHECK_MAIN (storesrc);
