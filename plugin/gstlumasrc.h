/* gst-luma: lumasrc, a source that streams the video of a Luma Modify task
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_LUMA_SRC (gst_luma_src_get_type ())
G_DECLARE_FINAL_TYPE (GstLumaSrc, gst_luma_src, GST, LUMA_SRC, GstPushSrc)

GST_ELEMENT_REGISTER_DECLARE (lumasrc);

/* The GstResourceError code an error of lumasrc's rooms is posted with:
 * lumamodify, which creates tasks as lumasrc does, posts theirs so too. */
GstResourceError gst_luma_src_resource_error_code (const GError * error);

/* The top-level bin @object is in, or @object itself (a reference). */
GstObject *gst_luma_top_level (GstObject * object);

G_END_DECLS
