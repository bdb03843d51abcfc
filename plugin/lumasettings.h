/* gst-luma: the settings lumasrc and lumamodify share
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS
/* Property ids of the shared settings: the same in both elements, whose own
 * ids start at LUMA_TASK_PROP_LAST. */
    enum
{
  LUMA_TASK_PROP_PROMPT = 1,
  LUMA_TASK_PROP_WATERMARK,
  LUMA_TASK_PROP_CALLBACK_URL,
  LUMA_TASK_PROP_FORCE_NEW,
  LUMA_TASK_PROP_API_KEY,
  LUMA_TASK_PROP_API_URL,
  LUMA_TASK_PROP_POLL_INTERVAL,
  LUMA_TASK_PROP_WAIT_TIMEOUT,
  LUMA_TASK_PROP_LAST,
};

/* What both elements need to create a task and wait for it: embedded in
 * each element's own settings, under that element's settings lock. */
typedef struct
{
  gchar *prompt;
  gchar *watermark;
  gchar *callback_url;
  gboolean force_new;
  gchar *api_key;               /* NULL: $KIE_API_KEY */
  gchar *api_url;               /* NULL: $KIE_API_URL, else the default */
  guint poll_interval;
  guint wait_timeout;
} LumaTaskSettings;

/* The blurbs that differ between the elements: what the property does
 * there. Static strings. */
typedef struct
{
  const gchar *prompt;
  const gchar *watermark;
  const gchar *callback_url;
  const gchar *force_new;
  const gchar *poll_interval;
  const gchar *wait_timeout;
} LumaTaskBlurbs;

const gchar *luma_settings_non_empty (const gchar * value);
const gchar *luma_settings_effective (const gchar * property,
    const gchar * variable, const gchar * fallback);

/* @url to be read back or shown: without credentials, which are refused
 * anyway and may be a password or the key. */
gchar *luma_settings_shown_url (const gchar * url);
void luma_settings_resolve_string (gchar ** value, const gchar * variable,
    const gchar * fallback);

/* force-new acts once: after a run has set the journal's task aside, it
 * reads FALSE again (@lock guards @settings; @object is notified), so that
 * a restart of the element (an application retrying after an error) does
 * not set aside what that run sent, and send it anew. */
void luma_task_settings_spend_force_new (LumaTaskSettings * settings,
    GMutex * lock, GObject * object);

void luma_task_settings_init (LumaTaskSettings * settings);
void luma_task_settings_clear (LumaTaskSettings * settings);
void luma_task_settings_copy (LumaTaskSettings * dest,
    const LumaTaskSettings * src);
void luma_task_settings_resolve (LumaTaskSettings * settings);

gboolean luma_task_settings_check_key (const LumaTaskSettings * settings,
    GError ** error);
gboolean luma_task_settings_check_key_sendable (const LumaTaskSettings *
    settings, GError ** error);
gboolean luma_task_settings_prompt_is_usable (const LumaTaskSettings *
    settings);
gboolean luma_task_settings_check_texts (const LumaTaskSettings * settings,
    GError ** error);

void luma_task_settings_install_properties (GObjectClass * gobject_class,
    const LumaTaskBlurbs * blurbs);
gboolean luma_task_settings_set_property (LumaTaskSettings * settings,
    guint prop_id, const GValue * value);
gboolean luma_task_settings_get_property (const LumaTaskSettings * settings,
    guint prop_id, GValue * value);

G_END_DECLS
