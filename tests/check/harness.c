/* gst-luma: running lumasrc in a pipeline against the emulator, for tests
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/luma/luma.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static void
on_handoff (GstElement * sink, GstBuffer * buffer, GstPad * pad, LumaRun * run)
{
  GstMapInfo map;
  guint64 expected = run->first_offset + run->data->len;

  if (run->data->len > 0 && GST_BUFFER_OFFSET (buffer) != expected) {
    run->restarts++;
    g_byte_array_set_size (run->data, 0);
  }
  if (run->data->len == 0)
    run->first_offset = expected = GST_BUFFER_OFFSET (buffer);
  if (GST_BUFFER_OFFSET_END (buffer) != expected + gst_buffer_get_size (buffer))
    run->offsets_contiguous = FALSE;
  gst_buffer_map (buffer, &map, GST_MAP_READ);
  g_byte_array_append (run->data, map.data, map.size);
  gst_buffer_unmap (buffer, &map);
}

LumaRun *
luma_run_new_for (GstElement * pipeline, GstElement * src)
{
  LumaRun *run = g_new0 (LumaRun, 1);
  GstElement *fakesink;

  run->pipeline = pipeline;
  run->src = src;
  run->data = g_byte_array_new ();
  run->warnings = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_message_unref);
  run->offsets_contiguous = TRUE;
  run->tags = gst_tag_list_new_empty ();

  fakesink = GST_IS_BIN (pipeline) ?
      gst_bin_get_by_name (GST_BIN (pipeline), "sink") : NULL;
  if (fakesink != NULL) {
    g_signal_connect (fakesink, "handoff", G_CALLBACK (on_handoff), run);
    gst_object_unref (fakesink);
  }
  return run;
}

LumaRun *
luma_run_new_launch (const gchar * desc, const gchar * element_name)
{
  g_autoptr (GError) error = NULL;
  GstElement *pipeline, *src;

  pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL, "%s: %s", desc, error ? error->message : "");
  src = gst_bin_get_by_name (GST_BIN (pipeline), element_name);
  fail_unless (src != NULL, "no %s in %s", element_name, desc);
  return luma_run_new_for (pipeline, src);
}

guint16
luma_test_refused_port (void)
{
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  guint16 port = g_socket_listener_add_any_inet_port (listener, NULL, NULL);

  fail_unless (port != 0);
  g_socket_listener_close (listener);
  return port;
}

LumaRun *
luma_run_new (LumaEmulator * em, const gchar * task_id, const gchar * sink)
{
  g_autofree gchar *desc = g_strdup_printf ("lumasrc name=src ! %s",
      sink ? sink : "fakesink name=sink sync=false signal-handoffs=true");
  g_autofree gchar *api_url = luma_emulator_get_api_url (em);
  LumaRun *run = luma_run_new_launch (desc, "src");

  g_object_set (run->src, "api-url", api_url, "api-key", TEST_KEY,
      "task-id", task_id, "poll-interval", 10, NULL);
  return run;
}

static void
handle_task_message (LumaRun * run, const GstStructure * s)
{
  GstLumaTaskState state;

  run->task_messages++;
  fail_unless (gst_structure_has_field_typed (s, GST_LUMA_FIELD_TASK_ID,
          G_TYPE_STRING));
  fail_unless (gst_structure_has_field_typed (s, GST_LUMA_FIELD_ELAPSED,
          G_TYPE_UINT64));
  fail_unless (gst_structure_get_enum (s, GST_LUMA_FIELD_TASK_STATE,
          GST_TYPE_LUMA_TASK_STATE, (gint *) & state));
  fail_unless (gst_structure_get_uint (s, GST_LUMA_FIELD_POLLS,
          &run->last_polls));
  run->last_state = state;
}

static void
handle_tag_message (LumaRun * run, GstMessage * msg)
{
  GstTagList *tags;

  gst_message_parse_tag (msg, &tags);
  gst_tag_list_insert (run->tags, tags, GST_TAG_MERGE_REPLACE);
  gst_tag_list_unref (tags);
}

/* TRUE when the run is over (EOS or error). */
static gboolean
handle_message (LumaRun * run, GstMessage * msg)
{
  GstProgressType type;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_EOS:
      run->eos = TRUE;
      return TRUE;
    case GST_MESSAGE_ERROR:
      if (run->error == NULL)
        run->error = gst_message_ref (msg);
      return TRUE;
    case GST_MESSAGE_WARNING:
      g_ptr_array_add (run->warnings, gst_message_ref (msg));
      break;
    case GST_MESSAGE_PROGRESS:
      gst_message_parse_progress (msg, &type, NULL, NULL);
      run->progress[type]++;
      break;
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (msg, GST_LUMA_MESSAGE_TASK))
        handle_task_message (run, gst_message_get_structure (msg));
      break;
    case GST_MESSAGE_TAG:
      handle_tag_message (run, msg);
      break;
    case GST_MESSAGE_DURATION_CHANGED:
      if (GST_MESSAGE_SRC (msg) == GST_OBJECT (run->src))
        run->duration_changed = TRUE;
      break;
    default:
      break;
  }
  return FALSE;
}

void
luma_run_assert_prompt_stop (LumaRun * run)
{
  gint64 before = g_get_monotonic_time ();
  gint64 took;

  fail_unless_equals_int (gst_element_set_state (run->pipeline,
          GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  took = g_get_monotonic_time () - before;
  fail_unless (took < G_USEC_PER_SEC * luma_test_slowdown (),
      "stopping took %" G_GINT64_FORMAT " us", took);
}

/* What an application's bus sync handler does at the first message that
 * @match takes: stop the pipeline, from the thread that posted it. */
typedef struct
{
  GstElement *pipeline;
  LumaMessageMatch match;
  gconstpointer match_data;
  gint stopped;                 /* atomic: set_state (NULL) returned */
  GstStateChangeReturn ret;
} StopFromHandler;

static GstBusSyncReply
stop_at_first_match (GstBus * bus, GstMessage * msg, gpointer data)
{
  StopFromHandler *stop = data;

  if (stop->pipeline != NULL && stop->match (msg, stop->match_data)) {
    GstElement *pipeline = g_steal_pointer (&stop->pipeline);

    stop->ret = gst_element_set_state (pipeline, GST_STATE_NULL);
    g_atomic_int_set (&stop->stopped, TRUE);
  }
  return GST_BUS_PASS;
}

static gboolean
has_stopped (gconstpointer data)
{
  const StopFromHandler *stop = data;

  return g_atomic_int_get (&stop->stopped);
}

void
luma_run_assert_stop_from_sync_handler_at (LumaRun * run,
    LumaMessageMatch match, gconstpointer match_data)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (run->pipeline);
  StopFromHandler stop = { run->pipeline, match, match_data, };

  gst_bus_set_sync_handler (bus, stop_at_first_match, &stop, NULL);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  fail_unless (luma_test_wait_until (has_stopped, &stop, 10),
      "the stop from the sync handler did not return");
  fail_unless_equals_int (stop.ret, GST_STATE_CHANGE_SUCCESS);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
}

static gboolean
is_element_message_named (GstMessage * msg, gconstpointer name)
{
  return GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
      && gst_message_has_name (msg, name);
}

void
luma_run_assert_stop_from_sync_handler (LumaRun * run, const gchar * name)
{
  luma_run_assert_stop_from_sync_handler_at (run, is_element_message_named,
      name);
}

void
luma_run_drain_bus (LumaRun * run)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (run->pipeline);
  GstMessage *msg;

  while ((msg = gst_bus_pop (bus)) != NULL) {
    handle_message (run, msg);
    gst_message_unref (msg);
  }
}

/* Handles messages until one of type @until (or the end of the run, which
 * must be what @until asks for) within @timeout_s seconds. */
static void
pump_until (LumaRun * run, GstMessageType until, guint timeout_s)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (run->pipeline);
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  for (;;) {
    gint64 left = deadline - g_get_monotonic_time ();
    GstMessage *msg;
    gboolean wanted, ended;

    fail_unless (left > 0, "no %s within %u s",
        gst_message_type_get_name (until), timeout_s);
    msg = gst_bus_timed_pop (bus, left * GST_USECOND);
    if (msg == NULL)
      continue;
    wanted = (GST_MESSAGE_TYPE (msg) & until) != 0;
    ended = handle_message (run, msg);
    gst_message_unref (msg);
    fail_if (ended && !wanted, "the run ended early");
    if (wanted)
      return;
  }
}

void
luma_run_preroll (LumaRun * run, guint timeout_s)
{
  gst_element_set_state (run->pipeline, GST_STATE_PAUSED);
  pump_until (run, GST_MESSAGE_ASYNC_DONE, timeout_s);
}

void
luma_run_until_done (LumaRun * run, guint timeout_s)
{
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  pump_until (run, GST_MESSAGE_EOS | GST_MESSAGE_ERROR, timeout_s);
  luma_run_drain_bus (run);
}

void
luma_run_free (LumaRun * run)
{
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  gst_object_unref (run->src);
  gst_object_unref (run->pipeline);
  g_byte_array_unref (run->data);
  g_ptr_array_unref (run->warnings);
  gst_tag_list_unref (run->tags);
  if (run->error != NULL)
    gst_message_unref (run->error);
  g_free (run);
}

static void
assert_ended_well (LumaRun * run)
{
  if (run->error != NULL) {
    g_autoptr (GError) error = NULL;
    g_autofree gchar *debug = NULL;

    gst_message_parse_error (run->error, &error, &debug);
    fail ("error: %s (%s)", error->message, debug ? debug : "no debug text");
  }
  fail_unless (run->eos, "the run ended without EOS");
}

static void
assert_data_is (LumaRun * run, const guint8 * bytes, gsize size)
{
  fail_unless_equals_uint64 (run->data->len, size);
  fail_unless (memcmp (run->data->data, bytes, size) == 0,
      "the output differs from the served file");
}

void
luma_run_assert_output (LumaRun * run, GBytes * expected)
{
  gsize size;
  const guint8 *bytes = g_bytes_get_data (expected, &size);

  assert_ended_well (run);
  assert_data_is (run, bytes, size);
}

void
luma_run_assert_output_from (LumaRun * run, GBytes * expected, guint64 offset)
{
  gsize size;
  const guint8 *bytes = g_bytes_get_data (expected, &size);

  fail_unless (offset <= size);
  assert_ended_well (run);
  fail_unless_equals_uint64 (run->first_offset, offset);
  assert_data_is (run, bytes + offset, size - offset);
}

const GstStructure *
luma_run_assert_error (LumaRun * run, gint code, const gchar * words)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *debug = NULL;
  const GstStructure *details = NULL;

  fail_unless (run->error != NULL, "no error was posted");
  fail_unless (GST_MESSAGE_SRC (run->error) == GST_OBJECT (run->src),
      "the first error came from %s", GST_MESSAGE_SRC_NAME (run->error));
  gst_message_parse_error (run->error, &error, &debug);
  fail_unless (error->domain == GST_RESOURCE_ERROR,
      "not a resource error: %s", error->message);
  fail_unless (error->code == code, "resource error %d, not %d: %s",
      error->code, code, error->message);
  if (words != NULL)
    fail_unless (strstr (error->message, words) != NULL,
        "\"%s\" is not in \"%s\"", words, error->message);
  gst_message_parse_error_details (run->error, &details);
  fail_unless (details != NULL, "the error has no details");
  return details;
}

gint
luma_test_slowdown (void)
{
  const gchar *value = g_getenv ("CK_TIMEOUT_MULTIPLIER");
  gint factor = value ? atoi (value) : 1;

  return MAX (factor, 1);
}

gboolean
luma_test_wait_until (LumaTestCondition holds, gconstpointer data,
    guint seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) seconds
      * G_USEC_PER_SEC * luma_test_slowdown ();

  while (!holds (data) && g_get_monotonic_time () < deadline)
    g_usleep (10 * 1000);
  return holds (data);
}

guint16
luma_test_closed_port (void)
{
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4,
      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  fail_unless (socket != NULL && g_socket_bind (socket, any, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  fail_unless (bound != NULL);
  g_socket_close (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

GBytes *
luma_test_random_bytes (gsize size, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  guint32 *words = g_malloc (size + sizeof (guint32));
  gsize i;

  for (i = 0; i < size / sizeof (guint32) + 1; i++)
    words[i] = g_rand_int (rand);
  return g_bytes_new_take (words, size);
}

/* Encodes the MP4 @recipe describes into a file of its own. */
static GBytes *
encode_mp4 (const gchar * recipe)
{
  g_autofree gchar *path = NULL;
  g_autofree gchar *desc = NULL;
  g_autoptr (GError) error = NULL;
  GstElement *pipeline;
  GstMessage *msg;
  gchar *contents;
  gsize length;
  gint fd = g_file_open_tmp ("luma-test-XXXXXX.mp4", &path, NULL);

  fail_unless (fd >= 0);
  g_close (fd, NULL);
  desc = g_strdup_printf ("%s ! filesink location=%s", recipe, path);
  pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
      "could not make a sample MP4");
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);

  fail_unless (g_file_get_contents (path, &contents, &length, NULL));
  g_unlink (path);
  return g_bytes_new_take (contents, length);
}

/* An MP4 as encode_mp4 () writes it: an ftyp box first (a file that is not
 * is no cached sample: it is made again). */
static gboolean
looks_like_mp4 (const gchar * contents, gsize length)
{
  return length > 8 && memcmp (contents + 4, "ftyp", 4) == 0;
}

GBytes *
luma_test_make_mp4 (guint frames, gboolean noisy)
{
  g_autofree gchar *recipe = NULL;
  g_autofree gchar *digest = NULL;
  g_autofree gchar *name = NULL;
  g_autofree gchar *path = NULL;
  g_autoptr (GError) error = NULL;
  GBytes *mp4;
  gchar *contents;
  gsize length;

  recipe = g_strdup_printf ("videotestsrc num-buffers=%u pattern=%s ! "
      "video/x-raw,format=I420,width=%d,height=%d,framerate=25/1 ! x264enc "
      "speed-preset=ultrafast key-int-max=25 ! mp4mux", frames,
      noisy ? "snow" : "ball", noisy ? 320 : 160, noisy ? 240 : 120);

  /* Made once for all the suites and all the runs of this build tree:
   * named by the whole recipe, so that a changed recipe is a new file. */
  digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, recipe, -1);
  name = g_strdup_printf ("%u-%s-%.16s.mp4", frames, noisy ? "snow" : "ball",
      digest);
  path = g_build_filename (LUMA_TEST_CACHE_DIR, name, NULL);
  if (g_file_get_contents (path, &contents, &length, NULL)) {
    if (looks_like_mp4 (contents, length))
      return g_bytes_new_take (contents, length);
    g_free (contents);
  }

  mp4 = encode_mp4 (recipe);
  /* through a rename: a suite running at the same time reads the whole
   * file or none; if both make it, both write the same kind of file */
  if (g_mkdir_with_parents (LUMA_TEST_CACHE_DIR, 0755) != 0
      || !g_file_set_contents (path, g_bytes_get_data (mp4, NULL),
          g_bytes_get_size (mp4), &error))
    g_printerr ("harness: the sample MP4 is not kept in %s: %s\n",
        LUMA_TEST_CACHE_DIR, error ? error->message : g_strerror (errno));
  return mp4;
}

static gchar *test_store_dir;

GPid
luma_test_spawn_with_key (const gchar * const *argv)
{
  g_auto (GStrv) envp = g_get_environ ();
  g_autoptr (GError) error = NULL;
  GPid pid;

  envp = g_environ_setenv (envp, "KIE_API_KEY", TEST_KEY, TRUE);
  fail_unless (g_spawn_async (NULL, (gchar **) argv, envp,
          G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD
          | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, &pid, &error), "%s",
      error ? error->message : "");
  return pid;
}

gint
luma_test_wait_for_exit (GPid pid)
{
  gint status;

  fail_unless (waitpid (pid, &status, 0) == pid);
  g_spawn_close_pid (pid);
  return status;
}

void
luma_test_flip_byte (const gchar * path, goffset offset)
{
  gint fd = g_open (path, O_RDWR, 0);
  guint8 byte;

  fail_unless (fd >= 0, "%s", path);
  fail_unless (pread (fd, &byte, 1, offset) == 1);
  byte ^= 0x40;
  fail_unless (pwrite (fd, &byte, 1, offset) == 1);
  g_close (fd, NULL);
}

gboolean
luma_test_tree_holds (const gchar * path, const gchar * needle)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    g_autofree gchar *child = g_build_filename (path, name, NULL);
    g_autofree gchar *contents = NULL;
    gsize length;

    if (strstr (name, needle) != NULL)
      return TRUE;
    if (g_file_test (child, G_FILE_TEST_IS_DIR)) {
      if (luma_test_tree_holds (child, needle))
        return TRUE;
    } else if (g_file_get_contents (child, &contents, &length, NULL)
        && g_strstr_len (contents, length, needle) != NULL) {
      return TRUE;
    }
  }
  return FALSE;
}

static void
describe_tree (const gchar * path, GString * out)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    g_autofree gchar *child = g_build_filename (path, name, NULL);
    struct stat st;

    fail_unless (lstat (child, &st) == 0);
    g_string_append_printf (out, "%s %ld %ld.%09ld %ld.%09ld\n", child,
        (long) st.st_size, (long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
        (long) st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
    if (S_ISDIR (st.st_mode))
      describe_tree (child, out);
  }
}

gchar *
luma_test_describe_tree (const gchar * path)
{
  GString *out = g_string_new (NULL);

  describe_tree (path, out);
  return g_string_free (out, FALSE);
}

void
luma_test_append_message_text (GString * text, GstMessage * msg)
{
  const GstStructure *s = gst_message_get_structure (msg);

  if (s != NULL) {
    g_autofree gchar *str = gst_structure_to_string (s);

    g_string_append (text, str);
  }
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR
      || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
    g_autoptr (GError) error = NULL;
    g_autofree gchar *debug = NULL;

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      gst_message_parse_error (msg, &error, &debug);
    else
      gst_message_parse_warning (msg, &error, &debug);
    g_string_append_printf (text, "%s %s", error->message, debug);
  }
}

static gint staged_sync_delay_ms;
static gint staged_syncs_begun;
static gint staged_sync_failures;
static gint staged_syncs_ended;

int
fdatasync (int fd)
{
  gint delay = g_atomic_int_get (&staged_sync_delay_ms);
  gint result;

  g_atomic_int_inc (&staged_syncs_begun);
  if (delay > 0)
    g_usleep (delay * G_TIME_SPAN_MILLISECOND);
  /* A writeback error is told once (Linux marks it seen), then
   * the syncs that follow succeed */
  if (g_atomic_int_add (&staged_sync_failures, -1) > 0) {
    g_atomic_int_inc (&staged_syncs_ended);
    errno = EIO;
    return -1;
  }
  g_atomic_int_add (&staged_sync_failures, 1);
  result = syscall (SYS_fdatasync, fd);
  g_atomic_int_inc (&staged_syncs_ended);
  return result;
}


void
luma_test_stage_failed_syncs (guint count)
{
  g_atomic_int_set (&staged_syncs_ended, 0);
  g_atomic_int_set (&staged_sync_failures, count);
}


void
luma_test_wait_for_syncs_ended (guint count)
{
  while ((guint) g_atomic_int_get (&staged_syncs_ended) < count)
    g_usleep (G_TIME_SPAN_MILLISECOND);
}

void
luma_test_stage_slow_sync (guint delay_ms)
{
  g_atomic_int_set (&staged_syncs_begun, 0);
  g_atomic_int_set (&staged_sync_delay_ms, delay_ms);
}

void
luma_test_wait_for_a_sync (void)
{
  while (g_atomic_int_get (&staged_syncs_begun) == 0)
    g_usleep (G_TIME_SPAN_MILLISECOND);
}

void
luma_test_assert_not_on_bus (const gchar * text, const gchar * secret)
{
  const gchar *at = strstr (text, secret);

  fail_unless (at == NULL, "the key is on the bus: ...%.160s",
      at != NULL ? MAX (at - 120, text) : "");
}

void
luma_test_remove_tree (const gchar * path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    g_autofree gchar *child = g_build_filename (path, name, NULL);

    if (g_file_test (child, G_FILE_TEST_IS_DIR)
        && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
      luma_test_remove_tree (child);
    else
      g_unlink (child);
  }
  g_rmdir (path);
}

static gpointer
seek_in_thread (gpointer data)
{
  LumaTestSeek *seek = data;

  seek->taken = gst_element_seek (seek->element, 1.0, GST_FORMAT_BYTES,
      GST_SEEK_FLAG_NONE, GST_SEEK_TYPE_SET, seek->offset, GST_SEEK_TYPE_NONE,
      -1);
  g_atomic_int_set (&seek->done, TRUE);
  return NULL;
}

void
luma_test_seek_start (LumaTestSeek * seek, GstElement * element, guint64 offset)
{
  seek->element = element;
  seek->offset = offset;
  seek->done = FALSE;
  seek->taken = FALSE;
  seek->thread = g_thread_new ("seek", seek_in_thread, seek);
}

gboolean
luma_test_seek_returned (gconstpointer seek)
{
  return g_atomic_int_get (&((const LumaTestSeek *) seek)->done);
}

gboolean
luma_test_seek_join (LumaTestSeek * seek)
{
  g_thread_join (g_steal_pointer (&seek->thread));
  return seek->taken;
}

void
luma_test_limit_file_size (guint64 bytes)
{
  struct rlimit limit;

  fail_unless (getrlimit (RLIMIT_FSIZE, &limit) == 0);
  limit.rlim_cur = bytes;
  fail_unless (setrlimit (RLIMIT_FSIZE, &limit) == 0, "setrlimit: %s",
      g_strerror (errno));
}

static void
remove_test_store (void)
{
  if (test_store_dir == NULL)
    return;
  luma_test_remove_tree (test_store_dir);
  g_clear_pointer (&test_store_dir, g_free);
}

const gchar *
luma_test_use_fresh_store (void)
{
  if (test_store_dir != NULL)
    return test_store_dir;
  test_store_dir = g_dir_make_tmp ("luma-test-store-XXXXXX", NULL);
  fail_unless (test_store_dir != NULL);
  g_setenv ("GST_LUMA_STORE_DIR", test_store_dir, TRUE);
  atexit (remove_test_store);
  return test_store_dir;
}

LumaEmulator *
luma_test_emulator_new (void)
{
  LumaEmulator *em = luma_emulator_new (TEST_KEY);
  g_autoptr (GError) error = NULL;

  /* each test streams into a store of its own, never the user's */
  luma_test_use_fresh_store ();

  fail_unless (luma_emulator_start (em, 0, 0, &error), "emulator: %s",
      error ? error->message : "");
  return em;
}

void
luma_test_add_ready_task (LumaEmulator * em, const gchar * task_id,
    GBytes * video)
{
  LumaEmulatorTask task = {
    .task_id = task_id,
    .video = video,
    .final_flag = 1,
  };

  luma_emulator_add_task (em, &task);
}

LumaTestFixture fixture;

void
luma_test_fixture_setup (GBytes * video)
{
  fixture.em = luma_test_emulator_new ();
  fixture.video = video;
}

void
luma_test_fixture_set_environment (void)
{
  g_autofree gchar *api_url = luma_emulator_get_api_url (fixture.em);

  g_setenv ("KIE_API_URL", api_url, TRUE);
  g_setenv ("KIE_API_KEY", TEST_KEY, TRUE);
}

void
luma_test_fixture_teardown (void)
{
  g_unsetenv ("KIE_API_URL");
  g_unsetenv ("KIE_API_KEY");
  g_clear_pointer (&fixture.em, luma_emulator_free);
  g_clear_pointer (&fixture.video, g_bytes_unref);
}
