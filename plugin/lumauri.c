/* gst-luma: luma://TASKID[?name=value&...] URIs, and task ids
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A URI comes from whoever wrote the playlist or the editor project that
 * holds it, so it is read as hostile: it names a task, and may tune the
 * wait with a few whole numbers from a table the caller gives, nothing
 * else. Any other name, a value that is not a number in range, a name given
 * twice, credentials, a port, a path or a fragment refuse the whole URI, so
 * that nothing of a refused URI is ever applied. Pure: no GStreamer, no I/O.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumauri.h"
#include "lumatext.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#define SCHEME "luma"

/* *INDENT-OFF* */
G_DEFINE_QUARK (luma-uri-error-quark, luma_uri_error);
/* *INDENT-ON* */

/* Task ids go into URLs (escaped), messages and file names: one line of
 * text of a sane length. */
gboolean
luma_task_id_check (const gchar * task_id, GError ** error)
{
  if (task_id == NULL || task_id[0] == '\0') {
    g_set_error_literal (error, LUMA_URI_ERROR, LUMA_URI_ERROR_BAD_TASK_ID,
        _("The task id is empty"));
    return FALSE;
  }
  if (strlen (task_id) > LUMA_TASK_ID_MAX_LENGTH) {
    g_set_error (error, LUMA_URI_ERROR, LUMA_URI_ERROR_BAD_TASK_ID,
        _("The task id is %zu bytes long, more than %d"), strlen (task_id),
        LUMA_TASK_ID_MAX_LENGTH);
    return FALSE;
  }
  if (!luma_text_is_safe (task_id) || strchr (task_id, ' ') != NULL) {
    g_set_error_literal (error, LUMA_URI_ERROR, LUMA_URI_ERROR_BAD_TASK_ID,
        _("The task id holds spaces, control characters or invalid UTF-8"));
    return FALSE;
  }
  return TRUE;
}

static void
set_bad_uri (GError ** error, const gchar * format, const gchar * what)
{
  g_autofree gchar *safe = luma_text_make_safe (what, -1);

  g_set_error (error, LUMA_URI_ERROR, LUMA_URI_ERROR_BAD_URI, format, safe);
}

static const LumaUriParam *
find_param (const LumaUriParam * table, guint n_table, const gchar * name)
{
  guint i;

  for (i = 0; i < n_table; i++)
    if (strcmp (table[i].name, name) == 0)
      return &table[i];
  return NULL;
}

static gboolean
already_given (const LumaUri * result, const LumaUriParam * param)
{
  guint i;

  for (i = 0; i < result->n_values; i++)
    if (result->params[i] == param)
      return TRUE;
  return FALSE;
}

static gboolean
read_param (const gchar * name, const gchar * value,
    const LumaUriParam * table, guint n_table, LumaUri * result,
    GError ** error)
{
  const LumaUriParam *param = find_param (table, n_table, name);
  guint64 number;

  if (g_strcmp0 (name, "api-key") == 0 || g_strcmp0 (name, "api-url") == 0) {
    set_bad_uri (error, _("A luma:// URI may not carry \"%s\" (URIs end up "
            "in logs and histories): use the KIE_API_KEY and KIE_API_URL "
            "environment variables"), name);
    return FALSE;
  }
  if (param == NULL) {
    set_bad_uri (error, _("A luma:// URI cannot set \"%s\": only "
            "poll-interval, wait-timeout, retries and timeout"), name);
    return FALSE;
  }
  if (already_given (result, param) || result->n_values == LUMA_URI_MAX_PARAMS) {
    set_bad_uri (error, _("A luma:// URI gives \"%s\" twice"), name);
    return FALSE;
  }
  if (!g_ascii_string_to_unsigned (value, 10, param->minimum, param->maximum,
          &number, NULL)) {
    g_autofree gchar *safe = luma_text_make_safe (value, -1);

    g_set_error (error, LUMA_URI_ERROR, LUMA_URI_ERROR_BAD_URI,
        _("In a luma:// URI, \"%s\" must be a whole number from %u to %u, "
            "not \"%s\""), param->name, param->minimum, param->maximum, safe);
    return FALSE;
  }
  result->params[result->n_values] = param;
  result->values[result->n_values++] = (guint) number;
  return TRUE;
}

static gboolean
read_query (const gchar * query, const LumaUriParam * table, guint n_table,
    LumaUri * result, GError ** error)
{
  GUriParamsIter iter;
  gchar *name, *value;
  g_autoptr (GError) parse_error = NULL;

  if (query == NULL)
    return TRUE;
  g_uri_params_iter_init (&iter, query, -1, "&", G_URI_PARAMS_NONE);
  while (g_uri_params_iter_next (&iter, &name, &value, &parse_error)) {
    g_autofree gchar *owned_name = name;
    g_autofree gchar *owned_value = value;

    if (!read_param (owned_name, owned_value, table, n_table, result, error))
      return FALSE;
  }
  if (parse_error != NULL) {
    set_bad_uri (error, _("Invalid luma:// URI query: %s"),
        parse_error->message);
    return FALSE;
  }
  return TRUE;
}

/**
 * luma_uri_parse:
 * @table: the parameters a URI may set, with their ranges
 * @result: (out caller-allocates): filled only when the URI is taken
 *
 * Returns: whether @uri is a luma://TASKID URI whose every part is taken.
 */
gboolean
luma_uri_parse (const gchar * uri, const LumaUriParam * table, guint n_table,
    LumaUri * result, GError ** error)
{
  g_autoptr (GUri) parsed = NULL;
  g_autoptr (GError) task_error = NULL;
  LumaUri taken = { NULL, };
  const gchar *id;

  /* NON_DNS: a task id is no host name, to be lower-cased or punycoded */
  parsed = g_uri_parse (uri, G_URI_FLAGS_NON_DNS | G_URI_FLAGS_ENCODED_QUERY,
      NULL);
  /* first: the other refusals quote the URI, password and all */
  if (parsed != NULL && g_uri_get_userinfo (parsed) != NULL) {
    g_set_error_literal (error, LUMA_URI_ERROR, LUMA_URI_ERROR_BAD_URI,
        _("A luma:// URI may not carry credentials (URIs end up in logs and "
            "histories): use the KIE_API_KEY environment variable"));
    return FALSE;
  }
  if (parsed == NULL && strchr (uri, '@') != NULL) {
    g_set_error_literal (error, LUMA_URI_ERROR, LUMA_URI_ERROR_BAD_URI,
        _("Not a luma://TASKID URI (not shown: what comes before its '@' "
            "may be a password)"));
    return FALSE;
  }
  if (parsed == NULL || g_strcmp0 (g_uri_get_scheme (parsed), SCHEME) != 0
      || g_uri_get_port (parsed) != -1 || g_uri_get_fragment (parsed) != NULL
      || (g_uri_get_path (parsed)[0] != '\0'
          && strcmp (g_uri_get_path (parsed), "/") != 0)) {
    set_bad_uri (error, _("Not a luma://TASKID URI: %s"), uri);
    return FALSE;
  }
  id = g_uri_get_host (parsed);
  if (!luma_task_id_check (id, &task_error)) {
    g_set_error (error, LUMA_URI_ERROR, LUMA_URI_ERROR_BAD_URI,
        _("Not a luma://TASKID URI: %s"), task_error->message);
    return FALSE;
  }
  if (!read_query (g_uri_get_query (parsed), table, n_table, &taken, error))
    return FALSE;

  taken.task_id = g_strdup (id);
  *result = taken;
  return TRUE;
}

void
luma_uri_clear (LumaUri * uri)
{
  g_clear_pointer (&uri->task_id, g_free);
  uri->n_values = 0;
}

/* luma://TASKID, the task id escaped so that one holding '?', '&', '/' or
 * '#' reads back as the same task id and never as a query. */
gchar *
luma_uri_build (const gchar * task_id)
{
  g_autofree gchar *escaped = g_uri_escape_string (task_id, NULL, FALSE);

  return g_strconcat (SCHEME "://", escaped, NULL);
}
