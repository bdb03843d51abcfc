/* gst-luma: lumasrc hands out the file's bytes exactly, or an error that
 * names the cause: partial answers that do not fit the request, URL
 * renewals that lead nowhere, a video host that rate limits
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/luma/luma.h>

#include "harness.h"

#define TASK "t-integrity"
#define HOST "127.0.0.1"
/* the file most tests stream, and where the emulator cuts the first answer */
#define VIDEO_SIZE (1024 * 1024 + 333)
#define DROP_AT 300000

static void
setup (void)
{
  luma_test_fixture_setup (luma_test_random_bytes (VIDEO_SIZE, 11));
  luma_test_add_ready_task (fixture.em, TASK, fixture.video);
}

/* A larger file for the task, for the tests that need many pieces. */
static void
use_video_of_size (gsize size)
{
  g_clear_pointer (&fixture.video, g_bytes_unref);
  fixture.video = luma_test_random_bytes (size, 13);
  luma_test_add_ready_task (fixture.em, TASK, fixture.video);
}

static LumaRun *
run_to_end (gint retries)
{
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);

  if (retries >= 0)
    g_object_set (run->src, "retries", retries, NULL);
  luma_run_until_done (run, 60 * luma_test_slowdown ());
  return run;
}

/* The whole file, exactly, then EOS. */
static void
assert_whole_file (LumaRun * run)
{
  luma_run_assert_output_from (run, fixture.video, 0);
  fail_unless (run->offsets_contiguous);
}

/* An error, and what came out before it is the file's start (basesrc
 * sends EOS downstream after an error: the bus may show both). */
static void
assert_true_prefix_then_error (LumaRun * run)
{
  gsize size;
  const guint8 *bytes = g_bytes_get_data (fixture.video, &size);

  fail_unless (run->error != NULL, "no error was posted");
  fail_unless (run->offsets_contiguous);
  fail_unless_equals_int (run->restarts, 0);
  if (run->data->len == 0)
    return;
  fail_unless_equals_uint64 (run->first_offset, 0);
  fail_unless (run->data->len <= size);
  fail_unless (memcmp (run->data->data, bytes, run->data->len) == 0,
      "bytes that are not the file's went out before the error");
}

/* ----- 206 answers whose Content-Range does not fit the request ----- */

/* What the resume at DROP_AT is answered with, and what the error says.
 * VIDEO_SIZE is 1048909 bytes: its last byte is 1048908. */
static const struct
{
  const gchar *content_range;
  const gchar *words;
} bad_ranges[] = {
  {"", "has no Content-Range"},
  {"bytes 300000-1048908", "cannot be read"},
  {"bytes 300000-1048908/*", "gives no file size"},
  {"bytes 0-1048908/1048909", "starts at byte 0"},
  {"bytes 300000-1048909/1048909", "not a range within the file"},
  {"bytes 300000-299999/1048909", "not a range within the file"},
  {"bytes 300000-1048907/1048909", "is not the length"},
};

/* A CDN that drops the Content-Range (or garbles it) on a resume: lumasrc
 * must not take the body as starting at byte 0, which left a hole. */
GST_START_TEST (test_resume_with_bad_content_range_is_an_error)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;

  faults.drop_after = DROP_AT;
  faults.drop_count = 1;
  faults.partial_content_range = bad_ranges[__i__].content_range;
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
  run = run_to_end (-1);
  assert_true_prefix_then_error (run);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, bad_ranges[__i__].words);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, HOST);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ, "bytes from 300000");
  /* the file from the resume on never went out */
  fail_unless (run->data->len <= DROP_AT);
  /* no retry of a server that answers like that */
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK),
      2);
  luma_run_free (run);
}

GST_END_TEST;

/* The same resume with a true Content-Range is taken. */
GST_START_TEST (test_resume_with_true_content_range_is_taken)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;

  faults.drop_after = DROP_AT;
  faults.drop_count = 1;
  faults.partial_content_range = "bytes 300000-1048908/1048909";
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
  run = run_to_end (-1);
  assert_whole_file (run);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK),
      2);
  luma_run_free (run);
}

GST_END_TEST;

/* ----- a new version of the file on the same URL ----- */

static GstPadProbeReturn
replace_video_once (GstPad * pad G_GNUC_UNUSED,
    GstPadProbeInfo * info G_GNUC_UNUSED, gpointer other)
{
  luma_test_add_ready_task (fixture.em, TASK, other);
  return GST_PAD_PROBE_REMOVE;
}

/* The host's file is replaced by another of the same size once the first
 * bytes went out (a new version on the same URL, with another ETag): the
 * resume after a drop is an error that says so, never the new version's
 * bytes after the old one's. */
GST_START_TEST (test_new_version_of_the_file_is_not_spliced)
{
  g_autoptr (GBytes) other = luma_test_random_bytes (VIDEO_SIZE, 23);
  LumaEmulatorVideoFaults faults = { 0 };
  g_autoptr (GstPad) pad = NULL;
  LumaRun *run;

  faults.drop_after = DROP_AT;
  faults.drop_count = 1;
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
  run = luma_run_new (fixture.em, TASK, NULL);
  pad = gst_element_get_static_pad (run->src, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, replace_video_once,
      other, NULL);
  luma_run_until_done (run, 60 * luma_test_slowdown ());
  assert_true_prefix_then_error (run);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_READ,
      "changed while it was being read");
  fail_unless (run->data->len <= DROP_AT);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK),
      2);
  luma_run_free (run);
}

GST_END_TEST;

/* A host that answers a Range with a part of what was asked (a 206 that
 * ends before the file does): each part is read to its end, and the next
 * asked for from there. */
GST_START_TEST (test_partial_answers_in_pieces_followed)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  g_autofree gchar *range = NULL;

  faults.range_piece = 100000;
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
  /* no retries: the end of a part is no failure to retry */
  g_object_set (run->src, "retries", 0, NULL);
  luma_run_preroll (run, 20 * luma_test_slowdown ());
  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_BYTES,
          GST_SEEK_FLAG_FLUSH, DROP_AT));
  luma_run_until_done (run, 30 * luma_test_slowdown ());
  luma_run_assert_output_from (run, fixture.video, DROP_AT);
  /* the first answer, then 748909 bytes in parts of 100000 */
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK),
      9);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless_equals_string (range, "bytes=1000000-");
  luma_run_free (run);
}

GST_END_TEST;

/* ----- URL renewals ----- */

/* A host that refuses (403) the request after each dropped connection, a
 * piece of 64 KiB at a time: the record was read again for each piece
 * (81 times for 5 MiB). Three renewals in a row that give less than 1 MiB
 * each, then an error that says so. */
GST_START_TEST (test_403_after_every_drop_is_bounded)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;

  use_video_of_size (5 * 1024 * 1024);
  faults.drop_after = 65536;
  faults.drop_count = G_MAXUINT;
  faults.drop_fail_status = 403;
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
  run = run_to_end (-1);
  assert_true_prefix_then_error (run);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_FOUND, TASK);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_FOUND, HOST);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_FOUND,
      "renewed 3 times in a row without progress");
  /* the first reading, then one for each of the three renewals */
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em, TASK),
      4);
  /* what each URL gave before it was refused */
  fail_unless_equals_int (run->data->len, 4 * 65536);
  luma_run_free (run);
}

GST_END_TEST;

/* A URL refused at once after each renewal: the same bound. */
GST_START_TEST (test_renewals_giving_nothing_are_bounded)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;

  faults.fail_status = 403;
  faults.fail_count = G_MAXUINT;
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
  run = run_to_end (-1);
  assert_true_prefix_then_error (run);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_FOUND,
      "renewed 3 times in a row without progress");
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em, TASK),
      4);
  fail_unless_equals_int (run->data->len, 0);
  luma_run_free (run);
}

GST_END_TEST;

/* A long download whose URL expires again and again, with more than 1 MiB
 * read after each renewal: as many renewals as it needs. */
GST_START_TEST (test_renewals_with_progress_go_on)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;

  use_video_of_size (6 * 1024 * 1024 + 5);
  faults.drop_after = 1280 * 1024;
  faults.drop_count = G_MAXUINT;
  faults.drop_fail_status = 403;
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
  run = run_to_end (-1);
  assert_whole_file (run);
  /* cut at 1.25, 2.5, 3.75 and 5 MiB: four renewals, more than the bound */
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em, TASK),
      5);
  luma_run_free (run);
}

GST_END_TEST;

/* ----- a video host that rate limits ----- */

/* 429 with Retry-After: 1, twice, then the file: waited out, as long as
 * the host asked each time. */
GST_START_TEST (test_429_with_retry_after_waited_out)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;
  gint64 before, took;

  faults.fail_status = 429;
  faults.fail_count = 2;
  faults.fail_retry_after = "1";
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
  before = g_get_monotonic_time ();
  run = run_to_end (0);
  took = g_get_monotonic_time () - before;
  assert_whole_file (run);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK),
      3);
  fail_unless (took >= 2 * G_USEC_PER_SEC,
      "waited only %" G_GINT64_FORMAT " us", took);
  luma_run_free (run);
}

GST_END_TEST;

/* A 503 that says when to come back, on a resume: waited out the same
 * way, not counted against `retries`. */
GST_START_TEST (test_503_with_retry_after_mid_stream_waited_out)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;
  gint64 before, took;
  g_autofree gchar *range = NULL;

  faults.drop_after = DROP_AT;
  faults.drop_count = 1;
  faults.fail_status = 503;
  faults.fail_count = 2;
  faults.fail_after = 1;
  faults.fail_retry_after = "1";
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
  before = g_get_monotonic_time ();
  /* one retry for the drop; none would be left for a 503 */
  run = run_to_end (1);
  took = g_get_monotonic_time () - before;
  assert_whole_file (run);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK),
      4);
  range = luma_emulator_get_last_range (fixture.em, TASK);
  fail_unless_equals_string (range, "bytes=300000-");
  fail_unless (took >= 2 * G_USEC_PER_SEC, "waited only %" G_GINT64_FORMAT
      " us", took);
  luma_run_free (run);
}

GST_END_TEST;

/* A host that never stops answering 429: `retries` + 5 waits, then an
 * error that names the host and the status. */
GST_START_TEST (test_429_forever_is_bounded)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run;

  faults.fail_status = 429;
  faults.fail_count = G_MAXUINT;
  faults.fail_retry_after = "0";
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
  run = run_to_end (0);
  assert_true_prefix_then_error (run);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_BUSY,
      "still asks to wait after 5 waits");
  luma_run_assert_error (run, GST_RESOURCE_ERROR_BUSY, HOST);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_BUSY, "429");
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK),
      6);
  luma_run_free (run);
}

GST_END_TEST;

/* Stopping while lumasrc waits out an hour-long Retry-After is prompt. */
GST_START_TEST (test_stop_during_429_wait_is_prompt)
{
  LumaEmulatorVideoFaults faults = { 0 };
  LumaRun *run = luma_run_new (fixture.em, TASK, NULL);
  gint64 before, took, deadline;

  faults.fail_status = 429;
  faults.fail_count = G_MAXUINT;
  faults.fail_retry_after = "3600";
  luma_emulator_set_video_faults (fixture.em, TASK, &faults);
  gst_element_set_state (run->pipeline, GST_STATE_PLAYING);

  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (luma_emulator_get_video_requests (fixture.em, TASK) == 0
      && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK),
      1);
  /* waiting, not failed */
  g_usleep (200000);
  luma_run_drain_bus (run);
  fail_unless (run->error == NULL, "error: %" GST_PTR_FORMAT, run->error);
  fail_unless_equals_int (luma_emulator_get_video_requests (fixture.em, TASK),
      1);

  before = g_get_monotonic_time ();
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  took = g_get_monotonic_time () - before;
  fail_unless (took < G_USEC_PER_SEC * luma_test_slowdown (),
      "stopping took %" G_GINT64_FORMAT " us", took);
  luma_run_free (run);
}

GST_END_TEST;

static Suite *
integrity_suite (void)
{
  Suite *s = suite_create ("lumasrc-integrity");
  TCase *tc = tcase_create ("integrity");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, luma_test_fixture_teardown);
  tcase_add_loop_test (tc, test_resume_with_bad_content_range_is_an_error, 0,
      G_N_ELEMENTS (bad_ranges));
  tcase_add_test (tc, test_resume_with_true_content_range_is_taken);
  tcase_add_test (tc, test_partial_answers_in_pieces_followed);
  tcase_add_test (tc, test_new_version_of_the_file_is_not_spliced);
  tcase_add_test (tc, test_403_after_every_drop_is_bounded);
  tcase_add_test (tc, test_renewals_giving_nothing_are_bounded);
  tcase_add_test (tc, test_renewals_with_progress_go_on);
  tcase_add_test (tc, test_429_with_retry_after_waited_out);
  tcase_add_test (tc, test_503_with_retry_after_mid_stream_waited_out);
  tcase_add_test (tc, test_429_forever_is_bounded);
  tcase_add_test (tc, test_stop_during_429_wait_is_prompt);
  return s;
}

GST_CHECK_MAIN (integrity);
