/* gst-luma: the streamer alone (one URL to bytes), against the emulator
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>

#include "lumahttp.h"
#include "lumastream.h"
#include "lumastream-private.h"
#include "luma-emulator.h"

#define TASK "t-unit"

static LumaEmulator *em;
static GBytes *video;
static SoupSession *session;

static void
setup (void)
{
  LumaEmulatorTask task = {
    .task_id = TASK,
    .final_flag = 1,
  };
  LumaHttpConfig config = { "gst-luma-test", 5, NULL, TRUE };
  g_autoptr (GError) error = NULL;
  guint8 *bytes = g_malloc (1024 * 1024);
  guint i;

  for (i = 0; i < 1024 * 1024; i++)
    bytes[i] = i * 7 + i / 251;
  video = task.video = g_bytes_new_take (bytes, 1024 * 1024);
  em = luma_emulator_new (NULL);
  luma_emulator_add_task (em, &task);
  fail_unless (luma_emulator_start (em, 0, 0, &error));
  session = luma_http_session_new (&config);
}

static void
teardown (void)
{
  g_clear_object (&session);
  g_clear_pointer (&em, luma_emulator_free);
  g_clear_pointer (&video, g_bytes_unref);
}

static LumaStream *
open_task_stream (void)
{
  g_autofree gchar *base = luma_emulator_get_video_url_base (em);
  g_autofree gchar *url = g_strconcat (base, "/r/" TASK "/1.mp4", NULL);
  LumaStream *stream = luma_stream_new (session, 0);

  fail_unless (luma_stream_set_url (stream, url, NULL));
  return stream;
}

GST_START_TEST (test_reads_whole_file_with_size)
{
  g_autoptr (LumaStream) stream = open_task_stream ();
  g_autoptr (GByteArray) got = g_byte_array_new ();
  guint8 chunk[100000];
  gssize n;

  fail_unless (luma_stream_open (stream, NULL, NULL));
  fail_unless_equals_uint64 (luma_stream_get_size (stream),
      g_bytes_get_size (video));
  while ((n = luma_stream_read (stream, chunk, sizeof (chunk), NULL, NULL)) > 0)
    g_byte_array_append (got, chunk, n);
  fail_unless_equals_int (n, 0);
  fail_unless_equals_uint64 (got->len, g_bytes_get_size (video));
  fail_unless (memcmp (got->data, g_bytes_get_data (video, NULL),
          got->len) == 0);
  fail_unless_equals_uint64 (luma_stream_get_offset (stream), got->len);
}

GST_END_TEST;

/* Leaving a request in the middle of its body (a seek, a stop) must not
 * wait for the rest of it: the server may be stalled. */
GST_START_TEST (test_leaving_a_stalled_body_is_prompt)
{
  g_autoptr (LumaStream) stream = open_task_stream ();
  LumaEmulatorVideoFaults faults = { 0 };
  guint8 chunk[4096];
  gint64 before, took;

  faults.stall = TRUE;
  faults.stall_after = 200000;
  luma_emulator_set_video_faults (em, TASK, &faults);
  fail_unless (luma_stream_read (stream, chunk, sizeof (chunk), NULL,
          NULL) > 0);

  before = g_get_monotonic_time ();
  luma_stream_seek (stream, 500000);
  took = g_get_monotonic_time () - before;
  fail_unless (took < G_USEC_PER_SEC, "leaving took %" G_GINT64_FORMAT " us",
      took);

  before = g_get_monotonic_time ();
  fail_unless (luma_stream_read (stream, chunk, sizeof (chunk), NULL,
          NULL) > 0);
  g_clear_pointer (&stream, luma_stream_free);
  took = g_get_monotonic_time () - before;
  fail_unless (took < G_USEC_PER_SEC, "freeing took %" G_GINT64_FORMAT " us",
      took);
}

GST_END_TEST;

GST_START_TEST (test_seek_reads_from_offset)
{
  g_autoptr (LumaStream) stream = open_task_stream ();
  guint8 chunk[1000];
  gssize n;

  luma_stream_seek (stream, 777777);
  n = luma_stream_read (stream, chunk, sizeof (chunk), NULL, NULL);
  fail_unless (n > 0);
  fail_unless (memcmp (chunk, (guint8 *) g_bytes_get_data (video,
              NULL) + 777777, n) == 0);
  fail_unless_equals_uint64 (luma_stream_get_offset (stream), 777777 + n);
}

GST_END_TEST;

/* A compressed answer (none was asked for) is not the file's bytes. */
GST_START_TEST (test_encoded_answer_refused)
{
  const gchar *codings[] = { "gzip", "BR", "identity, x-gzip", "zstd" };
  const gchar *taken[] = { "identity", "", "none", "x-unknown" };
  LumaStreamAnswer answer;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (codings); i++) {
    g_autoptr (SoupMessageHeaders) headers =
        soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
    g_autoptr (GError) error = NULL;

    soup_message_headers_append (headers, "Content-Length", "1000");
    soup_message_headers_append (headers, "Content-Encoding", codings[i]);
    fail_if (luma_stream_check_answer (200, headers, 0, "cdn.example",
            &answer, &error));
    fail_unless (g_error_matches (error, LUMA_STREAM_ERROR,
            LUMA_STREAM_ERROR_RANGE));
    fail_unless (strstr (error->message, codings[i]) != NULL, "%s",
        error->message);
  }
  /* no compression named: the bytes are the file's, as curl takes them */
  for (i = 0; i < G_N_ELEMENTS (taken); i++) {
    g_autoptr (SoupMessageHeaders) headers =
        soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);

    soup_message_headers_append (headers, "Content-Length", "1000");
    soup_message_headers_append (headers, "Content-Encoding", taken[i]);
    fail_unless (luma_stream_check_answer (200, headers, 0, "cdn.example",
            &answer, NULL), "%s refused", taken[i]);
  }
}

GST_END_TEST;

/* A version expected from elsewhere (a stored video's) holds across a
 * renewal of the URL on the same server: the host's other version is not
 * read on from. */
GST_START_TEST (test_expected_etag_survives_renewal)
{
  g_autoptr (LumaStream) stream = open_task_stream ();
  g_autofree gchar *base = luma_emulator_get_video_url_base (em);
  g_autofree gchar *renewed = g_strconcat (base, "/r/" TASK "/1.mp4?sig=2",
      NULL);
  g_autofree gchar *stored = luma_stream_version_tag_new (base,
      "\"stored-version\"");
  g_autoptr (GError) error = NULL;
  guint8 chunk[1000];

  luma_stream_expect_size (stream, g_bytes_get_size (video));
  luma_stream_expect_version (stream, stored);
  luma_stream_seek (stream, 4096);
  fail_unless (luma_stream_set_url (stream, renewed, NULL));
  fail_unless (luma_stream_read (stream, chunk, sizeof chunk, NULL,
          &error) < 0, "read on from another version");
  fail_unless (g_error_matches (error, LUMA_STREAM_ERROR,
          LUMA_STREAM_ERROR_CHANGED), "%s", error ? error->message : "");
}

GST_END_TEST;

/* A version told of another server's file says nothing of this one's
 * (its ETags are its own): the stream reads on, tied by the size. */
GST_START_TEST (test_expected_version_of_another_server_not_compared)
{
  g_autoptr (LumaStream) stream = open_task_stream ();
  g_autoptr (GError) error = NULL;
  guint8 chunk[1000];

  luma_stream_expect_size (stream, g_bytes_get_size (video));
  luma_stream_expect_version (stream, "https://node2.cdn.example \"x\"");
  fail_unless (luma_stream_read (stream, chunk, sizeof chunk, NULL,
          &error) > 0, "%s", error ? error->message : "");
  /* what was told of the other server is still its own */
  fail_unless (luma_stream_version_agrees (stream,
          "https://node2.cdn.example \"x\""));
  fail_if (luma_stream_version_agrees (stream,
          "https://node2.cdn.example \"y\""));
}

GST_END_TEST;

/* What luma_stream_check_version() makes of a stream's answers, in turn:
 * the URL that answered (NULL: FILE), its ETag and Last-Modified (NULL:
 * not sent), and whether it is taken as the version the ones before it
 * were. A sequence ends at its first change, or after three answers. */
#define FILE "https://cdn.example/r/t/1.mp4?sig=1"
#define MON "Mon, 30 Nov 2026 10:00:00 GMT"
#define TUE "Tue, 01 Dec 2026 10:00:00 GMT"
static const struct
{
  const gchar *url;
  const gchar *etag;
  const gchar *last_modified;
  gboolean same;
} versions[][3] = {
  {{NULL, "\"a\"", NULL, TRUE}, {NULL, "\"a\"", NULL, TRUE},
      {NULL, "\"b\"", NULL, FALSE}},
  /* the ETag decides where both answers have one */
  {{NULL, "\"a\"", MON, TRUE}, {NULL, "\"a\"", TUE, TRUE},
      {NULL, "\"a\"", MON, TRUE}},
  {{NULL, "\"a\"", MON, TRUE}, {NULL, "\"b\"", MON, FALSE}},
  /* weak comparison: the same tag, weakened */
  {{NULL, "\"a\"", NULL, TRUE}, {NULL, "W/\"a\"", NULL, TRUE},
      {NULL, "W/\"b\"", NULL, FALSE}},
  /* else the Last-Modified date, where both have one */
  {{NULL, NULL, MON, TRUE}, {NULL, NULL, MON, TRUE}, {NULL, NULL, TUE, FALSE}},
  {{NULL, "\"a\"", MON, TRUE}, {NULL, NULL, TUE, FALSE}},
  /* nothing to compare: taken, and what it tells is kept for later */
  {{NULL, "\"a\"", NULL, TRUE}, {NULL, NULL, TUE, TRUE},
      {NULL, "\"b\"", MON, FALSE}},
  {{NULL, NULL, NULL, TRUE}, {NULL, "\"a\"", NULL, TRUE},
      {NULL, "\"b\"", NULL, FALSE}},
  {{NULL, NULL, NULL, TRUE}, {NULL, NULL, NULL, TRUE}, {NULL, NULL, NULL,
          TRUE}},
  /* the same file on the same server, signed anew: compared */
  {{NULL, "\"a\"", NULL, TRUE}, {"https://cdn.example/r/t/1.mp4?sig=2",
          "\"b\"", NULL, FALSE}},
  /* another server (a mirror, another node): its own tags; one server
   * tags a file the same under any path */
  {{NULL, "\"a\"", MON, TRUE}, {"https://node2.cdn.example/r/t/1.mp4",
          "\"b\"", TUE, TRUE}, {"https://node2.cdn.example/r/t/1.mp4",
          "\"c\"", TUE, FALSE}},
  /* and a server that answers again is compared with what it told */
  {{NULL, "\"a\"", NULL, TRUE}, {"https://node2.cdn.example/r/t/1.mp4",
          "\"b\"", NULL, TRUE}, {NULL, "\"c\"", NULL, FALSE}},
  {{NULL, "\"a\"", NULL, TRUE}, {"https://node2.cdn.example/r/t/1.mp4",
          "\"b\"", NULL, TRUE}, {NULL, "W/\"a\"", NULL, TRUE}},
  {{NULL, NULL, MON, TRUE}, {"https://node2.cdn.example/r/t/1.mp4", NULL,
          TUE, TRUE}, {NULL, NULL, TUE, FALSE}},
  {{NULL, "\"a\"", NULL, TRUE}, {"https://cdn.example/r/t/2.mp4", "\"a\"",
          NULL, TRUE}, {"https://cdn.example/r/t/3.mp4", "\"b\"", NULL,
          FALSE}},
  {{NULL, "\"a\"", NULL, TRUE}, {"http://cdn.example:8080/r/t/1.mp4",
          "\"b\"", NULL, TRUE}, {NULL, "\"a\"", NULL, TRUE}},
};

/* Version tags told from elsewhere (a writer's, meta.json's): of an ETag
 * or, from a host that sends none, of a Last-Modified date; compared with
 * the stream's validator of the same kind, of the same server only. */
static const struct
{
  const gchar *expected;
  const gchar *told;
  gboolean agrees;
} tags[] = {
  {"https://cdn.example \"a\"", "https://cdn.example \"a\"", TRUE},
  {"https://cdn.example \"a\"", "https://cdn.example W/\"a\"", TRUE},
  {"https://cdn.example \"a\"", "https://cdn.example \"b\"", FALSE},
  {"https://cdn.example " MON, "https://cdn.example " MON, TRUE},
  {"https://cdn.example " MON, "https://cdn.example " TUE, FALSE},
  /* another kind: nothing to compare */
  {"https://cdn.example \"a\"", "https://cdn.example " TUE, TRUE},
  {"https://cdn.example " MON, "https://cdn.example \"b\"", TRUE},
  /* another server's */
  {"https://cdn.example \"a\"", "https://node2.cdn.example \"b\"", TRUE},
  {"https://cdn.example \"a\"", "https://cdn.example:8443 \"b\"", TRUE},
  {"https://cdn.example \"a\"", "https://cdn.examples \"b\"", TRUE},
  /* no tags */
  {"https://cdn.example \"a\"", "\"b\"", TRUE},
  {"https://cdn.example \"a\"", "https://cdn.example ", TRUE},
  {"https://cdn.example \"a\"", NULL, TRUE},
};

GST_START_TEST (test_version_tags)
{
  g_autoptr (LumaStream) stream = luma_stream_new (session, 0);
  g_autofree gchar *kept = NULL;

  luma_stream_expect_version (stream, tags[__i__].expected);
  fail_unless_equals_int (luma_stream_version_agrees (stream,
          tags[__i__].told), tags[__i__].agrees);
  kept = luma_stream_get_version (stream);
  fail_unless_equals_string (kept, tags[__i__].expected);
}

GST_END_TEST;

/* A version told from elsewhere (the store's: "https://cdn.example
 * \"e\"") before the first answer, which comes from FILE or @url. */
static const struct
{
  const gchar *url;
  const gchar *etag;
  gboolean same;
} after_expected[] = {
  {NULL, "\"e\"", TRUE},
  {NULL, "W/\"e\"", TRUE},
  {NULL, NULL, TRUE},
  {NULL, "\"f\"", FALSE},
  {"https://node2.cdn.example/r/t/1.mp4", "\"f\"", TRUE},
};

static gboolean
check_version_of (LumaStreamVersion * version, const gchar * url,
    const gchar * etag, const gchar * last_modified, GError ** error)
{
  g_autoptr (SoupMessageHeaders) headers =
      soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  g_autoptr (GUri) answered = g_uri_parse (url ? url : FILE,
      G_URI_FLAGS_NONE, NULL);

  if (etag != NULL)
    soup_message_headers_append (headers, "ETag", etag);
  if (last_modified != NULL)
    soup_message_headers_append (headers, "Last-Modified", last_modified);
  return luma_stream_check_version (version, headers, answered, error);
}

static void
assert_changed_error (const GError * error, const gchar * url,
    const gchar * validator)
{
  g_autoptr (GUri) answered = g_uri_parse (url ? url : FILE,
      G_URI_FLAGS_NONE, NULL);

  fail_unless (g_error_matches (error, LUMA_STREAM_ERROR,
          LUMA_STREAM_ERROR_CHANGED));
  fail_unless (strstr (error->message, g_uri_get_host (answered)) != NULL);
  fail_unless (strstr (error->message, validator) != NULL, "%s",
      error->message);
}

GST_START_TEST (test_check_version)
{
  LumaStreamVersion version = { NULL, };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (versions[__i__]); i++) {
    g_autoptr (GError) error = NULL;
    gboolean same = check_version_of (&version, versions[__i__][i].url,
        versions[__i__][i].etag, versions[__i__][i].last_modified, &error);

    fail_unless_equals_int (same, versions[__i__][i].same);
    if (same) {
      fail_unless (error == NULL);
      continue;
    }
    assert_changed_error (error, versions[__i__][i].url,
        versions[__i__][i].etag ? versions[__i__][i].etag :
        versions[__i__][i].last_modified);
    break;
  }
  luma_stream_version_clear (&version);
}

GST_END_TEST;

/* A tag told from elsewhere is compared with what its server told, be it
 * the one answering now or one that answered before. */
GST_START_TEST (test_told_version_of_a_server_that_answered_before)
{
  LumaStreamVersion version = { NULL, };

  fail_unless (check_version_of (&version, NULL, "\"a\"", NULL, NULL));
  fail_unless (check_version_of (&version,
          "https://node2.cdn.example/r/t/1.mp4", "\"b\"", NULL, NULL));
  fail_unless (luma_stream_version_tag_agrees (&version,
          "https://cdn.example \"a\""));
  fail_if (luma_stream_version_tag_agrees (&version,
          "https://cdn.example \"c\""));
  fail_unless (luma_stream_version_tag_agrees (&version,
          "https://node2.cdn.example W/\"b\""));
  fail_if (luma_stream_version_tag_agrees (&version,
          "https://node2.cdn.example \"c\""));
  fail_unless (luma_stream_version_tag_agrees (&version,
          "https://node3.cdn.example \"c\""));
  luma_stream_version_clear (&version);
}

GST_END_TEST;

GST_START_TEST (test_check_version_after_expected)
{
  LumaStreamVersion version = { NULL, };
  g_autoptr (GError) error = NULL;

  version.scope = g_strdup ("https://cdn.example");
  version.etag = g_strdup ("\"e\"");
  fail_unless_equals_int (check_version_of (&version,
          after_expected[__i__].url, after_expected[__i__].etag, NULL,
          &error), after_expected[__i__].same);
  if (!after_expected[__i__].same)
    assert_changed_error (error, after_expected[__i__].url,
        after_expected[__i__].etag);
  luma_stream_version_clear (&version);
}

GST_END_TEST;

/* What luma_stream_check_answer() makes of an answer's headers. NULL: the
 * header is not sent. */
#define UNKNOWN LUMA_STREAM_SIZE_UNKNOWN
static const struct
{
  guint status;
  const gchar *content_range;
  const gchar *content_length;
  const gchar *transfer_encoding;
  guint64 asked;
  gboolean ok;
  guint64 start, end, size;
} answers[] = {
  /* 200: the whole file, whatever was asked, if it reaches that far */
  {200, NULL, "1000", NULL, 0, TRUE, 0, 1000, 1000},
  {200, NULL, "1000", NULL, 500, TRUE, 0, 1000, 1000},
  {200, NULL, "1000", NULL, 1000, TRUE, 0, 1000, 1000},
  {200, NULL, "1000", NULL, 1001, FALSE},
  {200, NULL, NULL, "chunked", 500, TRUE, 0, UNKNOWN, UNKNOWN},
  {200, NULL, "-5", NULL, 0, FALSE},
  /* A transfer coding that transforms the bytes */
  {200, NULL, "1000", "gzip", 0, FALSE},
  {200, NULL, NULL, "gzip, chunked", 0, FALSE},
  {200, NULL, "1000", "identity", 0, TRUE, 0, 1000, 1000},
  /* a 200 whose Content-Range says it is a part of the file */
  {200, "bytes 0-999/1000", "1000", NULL, 0, TRUE, 0, 1000, 1000},
  {200, "bytes 0-499/1000", "500", NULL, 0, FALSE},
  {200, "bytes 500-999/1000", "500", NULL, 500, FALSE},
  {200, "bytes 0-9223372036854775807/1", "10", NULL, 0, FALSE},
  /* one that cannot be read may name a part too */
  {200, "bytes=500-999/1000", "500", NULL, 500, FALSE},
  {200, "500-999/1000", "500", NULL, 500, FALSE},
  /* a Content-Length that ends it before the file does */
  {200, "bytes 0-999/1000", "500", NULL, 0, FALSE},
  /* 206: from the byte asked for, within the file */
  {206, "bytes 500-999/1000", "500", NULL, 500, TRUE, 500, 1000, 1000},
  {206, "bytes 500-999/1000", NULL, "chunked", 500, TRUE, 500, 1000, 1000},
  {206, "bytes 500-599/1000", "100", NULL, 500, TRUE, 500, 600, 1000},
  {206, "bytes 0-0/1", "1", NULL, 0, TRUE, 0, 1, 1},
  {206, NULL, "500", NULL, 500, FALSE},
  {206, "", "500", NULL, 500, FALSE},
  {206, "bytes 500-999", "500", NULL, 500, FALSE},
  {206, "bytes */1000", "500", NULL, 500, FALSE},
  {206, "bytes 500-999/*", "500", NULL, 500, FALSE},
  {206, "bytes 0-999/1000", "1000", NULL, 500, FALSE},
  {206, "bytes 501-999/1000", "499", NULL, 500, FALSE},
  {206, "bytes 500-1000/1000", "501", NULL, 500, FALSE},
  {206, "bytes 500-999/999", "500", NULL, 500, FALSE},
  {206, "bytes 500-499/1000", "0", NULL, 500, FALSE},
  {206, "bytes 500-/1000", NULL, "chunked", 500, FALSE},
  {206, "bytes 500--3/1000", NULL, "chunked", 500, FALSE},
  {206, "bytes 500-999/-1000", NULL, "chunked", 500, FALSE},
  {206, "bytes 500-999/99999999999999999999999", "500", NULL, 500, FALSE},
  {206, "bytes 18446744073709551615-2/3", NULL, "chunked", 0, FALSE},
  {206, "bytes 500-999/1000", "400", NULL, 500, FALSE},
  {206, "bytes 500-999/1000", "600", NULL, 500, FALSE},
};

GST_START_TEST (test_check_answer)
{
  SoupMessageHeaders *headers =
      soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  LumaStreamAnswer answer = { 0, };
  g_autoptr (GError) error = NULL;
  gboolean ok;

  if (answers[__i__].content_range != NULL)
    soup_message_headers_replace (headers, "Content-Range",
        answers[__i__].content_range);
  if (answers[__i__].content_length != NULL)
    soup_message_headers_replace (headers, "Content-Length",
        answers[__i__].content_length);
  if (answers[__i__].transfer_encoding != NULL)
    soup_message_headers_replace (headers, "Transfer-Encoding",
        answers[__i__].transfer_encoding);
  ok = luma_stream_check_answer (answers[__i__].status, headers,
      answers[__i__].asked, "cdn.example", &answer, &error);
  soup_message_headers_unref (headers);

  if (!answers[__i__].ok) {
    fail_if (ok, "taken: %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "/%"
        G_GUINT64_FORMAT, answer.start, answer.end, answer.size);
    fail_unless (g_error_matches (error, LUMA_STREAM_ERROR,
            LUMA_STREAM_ERROR_RANGE));
    fail_unless (strstr (error->message, "cdn.example") != NULL,
        "no host in \"%s\"", error->message);
    return;
  }
  fail_unless (ok, "refused: %s", error ? error->message : "");
  fail_unless_equals_uint64 (answer.start, answers[__i__].start);
  fail_unless_equals_uint64 (answer.end, answers[__i__].end);
  fail_unless_equals_uint64 (answer.size, answers[__i__].size);
}

GST_END_TEST;

static Suite *
stream_suite (void)
{
  Suite *s = suite_create ("lumastream");
  TCase *tc = tcase_create ("stream");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_reads_whole_file_with_size);
  tcase_add_test (tc, test_leaving_a_stalled_body_is_prompt);
  tcase_add_test (tc, test_seek_reads_from_offset);
  tcase_add_loop_test (tc, test_check_answer, 0, G_N_ELEMENTS (answers));
  tcase_add_test (tc, test_expected_etag_survives_renewal);
  tcase_add_test (tc, test_expected_version_of_another_server_not_compared);
  tcase_add_loop_test (tc, test_check_version, 0, G_N_ELEMENTS (versions));
  tcase_add_loop_test (tc, test_version_tags, 0, G_N_ELEMENTS (tags));
  tcase_add_test (tc, test_told_version_of_a_server_that_answered_before);
  tcase_add_loop_test (tc, test_check_version_after_expected, 0,
      G_N_ELEMENTS (after_expected));
  tcase_add_test (tc, test_encoded_answer_refused);
  return s;
}

GST_CHECK_MAIN (stream);
