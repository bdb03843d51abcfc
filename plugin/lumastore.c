/* gst-luma: the persistent store of finished results
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * KIE deletes a result 14 days after the task (its URL may die within a
 * day), and then a project that holds luma://ID has lost a clip that was
 * paid for. The store keeps every finished video the element streamed, as
 * data rather than cache: after KIE's deletion it is the only copy.
 *
 * Layout, under the store's directory:
 *   SCOPE/TID/video       the whole video, renamed from video.part when done
 *   SCOPE/TID/video.part  the contiguous prefix written so far (never holes)
 *   SCOPE/TID/meta.json   task id, API URL, prompt, result URL, size,
 *                         SHA-256, verified, synced and the boot it was
 *                         written in, times; its mtime is last-used
 *   SCOPE/TID/lock        flock(2)ed: LOCK_EX by the writer, LOCK_SH by
 *                         readers, LOCK_EX|LOCK_NB by eviction; holds the
 *                         size of the video its writer is writing (decimal,
 *                         then a space and the boot id where there is
 *                         one, then a newline; then the version tag of
 *                         the host's file (its server and ETag, opaque
 *                         here) and a newline, where it has one), for
 *                         followers and for a later writer that resumes
 *                         the .part
 * SCOPE is made of the API URL and a digest of the key (never the key);
 * TID of the task id, which may hold any printable character and so never
 * becomes a path component itself. Both are 32 hex digits.
 *
 * Pure GLib/GIO and POSIX file code: no HTTP, no key.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumastore.h"
#include "lumafile.h"
#include "lumatext.h"

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCOPE_FORMAT "gst-luma-store-1\n"
#define NAME_LENGTH 32
#define VIDEO_NAME "video"
#define PART_NAME "video.part"
#define META_NAME "meta.json"
#define LOCK_NAME "lock"
/* a stored video that could not be used, kept until a new one replaces
 * it: the download that is to replace it may fail (KIE deleted it), and
 * then it is all there is */
#define PREVIOUS_NAME "video.previous"
/* meta.json holds a prompt and two URLs: anything larger is not ours */
#define MAX_META_SIZE (1024 * 1024)
#define HASH_CHUNK (1024 * 1024)
#define LOCK_RETRY_MS 50
/* how often a follower that caught up with the writer looks again */
#define FOLLOW_RETRY_MS 20
/* an entry evicted while we waited for its lock: try the new one */
#define MAX_LOCK_ATTEMPTS 8
/* how long a reader waits out another's exclusive lock on an entry: a
 * begin or an eviction that looks at it holds one for a moment only */
#define SHARED_LOCK_TRIES 20
#define SHARED_LOCK_RETRY_US 1000

/* *INDENT-OFF* */
G_DEFINE_QUARK (luma-store-error-quark, luma_store_error);
/* *INDENT-ON* */

struct _LumaStore
{
  gchar *dir;
  gchar *api_url;
  gchar *scope;                 /* NULL without a key */
  guint64 limit;
  gboolean read_only;
  guint wait_stall_ms;
  gconstpointer group;
};

struct _LumaStoreReader
{
  LumaStoreMeta meta;
  gint fd;
  gint lock_fd;                 /* LOCK_SH while reading, or -1 */
  gboolean held;                /* by a writer, when the open looked */
};

struct _LumaStoreWriter
{
  LumaStore *store;
  gchar *task_id;
  gchar *dir;
  gint lock_fd;
  gint part_fd;
  guint64 prefix;               /* the .part's length */
  guint64 part_size;            /* the size the .part's writer told */
  gchar *part_version;          /* and its version tag, or NULL */
  gchar *version;               /* the one to tell */
  gboolean claimed;             /* counted in the claims of the process */
  gboolean size_told;           /* in the lock file, for followers */

  /* the SHA-256 of what is appended, computed in a thread of its own */
  GThread *hasher;
  GAsyncQueue *queue;           /* GBytes, then hasher_stop */
  gint pending;                 /* atomic: bytes queued, not hashed yet */
  gint hash_given_up;           /* atomic: the queue filled, or a resumed
                                 * .part; the hasher drops what is left */
  GChecksum *checksum;          /* the hasher's until it is joined */
};

struct _LumaStoreFollower
{
  gchar *dir;
  guint stall_ms;
  gint lock_fd;                 /* the entry's lock: LOCK_SH once complete */
  gint part_fd;                 /* the .part, then the video (renamed) */
  guint64 start_length;         /* the .part's when the follower began */
  guint64 length;               /* bytes trusted: 0 until the .part grows */
  guint64 size;                 /* told by the writer, or unknown */
  gchar *version;               /* told with it, or NULL */
  gboolean complete;
  gint64 last_growth;           /* monotonic */
};

/* what ends the hasher's queue */
static gint hasher_stop;

gchar *
luma_store_default_dir (void)
{
  g_autofree gchar *data = luma_file_xdg_dir (g_get_user_data_dir (),
      ".local/share");

  if (data == NULL)
    return NULL;
  return g_build_filename (data, "gst-luma", "results", NULL);
}

gchar *
luma_store_key_digest (const gchar * api_key)
{
  if (api_key == NULL)
    return NULL;
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, api_key, -1);
}

static gchar *
short_digest (const gchar * text)
{
  g_autofree gchar *digest =
      g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);

  return g_strndup (digest, NAME_LENGTH);
}

static gchar *
scope_name (const gchar * api_url, const gchar * key_digest)
{
  g_autofree gchar *text = g_strconcat (SCOPE_FORMAT, api_url, "\n",
      key_digest, NULL);

  return short_digest (text);
}

LumaStore *
luma_store_new (const LumaStoreConfig * config)
{
  LumaStore *store = g_new0 (LumaStore, 1);

  store->dir = g_strdup (config->dir);
  store->api_url = g_strdup (config->api_url);
  if (config->key_digest != NULL)
    store->scope = scope_name (config->api_url, config->key_digest);
  store->limit = config->limit;
  store->read_only = config->read_only;
  store->wait_stall_ms = config->wait_stall_ms ? config->wait_stall_ms
      : LUMA_STORE_DEFAULT_WAIT_STALL_MS;
  store->group = config->group;
  return store;
}

void
luma_store_free (LumaStore * store)
{
  if (store == NULL)
    return;
  g_free (store->dir);
  g_free (store->api_url);
  g_free (store->scope);
  g_free (store);
}

void
luma_store_meta_clear (LumaStoreMeta * meta)
{
  g_clear_pointer (&meta->task_id, g_free);
  g_clear_pointer (&meta->api_url, g_free);
  g_clear_pointer (&meta->prompt, g_free);
  g_clear_pointer (&meta->result_url, g_free);
  g_clear_pointer (&meta->version, g_free);
  g_clear_pointer (&meta->sha256, g_free);
  g_clear_pointer (&meta->boot_id, g_free);
  g_clear_pointer (&meta->source_url, g_free);
}

/* A version tag longer than this is not told: nothing is compared with
 * it. */
#define MAX_TOLD_VERSION 1280

/* A version tag as the store tells it (in the lock file, whose reads are
 * bounded, and in meta.json, which anyone may edit): one line of at most
 * MAX_TOLD_VERSION bytes, else none. */
static gchar *
dup_told_version (const gchar * version)
{
  if (version == NULL || strlen (version) > MAX_TOLD_VERSION
      || !luma_text_is_header_safe (version))
    return NULL;
  return g_strdup (version);
}

/* The running kernel's boot id, or NULL where there is none: a video
 * written in this boot is whole in the page cache even if the disk has
 * not taken it yet. */
static const gchar *
current_boot_id (void)
{
  static gchar *boot_id;

  if (g_once_init_enter (&boot_id)) {
    gchar *text = NULL;

    if (!g_file_get_contents ("/proc/sys/kernel/random/boot_id", &text, NULL,
            NULL) || *g_strstrip (text) == '\0')
      g_clear_pointer (&text, g_free);
    g_once_init_leave (&boot_id, text ? text : g_strdup (""));
  }
  return *boot_id ? boot_id : NULL;
}

/* ----- errors and small file helpers ----- */

static void
set_file_error (GError ** error, const gchar * format, const gchar * path,
    const gchar * why)
{
  g_autofree gchar *display = g_filename_display_name (path);

  g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_IO, format, display,
      why);
}

static void
set_io_error (GError ** error, const gchar * format, const gchar * path,
    gint errsv)
{
  set_file_error (error, format, path, g_strerror (errsv));
}

/* After luma_file_open_regular (): what is not a file is named so. */
static void
set_open_error (GError ** error, const gchar * format, const gchar * path,
    gboolean not_regular)
{
  gint errsv = errno;

  set_file_error (error, format, path, not_regular ?
      _("it is not a regular file") : g_strerror (errsv));
}

static gchar *
entry_dir (LumaStore * store, const gchar * scope, const gchar * task_id)
{
  g_autofree gchar *tid = short_digest (task_id);

  return g_build_filename (store->dir, scope, tid, NULL);
}

static gchar *
entry_file (const gchar * dir, const gchar * name)
{
  return g_build_filename (dir, name, NULL);
}

/* A name the store gives (a scope or an entry): what else the store's
 * directory holds (a user's folders, when it was pointed at one) is
 * never read, counted or removed. */
static gboolean
is_store_name (const gchar * name)
{
  gsize i;

  for (i = 0; i < NAME_LENGTH; i++)
    if (!g_ascii_isxdigit (name[i]) || g_ascii_isupper (name[i]))
      return FALSE;
  return name[NAME_LENGTH] == '\0';
}

static gboolean
is_real_dir (const gchar * path)
{
  GStatBuf st;

  return g_lstat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

/* An entry's directory and its scope are directories, not links: what an
 * entry holds stays under the store's directory, and so does what its
 * removal removes. */
static gboolean
is_real_entry (const gchar * dir)
{
  g_autofree gchar *scope = g_path_get_dirname (dir);

  return is_real_dir (dir) && is_real_dir (scope);
}

/* The file at @path is the one @fd has open: a lock file still current
 * (eviction removes entries, and a lock on a removed file guards
 * nothing), or a followed .part renamed to the video. */
/* ----- meta.json ----- */

static void
add_int (JsonBuilder * builder, const gchar * name, gint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

/* What meta.json keeps of a prompt or a URL, at most: written in full,
 * a prompt near the record's size limit (escaped, up to six times longer)
 * would make a meta.json that no open reads (MAX_META_SIZE). A prompt is
 * cut short; a URL cut short would be another, and is left out. */
#define MAX_META_TEXT (16 * 1024)

static const gchar *
url_to_keep (const gchar * url)
{
  return url != NULL && strlen (url) <= MAX_META_TEXT ? url : NULL;
}

static gchar *
meta_to_json (const LumaStoreMeta * meta)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree gchar *prompt = meta->prompt ? g_strndup (meta->prompt,
      MAX_META_TEXT) : NULL;

  json_builder_begin_object (builder);
  luma_json_add_string (builder, "task-id", meta->task_id);
  luma_json_add_string (builder, "api-url", meta->api_url);
  luma_json_add_string (builder, "prompt", prompt);
  luma_json_add_string (builder, "result-url", url_to_keep (meta->result_url));
  add_int (builder, "size", meta->size);
  luma_json_add_string (builder, "version", meta->version);
  luma_json_add_string (builder, "sha256", meta->sha256);
  json_builder_set_member_name (builder, "verified");
  json_builder_add_boolean_value (builder, meta->verified);
  json_builder_set_member_name (builder, "synced");
  json_builder_add_boolean_value (builder, meta->synced);
  luma_json_add_string (builder, "boot-id", meta->boot_id);
  add_int (builder, "created", meta->created);
  luma_json_add_string (builder, "source-url", url_to_keep (meta->source_url));
  if (meta->completed > 0)
    add_int (builder, "completed", meta->completed);
  add_int (builder, "kie-until", meta->kie_until);
  add_int (builder, "stored-at", meta->stored_at);
  json_builder_end_object (builder);
  return luma_json_to_text (builder);
}

/* Atomic (a temporary file renamed) and durable: after a crash meta.json
 * is the old one or the new one, whole. */
static gboolean
write_meta (const gchar * dir, const LumaStoreMeta * meta, GError ** error)
{
  g_autofree gchar *path = entry_file (dir, META_NAME);
  g_autofree gchar *contents = meta_to_json (meta);
  g_autofree gchar *why = NULL;

  if (!luma_file_set_contents (path, contents, &why)) {
    g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_IO,
        _("Cannot write the stored entry %s: %s"), path, why);
    return FALSE;
  }
  return TRUE;
}

/* @missing when there is no such member; FALSE when it is not a boolean
 * (a meta.json damaged or not ours: trusted the least) */
static gboolean
member_bool (JsonObject * object, const gchar * name, gboolean missing)
{
  gboolean value = FALSE;

  if (json_object_get_member (object, name) == NULL)
    return missing;
  luma_json_get_bool (object, name, &value);
  return value;
}

static gint64
member_int (JsonObject * object, const gchar * name)
{
  gint64 value = -1;

  luma_json_get_int (object, name, &value);
  return value;
}

static gchar *
dup_safe_url (JsonObject * object, const gchar * name)
{
  const gchar *url = luma_json_get_string (object, name);

  return url != NULL && luma_text_is_safe (url) ? g_strdup (url) : NULL;
}

gboolean
luma_store_meta_parse (const gchar * text, gsize length, LumaStoreMeta * meta)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *object;

  memset (meta, 0, sizeof *meta);
  if (length > MAX_META_SIZE || !luma_json_load (parser, text, length, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return FALSE;
  object = json_node_get_object (json_parser_get_root (parser));
  meta->task_id = g_strdup (luma_json_get_string (object, "task-id"));
  meta->api_url = g_strdup (luma_json_get_string (object, "api-url"));
  /* what reaches tags and messages is safe text, as from a record: a
   * meta.json is anyone's to edit, and JSON's escapes can make bytes that
   * are not UTF-8 (a lone surrogate) or control characters; a URL is kept
   * as it is or not at all (lumarecord.c) */
  meta->prompt = luma_text_make_safe (luma_json_get_string (object, "prompt"),
      -1);
  meta->result_url = dup_safe_url (object, "result-url");
  meta->source_url = dup_safe_url (object, "source-url");
  meta->version = dup_told_version (luma_json_get_string (object, "version"));
  meta->sha256 = g_strdup (luma_json_get_string (object, "sha256"));
  meta->verified = member_bool (object, "verified", FALSE);
  /* entries from before the commit stopped waiting for the disk were
   * synced when they were written */
  meta->synced = member_bool (object, "synced", TRUE);
  meta->boot_id = g_strdup (luma_json_get_string (object, "boot-id"));
  meta->created = member_int (object, "created");
  meta->completed = member_int (object, "completed");
  meta->kie_until = member_int (object, "kie-until");
  meta->stored_at = member_int (object, "stored-at");
  if (meta->task_id == NULL || meta->api_url == NULL
      || member_int (object, "size") < 0) {
    luma_store_meta_clear (meta);
    return FALSE;
  }
  meta->size = member_int (object, "size");
  return TRUE;
}

/* FALSE: no meta.json, or one that is not ours. */
static gboolean
read_meta (const gchar * dir, LumaStoreMeta * meta)
{
  g_autofree gchar *path = entry_file (dir, META_NAME);
  g_autofree gchar *contents = g_malloc (MAX_META_SIZE + 1);
  gssize length = -1;
  gint fd;

  memset (meta, 0, sizeof *meta);
  fd = luma_file_open_regular (path, O_RDONLY, 0, NULL);
  if (fd >= 0) {
    length = luma_file_read_up_to (fd, contents, MAX_META_SIZE + 1);
    g_close (fd, NULL);
  }
  return length >= 0 && luma_store_meta_parse (contents, length, meta);
}

/* TRUE, with @error set, when the entry's meta.json is there but
 * cannot be opened or read right now (EMFILE, EIO...): the entry is not
 * known to be damaged, nor not ours. */
static gboolean
meta_unreadable (const gchar * dir, GError ** error)
{
  g_autofree gchar *path = entry_file (dir, META_NAME);
  gboolean not_regular;
  gint fd = luma_file_open_regular (path, O_RDONLY, 0, &not_regular);
  gint errsv = errno;
  gchar byte;

  if (fd >= 0) {
    gssize n = read (fd, &byte, 1);

    errsv = errno;
    g_close (fd, NULL);
    if (n >= 0)
      return FALSE;
  } else if (errsv == ENOENT || errsv == ELOOP || not_regular) {
    return FALSE;
  }
  set_io_error (error, _("Cannot read %s: %s"), path, errsv);
  return TRUE;
}

/* ----- finding an entry ----- */

static gboolean
meta_is_of (const LumaStoreMeta * meta, LumaStore * store,
    const gchar * task_id)
{
  return g_strcmp0 (meta->task_id, task_id) == 0
      && g_strcmp0 (meta->api_url, store->api_url) == 0;
}

/* The entry directory whose meta.json names @task_id on this API: in the
 * key's scope, or without a key in any scope (luma://ID offline), past
 * the first @skip found (a task stored under two keys, one rotated, has an
 * entry in each scope). */
static gchar *
find_entry (LumaStore * store, const gchar * task_id, guint skip,
    LumaStoreMeta * meta)
{
  g_autofree gchar *tid = short_digest (task_id);
  g_autoptr (GDir) scopes = NULL;
  const gchar *scope;

  if (store->scope != NULL) {
    gchar *dir = entry_dir (store, store->scope, task_id);

    if (skip == 0 && is_real_entry (dir) && read_meta (dir, meta)
        && meta_is_of (meta, store, task_id))
      return dir;
    luma_store_meta_clear (meta);
    g_free (dir);
    return NULL;
  }
  scopes = g_dir_open (store->dir, 0, NULL);
  while (scopes != NULL && (scope = g_dir_read_name (scopes)) != NULL) {
    gchar *dir = g_build_filename (store->dir, scope, tid, NULL);

    if (is_store_name (scope) && is_real_entry (dir) && read_meta (dir, meta)
        && meta_is_of (meta, store, task_id) && skip-- == 0)
      return dir;
    luma_store_meta_clear (meta);
    g_free (dir);
  }
  return NULL;
}

/* ----- reading ----- */

static gchar *
hash_file (gint fd, GCancellable * cancellable, GError ** error)
{
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *chunk = g_malloc (HASH_CHUNK);
  guint64 offset = 0;

  for (;;) {
    gssize n = pread (fd, chunk, HASH_CHUNK, offset);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      gint errsv = errno;

      g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_IO,
          _("Cannot read a stored video: %s"), g_strerror (errsv));
      return NULL;
    }
    if (n == 0)
      break;
    g_checksum_update (checksum, chunk, n);
    offset += n;
    if (g_cancellable_set_error_if_cancelled (cancellable, error))
      return NULL;
  }
  return g_strdup (g_checksum_get_string (checksum));
}

/* Removes an entry's files and its directory; the caller holds its lock
 * (or it has none). */
static void
remove_entry (const gchar * dir)
{
  static const gchar *names[] = { VIDEO_NAME, PART_NAME, META_NAME,
    LOCK_NAME, PREVIOUS_NAME
  };
  g_autofree gchar *scope = g_path_get_dirname (dir);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree gchar *path = entry_file (dir, names[i]);

    g_unlink (path);
  }
  g_rmdir (dir);
  /* the scope goes with its last entry; it fails while it has others */
  g_rmdir (scope);
}

/* A shared lock, so that eviction in another process leaves the entry to
 * its reader; not having one only loses that. *@held: a writer holds the
 * entry (an exclusive lock that lasts), which is then not the reader's to
 * drop or to record anything in. */
static gint
lock_shared (const gchar * dir, gboolean * held)
{
  g_autofree gchar *path = entry_file (dir, LOCK_NAME);
  gint fd = luma_file_open_regular (path, O_RDONLY, 0, NULL);
  guint tries = 0;

  *held = FALSE;
  while (fd >= 0 && flock (fd, LOCK_SH | LOCK_NB) != 0) {
    if (errno == EINTR)
      continue;
    if (errno != EWOULDBLOCK || ++tries == SHARED_LOCK_TRIES) {
      *held = errno == EWOULDBLOCK;
      g_close (fd, NULL);
      return -1;
    }
    g_usleep (SHARED_LOCK_RETRY_US);
  }
  /* the entry was evicted and taken anew since its lock file was opened:
   * this lock is on no entry */
  if (fd >= 0 && !luma_file_is_at (fd, path)) {
    g_close (fd, NULL);
    return -1;
  }
  return fd;
}

static void
set_damaged_error (GError ** error, const gchar * task_id, const gchar * why)
{
  g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_DAMAGED,
      _("The stored video of task %s is damaged (%s)"), task_id, why);
}

/* An entry committed without waiting for the disk, and opened after a
 * reboot: if the system stopped before the disk took the video, the file
 * may hold other bytes at the right size. Its digest tells; without one,
 * it is fetched again while KIE still has it, and kept (hashed from now
 * on) when it is the only copy: a clean shutdown writes the page cache
 * out, and dropping a sound only copy would lose the clip for sure. */
static gboolean
check_unsynced (const LumaStoreMeta * meta, GError ** error)
{
  if (meta->synced || g_strcmp0 (meta->boot_id, current_boot_id ()) == 0
      || meta->sha256 != NULL || g_get_real_time () / 1000 >= meta->kie_until)
    return TRUE;
  set_damaged_error (error, meta->task_id, _("the system stopped before it "
          "was all on disk, and it has no digest to check it by"));
  return FALSE;
}

/* The SHA-256 when the file was not hashed since it was written; FALSE
 * when it is not the one it was written with. */
static gboolean
verify_digest (LumaStore * store, LumaStoreReader * reader,
    GCancellable * cancellable, GError ** error)
{
  LumaStoreMeta *meta = &reader->meta;
  g_autofree gchar *digest = NULL;

  if (meta->verified || (store->read_only && meta->sha256 == NULL))
    return TRUE;
  digest = hash_file (reader->fd, cancellable, error);
  if (digest == NULL)
    return FALSE;
  if (meta->sha256 != NULL && g_ascii_strcasecmp (digest, meta->sha256) != 0) {
    set_damaged_error (error, meta->task_id, _("its SHA-256 is not the one "
            "it was stored with"));
    return FALSE;
  }
  g_free (meta->sha256);
  meta->sha256 = g_steal_pointer (&digest);
  meta->verified = TRUE;
  return TRUE;
}

/* A sync of a video to the disk, which an open waits for unless it is
 * cancelled: a slow disk may take seconds for a large video, and a stop
 * of the pipeline must not wait for it. The thread and the open share it;
 * whichever is last frees it. */
typedef struct
{
  gint refs;
  gint fd;                      /* a duplicate: the sync may outlive the open */
  GMutex lock;
  GCond done_cond;
  gboolean done;
  gint errsv;
} LumaSync;

/* The files whose sync failed, by device and inode, with its
 * errno. The disk tells a failure once (Linux marks a writeback error
 * seen): a sync that a cancelled open left to go on alone may be the one
 * told, and the next open's sync then succeeds although the video may not
 * be on the disk. The next open of that file in this process learns it
 * here. */
G_LOCK_DEFINE_STATIC (failed_syncs);
static GHashTable *failed_syncs;

static gchar *
file_identity (gint fd)
{
  struct stat st;

  if (fstat (fd, &st) != 0)
    return NULL;
  return g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT,
      (guint64) st.st_dev, (guint64) st.st_ino);
}

static void
remember_failed_sync (gint fd, gint errsv)
{
  gchar *identity = file_identity (fd);

  if (identity == NULL)
    return;
  G_LOCK (failed_syncs);
  if (failed_syncs == NULL)
    failed_syncs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        NULL);
  g_hash_table_replace (failed_syncs, identity, GINT_TO_POINTER (errsv));
  G_UNLOCK (failed_syncs);
}

/* The errno of an earlier sync of @fd's file that failed unheard, once */
static gint
take_failed_sync (gint fd)
{
  g_autofree gchar *identity = NULL;
  gpointer errsv = NULL;

  G_LOCK (failed_syncs);
  if (failed_syncs != NULL && g_hash_table_size (failed_syncs) > 0
      && (identity = file_identity (fd)) != NULL) {
    errsv = g_hash_table_lookup (failed_syncs, identity);
    g_hash_table_remove (failed_syncs, identity);
  }
  G_UNLOCK (failed_syncs);
  return GPOINTER_TO_INT (errsv);
}

static void
luma_sync_unref (LumaSync * sync)
{
  if (!g_atomic_int_dec_and_test (&sync->refs))
    return;
  if (sync->fd >= 0)
    g_close (sync->fd, NULL);
  g_mutex_clear (&sync->lock);
  g_cond_clear (&sync->done_cond);
  g_free (sync);
}

static gpointer
sync_file (gpointer data)
{
  LumaSync *sync = data;
  gint errsv = fdatasync (sync->fd) == 0 ? 0 : errno;

  /* Told once; the open that waits for it may have gone */
  if (errsv != 0)
    remember_failed_sync (sync->fd, errsv);
  g_mutex_lock (&sync->lock);
  sync->errsv = errsv;
  sync->done = TRUE;
  g_cond_broadcast (&sync->done_cond);
  g_mutex_unlock (&sync->lock);
  luma_sync_unref (sync);
  return NULL;
}

/* Starts syncing @fd in a thread of its own, or syncs it at once where no
 * thread can be had. */
static LumaSync *
start_sync (gint fd)
{
  LumaSync *sync = g_new0 (LumaSync, 1);
  GThread *thread = NULL;

  sync->refs = 2;               /* the open's and the thread's */
  sync->fd = dup (fd);
  g_mutex_init (&sync->lock);
  g_cond_init (&sync->done_cond);
  if (sync->fd >= 0)
    thread = g_thread_try_new ("luma-store-sync", sync_file, sync, NULL);
  if (thread != NULL) {
    g_thread_unref (thread);
    return sync;
  }
  /* no thread: the open's share alone */
  sync->refs = 1;
  sync->errsv = fdatasync (fd) == 0 ? 0 : errno;
  sync->done = TRUE;
  return sync;
}

static void
wake_sync_waiter (GCancellable * cancellable, LumaSync * sync)
{
  g_mutex_lock (&sync->lock);
  g_cond_broadcast (&sync->done_cond);
  g_mutex_unlock (&sync->lock);
}

/* The sync's errno, 0 when the disk took the file; FALSE when cancelled
 * first (the sync goes on alone). Frees @sync's share. */
static gboolean
finish_sync (LumaSync * sync, GCancellable * cancellable, gint * errsv,
    GError ** error)
{
  gulong handler = 0;
  gboolean done;

  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable,
        G_CALLBACK (wake_sync_waiter), sync, NULL);
  g_mutex_lock (&sync->lock);
  while (!sync->done && !g_cancellable_is_cancelled (cancellable))
    g_cond_wait (&sync->done_cond, &sync->lock);
  done = sync->done;
  *errsv = sync->errsv;
  g_mutex_unlock (&sync->lock);
  /* not under the lock: it waits for a running wake_sync_waiter () */
  g_cancellable_disconnect (cancellable, handler);
  luma_sync_unref (sync);
  if (!done)
    g_cancellable_set_error_if_cancelled (cancellable, error);
  return done;
}

/* Size always; the SHA-256 when the file was not hashed since it was
 * written. What an open learns (the digest, that the video is now on
 * disk) is recorded unless read-only. */
static gboolean
check_integrity (LumaStore * store, LumaStoreReader * reader,
    const gchar * dir, GCancellable * cancellable, GError ** error)
{
  LumaStoreMeta *meta = &reader->meta;
  gboolean was_verified = meta->verified;
  LumaSync *syncer = NULL;
  gboolean verified;
  gint sync_errno = 0;
  struct stat st;

  if (fstat (reader->fd, &st) != 0 || !S_ISREG (st.st_mode)
      || (guint64) st.st_size != meta->size) {
    set_damaged_error (error, meta->task_id, _("its size is not the size it "
            "was stored with"));
    return FALSE;
  }
  /* never committed so (luma_store_writer_commit ()): served, it would
   * answer every open with nothing, for good */
  if (meta->size == 0) {
    set_damaged_error (error, meta->task_id, _("it is empty"));
    return FALSE;
  }
  if (!check_unsynced (meta, error))
    return FALSE;
  /* the commit left the video to the page cache: the disk takes it now,
   * once, where a reader waits anyway, and while the file is hashed (the
   * disk's part and the CPU's at once, not one after the other) */
  if (!store->read_only && !meta->synced)
    syncer = start_sync (reader->fd);
  verified = verify_digest (store, reader, cancellable, error);
  /* an entry that fails its check goes: its sync is no longer waited for */
  if (syncer != NULL && !verified)
    luma_sync_unref (syncer);
  else if (syncer != NULL && !finish_sync (syncer, cancellable, &sync_errno,
          error))
    return FALSE;
  if (!verified)
    return FALSE;
  if (store->read_only || (meta->synced && meta->verified == was_verified))
    return TRUE;
  /* A sync told the failure the one this open waited for was not
   * (a cancelled open's, left to go on alone) */
  if (sync_errno == 0 && syncer != NULL)
    sync_errno = take_failed_sync (reader->fd);
  /* a disk that fails it (the error is told once, and then the bytes may
   * be lost) loses the entry */
  if (sync_errno != 0) {
    g_autofree gchar *why = g_strdup_printf (_("the disk did not take it: "
            "%s"), g_strerror (sync_errno));

    set_damaged_error (error, meta->task_id, why);
    return FALSE;
  }
  meta->synced = TRUE;
  /* not being able to record it only costs the next open another hash;
   * an entry a writer holds is its writer's to record in */
  if (!reader->held)
    write_meta (dir, meta, NULL);
  return TRUE;
}

/* The entry's video, which cannot be used, out of the way of the one to
 * replace it, but not removed before that one is stored. */
static void
set_video_aside (const gchar * dir)
{
  g_autofree gchar *video = entry_file (dir, VIDEO_NAME);
  g_autofree gchar *previous = entry_file (dir, PREVIOUS_NAME);
  GStatBuf st;

  /* what is not a file of its own (a link, a FIFO) is no video to keep */
  if (g_lstat (video, &st) == 0 && S_ISREG (st.st_mode) && st.st_nlink == 1)
    g_rename (video, previous);
  else
    g_unlink (video);
}

/* What a writer that stored nothing leaves: the video it was to replace. */
static void
restore_video_set_aside (const gchar * dir)
{
  g_autofree gchar *video = entry_file (dir, VIDEO_NAME);
  g_autofree gchar *previous = entry_file (dir, PREVIOUS_NAME);
  GStatBuf st;

  if (g_lstat (video, &st) != 0 && errno == ENOENT)
    g_rename (previous, video);
}

/* Sets a damaged entry's video aside, to be fetched again, unless someone
 * else holds it. */
static void
drop_entry (LumaStore * store, const gchar * dir, LumaStoreReader * reader)
{
  /* only under the entry's own lock: without it, the entry may be
   * another's by now (evicted and taken anew) */
  if (store->read_only || reader->held || reader->lock_fd < 0)
    return;
  if (flock (reader->lock_fd, LOCK_EX | LOCK_NB) != 0)
    return;
  set_video_aside (dir);
}

/* The @skip-th entry of @task_id; *@found FALSE when there is none. */
static LumaStoreReader *
open_nth_entry (LumaStore * store, const gchar * task_id, guint skip,
    gboolean * found, GCancellable * cancellable, GError ** error)
{
  g_autofree gchar *dir = NULL;
  g_autofree gchar *video = NULL;
  g_autofree gchar *meta_path = NULL;
  LumaStoreReader *reader = g_new0 (LumaStoreReader, 1);
  g_autoptr (GError) local = NULL;
  gboolean not_regular;

  reader->fd = reader->lock_fd = -1;
  dir = find_entry (store, task_id, skip, &reader->meta);
  *found = dir != NULL;
  if (dir == NULL) {
    luma_store_reader_free (reader);
    return NULL;
  }
  /* a shared lock writes nothing: read-only takes it too */
  reader->lock_fd = lock_shared (dir, &reader->held);
  video = entry_file (dir, VIDEO_NAME);
  reader->fd = luma_file_open_regular (video, O_RDONLY, 0, &not_regular);
  if (reader->fd < 0) {
    gint errsv = errno;

    if (errsv == ENOENT)
      set_damaged_error (&local, task_id, _("its video file is missing"));
    else if (not_regular || errsv == ELOOP)
      set_damaged_error (&local, task_id, _("its video is not a file"));
    else
      set_io_error (&local, _("Cannot open the stored video %s: %s"), video,
          errsv);
  }
  if (local == NULL && !check_integrity (store, reader, dir, cancellable,
          &local)) {
    if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_propagate_error (error, g_steal_pointer (&local));
      luma_store_reader_free (reader);
      return NULL;
    }
  }
  if (local != NULL) {
    if (local->code == LUMA_STORE_ERROR_DAMAGED)
      drop_entry (store, dir, reader);
    g_propagate_error (error, g_steal_pointer (&local));
    luma_store_reader_free (reader);
    return NULL;
  }
  /* last-used is meta.json's mtime: no rewrite, no sync for a touch */
  meta_path = entry_file (dir, META_NAME);
  if (!store->read_only)
    utimensat (AT_FDCWD, meta_path, NULL, 0);
  return reader;
}

/* Without a key, an entry that cannot be used does not hide a sound one
 * of the task in another scope: the first that opens is served, else the
 * first one's error is told. */
static LumaStoreReader *
open_entry (LumaStore * store, const gchar * task_id,
    GCancellable * cancellable, GError ** error)
{
  g_autoptr (GError) first = NULL;
  gboolean found = TRUE;
  guint skip;

  for (skip = 0; found; skip++) {
    g_autoptr (GError) local = NULL;
    LumaStoreReader *reader = open_nth_entry (store, task_id, skip, &found,
        cancellable, &local);

    if (reader != NULL)
      return reader;
    if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
    if (first == NULL)
      first = g_steal_pointer (&local);
  }
  if (first != NULL)
    g_propagate_error (error, g_steal_pointer (&first));
  return NULL;
}

LumaStoreReader *
luma_store_open (LumaStore * store, const gchar * task_id,
    GCancellable * cancellable, GError ** error)
{
  g_return_val_if_fail (store != NULL && task_id != NULL, NULL);

  return open_entry (store, task_id, cancellable, error);
}

/* Reads at @offset, below the end the file is known to have: a file that
 * ends there (cut short under the reader's feet) is an error, never the
 * end of the video. */
static gssize
pread_all (gint fd, guint8 * data, gsize size, guint64 offset, GError ** error)
{
  for (;;) {
    gssize n = pread (fd, data, size, offset);

    if (n == 0 && size > 0) {
      g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_DAMAGED,
          _("A stored video was cut short: it ends at byte %" PRIu64
              ", before its size"), offset);
      return -1;
    }
    if (n >= 0)
      return n;
    if (errno != EINTR) {
      gint errsv = errno;

      g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_IO,
          _("Cannot read a stored video: %s"), g_strerror (errsv));
      return -1;
    }
  }
}

gssize
luma_store_reader_read (LumaStoreReader * reader, guint8 * data, gsize size,
    guint64 offset, GError ** error)
{
  if (offset >= reader->meta.size)
    return 0;
  size = MIN (size, reader->meta.size - offset);
  return pread_all (reader->fd, data, size, offset, error);
}

const LumaStoreMeta *
luma_store_reader_get_meta (LumaStoreReader * reader)
{
  return &reader->meta;
}

void
luma_store_reader_free (LumaStoreReader * reader)
{
  if (reader == NULL)
    return;
  if (reader->fd >= 0)
    g_close (reader->fd, NULL);
  luma_file_unlock (reader->lock_fd);
  luma_store_meta_clear (&reader->meta);
  g_free (reader);
}

/* ----- writing ----- */

static gpointer
hash_queued (gpointer data)
{
  LumaStoreWriter *writer = data;

  for (;;) {
    gpointer item = g_async_queue_pop (writer->queue);
    gsize size;
    gconstpointer bytes;

    if (item == &hasher_stop)
      return NULL;
    bytes = g_bytes_get_data (item, &size);
    if (!g_atomic_int_get (&writer->hash_given_up))
      g_checksum_update (writer->checksum, bytes, size);
    g_atomic_int_add (&writer->pending, -(gint) size);
    g_bytes_unref (item);
  }
}

/* Returns the digest, or NULL if the hasher gave up. */
static gchar *
stop_hasher (LumaStoreWriter * writer)
{
  gchar *digest = NULL;

  if (writer->hasher != NULL) {
    g_async_queue_push (writer->queue, &hasher_stop);
    g_thread_join (writer->hasher);
    writer->hasher = NULL;
  }
  if (writer->checksum != NULL && !g_atomic_int_get (&writer->hash_given_up))
    digest = g_strdup (g_checksum_get_string (writer->checksum));
  return digest;
}

/* What shows that the holder of an entry is at work: its .part growing,
 * or the entry completed. */
static guint64
writer_progress (const gchar * dir)
{
  g_autofree gchar *part = entry_file (dir, PART_NAME);
  g_autofree gchar *video = entry_file (dir, VIDEO_NAME);
  GStatBuf st;

  if (g_lstat (video, &st) == 0)
    return G_MAXUINT64;
  return g_lstat (part, &st) == 0 ? (guint64) st.st_size : 0;
}

/* The .part of the entry in @dir, to read as another writes it; -1 if
 * there is none (yet). */
static gint
open_part_to_follow (const gchar * dir)
{
  g_autofree gchar *path = entry_file (dir, PART_NAME);

  return luma_file_open_regular (path, O_RDONLY, 0, NULL);
}

/* Waits (cancellably) while another holds the lock on @fd and makes
 * progress; or, with @part_fd, only until it has a .part to follow: then
 * *@part_fd is open on it and @fd is not locked. */
static gboolean
wait_for_lock (gint fd, const gchar * dir, guint stall_ms, gint * part_fd,
    GCancellable * cancellable, GError ** error)
{
  guint64 progress = writer_progress (dir);
  gint64 last_change = g_get_monotonic_time ();

  while (flock (fd, LOCK_EX | LOCK_NB) != 0) {
    guint64 now_progress;

    if (errno == EINTR)
      continue;
    if (errno != EWOULDBLOCK) {
      set_io_error (error, _("Cannot lock the stored entry %s: %s"), dir,
          errno);
      return FALSE;
    }
    /* another process or element is writing this very video */
    if (part_fd != NULL && (*part_fd = open_part_to_follow (dir)) >= 0)
      return TRUE;
    if (!luma_file_wait (cancellable, LOCK_RETRY_MS, error))
      return FALSE;
    now_progress = writer_progress (dir);
    if (now_progress != progress) {
      progress = now_progress;
      last_change = g_get_monotonic_time ();
    } else if (g_get_monotonic_time () - last_change > (gint64) stall_ms * 1000) {
      g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_BUSY,
          _("Another process or element holds the stored entry %s and has "
              "written nothing for %u ms"), dir, stall_ms);
      return FALSE;
    }
  }
  return TRUE;
}

/* The entry's directory and its scope's, each made only in a directory
 * that is one (not a link to one elsewhere: nothing is made outside the
 * store). */
static gboolean
make_entry_dir (const gchar * dir, GError ** error)
{
  g_autofree gchar *scope = g_path_get_dirname (dir);
  g_autofree gchar *store_dir = g_path_get_dirname (scope);
  const gchar *made = store_dir;
  gint errsv;

  if (g_mkdir_with_parents (store_dir, 0700) == 0) {
    made = scope;
    if (g_mkdir (scope, 0700) == 0 || (errno == EEXIST && is_real_dir (scope))) {
      made = dir;
      if (g_mkdir (dir, 0700) == 0 || errno == EEXIST)
        return TRUE;
    }
  }
  errsv = errno;
  if (errsv == EEXIST)
    set_file_error (error, _("Cannot create the store directory %s: %s"),
        made, _("it or its parent is not a directory"));
  else
    set_io_error (error, _("Cannot create the store directory %s: %s"), made,
        errsv);
  /* for the caller, which makes it again where it was removed meanwhile */
  errno = errsv;
  return FALSE;
}

/* Takes the entry's lock, waiting while another holds it and makes
 * progress (or, with @part_fd, until there is a .part to follow, see
 * wait_for_lock ()). The lock file is made anew if eviction removed it
 * meanwhile. */
static gboolean
lock_entry (const gchar * dir, guint stall_ms, GCancellable * cancellable,
    gint * lock_fd, gint * part_fd, GError ** error)
{
  g_autofree gchar *path = entry_file (dir, LOCK_NAME);
  guint attempt;

  if (part_fd != NULL)
    *part_fd = -1;
  for (attempt = 0; attempt < MAX_LOCK_ATTEMPTS; attempt++) {
    gboolean not_regular;
    gint fd;

    g_autoptr (GError) not_made = NULL;

    /* another's eviction may remove the scope with its last entry between
     * the making of the two: made again */
    if (!make_entry_dir (dir, &not_made)) {
      if (errno == ENOENT && attempt + 1 < MAX_LOCK_ATTEMPTS)
        continue;
      g_propagate_error (error, g_steal_pointer (&not_made));
      return FALSE;
    }
    if (!is_real_entry (dir)) {
      set_file_error (error, _("Cannot create the store directory %s: %s"),
          dir, _("it or its parent is not a directory"));
      return FALSE;
    }
    fd = luma_file_open_regular (path, O_RDWR | O_CREAT, 0600, &not_regular);
    /* gone (evicted meanwhile), or not a file of its own (made anew: what
     * stood there, a link or a FIFO, locked nothing) */
    if (fd < 0 && (errno == ENOENT || ((not_regular || errno == ELOOP)
                && g_unlink (path) == 0)))
      continue;
    if (fd < 0) {
      set_open_error (error, _("Cannot open the store lock %s: %s"), path,
          not_regular);
      return FALSE;
    }
    if (!wait_for_lock (fd, dir, stall_ms, part_fd, cancellable, error)) {
      g_close (fd, NULL);
      return FALSE;
    }
    if (luma_file_is_at (fd, path)) {
      *lock_fd = fd;
      return TRUE;
    }
    if (part_fd != NULL && *part_fd >= 0) {
      g_close (*part_fd, NULL);
      *part_fd = -1;
    }
    luma_file_unlock (fd);
  }
  set_io_error (error, _("Cannot lock the stored entry %s: %s"), path, EAGAIN);
  return FALSE;
}

static gboolean
open_part (LumaStoreWriter * writer, GError ** error)
{
  g_autofree gchar *path = entry_file (writer->dir, PART_NAME);
  gboolean not_regular;
  struct stat st;

  writer->part_fd = luma_file_open_regular (path, O_RDWR | O_CREAT, 0600,
      &not_regular);
  /* the entry is this writer's: what is not a file of its own there (a
   * link, a FIFO) goes */
  if (writer->part_fd < 0 && (not_regular || errno == ELOOP)
      && g_unlink (path) == 0)
    writer->part_fd = luma_file_open_regular (path, O_RDWR | O_CREAT, 0600,
        &not_regular);
  if (writer->part_fd < 0 || fstat (writer->part_fd, &st) != 0) {
    set_open_error (error, _("Cannot open %s: %s"), path, not_regular);
    return FALSE;
  }
  writer->prefix = st.st_size;
  return TRUE;
}

static void
prepare_hasher (LumaStoreWriter * writer)
{
  /* A resumed .part would have to be hashed from the file first: it is
   * committed without a digest instead, and its next open hashes it. */
  if (writer->prefix > 0) {
    g_atomic_int_set (&writer->hash_given_up, TRUE);
    return;
  }
  writer->checksum = g_checksum_new (G_CHECKSUM_SHA256);
}

/* ----- the .part, written as the bytes stream ----- */

static gboolean
write_all (gint fd, const guint8 * data, gsize size, guint64 offset)
{
  if (!luma_file_fits_size_limit (offset + size))
    return FALSE;
  while (size > 0) {
    gssize n = pwrite (fd, data, size, offset);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return FALSE;
    data += n;
    size -= n;
    offset += n;
  }
  return TRUE;
}

/* Past LUMA_STORE_INLINE_BYTES the hashing goes on in a thread of its
 * own; the checksum is the hasher's from now on. */
static void
start_hasher (LumaStoreWriter * writer)
{
  writer->queue = g_async_queue_new ();
  writer->hasher = g_thread_new ("luma-store-hash", hash_queued, writer);
}

/* ----- the entries this process's writers hold ----- */

/* Entry directory -> the groups (GPtrArray, one for each) of the writers
 * of this process that hold it or are taking it. */
static GMutex claims_lock;
static GHashTable *claims;

/* Counts a writer of @group in; FALSE (and not counted) if a writer of the
 * same group is in already. */
static gboolean
claim_entry (const gchar * dir, gconstpointer group)
{
  GPtrArray *groups;
  gboolean claimed;

  g_mutex_lock (&claims_lock);
  if (claims == NULL)
    claims = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        (GDestroyNotify) g_ptr_array_unref);
  groups = g_hash_table_lookup (claims, dir);
  if (groups == NULL) {
    groups = g_ptr_array_new ();
    g_hash_table_insert (claims, g_strdup (dir), groups);
  }
  claimed = group == NULL || !g_ptr_array_find (groups, group, NULL);
  if (claimed)
    g_ptr_array_add (groups, (gpointer) group);
  g_mutex_unlock (&claims_lock);
  return claimed;
}

static void
release_entry (const gchar * dir, gconstpointer group)
{
  GPtrArray *groups;

  g_mutex_lock (&claims_lock);
  groups = g_hash_table_lookup (claims, dir);
  g_ptr_array_remove (groups, (gpointer) group);
  if (groups->len == 0)
    g_hash_table_remove (claims, dir);
  if (g_hash_table_size (claims) == 0)
    g_clear_pointer (&claims, g_hash_table_unref);
  g_mutex_unlock (&claims_lock);
}

/* What the writer wrote into the lock file, once it is all there: the
 * size, then the boot it writes in where there is one ("SIZE BOOT-ID\n"),
 * then the version tag of the file where it has one ("VERSION\n": which
 * of the host's files it is, see luma_stream_get_version ()). @version,
 * if not NULL, is set to it (NULL where none was told) when the size is
 * known. Told in another boot, the size is not taken: the system stopped
 * since, and a file system may have kept a `.part`'s length but not all
 * its bytes (stale blocks, zeros), which a resume would store as the
 * video. */
static guint64
read_told (gint lock_fd, gchar ** version)
{
  gchar text[64 + MAX_TOLD_VERSION];
  gssize n = pread (lock_fd, text, sizeof text - 1, 0);
  gchar *boot_id, *told_version;
  guint64 size;

  /* all of it text: a NUL would end it early */
  if (n <= 1 || text[n - 1] != '\n' || memchr (text, '\0', n) != NULL)
    return LUMA_STORE_SIZE_UNKNOWN;
  text[n - 1] = '\0';
  told_version = strchr (text, '\n');
  if (told_version != NULL)
    *told_version++ = '\0';
  boot_id = strchr (text, ' ');
  if (boot_id != NULL)
    *boot_id++ = '\0';
  if (g_strcmp0 (boot_id, current_boot_id ()) != 0
      || !g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &size, NULL))
    return LUMA_STORE_SIZE_UNKNOWN;
  if (version != NULL)
    *version = told_version != NULL && *told_version != '\0' ?
        g_strdup (told_version) : NULL;
  return size;
}

static LumaStoreFollower *
follower_new (LumaStore * store, const gchar * dir, gint lock_fd, gint part_fd)
{
  LumaStoreFollower *follower = g_new0 (LumaStoreFollower, 1);
  struct stat st;

  follower->dir = g_strdup (dir);
  follower->stall_ms = store->wait_stall_ms;
  follower->lock_fd = lock_fd;
  follower->part_fd = part_fd;
  follower->start_length = fstat (part_fd, &st) == 0 ? st.st_size : 0;
  follower->size = LUMA_STORE_SIZE_UNKNOWN;
  follower->last_growth = g_get_monotonic_time ();
  return follower;
}

static LumaStoreWriter *
writer_new (LumaStore * store, const gchar * task_id, const gchar * dir,
    gint lock_fd, GError ** error)
{
  LumaStoreWriter *writer = g_new0 (LumaStoreWriter, 1);

  writer->store = store;
  writer->task_id = g_strdup (task_id);
  writer->dir = g_strdup (dir);
  writer->lock_fd = lock_fd;
  writer->part_fd = -1;
  /* the size of the file the `.part` left there is a beginning of: a
   * resume checks that the host still has that one */
  writer->part_size = read_told (lock_fd, &writer->part_version);
  /* The size an earlier writer told is not this one's to vouch for. If it
   * cannot go, this one's cannot be told either: followers learn the size
   * at the end, and check the one that stayed against it. */
  if (ftruncate (lock_fd, 0) != 0)
    writer->size_told = TRUE;
  if (!open_part (writer, error)) {
    luma_store_writer_free (writer, TRUE);
    return NULL;
  }
  /* told by a writer whose bytes are not there (discarded, or stopped
   * before its first): nothing here is of that file */
  if (writer->prefix == 0) {
    writer->part_size = LUMA_STORE_SIZE_UNKNOWN;
    g_clear_pointer (&writer->part_version, g_free);
  }
  prepare_hasher (writer);
  return writer;
}

/* How often a begin that found the entry's video opens it again: each
 * time another completed it meanwhile, or the open dropped it as
 * damaged. */
#define MAX_OPEN_ATTEMPTS 3

/* A video that stays damaged, and that readers keep from being dropped:
 * written anew, under the lock, without the meta.json that went with it
 * (which would tell opens meanwhile of a video that is missing); the old
 * video is set aside until the new one is stored. */
static void
clear_for_writing (const gchar * dir)
{
  g_autofree gchar *meta = entry_file (dir, META_NAME);

  g_unlink (meta);
  set_video_aside (dir);
}

/* luma_store_begin () once this process's claim on @dir is taken. */
static gboolean
begin_claimed (LumaStore * store, const gchar * task_id, const gchar * dir,
    GCancellable * cancellable, LumaStoreWriter ** writer,
    LumaStoreReader ** reader, LumaStoreFollower ** follower, GError ** error)
{
  g_autofree gchar *video = entry_file (dir, VIDEO_NAME);
  guint attempt;
  gint lock_fd, follow_fd;

  for (attempt = 0;; attempt++) {
    g_autoptr (GError) unusable = NULL;

    /* complete (by whoever held the lock the last time round, or by
     * another process while this one polled): read under a shared lock,
     * which the readers of other processes do not hold back */
    if (g_file_test (video, G_FILE_TEST_EXISTS)) {
      *reader = open_entry (store, task_id, cancellable, &unusable);
      if (*reader != NULL)
        return TRUE;
      /* a video that could not be opened or read (EMFILE, EIO...)
       * is not known to be damaged: the entry is left as it is, never
       * cleared for writing (its meta.json removed) for a download that
       * may fail (KIE deleted the file: the only copy) */
      if (g_error_matches (unusable, G_IO_ERROR, G_IO_ERROR_CANCELLED)
          || g_error_matches (unusable, LUMA_STORE_ERROR, LUMA_STORE_ERROR_IO)) {
        g_propagate_error (error, g_steal_pointer (&unusable));
        return FALSE;
      }
      /* nor one whose meta.json could not be read */
      if (unusable == NULL && meta_unreadable (dir, error))
        return FALSE;
      /* damaged (and dropped, unless another held it), or a video without
       * its meta.json (a crash between the two): looked at again under
       * the lock */
    }
    if (!lock_entry (dir, store->wait_stall_ms, cancellable, &lock_fd,
            &follow_fd, error))
      return FALSE;
    if (follow_fd >= 0) {
      *follower = follower_new (store, dir, lock_fd, follow_fd);
      return TRUE;
    }
    if (!g_file_test (video, G_FILE_TEST_EXISTS))
      break;
    if (attempt + 1 == MAX_OPEN_ATTEMPTS) {
      clear_for_writing (dir);
      break;
    }
    luma_file_unlock (lock_fd);
  }

  *writer = writer_new (store, task_id, dir, lock_fd, error);
  return *writer != NULL;
}

gboolean
luma_store_begin (LumaStore * store, const gchar * task_id,
    GCancellable * cancellable, LumaStoreWriter ** writer,
    LumaStoreReader ** reader, LumaStoreFollower ** follower, GError ** error)
{
  g_autofree gchar *dir = NULL;
  LumaStoreWriter *w = NULL;

  g_return_val_if_fail (store != NULL && !store->read_only, FALSE);
  g_return_val_if_fail (store->scope != NULL, FALSE);
  g_return_val_if_fail (follower != NULL, FALSE);

  dir = entry_dir (store, store->scope, task_id);
  /* flock(2) cannot tell a writer of this pipeline from another's (each
   * open of the lock file is a lock of its own): the claims can */
  if (!claim_entry (dir, store->group)) {
    g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_BUSY,
        _("Another source of task %s in this pipeline is storing it"), task_id);
    return FALSE;
  }
  if (!begin_claimed (store, task_id, dir, cancellable, &w, reader, follower,
          error)) {
    release_entry (dir, store->group);
    return FALSE;
  }
  if (w != NULL)
    w->claimed = TRUE;
  else
    release_entry (dir, store->group);
  *writer = w;
  return TRUE;
}

guint64
luma_store_writer_get_prefix (LumaStoreWriter * writer)
{
  return writer->prefix;
}

guint64
luma_store_writer_get_part_size (LumaStoreWriter * writer)
{
  return writer->part_size;
}

const gchar *
luma_store_writer_get_part_version (LumaStoreWriter * writer)
{
  return writer->part_version;
}

void
luma_store_writer_set_version (LumaStoreWriter * writer, const gchar * version)
{
  /* a resumed .part's, when the host sends none now: nothing said it
   * changed (a restarted writer has none) */
  if (writer->version == NULL)
    writer->version = dup_told_version (version ? version :
        writer->part_version);
}

gboolean
luma_store_writer_restart (LumaStoreWriter * writer, GError ** error)
{
  g_return_val_if_fail (writer->part_fd >= 0 && writer->hasher == NULL, FALSE);

  if (ftruncate (writer->part_fd, 0) != 0) {
    g_autofree gchar *path = entry_file (writer->dir, PART_NAME);

    set_io_error (error, _("Cannot write %s: %s"), path, errno);
    return FALSE;
  }
  writer->prefix = 0;
  writer->part_size = LUMA_STORE_SIZE_UNKNOWN;
  g_clear_pointer (&writer->part_version, g_free);
  g_atomic_int_set (&writer->hash_given_up, FALSE);
  prepare_hasher (writer);
  return TRUE;
}

/* The lines read_told () reads. */
static gboolean
write_told (gint lock_fd, guint64 size, const gchar * version)
{
  const gchar *boot_id = current_boot_id ();
  gchar text[64 + MAX_TOLD_VERSION];
  gint length;

  length = g_snprintf (text, sizeof text, "%" G_GUINT64_FORMAT "%s%s\n%s%s",
      size, boot_id ? " " : "", boot_id ? boot_id : "",
      version ? version : "", version ? "\n" : "");
  return write_all (lock_fd, (const guint8 *) text, length, 0);
}

void
luma_store_writer_set_size (LumaStoreWriter * writer, guint64 size)
{
  if (writer->size_told)
    return;
  /* not told (a full disk...): followers learn it at the end */
  writer->size_told = write_told (writer->lock_fd, size, writer->version);
}

gssize
luma_store_writer_read (LumaStoreWriter * writer, guint8 * data, gsize size,
    guint64 offset, GError ** error)
{
  if (offset >= writer->prefix)
    return 0;
  size = MIN (size, writer->prefix - offset);
  return pread_all (writer->part_fd, data, size, offset, error);
}

/* The hasher takes a reference, never a copy; if it falls too far behind
 * it gives up rather than hold the stream back. */
static void
queue_for_hash (LumaStoreWriter * writer, GBytes * bytes)
{
  gsize size = g_bytes_get_size (bytes);

  if (g_atomic_int_get (&writer->hash_given_up) || writer->checksum == NULL)
    return;
  /* the first bytes, in this thread; the others, in the hasher's */
  if (writer->hasher == NULL && writer->prefix <= LUMA_STORE_INLINE_BYTES) {
    g_checksum_update (writer->checksum, g_bytes_get_data (bytes, NULL), size);
    return;
  }
  if (writer->hasher == NULL)
    start_hasher (writer);
  if (size > LUMA_STORE_HASH_QUEUE_LIMIT
      || g_atomic_int_get (&writer->pending) + size >
      LUMA_STORE_HASH_QUEUE_LIMIT) {
    g_atomic_int_set (&writer->hash_given_up, TRUE);
    return;
  }
  g_atomic_int_add (&writer->pending, (gint) size);
  g_async_queue_push (writer->queue, g_bytes_ref (bytes));
}

/* After a failed append: the writer is spent, and its `.part` (at @path)
 * gone. */
static void
drop_part (LumaStoreWriter * writer, const gchar * path)
{
  g_free (stop_hasher (writer));
  g_close (writer->part_fd, NULL);
  writer->part_fd = -1;
  g_unlink (path);
}

gboolean
luma_store_writer_append (LumaStoreWriter * writer, guint64 offset,
    GBytes * bytes, GError ** error)
{
  gsize size = g_bytes_get_size (bytes);
  struct stat st;

  g_return_val_if_fail (writer->part_fd >= 0, FALSE);

  /* after a seek: these bytes would leave a hole */
  if (offset != writer->prefix || size == 0)
    return TRUE;
  /* a `.part` another program cut (or grew) under the writer: the bytes
   * would land past its end, after a hole of zeros, and be stored as the
   * video (a resumed `.part` has no digest to catch it); one fstat () a
   * buffer of 256 KiB */
  if (fstat (writer->part_fd, &st) == 0 && (guint64) st.st_size != offset) {
    g_autofree gchar *path = entry_file (writer->dir, PART_NAME);

    set_file_error (error, _("Cannot write %s: %s"), path,
        _("another program changed its length"));
    drop_part (writer, path);
    return FALSE;
  }
  /* Written here, not by a thread of the writer's: on two cores, where
   * the network takes the other one, a writer thread cost a fifth more
   * CPU (a wake-up per buffer, buffers gone cold) and gained no time
   * (BENCHMARKS.md). */
  if (!write_all (writer->part_fd, g_bytes_get_data (bytes, NULL), size,
          offset)) {
    gint errsv = errno;
    g_autofree gchar *path = entry_file (writer->dir, PART_NAME);

    set_io_error (error, _("Cannot write %s: %s"), path, errsv);
    drop_part (writer, path);
    return FALSE;
  }
  writer->prefix += size;
  queue_for_hash (writer, bytes);
  return TRUE;
}

static void
close_part (LumaStoreWriter * writer)
{
  if (writer->part_fd >= 0)
    g_close (writer->part_fd, NULL);
  writer->part_fd = -1;
}

gboolean
luma_store_writer_commit (LumaStoreWriter * writer,
    const LumaStoreMeta * meta, GError ** error)
{
  g_autofree gchar *part = entry_file (writer->dir, PART_NAME);
  g_autofree gchar *video = entry_file (writer->dir, VIDEO_NAME);
  LumaStoreMeta stored = *meta;
  gboolean ok = FALSE;
  gint errsv = 0;

  g_return_val_if_fail (writer->part_fd >= 0, FALSE);

  stored.sha256 = stop_hasher (writer);
  stored.task_id = writer->task_id;
  stored.api_url = writer->store->api_url;
  stored.size = writer->prefix;
  stored.version = writer->version;
  stored.verified = FALSE;
  stored.stored_at = g_get_real_time () / 1000;
  /* The end of the stream does not wait for the disk (a second or more
   * for a large video): the first open syncs it, and until then the boot
   * id tells whether the page cache still vouches for the bytes. Where
   * there is no boot id, it is synced now. */
  stored.boot_id = (gchar *) current_boot_id ();
  stored.synced = stored.boot_id == NULL;

  if (writer->prefix != meta->size) {
    g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_IO,
        _("The stored video of task %s has %" PRIu64 " bytes of %" PRIu64),
        writer->task_id, writer->prefix, meta->size);
  } else if (meta->size == 0) {
    /* kept, it would answer every open with nothing, for good */
    g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_IO,
        _("The video of task %s is empty: it is not stored"), writer->task_id);
  } else if (writer->store->limit > 0 && meta->size > writer->store->limit) {
    g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_TOO_LARGE,
        _("The video of task %s is larger than the store's limit"),
        writer->task_id);
  } else if ((stored.synced && fdatasync (writer->part_fd) != 0)
      || g_rename (part, video) != 0) {
    errsv = errno;
    set_io_error (error, _("Cannot complete the stored video %s: %s"), video,
        errsv);
  } else if (write_meta (writer->dir, &stored, error)) {
    g_autofree gchar *previous = entry_file (writer->dir, PREVIOUS_NAME);

    /* the rename and meta.json last through a power cut */
    luma_file_sync_dir (writer->dir);
    g_unlink (previous);
    ok = TRUE;
  } else {
    g_unlink (video);
  }
  g_free (stored.sha256);
  close_part (writer);
  luma_store_writer_free (writer, !ok);
  return ok;
}

void
luma_store_writer_free (LumaStoreWriter * writer, gboolean discard)
{
  if (writer == NULL)
    return;
  g_free (stop_hasher (writer));
  close_part (writer);
  if (discard) {
    g_autofree gchar *part = entry_file (writer->dir, PART_NAME);

    g_unlink (part);
  } else if (!writer->size_told && writer->part_size != LUMA_STORE_SIZE_UNKNOWN) {
    /* let go before its resume was checked (a seek cut it): the .part is
     * still of the file its writer told, which the next one checks */
    write_told (writer->lock_fd, writer->part_size, writer->part_version);
  }
  restore_video_set_aside (writer->dir);
  luma_file_unlock (writer->lock_fd);
  if (writer->claimed)
    release_entry (writer->dir, writer->store->group);
  g_clear_pointer (&writer->queue, g_async_queue_unref);
  g_clear_pointer (&writer->checksum, g_checksum_free);
  g_free (writer->part_version);
  g_free (writer->version);
  g_free (writer->task_id);
  g_free (writer->dir);
  g_free (writer);
}

void
luma_store_writer_free_discarded (LumaStoreWriter * writer)
{
  luma_store_writer_free (writer, TRUE);
}

/* ----- following another's writer ----- */

static gboolean
check_told_size (LumaStoreFollower * follower, guint64 length, GError ** error)
{
  if (follower->size == LUMA_STORE_SIZE_UNKNOWN || length <= follower->size)
    return TRUE;
  g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_DAMAGED,
      _("The video being stored in %s has grown past the size its writer "
          "told (%" PRIu64 " bytes)"), follower->dir, follower->size);
  return FALSE;
}

/* The writer let go of the entry: complete (the follower keeps a shared
 * lock, as a reader does), or abandoned. */
static gboolean
follow_to_the_end (LumaStoreFollower * follower, const struct stat *part,
    GError ** error)
{
  g_autofree gchar *video = entry_file (follower->dir, VIDEO_NAME);
  guint64 size = part->st_size;

  /* committed: the .part it read was renamed to the video */
  if (!luma_file_is_at (follower->part_fd, video)) {
    flock (follower->lock_fd, LOCK_UN);
    g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_ABANDONED,
        _("The writer of the stored entry %s stopped before it completed "
            "it"), follower->dir);
    return FALSE;
  }
  /* a writer done before the follower saw it write: what it told stays in
   * the lock file until the next writer */
  if (follower->size == LUMA_STORE_SIZE_UNKNOWN)
    follower->size = read_told (follower->lock_fd, &follower->version);
  if (follower->size != LUMA_STORE_SIZE_UNKNOWN && size != follower->size) {
    g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_DAMAGED,
        _("The video stored in %s has %" PRIu64 " bytes, not the "
            "%" PRIu64 " its writer told"), follower->dir, size,
        follower->size);
    return FALSE;
  }
  follower->size = follower->length = size;
  follower->complete = TRUE;
  return TRUE;
}

/* Looks at the entry again: how far the .part grew (bytes are trusted once
 * it grew past its length at the start, see lumastore.h), the size its
 * writer told, whether the writer let go of it. */
static gboolean
follower_refresh (LumaStoreFollower * follower, GError ** error)
{
  gboolean let_go = flock (follower->lock_fd, LOCK_SH | LOCK_NB) == 0;
  struct stat st;

  /* after the lock: all the writer wrote before it let go is seen */
  if (fstat (follower->part_fd, &st) != 0) {
    set_io_error (error, _("Cannot read %s: %s"), follower->dir, errno);
    return FALSE;
  }
  if (let_go)
    return follow_to_the_end (follower, &st, error);
  if ((guint64) st.st_size > MAX (follower->length, follower->start_length)) {
    follower->length = st.st_size;
    follower->last_growth = g_get_monotonic_time ();
    if (follower->size == LUMA_STORE_SIZE_UNKNOWN)
      follower->size = read_told (follower->lock_fd, &follower->version);
  }
  return check_told_size (follower, follower->length, error);
}

/* Another writer may have taken the entry over since this one's writer
 * stopped, with no moment for the follower to see it let go: a follower
 * that reads behind what it saw written (playing in real time, it lags)
 * checks that the `.part` was not begun anew (shorter than seen) and that
 * the file told is still the one it follows. Where not, it is abandoned:
 * what the new writer writes is another file's, or must be followed
 * anew. */
static gboolean
follower_still_reads_its_file (LumaStoreFollower * follower, GError ** error)
{
  g_autofree gchar *version = NULL;
  guint64 told = LUMA_STORE_SIZE_UNKNOWN;
  struct stat st;

  if (follower->complete)
    return TRUE;
  if (follower->size != LUMA_STORE_SIZE_UNKNOWN)
    told = read_told (follower->lock_fd, &version);
  if ((fstat (follower->part_fd, &st) == 0
          && (guint64) st.st_size < follower->length)
      || (told != LUMA_STORE_SIZE_UNKNOWN && (told != follower->size
              || g_strcmp0 (version, follower->version) != 0))) {
    g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_ABANDONED,
        _("The stored entry %s is written anew by another writer"),
        follower->dir);
    return FALSE;
  }
  return TRUE;
}

/* Waits a little for the writer to write more, or to let go. */
static gboolean
follow_on (LumaStoreFollower * follower, GCancellable * cancellable,
    GError ** error)
{
  guint64 length = follower->length;
  gint64 still_for;

  if (!follower_refresh (follower, error))
    return FALSE;
  if (follower->length != length || follower->complete)
    return TRUE;
  still_for = g_get_monotonic_time () - follower->last_growth;
  if (still_for > (gint64) follower->stall_ms * 1000) {
    g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_BUSY,
        _("Another process or element holds the stored entry %s and has "
            "written nothing for %u ms"), follower->dir, follower->stall_ms);
    return FALSE;
  }
  return luma_file_wait (cancellable, FOLLOW_RETRY_MS, error);
}

LumaStoreFollower *
luma_store_follow (LumaStore * store, const gchar * task_id)
{
  g_autofree gchar *dir = NULL;
  g_autofree gchar *lock = NULL;
  gint lock_fd, part_fd;

  g_return_val_if_fail (store != NULL && task_id != NULL, NULL);

  /* without a key, no scope tells whose download it would be */
  if (store->scope == NULL)
    return NULL;
  dir = entry_dir (store, store->scope, task_id);
  lock = entry_file (dir, LOCK_NAME);
  lock_fd = luma_file_open_regular (lock, O_RDONLY, 0, NULL);
  if (lock_fd < 0)
    return NULL;
  /* a shared lock is refused only while a writer holds the entry */
  if (flock (lock_fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
    luma_file_unlock (lock_fd);
    return NULL;
  }
  part_fd = open_part_to_follow (dir);
  if (part_fd < 0) {
    g_close (lock_fd, NULL);
    return NULL;
  }
  return follower_new (store, dir, lock_fd, part_fd);
}

guint64
luma_store_follower_get_size (LumaStoreFollower * follower)
{
  return follower->size;
}

const gchar *
luma_store_follower_get_version (LumaStoreFollower * follower)
{
  return follower->version;
}

guint64
luma_store_follower_get_written (LumaStoreFollower * follower)
{
  return MAX (follower->length, follower->start_length);
}

gboolean
luma_store_follower_refresh (LumaStoreFollower * follower, GError ** error)
{
  return follower->complete || follower_refresh (follower, error);
}

gssize
luma_store_follower_read (LumaStoreFollower * follower, guint8 * data,
    gsize size, guint64 offset, GCancellable * cancellable, GError ** error)
{
  for (;;) {
    if (offset < follower->length)
      return follower_still_reads_its_file (follower, error) ?
          pread_all (follower->part_fd, data, MIN (size,
              follower->length - offset), offset, error) : -1;
    if (follower->complete)
      return 0;
    if (!follow_on (follower, cancellable, error))
      return -1;
  }
}

void
luma_store_follower_free (LumaStoreFollower * follower)
{
  if (follower == NULL)
    return;
  g_close (follower->part_fd, NULL);
  luma_file_unlock (follower->lock_fd);
  g_free (follower->version);
  g_free (follower->dir);
  g_free (follower);
}

/* ----- eviction ----- */

typedef struct
{
  gchar *dir;
  gchar *task_id;               /* NULL for a .part alone */
  guint64 size;
  gint64 last_used;             /* Unix ms */
  gboolean only_copy;
} LumaStoreCandidate;

static void
candidate_free (LumaStoreCandidate * candidate)
{
  g_free (candidate->dir);
  g_free (candidate->task_id);
  g_free (candidate);
}

/* Sizes come from files anybody could plant (sparse, near 2^63): a sum
 * that would wrap round stops at the largest size, never looks small. */
static guint64
add_sizes (guint64 a, guint64 b)
{
  guint64 sum;

  return g_uint64_checked_add (&sum, a, b) ? sum : G_MAXUINT64;
}

static guint64
file_size (const gchar * dir, const gchar * name, gint64 * mtime)
{
  g_autofree gchar *path = entry_file (dir, name);
  GStatBuf st;

  if (g_lstat (path, &st) != 0 || !S_ISREG (st.st_mode))
    return 0;
  if (mtime != NULL)
    *mtime = MAX (*mtime, (gint64) st.st_mtime * 1000);
  return st.st_size;
}

/* One entry: what it holds, how recently used, whether KIE has it. */
static LumaStoreCandidate *
read_candidate (const gchar * dir, gint64 now)
{
  LumaStoreCandidate *candidate = g_new0 (LumaStoreCandidate, 1);
  LumaStoreMeta meta;
  gint64 meta_time = -1, part_time = -1;

  candidate->dir = g_strdup (dir);
  candidate->size = add_sizes (add_sizes (file_size (dir, VIDEO_NAME, NULL),
          file_size (dir, PART_NAME, &part_time)),
      file_size (dir, PREVIOUS_NAME, NULL));
  if (file_size (dir, META_NAME, &meta_time) > 0 && read_meta (dir, &meta)) {
    candidate->task_id = g_strdup (meta.task_id);
    candidate->only_copy = meta.kie_until >= 0 && now >= meta.kie_until;
    luma_store_meta_clear (&meta);
  }
  candidate->last_used = MAX (meta_time, part_time);
  return candidate;
}

static GPtrArray *
list_candidates (LumaStore * store, gint64 now)
{
  GPtrArray *candidates =
      g_ptr_array_new_with_free_func ((GDestroyNotify) candidate_free);
  g_autoptr (GDir) scopes = g_dir_open (store->dir, 0, NULL);
  const gchar *scope;

  while (scopes != NULL && (scope = g_dir_read_name (scopes)) != NULL) {
    g_autofree gchar *scope_dir = g_build_filename (store->dir, scope, NULL);
    g_autoptr (GDir) entries = NULL;
    const gchar *name;

    if (!is_store_name (scope) || !is_real_dir (scope_dir))
      continue;
    entries = g_dir_open (scope_dir, 0, NULL);
    while (entries != NULL && (name = g_dir_read_name (entries)) != NULL) {
      g_autofree gchar *dir = g_build_filename (scope_dir, name, NULL);

      if (is_store_name (name) && is_real_dir (dir))
        g_ptr_array_add (candidates, read_candidate (dir, now));
    }
  }
  return candidates;
}

/* Entries KIE still holds go before the only copies; within each, the
 * least recently used first. */
static gint
compare_candidates (gconstpointer a, gconstpointer b)
{
  const LumaStoreCandidate *x = *(LumaStoreCandidate * const *) a;
  const LumaStoreCandidate *y = *(LumaStoreCandidate * const *) b;

  if (x->only_copy != y->only_copy)
    return x->only_copy ? 1 : -1;
  return x->last_used < y->last_used ? -1 : x->last_used > y->last_used;
}

/* What the entries hold, with @incoming bytes about to be written. */
static guint64
total_size (GPtrArray * candidates, guint64 incoming)
{
  guint64 total = incoming;
  guint i;

  for (i = 0; i < candidates->len; i++)
    total = add_sizes (total,
        ((LumaStoreCandidate *) candidates->pdata[i])->size);
  return total;
}

guint64
luma_store_get_usage (LumaStore * store)
{
  g_autoptr (GPtrArray) candidates = list_candidates (store, 0);

  return total_size (candidates, 0);
}

/* Removes the entry if nobody holds it (writing or reading). */
static gboolean
evict_entry (const LumaStoreCandidate * candidate)
{
  g_autofree gchar *path = entry_file (candidate->dir, LOCK_NAME);
  gboolean not_regular;
  /* opened for writing where it can be: where flock(2) is
   * emulated with byte-range locks (NFS), an exclusive lock on a file
   * open for reading only is refused (EBADF), and nothing would ever
   * be evicted */
  gint fd = luma_file_open_regular (path, O_RDWR, 0, &not_regular);

  if (fd < 0 && errno != ENOENT && errno != ELOOP)
    fd = luma_file_open_regular (path, O_RDONLY, 0, &not_regular);
  /* without its lock only where there is none that anybody could hold
   * (not where it could not be opened: a process at its limit of files) */
  if (fd < 0 && errno != ENOENT && errno != ELOOP && !not_regular)
    return FALSE;
  if (fd >= 0 && flock (fd, LOCK_EX | LOCK_NB) != 0) {
    g_close (fd, NULL);
    return FALSE;
  }
  remove_entry (candidate->dir);
  luma_file_unlock (fd);
  return TRUE;
}

GStrv
luma_store_evict (LumaStore * store, const gchar * keep_task_id,
    guint64 incoming)
{
  g_autoptr (GPtrArray) candidates = NULL;
  g_autoptr (GStrvBuilder) only_copies = g_strv_builder_new ();
  g_autofree gchar *keep_tid = keep_task_id ? short_digest (keep_task_id)
      : NULL;
  guint64 total;
  gboolean any = FALSE;
  guint i;

  if (store->read_only || store->limit == 0)
    return NULL;
  candidates = list_candidates (store, g_get_real_time () / 1000);
  g_ptr_array_sort (candidates, compare_candidates);
  total = total_size (candidates, incoming);

  for (i = 0; i < candidates->len && total > store->limit; i++) {
    LumaStoreCandidate *candidate = candidates->pdata[i];
    g_autofree gchar *tid = g_path_get_basename (candidate->dir);

    /* an only copy goes for bytes stored, never for a download that may
     * still fail (the room made before its first byte) */
    if (candidate->only_copy && incoming > 0)
      break;
    if (g_strcmp0 (tid, keep_tid) == 0 || !evict_entry (candidate))
      continue;
    /* summed again, not subtracted: a sum that stopped at the largest
     * size would stay over any limit, and evict every entry */
    candidate->size = 0;
    total = total_size (candidates, incoming);
    if (candidate->only_copy && candidate->task_id != NULL) {
      g_strv_builder_add (only_copies, candidate->task_id);
      any = TRUE;
    }
  }
  return any ? g_strv_builder_end (only_copies) : NULL;
}
