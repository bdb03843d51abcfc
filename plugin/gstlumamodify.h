/* gst-luma: lumamodify, a bin that has a clip modified by KIE.AI Luma Modify
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_LUMA_MODIFY (gst_luma_modify_get_type ())
G_DECLARE_FINAL_TYPE (GstLumaModify, gst_luma_modify, GST, LUMA_MODIFY, GstBin)

GST_ELEMENT_REGISTER_DECLARE (lumamodify);

G_END_DECLS
