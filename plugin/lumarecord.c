/* gst-luma: reading a record-info answer of the KIE.AI Luma Modify API
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pure parsing, no I/O: bytes in, a GstLumaRecord or a GError out. Tolerant
 * where the API's documentation is vague (errorCode and timestamps come in
 * several types, fields are added over time), strict where lumasrc needs a
 * value to act on (code, successFlag, the result URLs).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumarecord.h"
#include "lumafile.h"
#include "lumatext.h"
#include <json-glib/json-glib.h>
#include <glib/gi18n-lib.h>
#include <inttypes.h>
#include <string.h>

/* *INDENT-OFF* */
G_DEFINE_QUARK (gst-luma-record-error-quark, gst_luma_record_error);
/* *INDENT-ON* */

static gboolean
node_is_integer (JsonNode * node)
{
  return JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_INT64;
}

/* A member that is absent and one that is null mean the same to the API. */
static JsonNode *
get_member (JsonObject * object, const gchar * name)
{
  JsonNode *node = json_object_get_member (object, name);

  return (node == NULL || JSON_NODE_HOLDS_NULL (node)) ? NULL : node;
}

/* Every text a record gives may reach a message, an error or a tag: it is
 * made safe here, once (lumatext.c). */
static gchar *
dup_string_member (JsonObject * object, const gchar * name)
{
  JsonNode *node = get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return NULL;
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    return luma_text_make_safe (json_node_get_string (node), -1);
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
  return NULL;
}

static gint64
read_timestamp_member (JsonObject * object, const gchar * name)
{
  JsonNode *node = get_member (object, name);
  const gchar *text;
  gchar *end = NULL;
  gint64 number;
  g_autoptr (GDateTime) date = NULL;
  g_autoptr (GTimeZone) utc = NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return -1;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return json_node_get_int (node);
  if (json_node_get_value_type (node) == G_TYPE_DOUBLE) {
    gdouble value = json_node_get_double (node);

    /* casting a double outside gint64's range is undefined behaviour */
    return value > -9.2e18 && value < 9.2e18 ? (gint64) value : -1;
  }
  if (json_node_get_value_type (node) != G_TYPE_STRING)
    return -1;

  text = json_node_get_string (node);
  number = g_ascii_strtoll (text, &end, 10);
  if (end != text && *end == '\0')
    return number;

  utc = g_time_zone_new_utc ();
  date = g_date_time_new_from_iso8601 (text, utc);
  if (date == NULL) {
    g_autofree gchar *iso = g_strdelimit (g_strdup (text), " ", 'T');
    date = g_date_time_new_from_iso8601 (iso, utc);
  }
  return date ? g_date_time_to_unix (date) * 1000 : -1;
}

/* The last millisecond of year 9999: later times are no times, and sums
 * with them (a result's deletion date) would overflow. */
#define LATEST_TIMESTAMP G_GINT64_CONSTANT (253402300799999)

/* Milliseconds since the epoch from a number, a numeric string or a date
 * string (sibling KIE APIs send "2025-08-13 10:00:00"), between the epoch
 * and year 9999; -1 otherwise. */
static gint64
read_timestamp (JsonObject * object, const gchar * name)
{
  gint64 milliseconds = read_timestamp_member (object, name);

  return milliseconds >= 0 && milliseconds <= LATEST_TIMESTAMP ?
      milliseconds : -1;
}

static gchar **
read_string_array (JsonObject * object, const gchar * name, GError ** error)
{
  JsonNode *node = get_member (object, name);
  JsonArray *array;
  g_autoptr (GStrvBuilder) builder = NULL;
  guint i;

  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (node)) {
    g_set_error (error, GST_LUMA_RECORD_ERROR, GST_LUMA_RECORD_ERROR_WRONG_TYPE,
        _("\"%s\" is not an array"), name);
    return NULL;
  }

  array = json_node_get_array (node);
  builder = g_strv_builder_new ();
  for (i = 0; i < json_array_get_length (array); i++) {
    JsonNode *item = json_array_get_element (array, i);

    if (!JSON_NODE_HOLDS_VALUE (item)
        || json_node_get_value_type (item) != G_TYPE_STRING) {
      g_set_error (error, GST_LUMA_RECORD_ERROR,
          GST_LUMA_RECORD_ERROR_WRONG_TYPE,
          _("\"%s\" holds something that is not a string"), name);
      return NULL;
    }
    /* a URL is used as it is or not at all: one with control characters
     * or invalid UTF-8 is no URL, and mending it would fetch another */
    if (luma_text_is_safe (json_node_get_string (item)))
      g_strv_builder_add (builder, json_node_get_string (item));
  }
  return g_strv_builder_end (builder);
}

/* paramJson is a string that holds JSON: what it says is only informative
 * (prompt, source video), so a paramJson that cannot be read is ignored. */
static void
read_params (GstLumaRecord * record, JsonObject * data)
{
  g_autofree gchar *text = dup_string_member (data, "paramJson");
  g_autofree gchar *why = NULL;
  g_autoptr (JsonParser) parser = NULL;
  JsonNode *root;

  if (text == NULL)
    return;
  why = luma_json_why_refused (text, strlen (text));
  if (why != NULL)
    return;
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, -1, NULL))
    return;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  record->prompt = dup_string_member (json_node_get_object (root), "prompt");
  record->source_url =
      dup_string_member (json_node_get_object (root), "videoUrl");
}

static gboolean
read_state (GstLumaRecord * record, JsonObject * data, GError ** error)
{
  static const GstLumaTaskState by_flag[] = {
    GST_LUMA_TASK_STATE_GENERATING,
    GST_LUMA_TASK_STATE_SUCCESS,
    GST_LUMA_TASK_STATE_CREATE_FAILED,
    GST_LUMA_TASK_STATE_GENERATE_FAILED,
    GST_LUMA_TASK_STATE_CALLBACK_FAILED,
  };
  JsonNode *node = get_member (data, "successFlag");
  gint64 flag;

  if (node == NULL) {
    g_set_error_literal (error, GST_LUMA_RECORD_ERROR,
        GST_LUMA_RECORD_ERROR_MISSING, _("the record has no successFlag"));
    return FALSE;
  }
  if (!node_is_integer (node)) {
    g_set_error_literal (error, GST_LUMA_RECORD_ERROR,
        GST_LUMA_RECORD_ERROR_WRONG_TYPE, _("successFlag is not an integer"));
    return FALSE;
  }
  flag = json_node_get_int (node);
  if (flag < 0 || flag >= (gint64) G_N_ELEMENTS (by_flag)) {
    g_set_error (error, GST_LUMA_RECORD_ERROR,
        GST_LUMA_RECORD_ERROR_OUT_OF_RANGE,
        _("successFlag %" PRId64 " is not one of 0 to 4"), flag);
    return FALSE;
  }
  record->state = by_flag[flag];
  return TRUE;
}

static gboolean
read_response (GstLumaRecord * record, JsonObject * data, GError ** error)
{
  JsonNode *node = get_member (data, "response");
  gboolean finished = record->state == GST_LUMA_TASK_STATE_SUCCESS
      || record->state == GST_LUMA_TASK_STATE_CALLBACK_FAILED;
  JsonObject *response = NULL;
  GError *local_error = NULL;

  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    response = json_node_get_object (node);
  else if (node != NULL && finished) {
    g_set_error_literal (error, GST_LUMA_RECORD_ERROR,
        GST_LUMA_RECORD_ERROR_WRONG_TYPE, _("\"response\" is not an object"));
    return FALSE;
  }

  if (response != NULL) {
    record->result_urls = read_string_array (response, "resultUrls",
        &local_error);
    /* only informative (never acted on): one that cannot be read is
     * none, never an error */
    if (local_error == NULL)
      record->origin_urls = read_string_array (response, "originUrls", NULL);
  }
  if (local_error != NULL && finished) {
    g_propagate_error (error, local_error);
    return FALSE;
  }
  g_clear_error (&local_error);

  if (finished && (record->result_urls == NULL || !record->result_urls[0]
          || !record->result_urls[0][0])) {
    g_set_error_literal (error, GST_LUMA_RECORD_ERROR,
        GST_LUMA_RECORD_ERROR_MISSING,
        _("the task is finished but its record has no result URL"));
    return FALSE;
  }
  return TRUE;
}

/* The task the record is of: data.taskId, and the response's own taskId,
 * which names it where data has none. A response of another task than the
 * one data names is a mix-up whose video belongs to neither for sure. */
static gboolean
read_task_id (GstLumaRecord * record, JsonObject * data, GError ** error)
{
  JsonNode *node = get_member (data, "response");
  g_autofree gchar *response_id = NULL;

  record->task_id = dup_string_member (data, "taskId");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    response_id = dup_string_member (json_node_get_object (node), "taskId");
  if (record->task_id == NULL) {
    record->task_id = g_steal_pointer (&response_id);
  } else if (response_id != NULL && strcmp (record->task_id, response_id) != 0) {
    g_set_error (error, GST_LUMA_RECORD_ERROR,
        GST_LUMA_RECORD_ERROR_WRONG_TYPE,
        _("the record is of task %s but its response is of task %s"),
        record->task_id, response_id);
    return FALSE;
  }
  return TRUE;
}

static gboolean
read_data (GstLumaRecord * record, JsonObject * root, GError ** error)
{
  JsonNode *node = get_member (root, "data");
  JsonObject *data;

  if (node == NULL) {
    g_set_error_literal (error, GST_LUMA_RECORD_ERROR,
        GST_LUMA_RECORD_ERROR_MISSING, _("the answer has no \"data\""));
    return FALSE;
  }
  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    g_set_error_literal (error, GST_LUMA_RECORD_ERROR,
        GST_LUMA_RECORD_ERROR_NOT_OBJECT, _("\"data\" is not an object"));
    return FALSE;
  }
  data = json_node_get_object (node);

  if (!read_state (record, data, error) || !read_response (record, data, error)
      || !read_task_id (record, data, error))
    return FALSE;
  record->error_code = dup_string_member (data, "errorCode");
  record->error_message = dup_string_member (data, "errorMessage");
  record->create_time = read_timestamp (data, "createTime");
  record->complete_time = read_timestamp (data, "completeTime");
  /* a second JSON document to parse, only informative: not read while the
   * task generates, when it is polled again and again and nothing uses it */
  if (record->state != GST_LUMA_TASK_STATE_GENERATING)
    read_params (record, data);
  return TRUE;
}

static JsonObject *
parse_root_object (JsonParser * parser, GBytes * body, GError ** error)
{
  gsize size;
  const gchar *text = g_bytes_get_data (body, &size);
  g_autoptr (GError) json_error = NULL;
  g_autofree gchar *why = NULL;
  JsonNode *root;

  if (size > GST_LUMA_RECORD_MAX_SIZE) {
    g_set_error (error, GST_LUMA_RECORD_ERROR, GST_LUMA_RECORD_ERROR_TOO_LARGE,
        _("the answer is %zu bytes long, more than the %d "
            "bytes a record may have"), size, GST_LUMA_RECORD_MAX_SIZE);
    return NULL;
  }
  why = luma_json_why_refused (text, size);
  if (why != NULL) {
    g_set_error_literal (error, GST_LUMA_RECORD_ERROR,
        GST_LUMA_RECORD_ERROR_SYNTAX, why);
    return NULL;
  }
  if (size == 0 || !json_parser_load_from_data (parser, text, size,
          &json_error)) {
    /* json-glib quotes the character it stumbled on */
    g_autofree gchar *stumbled = json_error ?
        luma_text_make_safe (json_error->message, -1) : NULL;

    g_set_error (error, GST_LUMA_RECORD_ERROR, GST_LUMA_RECORD_ERROR_SYNTAX,
        _("the answer is not valid JSON: %s"),
        stumbled ? stumbled : _("empty body"));
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error_literal (error, GST_LUMA_RECORD_ERROR,
        GST_LUMA_RECORD_ERROR_NOT_OBJECT, _("the answer is not a JSON object"));
    return NULL;
  }
  return json_node_get_object (root);
}

/**
 * gst_luma_record_parse:
 * @body: a record-info answer's body
 * @error: where to put the reason the body cannot be used
 *
 * Reads the body of a record-info answer. An answer whose `code` is not 200
 * is not an error here: the record then holds only @code and @msg, and its
 * state is %GST_LUMA_TASK_STATE_ERROR; what the code means is the caller's
 * business.
 *
 * Returns: (transfer full) (nullable): the record, or %NULL with @error set
 */
GstLumaRecord *
gst_luma_record_parse (GBytes * body, GError ** error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GstLumaRecord) record = NULL;
  JsonObject *root;
  JsonNode *code;

  g_return_val_if_fail (body != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = parse_root_object (parser, body, error);
  if (root == NULL)
    return NULL;

  code = get_member (root, "code");
  if (code == NULL) {
    g_set_error_literal (error, GST_LUMA_RECORD_ERROR,
        GST_LUMA_RECORD_ERROR_MISSING, _("the answer has no \"code\""));
    return NULL;
  }
  if (!node_is_integer (code)) {
    g_set_error_literal (error, GST_LUMA_RECORD_ERROR,
        GST_LUMA_RECORD_ERROR_WRONG_TYPE, _("\"code\" is not an integer"));
    return NULL;
  }

  record = g_new0 (GstLumaRecord, 1);
  record->code = (gint) CLAMP (json_node_get_int (code), G_MININT, G_MAXINT);
  record->msg = dup_string_member (root, "msg");
  record->state = GST_LUMA_TASK_STATE_ERROR;
  record->create_time = record->complete_time = -1;

  if (record->code == 200 && !read_data (record, root, error))
    return NULL;
  return g_steal_pointer (&record);
}

/**
 * gst_luma_record_copy:
 * @record: a #GstLumaRecord
 *
 * Returns: (transfer full): a deep copy of @record
 */
GstLumaRecord *
gst_luma_record_copy (const GstLumaRecord * record)
{
  GstLumaRecord *copy = g_memdup2 (record, sizeof (GstLumaRecord));

  copy->msg = g_strdup (record->msg);
  copy->task_id = g_strdup (record->task_id);
  copy->result_urls = g_strdupv (record->result_urls);
  copy->origin_urls = g_strdupv (record->origin_urls);
  copy->error_code = g_strdup (record->error_code);
  copy->error_message = g_strdup (record->error_message);
  copy->prompt = g_strdup (record->prompt);
  copy->source_url = g_strdup (record->source_url);
  return copy;
}

void
gst_luma_record_free (GstLumaRecord * record)
{
  if (record == NULL)
    return;
  g_free (record->msg);
  g_free (record->task_id);
  g_strfreev (record->result_urls);
  g_strfreev (record->origin_urls);
  g_free (record->error_code);
  g_free (record->error_message);
  g_free (record->prompt);
  g_free (record->source_url);
  g_free (record);
}

/* "code" as an integer within an int's range: past it (4294967496), a
 * cast would wrap it to another code (200). */
static gboolean
read_int_code (JsonObject * object, gint * code)
{
  gint64 value;

  if (!luma_json_get_int (object, "code", &value) || value < G_MININT
      || value > G_MAXINT)
    return FALSE;
  *code = (gint) value;
  return TRUE;
}

/* generate's answer (lumacreate.c posts the request): its code (the HTTP
 * status when that is an error), message and task id; FALSE when a 200
 * answer cannot be read. A member of another type than KIE's (a code that
 * is not an integer of an int's range, a taskId that is not a string) is
 * as good as absent. */
gboolean
luma_record_parse_create_answer (GBytes * body, guint status, gint * code,
    gchar ** msg, gchar ** task_id)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *object, *data;

  *code = (status >= 200 && status < 300) ? 0 : (gint) status;
  *msg = *task_id = NULL;
  if (!luma_json_load (parser, g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), NULL)
      || !JSON_NODE_HOLDS_OBJECT ((root = json_parser_get_root (parser))))
    return *code != 0;
  object = json_node_get_object (root);
  if (*code == 0)
    read_int_code (object, code);
  *msg = luma_text_make_safe (luma_json_get_string (object, "msg"), -1);
  /* KIE's refusals have no data at all, or a null one */
  data = luma_json_get_object (object, "data");
  *task_id = g_strdup (luma_json_get_string (data, "taskId"));
  return *code != 0;
}

void
luma_record_parse_link_answer (GBytes * body, guint status, gint * code,
    gchar ** msg, gchar ** link)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  static const gchar *names[] = { "url", "downloadUrl", "link" };
  JsonNode *root, *data;
  JsonObject *object, *members;
  guint i;

  *code = (status >= 200 && status < 300) ? 0 : (gint) status;
  *msg = *link = NULL;
  if (!luma_json_load (parser, g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), NULL)
      || !JSON_NODE_HOLDS_OBJECT ((root = json_parser_get_root (parser))))
    return;
  object = json_node_get_object (root);
  if (*code == 0)
    read_int_code (object, code);
  *msg = luma_text_make_safe (luma_json_get_string (object, "msg"), -1);
  data = json_object_get_member (object, "data");
  if (data != NULL && JSON_NODE_HOLDS_VALUE (data)
      && json_node_get_value_type (data) == G_TYPE_STRING)
    *link = g_strdup (json_node_get_string (data));
  members = luma_json_get_object (object, "data");
  for (i = 0; members != NULL && *link == NULL && i < G_N_ELEMENTS (names); i++)
    *link = g_strdup (luma_json_get_string (members, names[i]));
  /* a broken escape gives bytes that are not UTF-8, and a URL has no
   * control characters: no link */
  if (*link != NULL && !luma_text_is_safe (*link))
    g_clear_pointer (link, g_free);
}

/* "code" as a number, or a string of digits (the type is not documented). */
static gboolean
read_upload_code (JsonObject * object, gint * code)
{
  const gchar *text = luma_json_get_string (object, "code");
  guint64 number;

  if (read_int_code (object, code))
    return TRUE;
  if (text != NULL && g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT,
          &number, NULL)) {
    *code = number;
    return TRUE;
  }
  return FALSE;
}

void
luma_record_parse_upload_answer (GBytes * body, LumaUploadAnswer * answer)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) parse_error = NULL;
  JsonObject *root;
  gsize size;
  const gchar *text = g_bytes_get_data (body, &size);

  memset (answer, 0, sizeof *answer);
  if (!luma_json_load (parser, text, size, &parse_error)) {
    /* json-glib quotes what it stumbled on */
    answer->why = luma_text_make_safe (parse_error->message, -1);
    return;
  }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    answer->why = g_strdup (_("not a JSON object"));
    return;
  }
  root = json_node_get_object (json_parser_get_root (parser));
  answer->has_code = read_upload_code (root, &answer->code);
  answer->has_success = luma_json_get_bool (root, "success", &answer->success);
  answer->msg = luma_text_make_safe (luma_json_get_string (root, "msg"), -1);
  answer->download_url = g_strdup (luma_json_get_string
      (luma_json_get_object (root, "data"), "downloadUrl"));
  answer->has_file_size = luma_json_get_int (luma_json_get_object (root,
          "data"), "fileSize", &answer->file_size);
}

void
luma_upload_answer_clear (LumaUploadAnswer * answer)
{
  g_clear_pointer (&answer->why, g_free);
  g_clear_pointer (&answer->msg, g_free);
  g_clear_pointer (&answer->download_url, g_free);
}
