/* gst-luma: the rest of a video stored in the background
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "lumaapi.h"
#include "lumastore.h"
#include "lumastream.h"

G_BEGIN_DECLS
/* A `.part` never has holes, so a source that seeks ahead of what its
 * `.part` holds stores nothing after the seek; and an editor opens every
 * trimmed clip at its in-point. A fill takes the store's writer and
 * downloads the rest of the file into the `.part`, from its end, over a
 * stream of its own and in a thread of its own, while the source streams
 * on from the network; at the end of the file it completes the entry. */
typedef struct _LumaFill LumaFill;

/* At most this many fills run at once in a process: each costs a thread,
 * a connection, descriptors and a hash queue, and an editor may stack
 * dozens of trimmed clips (80 ran a process out of descriptors). The
 * others wait for a place, first come first served, at the cost of their
 * settings only. */
#define LUMA_FILLS_AT_ONCE 4

/* Starts a fill of @writer's `.part` (taken) over a stream of its own of
 * the file @stream reads (whose size is known); or queues it
 * until one of the LUMA_FILLS_AT_ONCE places is free. @meta: what the
 * entry will say of the video (its texts are copied). With @expired (the
 * URL a fill before was refused as expired), the fill's thread first asks
 * @api for a fresh link to it: the source's streaming thread never waits
 * for KIE. @api must outlive the fill. */
LumaFill *luma_fill_start (LumaStoreWriter * writer, LumaStream * stream,
    const LumaStoreMeta * meta, LumaApi * api, const gchar * expired);
/* Why the fill got no fresh link (to log), or NULL: once it has
 * ended. */
const gchar *luma_fill_get_link_refusal (LumaFill * fill);
/* TRUE once the fill has ended on its own (luma_fill_finish () then does
 * not wait). */
gboolean luma_fill_has_ended (LumaFill * fill);
/* Where the `.part` ended when the fill started. */
guint64 luma_fill_get_start (LumaFill * fill);
/* When it ended on its own (g_get_monotonic_time ()), or 0. */
gint64 luma_fill_get_end_time (LumaFill * fill);
/* Cuts the fill if it is still running (or takes it out of the queue),
 * waits for its thread and frees it. TRUE: the entry was completed. FALSE: *@writer is the writer to go
 * on with, its `.part` as far as the fill got (NULL: the `.part` was
 * dropped, a write failed or the host has another file now), and *@error
 * why the fill stopped short (none when this call cut it). */
gboolean luma_fill_finish (LumaFill * fill, LumaStoreWriter ** writer,
    GError ** error);

G_END_DECLS
