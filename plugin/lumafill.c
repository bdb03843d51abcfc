/* gst-luma: the rest of a video stored in the background
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "lumafill.h"

/* Bytes a read asks for, each piece an allocation of its own (the hasher
 * keeps them): larger ones, past malloc's mmap threshold, were slower
 * (BENCHMARKS.md). */
#define FILL_PIECE (64 * 1024)

/* The places of the process (LUMA_FILLS_AT_ONCE): the fills whose thread
 * runs, and those that wait for one of them to end, first come first
 * served. */
static GMutex places_lock;
static guint fills_running;
static GQueue fills_waiting = G_QUEUE_INIT;

struct _LumaFill
{
  LumaStoreWriter *writer;      /* the thread's until it has ended */
  LumaStream *stream;           /* the thread's: freed as it ends */
  LumaStoreMeta meta;
  GCancellable *cancellable;
  GThread *thread;              /* under places_lock; NULL while it waits */
  gint ended;                   /* atomic */
  gint64 end_time;              /* written before ended is set */
  guint64 start;                /* where the `.part` ended at the start */
  LumaApi *api;                 /* for a fresh link to expired, if set */
  gchar *expired;
  gchar *link_refusal;          /* why there was none */
  gboolean told;                /* the file's size and version */
  gboolean stored;
  GError *error;
};

/* Followers learn the file's size and version before the bytes that let
 * them trust it, as from the source's own writing. */
static void
tell_the_file (LumaFill * fill)
{
  g_autofree gchar *version = luma_stream_get_version (fill->stream);

  luma_store_writer_set_version (fill->writer, version);
  luma_store_writer_set_size (fill->writer,
      luma_stream_get_size (fill->stream));
}

/* One piece of the file onto the `.part`: how many bytes, 0 at the end of
 * the file, -1 on error. */
static gssize
fill_piece (LumaFill * fill, GError ** error)
{
  guint64 offset = luma_stream_get_offset (fill->stream);
  guint8 *data = g_malloc (FILL_PIECE);
  g_autoptr (GBytes) bytes = NULL;
  gssize n;

  n = luma_stream_read (fill->stream, data, FILL_PIECE, fill->cancellable,
      error);
  if (n <= 0) {
    g_free (data);
    return n;
  }
  /* the hasher keeps the piece as long as it needs it: no copy */
  bytes = g_bytes_new_take (g_realloc (data, n), n);
  if (!fill->told)
    tell_the_file (fill);
  fill->told = TRUE;
  if (!luma_store_writer_append (fill->writer, offset, bytes, error))
    return -1;
  return n;
}

/* The writer after a failure: a `.part` that a write failed on is gone,
 * and one of a file the host no longer has cannot be completed. */
static void
drop_part_if_lost (LumaFill * fill)
{
  if (g_error_matches (fill->error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_IO)
      || g_error_matches (fill->error, LUMA_STREAM_ERROR,
          LUMA_STREAM_ERROR_CHANGED))
    g_clear_pointer (&fill->writer, luma_store_writer_free_discarded);
}

/* A fresh link to the URL that expired, asked for in the fill's thread
 * (KIE may be slow to answer): FALSE when the fill was cut meanwhile.
 * Without one, the fill tries the URL it has. */
static gboolean
renew_url (LumaFill * fill)
{
  g_autoptr (GError) refused = NULL;
  g_autofree gchar *link = luma_api_fresh_link (fill->api, fill->expired,
      fill->cancellable, &refused);

  if (link == NULL && g_cancellable_is_cancelled (fill->cancellable))
    return FALSE;
  if (link == NULL || !luma_stream_replace_url (fill->stream, link, &refused))
    fill->link_refusal = g_strdup (refused->message);
  return TRUE;
}

/* The rest of the file onto the `.part`: 0 at its end, -1 on error. */
static gssize
fill_rest (LumaFill * fill)
{
  gssize n = 0;

  /* the size is known: the last byte is the end, as for the source (a
   * request past it, for a 416, could fail the fill with every byte in
   * the `.part`) */
  while (luma_stream_get_offset (fill->stream)
      < luma_stream_get_size (fill->stream)
      && (n = fill_piece (fill, &fill->error)) > 0);
  return MIN (n, 0);
}

/* The URL expired under a fill that had not renewed it: one that waited
 * in line past the URL's life (a fresh link lasts 20 minutes), or met the
 * expiry before its source did. Its source, once it has read to its end
 * (an editor's clip that played), never tries the fill again: the fill
 * asks for a fresh link itself, once. */
static gboolean
may_renew_url (LumaFill * fill)
{
  if (fill->api == NULL || fill->expired != NULL
      || !g_error_matches (fill->error, LUMA_STREAM_ERROR,
          LUMA_STREAM_ERROR_EXPIRED))
    return FALSE;
  g_clear_error (&fill->error);
  fill->expired = g_strdup (fill->meta.result_url);
  return TRUE;
}

static void give_up_place (void);

static gpointer
run_fill (gpointer data)
{
  LumaFill *fill = data;
  gssize n;

  /* cut before it began: the writer goes back as it was */
  if (fill->expired != NULL && !renew_url (fill))
    n = -1;
  else
    n = fill_rest (fill);
  if (n < 0 && may_renew_url (fill))
    n = renew_url (fill) ? fill_rest (fill) : -1;
  if (n >= 0) {
    fill->meta.size = luma_stream_get_size (fill->stream);
    fill->stored = luma_store_writer_commit (g_steal_pointer (&fill->writer),
        &fill->meta, &fill->error);
  } else {
    drop_part_if_lost (fill);
  }
  /* its connection goes with its place, which the next fill takes
   * before this one's source collects it */
  g_clear_pointer (&fill->stream, luma_stream_free);
  fill->end_time = g_get_monotonic_time ();
  g_atomic_int_set (&fill->ended, TRUE);
  give_up_place ();
  return NULL;
}

/* Called with places_lock held: a thread started under the lock is never
 * seen half set by luma_fill_finish (). */
static void
start_thread (LumaFill * fill)
{
  fill->thread = g_thread_new ("luma-fill", run_fill, fill);
}

/* A fill's thread ends: the first fill waiting runs in its place. */
static void
give_up_place (void)
{
  LumaFill *next;

  g_mutex_lock (&places_lock);
  next = g_queue_pop_head (&fills_waiting);
  if (next != NULL)
    start_thread (next);
  else
    fills_running--;
  g_mutex_unlock (&places_lock);
}

LumaFill *
luma_fill_start (LumaStoreWriter * writer, LumaStream * stream,
    const LumaStoreMeta * meta, LumaApi * api, const gchar * expired)
{
  LumaFill *fill;

  g_return_val_if_fail (luma_stream_get_size (stream)
      != LUMA_STREAM_SIZE_UNKNOWN, NULL);

  fill = g_new0 (LumaFill, 1);
  fill->writer = writer;
  fill->start = luma_store_writer_get_prefix (fill->writer);
  fill->stream = luma_stream_new_sibling (stream, fill->start);
  fill->meta.prompt = g_strdup (meta->prompt);
  fill->meta.result_url = g_strdup (meta->result_url);
  fill->meta.source_url = g_strdup (meta->source_url);
  fill->meta.created = meta->created;
  fill->meta.completed = meta->completed;
  fill->meta.kie_until = meta->kie_until;
  fill->cancellable = g_cancellable_new ();
  fill->api = api;
  fill->expired = g_strdup (expired);
  g_mutex_lock (&places_lock);
  if (fills_running < LUMA_FILLS_AT_ONCE) {
    fills_running++;
    start_thread (fill);
  } else {
    g_queue_push_tail (&fills_waiting, fill);
  }
  g_mutex_unlock (&places_lock);
  return fill;
}

gboolean
luma_fill_has_ended (LumaFill * fill)
{
  return g_atomic_int_get (&fill->ended);
}

guint64
luma_fill_get_start (LumaFill * fill)
{
  return fill->start;
}

const gchar *
luma_fill_get_link_refusal (LumaFill * fill)
{
  return luma_fill_has_ended (fill) ? fill->link_refusal : NULL;
}

gint64
luma_fill_get_end_time (LumaFill * fill)
{
  return luma_fill_has_ended (fill) ? fill->end_time : 0;
}

gboolean
luma_fill_finish (LumaFill * fill, LumaStoreWriter ** writer, GError ** error)
{
  gboolean stored;
  GThread *thread;

  g_cancellable_cancel (fill->cancellable);
  g_mutex_lock (&places_lock);
  thread = fill->thread;
  /* still waiting for a place: it never began, and the writer goes back
   * as it was */
  if (thread == NULL)
    g_queue_remove (&fills_waiting, fill);
  g_mutex_unlock (&places_lock);
  if (thread != NULL)
    g_thread_join (thread);
  g_clear_pointer (&fill->stream, luma_stream_free);
  stored = fill->stored;
  *writer = g_steal_pointer (&fill->writer);
  if (!g_error_matches (fill->error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      && fill->error != NULL)
    g_propagate_error (error, g_steal_pointer (&fill->error));
  g_clear_error (&fill->error);
  luma_store_meta_clear (&fill->meta);
  g_object_unref (fill->cancellable);
  g_free (fill->expired);
  g_free (fill->link_refusal);
  g_free (fill);
  return stored;
}
