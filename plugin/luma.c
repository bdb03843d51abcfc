/* gst-luma: the enums of the public contract
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/luma/luma.h>

static const GEnumValue task_states[] = {
  {GST_LUMA_TASK_STATE_WAITING, "Waiting for the first answer", "waiting"},
  {GST_LUMA_TASK_STATE_GENERATING, "Generating", "generating"},
  {GST_LUMA_TASK_STATE_SUCCESS, "Success", "success"},
  {GST_LUMA_TASK_STATE_CALLBACK_FAILED,
      "Success, but the callback failed", "callback-failed"},
  {GST_LUMA_TASK_STATE_CREATE_FAILED, "Task creation failed", "create-failed"},
  {GST_LUMA_TASK_STATE_GENERATE_FAILED, "Generation failed", "generate-failed"},
  {GST_LUMA_TASK_STATE_ERROR, "Error", "error"},
  {0, NULL, NULL}
};

GType
gst_luma_task_state_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type)) {
    GType registered = g_enum_register_static ("GstLumaTaskState", task_states);

    g_once_init_leave (&type, registered);
  }
  return (GType) type;
}

const gchar *
gst_luma_task_state_get_nick (GstLumaTaskState state)
{
  guint i;

  for (i = 0; task_states[i].value_nick != NULL; i++) {
    if (task_states[i].value == (gint) state)
      return task_states[i].value_nick;
  }
  return "unknown";
}

static const GEnumValue store_modes[] = {
  {GST_LUMA_STORE_MODE_ON, "Read and write the store", "on"},
  {GST_LUMA_STORE_MODE_OFF, "No store", "off"},
  {GST_LUMA_STORE_MODE_READ_ONLY, "Read the store, never write it",
      "read-only"},
  {0, NULL, NULL}
};

GType
gst_luma_store_mode_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type)) {
    GType registered = g_enum_register_static ("GstLumaStoreMode",
        store_modes);

    g_once_init_leave (&type, registered);
  }
  return (GType) type;
}
