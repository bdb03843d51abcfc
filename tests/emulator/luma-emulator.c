/* gst-luma: a KIE.AI Luma Modify API emulator on SoupServer, for the tests
 * and for the demo.
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threading: both SoupServers, their handlers and every SoupServerMessage
 * live in the emulator thread, which runs its own GMainContext. The public
 * functions may be called from any thread: they only touch the state below
 * em->lock. Handlers take the lock to read and update that state, decide
 * the whole answer, drop the lock and only then talk to libsoup.
 */

#include "luma-emulator.h"

#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#define RECORD_INFO_PATH "/api/v1/modify/record-info"
#define GENERATE_PATH "/api/v1/modify/generate"
/* the most the emulator fetches of a videoUrl: KIE's own limit */
#define GENERATE_MAX_INPUT (500 * 1024 * 1024)
#define RESULT_PATH_PREFIX "/r/"
/* KIE's fresh links to its own files (download-url), and where the
 * emulator serves them: the task's video, without its faults */
#define DOWNLOAD_URL_PATH "/api/v1/common/download-url"
#define FRESH_PATH_PREFIX "/fresh/"
#define ORIGIN_PATH_PREFIX "/o/"

#define DEFAULT_PROMPT "Make it look like a rainy night in a neon city"
#define NO_ACCESS_TEXT "You do not have access permissions"

typedef struct
{
  guint http_status;
  gchar *retry_after;
  gchar *content_type;
  gchar *body;
  gchar *location;              /* a redirect's Location, or NULL */
} ScriptedReply;

/* All the emulator knows under one task id. An entry is made on first
 * mention by any call or request, so that requests for tasks that were
 * never added are counted too. */
typedef struct
{
  gchar *task_id;

  /* the task itself, once luma_emulator_add_task() described it */
  gboolean known;
  GBytes *video;
  guint generating_polls;
  guint generating_ms;
  gint final_flag;
  gchar *error_code;
  gchar *error_message;
  gchar *prompt;
  gchar *video_url;             /* the videoUrl it was created with, if any */
  gint64 create_time_ms;

  /* its progress, as record-info answers show it */
  guint record_answers;
  gint64 first_answer_us;       /* monotonic; valid once record_answers > 0 */
  gboolean finished;
  gint64 complete_time_ms;
  guint url_serial;
  gchar *result_url;            /* set by luma_emulator_set_result_url() */
  GQueue scripted;              /* of ScriptedReply */
  guint record_requests;

  /* the result-file host */
  LumaEmulatorVideoFaults faults;       /* its strings unused: see below */
  gchar *redirect_to;
  gchar *fail_retry_after;
  gchar *partial_content_range;
  gboolean dropped;             /* the last answer was cut (drop_fail_status) */
  guint fail_left;
  guint drop_left;
  guint video_requests;
  gchar *last_range;
  guint video_version;          /* its ETag: a new one for each video set */
} TaskEntry;

struct _LumaEmulator
{
  /* guards everything down to the thread part */
  GMutex lock;
  gchar *api_key;               /* never changes after new () */
  GHashTable *entries;          /* task id -> TaskEntry */
  guint video_auth_requests;
  guint video_versions;         /* the ETags given out so far */
  GHashTable *video_clients;    /* "address:port" of each connection */
  guint api_auth_requests;
  guint api_port;               /* 0 until started */
  guint video_port;

  /* start handshake, under the lock too */
  GCond start_cond;
  gboolean start_done;
  GError *start_error;
  guint wanted_api_port;
  guint wanted_video_port;

  /* the emulator thread; the objects below are used only by it, except
   * that free () attaches a quit source to the context */
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *api_server;
  SoupServer *video_server;
  gboolean shutting_down;

  /* task creation (POST /api/v1/modify/generate), under the lock */
  GQueue generate_scripted;     /* of ScriptedReply */
  guint generate_requests;
  guint download_url_requests;
  guint download_url_delay_ms;  /* download-url answers this late */
  guint fresh_links;            /* given out by download-url */
  guint creates;
  guint created_generating_polls;
  guint created_generating_ms;
  guint generate_answer_delay_ms;
  gchar *last_generate_body;
  SoupSession *fetcher;         /* the emulator thread's own */
  /* the upload host (KIE's File Upload API): see the end of this file */
  struct _UploadHost *upload;
};

/* --- task entries (all called with the lock held) --- */

static void
scripted_reply_free (ScriptedReply * reply)
{
  g_free (reply->retry_after);
  g_free (reply->content_type);
  g_free (reply->body);
  g_free (reply->location);
  g_free (reply);
}

static void
task_entry_free (TaskEntry * entry)
{
  g_free (entry->task_id);
  g_clear_pointer (&entry->video, g_bytes_unref);
  g_free (entry->error_code);
  g_free (entry->error_message);
  g_free (entry->prompt);
  g_free (entry->video_url);
  g_free (entry->result_url);
  g_queue_clear_full (&entry->scripted, (GDestroyNotify) scripted_reply_free);
  g_free (entry->redirect_to);
  g_free (entry->fail_retry_after);
  g_free (entry->partial_content_range);
  g_free (entry->last_range);
  g_free (entry);
}

static TaskEntry *
lookup_entry (LumaEmulator * em, const gchar * task_id, gboolean create)
{
  TaskEntry *entry = g_hash_table_lookup (em->entries, task_id);

  if (entry == NULL && create) {
    entry = g_new0 (TaskEntry, 1);
    entry->task_id = g_strdup (task_id);
    g_queue_init (&entry->scripted);
    g_hash_table_insert (em->entries, entry->task_id, entry);
  }
  return entry;
}

static gchar *
video_base_url (LumaEmulator * em)
{
  return g_strdup_printf ("http://127.0.0.1:%u", em->video_port);
}

/* A new URL each time, so that a client re-reading the record sees what a
 * refreshed link looks like. */
static gchar *
fresh_result_url (LumaEmulator * em, TaskEntry * entry)
{
  g_autofree gchar *base = video_base_url (em);
  g_autofree gchar *escaped_id = g_uri_escape_string (entry->task_id, NULL,
      FALSE);

  entry->url_serial++;
  return g_strdup_printf ("%s" RESULT_PATH_PREFIX "%s/%u.mp4", base,
      escaped_id, entry->url_serial);
}

static gint
task_final_flag (TaskEntry * entry)
{
  return entry->final_flag != 0 ? entry->final_flag : 1;
}

/* Counts one more record answer and tells whether the task is done by now.
 * Both conditions must be met: a test can thus ask for "at least N polls"
 * and "at least T ms" independently. */
static gboolean
task_advance (TaskEntry * entry)
{
  gint64 now = g_get_monotonic_time ();
  gboolean generating;

  entry->record_answers++;
  if (entry->record_answers == 1)
    entry->first_answer_us = now;

  if (!entry->finished) {
    generating = entry->record_answers <= entry->generating_polls ||
        now - entry->first_answer_us < (gint64) entry->generating_ms * 1000;
    if (generating)
      return FALSE;

    entry->finished = TRUE;
    entry->complete_time_ms = MAX (g_get_real_time () / 1000,
        entry->create_time_ms);
  }
  return TRUE;
}

/* Turns a "<prefix><taskId>/<anything>" path into the task id, or NULL. */
static gchar *
task_id_from_path (const gchar * path, const gchar * prefix)
{
  const gchar *id_start, *id_end;

  if (!g_str_has_prefix (path, prefix))
    return NULL;

  id_start = path + strlen (prefix);
  id_end = strchr (id_start, '/');
  if (id_end == NULL || id_end == id_start)
    return NULL;

  return g_uri_unescape_segment (id_start, id_end, NULL);
}

/* --- JSON bodies of the API --- */

static gchar *
build_param_json (LumaEmulator * em, TaskEntry * entry)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree gchar *base = video_base_url (em);
  g_autofree gchar *escaped_id = g_uri_escape_string (entry->task_id, NULL,
      FALSE);
  /* where the user's input would be: not served, like originUrls */
  g_autofree gchar *input_url = entry->video_url ? g_strdup (entry->video_url)
      : g_strdup_printf ("%s/input/%s.mp4", base, escaped_id);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "callBackUrl");
  json_builder_add_string_value (builder, "");
  json_builder_set_member_name (builder, "prompt");
  json_builder_add_string_value (builder,
      entry->prompt != NULL ? entry->prompt : DEFAULT_PROMPT);
  json_builder_set_member_name (builder, "videoUrl");
  json_builder_add_string_value (builder, input_url);
  json_builder_set_member_name (builder, "waterMark");
  json_builder_add_string_value (builder, "");
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

/* The "response" object of a successful record. */
static void
add_result_response (LumaEmulator * em, TaskEntry * entry,
    JsonBuilder * builder)
{
  g_autofree gchar *base = video_base_url (em);
  g_autofree gchar *escaped_id = g_uri_escape_string (entry->task_id, NULL,
      FALSE);
  g_autofree gchar *origin_url = g_strdup_printf ("%s" ORIGIN_PATH_PREFIX
      "%s.mp4", base, escaped_id);
  g_autofree gchar *result_url = NULL;

  if (entry->result_url != NULL)
    result_url = g_strdup (entry->result_url);
  else
    result_url = fresh_result_url (em, entry);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "taskId");
  json_builder_add_string_value (builder, entry->task_id);
  json_builder_set_member_name (builder, "originUrls");
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, origin_url);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "resultUrls");
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, result_url);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
}

/* The type of errorCode is undocumented: digits go out as a number, so that
 * clients meet both forms. */
static void
add_error_code (JsonBuilder * builder, const gchar * code)
{
  guint64 number;

  if (code == NULL)
    json_builder_add_null_value (builder);
  else if (g_ascii_string_to_unsigned (code, 10, 0, G_MAXINT64, &number, NULL))
    json_builder_add_int_value (builder, (gint64) number);
  else
    json_builder_add_string_value (builder, code);
}

static void
add_nullable_string (JsonBuilder * builder, const gchar * value)
{
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

/* The "data" of a record-info answer; advances the task. */
static JsonNode *
build_record_data (LumaEmulator * em, TaskEntry * entry)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autofree gchar *param_json = build_param_json (em, entry);
  gboolean finished = task_advance (entry);
  gint flag = finished ? task_final_flag (entry) : 0;
  gboolean failed = flag == 2 || flag == 3;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "taskId");
  json_builder_add_string_value (builder, entry->task_id);
  json_builder_set_member_name (builder, "paramJson");
  json_builder_add_string_value (builder, param_json);

  json_builder_set_member_name (builder, "completeTime");
  if (finished)
    json_builder_add_int_value (builder, entry->complete_time_ms);
  else
    json_builder_add_null_value (builder);

  json_builder_set_member_name (builder, "response");
  if (flag == 1 || flag == 4)
    add_result_response (em, entry, builder);
  else
    json_builder_add_null_value (builder);

  json_builder_set_member_name (builder, "successFlag");
  json_builder_add_int_value (builder, flag);
  json_builder_set_member_name (builder, "createTime");
  json_builder_add_int_value (builder, entry->create_time_ms);

  json_builder_set_member_name (builder, "errorCode");
  if (failed)
    add_error_code (builder, entry->error_code);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "errorMessage");
  add_nullable_string (builder, failed ? entry->error_message : NULL);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

/* {"code":..,"msg":..[,"data":..]}; takes @data. */
static JsonNode *
build_envelope (gint code, const gchar * text, gboolean with_data,
    JsonNode * data)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, code);
  json_builder_set_member_name (builder, "msg");
  json_builder_add_string_value (builder, text);
  if (with_data) {
    json_builder_set_member_name (builder, "data");
    if (data != NULL)
      json_builder_add_value (builder, data);
    else
      json_builder_add_null_value (builder);
  } else if (data != NULL) {
    json_node_unref (data);
  }
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

/* The API answers its errors with HTTP 200 and a code in the body. */
static void
reply_json (SoupServerMessage * msg, JsonNode * root)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  gchar *text;
  gsize length;

  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, &length);
  json_node_unref (root);

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json",
      SOUP_MEMORY_TAKE, text, length);
}

static void
reply_api_error (SoupServerMessage * msg, gint code, const gchar * text)
{
  reply_json (msg, build_envelope (code, text, TRUE, NULL));
}

static void
reply_no_access (SoupServerMessage * msg)
{
  /* the documented body has no "data" member */
  reply_json (msg, build_envelope (401, NO_ACCESS_TEXT, FALSE, NULL));
}

static void
reply_scripted (SoupServerMessage * msg, const ScriptedReply * reply)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  const gchar *body = reply->body != NULL ? reply->body : "";

  soup_server_message_set_status (msg,
      reply->http_status != 0 ? reply->http_status : SOUP_STATUS_OK, NULL);
  if (reply->retry_after != NULL)
    soup_message_headers_replace (headers, "Retry-After", reply->retry_after);
  if (reply->location != NULL)
    soup_message_headers_replace (headers, "Location", reply->location);
  soup_server_message_set_response (msg,
      reply->content_type != NULL ? reply->content_type : "application/json",
      SOUP_MEMORY_COPY, body, strlen (body));
}

/* --- the API server --- */

static gboolean
request_is_authorized (LumaEmulator * em, SoupServerMessage * msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const gchar *value;

  if (em->api_key == NULL)
    return TRUE;

  value = soup_message_headers_get_one (headers, "Authorization");
  if (value == NULL || g_ascii_strncasecmp (value, "Bearer ", 7) != 0)
    return FALSE;

  value += 7;
  while (*value == ' ')
    value++;
  return strcmp (value, em->api_key) == 0;
}

static void
handle_record_info (LumaEmulator * em, SoupServerMessage * msg,
    GHashTable * query)
{
  const gchar *task_id = query ? g_hash_table_lookup (query, "taskId") : NULL;
  g_autofree gchar *not_found = NULL;
  ScriptedReply *scripted;
  TaskEntry *entry;
  JsonNode *data;

  if (task_id == NULL || *task_id == '\0') {
    reply_api_error (msg, 422, "taskId is required");
    return;
  }

  g_mutex_lock (&em->lock);
  entry = lookup_entry (em, task_id, TRUE);
  entry->record_requests++;
  if (soup_message_headers_get_one (soup_server_message_get_request_headers
          (msg), "Authorization") != NULL)
    em->api_auth_requests++;

  /* scripted replies come before anything else, even the key check */
  scripted = g_queue_pop_head (&entry->scripted);
  if (scripted != NULL) {
    g_mutex_unlock (&em->lock);
    reply_scripted (msg, scripted);
    scripted_reply_free (scripted);
    return;
  }

  if (!request_is_authorized (em, msg)) {
    g_mutex_unlock (&em->lock);
    reply_no_access (msg);
    return;
  }

  if (!entry->known) {
    g_mutex_unlock (&em->lock);
    not_found = g_strdup_printf ("Task not found: %s", task_id);
    reply_api_error (msg, 404, not_found);
    return;
  }

  data = build_record_data (em, entry);
  g_mutex_unlock (&em->lock);
  reply_json (msg, build_envelope (200, "success", TRUE, data));
}

/* --- task creation --- */

typedef struct
{
  LumaEmulator *em;
  SoupServerMessage *msg;
  gchar *prompt;
  gchar *video_url;
} PendingCreate;

static void
pending_create_free (PendingCreate * pending)
{
  g_object_unref (pending->msg);
  g_free (pending->prompt);
  g_free (pending->video_url);
  g_free (pending);
}

static gboolean
is_loopback_url (const gchar * url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  const gchar *host = uri ? g_uri_get_host (uri) : NULL;

  return host != NULL && (strcmp (host, "127.0.0.1") == 0
      || strcmp (host, "localhost") == 0 || strcmp (host, "::1") == 0)
      && (g_strcmp0 (g_uri_get_scheme (uri), "http") == 0
      || g_strcmp0 (g_uri_get_scheme (uri), "https") == 0);
}

static gchar *
random_task_id (void)
{
  g_autofree gchar *uuid = g_uuid_string_random ();

  return g_compute_checksum_for_string (G_CHECKSUM_MD5, uuid, -1);
}

typedef struct
{
  LumaEmulator *em;
  SoupServerMessage *msg;
} PausedAnswer;

static void
paused_answer_free (PausedAnswer * paused)
{
  g_object_unref (paused->msg);
  g_free (paused);
}

static gboolean
answer_paused (gpointer user_data)
{
  PausedAnswer *paused = user_data;

  /* the servers stopping have dropped the message's I/O: libsoup would
   * be asked to unpause what is no longer there */
  if (!paused->em->shutting_down)
    soup_server_message_unpause (paused->msg);
  return G_SOURCE_REMOVE;
}

/* Answers a paused message, after the configured delay. */
static void
finish_paused (LumaEmulator * em, SoupServerMessage * msg, guint delay_ms)
{
  GSource *source = g_timeout_source_new (delay_ms);
  PausedAnswer *paused = g_new0 (PausedAnswer, 1);

  paused->em = em;
  paused->msg = g_object_ref (msg);
  g_source_set_callback (source, answer_paused, paused,
      (GDestroyNotify) paused_answer_free);
  g_source_attach (source, em->context);
  g_source_unref (source);
}

/* {"taskId": ...}, the data of generate's answer */
static JsonNode *
task_id_data (const gchar * task_id)
{
  JsonObject *data = json_object_new ();
  JsonNode *node = json_node_alloc ();

  json_object_set_string_member (data, "taskId", task_id);
  json_node_init_object (node, data);
  json_object_unref (data);
  return node;
}

static void
on_input_fetched (GObject * session, GAsyncResult * result, gpointer user_data)
{
  PendingCreate *pending = user_data;
  LumaEmulator *em = pending->em;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) video = soup_session_send_and_read_finish (SOUP_SESSION
      (session), result, &error);
  SoupMessage *fetch = soup_session_get_async_result_message (SOUP_SESSION
      (session), result);
  g_autofree gchar *task_id = NULL;
  guint delay;
  TaskEntry *entry;

  if (video == NULL || !SOUP_STATUS_IS_SUCCESSFUL (soup_message_get_status
          (fetch)) || g_bytes_get_size (video) == 0
      || g_bytes_get_size (video) > GENERATE_MAX_INPUT) {
    reply_api_error (pending->msg, 422, "The video URL could not be fetched");
    /* aborted by the servers stopping: nothing left to unpause */
    if (!em->shutting_down)
      soup_server_message_unpause (pending->msg);
    pending_create_free (pending);
    return;
  }

  task_id = random_task_id ();
  g_mutex_lock (&em->lock);
  entry = lookup_entry (em, task_id, TRUE);
  entry->known = TRUE;
  entry->video = g_bytes_ref (video);
  entry->video_version = ++em->video_versions;
  entry->generating_polls = em->created_generating_polls;
  entry->generating_ms = em->created_generating_ms;
  entry->final_flag = 1;
  entry->prompt = g_strdup (pending->prompt);
  entry->video_url = g_strdup (pending->video_url);
  entry->create_time_ms = g_get_real_time () / 1000;
  em->creates++;
  delay = em->generate_answer_delay_ms;
  g_mutex_unlock (&em->lock);

  reply_json (pending->msg, build_envelope (200, "success", TRUE,
          task_id_data (task_id)));
  finish_paused (em, pending->msg, delay);
  pending_create_free (pending);
}

/* The request's JSON object, or NULL. */
static JsonObject *
read_json_object (SoupServerMessage * msg)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  JsonNode *root;
  gsize length;
  const gchar *data = g_bytes_get_data (bytes, &length);

  if (length == 0 || !json_parser_load_from_data (parser, data, length, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  return JSON_NODE_HOLDS_OBJECT (root) ?
      json_object_ref (json_node_get_object (root)) : NULL;
}

/* Creates a task: fetches the videoUrl (only on loopback: the emulator
 * reaches no network) and makes its bytes the task's result, as if the
 * modification had been applied. */
static void
handle_generate (LumaEmulator * em, SoupServerMessage * msg)
{
  g_autoptr (GBytes) raw =
      soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (JsonObject) request = NULL;
  g_autoptr (SoupMessage) fetch = NULL;
  ScriptedReply *scripted;
  PendingCreate *pending;
  const gchar *prompt, *video_url;

  g_mutex_lock (&em->lock);
  em->generate_requests++;
  if (soup_message_headers_get_one (soup_server_message_get_request_headers
          (msg), "Authorization") != NULL)
    em->api_auth_requests++;
  g_free (em->last_generate_body);
  em->last_generate_body = g_strndup (g_bytes_get_data (raw, NULL),
      g_bytes_get_size (raw));
  scripted = g_queue_pop_head (&em->generate_scripted);
  g_mutex_unlock (&em->lock);

  if (scripted != NULL) {
    reply_scripted (msg, scripted);
    scripted_reply_free (scripted);
    return;
  }
  if (!request_is_authorized (em, msg)) {
    reply_no_access (msg);
    return;
  }

  request = read_json_object (msg);
  prompt = request ? json_object_get_string_member_with_default (request,
      "prompt", NULL) : NULL;
  video_url = request ? json_object_get_string_member_with_default (request,
      "videoUrl", NULL) : NULL;
  if (prompt == NULL || prompt[0] == '\0' || video_url == NULL) {
    reply_api_error (msg, 422, "prompt and videoUrl are required");
    return;
  }
  if (!is_loopback_url (video_url)) {
    reply_api_error (msg, 422, "The video URL could not be fetched");
    return;
  }

  if (em->fetcher == NULL)
    em->fetcher = soup_session_new ();
  pending = g_new0 (PendingCreate, 1);
  pending->em = em;
  pending->msg = g_object_ref (msg);
  pending->prompt = g_strdup (prompt);
  pending->video_url = g_strdup (video_url);
  soup_server_message_pause (msg);
  fetch = soup_message_new (SOUP_METHOD_GET, video_url);
  soup_session_send_and_read_async (em->fetcher, fetch, G_PRIORITY_DEFAULT,
      NULL, on_input_fetched, pending);
}

/* POST download-url {"url": U}: a fresh link to U, one of this emulator's
 * result URLs, valid for a while (here: for ever, and served without the
 * task's faults); any other URL gets 422, as KIE answers for files not its
 * own. */
static void
handle_download_url (LumaEmulator * em, SoupServerMessage * msg)
{
  g_autoptr (JsonObject) request = NULL;
  g_autofree gchar *base = NULL;
  g_autofree gchar *task_id = NULL;
  g_autofree gchar *escaped_id = NULL;
  g_autofree gchar *link = NULL;
  const gchar *url;
  guint serial, delay_ms;

  g_mutex_lock (&em->lock);
  em->download_url_requests++;
  base = video_base_url (em);
  g_mutex_unlock (&em->lock);
  if (!request_is_authorized (em, msg)) {
    reply_no_access (msg);
    return;
  }
  request = read_json_object (msg);
  url = request ? json_object_get_string_member_with_default (request, "url",
      NULL) : NULL;
  if (url != NULL && g_str_has_prefix (url, base))
    task_id = task_id_from_path (url + strlen (base), RESULT_PATH_PREFIX);
  if (task_id == NULL) {
    reply_api_error (msg, 422, "not a file of KIE's");
    return;
  }
  g_mutex_lock (&em->lock);
  serial = ++em->fresh_links;
  g_mutex_unlock (&em->lock);
  escaped_id = g_uri_escape_string (task_id, NULL, FALSE);
  link = g_strdup_printf ("%s" FRESH_PATH_PREFIX "%s/%u.mp4", base,
      escaped_id, serial);
  reply_json (msg, build_envelope (200, "success", TRUE,
          json_node_init_string (json_node_alloc (), link)));
  /* a slow KIE */
  g_mutex_lock (&em->lock);
  delay_ms = em->download_url_delay_ms;
  g_mutex_unlock (&em->lock);
  if (delay_ms > 0) {
    soup_server_message_pause (msg);
    finish_paused (em, msg, delay_ms);
  }
}

/* download-url answers @ms late (the emulator serves other
 * requests meanwhile). */
void
luma_emulator_set_download_url_delay (LumaEmulator * em, guint ms)
{
  g_mutex_lock (&em->lock);
  em->download_url_delay_ms = ms;
  g_mutex_unlock (&em->lock);
}

static void
handle_api_request (SoupServer * server G_GNUC_UNUSED,
    SoupServerMessage * msg, const char *path, GHashTable * query,
    gpointer user_data)
{
  LumaEmulator *em = user_data;
  const gchar *method = soup_server_message_get_method (msg);

  if (strcmp (path, RECORD_INFO_PATH) == 0) {
    if (method == SOUP_METHOD_GET)
      handle_record_info (em, msg, query);
    else
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
          NULL);
  } else if (strcmp (path, GENERATE_PATH) == 0) {
    if (method == SOUP_METHOD_POST)
      handle_generate (em, msg);
    else
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
          NULL);
  } else if (strcmp (path, DOWNLOAD_URL_PATH) == 0) {
    if (method == SOUP_METHOD_POST)
      handle_download_url (em, msg);
    else
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
          NULL);
  } else {
    reply_api_error (msg, 404, "Not found");
  }
}

/* --- the result-file host: deciding the answer --- */

typedef enum
{
  VIDEO_NOT_FOUND,
  VIDEO_FAIL,
  VIDEO_REDIRECT,
  VIDEO_UNSATISFIABLE,
  VIDEO_CONTENT,
} VideoAnswerKind;

typedef enum
{
  DELIVERY_WHOLE,
  DELIVERY_DROP,                /* cut bytes, then close the connection */
  DELIVERY_STALL,               /* cut bytes, then silence */
  DELIVERY_PACED,               /* all of it, at the fault's rate */
} Delivery;

typedef struct
{
  VideoAnswerKind kind;
  guint status;
  gboolean html;                /* VIDEO_FAIL */
  gchar *retry_after;           /* VIDEO_FAIL, or NULL */
  gchar *content_range;         /* VIDEO_CONTENT: instead of the true one */
  gchar *location;              /* VIDEO_REDIRECT */
  GBytes *video;                /* VIDEO_CONTENT */
  gsize total;
  gsize start;
  gsize length;
  gboolean partial;
  Delivery delivery;
  gsize cut;
  gsize rate;                   /* DELIVERY_PACED: bytes a second */
  guint version;                /* VIDEO_CONTENT: of the video, its ETag */
} VideoAnswer;

static void
video_answer_clear (VideoAnswer * answer)
{
  g_free (answer->location);
  g_free (answer->retry_after);
  g_free (answer->content_range);
  g_clear_pointer (&answer->video, g_bytes_unref);
}

typedef enum
{
  RANGE_NONE,                   /* no usable Range: send everything */
  RANGE_SATISFIABLE,
  RANGE_UNSATISFIABLE,
} RangeResult;

static gboolean
parse_decimal (const gchar ** cursor, guint64 * value)
{
  gchar *end;

  if (!g_ascii_isdigit (**cursor))
    return FALSE;
  *value = g_ascii_strtoull (*cursor, &end, 10);
  *cursor = end;
  return TRUE;
}

/* Reads one "bytes=N-", "bytes=N-M" or "bytes=-S" range. Multiple ranges
 * and malformed headers are ignored, as RFC 9110 allows. */
static RangeResult
parse_single_range (const gchar * header, gsize total, gsize * start,
    gsize * length)
{
  const gchar *cursor = header;
  guint64 first, last, suffix;

  if (header == NULL || g_ascii_strncasecmp (cursor, "bytes", 5) != 0)
    return RANGE_NONE;
  cursor += 5;
  while (*cursor == ' ')
    cursor++;
  if (*cursor++ != '=' || strchr (cursor, ',') != NULL)
    return RANGE_NONE;
  while (*cursor == ' ')
    cursor++;

  if (*cursor == '-') {
    cursor++;
    if (!parse_decimal (&cursor, &suffix) || *cursor != '\0')
      return RANGE_NONE;
    if (suffix == 0 || total == 0)
      return RANGE_UNSATISFIABLE;
    *start = suffix < total ? total - suffix : 0;
    *length = total - *start;
    return RANGE_SATISFIABLE;
  }

  if (!parse_decimal (&cursor, &first) || *cursor++ != '-')
    return RANGE_NONE;
  last = G_MAXUINT64;
  if (*cursor != '\0' && (!parse_decimal (&cursor, &last) || last < first))
    return RANGE_NONE;
  if (*cursor != '\0')
    return RANGE_NONE;
  if (first >= total)
    return RANGE_UNSATISFIABLE;

  *start = first;
  *length = MIN (last, total - 1) - first + 1;
  return RANGE_SATISFIABLE;
}

static void
plan_content (TaskEntry * entry, gboolean is_head, const gchar * range,
    VideoAnswer * answer)
{
  RangeResult range_result = RANGE_NONE;
  const LumaEmulatorVideoFaults *faults = &entry->faults;

  answer->video = g_bytes_ref (entry->video);
  /* 0: no ETag */
  answer->version = faults->no_validators ? 0 : entry->video_version;
  answer->total = g_bytes_get_size (entry->video);
  answer->start = 0;
  answer->length = answer->total;

  if (!faults->ignore_range)
    range_result = parse_single_range (range, answer->total, &answer->start,
        &answer->length);
  if (range_result == RANGE_UNSATISFIABLE) {
    answer->kind = VIDEO_UNSATISFIABLE;
    answer->status = SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE;
    return;
  }

  answer->kind = VIDEO_CONTENT;
  answer->partial = range_result == RANGE_SATISFIABLE;
  if (answer->partial && faults->range_piece > 0)
    answer->length = MIN (answer->length, faults->range_piece);
  answer->status = answer->partial ? SOUP_STATUS_PARTIAL_CONTENT :
      SOUP_STATUS_OK;
  answer->delivery = DELIVERY_WHOLE;
  if (answer->partial)
    answer->content_range = g_strdup (entry->partial_content_range);

  /* a HEAD answer has no body to cut short */
  if (is_head)
    return;

  if (faults->stall && (faults->stall_after == 0
          || faults->stall_after < answer->length)) {
    answer->delivery = DELIVERY_STALL;
    answer->cut = faults->stall_after;
  } else if (entry->drop_left > 0 && faults->drop_after < answer->length) {
    entry->drop_left--;
    entry->dropped = TRUE;
    answer->delivery = DELIVERY_DROP;
    answer->cut = faults->drop_after;
  } else if (faults->rate > 0) {
    answer->delivery = DELIVERY_PACED;
    answer->rate = faults->rate;
  }
}

/* Decides the answer to a request for a task's file, and counts it. */
static void
plan_faulty_answer (TaskEntry * entry, gboolean is_head, const gchar * range,
    VideoAnswer * answer)
{
  entry->video_requests++;
  g_free (entry->last_range);
  entry->last_range = g_strdup (range);

  if (entry->dropped && entry->faults.drop_fail_status != 0) {
    entry->dropped = FALSE;
    answer->kind = VIDEO_FAIL;
    answer->status = entry->faults.drop_fail_status;
  } else if (entry->faults.fail_status != 0 && entry->fail_left > 0
      && entry->video_requests > entry->faults.fail_after) {
    if (entry->fail_left != G_MAXUINT)
      entry->fail_left--;
    answer->kind = VIDEO_FAIL;
    answer->status = entry->faults.fail_status;
    answer->html = entry->faults.fail_html;
    answer->retry_after = g_strdup (entry->fail_retry_after);
  } else if (entry->redirect_to != NULL) {
    answer->kind = VIDEO_REDIRECT;
    answer->status = SOUP_STATUS_FOUND;
    answer->location = g_strdup (entry->redirect_to);
  } else if (!entry->known || entry->video == NULL) {
    answer->kind = VIDEO_NOT_FOUND;
    answer->status = SOUP_STATUS_NOT_FOUND;
  } else {
    plan_content (entry, is_head, range, answer);
  }
}

/* --- the result-file host: cutting a connection short --- */

/* Waits until libsoup has written the part of the body that should get
 * through, then takes the connection away from it and closes it: the client
 * sees a Content-Length that is never reached. */
typedef struct
{
  LumaEmulator *em;
  SoupServerMessage *msg;
  gboolean finished;            /* libsoup is done with msg on its own */
  gboolean scheduled;
} ConnectionDrop;

static void
connection_drop_free (ConnectionDrop * drop)
{
  g_signal_handlers_disconnect_by_data (drop->msg, drop);
  g_object_unref (drop->msg);
  g_free (drop);
}

static void
close_stolen_connection (SoupServerMessage * msg)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GIOStream) stream = NULL;

  if (soup_server_message_get_socket (msg) != NULL)
    socket = g_object_ref (soup_server_message_get_socket (msg));

  stream = soup_server_message_steal_connection (msg);
  if (stream != NULL)
    g_io_stream_close (stream, NULL, NULL);
  /* the stream may wrap the socket without owning it: make sure the peer
   * sees the end of the connection now */
  if (socket != NULL)
    g_socket_close (socket, NULL);
}

static gboolean
drop_connection_now (gpointer user_data)
{
  ConnectionDrop *drop = user_data;

  if (!drop->finished && !drop->em->shutting_down) {
    g_signal_handlers_disconnect_by_data (drop->msg, drop);
    close_stolen_connection (drop->msg);
  }
  return G_SOURCE_REMOVE;
}

/* Stealing from inside libsoup's own write loop is not safe: do it from
 * an idle, once the message has paused itself for want of body. */
static void
on_drop_point_reached (SoupServerMessage * msg G_GNUC_UNUSED,
    gpointer user_data)
{
  ConnectionDrop *drop = user_data;
  GSource *source;

  if (drop->scheduled)
    return;
  drop->scheduled = TRUE;

  source = g_idle_source_new ();
  g_source_set_callback (source, drop_connection_now, drop,
      (GDestroyNotify) connection_drop_free);
  g_source_attach (source, drop->em->context);
  g_source_unref (source);
}

static void
on_drop_message_finished (SoupServerMessage * msg G_GNUC_UNUSED,
    gpointer user_data)
{
  ConnectionDrop *drop = user_data;

  drop->finished = TRUE;
  if (!drop->scheduled)
    connection_drop_free (drop);
}

static void
arm_connection_drop (LumaEmulator * em, SoupServerMessage * msg,
    gboolean right_after_headers)
{
  ConnectionDrop *drop = g_new0 (ConnectionDrop, 1);

  drop->em = em;
  drop->msg = g_object_ref (msg);
  g_signal_connect (msg, "finished", G_CALLBACK (on_drop_message_finished),
      drop);
  g_signal_connect (msg, right_after_headers ? "wrote-headers" :
      "wrote-chunk", G_CALLBACK (on_drop_point_reached), drop);
}

/* --- the result-file host: a body sent at a set rate --- */

#define PACE_INTERVAL_MS 20

typedef struct
{
  LumaEmulator *em;
  SoupServerMessage *msg;
  GBytes *body;                 /* what is to be sent, all of it */
  gsize sent;
  gsize piece;                  /* bytes a tick */
  GSource *ticks;
} Pacer;

static void
pacer_free (gpointer data)
{
  Pacer *pacer = data;

  g_signal_handlers_disconnect_by_data (pacer->msg, pacer);
  g_object_unref (pacer->msg);
  g_bytes_unref (pacer->body);
  g_free (pacer);
}

/* One piece more; the body is complete after the last one. */
static gboolean
send_next_piece (gpointer data)
{
  Pacer *pacer = data;
  SoupMessageBody *body;
  gsize total = g_bytes_get_size (pacer->body);
  gsize length = MIN (pacer->piece, total - pacer->sent);
  g_autoptr (GBytes) piece = NULL;

  if (pacer->em->shutting_down)
    return G_SOURCE_REMOVE;
  body = soup_server_message_get_response_body (pacer->msg);
  piece = g_bytes_new_from_bytes (pacer->body, pacer->sent, length);
  soup_message_body_append_bytes (body, piece);
  pacer->sent += length;
  if (pacer->sent == total)
    soup_message_body_complete (body);
  /* libsoup paused the message when the body it had ran out */
  soup_server_message_unpause (pacer->msg);
  return pacer->sent < total ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* The client went away, or the body is all sent: no more ticks. */
static void
on_paced_message_finished (SoupServerMessage * msg G_GNUC_UNUSED,
    gpointer user_data)
{
  Pacer *pacer = user_data;

  g_source_destroy (pacer->ticks);
}

static void
start_pacer (LumaEmulator * em, SoupServerMessage * msg,
    const VideoAnswer * answer)
{
  Pacer *pacer = g_new0 (Pacer, 1);

  pacer->em = em;
  pacer->msg = g_object_ref (msg);
  pacer->body = g_bytes_new_from_bytes (answer->video, answer->start,
      answer->length);
  pacer->piece = MAX (answer->rate * PACE_INTERVAL_MS / 1000, 1);
  pacer->ticks = g_timeout_source_new (PACE_INTERVAL_MS);
  g_source_set_callback (pacer->ticks, send_next_piece, pacer, pacer_free);
  g_signal_connect (msg, "finished", G_CALLBACK (on_paced_message_finished),
      pacer);
  g_source_attach (pacer->ticks, em->context);
  g_source_unref (pacer->ticks);
}

/* --- the result-file host: sending the answer --- */

static void
send_text (SoupServerMessage * msg, guint status, const gchar * content_type,
    const gchar * text)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY,
      text, strlen (text));
}

static void
send_failure (SoupServerMessage * msg, const VideoAnswer * answer)
{
  const gchar *phrase = soup_status_get_phrase (answer->status);
  g_autofree gchar *text = NULL;

  if (answer->retry_after != NULL)
    soup_message_headers_replace (soup_server_message_get_response_headers
        (msg), "Retry-After", answer->retry_after);

  /* what a CDN that blocks a client tends to send */
  if (answer->html) {
    text = g_strdup_printf ("<html>\n<head><title>%u %s</title></head>\n"
        "<body>\n<h1>Access denied</h1>\n"
        "<p>You don't have permission to access this resource.</p>\n"
        "</body>\n</html>\n", answer->status, phrase);
    send_text (msg, answer->status, "text/html; charset=utf-8", text);
  } else {
    text = g_strdup_printf ("%u %s\n", answer->status, phrase);
    send_text (msg, answer->status, "text/plain; charset=utf-8", text);
  }
}

static void
send_redirect (SoupServerMessage * msg, const VideoAnswer * answer)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  /* verbatim, not resolved against the request: any scheme goes */
  soup_server_message_set_status (msg, answer->status, NULL);
  soup_message_headers_replace (headers, "Location", answer->location);
  soup_message_headers_set_content_length (headers, 0);
}

static void
send_unsatisfiable (SoupServerMessage * msg, const VideoAnswer * answer)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  g_autofree gchar *content_range = g_strdup_printf ("bytes */%"
      G_GSIZE_FORMAT, answer->total);

  soup_server_message_set_status (msg, answer->status, NULL);
  soup_message_headers_replace (headers, "Content-Range", content_range);
  soup_message_headers_set_content_length (headers, 0);
}

static void
append_video_slice (SoupMessageBody * body, const VideoAnswer * answer,
    gsize length)
{
  g_autoptr (GBytes) slice = NULL;

  if (length == 0)
    return;
  slice = g_bytes_new_from_bytes (answer->video, answer->start, length);
  soup_message_body_append_bytes (body, slice);
}

/* as a CDN does: a video set anew (the same task's) is another version */
static gchar *
format_etag (guint version)
{
  return g_strdup_printf ("\"v%u\"", version);
}

static void
send_content (LumaEmulator * em, SoupServerMessage * msg,
    const VideoAnswer * answer)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  gboolean is_head = soup_server_message_get_method (msg) == SOUP_METHOD_HEAD;
  g_autofree gchar *etag = format_etag (answer->version);

  if (answer->delivery == DELIVERY_STALL && answer->cut == 0) {
    /* not even a status line: the client waits for headers forever */
    soup_server_message_pause (msg);
    return;
  }

  soup_server_message_set_status (msg, answer->status, NULL);
  soup_message_headers_set_content_type (headers, "video/mp4", NULL);
  soup_message_headers_replace (headers, "Accept-Ranges", "bytes");
  if (answer->version != 0)
    soup_message_headers_replace (headers, "ETag", etag);
  /* the full length, also when less will come */
  soup_message_headers_set_content_length (headers, answer->length);
  /* a broken Content-Range, or none, goes with the true body */
  if (answer->content_range != NULL && answer->content_range[0] != '\0')
    soup_message_headers_replace (headers, "Content-Range",
        answer->content_range);
  else if (answer->partial && answer->content_range == NULL)
    soup_message_headers_set_content_range (headers, answer->start,
        answer->start + answer->length - 1, answer->total);

  /* Not accumulating keeps libsoup from applying Range on its own to a 200
   * (ignore_range) and from copying the file. */
  soup_message_body_set_accumulate (body, FALSE);
  if (is_head)
    return;

  switch (answer->delivery) {
    case DELIVERY_WHOLE:
      append_video_slice (body, answer, answer->length);
      soup_message_body_complete (body);
      break;
    case DELIVERY_STALL:
      /* libsoup pauses the message by itself when the body runs out */
      append_video_slice (body, answer, answer->cut);
      break;
    case DELIVERY_DROP:
      append_video_slice (body, answer, answer->cut);
      arm_connection_drop (em, msg, answer->cut == 0);
      break;
    case DELIVERY_PACED:
      start_pacer (em, msg, answer);
      break;
  }
}

static void
send_video_answer (LumaEmulator * em, SoupServerMessage * msg,
    const VideoAnswer * answer)
{
  switch (answer->kind) {
    case VIDEO_NOT_FOUND:
      send_text (msg, SOUP_STATUS_NOT_FOUND, "text/plain; charset=utf-8",
          "404 Not Found\n");
      break;
    case VIDEO_FAIL:
      send_failure (msg, answer);
      break;
    case VIDEO_REDIRECT:
      send_redirect (msg, answer);
      break;
    case VIDEO_UNSATISFIABLE:
      send_unsatisfiable (msg, answer);
      break;
    case VIDEO_CONTENT:
      send_content (em, msg, answer);
      break;
  }
}

/* The client's end of the connection @msg came over: its port tells one
 * connection from another. */
static gchar *
client_of (SoupServerMessage * msg)
{
  GSocketAddress *address = soup_server_message_get_remote_address (msg);

  return g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
}

/* A fresh link's answer: the task's video, as a good server sends it. */
static void
plan_fresh_answer (TaskEntry * entry, gboolean is_head, const gchar * range,
    VideoAnswer * answer)
{
  LumaEmulatorVideoFaults faults = entry->faults;
  /* the drops left are the faulty answers' too: with drop_after zeroed,
   * a fresh answer would be cut at its first byte */
  guint drop_left = entry->drop_left;

  memset (&entry->faults, 0, sizeof entry->faults);
  entry->drop_left = 0;
  plan_faulty_answer (entry, is_head, range, answer);
  entry->faults = faults;
  entry->drop_left = drop_left;
}

/* Whether the host's faults are for a request of @range (only_below). */
static gboolean
faults_apply (TaskEntry * entry, const gchar * range)
{
  gsize start = 0, length;

  if (entry->faults.only_below == 0 || entry->video == NULL)
    return TRUE;
  if (parse_single_range (range, g_bytes_get_size (entry->video), &start,
          &length) != RANGE_SATISFIABLE)
    start = 0;
  return start < entry->faults.only_below;
}

static void
plan_video_answer (TaskEntry * entry, gboolean is_head, const gchar * range,
    VideoAnswer * answer)
{
  if (faults_apply (entry, range))
    plan_faulty_answer (entry, is_head, range, answer);
  else
    plan_fresh_answer (entry, is_head, range, answer);
}

static void
handle_video_request (SoupServer * server G_GNUC_UNUSED,
    SoupServerMessage * msg, const char *path,
    GHashTable * query G_GNUC_UNUSED, gpointer user_data)
{
  LumaEmulator *em = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const gchar *method = soup_server_message_get_method (msg);
  g_autofree gchar *task_id = task_id_from_path (path, RESULT_PATH_PREFIX);
  g_autofree gchar *fresh_id = task_id_from_path (path, FRESH_PATH_PREFIX);
  VideoAnswer answer = { 0, };  /* VIDEO_NOT_FOUND */

  g_mutex_lock (&em->lock);
  /* the key must never reach this host, whatever the path */
  if (soup_message_headers_get_one (headers, "Authorization") != NULL)
    em->video_auth_requests++;
  g_hash_table_add (em->video_clients, client_of (msg));

  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    g_mutex_unlock (&em->lock);
    soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
    return;
  }

  if (task_id != NULL)
    plan_video_answer (lookup_entry (em, task_id, TRUE),
        method == SOUP_METHOD_HEAD,
        soup_message_headers_get_one (headers, "Range"), &answer);
  else if (fresh_id != NULL)
    plan_fresh_answer (lookup_entry (em, fresh_id, TRUE),
        method == SOUP_METHOD_HEAD,
        soup_message_headers_get_one (headers, "Range"), &answer);
  g_mutex_unlock (&em->lock);

  send_video_answer (em, msg, &answer);
  video_answer_clear (&answer);
}

/* --- the upload host, defined at the end of this file --- */

static struct _UploadHost *upload_host_new (void);
static void upload_host_free (struct _UploadHost *upload);
static gboolean upload_host_listen (LumaEmulator * em, GError ** error);
static void upload_host_close (LumaEmulator * em);

/* --- the emulator thread --- */

static SoupServer *
listen_on_loopback (guint port, guint * bound_port, GError ** error)
{
  g_autoptr (SoupServer) server = soup_server_new ("server-header",
      "luma-emulator ", NULL);
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback,
      port);
  g_autoptr (GSocketAddress) bound_address = NULL;
  GSList *listeners;

  if (!soup_server_listen (server, address, 0, error))
    return NULL;

  /* from the socket, as soup_server_get_uris () leaks in libsoup 3.2 */
  listeners = soup_server_get_listeners (server);
  bound_address = g_socket_get_local_address (listeners->data, error);
  g_slist_free (listeners);
  if (bound_address == NULL)
    return NULL;
  *bound_port =
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound_address));

  return g_steal_pointer (&server);
}

static gboolean
create_servers (LumaEmulator * em, guint * api_port, guint * video_port,
    GError ** error)
{
  em->api_server = listen_on_loopback (em->wanted_api_port, api_port, error);
  if (em->api_server == NULL)
    return FALSE;
  em->video_server = listen_on_loopback (em->wanted_video_port, video_port,
      error);
  if (em->video_server == NULL)
    return FALSE;

  /* default handlers: every path comes to us, to be counted */
  soup_server_add_handler (em->api_server, NULL, handle_api_request, em, NULL);
  soup_server_add_handler (em->video_server, NULL, handle_video_request, em,
      NULL);
  return upload_host_listen (em, error);
}

static void
destroy_servers (LumaEmulator * em)
{
  guint i;

  /* so that a pending connection drop leaves the messages alone */
  em->shutting_down = TRUE;

  /* closes every connection, stalled ones included */
  if (em->api_server != NULL)
    soup_server_disconnect (em->api_server);
  if (em->video_server != NULL)
    soup_server_disconnect (em->video_server);
  upload_host_close (em);
  g_clear_object (&em->api_server);
  g_clear_object (&em->video_server);
  if (em->fetcher != NULL)
    soup_session_abort (em->fetcher);

  /* let libsoup finish what it queued while disconnecting */
  for (i = 0; i < 100 && g_main_context_iteration (em->context, FALSE); i++);
  g_clear_object (&em->fetcher);
}

static void
report_started (LumaEmulator * em, guint api_port, guint video_port,
    GError * error)
{
  g_mutex_lock (&em->lock);
  em->start_error = error;
  if (error == NULL) {
    em->api_port = api_port;
    em->video_port = video_port;
  }
  em->start_done = TRUE;
  g_cond_signal (&em->start_cond);
  g_mutex_unlock (&em->lock);
}

static gpointer
emulator_thread_main (gpointer user_data)
{
  LumaEmulator *em = user_data;
  GError *error = NULL;
  guint api_port = 0, video_port = 0;

  em->context = g_main_context_new ();
  em->loop = g_main_loop_new (em->context, FALSE);
  /* libsoup attaches its sources to the thread-default context */
  g_main_context_push_thread_default (em->context);

  if (create_servers (em, &api_port, &video_port, &error)) {
    report_started (em, api_port, video_port, NULL);
    g_main_loop_run (em->loop);
  } else {
    report_started (em, 0, 0, error);
  }

  destroy_servers (em);
  g_main_context_pop_thread_default (em->context);
  return NULL;
}

static gboolean
quit_emulator_loop (gpointer user_data)
{
  LumaEmulator *em = user_data;

  g_main_loop_quit (em->loop);
  return G_SOURCE_REMOVE;
}

/* --- public API --- */

LumaEmulator *
luma_emulator_new (const gchar * api_key)
{
  LumaEmulator *em = g_new0 (LumaEmulator, 1);

  g_mutex_init (&em->lock);
  g_cond_init (&em->start_cond);
  em->api_key = g_strdup (api_key);
  em->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) task_entry_free);
  em->video_clients = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  em->upload = upload_host_new ();
  return em;
}

gboolean
luma_emulator_start (LumaEmulator * em, guint api_port, guint video_port,
    GError ** error)
{
  g_return_val_if_fail (em != NULL, FALSE);
  g_return_val_if_fail (em->thread == NULL, FALSE);

  g_mutex_lock (&em->lock);
  em->start_done = FALSE;
  em->wanted_api_port = api_port;
  em->wanted_video_port = video_port;
  g_mutex_unlock (&em->lock);
  em->thread = g_thread_new ("luma-emulator", emulator_thread_main, em);

  g_mutex_lock (&em->lock);
  while (!em->start_done)
    g_cond_wait (&em->start_cond, &em->lock);
  if (em->start_error != NULL) {
    g_propagate_error (error, g_steal_pointer (&em->start_error));
    g_mutex_unlock (&em->lock);
    g_thread_join (g_steal_pointer (&em->thread));
    g_clear_pointer (&em->loop, g_main_loop_unref);
    g_clear_pointer (&em->context, g_main_context_unref);
    return FALSE;
  }
  g_mutex_unlock (&em->lock);
  return TRUE;
}

void
luma_emulator_free (LumaEmulator * em)
{
  GSource *source;

  if (em == NULL)
    return;

  if (em->thread != NULL) {
    /* a source rather than g_main_loop_quit (): it cannot be lost if the
     * loop has not started running yet */
    source = g_idle_source_new ();
    g_source_set_callback (source, quit_emulator_loop, em, NULL);
    g_source_attach (source, em->context);
    g_source_unref (source);
    g_thread_join (em->thread);
  }
  g_clear_pointer (&em->loop, g_main_loop_unref);
  g_clear_pointer (&em->context, g_main_context_unref);

  g_hash_table_unref (em->entries);
  g_hash_table_unref (em->video_clients);
  g_queue_clear_full (&em->generate_scripted,
      (GDestroyNotify) scripted_reply_free);
  g_free (em->last_generate_body);
  upload_host_free (em->upload);
  g_free (em->api_key);
  g_clear_error (&em->start_error);
  g_cond_clear (&em->start_cond);
  g_mutex_clear (&em->lock);
  g_free (em);
}

static gchar *
local_url (LumaEmulator * em, const guint * port)
{
  gchar *url = NULL;

  g_mutex_lock (&em->lock);
  if (*port != 0)
    url = g_strdup_printf ("http://127.0.0.1:%u", *port);
  g_mutex_unlock (&em->lock);
  return url;
}

gchar *
luma_emulator_get_api_url (LumaEmulator * em)
{
  return local_url (em, &em->api_port);
}

gchar *
luma_emulator_get_video_url_base (LumaEmulator * em)
{
  return local_url (em, &em->video_port);
}

static void
replace_string (gchar ** field, const gchar * value)
{
  g_free (*field);
  *field = g_strdup (value);
}

void
luma_emulator_add_task (LumaEmulator * em, const LumaEmulatorTask * task)
{
  TaskEntry *entry;

  g_return_if_fail (task != NULL && task->task_id != NULL);

  g_mutex_lock (&em->lock);
  entry = lookup_entry (em, task->task_id, TRUE);
  entry->known = TRUE;
  g_clear_pointer (&entry->video, g_bytes_unref);
  if (task->video != NULL)
    entry->video = g_bytes_ref (task->video);
  entry->video_version = ++em->video_versions;
  entry->generating_polls = task->generating_polls;
  entry->generating_ms = task->generating_ms;
  entry->final_flag = task->final_flag;
  replace_string (&entry->error_code, task->error_code);
  replace_string (&entry->error_message, task->error_message);
  replace_string (&entry->prompt, task->prompt);
  entry->create_time_ms = g_get_real_time () / 1000;

  /* a task added again starts over */
  entry->record_answers = 0;
  entry->finished = FALSE;
  entry->complete_time_ms = 0;
  g_mutex_unlock (&em->lock);
}

gchar *
luma_emulator_get_video_etag (LumaEmulator * em, const gchar * task_id)
{
  TaskEntry *entry;
  gchar *etag = NULL;

  g_mutex_lock (&em->lock);
  entry = lookup_entry (em, task_id, FALSE);
  if (entry != NULL && entry->video != NULL)
    etag = format_etag (entry->video_version);
  g_mutex_unlock (&em->lock);
  return etag;
}

void
luma_emulator_set_video_faults (LumaEmulator * em, const gchar * task_id,
    const LumaEmulatorVideoFaults * faults)
{
  static const LumaEmulatorVideoFaults no_faults = { 0, };
  TaskEntry *entry;

  g_return_if_fail (task_id != NULL);
  if (faults == NULL)
    faults = &no_faults;

  g_mutex_lock (&em->lock);
  entry = lookup_entry (em, task_id, TRUE);
  entry->faults = *faults;
  entry->faults.redirect_to = NULL;
  entry->faults.fail_retry_after = NULL;
  entry->faults.partial_content_range = NULL;
  replace_string (&entry->redirect_to, faults->redirect_to);
  replace_string (&entry->fail_retry_after, faults->fail_retry_after);
  replace_string (&entry->partial_content_range, faults->partial_content_range);
  entry->dropped = FALSE;
  entry->fail_left = faults->fail_count;
  entry->drop_left = faults->drop_count;
  g_mutex_unlock (&em->lock);
}

void
luma_emulator_set_result_url (LumaEmulator * em, const gchar * task_id,
    const gchar * url)
{
  g_return_if_fail (task_id != NULL);

  g_mutex_lock (&em->lock);
  replace_string (&lookup_entry (em, task_id, TRUE)->result_url, url);
  g_mutex_unlock (&em->lock);
}

void
luma_emulator_push_record_reply (LumaEmulator * em, const gchar * task_id,
    guint http_status, const gchar * retry_after, const gchar * content_type,
    const gchar * body)
{
  ScriptedReply *reply;

  g_return_if_fail (task_id != NULL);

  reply = g_new0 (ScriptedReply, 1);
  reply->http_status = http_status;
  reply->retry_after = g_strdup (retry_after);
  reply->content_type = g_strdup (content_type);
  reply->body = g_strdup (body);

  g_mutex_lock (&em->lock);
  g_queue_push_tail (&lookup_entry (em, task_id, TRUE)->scripted, reply);
  g_mutex_unlock (&em->lock);
}

void
luma_emulator_push_record_redirect (LumaEmulator * em, const gchar * task_id,
    const gchar * location)
{
  ScriptedReply *reply;

  g_return_if_fail (task_id != NULL && location != NULL);

  reply = g_new0 (ScriptedReply, 1);
  reply->http_status = SOUP_STATUS_FOUND;
  reply->content_type = g_strdup ("text/plain");
  reply->location = g_strdup (location);

  g_mutex_lock (&em->lock);
  g_queue_push_tail (&lookup_entry (em, task_id, TRUE)->scripted, reply);
  g_mutex_unlock (&em->lock);
}

/* Counters are written by the emulator thread: read them under the lock. */
static guint
read_counter (LumaEmulator * em, const guint * counter)
{
  guint count;

  g_mutex_lock (&em->lock);
  count = *counter;
  g_mutex_unlock (&em->lock);
  return count;
}

/* A task's counter at @offset in its entry; 0 for a task never seen. */
static guint
read_task_counter (LumaEmulator * em, const gchar * task_id, glong offset)
{
  TaskEntry *entry;
  guint count;

  g_mutex_lock (&em->lock);
  entry = lookup_entry (em, task_id, FALSE);
  count = entry != NULL ? G_STRUCT_MEMBER (guint, entry, offset) : 0;
  g_mutex_unlock (&em->lock);
  return count;
}

guint
luma_emulator_get_api_auth_requests (LumaEmulator * em)
{
  return read_counter (em, &em->api_auth_requests);
}

guint
luma_emulator_get_record_requests (LumaEmulator * em, const gchar * task_id)
{
  return read_task_counter (em, task_id, G_STRUCT_OFFSET (TaskEntry,
          record_requests));
}

guint
luma_emulator_get_video_requests (LumaEmulator * em, const gchar * task_id)
{
  return read_task_counter (em, task_id, G_STRUCT_OFFSET (TaskEntry,
          video_requests));
}

guint
luma_emulator_get_video_auth_requests (LumaEmulator * em)
{
  return read_counter (em, &em->video_auth_requests);
}

guint
luma_emulator_get_video_connections (LumaEmulator * em)
{
  guint connections;

  g_mutex_lock (&em->lock);
  connections = g_hash_table_size (em->video_clients);
  g_mutex_unlock (&em->lock);
  return connections;
}

gchar *
luma_emulator_get_last_range (LumaEmulator * em, const gchar * task_id)
{
  TaskEntry *entry;
  gchar *range;

  g_mutex_lock (&em->lock);
  entry = lookup_entry (em, task_id, FALSE);
  range = entry != NULL ? g_strdup (entry->last_range) : NULL;
  g_mutex_unlock (&em->lock);
  return range;
}

/* --- the upload host: KIE's File Upload API --- */

/* A third server, like KIE's kieai.redpandaai.co: POST
 * /api/file-stream-upload takes a multipart/form-data body (file,
 * uploadPath, fileName) with the API key, keeps the file in memory and
 * serves it, without a key, at /files/<uploadPath>/<fileName>. */

#define UPLOAD_PATH "/api/file-stream-upload"
#define FILES_PATH_PREFIX "/files/"
#define UPLOAD_BODY_KEY "luma-emulator-upload-body"
/* a GByteArray counts its length in a guint: stay well below */
#define UPLOAD_MAX_BODY (G_GUINT64_CONSTANT (2) << 30)

typedef struct _UploadHost
{
  /* under em->lock */
  guint wanted_port;
  guint port;                   /* 0 until started */
  GHashTable *files;            /* "uploadPath/fileName" -> GBytes */
  GHashTable *last_fields;      /* form fields of the last stored upload */
  GQueue scripted;              /* of ScriptedReply */
  guint answer_delay_ms;
  guint requests;               /* to the API paths (not /files/) */
  guint auth_requests;          /*   of which with Authorization */
  guint downloads;              /* GET and HEAD of /files/ */
  guint download_auth_requests; /*   of which with Authorization */
  guint uploads;                /* files stored */

  /* the emulator thread only */
  SoupServer *server;
  GHashTable *delayed;          /* SoupServerMessage -> DelayedAnswer */
} UploadHost;

/* What arrives of an upload's body. SoupServer would keep the chunks and
 * copy them into one block when the handler flattens the body (twice the
 * file in memory); collecting them here into one block sized from
 * Content-Length keeps a single copy, which the stored file then shares. */
typedef struct
{
  GByteArray *data;
  gboolean too_large;
} UploadBody;

/* An answer held back for answer_delay_ms after the body arrived. */
typedef struct
{
  LumaEmulator *em;
  SoupServerMessage *msg;
  GSource *timer;
} DelayedAnswer;

static void
upload_body_free (UploadBody * body)
{
  g_clear_pointer (&body->data, g_byte_array_unref);
  g_free (body);
}

static void
delayed_answer_free (DelayedAnswer * delayed)
{
  g_signal_handlers_disconnect_by_data (delayed->msg, delayed);
  g_source_destroy (delayed->timer);
  g_source_unref (delayed->timer);
  g_object_unref (delayed->msg);
  g_free (delayed);
}

static UploadHost *
upload_host_new (void)
{
  UploadHost *up = g_new0 (UploadHost, 1);

  up->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_bytes_unref);
  g_queue_init (&up->scripted);
  up->delayed = g_hash_table_new_full (NULL, NULL, NULL,
      (GDestroyNotify) delayed_answer_free);
  return up;
}

static void
upload_host_free (UploadHost * up)
{
  g_hash_table_unref (up->files);
  g_clear_pointer (&up->last_fields, g_hash_table_unref);
  g_queue_clear_full (&up->scripted, (GDestroyNotify) scripted_reply_free);
  g_hash_table_unref (up->delayed);
  g_free (up);
}

static gboolean
has_authorization (SoupServerMessage * msg)
{
  return soup_message_headers_get_one (soup_server_message_get_request_headers
      (msg), "Authorization") != NULL;
}

/* {"success":..,"code":..,"msg":..[,"data":..]}, with @http_status; takes
 * @data. */
static void
upload_reply (SoupServerMessage * msg, guint http_status, gint code,
    const gchar * text, JsonNode * data)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  gchar *body;
  gsize length;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "success");
  json_builder_add_boolean_value (builder, code == 200);
  json_builder_set_member_name (builder, "code");
  json_builder_add_int_value (builder, code);
  json_builder_set_member_name (builder, "msg");
  json_builder_add_string_value (builder, text);
  if (data != NULL) {
    json_builder_set_member_name (builder, "data");
    json_builder_add_value (builder, data);
  }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  body = json_generator_to_data (generator, &length);
  soup_server_message_set_status (msg, http_status, NULL);
  soup_server_message_set_response (msg, "application/json",
      SOUP_MEMORY_TAKE, body, length);
}

static void
upload_reply_error (SoupServerMessage * msg, gint code, const gchar * text)
{
  upload_reply (msg, code, code, text, NULL);
}

static void
on_upload_chunk (SoupServerMessage * msg G_GNUC_UNUSED, GBytes * chunk,
    gpointer user_data)
{
  UploadBody *body = user_data;
  gsize size;
  gconstpointer data = g_bytes_get_data (chunk, &size);

  if (body->too_large || body->data->len + (guint64) size > UPLOAD_MAX_BODY) {
    /* the rest is read and dropped: the answer says why */
    body->too_large = TRUE;
    return;
  }
  g_byte_array_append (body->data, data, size);
}

/* Called once the headers of a request are in, before its body. */
static void
handle_upload_host_headers (SoupServer * server G_GNUC_UNUSED,
    SoupServerMessage * msg, const char *path,
    GHashTable * query G_GNUC_UNUSED, gpointer user_data G_GNUC_UNUSED)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  gboolean has_length = soup_message_headers_get_encoding (headers) ==
      SOUP_ENCODING_CONTENT_LENGTH;
  goffset length = has_length ?
      soup_message_headers_get_content_length (headers) : 0;
  UploadBody *body;

  if (strcmp (path, UPLOAD_PATH) != 0
      || soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    return;

  body = g_new0 (UploadBody, 1);
  body->too_large = (guint64) length > UPLOAD_MAX_BODY;
  body->data = g_byte_array_sized_new (body->too_large ? 0 : length);
  g_object_set_data_full (G_OBJECT (msg), UPLOAD_BODY_KEY, body,
      (GDestroyNotify) upload_body_free);
  soup_message_body_set_accumulate (soup_server_message_get_request_body
      (msg), FALSE);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_upload_chunk), body);
}

static gboolean
release_delayed_answer (gpointer user_data)
{
  DelayedAnswer *delayed = user_data;

  soup_server_message_unpause (delayed->msg);
  /* frees @delayed and destroys this source */
  g_hash_table_remove (delayed->em->upload->delayed, delayed->msg);
  return G_SOURCE_REMOVE;
}

/* The client went away (or the server stops) before the answer was due. */
static void
on_delayed_message_finished (SoupServerMessage * msg, gpointer user_data)
{
  DelayedAnswer *delayed = user_data;

  g_hash_table_remove (delayed->em->upload->delayed, msg);
}

/* Holds the answer that is already set on @msg back for @delay_ms, in the
 * emulator's context: its thread goes on serving others meanwhile. */
static void
delay_answer (LumaEmulator * em, SoupServerMessage * msg, guint delay_ms)
{
  DelayedAnswer *delayed = g_new0 (DelayedAnswer, 1);

  delayed->em = em;
  delayed->msg = g_object_ref (msg);
  delayed->timer = g_timeout_source_new (delay_ms);
  g_source_set_callback (delayed->timer, release_delayed_answer, delayed, NULL);
  g_signal_connect (msg, "finished", G_CALLBACK (on_delayed_message_finished),
      delayed);
  g_hash_table_insert (em->upload->delayed, msg, delayed);

  soup_server_message_pause (msg);
  g_source_attach (delayed->timer, em->context);
}

/* A folder name: relative, no empty, "." or ".." segment, no control
 * character. */
static gboolean
upload_path_is_valid (const gchar * path)
{
  g_auto (GStrv) segments = NULL;
  guint i;

  if (path == NULL || *path == '\0' || !g_utf8_validate (path, -1, NULL))
    return FALSE;
  segments = g_strsplit (path, "/", -1);
  for (i = 0; segments[i] != NULL; i++) {
    const gchar *p;

    if (*segments[i] == '\0' || strcmp (segments[i], ".") == 0
        || strcmp (segments[i], "..") == 0)
      return FALSE;
    for (p = segments[i]; *p != '\0'; p++)
      if (g_ascii_iscntrl (*p))
        return FALSE;
  }
  return TRUE;
}

static JsonNode *
build_upload_data (const gchar * file_name, const gchar * file_path,
    const gchar * download_url, gsize size, const gchar * mime_type)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *uploaded_at = g_date_time_format_iso8601 (now);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "fileName");
  json_builder_add_string_value (builder, file_name);
  json_builder_set_member_name (builder, "filePath");
  json_builder_add_string_value (builder, file_path);
  json_builder_set_member_name (builder, "downloadUrl");
  json_builder_add_string_value (builder, download_url);
  json_builder_set_member_name (builder, "fileSize");
  json_builder_add_int_value (builder, size);
  json_builder_set_member_name (builder, "mimeType");
  json_builder_add_string_value (builder, mime_type);
  json_builder_set_member_name (builder, "uploadedAt");
  json_builder_add_string_value (builder, uploaded_at);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

/* Reads the form with libsoup's multipart parser, stores the file and
 * answers with its download URL. */
static void
store_upload (LumaEmulator * em, SoupServerMessage * msg, UploadBody * body)
{
  UploadHost *up = em->upload;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GHashTable) fields = NULL;
  g_autoptr (GBytes) file = NULL;
  g_autofree gchar *part_filename = NULL;
  g_autofree gchar *part_type = NULL;
  g_autofree gchar *key = NULL;
  g_autofree gchar *escaped_path = NULL;
  g_autofree gchar *escaped_name = NULL;
  g_autofree gchar *download_url = NULL;
  SoupMultipart *multipart;
  const gchar *upload_path, *file_name;

  if (body == NULL || body->too_large) {
    upload_reply_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
        "File too large");
    return;
  }
  bytes = g_byte_array_free_to_bytes (g_steal_pointer (&body->data));
  multipart = soup_multipart_new_from_message
      (soup_server_message_get_request_headers (msg), bytes);
  if (multipart == NULL) {
    upload_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
        "Expected a multipart/form-data body");
    return;
  }
  /* frees the multipart */
  fields = soup_form_decode_multipart (multipart, "file", &part_filename,
      &part_type, &file);
  if (fields == NULL || file == NULL) {
    upload_reply_error (msg, 422, "file is required");
    return;
  }

  upload_path = g_hash_table_lookup (fields, "uploadPath");
  file_name = g_hash_table_lookup (fields, "fileName");
  if (file_name == NULL || *file_name == '\0')
    file_name = part_filename;
  if (!upload_path_is_valid (upload_path)) {
    upload_reply_error (msg, 422, "uploadPath is required (a folder name)");
    return;
  }
  if (file_name == NULL || strchr (file_name, '/') != NULL
      || !upload_path_is_valid (file_name)) {
    upload_reply_error (msg, 422, "fileName is required (a file name)");
    return;
  }

  key = g_strconcat (upload_path, "/", file_name, NULL);
  escaped_path = g_uri_escape_string (upload_path, "/", FALSE);
  escaped_name = g_uri_escape_string (file_name, NULL, FALSE);

  g_mutex_lock (&em->lock);
  download_url = g_strdup_printf ("http://127.0.0.1:%u" FILES_PATH_PREFIX
      "%s/%s", up->port, escaped_path, escaped_name);
  /* the part is a slice of the body: nothing is copied */
  g_hash_table_replace (up->files, g_strdup (key), g_bytes_ref (file));
  g_clear_pointer (&up->last_fields, g_hash_table_unref);
  up->last_fields = g_hash_table_ref (fields);
  up->uploads++;
  g_mutex_unlock (&em->lock);

  upload_reply (msg, SOUP_STATUS_OK, 200, "File uploaded successfully",
      build_upload_data (file_name, key, download_url,
          g_bytes_get_size (file),
          part_type != NULL ? part_type : "application/octet-stream"));
}

static void
handle_upload (LumaEmulator * em, SoupServerMessage * msg)
{
  UploadHost *up = em->upload;
  UploadBody *body = g_object_steal_data (G_OBJECT (msg), UPLOAD_BODY_KEY);
  ScriptedReply *scripted;
  guint delay_ms;

  g_mutex_lock (&em->lock);
  scripted = g_queue_pop_head (&up->scripted);
  delay_ms = up->answer_delay_ms;
  g_mutex_unlock (&em->lock);

  /* scripted replies come before anything else, even the key check */
  if (scripted != NULL) {
    reply_scripted (msg, scripted);
    scripted_reply_free (scripted);
  } else if (!request_is_authorized (em, msg)) {
    upload_reply_error (msg, SOUP_STATUS_UNAUTHORIZED, NO_ACCESS_TEXT);
  } else {
    store_upload (em, msg, body);
  }
  if (body != NULL)
    upload_body_free (body);

  if (delay_ms > 0)
    delay_answer (em, msg, delay_ms);
}

static void
handle_download (LumaEmulator * em, SoupServerMessage * msg, const gchar * path)
{
  UploadHost *up = em->upload;
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  const gchar *method = soup_server_message_get_method (msg);
  g_autoptr (GBytes) file = NULL;

  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
    return;
  }

  g_mutex_lock (&em->lock);
  up->downloads++;
  /* public URLs: the key must never come here */
  if (has_authorization (msg))
    up->download_auth_requests++;
  file = g_hash_table_lookup (up->files, path + strlen (FILES_PATH_PREFIX));
  if (file != NULL)
    g_bytes_ref (file);
  g_mutex_unlock (&em->lock);

  if (file == NULL) {
    send_text (msg, SOUP_STATUS_NOT_FOUND, "text/plain; charset=utf-8",
        "404 Not Found\n");
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_set_content_type (headers, "application/octet-stream",
      NULL);
  soup_message_headers_set_content_length (headers, g_bytes_get_size (file));
  /* served from the stored bytes, not a copy */
  soup_message_body_set_accumulate (body, FALSE);
  if (method == SOUP_METHOD_GET && g_bytes_get_size (file) > 0)
    soup_message_body_append_bytes (body, file);
  soup_message_body_complete (body);
}

static void
handle_upload_host_request (SoupServer * server G_GNUC_UNUSED,
    SoupServerMessage * msg, const char *path,
    GHashTable * query G_GNUC_UNUSED, gpointer user_data)
{
  LumaEmulator *em = user_data;
  UploadHost *up = em->upload;

  if (g_str_has_prefix (path, FILES_PATH_PREFIX)) {
    handle_download (em, msg, path);
    return;
  }

  g_mutex_lock (&em->lock);
  up->requests++;
  if (has_authorization (msg))
    up->auth_requests++;
  g_mutex_unlock (&em->lock);

  if (strcmp (path, UPLOAD_PATH) != 0)
    upload_reply_error (msg, SOUP_STATUS_NOT_FOUND, "Not found");
  else if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    upload_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
        "Method not allowed");
  else
    handle_upload (em, msg);
}

static gboolean
upload_host_listen (LumaEmulator * em, GError ** error)
{
  UploadHost *up = em->upload;
  guint wanted, port = 0;

  g_mutex_lock (&em->lock);
  wanted = up->wanted_port;
  g_mutex_unlock (&em->lock);

  up->server = listen_on_loopback (wanted, &port, error);
  if (up->server == NULL)
    return FALSE;
  soup_server_add_early_handler (up->server, NULL,
      handle_upload_host_headers, em, NULL);
  soup_server_add_handler (up->server, NULL, handle_upload_host_request, em,
      NULL);

  g_mutex_lock (&em->lock);
  up->port = port;
  g_mutex_unlock (&em->lock);
  return TRUE;
}

static void
upload_host_close (LumaEmulator * em)
{
  UploadHost *up = em->upload;

  /* the held answers are dropped with their connections */
  g_hash_table_remove_all (up->delayed);
  if (up->server != NULL)
    soup_server_disconnect (up->server);
  g_clear_object (&up->server);
}

/* --- public API of the upload host --- */

void
luma_emulator_set_upload_port (LumaEmulator * em, guint port)
{
  g_mutex_lock (&em->lock);
  em->upload->wanted_port = port;
  g_mutex_unlock (&em->lock);
}

gchar *
luma_emulator_get_upload_url (LumaEmulator * em)
{
  return local_url (em, &em->upload->port);
}

void
luma_emulator_push_upload_reply (LumaEmulator * em, guint http_status,
    const gchar * retry_after, const gchar * body)
{
  ScriptedReply *reply = g_new0 (ScriptedReply, 1);

  reply->http_status = http_status;
  reply->retry_after = g_strdup (retry_after);
  reply->body = g_strdup (body);

  g_mutex_lock (&em->lock);
  g_queue_push_tail (&em->upload->scripted, reply);
  g_mutex_unlock (&em->lock);
}

void
luma_emulator_set_upload_answer_delay (LumaEmulator * em, guint ms)
{
  g_mutex_lock (&em->lock);
  em->upload->answer_delay_ms = ms;
  g_mutex_unlock (&em->lock);
}

guint
luma_emulator_get_uploads (LumaEmulator * em)
{
  return read_counter (em, &em->upload->uploads);
}

guint
luma_emulator_get_upload_requests (LumaEmulator * em)
{
  return read_counter (em, &em->upload->requests);
}

guint
luma_emulator_get_upload_auth_requests (LumaEmulator * em)
{
  return read_counter (em, &em->upload->auth_requests);
}

guint
luma_emulator_get_upload_downloads (LumaEmulator * em)
{
  return read_counter (em, &em->upload->downloads);
}

guint
luma_emulator_get_upload_download_auth_requests (LumaEmulator * em)
{
  return read_counter (em, &em->upload->download_auth_requests);
}

GBytes *
luma_emulator_get_uploaded_file (LumaEmulator * em, const gchar * download_url)
{
  g_autoptr (GUri) uri = g_uri_parse (download_url, G_URI_FLAGS_NONE, NULL);
  const gchar *path = uri != NULL ? g_uri_get_path (uri) : NULL;
  GBytes *file = NULL;

  if (path == NULL || !g_str_has_prefix (path, FILES_PATH_PREFIX))
    return NULL;

  g_mutex_lock (&em->lock);
  if (g_uri_get_port (uri) == (gint) em->upload->port) {
    file = g_hash_table_lookup (em->upload->files,
        path + strlen (FILES_PATH_PREFIX));
    if (file != NULL)
      g_bytes_ref (file);
  }
  g_mutex_unlock (&em->lock);
  return file;
}

gchar *
luma_emulator_get_last_upload_field (LumaEmulator * em, const gchar * name)
{
  gchar *value = NULL;

  g_mutex_lock (&em->lock);
  if (em->upload->last_fields != NULL)
    value = g_strdup (g_hash_table_lookup (em->upload->last_fields, name));
  g_mutex_unlock (&em->lock);
  return value;
}

/* --- task creation --- */

void
luma_emulator_set_created_timing (LumaEmulator * em, guint generating_polls,
    guint generating_ms)
{
  g_mutex_lock (&em->lock);
  em->created_generating_polls = generating_polls;
  em->created_generating_ms = generating_ms;
  g_mutex_unlock (&em->lock);
}

void
luma_emulator_set_generate_answer_delay (LumaEmulator * em, guint delay_ms)
{
  g_mutex_lock (&em->lock);
  em->generate_answer_delay_ms = delay_ms;
  g_mutex_unlock (&em->lock);
}

void
luma_emulator_push_generate_reply (LumaEmulator * em, guint http_status,
    const gchar * retry_after, const gchar * body)
{
  ScriptedReply *reply = g_new0 (ScriptedReply, 1);

  reply->http_status = http_status;
  reply->retry_after = g_strdup (retry_after);
  reply->body = g_strdup (body);
  g_mutex_lock (&em->lock);
  g_queue_push_tail (&em->generate_scripted, reply);
  g_mutex_unlock (&em->lock);
}

void
luma_emulator_push_generate_redirect (LumaEmulator * em, guint http_status,
    const gchar * location)
{
  ScriptedReply *reply = g_new0 (ScriptedReply, 1);

  reply->http_status = http_status;
  reply->content_type = g_strdup ("text/plain");
  reply->location = g_strdup (location);
  g_mutex_lock (&em->lock);
  g_queue_push_tail (&em->generate_scripted, reply);
  g_mutex_unlock (&em->lock);
}

guint
luma_emulator_get_download_url_requests (LumaEmulator * em)
{
  return read_counter (em, &em->download_url_requests);
}

guint
luma_emulator_get_creates (LumaEmulator * em)
{
  return read_counter (em, &em->creates);
}

guint
luma_emulator_get_generate_requests (LumaEmulator * em)
{
  return read_counter (em, &em->generate_requests);
}

gchar *
luma_emulator_get_last_generate_body (LumaEmulator * em)
{
  gchar *body;

  g_mutex_lock (&em->lock);
  body = g_strdup (em->last_generate_body);
  g_mutex_unlock (&em->lock);
  return body;
}
