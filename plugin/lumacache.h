/* gst-luma: the per-process cache of finished tasks
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "lumarecord.h"

G_BEGIN_DECLS

/* How long a finished task is taken as it was read, how many are kept, and
 * the most text an entry keeps of its prompt and source URL (tags). */
#define LUMA_CACHE_LIFETIME (10 * 60 * G_USEC_PER_SEC)
#define LUMA_CACHE_MAX_ENTRIES 256
#define LUMA_CACHE_MAX_TEXT 2048
#define LUMA_CACHE_MAX_URLS 4

/* @scope: the API and a digest of the key; @now: g_get_monotonic_time() */
GstLumaRecord *luma_cache_lookup (const gchar * scope, const gchar * task_id,
    gint64 now);
void luma_cache_store (const gchar * scope, const gchar * task_id,
    const GstLumaRecord * record, gint64 now);
void luma_cache_forget (const gchar * scope, const gchar * task_id);

/* For tests: what the cache holds. */
guint luma_cache_get_n_entries (void);
gsize luma_cache_get_text_size (void);
void luma_cache_clear (void);

G_END_DECLS
