/* gst-luma: text from others made safe to show, and values safe to send
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gchar *luma_text_make_safe (const gchar * text, gssize length);
gboolean luma_text_is_safe (const gchar * text);
gboolean luma_text_is_header_safe (const gchar * value);
void luma_secret_wipe (gchar * secret);
void luma_secret_free (gchar * secret);
/* keys shorter than this are not starred out of what servers say */
#define LUMA_SECRET_MIN_HIDDEN 8
GBytes *luma_secret_hide (GBytes * body, const gchar * secret);
gboolean luma_secret_hide_in_text (gchar * text, const gchar * secret);
/* TRUE if @text (nullable) holds @secret starred out: the run of stars
 * luma_secret_hide () leaves where it was. */
gboolean luma_secret_was_hidden_in (const gchar * text, const gchar * secret);
/* The same in the message of *@error, if one is set. */
void luma_secret_hide_in_error (GError ** error, const gchar * secret);

G_END_DECLS
