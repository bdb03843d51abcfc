/* gst-luma: the per-process cache of finished tasks
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Finished tasks already read in this process, so that an editor opening
 * the same luma:// URI several times (a discoverer, then a decoder per
 * track) does not wait for a poll each time. Kept per API and key, only for
 * a while (result URLs are temporary; one that has expired is forgotten at
 * once by the caller), and bounded: an entry keeps only what opening the
 * task again needs (its state, result URLs, completion time, and the tags'
 * prompt and source URL, cut to a size), expired entries go first, and past
 * the maximum the oldest goes. A process that opens thousands of tasks with
 * long prompts keeps a flat memory.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumacache.h"

#include <string.h>

typedef struct
{
  GstLumaRecord *record;        /* the slim copy */
  gint64 stored_at;
  gsize text_size;
} CacheEntry;

static GMutex cache_lock;
static GHashTable *cache;       /* "scope\ntask id" -> CacheEntry */

static void
cache_entry_free (CacheEntry * entry)
{
  gst_luma_record_free (entry->record);
  g_free (entry);
}

static gchar *
cache_key (const gchar * scope, const gchar * task_id)
{
  return g_strconcat (scope, "\n", task_id, NULL);
}

/* At most @max bytes of @text, cut at a character boundary. */
static gchar *
dup_cut (const gchar * text, gsize max)
{
  const gchar *end;

  if (text == NULL)
    return NULL;
  if (strlen (text) <= max)
    return g_strdup (text);
  end = g_utf8_find_prev_char (text, text + max + 1);
  return g_strndup (text, end ? (gsize) (end - text) : 0);
}

/* What opening the task again needs, or NULL when its result URLs are too
 * long to be worth keeping. */
static GstLumaRecord *
slim_copy (const GstLumaRecord * record, gsize * text_size)
{
  GstLumaRecord *slim = g_new0 (GstLumaRecord, 1);
  GStrvBuilder *urls = g_strv_builder_new ();
  guint i;

  slim->code = record->code;
  slim->state = record->state;
  slim->create_time = record->create_time;
  slim->complete_time = record->complete_time;
  slim->task_id = dup_cut (record->task_id, LUMA_CACHE_MAX_TEXT);
  slim->prompt = dup_cut (record->prompt, LUMA_CACHE_MAX_TEXT);
  if (record->source_url != NULL
      && strlen (record->source_url) <= LUMA_CACHE_MAX_TEXT)
    slim->source_url = g_strdup (record->source_url);
  *text_size = (slim->task_id ? strlen (slim->task_id) : 0)
      + (slim->prompt ? strlen (slim->prompt) : 0)
      + (slim->source_url ? strlen (slim->source_url) : 0);
  for (i = 0; record->result_urls && record->result_urls[i]
      && i < LUMA_CACHE_MAX_URLS; i++) {
    if (strlen (record->result_urls[i]) > LUMA_CACHE_MAX_TEXT)
      break;
    g_strv_builder_add (urls, record->result_urls[i]);
    *text_size += strlen (record->result_urls[i]);
  }
  slim->result_urls = g_strv_builder_end (urls);
  g_strv_builder_unref (urls);
  if (slim->result_urls[0] == NULL) {
    gst_luma_record_free (slim);
    return NULL;
  }
  return slim;
}

static gboolean
is_expired (gpointer key, gpointer value, gpointer now)
{
  CacheEntry *entry = value;

  return *(gint64 *) now - entry->stored_at > LUMA_CACHE_LIFETIME;
}

/* Makes room for one more entry: the expired ones, then the oldest. */
static void
make_room (gint64 now)
{
  GHashTableIter iter;
  gpointer key, value, oldest_key = NULL;
  gint64 oldest = G_MAXINT64;

  g_hash_table_foreach_remove (cache, is_expired, &now);
  if (g_hash_table_size (cache) < LUMA_CACHE_MAX_ENTRIES)
    return;
  g_hash_table_iter_init (&iter, cache);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    CacheEntry *entry = value;

    if (entry->stored_at < oldest) {
      oldest = entry->stored_at;
      oldest_key = key;
    }
  }
  g_hash_table_remove (cache, oldest_key);
}

GstLumaRecord *
luma_cache_lookup (const gchar * scope, const gchar * task_id, gint64 now)
{
  g_autofree gchar *key = cache_key (scope, task_id);
  GstLumaRecord *record = NULL;
  CacheEntry *entry;

  g_mutex_lock (&cache_lock);
  entry = cache ? g_hash_table_lookup (cache, key) : NULL;
  if (entry != NULL && now - entry->stored_at > LUMA_CACHE_LIFETIME)
    g_hash_table_remove (cache, key);
  else if (entry != NULL)
    record = gst_luma_record_copy (entry->record);
  g_mutex_unlock (&cache_lock);
  return record;
}

void
luma_cache_store (const gchar * scope, const gchar * task_id,
    const GstLumaRecord * record, gint64 now)
{
  g_autofree gchar *key = NULL;
  CacheEntry *entry;
  gsize text_size;
  GstLumaRecord *slim = slim_copy (record, &text_size);

  if (slim == NULL)
    return;
  key = cache_key (scope, task_id);
  entry = g_new0 (CacheEntry, 1);
  entry->record = slim;
  entry->stored_at = now;
  entry->text_size = text_size;
  g_mutex_lock (&cache_lock);
  if (cache == NULL)
    cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        (GDestroyNotify) cache_entry_free);
  g_hash_table_remove (cache, key);
  make_room (now);
  g_hash_table_replace (cache, g_steal_pointer (&key), entry);
  g_mutex_unlock (&cache_lock);
}

void
luma_cache_forget (const gchar * scope, const gchar * task_id)
{
  g_autofree gchar *key = cache_key (scope, task_id);

  g_mutex_lock (&cache_lock);
  if (cache != NULL)
    g_hash_table_remove (cache, key);
  g_mutex_unlock (&cache_lock);
}

guint
luma_cache_get_n_entries (void)
{
  guint n;

  g_mutex_lock (&cache_lock);
  n = cache ? g_hash_table_size (cache) : 0;
  g_mutex_unlock (&cache_lock);
  return n;
}

gsize
luma_cache_get_text_size (void)
{
  GHashTableIter iter;
  gpointer value;
  gsize size = 0;

  g_mutex_lock (&cache_lock);
  if (cache != NULL) {
    g_hash_table_iter_init (&iter, cache);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      size += ((CacheEntry *) value)->text_size;
  }
  g_mutex_unlock (&cache_lock);
  return size;
}

void
luma_cache_clear (void)
{
  g_mutex_lock (&cache_lock);
  g_clear_pointer (&cache, g_hash_table_unref);
  g_mutex_unlock (&cache_lock);
}
