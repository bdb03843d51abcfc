/* gst-luma: the persistent store of finished results, alone: writing,
 * lookup with and without a key, integrity, resume, locks, eviction
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <stdarg.h>
#include <unistd.h>

#include "harness.h"
#include "lumastore.h"

#define API_URL "https://api.kie.ai/"
#define API_KEY "test-secret-key-0123456789"
#define TASK "774d9a7dd608a0e49293903095e45a4c"
/* past LUMA_STORE_INLINE_BYTES: the hasher's thread takes part */
#define VIDEO_SIZE (LUMA_STORE_INLINE_BYTES + 2 * 1024 * 1024 + 17)
#define CHUNK (256 * 1024)

static gchar *tmp_dir;          /* a fresh store directory for each test */
static GBytes *video;

static void
setup (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  guint8 *data = g_malloc (VIDEO_SIZE);
  gsize i;

  tmp_dir = g_dir_make_tmp ("luma-store-XXXXXX", NULL);
  fail_unless (tmp_dir != NULL);
  for (i = 0; i < VIDEO_SIZE; i++)
    data[i] = g_rand_int (rand);
  video = g_bytes_new_take (data, VIDEO_SIZE);
}

static void
teardown (void)
{
  luma_test_remove_tree (tmp_dir);
  g_clear_pointer (&tmp_dir, g_free);
  g_clear_pointer (&video, g_bytes_unref);
}

/* A store on tmp_dir; @key NULL: without a key. */
static LumaStore *
store_new (const gchar * key, guint64 limit, gboolean read_only)
{
  g_autofree gchar *digest = luma_store_key_digest (key);
  LumaStoreConfig config = { tmp_dir, API_URL, digest, limit, read_only };

  return luma_store_new (&config);
}

/* What luma_store_begin () gave: one of the three. */
typedef struct
{
  LumaStoreWriter *writer;
  LumaStoreReader *reader;
  LumaStoreFollower *follower;
} Begun;

static void
begin_any (LumaStore * store, const gchar * task_id, Begun * begun)
{
  g_autoptr (GError) error = NULL;

  memset (begun, 0, sizeof *begun);
  fail_unless (luma_store_begin (store, task_id, NULL, &begun->writer,
          &begun->reader, &begun->follower, &error), "%s",
      error ? error->message : "");
  fail_unless ((begun->writer != NULL) + (begun->reader != NULL)
      + (begun->follower != NULL) == 1);
}

static LumaStoreWriter *
begin (LumaStore * store, const gchar * task_id)
{
  Begun begun;

  begin_any (store, task_id, &begun);
  fail_unless (begun.writer != NULL, "not a writer");
  return begun.writer;
}

static void
append_range (LumaStoreWriter * writer, GBytes * bytes, gsize from, gsize to)
{
  gsize offset;

  for (offset = from; offset < to; offset += CHUNK) {
    g_autoptr (GBytes) piece = g_bytes_new_from_bytes (bytes, offset,
        MIN (CHUNK, to - offset));
    g_autoptr (GError) error = NULL;

    fail_unless (luma_store_writer_append (writer, offset, piece, &error),
        "%s", error ? error->message : "");
  }
}

static gboolean
commit (LumaStoreWriter * writer, gsize size, gint64 kie_until, GError ** error)
{
  LumaStoreMeta meta = { NULL, };

  meta.prompt = (gchar *) "Make it snow";
  meta.result_url = (gchar *) "https://tempfile.example/r.mp4";
  meta.size = size;
  meta.created = 1755078171000;
  meta.kie_until = kie_until;
  return luma_store_writer_commit (writer, &meta, error);
}

/* A complete entry of @size bytes of the video for @task_id. */
static void
store_task (LumaStore * store, const gchar * task_id, gsize size,
    gint64 kie_until)
{
  LumaStoreWriter *writer = begin (store, task_id);
  g_autoptr (GError) error = NULL;

  append_range (writer, video, 0, size);
  fail_unless (commit (writer, size, kie_until, &error), "%s",
      error ? error->message : "");
}

static gint64
in_days (gint days)
{
  return g_get_real_time () / 1000 + days * 24 * G_GINT64_CONSTANT (3600000);
}

static void
assert_reads_video (LumaStoreReader * reader, gsize size)
{
  g_autofree guint8 *data = g_malloc (size + 1);
  g_autoptr (GError) error = NULL;
  gsize got = 0;

  for (;;) {
    gssize n = luma_store_reader_read (reader, data + got, 100000, got,
        &error);

    fail_unless (n >= 0, "%s", error ? error->message : "");
    if (n == 0)
      break;
    got += n;
  }
  fail_unless_equals_uint64 (got, size);
  fail_unless (memcmp (data, g_bytes_get_data (video, NULL), size) == 0);
}

/* Opens the stored TASK and reads it whole, as it was written. */
static void
assert_opens_whole (LumaStore * store)
{
  g_autoptr (GError) error = NULL;
  LumaStoreReader *reader = luma_store_open (store, TASK, NULL, &error);

  fail_unless (reader != NULL, "%s", error ? error->message : "");
  assert_reads_video (reader, VIDEO_SIZE);
  luma_store_reader_free (reader);
}

/* The entry directory of the one stored task (a store of one entry). */
static gchar *
only_entry_dir (void)
{
  g_autoptr (GDir) scopes = g_dir_open (tmp_dir, 0, NULL);
  const gchar *scope = scopes ? g_dir_read_name (scopes) : NULL;
  g_autofree gchar *scope_dir = NULL;
  g_autoptr (GDir) entries = NULL;
  const gchar *name;

  fail_unless (scope != NULL, "the store is empty");
  scope_dir = g_build_filename (tmp_dir, scope, NULL);
  entries = g_dir_open (scope_dir, 0, NULL);
  name = g_dir_read_name (entries);
  fail_unless (name != NULL);
  return g_build_filename (scope_dir, name, NULL);
}

static JsonObject *
read_meta (const gchar * dir)
{
  g_autofree gchar *path = g_build_filename (dir, "meta.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();

  fail_unless (json_parser_load_from_file (parser, path, NULL), "%s", path);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

GST_START_TEST (test_write_then_open)
{
  g_autoptr (GError) error = NULL;
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autofree gchar *dir = NULL;
  g_autofree gchar *part = NULL;
  g_autofree gchar *digest = NULL;
  g_autoptr (JsonObject) meta = NULL;
  LumaStoreReader *reader;

  fail_unless (luma_store_open (store, TASK, NULL, &error) == NULL);
  fail_unless (error == NULL);
  store_task (store, TASK, VIDEO_SIZE, in_days (14));

  dir = only_entry_dir ();
  part = g_build_filename (dir, "video.part", NULL);
  fail_if (g_file_test (part, G_FILE_TEST_EXISTS));
  meta = read_meta (dir);
  digest = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, video);
  /* hashed from memory as it was written: not verified yet */
  fail_unless_equals_string (json_object_get_string_member (meta, "sha256"),
      digest);
  fail_if (json_object_get_boolean_member (meta, "verified"));
  fail_unless_equals_string (json_object_get_string_member (meta, "task-id"),
      TASK);
  fail_unless_equals_int64 (json_object_get_int_member (meta, "size"),
      VIDEO_SIZE);
  fail_unless_equals_string (json_object_get_string_member (meta, "prompt"),
      "Make it snow");

  reader = luma_store_open (store, TASK, NULL, &error);
  fail_unless (reader != NULL, "%s", error ? error->message : "");
  assert_reads_video (reader, VIDEO_SIZE);
  fail_unless_equals_string (luma_store_reader_get_meta (reader)->result_url,
      "https://tempfile.example/r.mp4");
  luma_store_reader_free (reader);
  /* the first open hashed the file and recorded it */
  json_object_unref (meta);
  meta = read_meta (dir);
  fail_unless (json_object_get_boolean_member (meta, "verified"));
  luma_store_free (store);
}

GST_END_TEST;

/* meta.json holds @digest, and says @flag ("verified", "synced"). */
static void
assert_recorded (const gchar * dir, const gchar * digest, const gchar * flag)
{
  g_autoptr (JsonObject) meta = read_meta (dir);

  fail_unless_equals_string (json_object_get_string_member (meta, "sha256"),
      digest);
  fail_unless (json_object_get_boolean_member (meta, flag), "%s", flag);
}

static void
write_meta_object (const gchar * dir, JsonObject * meta)
{
  g_autofree gchar *path = g_build_filename (dir, "meta.json", NULL);
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autoptr (JsonGenerator) generator = json_generator_new ();

  json_node_set_object (root, meta);
  json_generator_set_root (generator, root);
  fail_unless (json_generator_to_file (generator, path, NULL));
}

/* Rewrites members of the entry's meta.json, as another boot or an older
 * version would have left it. */
static void
edit_meta (const gchar * dir, const gchar * boot_id, gboolean keep_digest)
{
  g_autoptr (JsonObject) meta = read_meta (dir);

  json_object_set_string_member (meta, "boot-id", boot_id);
  if (!keep_digest)
    json_object_set_null_member (meta, "sha256");
  write_meta_object (dir, meta);
}

static gchar *
running_boot_id (void)
{
  gchar *text = NULL;

  fail_unless (g_file_get_contents ("/proc/sys/kernel/random/boot_id", &text,
          NULL, NULL));
  return g_strstrip (text);
}

/* The end of the stream does not wait for the disk: the entry says it is
 * not synced yet and names the boot it was written in; its first open
 * syncs it and records that. */
GST_START_TEST (test_first_open_syncs)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autofree gchar *boot_id = running_boot_id ();
  g_autofree gchar *dir = NULL;
  g_autoptr (JsonObject) meta = NULL;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  dir = only_entry_dir ();
  meta = read_meta (dir);
  fail_if (json_object_get_boolean_member (meta, "synced"));
  fail_unless_equals_string (json_object_get_string_member (meta, "boot-id"),
      boot_id);

  assert_opens_whole (store);
  json_object_unref (meta);
  meta = read_meta (dir);
  fail_unless (json_object_get_boolean_member (meta, "synced"));
  fail_unless (json_object_get_boolean_member (meta, "verified"));
  luma_store_free (store);
}

GST_END_TEST;

/* A damaged entry's video is set aside, to be fetched again, and kept
 * until a new one is stored (the fetch may fail: KIE deleted it). */
static void
assert_set_aside (const gchar * dir)
{
  g_autofree gchar *video = g_build_filename (dir, "video", NULL);
  g_autofree gchar *previous = g_build_filename (dir, "video.previous", NULL);

  fail_if (g_file_test (video, G_FILE_TEST_EXISTS));
  fail_unless (g_file_test (previous, G_FILE_TEST_IS_REGULAR));
}

/* Not synced, and written in another boot: the system may have stopped
 * before the disk took the bytes. With a digest the hash tells; without
 * one the entry is dropped while KIE still holds the video (it is fetched
 * again), and kept when it is the only copy. */
GST_START_TEST (test_unsynced_from_another_boot)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autofree gchar *dir = NULL;
  g_autofree gchar *digest = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256,
      video);
  g_autoptr (JsonObject) meta = NULL;
  g_autoptr (GError) error = NULL;

  /* with its digest: hashed, sound, kept */
  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  dir = only_entry_dir ();
  edit_meta (dir, "another-boot", TRUE);
  assert_opens_whole (store);
  meta = read_meta (dir);
  fail_unless (json_object_get_boolean_member (meta, "synced"));
  fail_unless (json_object_get_boolean_member (meta, "verified"));
  g_clear_pointer (&meta, json_object_unref);
  luma_store_free (store);
  luma_test_remove_tree (tmp_dir);

  /* no digest, KIE still has it: dropped */
  store = store_new (API_KEY, 0, FALSE);
  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  edit_meta (dir, "another-boot", FALSE);
  fail_unless (luma_store_open (store, TASK, NULL, &error) == NULL);
  fail_unless (g_error_matches (error, LUMA_STORE_ERROR,
          LUMA_STORE_ERROR_DAMAGED), "%s", error ? error->message : "none");
  fail_unless (strstr (error->message, TASK) != NULL);
  assert_set_aside (dir);
  g_clear_error (&error);
  luma_test_remove_tree (tmp_dir);

  /* no digest, the only copy: kept, and hashed from now on */
  store_task (store, TASK, VIDEO_SIZE, in_days (-1));
  edit_meta (dir, "another-boot", FALSE);
  assert_opens_whole (store);
  assert_recorded (dir, digest, "synced");
  luma_store_free (store);
}

GST_END_TEST;

/* meta.json's flags and boot id of the wrong types (a damaged file, or
 * not ours): no warning, no crash; the flags count as false, so the entry
 * is hashed and synced again, and then recorded right. */
GST_START_TEST (test_meta_members_of_wrong_type)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autofree gchar *dir = NULL;
  g_autofree gchar *digest = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256,
      video);
  g_autoptr (JsonObject) meta = NULL;
  JsonObject *object = json_object_new ();

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  dir = only_entry_dir ();
  meta = read_meta (dir);
  json_object_set_int_member (object, "x", 1);
  json_object_set_object_member (meta, "verified", object);
  json_object_set_array_member (meta, "synced", json_array_new ());
  json_object_set_int_member (meta, "boot-id", 42);
  write_meta_object (dir, meta);

  assert_opens_whole (store);
  assert_recorded (dir, digest, "verified");
  assert_recorded (dir, digest, "synced");
  luma_store_free (store);
}

GST_END_TEST;

/* Tells @version (nullable), writes the whole video and commits; then
 * opens the entry: the version its meta.json gives (free it). */
static gchar *
store_whole_with_version (LumaStore * store, LumaStoreWriter * writer,
    const gchar * version)
{
  g_autoptr (GError) error = NULL;
  LumaStoreReader *reader;
  gchar *stored;

  luma_store_writer_set_version (writer, version);
  luma_store_writer_set_size (writer, VIDEO_SIZE);
  append_range (writer, video, 0, VIDEO_SIZE);
  fail_unless (commit (writer, VIDEO_SIZE, in_days (14), &error), "%s",
      error ? error->message : "");
  reader = luma_store_open (store, TASK, NULL, &error);
  fail_unless (reader != NULL, "%s", error ? error->message : "");
  stored = g_strdup (luma_store_reader_get_meta (reader)->version);
  luma_store_reader_free (reader);
  return stored;
}

/* The version tag the writer told is stored with the video, for a reader
 * that goes on from the network; one that is not one line of at most 1280
 * bytes (meta.json is anyone's to edit) reads as none. */
GST_START_TEST (test_meta_keeps_the_told_version)
{
  const gchar *edited[] = { "\"a\"\nX: y", "\"\x01\"", NULL };
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStoreWriter *writer = begin (store, TASK);
  g_autofree gchar *stored = NULL;
  g_autofree gchar *long_version = g_strnfill (1281, 'e');
  g_autofree gchar *dir = NULL;
  LumaStoreReader *reader;
  guint i;

  stored = store_whole_with_version (store, writer,
      "https://cdn.example \"v9\"");
  fail_unless_equals_string (stored, "https://cdn.example \"v9\"");

  dir = only_entry_dir ();
  edited[G_N_ELEMENTS (edited) - 1] = long_version;
  for (i = 0; i < G_N_ELEMENTS (edited); i++) {
    g_autoptr (JsonObject) meta = read_meta (dir);

    json_object_set_string_member (meta, "version", edited[i]);
    write_meta_object (dir, meta);
    reader = luma_store_open (store, TASK, NULL, NULL);
    fail_unless (reader != NULL);
    fail_unless (luma_store_reader_get_meta (reader)->version == NULL,
        "took %s", edited[i]);
    luma_store_reader_free (reader);
  }
  luma_store_free (store);
}

GST_END_TEST;

/* Without a key, any scope of the same API answers; with another key or
 * on another API, none. */
GST_START_TEST (test_lookup_scopes)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStore *keyless = store_new (NULL, 0, TRUE);
  LumaStore *other_key = store_new ("another-key", 0, TRUE);
  g_autofree gchar *digest = luma_store_key_digest (API_KEY);
  LumaStoreConfig other = { tmp_dir, "https://other.example", NULL, 0, TRUE };
  LumaStore *other_api = luma_store_new (&other);
  LumaStoreReader *reader;

  store_task (store, TASK, 1000, in_days (14));
  reader = luma_store_open (keyless, TASK, NULL, NULL);
  fail_unless (reader != NULL);
  assert_reads_video (reader, 1000);
  luma_store_reader_free (reader);
  fail_unless (luma_store_open (other_key, TASK, NULL, NULL) == NULL);
  fail_unless (luma_store_open (other_api, TASK, NULL, NULL) == NULL);
  fail_unless (luma_store_open (keyless, "another-task", NULL, NULL) == NULL);
  luma_store_free (store);
  luma_store_free (keyless);
  luma_store_free (other_key);
  luma_store_free (other_api);
}

GST_END_TEST;

/* Bytes after a seek are not written: the .part never has holes, and a
 * prefix short of the size is never committed. */
GST_START_TEST (test_seek_leaves_no_holes)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStoreWriter *writer = begin (store, TASK);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = only_entry_dir ();
  g_autofree gchar *video_path = g_build_filename (dir, "video", NULL);

  append_range (writer, video, 0, CHUNK);
  append_range (writer, video, 2 * CHUNK, VIDEO_SIZE);
  fail_unless_equals_uint64 (luma_store_writer_get_prefix (writer), CHUNK);
  fail_if (commit (writer, VIDEO_SIZE, in_days (14), &error));
  fail_if (g_file_test (video_path, G_FILE_TEST_EXISTS));
  fail_unless (luma_store_open (store, TASK, NULL, NULL) == NULL);

  /* seeking back to the prefix's end resumes the appending */
  writer = begin (store, TASK);
  fail_unless_equals_uint64 (luma_store_writer_get_prefix (writer), 0);
  append_range (writer, video, 0, CHUNK);
  append_range (writer, video, 3 * CHUNK, 4 * CHUNK);
  append_range (writer, video, CHUNK, VIDEO_SIZE);
  g_clear_error (&error);
  fail_unless (commit (writer, VIDEO_SIZE, in_days (14), &error), "%s",
      error ? error->message : "");
  luma_store_free (store);
  store = store_new (API_KEY, 0, FALSE);
  {
    LumaStoreReader *reader = luma_store_open (store, TASK, NULL, NULL);

    fail_unless (reader != NULL);
    assert_reads_video (reader, VIDEO_SIZE);
    luma_store_reader_free (reader);
  }
  luma_store_free (store);
}

GST_END_TEST;

/* What a writer tells of its file (size and version tag) reaches the next
 * writer of the entry, which resumes its .part; a tag that is not one line
 * of at most 1280 bytes is not told, and the size still is. */
GST_START_TEST (test_part_size_and_version_told_to_the_next_writer)
{
  g_autofree gchar *long_version = g_strnfill (1281, 'e');
  const gchar *versions[] = { "https://cdn.example \"v1\"",
    "https://cdn.example W/\"a b\"", "\"x\"\r\nX: y", long_version,
    NULL
  };
  const gchar *told[] = { "https://cdn.example \"v1\"",
    "https://cdn.example W/\"a b\"", NULL, NULL, NULL
  };
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (versions); i++) {
    LumaStoreWriter *writer = begin (store, TASK);

    luma_store_writer_set_version (writer, versions[i]);
    luma_store_writer_set_size (writer, VIDEO_SIZE);
    if (luma_store_writer_get_prefix (writer) == 0)
      append_range (writer, video, 0, CHUNK);
    luma_store_writer_free (writer, FALSE);

    writer = begin (store, TASK);
    fail_unless_equals_uint64 (luma_store_writer_get_part_size (writer),
        VIDEO_SIZE);
    fail_unless_equals_string (luma_store_writer_get_part_version (writer),
        told[i]);
    luma_store_writer_free (writer, FALSE);
  }
  luma_store_free (store);
}

GST_END_TEST;

/* A writer that told its file but left no byte of it (discarded, or
 * stopped before its first): the next writer has no .part of that file,
 * and does not take its version as its own. */
GST_START_TEST (test_nothing_told_without_the_bytes)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStoreWriter *writer = begin (store, TASK);

  luma_store_writer_set_version (writer, "https://cdn.example \"v1\"");
  luma_store_writer_set_size (writer, VIDEO_SIZE);
  luma_store_writer_free (writer, TRUE);

  writer = begin (store, TASK);
  fail_unless_equals_uint64 (luma_store_writer_get_part_size (writer),
      LUMA_STORE_SIZE_UNKNOWN);
  fail_unless (luma_store_writer_get_part_version (writer) == NULL);
  /* a host that sends no ETag */
  fail_unless (store_whole_with_version (store, writer, NULL) == NULL);
  luma_store_free (store);
}

GST_END_TEST;

/* A writer that stops early leaves its .part; the next begin resumes at
 * its length, reads it back, and commits without a digest from memory
 * (the next open hashes the file). */
GST_START_TEST (test_resume_part)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStoreWriter *writer = begin (store, TASK);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = NULL;
  g_autofree gchar *digest = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256,
      video);
  g_autoptr (JsonObject) meta = NULL;
  guint8 head[100];

  append_range (writer, video, 0, 5 * CHUNK);
  luma_store_writer_free (writer, FALSE);

  writer = begin (store, TASK);
  fail_unless_equals_uint64 (luma_store_writer_get_prefix (writer), 5 * CHUNK);
  fail_unless_equals_int (luma_store_writer_read (writer, head, sizeof head,
          CHUNK, NULL), sizeof head);
  fail_unless (memcmp (head, (guint8 *) g_bytes_get_data (video, NULL) + CHUNK,
          sizeof head) == 0);
  append_range (writer, video, 5 * CHUNK, VIDEO_SIZE);
  fail_unless (commit (writer, VIDEO_SIZE, in_days (14), &error), "%s",
      error ? error->message : "");

  dir = only_entry_dir ();
  meta = read_meta (dir);
  fail_unless (json_object_get_null_member (meta, "sha256"));
  assert_opens_whole (store);
  assert_recorded (dir, digest, "verified");
  luma_store_free (store);
}

GST_END_TEST;

/* A byte changed in an entry never verified: its digest does not match,
 * its video is set aside. */
GST_START_TEST (test_damaged_byte)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = NULL;
  g_autofree gchar *path = NULL;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  dir = only_entry_dir ();
  path = g_build_filename (dir, "video", NULL);
  luma_test_flip_byte (path, VIDEO_SIZE / 2);
  fail_unless (luma_store_open (store, TASK, NULL, &error) == NULL);
  fail_unless (g_error_matches (error, LUMA_STORE_ERROR,
          LUMA_STORE_ERROR_DAMAGED), "%s", error ? error->message : "none");
  fail_unless (strstr (error->message, TASK) != NULL);
  assert_set_aside (dir);
  luma_store_free (store);
}

GST_END_TEST;

/* A verified entry is only size-checked: a truncated file is caught. */
GST_START_TEST (test_truncated)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = NULL;
  g_autofree gchar *path = NULL;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  luma_store_reader_free (luma_store_open (store, TASK, NULL, NULL));
  dir = only_entry_dir ();
  path = g_build_filename (dir, "video", NULL);
  fail_unless (truncate (path, VIDEO_SIZE - 1) == 0);
  fail_unless (luma_store_open (store, TASK, NULL, &error) == NULL);
  fail_unless (g_error_matches (error, LUMA_STORE_ERROR,
          LUMA_STORE_ERROR_DAMAGED), "%s", error ? error->message : "none");
  assert_set_aside (dir);
  luma_store_free (store);
}

GST_END_TEST;

/* Read-only serves an entry, never changes a file (not even the entry's
 * last-used time, nor a damaged entry). */
GST_START_TEST (test_read_only)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStore *read_only = store_new (API_KEY, 0, TRUE);
  g_autofree gchar *before = NULL;
  g_autofree gchar *after = NULL;
  g_autofree gchar *dir = NULL;
  g_autofree gchar *path = NULL;
  g_autoptr (GError) error = NULL;
  LumaStoreReader *reader;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  before = luma_test_describe_tree (tmp_dir);
  g_usleep (20000);
  reader = luma_store_open (read_only, TASK, NULL, &error);
  fail_unless (reader != NULL, "%s", error ? error->message : "");
  assert_reads_video (reader, VIDEO_SIZE);
  luma_store_reader_free (reader);
  after = luma_test_describe_tree (tmp_dir);
  fail_unless_equals_string (after, before);

  dir = only_entry_dir ();
  path = g_build_filename (dir, "video", NULL);
  luma_test_flip_byte (path, 10);
  g_free (before);
  before = luma_test_describe_tree (tmp_dir);
  fail_unless (luma_store_open (read_only, TASK, NULL, &error) == NULL);
  g_free (after);
  after = luma_test_describe_tree (tmp_dir);
  fail_unless_equals_string (after, before);
  luma_store_free (store);
  luma_store_free (read_only);
}

GST_END_TEST;

GST_START_TEST (test_holds_no_key)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);

  store_task (store, TASK, 1000, in_days (14));
  fail_if (luma_test_tree_holds (tmp_dir, API_KEY));
  luma_store_free (store);
}

GST_END_TEST;

/* The entry's directory; its meta.json's mtime (last-used) set @age
 * seconds back. */
/* The name the store gives the entry of @task_id within its scope. */
static gchar *
entry_name (const gchar * task_id)
{
  g_autofree gchar *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
      task_id, -1);

  return g_strndup (digest, 32);
}

/* Sets the mtime of @path @age seconds back. */
static void
make_older (const gchar * path, gint age)
{
  struct timespec times[2];

  fail_unless (g_file_test (path, G_FILE_TEST_EXISTS), "%s", path);
  clock_gettime (CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= age;
  times[1] = times[0];
  fail_unless (utimensat (AT_FDCWD, path, times, 0) == 0);
}

/* The directory of @task_id's entry in API_KEY's scope. */
static gchar *
entry_dir_of (const gchar * task_id)
{
  g_autofree gchar *key = luma_store_key_digest (API_KEY);
  g_autofree gchar *scope_text = g_strconcat ("gst-luma-store-1\n", API_URL,
      "\n", key, NULL);
  g_autofree gchar *scope = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
      scope_text, -1);
  g_autofree gchar *scope_name = g_strndup (scope, 32);
  g_autofree gchar *tid = entry_name (task_id);

  return g_build_filename (tmp_dir, scope_name, tid, NULL);
}

static gchar *
age_entry (LumaStore * store, const gchar * task_id, gint age)
{
  gchar *dir = entry_dir_of (task_id);
  g_autofree gchar *meta = g_build_filename (dir, "meta.json", NULL);

  make_older (meta, age);
  return dir;
}

/* Over the limit: entries KIE still holds go first, least recently used
 * first; then only copies, least recently used first; the entry just
 * written stays; the only copies removed are named. */
GST_START_TEST (test_eviction_order)
{
  LumaStore *unlimited = store_new (API_KEY, 0, FALSE);
  LumaStore *store = store_new (API_KEY, 3500, FALSE);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) only_copies = NULL;
  g_autofree gchar *kie_old = NULL, *kie_new = NULL;
  g_autofree gchar *only_old = NULL, *only_new = NULL, *fresh = NULL;

  store_task (unlimited, "kie-old", 1000, in_days (10));
  store_task (unlimited, "kie-new", 1000, in_days (10));
  store_task (unlimited, "only-old", 1000, in_days (-1));
  store_task (unlimited, "only-new", 1000, in_days (-1));
  store_task (unlimited, "fresh", 1000, in_days (14));
  /* the only copy used longest ago is older than every other entry */
  only_old = age_entry (unlimited, "only-old", 5000);
  kie_old = age_entry (unlimited, "kie-old", 400);
  kie_new = age_entry (unlimited, "kie-new", 300);
  only_new = age_entry (unlimited, "only-new", 200);
  fresh = age_entry (unlimited, "fresh", 1000);
  fail_unless_equals_uint64 (luma_store_get_usage (store), 5000);

  /* "fresh" is the one being written: never evicted, however old */
  only_copies = luma_store_evict (store, "fresh", 0);
  fail_unless_equals_uint64 (luma_store_get_usage (store), 3000);
  fail_if (g_file_test (kie_old, G_FILE_TEST_EXISTS));
  fail_if (g_file_test (kie_new, G_FILE_TEST_EXISTS));
  fail_unless (g_file_test (only_old, G_FILE_TEST_EXISTS));
  fail_unless (g_file_test (fresh, G_FILE_TEST_EXISTS));
  fail_unless (only_copies == NULL);

  /* then the only copies, the least recently used first, and named */
  luma_store_free (store);
  store = store_new (API_KEY, 2500, FALSE);
  only_copies = luma_store_evict (store, "fresh", 0);
  fail_if (g_file_test (only_old, G_FILE_TEST_EXISTS));
  fail_unless (g_file_test (only_new, G_FILE_TEST_EXISTS));
  fail_unless (only_copies != NULL);
  fail_unless_equals_int (g_strv_length (only_copies), 1);
  fail_unless_equals_string (only_copies[0], "only-old");
  luma_store_free (store);

  /* room for a video about to be written, whose download may yet fail:
   * no only copy goes for it, until it is stored */
  store = store_new (API_KEY, 2500, FALSE);
  g_strfreev (only_copies);
  only_copies = luma_store_evict (store, "fresh", 1000);
  fail_unless (g_file_test (only_new, G_FILE_TEST_EXISTS));
  fail_unless (only_copies == NULL);
  luma_store_free (store);
  store = store_new (API_KEY, 1500, FALSE);
  only_copies = luma_store_evict (store, "fresh", 0);
  fail_if (g_file_test (only_new, G_FILE_TEST_EXISTS));
  fail_unless (g_file_test (fresh, G_FILE_TEST_EXISTS));
  fail_unless (only_copies != NULL);
  fail_unless_equals_string (only_copies[0], "only-new");
  luma_store_free (store);
  luma_store_free (unlimited);
}

GST_END_TEST;

/* An entry someone holds (a reader here) is not evicted. */
GST_START_TEST (test_eviction_skips_held)
{
  LumaStore *unlimited = store_new (API_KEY, 0, FALSE);
  LumaStore *store = store_new (API_KEY, 500, FALSE);
  LumaStoreReader *reader;
  g_auto (GStrv) only_copies = NULL;
  g_autofree gchar *dir = NULL;

  store_task (unlimited, TASK, 1000, in_days (14));
  reader = luma_store_open (unlimited, TASK, NULL, NULL);
  fail_unless (reader != NULL);
  only_copies = luma_store_evict (store, NULL, 0);
  fail_unless_equals_uint64 (luma_store_get_usage (store), 1000);
  luma_store_reader_free (reader);
  only_copies = luma_store_evict (store, NULL, 0);
  fail_unless_equals_uint64 (luma_store_get_usage (store), 0);
  luma_store_free (store);
  luma_store_free (unlimited);
}

GST_END_TEST;

/* Makes @name in @dir a sparse file of @size bytes; FALSE where the file
 * system has no room for such a size. */
static gboolean
plant_sparse (const gchar * dir, const gchar * name, gint64 size)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  gint fd = g_open (path, O_WRONLY | O_CREAT, 0600);
  gboolean planted;

  fail_unless (fd >= 0);
  planted = ftruncate (fd, size) == 0;
  g_close (fd, NULL);
  return planted;
}

/* Sparse files planted in the store, whose sizes add up past 2^64: the
 * sum does not wrap round to a small one, which left the store over its
 * limit; the entry that holds them is evicted, the others stay. Only
 * where a file may be that large (tmpfs in /dev/shm; ext4 stops at
 * 16 TiB, where no sum can wrap). */
GST_START_TEST (test_eviction_of_planted_huge_sizes)
{
  g_autofree gchar *shm_dir = g_strdup ("/dev/shm/luma-store-XXXXXX");
  g_autofree gchar *planted = NULL, *real = NULL;
  LumaStore *unlimited, *store;
  g_auto (GStrv) only_copies = NULL;

  if (g_mkdtemp (shm_dir) == NULL) {
    g_printerr ("no /dev/shm: the test of planted huge sizes is skipped\n");
    return;
  }
  luma_test_remove_tree (tmp_dir);
  g_free (tmp_dir);
  tmp_dir = g_steal_pointer (&shm_dir);
  unlimited = store_new (API_KEY, 0, FALSE);
  store_task (unlimited, "real", 1002, in_days (10));
  real = entry_dir_of ("real");
  planted = entry_dir_of ("planted");
  fail_unless (g_mkdir (planted, 0700) == 0);
  /* 2 (2^63 - 1) + 1002: 1000 once wrapped round */
  if (!plant_sparse (planted, "video.part", G_MAXINT64)
      || !plant_sparse (planted, "video.previous", G_MAXINT64)) {
    g_printerr ("no room for a file of 2^63 bytes: the test of planted "
        "huge sizes is skipped\n");
    luma_store_free (unlimited);
    return;
  }
  fail_unless_equals_uint64 (luma_store_get_usage (unlimited), G_MAXUINT64);

  store = store_new (API_KEY, 1500, FALSE);
  only_copies = luma_store_evict (store, "real", 0);
  fail_if (g_file_test (planted, G_FILE_TEST_EXISTS));
  fail_unless (g_file_test (real, G_FILE_TEST_IS_DIR));
  fail_unless_equals_uint64 (luma_store_get_usage (store), 1002);
  fail_unless (only_copies == NULL);
  luma_store_free (store);
  luma_store_free (unlimited);
}

GST_END_TEST;

/* ----- another writer's download, followed ----- */

/* A store whose followers give up on a writer that wrote nothing for
 * 200 ms. */
static LumaStore *
quick_store_new (void)
{
  g_autofree gchar *digest = luma_store_key_digest (API_KEY);
  LumaStoreConfig config = { tmp_dir, API_URL, digest, 0, FALSE, 200 };

  return luma_store_new (&config);
}

/* Begins while another writer holds the entry: a follower. */
static LumaStoreFollower *
follow (LumaStore * store)
{
  Begun begun;

  begin_any (store, TASK, &begun);
  fail_unless (begun.follower != NULL, "not a follower");
  return begun.follower;
}

/* Reads from @offset up to @to, each byte checked against the video. */
static void
read_followed (LumaStoreFollower * follower, gsize offset, gsize to)
{
  guint8 data[100000];

  while (offset < to) {
    g_autoptr (GError) error = NULL;
    gssize n = luma_store_follower_read (follower, data, MIN (sizeof data,
            to - offset), offset, NULL, &error);

    fail_unless (n > 0, "%s", error ? error->message : "the end");
    fail_unless (memcmp (data, (const guint8 *) g_bytes_get_data (video,
                NULL) + offset, n) == 0, "wrong bytes at %" G_GSIZE_FORMAT,
        offset);
    offset += n;
  }
}

/* The read at @offset fails with @code, having served nothing. */
static void
assert_follower_read_fails (LumaStoreFollower * follower, gsize offset,
    gint code)
{
  guint8 data[16];
  g_autoptr (GError) error = NULL;

  fail_unless_equals_int (luma_store_follower_read (follower, data,
          sizeof data, offset, NULL, &error), -1);
  fail_unless (g_error_matches (error, LUMA_STORE_ERROR, code), "%s",
      error ? error->message : "no error");
}

/* A second writer (of @second_store) follows the first's download: each
 * piece is read once it is written, before the next one is, and the rest
 * once the entry is committed, with the size its writer told. */
static void
assert_second_follows_first (LumaStore * first_store, LumaStore * second_store)
{
  LumaStoreWriter *writer = begin (first_store, TASK);
  g_autoptr (GError) error = NULL;
  LumaStoreFollower *follower;
  gsize offset;
  guint8 byte;

  luma_store_writer_set_size (writer, VIDEO_SIZE);
  append_range (writer, video, 0, CHUNK);
  follower = follow (second_store);
  fail_unless_equals_uint64 (luma_store_follower_get_written (follower), CHUNK);
  for (offset = CHUNK; offset < VIDEO_SIZE; offset += CHUNK) {
    gsize end = MIN (offset + CHUNK, VIDEO_SIZE);

    append_range (writer, video, offset, end);
    read_followed (follower, offset == CHUNK ? 0 : offset, end);
    fail_unless_equals_uint64 (luma_store_follower_get_written (follower), end);
  }
  fail_unless_equals_uint64 (luma_store_follower_get_size (follower),
      VIDEO_SIZE);
  fail_unless (commit (writer, VIDEO_SIZE, in_days (14), &error));
  fail_unless_equals_int (luma_store_follower_read (follower, &byte, 1,
          VIDEO_SIZE, NULL, &error), 0);
  fail_unless_equals_uint64 (luma_store_follower_get_size (follower),
      VIDEO_SIZE);
  luma_store_follower_free (follower);
}

GST_START_TEST (test_second_writer_follows)
{
  LumaStore *store = quick_store_new ();

  assert_second_follows_first (store, store);
  luma_store_free (store);
}

GST_END_TEST;

static gpointer
cancel_later (gpointer data)
{
  g_usleep (100000);
  g_cancellable_cancel (data);
  return NULL;
}

/* A follower's wait for the writer to write more ends when cancelled. */
GST_START_TEST (test_follow_cancelled)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStoreWriter *writer = begin (store, TASK);
  LumaStoreFollower *follower = follow (store);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  GThread *thread = g_thread_new ("cancel", cancel_later, cancellable);
  guint8 data[16];

  fail_unless_equals_int (luma_store_follower_read (follower, data,
          sizeof data, 0, cancellable, &error), -1);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_thread_join (thread);
  luma_store_follower_free (follower);
  luma_store_writer_free (writer, TRUE);
  luma_store_free (store);
}

GST_END_TEST;

/* A read-only store follows a writer of another store, creates nothing
 * when there is none, and does not follow a .part nobody holds. */
GST_START_TEST (test_read_only_follows)
{
  LumaStore *store = quick_store_new ();
  LumaStore *read_only = store_new (API_KEY, 0, TRUE);
  g_autofree gchar *before = luma_test_describe_tree (tmp_dir);
  g_autofree gchar *after = NULL;
  LumaStoreWriter *writer;
  LumaStoreFollower *follower;

  fail_unless (luma_store_follow (read_only, TASK) == NULL);
  after = luma_test_describe_tree (tmp_dir);
  fail_unless_equals_string (after, before);

  writer = begin (store, TASK);
  append_range (writer, video, 0, CHUNK);
  follower = luma_store_follow (read_only, TASK);
  fail_unless (follower != NULL);
  append_range (writer, video, CHUNK, 2 * CHUNK);
  read_followed (follower, 0, 2 * CHUNK);
  luma_store_follower_free (follower);

  /* stopped: its .part stays, held by nobody */
  luma_store_writer_free (writer, FALSE);
  fail_unless (luma_store_follow (read_only, TASK) == NULL);
  luma_store_free (read_only);
  luma_store_free (store);
}

GST_END_TEST;

/* The first writer has written a little; a second one, of @second_store,
 * is told that the entry is busy: that error. */
static GError *
second_begin_is_busy (LumaStoreWriter * first, LumaStore * second_store)
{
  LumaStoreWriter *second = NULL;
  LumaStoreReader *reader = NULL;
  LumaStoreFollower *follower = NULL;
  GError *error = NULL;

  append_range (first, video, 0, CHUNK);
  fail_if (luma_store_begin (second_store, TASK, NULL, &second, &reader,
          &follower, &error));
  fail_unless (g_error_matches (error, LUMA_STORE_ERROR,
          LUMA_STORE_ERROR_BUSY), "%s", error ? error->message : "none");
  fail_unless (second == NULL && reader == NULL && follower == NULL);
  return error;
}

/* A store as an element of @pipeline makes it, where a holder that makes
 * no progress is waited for 10 minutes. */
static LumaStore *
element_store_new (gconstpointer pipeline)
{
  g_autofree gchar *digest = luma_store_key_digest (API_KEY);
  LumaStoreConfig config = { tmp_dir, API_URL, digest, 0, FALSE, 600000,
    pipeline
  };

  return luma_store_new (&config);
}

static gint pipeline_a, pipeline_b;

/* Two sources of one pipeline storing a task at once: the second is told
 * at once that the entry is busy (it streams without the store) instead
 * of waiting for the first, and once the first is done with the entry,
 * the next one gets it. */
GST_START_TEST (test_second_source_of_pipeline_not_waited_for)
{
  LumaStore *first_store = element_store_new (&pipeline_a);
  LumaStore *second_store = element_store_new (&pipeline_a);
  LumaStoreWriter *first = begin (first_store, TASK);
  LumaStoreWriter *second;
  g_autoptr (GError) error = second_begin_is_busy (first, second_store);

  fail_unless (strstr (error->message, "this pipeline") != NULL, "%s",
      error->message);

  /* stopped: the .part stays, for the next one to resume */
  luma_store_writer_free (first, FALSE);
  second = begin (second_store, TASK);
  fail_unless_equals_uint64 (luma_store_writer_get_prefix (second), CHUNK);
  luma_store_writer_free (second, TRUE);
  luma_store_free (first_store);
  luma_store_free (second_store);
}

GST_END_TEST;

/* A source of another pipeline follows, as another process does: one
 * download. */
GST_START_TEST (test_source_of_other_pipeline_follows)
{
  LumaStore *first_store = element_store_new (&pipeline_a);
  LumaStore *second_store = element_store_new (&pipeline_b);

  assert_second_follows_first (first_store, second_store);
  luma_store_free (first_store);
  luma_store_free (second_store);
}

GST_END_TEST;

/* A source that finds the entry complete when it begins reads it, and
 * holds back no later source of its pipeline. */
GST_START_TEST (test_reader_holds_back_no_source)
{
  LumaStore *store = element_store_new (&pipeline_a);
  LumaStoreWriter *writer = begin (store, TASK);
  g_autoptr (GError) error = NULL;
  guint i;

  append_range (writer, video, 0, VIDEO_SIZE);
  fail_unless (commit (writer, VIDEO_SIZE, in_days (14), &error));
  for (i = 0; i < 2; i++) {
    Begun begun;

    begin_any (store, TASK, &begun);
    fail_unless (begun.reader != NULL, "not a reader");
    assert_reads_video (begun.reader, VIDEO_SIZE);
    luma_store_reader_free (begun.reader);
  }
  luma_store_free (store);
}

GST_END_TEST;

/* A .part an earlier run left, that the writer holding it now has not
 * appended to: not served (the writer may find it does not fit the file
 * on the host and drop it), neither while the writer stays silent nor
 * once it dropped it. */
GST_START_TEST (test_follower_trusts_only_growth)
{
  LumaStore *store = quick_store_new ();
  LumaStoreWriter *earlier = begin (store, TASK);
  LumaStoreWriter *writer;
  LumaStoreFollower *follower;

  append_range (earlier, video, 0, CHUNK);
  luma_store_writer_free (earlier, FALSE);
  writer = begin (store, TASK);
  fail_unless_equals_uint64 (luma_store_writer_get_prefix (writer), CHUNK);

  follower = follow (store);
  assert_follower_read_fails (follower, 0, LUMA_STORE_ERROR_BUSY);
  luma_store_follower_free (follower);

  follower = follow (store);
  luma_store_writer_free (writer, TRUE);
  assert_follower_read_fails (follower, 0, LUMA_STORE_ERROR_ABANDONED);
  luma_store_follower_free (follower);
  luma_store_free (store);
}

GST_END_TEST;

/* Writes @size bytes of @data over the file at @path, the same file. */
static void
overwrite_in_place (const gchar * path, const gchar * data, gsize size)
{
  gint fd = g_open (path, O_WRONLY | O_TRUNC, 0);

  fail_unless (fd >= 0);
  fail_unless (write (fd, data, size) == (gssize) size);
  g_close (fd, NULL);
}

/* Whatever the lock file holds in place of a size (another program's
 * bytes, a number too large, no end of line), the follower takes none and
 * reads on. */
GST_START_TEST (test_follower_ignores_garbled_told_size)
{
  const gchar *garbled[] = { "", "\n", "abc\n", "-1\n", "12 34\n", "0x10\n",
    "123", "99999999999999999999999999\n", "18446744073709551615\n",
    "1\0002\n"
  };
  LumaStore *store = quick_store_new ();
  LumaStoreWriter *writer = begin (store, TASK);
  g_autofree gchar *dir = NULL;
  g_autofree gchar *lock = NULL;
  gsize offset = 0;
  guint i;

  append_range (writer, video, offset, CHUNK / 8);
  offset += CHUNK / 8;
  dir = only_entry_dir ();
  lock = g_build_filename (dir, "lock", NULL);
  for (i = 0; i < G_N_ELEMENTS (garbled); i++) {
    LumaStoreFollower *follower = follow (store);
    gsize length = strlen (garbled[i]) + (i == G_N_ELEMENTS (garbled) - 1
        ? 3 : 0);

    overwrite_in_place (lock, garbled[i], length);
    append_range (writer, video, offset, offset + CHUNK / 8);
    read_followed (follower, 0, offset + CHUNK / 8);
    fail_unless_equals_uint64 (luma_store_follower_get_size (follower),
        LUMA_STORE_SIZE_UNKNOWN);
    luma_store_follower_free (follower);
    offset += CHUNK / 8;
  }
  luma_store_writer_free (writer, TRUE);
  luma_store_free (store);
}

GST_END_TEST;

/* The writer stops short: the follower says so at the end of what was
 * written, and the next begin resumes the .part from there. */
GST_START_TEST (test_follower_of_stopped_writer)
{
  LumaStore *store = quick_store_new ();
  LumaStoreWriter *writer = begin (store, TASK);
  LumaStoreFollower *follower;

  append_range (writer, video, 0, CHUNK);
  follower = follow (store);
  append_range (writer, video, CHUNK, 3 * CHUNK);
  read_followed (follower, 0, 3 * CHUNK);
  luma_store_writer_free (writer, FALSE);
  assert_follower_read_fails (follower, 3 * CHUNK, LUMA_STORE_ERROR_ABANDONED);
  luma_store_follower_free (follower);

  writer = begin (store, TASK);
  fail_unless_equals_uint64 (luma_store_writer_get_prefix (writer), 3 * CHUNK);
  luma_store_writer_free (writer, TRUE);
  luma_store_free (store);
}

GST_END_TEST;

/* A .part that grows past the size its writer told is not trusted. */
GST_START_TEST (test_follower_checks_told_size)
{
  LumaStore *store = quick_store_new ();
  LumaStoreWriter *writer = begin (store, TASK);
  LumaStoreFollower *follower = follow (store);

  luma_store_writer_set_size (writer, CHUNK);
  append_range (writer, video, 0, 2 * CHUNK);
  assert_follower_read_fails (follower, 0, LUMA_STORE_ERROR_DAMAGED);
  luma_store_follower_free (follower);
  luma_store_writer_free (writer, TRUE);
  luma_store_free (store);
}

GST_END_TEST;

/* Appends the video until the file size limit @limit_bytes makes a write
 * fail (EFBIG, as ENOSPC would): that append fails, the failure names the
 * file and why, and the .part is removed. */
static void
assert_write_error_drops_part (guint64 limit_bytes)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStoreWriter *writer = begin (store, TASK);
  struct rlimit limit = { limit_bytes, limit_bytes };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = only_entry_dir ();
  g_autofree gchar *part = g_build_filename (dir, "video.part", NULL);
  gsize offset;

  signal (SIGXFSZ, SIG_IGN);
  fail_unless (setrlimit (RLIMIT_FSIZE, &limit) == 0);
  for (offset = 0; offset < VIDEO_SIZE && error == NULL; offset += CHUNK) {
    g_autoptr (GBytes) piece = g_bytes_new_from_bytes (video, offset,
        MIN (CHUNK, VIDEO_SIZE - offset));

    if (!luma_store_writer_append (writer, offset, piece, &error)) {
      fail_if (g_file_test (part, G_FILE_TEST_EXISTS));
      g_clear_pointer (&writer, luma_store_writer_free_discarded);
    }
  }
  /* the append that could not write said so */
  fail_unless (writer == NULL);
  fail_unless (error != NULL && strstr (error->message, "video.part"));
  fail_unless (strstr (error->message, g_strerror (EFBIG)) != NULL, "%s",
      error->message);
  fail_if (g_file_test (part, G_FILE_TEST_EXISTS));
  luma_store_free (store);
}

/* In the first bytes, which the streaming thread writes itself: told by
 * the append that failed. */
GST_START_TEST (test_write_error_drops_part)
{
  assert_write_error_drops_part (CHUNK + 100);
}

GST_END_TEST;

/* Past them, where the hasher has a thread of its own: told by the append
 * that failed too. */
GST_START_TEST (test_write_error_past_the_first_bytes)
{
  assert_write_error_drops_part (LUMA_STORE_INLINE_BYTES + CHUNK + 100);
}

GST_END_TEST;

/* ----- what else the store's directory may hold ----- */

static gboolean
exists_in (const gchar * dir, const gchar * name)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* A FIFO where the entry in @dir has its file @name: an open of it for
 * reading blocks until someone opens it for writing, here never. */
static void
make_fifo (const gchar * dir, const gchar * name)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);

  g_unlink (path);
  fail_unless (mkfifo (path, 0600) == 0, "%s", g_strerror (errno));
}

static gboolean
is_regular_in (const gchar * dir, const gchar * name)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  GStatBuf st;

  return g_lstat (path, &st) == 0 && S_ISREG (st.st_mode);
}

/* A FIFO in place of a stored video is a damaged entry (an open of it
 * would wait for ever): told so, dropped, and stored anew. */
GST_START_TEST (test_fifo_video_is_damaged)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = NULL;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  dir = only_entry_dir ();
  make_fifo (dir, "video");
  fail_if (luma_store_open (store, TASK, NULL, &error));
  fail_unless (g_error_matches (error, LUMA_STORE_ERROR,
          LUMA_STORE_ERROR_DAMAGED), "%s", error ? error->message : "none");
  fail_unless (strstr (error->message, "not a file") != NULL, "%s",
      error->message);
  fail_if (exists_in (dir, "video"));
  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  assert_opens_whole (store);
  luma_store_free (store);
}

GST_END_TEST;

/* A FIFO as an entry's lock: the video is read all the same, a follower
 * is not made, eviction removes the entry, and a writer makes the lock
 * anew. */
GST_START_TEST (test_fifo_lock_blocks_nothing)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStore *read_only = store_new (API_KEY, 0, TRUE);
  LumaStore *small = store_new (API_KEY, 500, FALSE);
  g_autofree gchar *dir = NULL;
  g_autofree gchar *video_path = NULL;
  g_auto (GStrv) only_copies = NULL;
  Begun begun;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  dir = only_entry_dir ();
  make_fifo (dir, "lock");
  assert_opens_whole (store);
  fail_unless (luma_store_follow (read_only, TASK) == NULL);

  begin_any (store, TASK, &begun);
  fail_unless (begun.reader != NULL);
  assert_reads_video (begun.reader, VIDEO_SIZE);
  luma_store_reader_free (begun.reader);
  /* the video gone, a begin writes it anew */
  video_path = g_build_filename (dir, "video", NULL);
  fail_unless (g_unlink (video_path) == 0);
  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  fail_unless (is_regular_in (dir, "lock"));

  make_fifo (dir, "lock");
  only_copies = luma_store_evict (small, NULL, 0);
  fail_if (g_file_test (dir, G_FILE_TEST_EXISTS));
  luma_store_free (small);
  luma_store_free (read_only);
  luma_store_free (store);
}

GST_END_TEST;

/* A FIFO in place of the .part a writer is writing: another process that
 * would follow it is told the entry is busy, a read-only one does not
 * follow; once the writer is gone, the next one writes a .part anew. */
GST_START_TEST (test_fifo_part_is_not_followed)
{
  LumaStore *store = quick_store_new ();
  LumaStore *read_only = store_new (API_KEY, 0, TRUE);
  LumaStoreWriter *writer = begin (store, TASK);
  g_autofree gchar *dir = only_entry_dir ();
  g_autoptr (GError) busy = NULL;

  luma_store_writer_set_size (writer, VIDEO_SIZE);
  make_fifo (dir, "video.part");
  busy = second_begin_is_busy (writer, store);
  fail_unless (luma_store_follow (read_only, TASK) == NULL);
  luma_store_writer_free (writer, FALSE);

  make_fifo (dir, "video.part");
  writer = begin (store, TASK);
  fail_unless_equals_uint64 (luma_store_writer_get_prefix (writer), 0);
  fail_unless (is_regular_in (dir, "video.part"));
  luma_store_writer_free (writer, TRUE);
  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  assert_opens_whole (store);
  luma_store_free (read_only);
  luma_store_free (store);
}

GST_END_TEST;

/* A FIFO as meta.json: no entry, at once, with a key or without. */
/* TASK is not in @store, nor in a keyless store of the same API: no
 * entry, and no error either. */
static void
assert_no_entry (LumaStore * store)
{
  LumaStore *keyless = store_new (NULL, 0, FALSE);
  g_autoptr (GError) error = NULL;

  fail_if (luma_store_open (store, TASK, NULL, &error));
  fail_unless (error == NULL, "%s", error->message);
  fail_if (luma_store_open (keyless, TASK, NULL, &error));
  fail_unless (error == NULL, "%s", error->message);
  luma_store_free (keyless);
}

GST_START_TEST (test_fifo_meta_is_no_entry)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autofree gchar *dir = NULL;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  dir = only_entry_dir ();
  make_fifo (dir, "meta.json");
  assert_no_entry (store);
  luma_store_free (store);
}

GST_END_TEST;

/* An empty or blank meta.json (a disk that lost it, a hand that emptied
 * it): no entry, and no g_critical from json-glib (fatal here), with a
 * key or without. A blank one has no root, which json-glib's type
 * macros take with a critical. */
GST_START_TEST (test_empty_meta_is_no_entry)
{
  static const gchar *contents[] = { "", " \n\t" };
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autofree gchar *dir = NULL;
  g_autofree gchar *path = NULL;
  guint i;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  dir = only_entry_dir ();
  path = g_build_filename (dir, "meta.json", NULL);
  for (i = 0; i < G_N_ELEMENTS (contents); i++) {
    fail_unless (g_file_set_contents (path, contents[i], -1, NULL));
    assert_no_entry (store);
  }
  luma_store_free (store);
}

GST_END_TEST;

/* Puts a symbolic link to @target where the entry in @dir has its file
 * @name. */
static void
make_link (const gchar * dir, const gchar * name, const gchar * target)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);

  g_unlink (path);
  fail_unless (symlink (target, path) == 0, "%s", g_strerror (errno));
}

/* Links in an entry, to files elsewhere: none is read, written or removed
 * through. A linked video is a damaged entry (even one that is the whole
 * video), a linked lock or .part is made anew by the writer. */
GST_START_TEST (test_links_in_entry_are_not_followed)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autofree gchar *outside = g_dir_make_tmp ("luma-outside-XXXXXX", NULL);
  g_autofree gchar *target = g_build_filename (outside, "file", NULL);
  g_autofree gchar *dir = NULL;
  g_autoptr (GError) error = NULL;
  LumaStoreWriter *writer;
  gchar *contents;
  gsize length;

  fail_unless (g_file_set_contents (target, g_bytes_get_data (video, NULL),
          VIDEO_SIZE, NULL));
  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  dir = only_entry_dir ();

  make_link (dir, "video", target);
  fail_if (luma_store_open (store, TASK, NULL, &error));
  fail_unless (g_error_matches (error, LUMA_STORE_ERROR,
          LUMA_STORE_ERROR_DAMAGED), "%s", error ? error->message : "none");
  g_clear_error (&error);
  /* the link is no video to keep */
  {
    g_autofree gchar *link = g_build_filename (dir, "video", NULL);
    g_autofree gchar *previous = g_build_filename (dir, "video.previous",
        NULL);

    fail_if (g_file_test (link, G_FILE_TEST_EXISTS));
    fail_if (g_file_test (previous, G_FILE_TEST_EXISTS));
  }

  fail_unless (g_mkdir_with_parents (dir, 0700) == 0);
  make_link (dir, "lock", target);
  make_link (dir, "video.part", target);
  writer = begin (store, TASK);
  fail_unless_equals_uint64 (luma_store_writer_get_prefix (writer), 0);
  fail_unless (is_regular_in (dir, "lock") && is_regular_in (dir,
          "video.part"));
  append_range (writer, video, 0, VIDEO_SIZE);
  fail_unless (commit (writer, VIDEO_SIZE, in_days (14), &error), "%s",
      error ? error->message : "");
  assert_opens_whole (store);

  fail_unless (g_file_get_contents (target, &contents, &length, NULL));
  fail_unless_equals_uint64 (length, VIDEO_SIZE);
  fail_unless (memcmp (contents, g_bytes_get_data (video, NULL),
          VIDEO_SIZE) == 0);
  g_free (contents);
  luma_test_remove_tree (outside);
  luma_store_free (store);
}

GST_END_TEST;

/* A complete entry of @task_id in @dir, as a store writes one (verified,
 * on disk), used a year ago. */
static void
plant_entry (const gchar * dir, const gchar * task_id, gsize size)
{
  g_autofree gchar *meta = g_strdup_printf ("{\"task-id\": \"%s\", "
      "\"api-url\": \"%s\", \"size\": %" G_GSIZE_FORMAT ", "
      "\"verified\": true, \"synced\": true}", task_id, API_URL, size);
  g_autofree gchar *meta_path = g_build_filename (dir, "meta.json", NULL);
  g_autofree gchar *video_path = g_build_filename (dir, "video", NULL);

  fail_unless (g_mkdir_with_parents (dir, 0700) == 0);
  fail_unless (g_file_set_contents (meta_path, meta, -1, NULL));
  fail_unless (g_file_set_contents (video_path, g_bytes_get_data (video,
              NULL), size, NULL));
  make_older (meta_path, 365 * 24 * 3600);
}

/* Pointed at a folder of the user's (GST_LUMA_STORE_DIR=~/Videos), the
 * store reads, counts and evicts only what it made: not the files of a
 * folder two levels down that bear its names, not an entry in a folder
 * of a name it does not give, not an entry behind a link, however old
 * and however far over the limit the store is. */
GST_START_TEST (test_store_keeps_to_its_own)
{
  LumaStore *unlimited = store_new (API_KEY, 0, FALSE);
  LumaStore *keyless = store_new (NULL, 0, FALSE);
  LumaStore *store = store_new (API_KEY, 1500, FALSE);
  g_autofree gchar *outside = g_dir_make_tmp ("luma-outside-XXXXXX", NULL);
  g_autofree gchar *tid = entry_name ("linked");
  g_autofree gchar *holiday = g_build_filename (tmp_dir, "Holiday", "2024",
      NULL);
  g_autofree gchar *foreign = g_build_filename (tmp_dir, "Holiday", tid,
      NULL);
  g_autofree gchar *linked_scope = g_build_filename (outside,
      "0123456789abcdef0123456789abcdef", NULL);
  g_autofree gchar *linked = g_build_filename (linked_scope, tid, NULL);
  g_autofree gchar *link = g_build_filename (tmp_dir,
      "0123456789abcdef0123456789abcdef", NULL);
  g_autofree gchar *old = NULL, *recent = NULL;
  g_auto (GStrv) only_copies = NULL;
  g_autoptr (GError) error = NULL;

  fail_unless (outside != NULL);
  plant_entry (holiday, "holiday", 5000);
  plant_entry (foreign, "linked", 5000);
  plant_entry (linked, "linked", 5000);
  fail_unless (symlink (linked_scope, link) == 0);

  /* neither is found without a key, where every scope is looked in */
  fail_if (luma_store_open (keyless, "linked", NULL, &error));
  fail_unless (error == NULL, "%s", error->message);

  store_task (unlimited, "old", 1000, in_days (14));
  store_task (unlimited, "recent", 1000, in_days (14));
  old = age_entry (unlimited, "old", 500);
  recent = age_entry (unlimited, "recent", 100);
  fail_unless_equals_uint64 (luma_store_get_usage (store), 2000);
  only_copies = luma_store_evict (store, NULL, 0);
  fail_if (g_file_test (old, G_FILE_TEST_EXISTS));
  fail_unless (g_file_test (recent, G_FILE_TEST_EXISTS));
  fail_unless (exists_in (holiday, "video") && exists_in (holiday,
          "meta.json"));
  fail_unless (exists_in (foreign, "video") && exists_in (foreign,
          "meta.json"));
  fail_unless (exists_in (linked, "video") && exists_in (linked, "meta.json"));

  luma_test_remove_tree (outside);
  luma_store_free (store);
  luma_store_free (keyless);
  luma_store_free (unlimited);
}

GST_END_TEST;

/* The scope of the key's entries is a link to a folder elsewhere: the
 * store writes nothing through it, and reads nothing through it. */
GST_START_TEST (test_linked_scope_is_not_written)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autofree gchar *outside = g_dir_make_tmp ("luma-outside-XXXXXX", NULL);
  g_autofree gchar *dir = NULL, *scope = NULL, *moved = NULL;
  g_autoptr (GError) error = NULL;
  LumaStoreWriter *writer = NULL;
  LumaStoreReader *reader = NULL;
  LumaStoreFollower *follower = NULL;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  dir = only_entry_dir ();
  scope = g_path_get_dirname (dir);
  moved = g_build_filename (outside, "scope", NULL);
  fail_unless (g_rename (scope, moved) == 0);
  fail_unless (symlink (moved, scope) == 0);

  fail_if (luma_store_open (store, TASK, NULL, &error));
  fail_unless (error == NULL, "%s", error->message);
  fail_if (luma_store_begin (store, TASK, NULL, &writer, &reader, &follower,
          &error));
  fail_unless (g_error_matches (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_IO),
      "%s", error ? error->message : "none");
  fail_unless (strstr (error->message, "not a directory") != NULL, "%s",
      error->message);
  fail_unless (writer == NULL && reader == NULL && follower == NULL);

  luma_test_remove_tree (outside);
  luma_store_free (store);
}

GST_END_TEST;

/* Reading at @offset fails: the file was cut short there. */
static void
assert_cut_short (gssize n, GError * error)
{
  fail_unless_equals_int (n, -1);
  fail_unless (g_error_matches (error, LUMA_STORE_ERROR,
          LUMA_STORE_ERROR_DAMAGED), "%s", error ? error->message : "none");
  fail_unless (strstr (error->message, "cut short") != NULL, "%s",
      error->message);
}

/* A stored video cut short while it is read (by a program that knows
 * nothing of the store): an error that says so, not the end of the
 * video. So for the .part a writer reads back after a seek. */
GST_START_TEST (test_video_cut_short_while_read)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *video_path = NULL, *part = NULL, *dir = NULL;
  LumaStoreReader *reader;
  LumaStoreWriter *writer;
  guint8 data[64];
  gssize n;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  reader = luma_store_open (store, TASK, NULL, &error);
  fail_unless (reader != NULL, "%s", error ? error->message : "");
  dir = entry_dir_of (TASK);
  video_path = g_build_filename (dir, "video", NULL);
  fail_unless (truncate (video_path, VIDEO_SIZE / 2) == 0);
  n = luma_store_reader_read (reader, data, sizeof data, VIDEO_SIZE / 2,
      &error);
  assert_cut_short (n, error);
  luma_store_reader_free (reader);
  g_clear_error (&error);

  writer = begin (store, "another");
  append_range (writer, video, 0, 2 * CHUNK);
  g_free (dir);
  dir = entry_dir_of ("another");
  part = g_build_filename (dir, "video.part", NULL);
  fail_unless (truncate (part, CHUNK) == 0);
  n = luma_store_writer_read (writer, data, sizeof data, CHUNK, &error);
  assert_cut_short (n, error);
  luma_store_writer_free (writer, TRUE);
  luma_store_free (store);
}

GST_END_TEST;

GST_START_TEST (test_default_dir)
{
  g_autofree gchar *dir = luma_store_default_dir ();
  g_autofree gchar *expected = g_build_filename (g_get_user_data_dir (),
      "gst-luma", "results", NULL);

  fail_unless_equals_string (dir, expected);
}

GST_END_TEST;

/* Releases the flock on the fd @data 2 ms from now, as another's begin
 * would. */
static gpointer
unlock_soon (gpointer data)
{
  g_usleep (2000);
  flock (GPOINTER_TO_INT (data), LOCK_UN);
  return NULL;
}

/* A scope that is a link to a folder elsewhere, which does not hold the
 * entry yet: a begin makes nothing there. */
GST_START_TEST (test_nothing_made_through_a_linked_scope)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autofree gchar *outside = g_dir_make_tmp ("luma-outside-XXXXXX", NULL);
  g_autofree gchar *dir = entry_dir_of (TASK);
  g_autofree gchar *scope = g_path_get_dirname (dir);
  g_autoptr (GDir) made = NULL;
  g_autoptr (GError) error = NULL;
  LumaStoreWriter *writer = NULL;
  LumaStoreReader *reader = NULL;
  LumaStoreFollower *follower = NULL;

  fail_unless (symlink (outside, scope) == 0);
  fail_if (luma_store_begin (store, TASK, NULL, &writer, &reader, &follower,
          &error));
  fail_unless (strstr (error->message, "not a directory") != NULL, "%s",
      error->message);
  made = g_dir_open (outside, 0, NULL);
  fail_unless (g_dir_read_name (made) == NULL,
      "something was made outside the store");
  luma_test_remove_tree (outside);
  luma_store_free (store);
}

GST_END_TEST;

/* An entry whose video is missing while a writer holds it (writing it
 * anew): an open in another pipeline or process finds it damaged, and
 * leaves the writer's files alone. */
GST_START_TEST (test_open_leaves_a_held_entry_alone)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStore *other = store_new (API_KEY, 0, FALSE);
  g_autofree gchar *dir = NULL, *video_path = NULL, *part = NULL;
  g_autoptr (GError) error = NULL;
  LumaStoreWriter *writer;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  dir = entry_dir_of (TASK);
  video_path = g_build_filename (dir, "video", NULL);
  part = g_build_filename (dir, "video.part", NULL);
  fail_unless (g_unlink (video_path) == 0);
  writer = begin (store, TASK);
  append_range (writer, video, 0, CHUNK);

  fail_if (luma_store_open (other, TASK, NULL, &error));
  fail_unless (g_error_matches (error, LUMA_STORE_ERROR,
          LUMA_STORE_ERROR_DAMAGED));
  fail_unless (g_file_test (part, G_FILE_TEST_EXISTS),
      "the open removed the .part another writer holds");
  append_range (writer, video, CHUNK, VIDEO_SIZE);
  g_clear_error (&error);
  fail_unless (commit (writer, VIDEO_SIZE, in_days (14), &error), "%s",
      error ? error->message : "");
  luma_store_free (other);
  luma_store_free (store);
}

GST_END_TEST;

/* An open while another holds the entry's lock for a moment (a begin
 * that looks at it, an eviction that finds it in use) waits that moment
 * out: it reads under a shared lock, and eviction leaves its video. */
GST_START_TEST (test_open_during_a_moment_of_another_lock)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStore *small = store_new (API_KEY, 1, FALSE);
  g_autofree gchar *dir = NULL, *lock = NULL, *video_path = NULL;
  g_autoptr (GError) error = NULL;
  LumaStoreReader *reader;
  GThread *unlocker;
  GStrv gone;
  gint fd;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  /* once, so that the open below is at the lock at once (it verifies the
   * video and syncs it the first time) */
  luma_store_reader_free (luma_store_open (store, TASK, NULL, NULL));
  dir = entry_dir_of (TASK);
  lock = g_build_filename (dir, "lock", NULL);
  video_path = g_build_filename (dir, "video", NULL);
  fd = g_open (lock, O_RDWR, 0);
  fail_unless (fd >= 0 && flock (fd, LOCK_EX) == 0);
  unlocker = g_thread_new ("unlock", unlock_soon, GINT_TO_POINTER (fd));
  reader = luma_store_open (store, TASK, NULL, &error);
  fail_unless (reader != NULL, "%s", error ? error->message : "");
  g_thread_join (unlocker);

  gone = luma_store_evict (small, NULL, 0);
  g_strfreev (gone);
  fail_unless (g_file_test (video_path, G_FILE_TEST_EXISTS),
      "eviction removed a video being read");
  luma_store_reader_free (reader);
  g_close (fd, NULL);
  luma_store_free (small);
  luma_store_free (store);
}

GST_END_TEST;

typedef struct
{
  LumaStore *store;
  Begun begun;
  gboolean ok;
} BeginJob;

static gpointer
begin_in_thread (gpointer data)
{
  BeginJob *job = data;

  job->ok = luma_store_begin (job->store, TASK, NULL, &job->begun.writer,
      &job->begun.reader, &job->begun.follower, NULL);
  return NULL;
}

/* A begin that finds the entry damaged, but cannot drop it (another
 * reads it), waits for the lock to write it anew. Meanwhile another
 * completes it, whole and sound: the begin then reads it, and does not
 * remove it to download it again. */
GST_START_TEST (test_begin_reads_an_entry_completed_while_it_waited)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  BeginJob job = { store_new (API_KEY, 0, FALSE), };
  g_autofree gchar *dir = NULL, *lock = NULL, *meta_path = NULL;
  g_autofree gchar *sound_meta = NULL;
  g_autoptr (JsonObject) meta = NULL;
  GThread *thread;
  gint fd;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  /* verified and synced: what a sound entry's meta.json says */
  luma_store_reader_free (luma_store_open (store, TASK, NULL, NULL));
  dir = entry_dir_of (TASK);
  lock = g_build_filename (dir, "lock", NULL);
  meta_path = g_build_filename (dir, "meta.json", NULL);
  fail_unless (g_file_get_contents (meta_path, &sound_meta, NULL, NULL));
  /* damaged: the video is not the one its digest is of */
  meta = read_meta (dir);
  json_object_set_string_member (meta, "sha256",
      "0000000000000000000000000000000000000000000000000000000000000000");
  json_object_set_boolean_member (meta, "verified", FALSE);
  write_meta_object (dir, meta);

  /* a reader in another process keeps the damaged entry from being
   * dropped; the begin opens it, finds it damaged, and waits for the
   * lock (a slower machine only gives it longer) */
  fd = g_open (lock, O_RDONLY, 0);
  fail_unless (fd >= 0 && flock (fd, LOCK_SH) == 0);
  thread = g_thread_new ("begin", begin_in_thread, &job);
  g_usleep (300000 * luma_test_slowdown ());
  /* as the writer that took the entry after that reader would */
  fail_unless (g_file_set_contents (meta_path, sound_meta, -1, NULL));
  flock (fd, LOCK_UN);
  g_thread_join (thread);
  g_close (fd, NULL);

  fail_unless (job.ok);
  fail_unless (job.begun.reader != NULL, "the begin gave a %s",
      job.begun.writer ? "writer: the sound video was removed" : "follower");
  luma_store_reader_free (job.begun.reader);
  luma_store_free (job.store);
  luma_store_free (store);
}

GST_END_TEST;

/* A complete entry that a reader in another process holds (playing it):
 * a begin (a source that polled while another process stored the video)
 * reads it too, at once, rather than wait for the lock that reader holds
 * and then download the video again, unstored. */
GST_START_TEST (test_begin_reads_an_entry_another_reads)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autofree gchar *dir = NULL, *lock = NULL;
  g_autoptr (GError) error = NULL;
  Begun begun = { NULL, };
  gint fd;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  dir = entry_dir_of (TASK);
  lock = g_build_filename (dir, "lock", NULL);
  fd = g_open (lock, O_RDONLY, 0);
  fail_unless (fd >= 0 && flock (fd, LOCK_SH) == 0);
  fail_unless (luma_store_begin (store, TASK, NULL, &begun.writer,
          &begun.reader, &begun.follower, &error), "%s", error->message);
  fail_unless (begun.reader != NULL);
  luma_store_reader_free (begun.reader);
  g_close (fd, NULL);
  luma_store_free (store);
}

GST_END_TEST;

/* a writer that takes a .part and lets it go before its first
 * append (lumasrc's resume cut by a flush or a stop while it asks the
 * host for the rest: "left for the next begin") leaves the .part as
 * resumable as it found it. */
GST_START_TEST (test_part_stays_resumable_after_an_idle_writer)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStoreWriter *writer = begin (store, TASK);

  luma_store_writer_set_version (writer, "https://cdn.example \"v1\"");
  luma_store_writer_set_size (writer, VIDEO_SIZE);
  append_range (writer, video, 0, 5 * CHUNK);
  luma_store_writer_free (writer, FALSE);

  writer = begin (store, TASK);
  fail_unless_equals_uint64 (luma_store_writer_get_part_size (writer),
      VIDEO_SIZE);
  /* cancelled before anything was checked or appended */
  luma_store_writer_free (writer, FALSE);

  writer = begin (store, TASK);
  fail_unless_equals_uint64 (luma_store_writer_get_prefix (writer), 5 * CHUNK);
  fail_unless (luma_store_writer_get_part_size (writer) == VIDEO_SIZE,
      "the .part of %u bytes is kept, but what its writer told is gone: "
      "it cannot be resumed (part size %" G_GUINT64_FORMAT ")", 5 * CHUNK,
      luma_store_writer_get_part_size (writer));
  luma_store_writer_free (writer, TRUE);
  luma_store_free (store);
}

GST_END_TEST;

/* what a writer commits, its reader finds again: a prompt near a
 * record's size (1 MiB, the most a record may have) makes a meta.json
 * past MAX_META_SIZE, which no open reads. */
GST_START_TEST (test_long_prompt_entry_found_again)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStoreWriter *writer = begin (store, TASK);
  g_autofree gchar *prompt = g_strnfill (1024 * 1024 - 512, 'p');
  g_autoptr (GError) error = NULL;
  LumaStoreMeta meta = { NULL, };
  LumaStoreReader *reader;

  append_range (writer, video, 0, 1000);
  meta.prompt = prompt;
  meta.result_url = (gchar *) "https://tempfile.example/r.mp4";
  meta.size = 1000;
  meta.kie_until = in_days (14);
  {
    g_autofree gchar *tag = g_strnfill (1280, 'e');

    luma_store_writer_set_version (writer, tag);
  }
  fail_unless (luma_store_writer_commit (writer, &meta, &error), "%s",
      error ? error->message : "");
  reader = luma_store_open (store, TASK, NULL, &error);
  fail_unless (reader != NULL, "committed, but not found again: %s",
      error ? error->message : "no entry");
  luma_store_reader_free (reader);
  luma_store_free (store);
}

GST_END_TEST;

/* open(2) as the store calls it: while staged_emfile is set, an
 * open of an entry's lock that does not create it (eviction opens
 * it for writing first now) fails with EMFILE (a process at its
 * file limit: a timeline of hundreds of clips, each with its sockets). */
static gboolean staged_emfile;
/* When set, an open of an entry's file of this name for reading
 * fails with EMFILE too */
static const gchar *staged_emfile_file;

static int
staged_open (const char *path, int flags, mode_t mode)
{
  if (staged_emfile && g_str_has_suffix (path, "/lock")
      && !(flags & O_CREAT)) {
    errno = EMFILE;
    return -1;
  }
  if (staged_emfile_file != NULL && g_str_has_suffix (path,
          staged_emfile_file) && (flags & O_ACCMODE) == O_RDONLY) {
    errno = EMFILE;
    return -1;
  }
  return syscall (SYS_openat, AT_FDCWD, path, flags, mode);
}

int
open (const char *path, int flags, ...)
{
  mode_t mode = 0;

  if (flags & O_CREAT) {
    va_list args;

    va_start (args, flags);
    mode = va_arg (args, mode_t);
    va_end (args);
  }
  return staged_open (path, flags, mode);
}

/* an eviction that cannot open an entry's lock (EMFILE) removes
 * the entry without it: here the .part a writer is writing. */
GST_START_TEST (test_eviction_without_the_lock)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStore *small = store_new (API_KEY, 1, FALSE);
  LumaStoreWriter *writer = begin (store, TASK);
  g_autofree gchar *dir = entry_dir_of (TASK);
  g_autofree gchar *part = g_build_filename (dir, "video.part", NULL);
  g_auto (GStrv) only_copies = NULL;

  append_range (writer, video, 0, CHUNK);
  staged_emfile = TRUE;
  only_copies = luma_store_evict (small, NULL, 0);
  staged_emfile = FALSE;
  fail_unless (g_file_test (part, G_FILE_TEST_EXISTS),
      "the .part a writer holds was evicted");
  luma_store_writer_free (writer, TRUE);
  luma_store_free (small);
  luma_store_free (store);
}

GST_END_TEST;

/* A stored video or meta.json that cannot be opened for a moment (EMFILE:
 * a process at its limit of files, as a timeline of many clips is) is not
 * a damaged entry. Before, a begin that found it so took the entry for
 * writing anyway and removed its meta.json: the download that was to
 * replace it failed (KIE deleted the file: the only copy), the video came
 * back without its meta.json, and the entry was lost for good (never found
 * again, and evicted as none of the store's). */
GST_START_TEST (test_unopenable_entry_not_dropped_by_begin)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStoreWriter *writer = NULL;
  LumaStoreReader *reader = NULL;
  LumaStoreFollower *follower = NULL;
  g_autoptr (GError) error = NULL;

  /* the only copy: KIE deleted its file yesterday */
  store_task (store, TASK, CHUNK, in_days (-1));
  staged_emfile_file = __i__ == 0 ? "/video" : "/meta.json";
  luma_store_begin (store, TASK, NULL, &writer, &reader, &follower, &error);
  staged_emfile_file = NULL;
  GST_INFO ("begin: %s", error ? error->message : "no error");
  g_clear_error (&error);
  /* the download from KIE fails: the writer lets go, as a fetch that
   * failed does */
  if (writer != NULL)
    luma_store_writer_free (writer, FALSE);
  luma_store_reader_free (reader);
  luma_store_follower_free (follower);

  reader = luma_store_open (store, TASK, NULL, &error);
  fail_unless (reader != NULL, "the sound only copy is lost after a moment "
      "without descriptors to open its %s: %s", __i__ == 0 ? "video" :
      "meta.json", error ? error->message : "no entry found");
  luma_store_reader_free (reader);
  luma_store_free (store);
}

GST_END_TEST;

/* flock(2) as NFS clients have it while staged_nfs_locks is set:
 * emulated with byte-range locks on the whole file, so that "in order to
 * place an exclusive lock, the file must be opened for writing" (flock(2),
 * NOTES; the kernel's nfs4_proc_lock () answers EBADF): flock () below.
 * A home directory on NFS holds the default store. */
static gboolean staged_nfs_locks;

/* A store on NFS keeps to its limit. Before, eviction took its exclusive
 * lock on a lock file opened for reading only, which NFS refuses (EBADF),
 * and so never removed an entry, whatever the limit. */
GST_START_TEST (test_eviction_on_nfs)
{
  LumaStore *unlimited = store_new (API_KEY, 0, FALSE);
  LumaStore *store = store_new (API_KEY, 1500, FALSE);
  g_auto (GStrv) only_copies = NULL;
  guint64 usage;

  store_task (unlimited, "kie-old", 1000, in_days (10));
  store_task (unlimited, "kie-new", 1000, in_days (10));
  staged_nfs_locks = TRUE;
  only_copies = luma_store_evict (store, NULL, 0);
  staged_nfs_locks = FALSE;
  usage = luma_store_get_usage (store);
  fail_unless (usage <= 1500, "a store on NFS holds %" G_GUINT64_FORMAT
      " bytes after its eviction, over its limit of 1500", usage);
  luma_store_free (store);
  luma_store_free (unlimited);
}

GST_END_TEST;

typedef struct
{
  LumaStore *store;
  GCancellable *cancellable;
  LumaStoreReader *reader;
  GError *error;
} Opening;

static gpointer
open_in_thread (gpointer data)
{
  Opening *opening = data;

  opening->reader = luma_store_open (opening->store, TASK,
      opening->cancellable, &opening->error);
  return NULL;
}

/* The first open of an entry syncs it while it hashes it; cancelled (the
 * pipeline stops), it returns at once, not once a slow disk has taken the
 * video. The entry stays, to be synced by the next open. */
GST_START_TEST (test_cancelled_open_does_not_wait_for_the_disk)
{
  Opening opening = { store_new (API_KEY, 0, FALSE), g_cancellable_new () };
  g_autofree gchar *dir = NULL;
  g_autoptr (JsonObject) meta = NULL;
  GThread *thread;
  gint64 cancelled_at;

  store_task (opening.store, TASK, VIDEO_SIZE, in_days (14));
  luma_test_stage_slow_sync (5000);
  thread = g_thread_new ("open", open_in_thread, &opening);
  luma_test_wait_for_a_sync ();
  cancelled_at = g_get_monotonic_time ();
  g_cancellable_cancel (opening.cancellable);
  g_thread_join (thread);
  fail_unless (g_get_monotonic_time () - cancelled_at < 2 * G_USEC_PER_SEC,
      "the cancelled open waited for the disk");
  fail_unless (opening.reader == NULL);
  fail_unless (g_error_matches (opening.error, G_IO_ERROR,
          G_IO_ERROR_CANCELLED), "%s", opening.error ? opening.error->message :
      "no error");

  luma_test_stage_slow_sync (0);
  dir = only_entry_dir ();
  meta = read_meta (dir);
  fail_if (json_object_get_boolean_member (meta, "synced"));
  assert_opens_whole (opening.store);
  json_object_unref (meta);
  meta = read_meta (dir);
  fail_unless (json_object_get_boolean_member (meta, "synced"));
  g_clear_error (&opening.error);
  g_object_unref (opening.cancellable);
  luma_store_free (opening.store);
}

GST_END_TEST;

/* A cancelled first open leaves its sync to go on alone; a
 * disk that fails that sync tells it once (Linux marks a writeback error
 * seen), so the next open's sync succeeds. That entry's video may not be
 * on the disk: it must not be served and recorded as synced, as it is not
 * when the open waits for the sync ("the disk did not take it"). */
GST_START_TEST (test_failed_sync_of_a_cancelled_open_not_lost)
{
  Opening opening = { store_new (API_KEY, 0, FALSE), g_cancellable_new () };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = NULL;
  LumaStoreReader *reader;
  GThread *thread;
  gboolean synced = FALSE;
  gchar *meta_path;

  store_task (opening.store, TASK, VIDEO_SIZE, in_days (14));
  dir = only_entry_dir ();
  luma_test_stage_slow_sync (500);
  luma_test_stage_failed_syncs (1);
  thread = g_thread_new ("open", open_in_thread, &opening);
  luma_test_wait_for_a_sync ();
  g_cancellable_cancel (opening.cancellable);
  g_thread_join (thread);
  fail_unless (opening.reader == NULL);
  /* the detached sync has failed, and nobody heard it */
  luma_test_wait_for_syncs_ended (1);
  luma_test_stage_slow_sync (0);

  reader = luma_store_open (opening.store, TASK, NULL, &error);
  meta_path = g_build_filename (dir, "meta.json", NULL);
  if (g_file_test (meta_path, G_FILE_TEST_EXISTS)) {
    JsonObject *meta = read_meta (dir);

    synced = json_object_get_boolean_member (meta, "synced");
    json_object_unref (meta);
  }
  g_free (meta_path);
  fail_unless (reader == NULL, "the video whose sync failed was served "
      "(recorded as synced: %d)", synced);
  fail_if (synced, "the video whose sync failed is recorded as synced");
  g_clear_error (&opening.error);
  g_object_unref (opening.cancellable);
  luma_store_free (opening.store);
}

GST_END_TEST;

/* mkdir(2) as the store calls it, with a hook run once before the
 * making of an entry's own directory (its scope made or found already):
 * what another process does in that moment, staged. */
static void (*staged_mkdir_hook) (void);
static gchar *staged_mkdir_path;

int
mkdir (const char *path, mode_t mode)
{
  if (staged_mkdir_hook != NULL && g_strcmp0 (path, staged_mkdir_path) == 0) {
    void (*hook) (void) = staged_mkdir_hook;

    staged_mkdir_hook = NULL;
    hook ();
  }
  return syscall (SYS_mkdir, path, mode);
}

/* Another process evicts the scope's only other entry: the scope goes
 * with it. */
static void
evict_the_other_entry (void)
{
  LumaStore *small = store_new (API_KEY, 1, FALSE);
  g_auto (GStrv) only_copies = luma_store_evict (small, TASK, 0);

  luma_store_free (small);
}

/* a begin whose scope is removed (with its last entry, by another
 * process's eviction) between the making of the scope and of the entry's
 * directory: the entry is stored all the same. */
GST_START_TEST (test_begin_survives_scope_removal)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autofree gchar *dir = entry_dir_of (TASK);
  g_autoptr (GError) error = NULL;
  LumaStoreWriter *writer = NULL;
  LumaStoreReader *reader = NULL;
  LumaStoreFollower *follower = NULL;
  gboolean begun;

  store_task (store, "another-task", 1000, in_days (14));
  staged_mkdir_path = g_strdup (dir);
  staged_mkdir_hook = evict_the_other_entry;
  begun = luma_store_begin (store, TASK, NULL, &writer, &reader, &follower,
      &error);
  fail_unless (staged_mkdir_hook == NULL, "the hook did not run");
  fail_unless (begun, "begin failed: %s", error ? error->message : "");
  luma_store_writer_free (writer, TRUE);
  luma_store_free (store);
}

GST_END_TEST;

/* a hard link in an entry, to a file elsewhere (an attacker's or
 * a crash's leftover): nothing is written through it. */
GST_START_TEST (test_hard_links_not_written_through)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  g_autofree gchar *outside = g_dir_make_tmp ("luma-outside-XXXXXX", NULL);
  g_autofree gchar *lock_target = g_build_filename (outside, "precious-1",
      NULL);
  g_autofree gchar *part_target = g_build_filename (outside, "precious-2",
      NULL);
  g_autofree gchar *dir = entry_dir_of (TASK);
  g_autofree gchar *lock = g_build_filename (dir, "lock", NULL);
  g_autofree gchar *part = g_build_filename (dir, "video.part", NULL);
  LumaStoreWriter *writer;
  g_autoptr (GError) error = NULL;

  fail_unless (g_file_set_contents (lock_target, "PRECIOUS 1\n", -1, NULL));
  fail_unless (g_file_set_contents (part_target, "PRECIOUS 2\n", -1, NULL));
  fail_unless (g_mkdir_with_parents (dir, 0700) == 0);
  fail_unless (link (lock_target, lock) == 0, "%s", g_strerror (errno));
  fail_unless (link (part_target, part) == 0, "%s", g_strerror (errno));

  writer = begin (store, TASK);
  luma_store_writer_set_size (writer, VIDEO_SIZE);
  /* a .part that does not fit: dropped, as the element does */
  if (luma_store_writer_get_prefix (writer) > 0)
    fail_unless (luma_store_writer_restart (writer, &error));
  append_range (writer, video, 0, CHUNK);
  luma_store_writer_free (writer, FALSE);

  {
    gchar *lock_contents, *part_contents;
    gsize lock_length, part_length;

    fail_unless (g_file_get_contents (lock_target, &lock_contents,
            &lock_length, NULL));
    fail_unless (g_file_get_contents (part_target, &part_contents,
            &part_length, NULL));
    fail_unless (g_strcmp0 (lock_contents, "PRECIOUS 1\n") == 0
        && g_strcmp0 (part_contents, "PRECIOUS 2\n") == 0,
        "written outside the store: lock's target now %" G_GSIZE_FORMAT
        " bytes (\"%.30s\"), .part's target now %" G_GSIZE_FORMAT " bytes",
        lock_length, lock_contents, part_length);
    g_free (lock_contents);
    g_free (part_contents);
  }
  luma_test_remove_tree (outside);
  luma_store_free (store);
}

GST_END_TEST;

/* flock(2) as the store calls it, with a hook that runs once,
 * before the first shared non-blocking lock (a reader's lock_shared ()):
 * what other processes do in that moment, staged. */
static void (*staged_hook) (void);

int
flock (int fd, int op)
{
  if (staged_hook != NULL && op == (LOCK_SH | LOCK_NB)) {
    void (*hook) (void) = staged_hook;

    staged_hook = NULL;
    hook ();
  }
  /* NFS's locks, see staged_nfs_locks */
  if (staged_nfs_locks && (op & LOCK_EX)
      && (fcntl (fd, F_GETFL) & O_ACCMODE) == O_RDONLY) {
    errno = EBADF;
    return -1;
  }
  return syscall (SYS_flock, fd, op);
}

static LumaStore *staged_store;
static LumaStoreWriter *staged_writer;

/* Another process evicts the entry, a third begins storing it anew. */
static void
evict_then_begin (void)
{
  LumaStore *small = store_new (API_KEY, 1, FALSE);
  g_auto (GStrv) only_copies = luma_store_evict (small, NULL, 0);
  g_autofree gchar *dir = entry_dir_of (TASK);

  fail_if (g_file_test (dir, G_FILE_TEST_EXISTS));
  staged_store = store_new (API_KEY, 0, FALSE);
  staged_writer = begin (staged_store, TASK);
  append_range (staged_writer, video, 0, CHUNK);
  luma_store_free (small);
}

/* a reader that found the entry's meta.json, then its lock file
 * after the entry was evicted and taken anew by a writer, drops the new
 * writer's .part and lock: a third begin then writes beside it. */
GST_START_TEST (test_reader_drops_new_writers_entry)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStore *third = store_new (API_KEY, 0, FALSE);
  g_autofree gchar *dir = entry_dir_of (TASK);
  g_autofree gchar *part = g_build_filename (dir, "video.part", NULL);
  g_autoptr (GError) error = NULL;
  LumaStoreReader *reader;
  Begun begun;

  store_task (store, TASK, VIDEO_SIZE, in_days (14));
  staged_hook = evict_then_begin;
  reader = luma_store_open (store, TASK, NULL, &error);
  fail_unless (staged_hook == NULL, "the hook did not run");
  fail_unless (staged_writer != NULL);
  luma_store_reader_free (reader);
  fail_unless (g_file_test (part, G_FILE_TEST_EXISTS),
      "the writer's .part was removed under it by a reader (%s)",
      error ? error->message : "no error");
  begin_any (third, TASK, &begun);
  fail_unless (begun.writer == NULL, "two writers hold the entry at once");
  luma_store_follower_free (begun.follower);
  luma_store_writer_free (staged_writer, TRUE);
  luma_store_free (staged_store);
  luma_store_free (third);
  luma_store_free (store);
}

GST_END_TEST;

/* the writer a follower reads stops, and another takes the entry
 * over before the follower looks again (within FOLLOW_RETRY_MS): the new
 * writer finds the .part is not of the host's file now, restarts it and
 * writes another version. The follower must not go on serving the new
 * writer's bytes as the rest of the file it was told of. */
GST_START_TEST (test_follower_of_replaced_writer)
{
  LumaStore *store = quick_store_new ();
  LumaStore *other = quick_store_new ();
  g_autoptr (GBytes) v2 = luma_test_random_bytes (VIDEO_SIZE, 99);
  LumaStoreWriter *writer = begin (store, TASK);
  LumaStoreWriter *second;
  LumaStoreFollower *follower;
  g_autoptr (GError) error = NULL;
  guint8 data[1000];
  gssize n;

  luma_store_writer_set_version (writer, "etag-v1");
  luma_store_writer_set_size (writer, VIDEO_SIZE);
  append_range (writer, video, 0, CHUNK);
  follower = follow (other);
  append_range (writer, video, CHUNK, 2 * CHUNK);
  read_followed (follower, 0, 2 * CHUNK);
  fail_unless_equals_string (luma_store_follower_get_version (follower),
      "etag-v1");
  /* the writer's process dies; another takes the entry at once */
  luma_store_writer_free (writer, FALSE);
  second = begin (store, TASK);
  fail_unless_equals_uint64 (luma_store_writer_get_prefix (second), 2 * CHUNK);
  /* the host has another version now (same size): dropped, written anew */
  fail_unless (luma_store_writer_restart (second, &error));
  luma_store_writer_set_version (second, "etag-v2");
  luma_store_writer_set_size (second, VIDEO_SIZE);
  append_range (second, v2, 0, 3 * CHUNK);

  n = luma_store_follower_read (follower, data, sizeof data, 2 * CHUNK, NULL,
      &error);
  fail_unless (n < 0 || (memcmp (data, (const guint8 *) g_bytes_get_data
              (video, NULL) + 2 * CHUNK, n) == 0
          || g_strcmp0 (luma_store_follower_get_version (follower),
              "etag-v1") != 0),
      "the follower served %" G_GSSIZE_FORMAT " bytes of the new writer's "
      "version, still told as \"%s\"", n,
      luma_store_follower_get_version (follower));
  luma_store_follower_free (follower);
  luma_store_writer_free (second, TRUE);
  luma_store_free (other);
  luma_store_free (store);
}

GST_END_TEST;

/* the same, with the new writer writing the same file: its
 * resume could not ask the host (a 503), so it restarted the .part. The
 * follower, behind what it had seen written, reads on; it must not fail
 * as if the entry were damaged. */
GST_START_TEST (test_follower_behind_a_restarted_writer)
{
  LumaStore *store = quick_store_new ();
  LumaStore *other = quick_store_new ();
  LumaStoreWriter *writer = begin (store, TASK);
  LumaStoreWriter *second;
  LumaStoreFollower *follower;
  g_autoptr (GError) error = NULL;
  guint8 data[1000];
  gssize n;

  luma_store_writer_set_size (writer, VIDEO_SIZE);
  append_range (writer, video, 0, CHUNK);
  follower = follow (other);
  append_range (writer, video, CHUNK, 4 * CHUNK);
  /* the follower has seen 4 chunks written, and read one */
  read_followed (follower, 0, CHUNK);
  fail_unless (luma_store_follower_get_written (follower) > CHUNK);
  luma_store_writer_free (writer, FALSE);
  second = begin (store, TASK);
  fail_unless (luma_store_writer_restart (second, &error));
  luma_store_writer_set_size (second, VIDEO_SIZE);
  append_range (second, video, 0, CHUNK / 2);

  n = luma_store_follower_read (follower, data, sizeof data, CHUNK, NULL,
      &error);
  fail_unless (n > 0 || g_error_matches (error, LUMA_STORE_ERROR,
          LUMA_STORE_ERROR_ABANDONED) || g_error_matches (error,
          LUMA_STORE_ERROR, LUMA_STORE_ERROR_BUSY),
      "the follower fails: %s", error ? error->message : "end");
  luma_store_follower_free (follower);
  luma_store_writer_free (second, TRUE);
  luma_store_free (other);
  luma_store_free (store);
}

GST_END_TEST;

/* A resumed `.part` (committed without a digest) cut short by another
 * program while its writer appends: the next append would land past the
 * end of the file, after a hole of zeros, which the commit would store as
 * the video and the first open, with no digest to compare, record as
 * verified. The writer notices that its `.part` is no longer what it
 * wrote, and drops it. */
GST_START_TEST (test_part_cut_under_a_resumed_writer)
{
  LumaStore *store = store_new (API_KEY, 0, FALSE);
  LumaStoreWriter *writer = begin (store, TASK);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = NULL;
  g_autofree gchar *part = NULL;
  LumaStoreReader *reader;
  gsize offset;

  append_range (writer, video, 0, 5 * CHUNK);
  luma_store_writer_free (writer, FALSE);

  writer = begin (store, TASK);
  fail_unless_equals_uint64 (luma_store_writer_get_prefix (writer), 5 * CHUNK);
  dir = only_entry_dir ();
  part = g_build_filename (dir, "video.part", NULL);
  /* another program cuts the .part under the writer */
  fail_unless (truncate (part, CHUNK) == 0);
  for (offset = 5 * CHUNK; offset < VIDEO_SIZE; offset += CHUNK) {
    g_autoptr (GBytes) piece = g_bytes_new_from_bytes (video, offset,
        MIN (CHUNK, VIDEO_SIZE - offset));

    if (!luma_store_writer_append (writer, offset, piece, NULL)) {
      /* noticed: the writer is spent, and still the caller's to free (it
       * holds the entry's lock) */
      g_clear_pointer (&writer, luma_store_writer_free_discarded);
      break;
    }
  }
  if (writer != NULL)
    commit (writer, VIDEO_SIZE, in_days (14), NULL);

  reader = luma_store_open (store, TASK, NULL, &error);
  if (reader != NULL) {
    assert_reads_video (reader, VIDEO_SIZE);
    luma_store_reader_free (reader);
  }
  luma_store_free (store);
}

GST_END_TEST;

/* Without a key, lumasrc looks in any scope of the same API, and a task
 * stored under two keys (a key rotated, a sub-key) has an entry in each.
 * A damaged copy in the first scope listed does not hide the sound one:
 * offline, with no key to fetch it again, the run would fail for good
 * (the entry set aside still names the task). Each copy is damaged in
 * turn, and the other is served either way. */
GST_START_TEST (test_keyless_open_skips_a_damaged_scope)
{
  const gchar *keys[] = { API_KEY, "another-key-0123456789" };
  LumaStore *keyless = store_new (NULL, 0, FALSE);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (keys); i++) {
    LumaStore *store = store_new (keys[i], 0, FALSE);

    store_task (store, TASK, 1000, in_days (14));
    luma_store_free (store);
  }
  for (i = 0; i < G_N_ELEMENTS (keys); i++) {
    LumaStore *store = store_new (keys[i], 0, FALSE);
    g_autofree gchar *digest = luma_store_key_digest (keys[i]);
    g_autofree gchar *scope_text = g_strconcat ("gst-luma-store-1\n", API_URL,
        "\n", digest, NULL);
    g_autofree gchar *scope = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
        scope_text, -1);
    g_autofree gchar *tid_text = g_compute_checksum_for_string
        (G_CHECKSUM_SHA256, TASK, -1);
    g_autofree gchar *path = NULL;
    g_autoptr (GError) error = NULL;
    LumaStoreReader *reader;

    scope[32] = tid_text[32] = '\0';
    path = g_build_filename (tmp_dir, scope, tid_text, "video", NULL);
    fail_unless (g_file_test (path, G_FILE_TEST_IS_REGULAR), "%s", path);
    fail_unless (truncate (path, 999) == 0);
    reader = luma_store_open (keyless, TASK, NULL, &error);
    fail_unless (reader != NULL, "the copy under key %u is damaged, and the "
        "sound one under the other key is not served: %s", i,
        error ? error->message : "none");
    assert_reads_video (reader, 1000);
    luma_store_reader_free (reader);
    /* stored anew, sound, for the next round */
    store_task (store, TASK, 1000, in_days (14));
    luma_store_free (store);
  }
  luma_store_free (keyless);
}

GST_END_TEST;

static Suite *
store_suite (void)
{
  Suite *s = suite_create ("luma-store");
  TCase *tc = tcase_create ("store");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_write_then_open);
  tcase_add_test (tc, test_first_open_syncs);
  tcase_add_test (tc, test_unsynced_from_another_boot);
  tcase_add_test (tc, test_meta_members_of_wrong_type);
  tcase_add_test (tc, test_lookup_scopes);
  tcase_add_test (tc, test_keyless_open_skips_a_damaged_scope);
  tcase_add_test (tc, test_seek_leaves_no_holes);
  tcase_add_test (tc, test_resume_part);
  tcase_add_test (tc, test_part_cut_under_a_resumed_writer);
  tcase_add_test (tc, test_damaged_byte);
  tcase_add_test (tc, test_truncated);
  tcase_add_test (tc, test_read_only);
  tcase_add_test (tc, test_holds_no_key);
  tcase_add_test (tc, test_eviction_order);
  tcase_add_test (tc, test_eviction_skips_held);
  tcase_add_test (tc, test_eviction_of_planted_huge_sizes);
  tcase_add_test (tc, test_second_writer_follows);
  tcase_add_test (tc, test_follow_cancelled);
  tcase_add_test (tc, test_read_only_follows);
  tcase_add_test (tc, test_second_source_of_pipeline_not_waited_for);
  tcase_add_test (tc, test_source_of_other_pipeline_follows);
  tcase_add_test (tc, test_reader_holds_back_no_source);
  tcase_add_test (tc, test_follower_trusts_only_growth);
  tcase_add_test (tc, test_follower_of_stopped_writer);
  tcase_add_test (tc, test_follower_checks_told_size);
  tcase_add_test (tc, test_follower_ignores_garbled_told_size);
  tcase_add_test (tc, test_part_size_and_version_told_to_the_next_writer);
  tcase_add_test (tc, test_meta_keeps_the_told_version);
  tcase_add_test (tc, test_nothing_told_without_the_bytes);
  tcase_add_test (tc, test_write_error_drops_part);
  tcase_add_test (tc, test_write_error_past_the_first_bytes);
  tcase_add_test (tc, test_fifo_video_is_damaged);
  tcase_add_test (tc, test_fifo_lock_blocks_nothing);
  tcase_add_test (tc, test_fifo_part_is_not_followed);
  tcase_add_test (tc, test_fifo_meta_is_no_entry);
  tcase_add_test (tc, test_empty_meta_is_no_entry);
  tcase_add_test (tc, test_links_in_entry_are_not_followed);
  tcase_add_test (tc, test_store_keeps_to_its_own);
  tcase_add_test (tc, test_linked_scope_is_not_written);
  tcase_add_test (tc, test_video_cut_short_while_read);
  tcase_add_test (tc, test_default_dir);
  tcase_add_test (tc, test_nothing_made_through_a_linked_scope);
  tcase_add_test (tc, test_open_leaves_a_held_entry_alone);
  tcase_add_test (tc, test_open_during_a_moment_of_another_lock);
  tcase_add_test (tc, test_begin_reads_an_entry_completed_while_it_waited);
  tcase_add_test (tc, test_begin_reads_an_entry_another_reads);
  tcase_add_test (tc, test_part_stays_resumable_after_an_idle_writer);
  tcase_add_test (tc, test_long_prompt_entry_found_again);
  tcase_add_test (tc, test_eviction_without_the_lock);
  tcase_add_loop_test (tc, test_unopenable_entry_not_dropped_by_begin, 0, 2);
  tcase_add_test (tc, test_eviction_on_nfs);
  tcase_add_test (tc, test_cancelled_open_does_not_wait_for_the_disk);
  tcase_add_test (tc, test_failed_sync_of_a_cancelled_open_not_lost);
  tcase_add_test (tc, test_begin_survives_scope_removal);
  tcase_add_test (tc, test_hard_links_not_written_through);
  tcase_add_test (tc, test_reader_drops_new_writers_entry);
  tcase_add_test (tc, test_follower_of_replaced_writer);
  tcase_add_test (tc, test_follower_behind_a_restarted_writer);
  return s;
}

GST_CHECK_MAIN (store);
