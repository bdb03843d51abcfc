/* gst-luma: luma://TASKID[?name=value&...] URIs, and task ids
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LUMA_URI_ERROR (luma_uri_error_quark ())
GQuark luma_uri_error_quark (void);

typedef enum {
  LUMA_URI_ERROR_BAD_URI,       /* not luma://TASKID, or a bad query */
  LUMA_URI_ERROR_BAD_TASK_ID,   /* empty, too long, or control characters */
} LumaUriError;

/* Longer task ids are refused: KIE's are 32 hex digits. */
#define LUMA_TASK_ID_MAX_LENGTH 256
#define LUMA_URI_MAX_PARAMS 8

/* A whole number a URI may set, and its range. */
typedef struct {
  const gchar *name;
  guint minimum;
  guint maximum;
} LumaUriParam;

/* What a URI says: the task id, and a value for some of the parameters
 * (params[i] of the table, once each). */
typedef struct {
  gchar *task_id;
  guint n_values;
  const LumaUriParam *params[LUMA_URI_MAX_PARAMS];
  guint values[LUMA_URI_MAX_PARAMS];
} LumaUri;

gboolean luma_task_id_check (const gchar * task_id, GError ** error);
gboolean luma_uri_parse (const gchar * uri, const LumaUriParam * table,
    guint n_table, LumaUri * result, GError ** error);
void luma_uri_clear (LumaUri * uri);
gchar *luma_uri_build (const gchar * task_id);

G_END_DECLS
