/* gst-luma: the persistent store of finished results
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS
#define LUMA_STORE_ERROR (luma_store_error_quark ())
    GQuark luma_store_error_quark (void);

typedef enum
{
  LUMA_STORE_ERROR_IO,          /* a file or a directory: path and cause */
  LUMA_STORE_ERROR_DAMAGED,     /* a stored video that is not what was stored */
  LUMA_STORE_ERROR_TOO_LARGE,   /* a video larger than the store's limit */
  /* another writer holds the entry and has made no progress for a while */
  LUMA_STORE_ERROR_BUSY,
  /* the writer a follower read went away before it completed the entry */
  LUMA_STORE_ERROR_ABANDONED,
} LumaStoreError;

/* How long KIE keeps a result after the task completed. */
#define LUMA_STORE_KIE_RETENTION_MS (14 * 24 * G_GINT64_CONSTANT (3600000))

/* Bytes handed to the hasher thread and not hashed yet, at the most: past
 * this the entry is committed without a digest rather than slowing the
 * stream (its next open hashes the file). */
#define LUMA_STORE_HASH_QUEUE_LIMIT (8 * 1024 * 1024)

/* The first bytes of a video are hashed in the streaming thread; a hasher
 * thread starts only past this, where it pays: a timeline of many short
 * clips streamed at once would otherwise cost a thread a clip. */
#define LUMA_STORE_INLINE_BYTES (4 * 1024 * 1024)

/* How long a writer waits for another one that holds the entry and writes
 * nothing (stopped in a paused pipeline, or stalled), before it gives up
 * on the store for this run: two sources of one task in one pipeline
 * would otherwise wait for each other for ever (the first for the preroll
 * that the second holds back). */
#define LUMA_STORE_DEFAULT_WAIT_STALL_MS 5000

/* What a store is: where, for which API and key, how large at the most. */
typedef struct
{
  const gchar *dir;
  const gchar *api_url;         /* as the API client writes it */
  /* hex SHA-256 of the API key; NULL: no key, so any scope answers */
  const gchar *key_digest;
  guint64 limit;                /* bytes; 0: no limit */
  gboolean read_only;           /* never creates, writes or removes a file */
  guint wait_stall_ms;          /* 0: LUMA_STORE_DEFAULT_WAIT_STALL_MS */
  /* compared, never used: writers of one group (an element's pipeline)
   * never wait for each other, see luma_store_begin(); NULL: none */
  gconstpointer group;
} LumaStoreConfig;

/* What meta.json says of a stored video. Times in Unix milliseconds. */
typedef struct
{
  gchar *task_id;
  gchar *api_url;
  gchar *prompt;
  gchar *result_url;
  guint64 size;
  gchar *version;               /* which of the host's files, as its writer
                                 * told it (luma_stream_get_version ()), or NULL */
  gchar *sha256;                /* NULL: not computed yet */
  gboolean verified;            /* the file was hashed since it was written */
  /* the video is on disk: FALSE from the commit (which does not wait for
   * the disk) until an open in the same boot synced it */
  gboolean synced;
  gchar *boot_id;               /* the boot the video was written in */
  gint64 created;
  /* for the tags a poll would give: the clip the task modified (safe text,
   * or NULL) and when KIE completed it (ms; 0 or less: unknown) */
  gchar *source_url;
  gint64 completed;
  gint64 kie_until;             /* when KIE deletes its copy */
  gint64 stored_at;
} LumaStoreMeta;

typedef struct _LumaStore LumaStore;
typedef struct _LumaStoreReader LumaStoreReader;
typedef struct _LumaStoreWriter LumaStoreWriter;
typedef struct _LumaStoreFollower LumaStoreFollower;

/* A size nobody has told yet. */
#define LUMA_STORE_SIZE_UNKNOWN G_MAXUINT64

/* $XDG_DATA_HOME/gst-luma/results */
gchar *luma_store_default_dir (void);
/* The hex SHA-256 of @api_key: all the store ever knows of the key. */
gchar *luma_store_key_digest (const gchar * api_key);

LumaStore *luma_store_new (const LumaStoreConfig * config);
void luma_store_free (LumaStore * store);

void luma_store_meta_clear (LumaStoreMeta * meta);
/* Reads a meta.json (pure: the fuzzer feeds it anything). FALSE when it is
 * not an entry's (no task id, API URL or size). The prompt is safe text
 * (lumatext.c), the result URL safe text or NULL. */
gboolean luma_store_meta_parse (const gchar * text, gsize length,
    LumaStoreMeta * meta);

/* The complete, whole video of @task_id, or NULL. NULL with @error set: an
 * entry was there but could not be used (damaged: dropped unless
 * read-only; or unreadable), to be fetched again. Checks the size, and the
 * SHA-256 of an entry never verified since it was written. */
LumaStoreReader *luma_store_open (LumaStore * store, const gchar * task_id,
    GCancellable * cancellable, GError ** error);
/* Reads at @offset; 0 at the end. */
gssize luma_store_reader_read (LumaStoreReader * reader, guint8 * data,
    gsize size, guint64 offset, GError ** error);
const LumaStoreMeta *luma_store_reader_get_meta (LumaStoreReader * reader);
void luma_store_reader_free (LumaStoreReader * reader);

/* Takes the task's entry for writing: TRUE and *@writer, with the entry's
 * lock held and the prefix an earlier run left in its `.part`; or TRUE and
 * *@reader, when another process or element held the lock and completed
 * the entry meanwhile; or, when another process or pipeline holds the
 * lock and writes its `.part`, TRUE and *@follower, which reads the
 * `.part` as it grows (one download for both). The wait for a holder that
 * has no `.part` yet is cancellable. LUMA_STORE_ERROR_BUSY when the one
 * holding it wrote nothing for the config's wait_stall_ms, and at once
 * when it is a writer of the same group: two sources of a task in one
 * pipeline would wait for each other (the first for the preroll the
 * second holds back) until then. Not in read-only mode. */
gboolean luma_store_begin (LumaStore * store, const gchar * task_id,
    GCancellable * cancellable, LumaStoreWriter ** writer,
    LumaStoreReader ** reader, LumaStoreFollower ** follower, GError ** error);
/* How many bytes from the start of the video the `.part` holds. */
guint64 luma_store_writer_get_prefix (LumaStoreWriter * writer);
/* The size of the whole video the `.part` found at the start is a
 * beginning of, as its writer told it; LUMA_STORE_SIZE_UNKNOWN when it was
 * not told, or told in another boot (a crash of the system may have left
 * wrong bytes in it). A resume takes the rest only from a file of that
 * size. */
guint64 luma_store_writer_get_part_size (LumaStoreWriter * writer);
/* The version tag of that file (opaque here: luma_stream_get_version ()),
 * as its writer told it; NULL when none was told. */
const gchar *luma_store_writer_get_part_version (LumaStoreWriter * writer);
/* Drops what the `.part` holds, to write the video from its start: before
 * the first append only. */
gboolean luma_store_writer_restart (LumaStoreWriter * writer, GError ** error);
/* Reads from the `.part`, within its prefix. */
gssize luma_store_writer_read (LumaStoreWriter * writer, guint8 * data,
    gsize size, guint64 offset, GError ** error);
/* The size of the whole video, once it is known: what followers of the
 * entry are told it will be (they check it at the end). */
void luma_store_writer_set_size (LumaStoreWriter * writer, guint64 size);
/* The version tag of the host's file (nullable: a resumed `.part`'s is
 * kept), told with the size: before luma_store_writer_set_size (), and
 * stored in meta.json. One line of at most 1280 bytes; another is not
 * told. */
void luma_store_writer_set_version (LumaStoreWriter * writer,
    const gchar * version);
/* Bytes read from the network at @offset: appended if they continue the
 * prefix, else left out (the `.part` never has holes). They are written
 * at once; the hasher thread may keep a reference to @bytes a while.
 * FALSE: a write failed (a full disk...), or another program changed the
 * `.part`'s length; the `.part` is gone, the writer is spent (and still
 * the caller's to free). */
gboolean luma_store_writer_append (LumaStoreWriter * writer, guint64 offset,
    GBytes * bytes, GError ** error);
/* The prefix is the whole video of @meta->size bytes: once it is all
 * written, renames it to `video` and writes meta.json (whose task id, API
 * URL, size, digest, stored-at and boot id are the writer's own). It does
 * not wait for the disk to take the video: the first open syncs it (see
 * LumaStoreMeta.synced). Frees @writer, releasing the lock. */
gboolean luma_store_writer_commit (LumaStoreWriter * writer,
    const LumaStoreMeta * meta, GError ** error);
/* Stops writing: the `.part` stays for a later run to resume, unless
 * @discard. Releases the lock. */
void luma_store_writer_free (LumaStoreWriter * writer, gboolean discard);
/* The same with @discard: a GDestroyNotify. */
void luma_store_writer_free_discarded (LumaStoreWriter * writer);

/* What another's writer has written so far, read as it grows. Only bytes
 * a writer appended after the follower began are trusted, and the ones
 * before them: a holder that resumes a `.part` appends only once it has
 * found the `.part` fits the file on the host, and drops one that does
 * not before its first append, so a `.part` that never grows may be one
 * about to be dropped. */
/* For a store that never writes (read-only): a follower of the task's
 * entry when another process or pipeline is writing it right now, else
 * NULL. Creates nothing, and never takes the entry over. */
LumaStoreFollower *luma_store_follow (LumaStore * store, const gchar * task_id);
/* The video's size as its writer told it, or LUMA_STORE_SIZE_UNKNOWN. */
guint64 luma_store_follower_get_size (LumaStoreFollower * follower);
/* The version tag of the video as its writer told it with the size, or
 * NULL. */
const gchar *luma_store_follower_get_version (LumaStoreFollower * follower);
/* How far the writer has got: a read below this waits at most for the
 * writer to prove itself, not for it to get there. */
guint64 luma_store_follower_get_written (LumaStoreFollower * follower);
/* Looks at the entry again, without waiting: how far the writer has
 * got, and whether it let go (a follower reading ahead of the writer
 * learns that it stopped). FALSE with the errors of
 * luma_store_follower_read (): LUMA_STORE_ERROR_ABANDONED when the writer
 * went away without completing the entry. */
gboolean luma_store_follower_refresh (LumaStoreFollower * follower,
    GError ** error);
/* Reads at @offset, waiting (cancellably) until the writer has written
 * there; 0 at the end of the completed entry. LUMA_STORE_ERROR_BUSY when
 * the writer wrote nothing for the store's wait_stall_ms,
 * LUMA_STORE_ERROR_ABANDONED when it went away without completing the
 * entry (another begin may take it over), LUMA_STORE_ERROR_DAMAGED when
 * the entry is not as large as its writer said. */
gssize luma_store_follower_read (LumaStoreFollower * follower, guint8 * data,
    gsize size, guint64 offset, GCancellable * cancellable, GError ** error);
void luma_store_follower_free (LumaStoreFollower * follower);

/* Brings the store within its limit, with room for @incoming bytes more
 * (a video about to be written): entries nobody holds go, those KIE still
 * has (now < kie-until) first, then the only copies, least recently used
 * first within each; @keep_task_id's entry stays. Only copies never go to
 * make room for @incoming (its download may yet fail): only for what is
 * stored (@incoming 0, after a commit). Returns the task ids of only
 * copies removed (NULL if none). */
GStrv luma_store_evict (LumaStore * store, const gchar * keep_task_id,
    guint64 incoming);
/* The bytes the store holds: videos and `.part` files. */
guint64 luma_store_get_usage (LumaStore * store);

G_END_DECLS
