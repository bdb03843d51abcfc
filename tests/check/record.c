/* gst-luma: the record-info parser over a table of bodies
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include "lumarecord.h"
#include "lumatext.h"

#define OK -1

typedef struct
{
  const gchar *name;
  const gchar *body;
  gint error;                   /* a GstLumaRecordError, or OK */
  gint code;
  GstLumaTaskState state;
  const gchar *url;             /* result_urls[0] */
  const gchar *error_code;
  const gchar *error_message;
  gint64 complete_time;
} BodyCase;

#define PARAMS "\"paramJson\":\"{\\\"prompt\\\":\\\"A city\\\",\\\"videoUrl\\\":\\\"https://x/in.mp4\\\"}\""
#define RESPONSE "\"response\":{\"taskId\":\"t\",\"originUrls\":[\"https://o/1.mp4\"],\"resultUrls\":[\"https://r/1.mp4\",\"https://r/2.mp4\"]}"

static const BodyCase cases[] = {
  {"documented success",
        "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":\"t\"," PARAMS
        ",\"completeTime\":1755078480000," RESPONSE ",\"successFlag\":1,"
        "\"createTime\":1755078171000,\"errorCode\":null,\"errorMessage\":null}}",
        OK, 200, GST_LUMA_TASK_STATE_SUCCESS, "https://r/1.mp4", NULL, NULL,
      1755078480000},
  {"generating, no response",
        "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":\"t\","
        "\"successFlag\":0,\"response\":null,\"completeTime\":null}}",
      OK, 200, GST_LUMA_TASK_STATE_GENERATING, NULL, NULL, NULL, -1},
  {"callback failed",
        "{\"code\":200,\"data\":{" RESPONSE ",\"successFlag\":4}}",
        OK, 200, GST_LUMA_TASK_STATE_CALLBACK_FAILED, "https://r/1.mp4", NULL,
      NULL, -1},
  {"create failed, numeric errorCode",
        "{\"code\":200,\"data\":{\"successFlag\":2,\"errorCode\":400,"
        "\"errorMessage\":\"bad video\"}}",
      OK, 200, GST_LUMA_TASK_STATE_CREATE_FAILED, NULL, "400", "bad video", -1},
  {"generate failed, string errorCode",
        "{\"code\":200,\"data\":{\"successFlag\":3,\"errorCode\":\"E42\","
        "\"errorMessage\":\"model crashed\"}}",
        OK, 200, GST_LUMA_TASK_STATE_GENERATE_FAILED, NULL, "E42",
      "model crashed", -1},
  {"times as strings",
        "{\"code\":200,\"data\":{\"successFlag\":0,\"createTime\":\"2025-08-13 10:00:00\","
        "\"completeTime\":\"1755078480000\"}}",
      OK, 200, GST_LUMA_TASK_STATE_GENERATING, NULL, NULL, NULL, 1755078480000},
  {"unreadable time ignored",
        "{\"code\":200,\"data\":{\"successFlag\":0,\"completeTime\":\"soon\"}}",
      OK, 200, GST_LUMA_TASK_STATE_GENERATING, NULL, NULL, NULL, -1},
  {"unknown fields ignored",
        "{\"code\":200,\"extra\":[1,2],\"data\":{\"successFlag\":0,\"new\":{}}}",
      OK, 200, GST_LUMA_TASK_STATE_GENERATING, NULL, NULL, NULL, -1},
  {"401 in the body",
        "{\"code\":401,\"msg\":\"You do not have access permissions\"}",
      OK, 401, GST_LUMA_TASK_STATE_ERROR, NULL, NULL, NULL, -1},
  {"404 with data null", "{\"code\":404,\"msg\":\"not found\",\"data\":null}",
      OK, 404, GST_LUMA_TASK_STATE_ERROR, NULL, NULL, NULL, -1},
  {"not JSON", "<html>502 Bad Gateway</html>", GST_LUMA_RECORD_ERROR_SYNTAX},
  {"truncated JSON", "{\"code\":200,\"data\":{\"successFl",
      GST_LUMA_RECORD_ERROR_SYNTAX},
  {"empty body", "", GST_LUMA_RECORD_ERROR_SYNTAX},
  {"an array", "[{\"code\":200}]", GST_LUMA_RECORD_ERROR_NOT_OBJECT},
  {"a string", "\"success\"", GST_LUMA_RECORD_ERROR_NOT_OBJECT},
  {"no code", "{\"msg\":\"success\",\"data\":{}}",
      GST_LUMA_RECORD_ERROR_MISSING},
  {"code as string", "{\"code\":\"200\",\"data\":{}}",
      GST_LUMA_RECORD_ERROR_WRONG_TYPE},
  {"data null", "{\"code\":200,\"data\":null}", GST_LUMA_RECORD_ERROR_MISSING},
  {"data an array", "{\"code\":200,\"data\":[]}",
      GST_LUMA_RECORD_ERROR_NOT_OBJECT},
  {"no successFlag", "{\"code\":200,\"data\":{\"taskId\":\"t\"}}",
      GST_LUMA_RECORD_ERROR_MISSING},
  {"successFlag as string", "{\"code\":200,\"data\":{\"successFlag\":\"1\"}}",
      GST_LUMA_RECORD_ERROR_WRONG_TYPE},
  {"successFlag out of range", "{\"code\":200,\"data\":{\"successFlag\":7}}",
      GST_LUMA_RECORD_ERROR_OUT_OF_RANGE},
  {"successFlag negative", "{\"code\":200,\"data\":{\"successFlag\":-1}}",
      GST_LUMA_RECORD_ERROR_OUT_OF_RANGE},
  {"success without response", "{\"code\":200,\"data\":{\"successFlag\":1}}",
      GST_LUMA_RECORD_ERROR_MISSING},
  {"success with empty resultUrls",
        "{\"code\":200,\"data\":{\"successFlag\":1,\"response\":{\"resultUrls\":[]}}}",
      GST_LUMA_RECORD_ERROR_MISSING},
  {"resultUrls not an array",
        "{\"code\":200,\"data\":{\"successFlag\":1,\"response\":{\"resultUrls\":\"https://r\"}}}",
      GST_LUMA_RECORD_ERROR_WRONG_TYPE},
  {"resultUrls holding a number",
        "{\"code\":200,\"data\":{\"successFlag\":4,\"response\":{\"resultUrls\":[5]}}}",
      GST_LUMA_RECORD_ERROR_WRONG_TYPE},
  {"huge float time ignored",
        "{\"code\":200,\"data\":{\"successFlag\":0,\"createTime\":1e300,"
        "\"completeTime\":-1e300}}",
      OK, 200, GST_LUMA_TASK_STATE_GENERATING, NULL, NULL, NULL, -1},
  {"times past year 9999 or before 1970 ignored",
        "{\"code\":200,\"data\":{\"successFlag\":0,"
        "\"createTime\":\"-5\",\"completeTime\":9223372036854775807}}",
      OK, 200, GST_LUMA_TASK_STATE_GENERATING, NULL, NULL, NULL, -1},
  {"the last millisecond of year 9999 taken",
        "{\"code\":200,\"data\":{\"successFlag\":0,"
        "\"completeTime\":253402300799999}}",
        OK, 200, GST_LUMA_TASK_STATE_GENERATING, NULL, NULL, NULL,
      G_GINT64_CONSTANT (253402300799999)},
  {"success with an empty result URL",
        "{\"code\":200,\"data\":{\"successFlag\":1,\"response\":{\"resultUrls\":[\"\"]}}}",
      GST_LUMA_RECORD_ERROR_MISSING},
  {"brackets inside strings do not nest",
        "{\"code\":200,\"data\":{\"successFlag\":0,\"x\":\"[[[[[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\"}}",
      OK, 200, GST_LUMA_TASK_STATE_GENERATING, NULL, NULL, NULL, -1},
  {"response not an object",
        "{\"code\":200,\"data\":{\"successFlag\":1,\"response\":\"done\"}}",
      GST_LUMA_RECORD_ERROR_WRONG_TYPE},
};

static void
check_string (const gchar * name, const gchar * what, const gchar * got,
    const gchar * expected)
{
  fail_unless (g_strcmp0 (got, expected) == 0, "%s: %s is \"%s\", not \"%s\"",
      name, what, GST_STR_NULL (got), GST_STR_NULL (expected));
}

GST_START_TEST (test_body_table)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    const BodyCase *c = &cases[i];
    g_autoptr (GBytes) body = c->body[0] != '\0' ?
        g_bytes_new_static (c->body, strlen (c->body)) : g_bytes_new (NULL, 0);
    g_autoptr (GError) error = NULL;
    g_autoptr (GstLumaRecord) record = gst_luma_record_parse (body, &error);

    if (c->error != OK) {
      fail_unless (record == NULL, "%s: parsed", c->name);
      fail_unless (g_error_matches (error, GST_LUMA_RECORD_ERROR, c->error),
          "%s: error %s", c->name, error ? error->message : "none");
      fail_unless (error->message[0] != '\0');
      continue;
    }
    fail_unless (record != NULL, "%s: %s", c->name, error->message);
    fail_unless_equals_int (record->code, c->code);
    fail_unless (record->state == c->state, "%s: state %d", c->name,
        record->state);
    check_string (c->name, "url",
        record->result_urls ? record->result_urls[0] : NULL, c->url);
    check_string (c->name, "errorCode", record->error_code, c->error_code);
    check_string (c->name, "errorMessage", record->error_message,
        c->error_message);
    fail_unless (record->complete_time == c->complete_time,
        "%s: completeTime %" G_GINT64_FORMAT, c->name, record->complete_time);
  }
}

GST_END_TEST;

/* originUrls (the re-hosted input) is only informative, never acted on:
 * one of an odd shape no longer costs a finished task its video,
 * as lumarecord.c promises to be strict only about code, successFlag and
 * the result URLs. */
GST_START_TEST (test_odd_origin_urls_ignored)
{
  static const gchar *origins[] = { "\"https://o/1.mp4\"", "[null]", "[1]",
    "{}", "[[\"https://o/1.mp4\"]]"
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (origins); i++) {
    g_autofree gchar *text = g_strdup_printf ("{\"code\":200,\"data\":{"
        "\"successFlag\":1,\"response\":{\"originUrls\":%s,"
        "\"resultUrls\":[\"https://r/1.mp4\"]}}}", origins[i]);
    g_autoptr (GBytes) body = g_bytes_new_static (text, strlen (text));
    g_autoptr (GError) error = NULL;
    g_autoptr (GstLumaRecord) record = gst_luma_record_parse (body, &error);

    fail_unless (record != NULL, "originUrls %s: %s", origins[i],
        error->message);
    fail_unless_equals_string (record->result_urls[0], "https://r/1.mp4");
  }
}

GST_END_TEST;

GST_START_TEST (test_params_and_times)
{
  const gchar *text = cases[0].body;
  g_autoptr (GBytes) body = g_bytes_new_static (text, strlen (text));
  g_autoptr (GstLumaRecord) record = gst_luma_record_parse (body, NULL);
  g_autoptr (GstLumaRecord) copy = NULL;

  fail_unless (record != NULL);
  fail_unless_equals_string (record->task_id, "t");
  fail_unless_equals_string (record->prompt, "A city");
  fail_unless_equals_string (record->source_url, "https://x/in.mp4");
  fail_unless_equals_string (record->origin_urls[0], "https://o/1.mp4");
  fail_unless_equals_string (record->result_urls[1], "https://r/2.mp4");
  fail_unless (record->create_time == 1755078171000);

  copy = gst_luma_record_copy (record);
  fail_unless (copy->result_urls != record->result_urls);
  fail_unless_equals_string (copy->result_urls[0], "https://r/1.mp4");
  fail_unless_equals_string (copy->prompt, "A city");
}

GST_END_TEST;

GST_START_TEST (test_date_string_time)
{
  const gchar *text = cases[5].body;
  g_autoptr (GBytes) body = g_bytes_new_static (text, strlen (text));
  g_autoptr (GstLumaRecord) record = gst_luma_record_parse (body, NULL);

  /* 2025-08-13 10:00:00 UTC */
  fail_unless (record->create_time == G_GINT64_CONSTANT (1755079200000),
      "createTime %" G_GINT64_FORMAT, record->create_time);
}

GST_END_TEST;

GST_START_TEST (test_too_large_refused_unparsed)
{
  gsize size = GST_LUMA_RECORD_MAX_SIZE + 1;
  gchar *text = g_malloc (size);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;

  /* valid JSON, so only the size can make it fail */
  memset (text, ' ', size);
  memcpy (text, "{\"code\":401}", 12);
  body = g_bytes_new_take (text, size);
  fail_unless (gst_luma_record_parse (body, &error) == NULL);
  fail_unless (g_error_matches (error, GST_LUMA_RECORD_ERROR,
          GST_LUMA_RECORD_ERROR_TOO_LARGE));
}

GST_END_TEST;

static GstLumaRecord *
parse_text (const gchar * text, GError ** error)
{
  g_autoptr (GBytes) body = g_bytes_new_static (text, strlen (text));

  return gst_luma_record_parse (body, error);
}

/* json-glib would recurse once per level and overflow the stack */
GST_START_TEST (test_deep_nesting_refused)
{
  gsize depth = 100000;
  GString *text = g_string_new ("{\"code\":200,\"data\":");
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  gsize i;

  for (i = 0; i < depth; i++)
    g_string_append_c (text, '[');
  for (i = 0; i < depth; i++)
    g_string_append_c (text, ']');
  g_string_append_c (text, '}');
  body = g_string_free_to_bytes (text);
  fail_unless (gst_luma_record_parse (body, &error) == NULL);
  fail_unless (g_error_matches (error, GST_LUMA_RECORD_ERROR,
          GST_LUMA_RECORD_ERROR_SYNTAX));
  fail_unless (strstr (error->message, "nests deeper") != NULL);
}

GST_END_TEST;

/* the same inside paramJson, a string that holds JSON: ignored, no crash */
GST_START_TEST (test_deep_nesting_in_params_ignored)
{
  gsize depth = 100000;
  GString *text = g_string_new ("{\"code\":200,\"data\":{\"successFlag\":0,"
      "\"paramJson\":\"");
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GstLumaRecord) record = NULL;
  gsize i;

  for (i = 0; i < depth; i++)
    g_string_append_c (text, '[');
  g_string_append (text, "\"}}");
  body = g_string_free_to_bytes (text);
  record = gst_luma_record_parse (body, NULL);
  fail_unless (record != NULL);
  fail_unless (record->prompt == NULL);
}

GST_END_TEST;

/* json-glib 1.6 reads what the nesting count skips as a string: a
 * single-quoted string and a comment can hold a '"', after which every
 * bracket counts as inside a string. The record, generate's answer and the
 * upload's answer all go through the same count. */
GST_START_TEST (test_deep_nesting_behind_quote_or_comment_refused)
{
  static const gchar *const openers[] = {
    "{\"code\":200,\"msg\":['\"',",
    "{\"code\":200,\"msg\":/*\"*/",
  };
  gsize depth = 100000;
  guint i;
  gsize j;

  for (i = 0; i < G_N_ELEMENTS (openers); i++) {
    GString *text = g_string_new (openers[i]);
    g_autoptr (GBytes) body = NULL;
    g_autoptr (GError) error = NULL;
    g_auto (LumaUploadAnswer) answer = { 0, };
    gint code;
    gchar *msg, *task_id;

    for (j = 0; j < depth; j++)
      g_string_append_c (text, '[');
    body = g_string_free_to_bytes (text);
    fail_unless (gst_luma_record_parse (body, &error) == NULL);
    luma_record_parse_create_answer (body, 200, &code, &msg, &task_id);
    g_free (msg);
    g_free (task_id);
    luma_record_parse_upload_answer (body, &answer);
    fail_unless (answer.why != NULL);
  }
}

GST_END_TEST;

/* ... while the same characters inside strings are JSON like any other */
GST_START_TEST (test_quote_and_slash_inside_strings_taken)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstLumaRecord) record = parse_text ("{\"code\":200,"
      "\"msg\":\"it's /* fine */\",\"data\":{\"taskId\":\"t'1\","
      "\"successFlag\":1,\"paramJson\":\"{\\\"prompt\\\":"
      "\\\"a 'snowy' night // [[\\\"}\",\"response\":{\"resultUrls\":"
      "[\"https://cdn.example/r/t'1/a.mp4\"]}}}", &error);

  fail_unless (record != NULL, "%s", error ? error->message : "");
  fail_unless_equals_string (record->task_id, "t'1");
  fail_unless_equals_string (record->prompt, "a 'snowy' night // [[");
  fail_unless_equals_string (record->result_urls[0],
      "https://cdn.example/r/t'1/a.mp4");
}

GST_END_TEST;

/* What a server writes reaches messages, errors and tags: every string the
 * parser gives is valid UTF-8 without control characters. */
GST_START_TEST (test_server_text_made_safe)
{
  g_autoptr (GstLumaRecord) surrogate = parse_text ("{\"code\":404,"
      "\"msg\":\"no \\ud800 task\"}", NULL);
  g_autoptr (GstLumaRecord) escapes = parse_text ("{\"code\":200,"
      "\"msg\":\"ok\",\"data\":{\"taskId\":\"t\\u001b[2J\",\"successFlag\":3,"
      "\"errorCode\":\"\\u009b1m\",\"errorMessage\":\"a\\u0007b\\nc\\u202ed\","
      "\"paramJson\":\"{\\\"prompt\\\":\\\"snow\\\\u001b]0;x\\\\u0007\\\"}\"}}",
      NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstLumaRecord) bad_url = parse_text ("{\"code\":200,"
      "\"msg\":\"ok\",\"data\":{\"successFlag\":1,\"response\":{\"resultUrls\":"
      "[\"https://r/1.mp4\\r\\nX-Injected: 1\"]}}}", &error);
  g_autoptr (GstLumaRecord) one_good = parse_text ("{\"code\":200,"
      "\"msg\":\"ok\",\"data\":{\"successFlag\":1,\"response\":{\"resultUrls\":"
      "[\"https://r/\\u001b.mp4\",\"https://r/2.mp4\"]}}}", NULL);

  fail_unless (surrogate != NULL);
  fail_unless (g_utf8_validate (surrogate->msg, -1, NULL), "invalid UTF-8");
  fail_unless (g_str_has_prefix (surrogate->msg, "no "));
  fail_unless (g_str_has_suffix (surrogate->msg, "task"));

  fail_unless (escapes != NULL);
  fail_unless_equals_string (escapes->task_id, "t[2J");
  fail_unless_equals_string (escapes->error_code, "1m");
  fail_unless_equals_string (escapes->error_message, "ab cd");
  fail_unless_equals_string (escapes->prompt, "snow]0;x");

  /* a URL is taken as it is or not at all */
  fail_unless (bad_url == NULL);
  fail_unless (g_error_matches (error, GST_LUMA_RECORD_ERROR,
          GST_LUMA_RECORD_ERROR_MISSING), "%s", error->message);
  fail_unless (one_good != NULL);
  fail_unless_equals_string (one_good->result_urls[0], "https://r/2.mp4");
  fail_unless (one_good->result_urls[1] == NULL);
}

GST_END_TEST;

GST_START_TEST (test_state_enum)
{
  GEnumClass *klass = g_type_class_ref (GST_TYPE_LUMA_TASK_STATE);

  fail_unless_equals_string (gst_luma_task_state_get_nick
      (GST_LUMA_TASK_STATE_CALLBACK_FAILED), "callback-failed");
  fail_unless_equals_string (g_enum_get_value (klass,
          GST_LUMA_TASK_STATE_GENERATE_FAILED)->value_nick, "generate-failed");
  g_type_class_unref (klass);
}

GST_END_TEST;

/* paramJson, a second JSON document, is only read once the task is over:
 * nothing uses it while the task generates and is polled again and
 * again. */
GST_START_TEST (test_params_read_once_over)
{
  g_autoptr (GstLumaRecord) generating = parse_text ("{\"code\":200,"
      "\"data\":{\"taskId\":\"t\"," PARAMS ",\"successFlag\":0}}", NULL);
  g_autoptr (GstLumaRecord) failed = parse_text ("{\"code\":200,"
      "\"data\":{\"taskId\":\"t\"," PARAMS ",\"successFlag\":3}}", NULL);

  fail_unless (generating != NULL);
  fail_unless_equals_int (generating->state, GST_LUMA_TASK_STATE_GENERATING);
  fail_unless (generating->prompt == NULL);
  fail_unless (generating->source_url == NULL);
  fail_unless (failed != NULL);
  fail_unless_equals_string (failed->prompt, "A city");
  fail_unless_equals_string (failed->source_url, "https://x/in.mp4");
}

GST_END_TEST;

/* Printable ASCII is copied as it is (the quick way); anything else takes
 * the long way, with the same result as before. */
GST_START_TEST (test_text_made_safe)
{
  static const struct
  {
    const gchar *text;
    gssize length;
    const gchar *safe;
  } cases[] = {
    {"plain text, 100% ASCII ~", -1, "plain text, 100% ASCII ~"},
    {"cut here|not this", 8, "cut here"},
    {"", -1, ""},
    {"tab\tand\nlines\r", -1, "tab and lines "},
    {"esc\033[2J del\177 c1\302\233x", -1, "esc[2J del c1x"},
    {"caf\303\251 \342\200\256rtl", -1, "caf\303\251 rtl"},
    {"bad \377 byte", -1, "bad \357\277\275 byte"},
    /* an invalid NUL inside the length, as g_utf8_make_valid () has it */
    {"nul\0after", 9, "nul\357\277\275after"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *safe = luma_text_make_safe (cases[i].text,
        cases[i].length);

    fail_unless_equals_string (safe, cases[i].safe);
  }
  fail_unless (luma_text_make_safe (NULL, -1) == NULL);
}

GST_END_TEST;

typedef struct
{
  guint status;
  const gchar *body;
  gboolean readable;
  gint code;
  const gchar *msg;
  const gchar *task_id;
} AnswerCase;

/* generate's answer, read by its members' types: an object or an array
 * where KIE puts a value reads as nothing, without the g_critical that
 * json-glib's getters give (fatal here: G_DEBUG=fatal-criticals), and a
 * code past an int's range does not wrap to a success. */
GST_START_TEST (test_answer_members_of_other_types)
{
  static const AnswerCase cases[] = {
    {200, "{\"code\":200,\"msg\":\"ok\",\"data\":{\"taskId\":\"t-1\"}}", TRUE,
        200, "ok", "t-1"},
    {200, "{\"code\":{},\"msg\":[1],\"data\":{\"taskId\":{}}}", FALSE, 0,
        NULL, NULL},
    {200, "{\"code\":[200],\"data\":[{\"taskId\":\"t-1\"}]}", FALSE, 0, NULL,
        NULL},
    {200, "{\"code\":\"200\",\"data\":{\"taskId\":7}}", FALSE, 0, NULL, NULL},
    /* 2^32 + 200: (gint) would make it 200 */
    {200, "{\"code\":4294967496,\"data\":{\"taskId\":\"t-1\"}}", FALSE, 0,
        NULL, "t-1"},
    {200, "{\"code\":402,\"msg\":\"no \\u0007credits\\u001b[2J\"}", TRUE, 402,
        "no credits[2J", NULL},
    {200, "{\"code\":200,\"data\":null}", TRUE, 200, NULL, NULL},
    {500, "{\"code\":{}}", TRUE, 500, NULL, NULL},
    {500, "not json", TRUE, 500, NULL, NULL},
    {200, "[1, 2]", FALSE, 0, NULL, NULL},
    /* an empty GBytes has no data: json-glib's load would be a critical */
    {200, "", FALSE, 0, NULL, NULL},
    {200, " \n", FALSE, 0, NULL, NULL},
    {502, "", TRUE, 502, NULL, NULL},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    const AnswerCase *c = &cases[i];
    g_autoptr (GBytes) body = c->body[0] != '\0' ?
        g_bytes_new_static (c->body, strlen (c->body)) : g_bytes_new (NULL, 0);
    g_autofree gchar *msg = NULL;
    g_autofree gchar *task_id = NULL;
    gint code = -1;

    fail_unless_equals_int (luma_record_parse_create_answer (body, c->status,
            &code, &msg, &task_id), c->readable);
    fail_unless_equals_int (code, c->code);
    fail_unless_equals_string (msg, c->msg);
    fail_unless_equals_string (task_id, c->task_id);
  }
}

GST_END_TEST;

/* download-url's answer: the link as "data" or one of its members, the
 * code and message as for generate. */
GST_START_TEST (test_link_answers)
{
  static const struct
  {
    guint status;
    const gchar *body;
    gint code;
    const gchar *link;
  } cases[] = {
    {200, "{\"code\":200,\"msg\":\"success\",\"data\":\"https://f.example/a\"}",
        200, "https://f.example/a"},
    {200, "{\"code\":200,\"data\":{\"url\":\"https://f.example/b\"}}", 200,
        "https://f.example/b"},
    {200, "{\"code\":200,\"data\":{\"downloadUrl\":\"https://f.example/c\"}}",
        200, "https://f.example/c"},
    {200, "{\"code\":200,\"data\":{\"link\":\"https://f.example/d\"}}", 200,
        "https://f.example/d"},
    {200, "{\"code\":422,\"msg\":\"not ours\",\"data\":null}", 422, NULL},
    {200, "{\"code\":200,\"data\":7}", 200, NULL},
    {200, "{\"code\":200,\"data\":{\"url\":[1]}}", 200, NULL},
    {500, "not json", 500, NULL},
    {200, "", 0, NULL},
    /* found by fuzz-link-answer: a broken escape, bytes that are not UTF-8 */
    {200, "{\"code\":200,\"data\":\"https://qu\\ud80link0\"}", 200, NULL},
    {200, "{\"code\":200,\"data\":\"https://f.example/\\u0007\"}", 200, NULL},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GBytes) body = cases[i].body[0] != '\0' ?
        g_bytes_new_static (cases[i].body, strlen (cases[i].body)) :
        g_bytes_new (NULL, 0);
    g_autofree gchar *msg = NULL;
    g_autofree gchar *link = NULL;
    gint code = -1;

    luma_record_parse_link_answer (body, cases[i].status, &code, &msg, &link);
    fail_unless_equals_int (code, cases[i].code);
    fail_unless_equals_string (link, cases[i].link);
  }
}

GST_END_TEST;

typedef struct
{
  const gchar *body;
  gboolean read;
  gboolean has_code;
  gint code;
  gint success;                 /* -1: none */
  const gchar *msg;
  const gchar *download_url;
} UploadCase;

/* The upload API's answer: "code" a number or a string of digits (in an
 * int's range), "success" a boolean, data.downloadUrl a string; anything
 * else reads as absent, without a critical. A body that cannot be read
 * says why as safe text: json-glib quotes the string it stumbled on, here
 * with a terminal escape in it. */
GST_START_TEST (test_upload_answer)
{
  static const UploadCase cases[] = {
    {"{\"success\":true,\"code\":200,\"msg\":\"ok\",\"data\":{\"downloadUrl\":"
          "\"https://h/f.mp4\"}}", TRUE, TRUE, 200, TRUE, "ok",
        "https://h/f.mp4"},
    {"{\"success\":false,\"code\":\"413\",\"msg\":\"big\\u0007\"}", TRUE, TRUE,
        413, FALSE, "big", NULL},
    {"{\"code\":4294967496,\"success\":\"yes\",\"data\":{\"downloadUrl\":7}}",
        TRUE, FALSE, 0, -1, NULL, NULL},
    {"{\"code\":{},\"msg\":[],\"data\":[]}", TRUE, FALSE, 0, -1, NULL, NULL},
    {"[1]", FALSE, FALSE, 0, -1, NULL, NULL},
    {"", FALSE, FALSE, 0, -1, NULL, NULL},
    {"[\"x\x1b[2J\" 1]", FALSE, FALSE, 0, -1, NULL, NULL},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    const UploadCase *c = &cases[i];
    g_autoptr (GBytes) body = g_bytes_new (c->body, strlen (c->body));
    g_auto (LumaUploadAnswer) answer = { 0, };

    luma_record_parse_upload_answer (body, &answer);
    fail_unless_equals_int (answer.why == NULL, c->read);
    if (answer.why != NULL)
      fail_unless (luma_text_is_safe (answer.why), "%s", answer.why);
    fail_unless_equals_int (answer.has_code, c->has_code);
    if (c->has_code)
      fail_unless_equals_int (answer.code, c->code);
    fail_unless_equals_int (answer.has_success, c->success >= 0);
    if (c->success >= 0)
      fail_unless_equals_int (answer.success, c->success);
    fail_unless_equals_string (answer.msg, c->msg);
    fail_unless_equals_string (answer.download_url, c->download_url);
  }
}

GST_END_TEST;

static Suite *
record_suite (void)
{
  Suite *s = suite_create ("lumarecord");
  TCase *tc = tcase_create ("parse");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_body_table);
  tcase_add_test (tc, test_odd_origin_urls_ignored);
  tcase_add_test (tc, test_params_and_times);
  tcase_add_test (tc, test_date_string_time);
  tcase_add_test (tc, test_too_large_refused_unparsed);
  tcase_add_test (tc, test_deep_nesting_refused);
  tcase_add_test (tc, test_deep_nesting_in_params_ignored);
  tcase_add_test (tc, test_deep_nesting_behind_quote_or_comment_refused);
  tcase_add_test (tc, test_quote_and_slash_inside_strings_taken);
  tcase_add_test (tc, test_state_enum);
  tcase_add_test (tc, test_server_text_made_safe);
  tcase_add_test (tc, test_params_read_once_over);
  tcase_add_test (tc, test_text_made_safe);
  tcase_add_test (tc, test_answer_members_of_other_types);
  tcase_add_test (tc, test_upload_answer);
  tcase_add_test (tc, test_link_answers);
  return s;
}

GST_CHECK_MAIN (record);
