/* gst-luma: lumasrc as a network source: seeking, Range ignored, resume,
 * expiry, CDN blocks, timeouts, redirects, cancellation
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/luma/luma.h>

#include "harness.h"

#define TASK "t-stream"

static void
setup (void)
{
  luma_test_fixture_setup (luma_test_random_bytes (1024 * 1024 + 333, 7));
  luma_test_add_ready_task (fixture.em, TASK, fixture.video);
}

static void
set_faults (const LumaEmulatorVideoFaults * faults)
{
  luma_emulator_set_video_faults (fixture.em, TASK, faults);
}

/* The bytes from @offset on, exactly, and nothing else. */
static void
assert_output_from (LumaRun * run, guint64 offset)
{
  luma_run_assert_output_from (run, fixture.video, offset);
  fail_unless (run->offsets_contiguous);
}

static LumaRun *
run_to_end (gint retries, guint timeout)
{
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);

  if (retries >= 0)
    g_object_set (run->src, "retries", retries, NULL);
  if (timeout > 0)
    g_object_set (run->src, "timeout", timeout, NULL);
  luma_run_until_done (run, 60);
  return run;
}

/* The requests are the streaming's own: with the store on, the bytes the
 * seek skips would be stored in the background (storesrc.c). */
static void
check_seek_to (guint64 offset)
{
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);

  gst_util_set_object_arg (G_OBJECT (run->src), "store", "off");
  luma_run_preroll (run, 20);
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, offset));
  luma_run_until_done (run, 30);
  assert_output_from (run, offset);
  luma_run_free (run);
}

GST_START_TEST (test_seek_to_byte_n)
{
  g_autofree gchar *range = NULL;

  check_seek_to (500001);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless_equals_string (range, "bytes=500001-");
}

GST_END_TEST;

GST_START_TEST (test_range_ignored_gives_right_bytes)
{
  LumaEmulatorVideoFaults faults = { 0 };

  faults.ignore_range = TRUE;
  set_faults (&faults);
  check_seek_to (700003);
}

GST_END_TEST;

GST_START_TEST (test_size_and_scheduling_known_at_preroll)
{
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  gint64 duration = 0;
  GstQuery *query;
  GstSchedulingFlags flags;

  luma_run_preroll (run, 20);
  fail_unless (gst_element_query_duration (run->src, GST_FORMAT_BYTES,
          &duration));
  fail_unless_equals_int64 (duration, g_bytes_get_size (fixture.video));
  luma_run_drain_bus (run);
  fail_unless (run->duration_changed);

  query = gst_query_new_scheduling ();
  fail_unless (gst_element_query (run->src, query));
  gst_query_parse_scheduling (query, &flags, NULL, NULL, NULL);
  fail_unless (flags & GST_SCHEDULING_FLAG_BANDWIDTH_LIMITED);
  fail_unless (flags & GST_SCHEDULING_FLAG_SEEKABLE);
  gst_query_unref (query);

  query = gst_query_new_seeking (GST_FORMAT_BYTES);
  fail_unless (gst_element_query (run->src, query));
  {
    gboolean seekable = FALSE;

    gst_query_parse_seeking (query, NULL, &seekable, NULL, NULL);
    fail_unless (seekable);
  }
  gst_query_unref (query);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_moov_at_end_plays_to_eos)
{
  /* qtdemux only seeks over an mdat in files larger than 4 MiB */
  g_autoptr (GBytes) mp4 = luma_test_make_mp4 (450, TRUE);
  LumaRun *run;

  luma_test_add_ready_task (fixture.em, "t-moov", mp4);
  run = luma_run_new (fixture.em, "t-moov", "qtdemux ! fakesink sync=false");
  luma_run_until_done (run, 30);
  fail_unless (run->error == NULL, "error: %" GST_PTR_FORMAT, run->error);
  fail_unless (run->eos);
  /* qtdemux jumped over mdat to the moov, then back */
  fail_unless (luma_emulator_get_video_requests (fixture.em, "t-moov") >= 2);
  luma_run_free (run);
}

GST_END_TEST;

/* The clips of a process share their video connections: the next clip
 * from the same host starts over the connection the last one left, with
 * no new connection (in an editor, no new TLS handshake per clip). */
GST_START_TEST (test_next_clip_reuses_connection)
{
  g_autoptr (GBytes) other = luma_test_random_bytes (300000, 8);
  LumaRun *run;

  luma_test_add_ready_task (fixture.em, "t-next", other);
  run = run_to_end (-1, 0);
  assert_output_from (run, 0);
  luma_run_free (run);

  run = luma_run_new (fixture.em, "t-next", NULL);
  luma_run_until_done (run, 60);
  luma_run_assert_output (run, other);
  luma_run_free (run);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em,
          "t-next"), 1);
  fail_unless_equals_int (luma_emulator_get_video_connections (fixture.em), 1);
}

GST_END_TEST;

#define BLOCK 2048
#define QUEUED_AT_MOST 200      /* queue's max-size-buffers default */

/* What a probe saw of the buffers lumasrc handed out. */
typedef struct
{
  guint full;                   /* buffers of blocksize bytes */
  guint full_pooled;            /* of those, taken from a buffer pool */
  GHashTable *memories;         /* the distinct bytes they were read into */
} BufferLook;

static GstPadProbeReturn
look_at_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  BufferLook *look = data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMapInfo map;

  if (gst_buffer_get_size (buffer) != BLOCK)
    return GST_PAD_PROBE_OK;
  look->full++;
  if (buffer->pool != NULL)
    look->full_pooled++;
  gst_buffer_map (buffer, &map, GST_MAP_READ);
  g_hash_table_add (look->memories, map.data);
  gst_buffer_unmap (buffer, &map);
  return GST_PAD_PROBE_OK;
}

/* A buffer freed in another thread (here a queue's) is read into again:
 * the reads go round a bounded set of buffers instead of asking the
 * system for fresh memory at each one, and no byte is wrong for it. */
GST_START_TEST (test_reads_reuse_buffers_freed_downstream)
{
  LumaRun *run = luma_run_new (fixture.em, TASK,
      "queue ! fakesink name=sink sync=false signal-handoffs=true");
  BufferLook look = { 0, 0, g_hash_table_new (NULL, NULL) };
  GstPad *pad = gst_element_get_static_pad (run->src, "src");

  g_object_set (run->src, "blocksize", BLOCK, NULL);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, look_at_buffer, &look,
      NULL);
  gst_object_unref (pad);
  luma_run_until_done (run, 60);
  assert_output_from (run, 0);
  luma_run_free (run);

  /* the video is 512 blocks and more: more than the queue holds */
  fail_unless (look.full > QUEUED_AT_MOST, "%u full buffers", look.full);
  fail_unless_equals_int (look.full_pooled, look.full);
  /* what the queue holds and a few in other hands (the one being pushed,
   * the sink's, its last sample...) */
  fail_unless (g_hash_table_size (look.memories) <= QUEUED_AT_MOST + 16,
      "%u buffers read into %u places", look.full,
      g_hash_table_size (look.memories));
  g_hash_table_unref (look.memories);
}

GST_END_TEST;

/* Regions that a downstream element keeps of the buffers it was handed,
 * sharing their memory (as parsers do), with the offset they came from. */
typedef struct
{
  GPtrArray *regions;           /* GstBuffer */
} KeptRegions;

static GstPadProbeReturn
keep_region (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  KeptRegions *kept = data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstBuffer *region = gst_buffer_copy_region (buffer, GST_BUFFER_COPY_MEMORY
      | GST_BUFFER_COPY_METADATA, 0, MIN (gst_buffer_get_size (buffer), 64));

  g_ptr_array_add (kept->regions, region);
  return GST_PAD_PROBE_OK;
}

/* A buffer whose memory a region still shares never goes round again:
 * the next reads never write over bytes that are still held downstream. */
GST_START_TEST (test_reused_buffers_spare_shared_memory)
{
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  KeptRegions kept = { g_ptr_array_new_with_free_func ((GDestroyNotify)
        gst_buffer_unref)
  };
  GstPad *pad = gst_element_get_static_pad (run->src, "src");
  guint i;

  g_object_set (run->src, "blocksize", BLOCK, NULL);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, keep_region, &kept, NULL);
  gst_object_unref (pad);
  luma_run_until_done (run, 60);
  assert_output_from (run, 0);
  luma_run_free (run);

  fail_unless (kept.regions->len > QUEUED_AT_MOST);
  for (i = 0; i < kept.regions->len; i++) {
    GstBuffer *region = g_ptr_array_index (kept.regions, i);
    guint64 offset = GST_BUFFER_OFFSET (region);
    gsize size = gst_buffer_get_size (region);
    const guint8 *video = g_bytes_get_data (fixture.video, NULL);

    fail_unless (gst_buffer_memcmp (region, 0, video + offset, size) == 0,
        "the bytes held from offset %" G_GUINT64_FORMAT " changed", offset);
  }
  g_ptr_array_unref (kept.regions);
}

GST_END_TEST;

GST_START_TEST (test_drops_mid_body_resumed)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;
  g_autofree gchar *range = NULL;

  faults.drop_after = 200000;
  faults.drop_count = 3;
  set_faults (&faults);
  run = run_to_end (-1, 0);
  assert_output_from (run, 0);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK),
      4);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless (range != NULL && g_str_has_prefix (range, "bytes="));
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_drops_beyond_retries_fail)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;

  faults.drop_after = 0;
  faults.drop_count = G_MAXUINT;
  set_faults (&faults);
  run = run_to_end (2, 0);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, "after 3 attempts");
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK),
      3);
  luma_run_free (run);
}

GST_END_TEST;

/* A refusal that no new attempt changes (400) is not tried again, however
 * many retries are allowed: only server errors and dropped connections
 * are. */
GST_START_TEST (test_client_error_not_retried)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;

  faults.fail_status = 400;
  faults.fail_count = G_MAXUINT;
  set_faults (&faults);
  run = run_to_end (3, 0);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, "400");
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK),
      1);
  luma_run_free (run);
}

GST_END_TEST;

/* The luma-wait progress: @starts, each ended by one of @completes or
 * @errors, none CANCELED. */
static void
assert_waits (LumaRun * run, gint starts, gint completes, gint errors)
{
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_START], starts);
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_COMPLETE], completes);
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_ERROR], errors);
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_CANCELED], 0);
}

/* The whole video, the record read @reads times, and @waits waits told,
 * each one COMPLETE, with @continues CONTINUEs in all. */
static void
assert_renewed (LumaRun * run, guint reads, gint waits, gint continues)
{
  assert_output_from (run, 0);
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em, TASK),
      reads);
  assert_waits (run, waits, waits, 0);
  fail_unless_equals_int (run->progress[GST_PROGRESS_TYPE_CONTINUE], continues);
}

GST_START_TEST (test_expired_url_renewed)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;

  faults.fail_status = 403;
  faults.fail_count = 1;
  set_faults (&faults);
  run = run_to_end (-1, 0);
  /* the record was read again for a fresh URL, which found the task done
   * at once: no wait of its own to tell */
  assert_renewed (run, 2, 1, 1);
  luma_run_free (run);
}

GST_END_TEST;

#define GENERATING_BODY \
    "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":\"" TASK \
    "\",\"successFlag\":0}}"

/* A record that says the task is ready, its video at the emulator's. */
static gchar *
ready_record (void)
{
  g_autofree gchar *base = luma_emulator_get_video_url_base (fixture.em);

  return g_strdup_printf ("{\"code\":200,\"msg\":\"success\",\"data\":"
      "{\"taskId\":\"" TASK "\",\"successFlag\":1,\"response\":"
      "{\"resultUrls\":[\"%s/r/" TASK "/1.mp4\"]}}}", base);
}

/* The first read of the record says the task is ready; the video's URL
 * has expired at its first request; the record read again for a fresh
 * one says the task generates again (an odd answer, but the API's to
 * give) @generating times. */
static LumaRun *
run_with_a_renewal_that_generates (guint generating, guint wait_timeout)
{
  g_autofree gchar *ready = ready_record ();
  LumaEmulatorVideoFaults faults = {.fail_status = 403,.fail_count = 1 };
  LumaRun *run;
  guint i;

  set_faults (&faults);
  luma_emulator_push_record_reply (fixture.em, TASK, 200, NULL, NULL, ready);
  for (i = 0; i < generating; i++)
    luma_emulator_push_record_reply (fixture.em, TASK, 200, NULL, NULL,
        GENERATING_BODY);
  run = luma_run_new (fixture.em, TASK, NULL);
  if (wait_timeout > 0)
    g_object_set (run->src, "wait-timeout", wait_timeout, NULL);
  luma_run_until_done (run, 60);
  return run;
}

/* That renewal is a wait: told as the first one is (a START, a CONTINUE
 * a poll, a COMPLETE), not a stream that stalls without a word. */
GST_START_TEST (test_renewal_that_waits_tells_its_wait)
{
  LumaRun *run = run_with_a_renewal_that_generates (2, 0);

  /* CONTINUE: the first wait's poll, and the renewal's after the one
   * that found the task generating */
  assert_renewed (run, 4, 2, 3);
  luma_run_free (run);
}

GST_END_TEST;

/* One that lasts past wait-timeout ends its START with an ERROR. */
GST_START_TEST (test_renewal_that_waits_too_long_ends_its_wait)
{
  LumaRun *run = run_with_a_renewal_that_generates (1000, 1);

  luma_run_assert_error (run, GST_RESOURCE_ERROR_BUSY, "still generating");
  assert_waits (run, 2, 1, 1);
  luma_run_free (run);
}

GST_END_TEST;

/* A renewal that finds the task generating, cut by a flushing
 * seek during its wait, leaves its LumaWaitResume (kept for "the next wait
 * for the same thing"). The old URL then works again (the 403 was
 * passing), the video streams, and much later (past wait-timeout) the URL
 * is refused again: that renewal is a new one, for a task that is done.
 * It must read the record and go on, not inherit the cut wait's start and
 * give up at once as "still generating after wait-timeout". */
static gboolean
record_read_twice (gconstpointer data)
{
  return luma_emulator_get_record_requests (fixture.em, TASK) >= 2;
}

GST_START_TEST (test_cut_renewal_not_inherited_by_later_one)
{
  g_autofree gchar *ready = ready_record ();
  LumaEmulatorVideoFaults faults = {.fail_status = 403,.fail_count = 1 };
  LumaRun *run;

  set_faults (&faults);
  luma_emulator_push_record_reply (fixture.em, TASK, 200, NULL, NULL, ready);
  luma_emulator_push_record_reply (fixture.em, TASK, 200, NULL, NULL,
      GENERATING_BODY);
  run = luma_run_new (fixture.em, TASK, NULL);
  gst_util_set_object_arg (G_OBJECT (run->src), "store", "off");
  g_object_set (run->src, "wait-timeout", 2, "poll-interval", 10000, NULL);
  gst_element_set_state (run->pipeline, GST_STATE_PAUSED);
  /* the renewal found the task generating, and waits */
  fail_unless (luma_test_wait_until (record_read_twice, NULL, 10));
  g_usleep (200 * 1000);
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, 0));
  /* the old URL works again: prerolled from it, no renewal needed */
  luma_run_preroll (run, 20);
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          TASK), 2);
  /* later than wait-timeout, the URL is refused again */
  g_usleep (3 * G_USEC_PER_SEC);
  set_faults (&faults);
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, 1000));
  luma_run_until_done (run, 60);
  if (run->error != NULL) {
    g_autoptr (GError) error = NULL;

    gst_message_parse_error (run->error, &error, NULL);
    fail ("error: %s", error->message);
  }
  assert_output_from (run, 1000);
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em,
          TASK), 3);
  luma_run_free (run);
}

GST_END_TEST;

/* The error of that renewal's wait is the record's: its details
 * ("http-status: the last HTTP status", luma.h) are those of the last
 * poll ("still generating"), not the video host's 403 that
 * sent lumasrc to the record, a request and a host the error is not of. */
GST_START_TEST (test_renewal_wait_error_details_are_the_polls)
{
  LumaRun *run = run_with_a_renewal_that_generates (1000, 1);
  const GstStructure *details;
  guint status = 0;
  gint code = -1;

  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_BUSY,
      "still generating");
  fail_unless (gst_structure_get_int (details, GST_LUMA_DETAIL_API_CODE,
          &code));
  fail_unless (gst_structure_get_uint (details, GST_LUMA_DETAIL_HTTP_STATUS,
          &status));
  /* the last poll answered (200, code 200), or the wait's end cut it
   * before its answer (0, 0: under valgrind, where a poll takes long) */
  fail_unless ((code == 200 || code == 0) && (status == 200 || status == 0),
      "api-code %d, http-status %u: not the last poll's", code, status);
  luma_run_free (run);
}

GST_END_TEST;

/* The URL expires while the video streams: a dropped connection whose
 * resume is refused with 404. */
GST_START_TEST (test_url_expiring_mid_stream_renewed)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;
  g_autofree gchar *range = NULL;

  faults.drop_after = 300000;
  faults.drop_count = 1;
  faults.fail_status = 404;
  faults.fail_count = 1;
  faults.fail_after = 1;
  set_faults (&faults);
  run = run_to_end (-1, 0);
  assert_output_from (run, 0);
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em, TASK),
      2);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK),
      3);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless_equals_string (range, "bytes=300000-");
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_expired_for_good)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;
  const GstStructure *details;
  guint status = 0;

  faults.fail_status = 410;
  faults.fail_count = G_MAXUINT;
  set_faults (&faults);
  run = run_to_end (-1, 0);
  details = luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_FOUND,
      "has expired");
  luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_FOUND, TASK);
  fail_unless (gst_structure_get_uint (details, GST_LUMA_DETAIL_HTTP_STATUS,
          &status));
  fail_unless_equals_int (status, 410);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_html_403_is_a_cdn_block)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;
  g_autoptr (GError) error = NULL;

  faults.fail_status = 403;
  faults.fail_count = G_MAXUINT;
  faults.fail_html = TRUE;
  set_faults (&faults);
  run = run_to_end (-1, 0);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, "CDN block");
  gst_message_parse_error (run->error, &error, NULL);
  fail_unless (error->code != GST_RESOURCE_ERROR_NOT_AUTHORIZED);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_stall_times_out)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;

  faults.stall = TRUE;
  faults.stall_after = 100000;
  set_faults (&faults);
  run = run_to_end (0, 1);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, "timeout");
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_stall_before_headers_times_out)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;

  faults.stall = TRUE;
  set_faults (&faults);
  run = run_to_end (1, 1);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, "timeout");
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK),
      2);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_connection_refused_named)
{
  guint16 port = luma_test_closed_port ();
  g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u/gone.mp4",
      port);
  g_autofree gchar *words = g_strdup_printf ("Connection refused by "
      "127.0.0.1:%u", port);
  LumaRun *run;

  luma_emulator_set_result_url (fixture.em, TASK, url);
  run = run_to_end (0, 0);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ, words);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_stop_during_stall_is_prompt)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);

  faults.stall = TRUE;
  faults.stall_after = 300000;
  set_faults (&faults);
  g_object_set (run->src, "timeout", 60, NULL);
  luma_run_preroll (run, 20);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  g_usleep (300000);

  luma_run_assert_prompt_stop (run);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_redirect_to_other_host_without_key)
{
  LumaEmulator *other = luma_test_emulator_new ();
  g_autofree gchar *base = luma_emulator_get_video_url_base (other);
  g_autofree gchar *target = g_strconcat (base, "/r/" TASK "/1.mp4", NULL);
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;

  luma_test_add_ready_task (other, TASK, fixture.video);
  faults.redirect_to = target;
  set_faults (&faults);
  run = run_to_end (-1, 0);
  assert_output_from (run, 0);
  fail_unless_equals_int (luma_emulator_get_video_requests (other, TASK), 1);
  fail_unless_equals_int (luma_emulator_get_video_auth_requests (other), 0);
  fail_unless_equals_int (luma_emulator_get_video_auth_requests (fixture.em),
      0);
  luma_run_free (run);
  luma_emulator_free (other);
}

GST_END_TEST;

/* A refusal after a redirect names the host that refused, not the first
 * one (before, a CDN's page was blamed on the host that redirected). */
GST_START_TEST (test_refusal_after_a_redirect_names_its_host)
{
  LumaEmulator *other = luma_test_emulator_new ();
  g_autofree gchar *base = luma_emulator_get_video_url_base (other);
  g_autofree gchar *target = NULL;
  LumaEmulatorVideoFaults faults = { 0 }, blocked = {.fail_status = 403,
    .fail_html = TRUE,.fail_count = G_MAXUINT
  };
  LumaRun *run;

  fail_unless (g_str_has_prefix (base, "http://127.0.0.1:"));
  target = g_strconcat ("http://localhost:", base + strlen
      ("http://127.0.0.1:"), "/r/" TASK "/1.mp4", NULL);
  luma_test_add_ready_task (other, TASK, fixture.video);
  luma_emulator_set_video_faults (other, TASK, &blocked);
  faults.redirect_to = target;
  set_faults (&faults);
  run = run_to_end (-1, 0);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ,
      "The video host localhost refused");
  luma_run_free (run);
  luma_emulator_free (other);
}

GST_END_TEST;

GST_START_TEST (test_redirect_to_file_refused)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;

  faults.redirect_to = "file:///etc/passwd";
  set_faults (&faults);
  run = run_to_end (-1, 0);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ,
      "only http and https");
  fail_unless_equals_int (run->data->len, 0);
  luma_run_free (run);
}

GST_END_TEST;

GST_START_TEST (test_redirect_loop_bounded)
{
  g_autofree gchar *base = luma_emulator_get_video_url_base (fixture.em);
  g_autofree gchar *self_url = g_strconcat (base, "/r/" TASK "/1.mp4", NULL);
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;
  guint requests = luma_emulator_get_video_requests (fixture.em, TASK);

  faults.redirect_to = self_url;
  set_faults (&faults);
  run = run_to_end (-1, 0);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_OPEN_READ,
      "More than 10 redirects");
  luma_run_free (run);
  /* the first request and the 10 redirects followed, no more */
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK)
      - requests, 11);
}

GST_END_TEST;


static gboolean
send_seek_to_src (LumaRun * run, guint64 start, gint64 stop)
{
  return gst_element_send_event (run->src, gst_event_new_seek (1.0,
          GST_FORMAT_BYTES, GST_SEEK_FLAG_FLUSH, GST_SEEK_TYPE_SET, start,
          stop < 0 ? GST_SEEK_TYPE_NONE : GST_SEEK_TYPE_SET, stop));
}

/* A seek to the end of the file (a player's "seek to end") or beyond, made
 * before the size is known (in READY: the host answers 416 with the size,
 * or, where it ignores Range, 200 with the whole file and its length) or
 * after: nothing left to read, EOS, not an error. */
GST_START_TEST (test_seek_to_end_or_beyond_is_eos)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  gboolean size_known = __i__ % 4 >= 2;
  guint64 past = __i__ % 2 ? 5000 : 0;

  faults.ignore_range = __i__ >= 4;
  set_faults (&faults);
  if (size_known)
    luma_run_preroll (run, 20);
  else
    gst_element_set_state (run->pipeline, GST_STATE_READY);
  fail_unless (send_seek_to_src (run, g_bytes_get_size (fixture.video) + past,
          -1));
  g_byte_array_set_size (run->data, 0);
  luma_run_until_done (run, 30);
  if (run->error != NULL) {
    g_autoptr (GError) error = NULL;

    gst_message_parse_error (run->error, &error, NULL);
    fail ("error instead of EOS: %s", error->message);
  }
  fail_unless (run->eos);
  fail_unless_equals_int (run->data->len, 0);
  luma_run_free (run);
}

GST_END_TEST;

/* A seek in BYTES with a stop: the bytes from start to stop, no more. */
GST_START_TEST (test_seek_with_stop_gives_that_range)
{
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  const guint8 *video = g_bytes_get_data (fixture.video, NULL);

  luma_run_preroll (run, 20);
  fail_unless (send_seek_to_src (run, 100000, 100000 + 5000));
  luma_run_until_done (run, 30);
  fail_unless (run->error == NULL);
  fail_unless (run->eos);
  fail_unless_equals_uint64 (run->first_offset, 100000);
  fail_unless (memcmp (run->data->data, video + 100000,
          MIN (run->data->len, 5000)) == 0);
  fail_unless_equals_int (run->data->len, 5000);
  luma_run_free (run);
}

GST_END_TEST;

/* The element reused: PLAYING, NULL, then PLAYING with another task. */
GST_START_TEST (test_reused_with_another_task)
{
  g_autoptr (GBytes) other = luma_test_random_bytes (400000, 9);
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  guint i;

  luma_test_add_ready_task (fixture.em, "t-other", other);
  for (i = 0; i < 4; i++) {
    const gchar *id = i % 2 ? "t-other" : TASK;

    g_object_set (run->src, "task-id", id, NULL);
    g_byte_array_set_size (run->data, 0);
    run->eos = FALSE;
    luma_run_until_done (run, 30);
    luma_run_assert_output (run, i % 2 ? other : fixture.video);
    gst_element_set_state (run->pipeline, GST_STATE_NULL);
  }
  luma_run_free (run);
}

GST_END_TEST;

/* READY -> PAUSED -> READY, again and again: each preroll has the first
 * bytes, and a last run goes to the end. */
GST_START_TEST (test_ready_paused_cycles)
{
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  guint i;

  for (i = 0; i < 5; i++) {
    gint64 duration = 0;

    g_byte_array_set_size (run->data, 0);
    luma_run_preroll (run, 20);
    fail_unless (gst_element_query_duration (run->src, GST_FORMAT_BYTES,
            &duration));
    fail_unless_equals_int64 (duration, g_bytes_get_size (fixture.video));
    fail_unless (gst_element_set_state (run->pipeline, GST_STATE_READY)
        == GST_STATE_CHANGE_SUCCESS);
  }
  g_byte_array_set_size (run->data, 0);
  luma_run_until_done (run, 30);
  assert_output_from (run, 0);
  luma_run_free (run);
}

GST_END_TEST;

/* A reverse seek in BYTES cannot be honoured by a source that reads
 * forwards: it is refused (as souphttpsrc does), rather than taken and
 * answered with forward bytes. */
GST_START_TEST (test_reverse_seek_refused)
{
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  gboolean accepted;

  luma_run_preroll (run, 20);
  accepted = gst_element_send_event (run->src, gst_event_new_seek (-1.0,
          GST_FORMAT_BYTES, GST_SEEK_FLAG_FLUSH, GST_SEEK_TYPE_SET, 0,
          GST_SEEK_TYPE_SET, 200000));
  if (accepted)
    luma_run_until_done (run, 30);
  fail_if (accepted, "a rate -1 seek was taken: %s, %u bytes from offset %"
      G_GUINT64_FORMAT, run->error ? "error" : run->eos ? "EOS" : "neither",
      run->data->len, run->first_offset);
  /* the same from downstream, as a player sends it */
  fail_if (gst_element_seek (run->pipeline, -1.0, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, GST_SEEK_TYPE_SET, 0, GST_SEEK_TYPE_SET,
          200000));
  /* refused before any flush: the stream goes on, whole */
  luma_run_until_done (run, 30);
  luma_run_assert_output_from (run, fixture.video, 0);
  luma_run_free (run);
}

GST_END_TEST;

/* do-timestamp is a property gst-inspect shows, and filesrc and
 * souphttpsrc stream with it (their buffers get the running time). GstBaseSrc
 * turns the segment into TIME when it is set, which lumasrc's do_seek ()
 * refuses: the initial seek failed and the pipeline did not go to PAUSED,
 * with no error on the bus to say why. */
GST_START_TEST (test_do_timestamp_streams)
{
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);

  g_object_set (run->src, "do-timestamp", TRUE, NULL);
  fail_if (gst_element_set_state (run->pipeline, GST_STATE_PAUSED) ==
      GST_STATE_CHANGE_FAILURE, "do-timestamp=true: the pipeline does not "
      "go to PAUSED");
  luma_run_until_done (run, 30);
  assert_output_from (run, 0);
  luma_run_free (run);
}

GST_END_TEST;

static Suite *
streaming_suite (void)
{
  Suite *s = suite_create ("lumasrc-streaming");
  TCase *tc = tcase_create ("streaming");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, luma_test_fixture_teardown);
  tcase_add_test (tc, test_seek_to_byte_n);
  tcase_add_test (tc, test_range_ignored_gives_right_bytes);
  tcase_add_test (tc, test_size_and_scheduling_known_at_preroll);
  tcase_add_test (tc, test_moov_at_end_plays_to_eos);
  tcase_add_test (tc, test_next_clip_reuses_connection);
  tcase_add_test (tc, test_reads_reuse_buffers_freed_downstream);
  tcase_add_test (tc, test_reused_buffers_spare_shared_memory);
  tcase_add_test (tc, test_drops_mid_body_resumed);
  tcase_add_test (tc, test_drops_beyond_retries_fail);
  tcase_add_test (tc, test_client_error_not_retried);
  tcase_add_test (tc, test_expired_url_renewed);
  tcase_add_test (tc, test_renewal_that_waits_tells_its_wait);
  tcase_add_test (tc, test_renewal_that_waits_too_long_ends_its_wait);
  tcase_add_test (tc, test_cut_renewal_not_inherited_by_later_one);
  tcase_add_test (tc, test_renewal_wait_error_details_are_the_polls);
  tcase_add_test (tc, test_url_expiring_mid_stream_renewed);
  tcase_add_test (tc, test_expired_for_good);
  tcase_add_test (tc, test_html_403_is_a_cdn_block);
  tcase_add_test (tc, test_stall_times_out);
  tcase_add_test (tc, test_stall_before_headers_times_out);
  tcase_add_test (tc, test_connection_refused_named);
  tcase_add_test (tc, test_stop_during_stall_is_prompt);
  tcase_add_test (tc, test_redirect_to_other_host_without_key);
  tcase_add_test (tc, test_redirect_to_file_refused);
  tcase_add_test (tc, test_refusal_after_a_redirect_names_its_host);
  tcase_add_test (tc, test_redirect_loop_bounded);
  tcase_add_loop_test (tc, test_seek_to_end_or_beyond_is_eos, 0, 8);
  tcase_add_test (tc, test_seek_with_stop_gives_that_range);
  tcase_add_test (tc, test_reused_with_another_task);
  tcase_add_test (tc, test_ready_paused_cycles);
  tcase_add_test (tc, test_reverse_seek_refused);
  tcase_add_test (tc, test_do_timestamp_streams);
  return s;
}

GST_CHECK_MAIN (streaming);
