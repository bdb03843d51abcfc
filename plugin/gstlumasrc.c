/* gst-luma: lumasrc, a source that streams the video of a Luma Modify task
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-lumasrc
 * @title: lumasrc
 *
 * lumasrc waits for a KIE.AI Luma Modify task to finish, then streams its
 * result video, like an HTTP source would: with byte offsets, a size, HTTP
 * Range seeking and resume after a dropped connection.
 *
 * The waiting happens in the streaming thread: setting the pipeline to
 * PAUSED or PLAYING returns at once (ASYNC) while the task generates, and
 * setting it back to NULL interrupts any wait or request. While it waits,
 * lumasrc posts GST_MESSAGE_PROGRESS messages (which gst-launch-1.0 prints)
 * and `luma-task` element messages; see `gst/luma/luma.h` for their fields.
 * The polls of all the sources of a process are made by a few shared
 * threads, over one HTTP session per set of settings, while each streaming
 * thread sleeps: hundreds of waiting sources cost little more than one.
 * Polls that fall due close together are made in one go: a poll may come a
 * sixteenth of its interval (20 ms at most) after it is due, never before.
 * The messages of a poll are posted from one of those threads, with those
 * of the other polls made in the same go, once the last is done. The videos
 * share connections too: a clip read to its end leaves its connection to
 * the next clip from the same host.
 *
 * The API key comes from the #GstLumaSrc:api-key property or, when that is
 * unset, from the `KIE_API_KEY` environment variable. It is only ever sent
 * to the API host, never to the host of the video, and never shows in a log
 * or a message.
 *
 * Every video streamed to its end is kept in a store, by default in
 * `$XDG_DATA_HOME/gst-luma/results` (#GstLumaSrc:store, #GstLumaSrc:store-dir,
 * #GstLumaSrc:store-limit, or the `GST_LUMA_STORE`, `GST_LUMA_STORE_DIR` and
 * `GST_LUMA_STORE_LIMIT` environment variables): opened again, the task is
 * read from there with no poll, no key and no network, after KIE deleted
 * its copy too. The bytes a seek skips (a clip that an editor opens at its
 * in-point) are downloaded in the background while the source is open, so
 * that the whole video is kept; what a stop cuts short is resumed at the
 * next open.
 *
 * ## Example launch lines
 * |[
 * export KIE_API_KEY=...
 * gst-launch-1.0 lumasrc task-id=774d9a7dd608a0e49293903095e45a4c ! filesink location=out.mp4
 * ]| Waits for the task, then saves its video as it is.
 * |[
 * gst-launch-1.0 lumasrc task-id=774d9a7dd608a0e49293903095e45a4c poll-interval=10000 ! decodebin ! autovideosink
 * ]| Polls every 10 seconds, then plays the video.
 * |[
 * gst-play-1.0 luma://774d9a7dd608a0e49293903095e45a4c
 * ]| The same through the `luma://` URI scheme.
 *
 * Since: 0.1
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlumasrc.h"
#include "lumaapi.h"
#include "lumaworkers.h"
#include "lumacreate.h"
#include "lumajournal.h"
#include "lumahttp.h"
#include "lumaproxy.h"
#include "lumasettings.h"
#include "lumastore.h"
#include "lumafill.h"
#include "lumastream.h"
#include "lumatext.h"
#include "lumauri.h"

#include <gst/luma/luma.h>
#include <glib/gi18n-lib.h>

GST_DEBUG_CATEGORY_STATIC (gst_luma_src_debug);
#define GST_CAT_DEFAULT gst_luma_src_debug

#define DEFAULT_RETRIES 3
#define DEFAULT_TIMEOUT 15
#define DEFAULT_USER_AGENT "gst-luma/" VERSION " (GStreamer lumasrc)"
#define DEFAULT_SSL_STRICT TRUE
/* The most one read asks for (the blocksize property). Fewer, larger reads
 * cost less per byte: 256 KiB takes about 40 % less CPU time per GiB than
 * 64 KiB, and larger sizes gain nothing more (BENCHMARKS.md). */
#define DEFAULT_BLOCKSIZE (256 * 1024)
/* Larger reads gain nothing, and a size near 4 GiB cannot be allocated. */
#define MAX_BLOCKSIZE (64 * 1024 * 1024)
#define DEFAULT_STORE GST_LUMA_STORE_MODE_ON
/* MiB: room for some 200 results of 20 MB */
#define DEFAULT_STORE_LIMIT 4096

/* after the shared ones, LUMA_TASK_PROP_* (lumasettings.h) */
enum
{
  PROP_TASK_ID = LUMA_TASK_PROP_LAST,
  PROP_RETRIES,
  PROP_TIMEOUT,
  PROP_USER_AGENT,
  PROP_PROXY,
  PROP_SSL_STRICT,
  PROP_TASK_STATE,
  PROP_RESULT_URL,
  PROP_VIDEO_URL,
  PROP_STORE,
  PROP_STORE_DIR,
  PROP_STORE_LIMIT,
};

static GParamSpec *task_state_pspec, *result_url_pspec;

/* What the user set; guarded by settings_lock, copied out at start(). */
typedef struct
{
  /* waiting for the task, and creating one when task_id is unset */
  LumaTaskSettings task;
  gchar *task_id;
  guint retries;
  guint timeout;
  gchar *user_agent;
  gchar *proxy;                 /* NULL: *_proxy, else the system's */
  gboolean ssl_strict;
  gchar *video_url;             /* creating a task, with task.prompt */
  /* the store: a property set wins over its environment variable */
  GstLumaStoreMode store;
  gboolean store_set;
  gchar *store_dir;             /* NULL: $GST_LUMA_STORE_DIR, else the default */
  guint store_limit;            /* MiB, 0: no limit */
  gboolean store_limit_set;
} LumaSettings;

/* What the element shows of the task; guarded by the object lock. */
typedef struct
{
  GstLumaTaskState status;
  gchar *location;
  gchar *created_task_id;       /* the task this element created, or reused */
} LumaTaskView;

/* Where the streaming thread is: what a failure is about. */
typedef enum
{
  PHASE_CREATING,               /* asking KIE to create the task */
  PHASE_WAITING,                /* polling the record until it is done */
  PHASE_STREAMING,              /* reading the result video */
  PHASE_STORED,                 /* reading the video from the store */
} LumaPhase;

/* The streaming thread's own: made in start(), dropped in stop(). */
typedef struct
{
  LumaSettings settings;
  LumaPhase phase;
  LumaCreateResult create_result;       /* of the last creation request */
  gboolean journal_held;        /* another held the request: waited for */
  /* what the last poll of the record said, for error details */
  gint poll_api_code;
  guint poll_http_status;
  LumaWaitResume wait_resume;   /* of a wait a flush cut short */
  guint polls;                  /* of the wait so far, and its time */
  guint64 poll_elapsed;
  gboolean progress_open;       /* a luma-wait START not ended yet */
  gchar *task_error_code;       /* a failed task's errorCode */
  LumaApi *api;
  LumaStream *stream;
  GstLumaRecord *record;        /* the finished task's record; NULL while waiting */
  gboolean size_announced;
  guint64 offset;               /* of the next byte handed out */
  /* the store: NULL when off */
  LumaStore *store;
  gboolean store_looked_up;
  LumaStoreReader *stored;      /* PHASE_STORED: the stored video */
  LumaStoreWriter *writer;      /* the video being stored as it streams */
  gboolean room_made;           /* in the store, for the writer's video */
  /* the rest of it, stored in the background after a seek skipped a
   * part: holds the writer until it ends */
  LumaFill *fill;
  guint fills;                  /* started so far */
  gint64 next_fill;             /* monotonic: none before (one failed) */
  /* the last fill's URL was refused as expired: the next one asks for a
   * fresh link first (the source's own reads may never meet it) */
  gboolean fill_url_expired;
  /* the video another pipeline or process is storing right now, read
   * from its `.part` as it is written */
  LumaStoreFollower *follower;
  guint store_begins;           /* begins with the store's entry so far */
  gboolean begin_pending;       /* the video is ready, the store's entry
                                 * not begun yet (a flush cut it short) */
  GstBufferPool *pool;          /* the buffers reads fill; NULL until the first */
  guint pool_size;              /* the size of its buffers */
} LumaStreaming;

struct _GstLumaSrc
{
  GstPushSrc parent;

  GMutex settings_lock;
  LumaSettings settings;

  LumaTaskView view;

  LumaStreaming *streaming;
  GCancellable *cancellable;    /* cuts any wait or request: unlock() */
  gint stopped_waits;           /* atomic: waits stopped (cancelled) so far */
  /* under the object lock: the task is being created (the journal, the
   * POST), which a seek without flush must not cut
   * (gst_luma_src_cut_for_seek ()) */
  gboolean creating;
};

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

static void gst_luma_src_uri_handler_init (gpointer g_iface,
    gpointer iface_data);

#define gst_luma_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstLumaSrc, gst_luma_src, GST_TYPE_PUSH_SRC,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        gst_luma_src_uri_handler_init);
    GST_DEBUG_CATEGORY_INIT (gst_luma_src_debug, "lumasrc", 0,
        "KIE.AI Luma Modify task source"));
GST_ELEMENT_REGISTER_DEFINE (lumasrc, "lumasrc", GST_RANK_NONE,
    GST_TYPE_LUMA_SRC);

/* ----- settings ----- */

static void
luma_settings_clear (LumaSettings * settings)
{
  luma_task_settings_clear (&settings->task);
  g_clear_pointer (&settings->task_id, g_free);
  g_clear_pointer (&settings->user_agent, g_free);
  g_clear_pointer (&settings->proxy, g_free);
  g_clear_pointer (&settings->video_url, g_free);
  g_clear_pointer (&settings->store_dir, g_free);
}

static void
luma_settings_copy (LumaSettings * dest, const LumaSettings * src)
{
  *dest = *src;
  luma_task_settings_copy (&dest->task, &src->task);
  dest->task_id = g_strdup (src->task_id);
  dest->user_agent = g_strdup (src->user_agent);
  dest->proxy = g_strdup (src->proxy);
  dest->video_url = g_strdup (src->video_url);
  dest->store_dir = g_strdup (src->store_dir);
}

/* The effective values: a property when set, else the environment, else the
 * default. Resolved once, at start(), into the streaming thread's copy. */
static void
luma_settings_resolve (LumaSettings * settings)
{
  luma_task_settings_resolve (&settings->task);
  /* The proxy stays the property's: luma_proxy_resolver_new () reads the
   * environment (http_proxy, https_proxy, all_proxy, no_proxy). */
}

static gboolean
parse_store_mode (const gchar * text, GstLumaStoreMode * mode)
{
  g_autoptr (GEnumClass) modes = g_type_class_ref (GST_TYPE_LUMA_STORE_MODE);
  GEnumValue *value = g_enum_get_value_by_nick (modes, text);

  if (value == NULL)
    return FALSE;
  *mode = value->value;
  return TRUE;
}

static gboolean
parse_store_limit (const gchar * text, guint * limit)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT, &value, NULL))
    return FALSE;
  *limit = value;
  return TRUE;
}

/* The store's settings, for editors and players that cannot set properties:
 * GST_LUMA_STORE, GST_LUMA_STORE_DIR and GST_LUMA_STORE_LIMIT, where the
 * property was not set. A value that cannot be read is an error that
 * names the variable, never a silent default. */
static gboolean
luma_settings_resolve_store (LumaSettings * settings, GError ** error)
{
  const gchar *mode = luma_settings_non_empty (g_getenv ("GST_LUMA_STORE"));
  const gchar *dir = luma_settings_non_empty (g_getenv ("GST_LUMA_STORE_DIR"));
  const gchar *limit =
      luma_settings_non_empty (g_getenv ("GST_LUMA_STORE_LIMIT"));

  if (!settings->store_set && mode != NULL
      && !parse_store_mode (mode, &settings->store)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        _("GST_LUMA_STORE must be on, off or read-only, not \"%s\""), mode);
    return FALSE;
  }
  if (!settings->store_limit_set && limit != NULL
      && !parse_store_limit (limit, &settings->store_limit)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        _("GST_LUMA_STORE_LIMIT must be a whole number of MiB, not \"%s\""),
        limit);
    return FALSE;
  }
  /* relative, it would name another store in each working directory, and
   * an editor's finished tasks would seem lost whenever it started elsewhere */
  if (settings->store != GST_LUMA_STORE_MODE_OFF
      && luma_settings_non_empty (settings->store_dir) == NULL && dir != NULL
      && !g_path_is_absolute (dir)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        _("GST_LUMA_STORE_DIR must be an absolute path, not \"%s\""), dir);
    return FALSE;
  }
  if (luma_settings_non_empty (settings->store_dir) == NULL) {
    g_free (settings->store_dir);
    settings->store_dir = dir ? g_strdup (dir) : luma_store_default_dir ();
  }
  return TRUE;
}

/* ----- what the element shows ----- */

/* TRUE when it changed: task-state is then to be notified */
static gboolean
gst_luma_src_update_status (GstLumaSrc * self, GstLumaTaskState status)
{
  gboolean changed;

  GST_OBJECT_LOCK (self);
  changed = self->view.status != status;
  self->view.status = status;
  GST_OBJECT_UNLOCK (self);
  return changed;
}

static void
gst_luma_src_set_status (GstLumaSrc * self, GstLumaTaskState status)
{
  if (gst_luma_src_update_status (self, status))
    g_object_notify_by_pspec (G_OBJECT (self), task_state_pspec);
}

static GstLumaTaskState
gst_luma_src_get_status (GstLumaSrc * self)
{
  GstLumaTaskState status;

  GST_OBJECT_LOCK (self);
  status = self->view.status;
  GST_OBJECT_UNLOCK (self);
  return status;
}

static void
gst_luma_src_set_location (GstLumaSrc * self, const gchar * location)
{
  GST_OBJECT_LOCK (self);
  g_free (self->view.location);
  self->view.location = g_strdup (location);
  GST_OBJECT_UNLOCK (self);
  g_object_notify_by_pspec (G_OBJECT (self), result_url_pspec);
}

static const gchar *
task_id (GstLumaSrc * self)
{
  return self->streaming->settings.task_id;
}

/* ----- posting, one source at a time -----
 *
 * GStreamer 1.22 queues a bus's messages in a GstAtomicQueue, whose push
 * spins, without ever yielding, until every thread that began a push
 * before it has finished its own (gst_atomic_queue_push (): "wait until
 * all writers have completed"). Hundreds of sources polling in step post
 * at the same moments: one poster preempted in the middle of its push, and
 * every later one spins on the two cores it needs to go on. On the 2-core
 * machine of BENCHMARKS.md, 200 sources did so for minutes, at 100 % of
 * both cores. So lumasrc's own messages are posted one at a time, process
 * wide: a source that finds another posting sleeps until it is done. It
 * never waits long: not at all when it is being stopped (a bus sync
 * handler may be waiting for it), and no more than POST_WAIT_MAX_US in
 * any case (nor at all once the other has been posting for that long: a
 * sync handler that takes its time), after which it posts as GStreamer
 * would; a post from within a post (a sync handler) goes on at once. */

#define POST_WAIT_MAX_US (50 * G_TIME_SPAN_MILLISECOND)

static GMutex post_lock;
static GCond post_done;
static GThread *post_owner;     /* under post_lock */
static gint64 post_owner_since; /* when it began to post */
static guint post_depth;
static guint post_waiters;

/* TRUE when this thread posts alone now: then post_end () */
static gboolean
post_begin (GstLumaSrc * self)
{
  GThread *me = g_thread_self ();
  gint64 give_up = g_get_monotonic_time () + POST_WAIT_MAX_US;

  g_mutex_lock (&post_lock);
  while (post_owner != NULL && post_owner != me) {
    gint64 now = g_get_monotonic_time ();

    /* nor for an owner that has posted for longer already (a sync
     * handler that takes its time): each message would wait anew */
    if (now >= give_up || now >= post_owner_since + POST_WAIT_MAX_US
        || g_cancellable_is_cancelled (self->cancellable)) {
      g_mutex_unlock (&post_lock);
      return FALSE;
    }
    post_waiters++;
    g_cond_wait_until (&post_done, &post_lock,
        MIN (MIN (give_up, post_owner_since + POST_WAIT_MAX_US),
            now + 10 * G_TIME_SPAN_MILLISECOND));
    post_waiters--;
  }
  if (post_owner == NULL)
    post_owner_since = g_get_monotonic_time ();
  post_owner = me;
  post_depth++;
  g_mutex_unlock (&post_lock);
  return TRUE;
}

static void
post_end (gboolean alone)
{
  if (!alone)
    return;
  g_mutex_lock (&post_lock);
  if (--post_depth == 0) {
    post_owner = NULL;
    if (post_waiters > 0)
      g_cond_signal (&post_done);
  }
  g_mutex_unlock (&post_lock);
}

/* Posts @msg unless it belongs to a wait (@wait, stopped_waits when it
 * was made; -1: none) stopped since, which has posted its CANCELED: it
 * would come after it, in the next wait. Checked for each message, once
 * this thread is the one that posts: the wait may be stopped while it
 * waited for that, or while a bus sync handler took the one before. */
static void
gst_luma_src_post_of_wait (GstLumaSrc * self, GstMessage * msg, gint wait)
{
  if (wait >= 0 && wait != g_atomic_int_get (&self->stopped_waits)) {
    GST_DEBUG_OBJECT (self, "a stopped wait's %" GST_PTR_FORMAT
        " is not posted", msg);
    gst_message_unref (msg);
    return;
  }
  gst_element_post_message (GST_ELEMENT (self), msg);
}

/* @second: NULL, or a message posted right after @msg: an application
 * waiting for messages is then woken once for both, not once each.
 * @wait: the wait they belong to, as gst_luma_src_post_of_wait () takes. */
static void
gst_luma_src_post_two (GstLumaSrc * self, GstMessage * msg, GstMessage * second,
    gint wait)
{
  gboolean alone = post_begin (self);

  gst_luma_src_post_of_wait (self, msg, wait);
  if (second != NULL)
    gst_luma_src_post_of_wait (self, second, wait);
  post_end (alone);
}

static void
gst_luma_src_post (GstLumaSrc * self, GstMessage * msg)
{
  gst_luma_src_post_two (self, msg, NULL, -1);
}

static GstMessage *
gst_luma_src_new_progress (GstLumaSrc * self, GstProgressType type,
    const gchar * text)
{
  g_autofree gchar *safe = luma_text_make_safe (text, -1);

  return gst_message_new_progress (GST_OBJECT (self), type,
      GST_LUMA_PROGRESS_CODE, safe);
}

/* Every START is ended once: COMPLETE, ERROR or CANCELED. */
static void
gst_luma_src_post_progress (GstLumaSrc * self, GstProgressType type,
    const gchar * text)
{
  self->streaming->progress_open = type == GST_PROGRESS_TYPE_START
      || type == GST_PROGRESS_TYPE_CONTINUE;
  gst_luma_src_post (self, gst_luma_src_new_progress (self, type, text));
}

static GstMessage *
gst_luma_src_new_task_message (GstLumaSrc * self,
    const LumaWaitStatus * status, const gchar * location)
{
  GstStructure *s = gst_structure_new (GST_LUMA_MESSAGE_TASK,
      GST_LUMA_FIELD_TASK_ID, G_TYPE_STRING, status->task_id,
      GST_LUMA_FIELD_TASK_STATE, GST_TYPE_LUMA_TASK_STATE, status->state,
      GST_LUMA_FIELD_POLLS, G_TYPE_UINT, status->polls,
      GST_LUMA_FIELD_ELAPSED, G_TYPE_UINT64, status->elapsed, NULL);

  if (location != NULL)
    gst_structure_set (s, GST_LUMA_FIELD_RESULT_URL, G_TYPE_STRING, location,
        NULL);
  return gst_message_new_element (GST_OBJECT (self), s);
}

/* The state in words for people (the enum's nicks are for programs). */
static const gchar *
task_state_label (GstLumaTaskState state)
{
  switch (state) {
    case GST_LUMA_TASK_STATE_WAITING:
      return _("waiting");
    case GST_LUMA_TASK_STATE_GENERATING:
      return _("generating");
    case GST_LUMA_TASK_STATE_SUCCESS:
      return _("ready");
    case GST_LUMA_TASK_STATE_CALLBACK_FAILED:
      return _("ready (callback failed)");
    case GST_LUMA_TASK_STATE_CREATE_FAILED:
      return _("creation failed");
    case GST_LUMA_TASK_STATE_GENERATE_FAILED:
      return _("generation failed");
    default:
      return _("unknown");
  }
}

/* A poll's messages, posted later by luma_workers_defer () */
typedef struct
{
  GstLumaSrc *self;
  GstMessage *first, *second;
  gint wait;                    /* stopped_waits when they were made */
  /* task-state changed in the poll: notified here, out of the step (a
   * handler may stop the pipeline, which waits for the step's end) */
  gboolean notify_state;
} LaterPost;

static LaterPost *
later_post_new (GstLumaSrc * self, GstMessage * first)
{
  LaterPost *post = g_new0 (LaterPost, 1);

  post->self = gst_object_ref (self);
  post->first = first;
  post->wait = g_atomic_int_get (&self->stopped_waits);
  return post;
}

static void
post_later (gpointer data)
{
  LaterPost *post = data;

  if (post->notify_state)
    g_object_notify_by_pspec (G_OBJECT (post->self), task_state_pspec);
  gst_luma_src_post_two (post->self, post->first, post->second, post->wait);
  gst_object_unref (post->self);
  g_free (post);
}

static void
gst_luma_src_on_poll (const LumaWaitStatus * status, gpointer user_data)
{
  GstLumaSrc *self = user_data;
  LumaStreaming *s = self->streaming;
  const gchar *location = NULL;
  g_autofree gchar *text = NULL;
  LaterPost *messages;
  gboolean changed;

  if (status->record != NULL && status->record->result_urls != NULL)
    location = status->record->result_urls[0];
  s->poll_api_code = status->api_code;
  s->poll_http_status = status->http_status;
  s->polls = status->polls;
  s->poll_elapsed = status->elapsed;
  /* KIE's errorCode is that of a task that failed: one that came with
   * another state (an odd answer) would tell of a failure there was not */
  if (status->record != NULL && status->record->error_code != NULL
      && (status->state == GST_LUMA_TASK_STATE_CREATE_FAILED
          || status->state == GST_LUMA_TASK_STATE_GENERATE_FAILED)) {
    g_free (s->task_error_code);
    s->task_error_code = g_strdup (status->record->error_code);
  }
  /* notified with the messages, never from within the step */
  changed = gst_luma_src_update_status (self, status->state);
  messages = later_post_new (self,
      gst_luma_src_new_task_message (self, status, location));
  messages->notify_state = changed;

  /* only a wait's polls, which its START opened: a record read again for
   * a fresh URL is not one, unless it turns into one (fetch_record ()) */
  if (s->progress_open) {
    text = g_strdup_printf (_("Task %s: %s (poll %u, %u s)"), status->task_id,
        task_state_label (status->state), status->polls,
        (guint) (status->elapsed / GST_SECOND));
    GST_INFO_OBJECT (self, "%s", text);
    messages->second = gst_luma_src_new_progress (self,
        GST_PROGRESS_TYPE_CONTINUE, text);
  }
  /* with those of the other polls made in the same go: the application is
   * woken once for them all */
  luma_workers_defer (post_later, messages);
}

/* ----- errors ----- */

GstResourceError
gst_luma_src_resource_error_code (const GError * error)
{
  if (error->domain == LUMA_API_ERROR) {
    switch (error->code) {
      case LUMA_API_ERROR_NOT_AUTHORIZED:
        return GST_RESOURCE_ERROR_NOT_AUTHORIZED;
      case LUMA_API_ERROR_NOT_FOUND:
        return GST_RESOURCE_ERROR_NOT_FOUND;
      case LUMA_API_ERROR_TIMEOUT:
        return GST_RESOURCE_ERROR_BUSY;
      case LUMA_API_ERROR_BAD_ANSWER:
        return GST_RESOURCE_ERROR_READ;
      default:
        return GST_RESOURCE_ERROR_OPEN_READ;
    }
  }
  if (error->domain == LUMA_CREATE_ERROR) {
    switch (error->code) {
      case LUMA_CREATE_ERROR_NOT_AUTHORIZED:
        return GST_RESOURCE_ERROR_NOT_AUTHORIZED;
      case LUMA_CREATE_ERROR_UNAVAILABLE:
        return GST_RESOURCE_ERROR_BUSY;
      case LUMA_CREATE_ERROR_BAD_ANSWER:
        return GST_RESOURCE_ERROR_READ;
      default:
        return GST_RESOURCE_ERROR_OPEN_WRITE;
    }
  }
  if (g_error_matches (error, LUMA_JOURNAL_ERROR, LUMA_JOURNAL_ERROR_BUSY))
    return GST_RESOURCE_ERROR_BUSY;
  if (error->domain == LUMA_JOURNAL_ERROR)
    return GST_RESOURCE_ERROR_OPEN_WRITE;
  if (error->domain == LUMA_STORE_ERROR)
    return GST_RESOURCE_ERROR_READ;
  if (g_error_matches (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_PROXY_AUTH))
    return GST_RESOURCE_ERROR_NOT_AUTHORIZED;
  if (error->domain == LUMA_STREAM_ERROR) {
    switch (error->code) {
      case LUMA_STREAM_ERROR_EXPIRED:
        return GST_RESOURCE_ERROR_NOT_FOUND;
      case LUMA_STREAM_ERROR_READ:
      case LUMA_STREAM_ERROR_CHANGED:
      case LUMA_STREAM_ERROR_RANGE:
        return GST_RESOURCE_ERROR_READ;
      case LUMA_STREAM_ERROR_THROTTLED:
        return GST_RESOURCE_ERROR_BUSY;
      default:
        return GST_RESOURCE_ERROR_OPEN_READ;
    }
  }
  return GST_RESOURCE_ERROR_OPEN_READ;
}

static GstStructure *
gst_luma_src_error_details (GstLumaSrc * self, GstLumaTaskState state)
{
  LumaStreaming *s = self->streaming;
  guint http_status = s->poll_http_status;
  gint api_code = s->poll_api_code;
  GstStructure *details;

  if (s->phase == PHASE_CREATING) {
    http_status = s->create_result.http_status;
    api_code = s->create_result.api_code;
  } else if (s->phase == PHASE_STREAMING
      && luma_stream_get_http_status (s->stream) != 0) {
    http_status = luma_stream_get_http_status (s->stream);
  }
  details = gst_structure_new ("details",
      GST_LUMA_DETAIL_TASK_ID, G_TYPE_STRING, task_id (self),
      GST_LUMA_DETAIL_TASK_STATE, GST_TYPE_LUMA_TASK_STATE, state,
      GST_LUMA_DETAIL_API_CODE, G_TYPE_INT, api_code,
      GST_LUMA_DETAIL_HTTP_STATUS, G_TYPE_UINT, http_status, NULL);
  if (s->phase == PHASE_CREATING)
    gst_structure_set (details, GST_LUMA_DETAIL_TASK_MAY_EXIST,
        G_TYPE_BOOLEAN, s->create_result.outcome == LUMA_CREATE_MAYBE, NULL);
  if (s->task_error_code != NULL)
    gst_structure_set (details, GST_LUMA_DETAIL_ERROR_CODE, G_TYPE_STRING,
        s->task_error_code, NULL);
  /* KIE refused the clip: no point in trying it again as it is */
  if (s->phase == PHASE_CREATING && api_code == 422)
    gst_structure_set (details, GST_LUMA_DETAIL_INPUT_REFUSED, G_TYPE_STRING,
        "kie", NULL);
  return details;
}

/* What a developer reading a log needs besides the translated text: in
 * English, the error's domain and code and the details (task, state, API
 * code, HTTP status). */
static gchar *
debug_text (const GError * cause, const GstStructure * details)
{
  g_autofree gchar *fields = details ? gst_structure_to_string (details)
      : NULL;

  if (cause == NULL)
    return g_strdup (fields);
  return g_strdup_printf ("%s error %d%s%s", g_quark_to_string (cause->domain),
      cause->code, fields ? ": " : "", fields ? fields : "");
}

/* The key of this run, if it has begun */
static const gchar *
gst_luma_src_key (GstLumaSrc * self)
{
  return self->streaming != NULL ? self->streaming->settings.task.api_key
      : NULL;
}

/* Posts an error or a warning with the source location of the code that
 * found it (see the macro below). */
static void
post_resource_message_at (GstLumaSrc * self, GstMessageType type,
    GstResourceError code, const gchar * text, GstStructure * details,
    const GError * cause, const gchar * file, const gchar * function, gint line)
{
  gchar *debug = debug_text (cause, details);
  gchar *safe = luma_text_make_safe (text, -1);
  gboolean alone = post_begin (self);

  /* the one door of every error and warning text: whatever part of it
   * came from outside leaves as valid UTF-8 without control characters,
   * and without the key, which a server may have quoted back */
  luma_secret_hide_in_text (safe, gst_luma_src_key (self));
  gst_element_message_full_with_details (GST_ELEMENT (self), type,
      GST_RESOURCE_ERROR, code, safe, debug, file, function, line, details);
  post_end (alone);
}

#define gst_luma_src_post_resource_message(self, type, code, text, details, \
    cause) post_resource_message_at (self, type, code, text, details, cause, \
    __FILE__, GST_FUNCTION, __LINE__)

/* lumasrc gave up on the task: its state changes, and luma-task says so
 * as it does every change. */
static void
gst_luma_src_post_error_state (GstLumaSrc * self)
{
  LumaStreaming *s = self->streaming;
  LumaWaitStatus status = { task_id (self), GST_LUMA_TASK_STATE_ERROR,
    s->polls, s->poll_elapsed, NULL, s->poll_api_code, s->poll_http_status
  };

  gst_luma_src_set_status (self, GST_LUMA_TASK_STATE_ERROR);
  gst_luma_src_post (self, gst_luma_src_new_task_message (self, &status, NULL));
}

/* Posts @error as a specific resource error (or, for a cancelled wait,
 * nothing) and says what the streaming thread is to return. */
static GstFlowReturn
fail_at (GstLumaSrc * self, GError * error, const gchar * file,
    const gchar * function, gint line)
{
  LumaStreaming *s = self->streaming;
  GstLumaTaskState status = gst_luma_src_get_status (self);
  gboolean waiting = s->progress_open;
  GstStructure *details;

  /* before the log and the progress message have it too */
  luma_secret_hide_in_text (error->message, gst_luma_src_key (self));

  /* an error that came as unlock() cut the request (a 429 read at that
   * moment, say) is no error of a flush or a stop */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      || g_cancellable_is_cancelled (self->cancellable)) {
    GST_DEBUG_OBJECT (self, "cancelled (%s)", error->message);
    /* the wait's messages that the stop did not wait for (being posted by
     * a thread held up, luma_workers_run_steps ()) are dropped, not posted
     * after its end or in the next wait */
    g_atomic_int_inc (&self->stopped_waits);
    s->progress_open = FALSE;
    if (waiting)
      gst_luma_src_post_progress (self, GST_PROGRESS_TYPE_CANCELED,
          _("Stopped waiting"));
    return GST_FLOW_FLUSHING;
  }

  /* the details tell the task's last known state (a timeout, say, leaves
   * it generating); the status, that lumasrc gave up on it */
  details = gst_luma_src_error_details (self,
      status == GST_LUMA_TASK_STATE_WAITING ? GST_LUMA_TASK_STATE_ERROR
      : status);
  /* an error of the record (read again while the video streams)
   * is the last poll's: its HTTP status, not the video host's */
  if (s->phase != PHASE_CREATING && error->domain == LUMA_API_ERROR)
    gst_structure_set (details, GST_LUMA_DETAIL_HTTP_STATUS, G_TYPE_UINT,
        s->poll_http_status, NULL);
  if (s->phase == PHASE_WAITING && status != GST_LUMA_TASK_STATE_CREATE_FAILED
      && status != GST_LUMA_TASK_STATE_GENERATE_FAILED)
    gst_luma_src_post_error_state (self);
  if (waiting)
    gst_luma_src_post_progress (self, GST_PROGRESS_TYPE_ERROR, error->message);

  GST_WARNING_OBJECT (self, "%s", error->message);
  post_resource_message_at (self, GST_MESSAGE_ERROR,
      gst_luma_src_resource_error_code (error), error->message, details,
      error, file, function, line);
  return GST_FLOW_ERROR;
}

/* The location given is the caller's: where the failure was found. */
#define gst_luma_src_fail(self, error) \
    fail_at (self, error, __FILE__, GST_FUNCTION, __LINE__)

/* ----- waiting for the task ----- */


static gboolean
gst_luma_src_use_record (GstLumaSrc * self, GstLumaRecord * record,
    GError ** error)
{
  LumaStreaming *s = self->streaming;
  const gchar *url = record->result_urls[0];

  if (!luma_stream_set_url (s->stream, url, error)) {
    gst_luma_record_free (record);
    return FALSE;
  }
  gst_luma_record_free (s->record);
  s->record = record;
  gst_luma_src_set_location (self, url);
  return TRUE;
}

static void
gst_luma_src_post_ready (GstLumaSrc * self)
{
  g_autofree gchar *text = g_strdup_printf (_("Task %s is ready"),
      task_id (self));

  gst_luma_src_post_progress (self, GST_PROGRESS_TYPE_COMPLETE, text);
}

static GstLumaRecord *
gst_luma_src_poll_record (GstLumaSrc * self, const LumaWaitParams * params,
    GError ** error)
{
  return luma_api_wait_for_task (self->streaming->api, task_id (self), params,
      gst_luma_src_on_poll, self, self->cancellable, error);
}

/* The record read for its URL while the video streams (phase
 * PHASE_STREAMING), which the application is not told of: unless it finds
 * the task generating again (an odd answer, but the API's to give), and
 * turns into a wait for up to wait-timeout. That is told as the first wait
 * is, not left a silent stall: a START, a CONTINUE a poll, then COMPLETE
 * here or the ERROR or CANCELED of fail_at (). */
static GstLumaRecord *
gst_luma_src_read_record_again (GstLumaSrc * self, LumaWaitParams * params,
    GError ** error)
{
  g_autoptr (GError) generating = NULL;
  g_autofree gchar *text = NULL;
  GstLumaRecord *record;

  params->until_generating = TRUE;
  record = gst_luma_src_poll_record (self, params, &generating);
  if (!g_error_matches (generating, LUMA_API_ERROR, LUMA_API_ERROR_GENERATING)) {
    if (generating != NULL)
      g_propagate_error (error, g_steal_pointer (&generating));
    return record;
  }
  text = g_strdup_printf (_("Task %s is generating again: waiting for it"),
      task_id (self));
  gst_luma_src_post_progress (self, GST_PROGRESS_TYPE_START, text);
  params->until_generating = FALSE;
  record = gst_luma_src_poll_record (self, params, error);
  if (record != NULL)
    gst_luma_src_post_ready (self);
  return record;
}

/* @fresh: the record this process has (a URL that expired) is no good */
static gboolean
gst_luma_src_fetch_record (GstLumaSrc * self, gboolean fresh, GError ** error)
{
  LumaStreaming *s = self->streaming;
  LumaWaitParams params = { s->settings.task.poll_interval,
    s->settings.task.wait_timeout, s->settings.retries, fresh,
    &s->wait_resume
  };
  GstLumaRecord *record;

  if (fresh)
    luma_api_forget_task (s->api, task_id (self));
  if (s->phase == PHASE_STREAMING)
    record = gst_luma_src_read_record_again (self, &params, error);
  else
    record = gst_luma_src_poll_record (self, &params, error);
  /* over: the next wait (for a fresh URL) is a wait of its own */
  if (record != NULL)
    s->wait_resume = (LumaWaitResume) {
    0, 0};
  return record != NULL && gst_luma_src_use_record (self, record, error);
}

static void
gst_luma_src_warn_callback_failed (GstLumaSrc * self)
{
  g_autofree gchar *text =
      g_strdup_printf (_("Task %s succeeded but KIE could not call its "
          "callback URL; streaming the video anyway"), task_id (self));

  gst_luma_src_post_resource_message (self, GST_MESSAGE_WARNING,
      GST_RESOURCE_ERROR_FAILED, text, gst_luma_src_error_details (self,
          GST_LUMA_TASK_STATE_CALLBACK_FAILED), NULL);
}

/* What apps and muxers may show of the task: pushed downstream before the
 * first buffer, and posted too, since demuxers drop the tags that come
 * before their pads exist, and the discoverer and apps read them from the
 * bus. Pushed from here, the streaming thread, and not handed to
 * gst_element_send_event(): that takes the state lock, which a state
 * change holds while it waits for this thread. */
static void
gst_luma_src_send_tags (GstLumaSrc * self)
{
  const GstLumaRecord *record = self->streaming->record;
  GstTagList *tags = gst_tag_list_new (GST_LUMA_TAG_TASK_ID, task_id (self),
      NULL);

  if (record->prompt != NULL)
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_DESCRIPTION,
        record->prompt, NULL);
  if (record->source_url != NULL)
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_LOCATION,
        record->source_url, NULL);
  if (record->complete_time >= 0) {
    g_autoptr (GDateTime) utc =
        g_date_time_new_from_unix_utc (record->complete_time / 1000);
    g_autoptr (GstDateTime) when =
        utc ? gst_date_time_new_from_g_date_time (g_date_time_ref (utc)) : NULL;

    if (when != NULL)
      gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_DATE_TIME, when,
          NULL);
  }
  gst_tag_list_set_scope (tags, GST_TAG_SCOPE_GLOBAL);
  GST_DEBUG_OBJECT (self, "tags %" GST_PTR_FORMAT, tags);
  gst_luma_src_post (self, gst_message_new_tag (GST_OBJECT (self),
          gst_tag_list_ref (tags)));
  gst_pad_push_event (GST_BASE_SRC_PAD (self), gst_event_new_tag (tags));
}

static gboolean
gst_luma_src_wait_for_video (GstLumaSrc * self, GError ** error)
{
  g_autofree gchar *start_text =
      g_strdup_printf (_("Waiting for Luma task %s"), task_id (self));

  gst_luma_src_post_progress (self, GST_PROGRESS_TYPE_START, start_text);
  if (!gst_luma_src_fetch_record (self, FALSE, error))
    return FALSE;

  gst_luma_src_send_tags (self);
  if (self->streaming->record->state == GST_LUMA_TASK_STATE_CALLBACK_FAILED)
    gst_luma_src_warn_callback_failed (self);
  gst_luma_src_post_ready (self);
  self->streaming->phase = PHASE_STREAMING;
  return TRUE;
}

/* ----- creating the task ----- */

/* KIE takes English prompts only. A prompt whose letters are mostly not
 * Latin is worth a warning (a refusal would be wrong: names, quotes and
 * loanwords are fine). */
static gboolean
prompt_looks_english (const gchar * prompt)
{
  guint latin = 0, other = 0;
  const gchar *p;

  for (p = prompt; *p != '\0'; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    if (g_ascii_isalpha (c))
      latin++;
    else if (g_unichar_isalpha (c))
      other++;
  }
  return latin >= other;
}

static void
gst_luma_src_post_created (GstLumaSrc * self, gboolean reused)
{
  const LumaSettings *settings = &self->streaming->settings;
  g_autofree gchar *prompt = luma_text_make_safe (settings->task.prompt, -1);
  GstStructure *s = gst_structure_new (GST_LUMA_MESSAGE_TASK_CREATED,
      GST_LUMA_FIELD_TASK_ID, G_TYPE_STRING, settings->task_id,
      GST_LUMA_FIELD_PROMPT, G_TYPE_STRING, prompt,
      GST_LUMA_FIELD_VIDEO_URL, G_TYPE_STRING, settings->video_url,
      GST_LUMA_FIELD_REUSED, G_TYPE_BOOLEAN, reused, NULL);

  gst_luma_src_post (self, gst_message_new_element (GST_OBJECT (self), s));
}

/* From here on the element streams @id as if task-id had been set. */
static void
gst_luma_src_take_task_id (GstLumaSrc * self, gchar * id, gboolean reused)
{
  LumaStreaming *s = self->streaming;

  GST_INFO_OBJECT (self, "%s task %s", reused ? "reusing" : "created", id);
  s->settings.task_id = id;
  GST_OBJECT_LOCK (self);
  g_free (self->view.created_task_id);
  self->view.created_task_id = g_strdup (id);
  GST_OBJECT_UNLOCK (self);
  g_object_notify (G_OBJECT (self), "task-id");
  gst_luma_src_post_created (self, reused);
  s->phase = PHASE_WAITING;
}

/* Another process or element is creating the task of this very request
 * (or is stalled): the wait for it is told, as the wait for a task is
 * (its end: COMPLETE below, or the ERROR or CANCELED of fail_at ()). */
static void
gst_luma_src_on_journal_held (gpointer user_data)
{
  GstLumaSrc *self = user_data;

  GST_INFO_OBJECT (self, "another process or element holds the request");
  self->streaming->journal_held = TRUE;
  gst_luma_src_post_progress (self, GST_PROGRESS_TYPE_START,
      _("Another process or element is creating the same task: waiting for "
          "it"));
}

/* The task of this request: the one the journal has (created before, by
 * this or another process), or a new one (lumacreate.c). */
static gboolean
gst_luma_src_create_task (GstLumaSrc * self, GError ** error)
{
  LumaStreaming *s = self->streaming;
  const LumaSettings *settings = &s->settings;
  LumaCreateRequest request = { settings->task.prompt, settings->video_url,
    settings->task.callback_url, settings->task.watermark
  };
  g_autofree gchar *dir = luma_journal_default_dir ();
  LumaCreateJournal journal =
      { dir, settings->task.api_url, settings->video_url,
    settings->task.force_new, NULL, self, gst_luma_src_on_journal_held
  };
  g_autoptr (GError) journal_warning = NULL;
  gboolean reused;
  gchar *id;

  if (!prompt_looks_english (settings->task.prompt))
    gst_luma_src_post_resource_message (self, GST_MESSAGE_WARNING,
        GST_RESOURCE_ERROR_SETTINGS, _("The prompt does not look like "
            "English: KIE accepts prompts in English only"),
        gst_luma_src_error_details (self, gst_luma_src_get_status (self)),
        NULL);
  /* a seek without flush cuts the wait for the task, never the creation:
   * cut, the answer is lost, and the task billed may exist */
  GST_OBJECT_LOCK (self);
  self->creating = TRUE;
  GST_OBJECT_UNLOCK (self);
  id = luma_create_task_once (s->api, &request, &journal,
      settings->task.wait_timeout, settings->retries, &s->create_result,
      &reused, &journal_warning, self->cancellable, error);
  GST_OBJECT_LOCK (self);
  self->creating = FALSE;
  GST_OBJECT_UNLOCK (self);
  if (s->settings.task.force_new && !journal.force_new)
    luma_task_settings_spend_force_new (&self->settings.task,
        &self->settings_lock, G_OBJECT (self));
  s->settings.task.force_new = journal.force_new;
  if (journal_warning != NULL)
    gst_luma_src_post_resource_message (self, GST_MESSAGE_WARNING,
        GST_RESOURCE_ERROR_OPEN_WRITE, journal_warning->message,
        gst_luma_src_error_details (self, gst_luma_src_get_status (self)),
        NULL);
  if (id == NULL)
    return FALSE;
  if (s->journal_held)
    gst_luma_src_post_progress (self, GST_PROGRESS_TYPE_COMPLETE,
        _("The other process or element is done"));
  gst_luma_src_take_task_id (self, id, reused);
  return TRUE;
}

/* ----- the store ----- */

/* What a warning about the store says: which task, and why. */
static void
gst_luma_src_warn_store (GstLumaSrc * self, const gchar * text,
    const GError * cause)
{
  gst_luma_src_post_resource_message (self, GST_MESSAGE_WARNING,
      GST_RESOURCE_ERROR_WRITE, text, gst_luma_src_error_details (self,
          gst_luma_src_get_status (self)), cause);
}

static void
gst_luma_src_warn_not_stored (GstLumaSrc * self, const GError * cause)
{
  g_autofree gchar *text =
      g_strdup_printf (_("The video of task %s is not stored, streaming goes "
          "on: %s"), task_id (self), cause->message);

  GST_WARNING_OBJECT (self, "%s", text);
  gst_luma_src_warn_store (self, text, cause);
}

/* A write or a read of the `.part` failed: the stream goes on, unstored. */
static void
gst_luma_src_stop_storing (GstLumaSrc * self, const GError * cause)
{
  g_clear_pointer (&self->streaming->writer, luma_store_writer_free_discarded);
  gst_luma_src_warn_not_stored (self, cause);
}

/* The video comes from the store: the element shows what a poll would
 * have shown (state, result URL, tags), without one; or, when a poll
 * answered already (another process completed the entry meanwhile), what
 * it showed stands and is not told again. */
static void
gst_luma_src_use_stored (GstLumaSrc * self, LumaStoreReader * reader)
{
  LumaStreaming *s = self->streaming;
  const LumaStoreMeta *meta = luma_store_reader_get_meta (reader);
  GstLumaRecord *record;
  LumaWaitStatus status = {.task_id = task_id (self),
    .state = GST_LUMA_TASK_STATE_SUCCESS
  };

  GST_INFO_OBJECT (self, "task %s from the store (%" G_GUINT64_FORMAT
      " bytes)", task_id (self), meta->size);
  s->stored = reader;
  s->phase = PHASE_STORED;
  if (s->record != NULL)
    return;
  record = g_new0 (GstLumaRecord, 1);
  record->code = 200;
  record->task_id = g_strdup (meta->task_id);
  record->state = GST_LUMA_TASK_STATE_SUCCESS;
  record->prompt = g_strdup (meta->prompt);
  record->source_url = g_strdup (meta->source_url);
  record->create_time = meta->created;
  record->complete_time = meta->completed > 0 ? meta->completed : -1;
  s->record = record;
  if (meta->result_url != NULL)
    gst_luma_src_set_location (self, meta->result_url);
  gst_luma_src_set_status (self, GST_LUMA_TASK_STATE_SUCCESS);
  gst_luma_src_post (self, gst_luma_src_new_task_message (self, &status,
          meta->result_url));
  gst_luma_src_send_tags (self);
}

/* Before any poll: a stored video answers the task with no key and no
 * network. A stored entry that cannot be used is fetched again. */
static gboolean
gst_luma_src_look_up_store (GstLumaSrc * self, GError ** error)
{
  LumaStreaming *s = self->streaming;
  g_autoptr (GError) unusable = NULL;
  g_autofree gchar *text = NULL;
  LumaStoreReader *reader;

  s->store_looked_up = TRUE;
  if (s->store == NULL)
    return TRUE;
  reader = luma_store_open (s->store, task_id (self), self->cancellable,
      &unusable);
  if (reader != NULL) {
    gst_luma_src_use_stored (self, reader);
    return TRUE;
  }
  if (g_error_matches (unusable, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    /* a flush cut the open (its hash or sync): looked up again at the
     * next create (), not skipped for a poll that needs a key */
    s->store_looked_up = FALSE;
    g_propagate_error (error, g_steal_pointer (&unusable));
    return FALSE;
  }
  if (unusable != NULL) {
    text = g_strdup_printf (_("The stored video of task %s cannot be used, "
            "it is fetched again: %s"), task_id (self), unusable->message);
    GST_WARNING_OBJECT (self, "%s", text);
    gst_luma_src_warn_store (self, text, unusable);
  }
  return TRUE;
}

/* Nothing the stream knows of its file (its size, its version) says it
 * is not the one of @size (or unknown) and @version. */
static gboolean
may_be_the_streamed_file (LumaStreaming * s, guint64 size,
    const gchar * version)
{
  guint64 known = luma_stream_get_size (s->stream);

  return (size == LUMA_STORE_SIZE_UNKNOWN || known == LUMA_STREAM_SIZE_UNKNOWN
      || size == known) && luma_stream_version_agrees (s->stream, version);
}

/* The file a source of the video's bytes (another's download, a complete
 * entry) is of, by the size and version tag it was told: the one the
 * bytes so far came from, as far as the stream knows it (what the
 * network answered, what earlier sources were told). The stream then
 * expects it: the network goes on only from that file too. FALSE, with a
 * "changed" error, for another one: the two would be spliced into one
 * video. */
static gboolean
gst_luma_src_expect_same_file (GstLumaSrc * self, guint64 size,
    const gchar * version, GError ** error)
{
  LumaStreaming *s = self->streaming;

  if (!may_be_the_streamed_file (s, size, version)) {
    g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_CHANGED,
        _("The video of task %s changed while it was being read: another "
            "pipeline or process stores another version of it"),
        task_id (self));
    return FALSE;
  }
  if (size != LUMA_STORE_SIZE_UNKNOWN)
    luma_stream_expect_size (s->stream, size);
  luma_stream_expect_version (s->stream, version);
  return TRUE;
}

/* The request failed without a word on the file: no answer, a server's
 * trouble, a URL that expired, a wait asked for. */
static gboolean
says_nothing_of_the_file (LumaStream * stream, const GError * error)
{
  return g_error_matches (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TRANSPORT)
      || g_error_matches (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_TOO_SLOW)
      || g_error_matches (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_EXPIRED)
      || g_error_matches (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_THROTTLED)
      || (g_error_matches (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_HTTP)
      && SOUP_STATUS_IS_SERVER_ERROR (luma_stream_get_http_status (stream)));
}

static gboolean gst_luma_src_commit (GstLumaSrc * self, guint64 size);

/* A `.part` that holds the whole file its writer told (a run stopped
 * between the last byte and the rename, a fill cut as it completed):
 * completed as it is, and the video read from the store, rather than
 * downloaded again. FALSE when it cannot be (the stream knows another
 * file already). The stream is not told to expect the `.part`'s file:
 * where the entry cannot be kept (larger than store-limit, a write that
 * fails) or opened, the network is read without it, and nothing was read
 * from the `.part` to splice the host's file to. *@error: a flush cut
 * the entry's first open (its hash, its sync): it is begun again, and
 * found complete, at the next create (). */
static gboolean
gst_luma_src_complete_part (GstLumaSrc * self, GError ** error)
{
  LumaStreaming *s = self->streaming;
  guint64 size = luma_store_writer_get_part_size (s->writer);
  const gchar *version = luma_store_writer_get_part_version (s->writer);
  g_autoptr (GError) cause = NULL;
  LumaStoreReader *reader;

  if (!may_be_the_streamed_file (s, size, version))
    return FALSE;
  GST_INFO_OBJECT (self, "the stored .part holds the whole video");
  luma_store_writer_set_version (s->writer, version);
  if (!gst_luma_src_commit (self, size))
    return TRUE;
  reader = luma_store_open (s->store, task_id (self), self->cancellable,
      &cause);
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_propagate_error (error, g_steal_pointer (&cause));
    return TRUE;
  }
  if (reader == NULL) {
    GST_INFO_OBJECT (self, "read from the network: %s",
        cause ? cause->message : "not stored");
    return TRUE;
  }
  gst_luma_src_use_stored (self, reader);
  return TRUE;
}

/* The bytes an earlier run left in the `.part` are served from it; the
 * network goes on from its end, asked for at once to learn the size. A
 * `.part` that does not fit the file the host has (not the size of the
 * one it was written from, or not shorter, or another version) is dropped
 * and the video stored from its start: the two files would be spliced
 * into one video, and kept. A request that fails without a word on the
 * file keeps the `.part`: the reads go on from its end (with their
 * retries and renewals), expecting its file. */
static gboolean
gst_luma_src_resume_part (GstLumaSrc * self, GError ** error)
{
  LumaStreaming *s = self->streaming;
  guint64 prefix = luma_store_writer_get_prefix (s->writer);
  guint64 part_size = luma_store_writer_get_part_size (s->writer);
  g_autoptr (GError) cause = NULL;

  if (prefix == part_size && gst_luma_src_complete_part (self, &cause)) {
    if (cause == NULL)
      return TRUE;
    g_propagate_error (error, g_steal_pointer (&cause));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "resuming the stored .part at byte %"
      G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT, prefix, part_size);
  luma_stream_seek (s->stream, prefix);
  if (part_size != LUMA_STORE_SIZE_UNKNOWN && prefix < part_size
      && luma_stream_open (s->stream, self->cancellable, &cause)
      && luma_stream_get_size (s->stream) == part_size
      && luma_stream_version_agrees (s->stream,
          luma_store_writer_get_part_version (s->writer)))
    return TRUE;
  if (g_cancellable_set_error_if_cancelled (self->cancellable, error)) {
    /* unchecked, the .part is not read: left for the next begin */
    luma_store_writer_free (g_steal_pointer (&s->writer), FALSE);
    return FALSE;
  }
  if (cause != NULL && says_nothing_of_the_file (s->stream, cause)
      && gst_luma_src_expect_same_file (self, part_size,
          luma_store_writer_get_part_version (s->writer), NULL)) {
    GST_INFO_OBJECT (self, "the .part's resume is asked for again: %s",
        cause->message);
    return TRUE;
  }
  GST_INFO_OBJECT (self, "the .part cannot be resumed, the video is "
      "stored from its start: %s",
      cause ? cause->message : "it is not the beginning of the host's file");
  g_clear_error (&cause);
  if (!luma_store_writer_restart (s->writer, &cause))
    gst_luma_src_stop_storing (self, cause);
  luma_stream_seek (s->stream, s->offset);
  return TRUE;
}

static gboolean
gst_luma_src_expect_followed_file (GstLumaSrc * self, GError ** error)
{
  LumaStreaming *s = self->streaming;

  return s->follower == NULL || gst_luma_src_expect_same_file (self,
      luma_store_follower_get_size (s->follower),
      luma_store_follower_get_version (s->follower), error);
}

/* How often a source begins with the store's entry: again after a writer
 * it followed stopped, as long as another takes over (each one at least
 * began the download anew). */
#define MAX_STORE_BEGINS 4

/* luma_store_begin (): FALSE only when cancelled; a store that cannot
 * be written is a warning, and the stream goes on unstored. */
static gboolean
gst_luma_src_take_entry (GstLumaSrc * self, LumaStoreReader ** reader,
    GError ** error)
{
  LumaStreaming *s = self->streaming;
  g_autoptr (GError) cause = NULL;

  if (luma_store_begin (s->store, task_id (self), self->cancellable,
          &s->writer, reader, &s->follower, &cause))
    return TRUE;
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_propagate_error (error, g_steal_pointer (&cause));
    return FALSE;
  }
  /* the other one stores it, in its own time: nothing to warn about */
  if (g_error_matches (cause, LUMA_STORE_ERROR, LUMA_STORE_ERROR_BUSY))
    GST_INFO_OBJECT (self, "streaming without the store: %s", cause->message);
  else
    gst_luma_src_warn_not_stored (self, cause);
  return TRUE;
}

/* The task's video is written into the store as it streams: unless
 * another pipeline or process is doing that right now, in which case this
 * one reads what it writes, as it writes it (one download), or another
 * source of this pipeline is, in which case this one streams without the
 * store (waiting, the two would hold each other's preroll back). A
 * read-only store is never written: it only follows a download under
 * way. */
static gboolean
gst_luma_src_begin_entry (GstLumaSrc * self, GError ** error)
{
  LumaStreaming *s = self->streaming;
  LumaStoreReader *reader = NULL;

  s->room_made = FALSE;
  if (s->settings.store == GST_LUMA_STORE_MODE_READ_ONLY)
    s->follower = luma_store_follow (s->store, task_id (self));
  else if (!gst_luma_src_take_entry (self, &reader, error))
    return FALSE;

  if (reader != NULL) {
    const LumaStoreMeta *meta = luma_store_reader_get_meta (reader);

    /* completed meanwhile by another: of the file read so far only */
    if (!gst_luma_src_expect_same_file (self, meta->size, meta->version, error)) {
      luma_store_reader_free (reader);
      return FALSE;
    }
    gst_luma_src_use_stored (self, reader);
    return TRUE;
  }
  if (s->follower != NULL) {
    GST_INFO_OBJECT (self, "another pipeline or process is storing task %s: "
        "following its download", task_id (self));
    return TRUE;
  }
  if (s->writer != NULL && luma_store_writer_get_prefix (s->writer) > 0)
    return gst_luma_src_resume_part (self, error);
  return TRUE;
}

/* Begins with the store's entry, up to MAX_STORE_BEGINS times. One that
 * a seek or a stop cuts is left pending, begun again at the next
 * create (), and not counted: the limit is on writers that stopped. */
static gboolean
gst_luma_src_begin_storing (GstLumaSrc * self, GError ** error)
{
  LumaStreaming *s = self->streaming;

  s->begin_pending = FALSE;
  if (s->store == NULL || s->settings.store == GST_LUMA_STORE_MODE_OFF
      || s->store_begins >= MAX_STORE_BEGINS)
    return TRUE;
  s->store_begins++;
  if (gst_luma_src_begin_entry (self, error))
    return TRUE;
  if (g_cancellable_is_cancelled (self->cancellable)) {
    s->store_begins--;
    s->begin_pending = TRUE;
  }
  return FALSE;
}

/* The writer this source followed stopped short: the entry is taken over
 * (resumed from its `.part`, followed anew, or found complete) where it
 * can be, else the rest comes from the network, unstored. */
static gboolean
gst_luma_src_stop_following (GstLumaSrc * self, const GError * cause,
    GError ** error)
{
  LumaStreaming *s = self->streaming;

  if (g_error_matches (cause, LUMA_STORE_ERROR, LUMA_STORE_ERROR_DAMAGED)) {
    g_clear_pointer (&s->follower, luma_store_follower_free);
    g_set_error (error, LUMA_STORE_ERROR, LUMA_STORE_ERROR_DAMAGED,
        _("The video of task %s, read as another pipeline or process "
            "stored it, is not what it was said to be: %s"), task_id (self),
        cause->message);
    return FALSE;
  }
  /* what the rest comes from is of the file it told, or not read on */
  if (!gst_luma_src_expect_followed_file (self, error))
    return FALSE;
  g_clear_pointer (&s->follower, luma_store_follower_free);
  GST_INFO_OBJECT (self, "stopped following the download at byte %"
      G_GUINT64_FORMAT ": %s", s->offset, cause->message);
  if (g_error_matches (cause, LUMA_STORE_ERROR, LUMA_STORE_ERROR_ABANDONED))
    return gst_luma_src_begin_storing (self, error);
  return TRUE;
}

typedef struct
{
  GstBuffer *buffer;
  GstMapInfo map;
} LumaMappedBuffer;

static void
mapped_buffer_free (gpointer data)
{
  LumaMappedBuffer *mapped = data;

  gst_buffer_unmap (mapped->buffer, &mapped->map);
  gst_buffer_unref (mapped->buffer);
  g_free (mapped);
}

/* The buffer's bytes as GBytes, without a copy: the store's hasher keeps
 * a reference for as long as it needs them. */
static GBytes *
bytes_of_buffer (GstBuffer * buffer)
{
  LumaMappedBuffer *mapped = g_new (LumaMappedBuffer, 1);

  mapped->buffer = gst_buffer_ref (buffer);
  gst_buffer_map (mapped->buffer, &mapped->map, GST_MAP_READ);
  return g_bytes_new_with_free_func (mapped->map.data, mapped->map.size,
      mapped_buffer_free, mapped);
}

/* Over the limit with @incoming bytes more to come: the entries to go. */
static void
gst_luma_src_evict (GstLumaSrc * self, guint64 incoming)
{
  LumaStreaming *s = self->streaming;
  g_auto (GStrv) only_copies = luma_store_evict (s->store, task_id (self),
      incoming);
  guint i;

  for (i = 0; only_copies != NULL && only_copies[i] != NULL; i++) {
    g_autofree gchar *text =
        g_strdup_printf (_("The store went over its limit: the stored video "
            "of task %s was removed, and KIE no longer holds it"),
        only_copies[i]);

    gst_luma_src_warn_store (self, text, NULL);
  }
}

/* What the entry says of the video: from the task's record (the texts
 * are the record's). */
static void
meta_of_record (LumaStreaming * s, LumaStoreMeta * meta)
{
  const GstLumaRecord *record = s->record;
  gint64 now = g_get_real_time () / 1000;

  meta->prompt = record->prompt;
  meta->result_url = record->result_urls[0];
  meta->size = luma_stream_get_size (s->stream);
  meta->created = record->create_time >= 0 ? record->create_time : now;
  meta->source_url = record->source_url;
  meta->completed = record->complete_time;
  meta->kie_until = (record->complete_time >= 0 ? record->complete_time : now)
      + LUMA_STORE_KIE_RETENTION_MS;
}

/* The writer's `.part`, of @size bytes, becomes the stored entry: TRUE
 * when it is kept. */
static gboolean
gst_luma_src_commit (GstLumaSrc * self, guint64 size)
{
  LumaStreaming *s = self->streaming;
  LumaStoreMeta meta = { NULL, };
  g_autoptr (GError) cause = NULL;

  meta_of_record (s, &meta);
  meta.size = size;
  if (!luma_store_writer_commit (g_steal_pointer (&s->writer), &meta, &cause)) {
    if (g_error_matches (cause, LUMA_STORE_ERROR, LUMA_STORE_ERROR_TOO_LARGE))
      GST_INFO_OBJECT (self, "%s", cause->message);
    else
      gst_luma_src_warn_not_stored (self, cause);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "task %s stored", task_id (self));
  gst_luma_src_evict (self, 0);
  return TRUE;
}

/* At the end of the video: a prefix that is the whole file becomes the
 * stored entry; a shorter one (a seek skipped a part) stays a `.part`. */
static void
gst_luma_src_finish_storing (GstLumaSrc * self)
{
  LumaStreaming *s = self->streaming;

  if (s->writer != NULL && luma_stream_get_size (s->stream)
      == luma_store_writer_get_prefix (s->writer))
    gst_luma_src_commit (self, luma_stream_get_size (s->stream));
}

/* Known from the first answer: no point writing what cannot be kept. */
static gboolean
too_large_to_store (LumaStreaming * s)
{
  guint64 size = luma_stream_get_size (s->stream);
  guint64 limit = (guint64) s->settings.store_limit * 1024 * 1024;

  return limit > 0 && size != LUMA_STREAM_SIZE_UNKNOWN && size > limit;
}

/* Before the first byte is written, once the size is known: FALSE when
 * the video is too large to keep (the writer is dropped), else room is
 * made for the bytes to come (the `.part`'s are counted already), so that
 * the store stays within its limit while it writes too: from the start,
 * from a `.part` an earlier run left, or in a fill. */
static gboolean
gst_luma_src_make_room (GstLumaSrc * self)
{
  LumaStreaming *s = self->streaming;
  guint64 size = luma_stream_get_size (s->stream);
  guint64 prefix;

  if (s->room_made || size == LUMA_STREAM_SIZE_UNKNOWN)
    return TRUE;
  if (too_large_to_store (s)) {
    GST_INFO_OBJECT (self, "the video is larger than store-limit: not stored");
    g_clear_pointer (&s->writer, luma_store_writer_free_discarded);
    return FALSE;
  }
  prefix = luma_store_writer_get_prefix (s->writer);
  if (size > prefix)
    gst_luma_src_evict (self, size - prefix);
  s->room_made = TRUE;
  return TRUE;
}

/* How often the rest is filled in, in one streaming: a fill that stopped
 * short (a host that fails, an expired URL) gives the writer back, and
 * another starts from where it got, FILL_RETRY_DELAY_US later at the
 * earliest; after an expired URL, from a fresh link. */
#define MAX_FILLS 4
#define FILL_RETRY_DELAY_US (2 * G_USEC_PER_SEC)

/* The source is reading past what the `.part` holds (a seek ahead): the
 * bytes in between are fetched by a fill, in the background, which then
 * completes the entry. The source reads from the network meanwhile. */
static void
gst_luma_src_start_fill (GstLumaSrc * self)
{
  LumaStreaming *s = self->streaming;
  guint64 prefix = luma_store_writer_get_prefix (s->writer);
  LumaStoreMeta meta = { NULL, };

  /* a fill knows where the file ends; the record is what the entry says */
  if (s->fills >= MAX_FILLS || s->record == NULL
      || luma_stream_get_size (s->stream) == LUMA_STREAM_SIZE_UNKNOWN
      || g_get_monotonic_time () < s->next_fill)
    return;
  if (!gst_luma_src_make_room (self))
    return;
  meta_of_record (s, &meta);
  /* an expired URL is refused to every later fill too, while the source
   * streams on over an answer it opened before: the fill asks for a
   * fresh link to the file first, in its own thread (a KIE slow to
   * answer holds no buffer back); the flag stays until a fill fails
   * otherwise or completes */
  s->fill = luma_fill_start (g_steal_pointer (&s->writer), s->stream, &meta,
      s->api, s->fill_url_expired ? s->record->result_urls[0] : NULL);
  s->fills++;
  GST_INFO_OBJECT (self, "reading at byte %" G_GUINT64_FORMAT ", the store "
      "has %" G_GUINT64_FORMAT ": the rest is stored in the background",
      s->offset, prefix);
}

/* A fill that completed the entry leaves the store to tidy; one that
 * stopped short gives the writer back, its `.part` as far as it got. */
static void
gst_luma_src_end_fill (GstLumaSrc * self)
{
  LumaStreaming *s = self->streaming;
  gint64 ended = luma_fill_get_end_time (s->fill);
  g_autoptr (GError) cause = NULL;

  if (luma_fill_get_link_refusal (s->fill) != NULL)
    GST_INFO_OBJECT (self, "no fresh link for the fill: %s",
        luma_fill_get_link_refusal (s->fill));
  if (luma_fill_finish (g_steal_pointer (&s->fill), &s->writer, &cause)) {
    GST_INFO_OBJECT (self, "task %s stored", task_id (self));
    gst_luma_src_evict (self, 0);
  } else if (cause == NULL) {
    GST_DEBUG_OBJECT (self, "fill stopped");
  } else if (g_error_matches (cause, LUMA_STORE_ERROR, LUMA_STORE_ERROR_IO)) {
    gst_luma_src_warn_not_stored (self, cause);
  } else {
    GST_INFO_OBJECT (self, "the rest of the video was not stored: %s",
        cause->message);
    s->next_fill = ended + FILL_RETRY_DELAY_US;
    s->fill_url_expired = g_error_matches (cause, LUMA_STREAM_ERROR,
        LUMA_STREAM_ERROR_EXPIRED);
  }
}

static void
gst_luma_src_store_buffer (GstLumaSrc * self, GstBuffer * buffer,
    guint64 offset)
{
  LumaStreaming *s = self->streaming;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) cause = NULL;

  if (s->writer == NULL || offset != luma_store_writer_get_prefix (s->writer))
    return;
  if (!gst_luma_src_make_room (self))
    return;
  /* for followers: told before the bytes that let them trust it */
  if (luma_stream_get_size (s->stream) != LUMA_STREAM_SIZE_UNKNOWN) {
    g_autofree gchar *version = luma_stream_get_version (s->stream);

    luma_store_writer_set_version (s->writer, version);
    luma_store_writer_set_size (s->writer, luma_stream_get_size (s->stream));
  }
  bytes = bytes_of_buffer (buffer);
  if (!luma_store_writer_append (s->writer, offset, bytes, &cause)) {
    gst_luma_src_stop_storing (self, cause);
    return;
  }
  /* GstBaseSrc ends at the size it knows without asking for more: the
   * last byte is the end */
  if (luma_store_writer_get_prefix (s->writer) ==
      luma_stream_get_size (s->stream))
    gst_luma_src_finish_storing (self);
}

/* ----- streaming ----- */

static gboolean
is_expired (const GError * error)
{
  return g_error_matches (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_EXPIRED);
}

/* Renewals of an expired URL in a row after which the fresh URL gave less
 * than LUMA_STREAM_RENEWAL_PROGRESS bytes before it failed too. */
#define MAX_RENEWALS_WITHOUT_PROGRESS 3

/* A fresh read of the record, for the URL that expired. Where it gives
 * that URL again, KIE's download-url is asked for a fresh link to the same
 * file: streamed in its place (never with the key), as the same renewal.
 * A refusal (a file not KIE's) leaves the record's URL, which the bound on
 * renewals without progress then judges. */
static gboolean
gst_luma_src_renew_url (GstLumaSrc * self, GError ** error)
{
  LumaStreaming *s = self->streaming;
  g_autofree gchar *expired = s->record != NULL ?
      g_strdup (s->record->result_urls[0]) : NULL;
  g_autoptr (GError) refused = NULL;
  g_autofree gchar *link = NULL;

  if (!gst_luma_src_fetch_record (self, TRUE, error))
    return FALSE;
  if (g_strcmp0 (expired, s->record->result_urls[0]) != 0)
    return TRUE;
  link = luma_api_fresh_link (s->api, expired, self->cancellable, &refused);
  if (link == NULL || !luma_stream_replace_url (s->stream, link, &refused)) {
    GST_INFO_OBJECT (self, "no fresh link: %s", refused->message);
    return TRUE;
  }
  GST_INFO_OBJECT (self, "streaming from a fresh link to the same file");
  return TRUE;
}

/* Reads from the result URL. A URL that has expired (they are temporary)
 * is replaced by the one a fresh read of the record gives, at the same
 * offset: as often as a long download needs, but only a few times in a
 * row without progress, or a host that refuses every resume (whatever the
 * URL) would have the record read again for each piece of the file. */
static gssize
gst_luma_src_read_video (GstLumaSrc * self, guint8 * data, gsize size,
    GError ** error)
{
  LumaStreaming *s = self->streaming;

  for (;;) {
    g_autoptr (GError) cause = NULL;
    guint renewals;
    gssize n = luma_stream_read (s->stream, data, size, self->cancellable,
        &cause);

    if (n >= 0)
      return n;
    if (!is_expired (cause)) {
      g_propagate_error (error, g_steal_pointer (&cause));
      return -1;
    }

    renewals = luma_stream_get_renewals_without_progress (s->stream);
    if (renewals >= MAX_RENEWALS_WITHOUT_PROGRESS) {
      g_set_error (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_EXPIRED,
          g_dngettext (GETTEXT_PACKAGE,
              "The video of task %s has expired, and its URL on %s was "
              "renewed %u time in a row without progress (less than 1 MiB "
              "read after each renewal): %s",
              "The video of task %s has expired, and its URL on %s was "
              "renewed %u times in a row without progress (less than 1 MiB "
              "read after each renewal): %s", renewals), task_id (self),
          luma_stream_get_host (s->stream), renewals, cause->message);
      return -1;
    }
    GST_INFO_OBJECT (self, "%s: reading the task's record again (%u "
        "renewals in a row without progress so far)", cause->message, renewals);
    if (!gst_luma_src_renew_url (self, error))
      return -1;
  }
}

static guint64
gst_luma_src_video_size (GstLumaSrc * self)
{
  LumaStreaming *s = self->streaming;

  if (s->phase == PHASE_STORED)
    return luma_store_reader_get_meta (s->stored)->size;
  if (s->follower != NULL
      && luma_store_follower_get_size (s->follower) != LUMA_STORE_SIZE_UNKNOWN)
    return luma_store_follower_get_size (s->follower);
  return luma_stream_get_size (s->stream);
}

/* Tells downstream (qtdemux asks once, before the first buffer) how large
 * the file is, as soon as the first answer says so. */
static void
gst_luma_src_announce_size (GstLumaSrc * self)
{
  LumaStreaming *s = self->streaming;
  GstBaseSrc *basesrc = GST_BASE_SRC (self);
  guint64 size = gst_luma_src_video_size (self);

  if (s->size_announced || size == LUMA_STREAM_SIZE_UNKNOWN)
    return;
  s->size_announced = TRUE;
  GST_DEBUG_OBJECT (self, "size %" G_GUINT64_FORMAT " bytes", size);
  GST_OBJECT_LOCK (self);
  basesrc->segment.duration = size;
  GST_OBJECT_UNLOCK (self);
  gst_luma_src_post (self, gst_message_new_duration_changed (GST_OBJECT
          (self)));
}

/* ----- the buffers reads fill ----- */

/* Buffers free for reuse are kept up to this many bytes. */
#define POOL_BYTES (16 * 1024 * 1024)

static void
drop_pool (LumaStreaming * s)
{
  if (s->pool == NULL)
    return;
  /* the buffers still downstream are freed when they come back */
  gst_buffer_pool_set_active (s->pool, FALSE);
  gst_clear_object (&s->pool);
}

static GstBufferPool *
new_pool (guint size)
{
  GstBufferPool *pool = gst_buffer_pool_new ();
  GstStructure *config = gst_buffer_pool_get_config (pool);

  gst_buffer_pool_config_set_params (config, NULL, size, 0,
      MAX (2, POOL_BYTES / size));
  if (!gst_buffer_pool_set_config (pool, config)
      || !gst_buffer_pool_set_active (pool, TRUE))
    gst_clear_object (&pool);
  return pool;
}

/* A buffer of @size bytes to read into. A buffer freed in another thread
 * (a queue's downstream, the store's) goes back to the pool for the next
 * read: freed, its memory could go back to the system, and the next read
 * fault fresh pages in (in some runs a quarter of the streaming thread's
 * CPU with the store on). Past the pool's bound, a buffer of its own. */
static GstBuffer *
gst_luma_src_new_buffer (GstLumaSrc * self, guint size)
{
  LumaStreaming *s = self->streaming;
  GstBufferPoolAcquireParams params = {.flags =
        GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT
  };
  GstBuffer *buffer = NULL;

  /* blocksize may change in any state */
  if (s->pool == NULL || s->pool_size != size) {
    drop_pool (s);
    s->pool = new_pool (size);
    s->pool_size = size;
  }
  if (s->pool == NULL
      || gst_buffer_pool_acquire_buffer (s->pool, &buffer,
          &params) != GST_FLOW_OK)
    buffer = gst_buffer_new_allocate (NULL, size, NULL);
  return buffer;
}

/* A read returns what has arrived, on a slow link a small part of the
 * buffer: such a read goes out in a buffer of its own size, so that the
 * buffers queued downstream hold the bytes they carry, not blocksize each.
 * Unmaps @map. */
static GstBuffer *
fit_buffer (GstBuffer * buffer, GstMapInfo * map, gsize n)
{
  GstBuffer *fitted;

  if (n >= map->size / 4) {
    gst_buffer_unmap (buffer, map);
    gst_buffer_set_size (buffer, n);
    return buffer;
  }
  fitted = gst_buffer_new_memdup (map->data, n);
  gst_buffer_unmap (buffer, map);
  gst_buffer_unref (buffer);
  return fitted;
}

static void
gst_luma_src_settings_error (GstLumaSrc * self, const LumaSettings * settings,
    const gchar * text)
{
  /* the task id may be what was wrong: shown made safe */
  g_autofree gchar *safe_id = luma_text_make_safe (settings->task_id, -1);
  GstStructure *details = gst_structure_new ("details",
      GST_LUMA_DETAIL_TASK_ID, G_TYPE_STRING, safe_id,
      GST_LUMA_DETAIL_TASK_STATE, GST_TYPE_LUMA_TASK_STATE,
      GST_LUMA_TASK_STATE_ERROR,
      GST_LUMA_DETAIL_API_CODE, G_TYPE_INT, 0,
      GST_LUMA_DETAIL_HTTP_STATUS, G_TYPE_UINT, 0, NULL);

  gst_luma_src_post_resource_message (self, GST_MESSAGE_ERROR,
      GST_RESOURCE_ERROR_SETTINGS, text, details, NULL);
}

/* GstBaseSrc's blocksize may be set to anything, in any state. */
static gboolean
check_blocksize (GstLumaSrc * self, GError ** error)
{
  guint blocksize = gst_base_src_get_blocksize (GST_BASE_SRC (self));

  if (blocksize > 0 && blocksize <= MAX_BLOCKSIZE)
    return TRUE;
  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      _("blocksize must be from 1 to %u bytes, not %u"), MAX_BLOCKSIZE,
      blocksize);
  return FALSE;
}

/* Before any poll: the task this element is to create, then the store. */
static gboolean
gst_luma_src_find_video (GstLumaSrc * self, GError ** error)
{
  LumaStreaming *s = self->streaming;

  if (s->phase == PHASE_CREATING && !gst_luma_src_create_task (self, error))
    return FALSE;
  return s->phase != PHASE_WAITING || s->store_looked_up
      || gst_luma_src_look_up_store (self, error);
}

/* The store did not have it: the task's record, then the store's entry
 * taken for writing (or found complete, written meanwhile by another). */
static gboolean
gst_luma_src_fetch_video (GstLumaSrc * self, GError ** error)
{
  LumaStreaming *s = self->streaming;

  if (s->phase == PHASE_WAITING) {
    if (!gst_luma_src_wait_for_video (self, error))
      return FALSE;
    s->begin_pending = TRUE;
  }
  return !s->begin_pending || gst_luma_src_begin_storing (self, error);
}

/* From another's download as it is written: FALSE when the offset is
 * ahead of it (a seek), or the download stopped short, and the bytes are
 * to come from elsewhere. */
static gboolean
gst_luma_src_read_followed (GstLumaSrc * self, guint8 * data, gsize size,
    gssize * n, GError ** error)
{
  LumaStreaming *s = self->streaming;
  g_autoptr (GError) cause = NULL;
  g_autoptr (GError) mismatch = NULL;

  /* ahead of the download (a seek to a trimmed clip's in-point),
   * the bytes come from the network; a writer that stopped meanwhile is
   * taken over, as from a read behind it, so that the bytes the seek
   * skipped are still stored while this source is open */
  if (s->offset > luma_store_follower_get_written (s->follower)
      && !luma_store_follower_refresh (s->follower, &cause)) {
    *n = -1;
    return !gst_luma_src_stop_following (self, cause, error);
  }
  if (s->offset > luma_store_follower_get_written (s->follower))
    return FALSE;
  *n = luma_store_follower_read (s->follower, data, size, s->offset,
      self->cancellable, &cause);
  /* checked before they go out: the writer may have told its file just
   * now, and it may not be the one the bytes so far were of */
  if (*n >= 0 && !gst_luma_src_expect_followed_file (self, &mismatch)) {
    g_propagate_error (error, g_steal_pointer (&mismatch));
    *n = -1;
    return TRUE;
  }
  if (*n >= 0)
    return TRUE;
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_propagate_error (error, g_steal_pointer (&cause));
    return TRUE;
  }
  /* a failure of its own, or the bytes come from elsewhere */
  return !gst_luma_src_stop_following (self, cause, error);
}

/* A stored video that fails under its reader, past the checks of its open
 * (cut short, an I/O error): the rest comes from the network, unstored,
 * when there is a key; from a video of the stored one's size (and
 * version, where the store has it) only. */
static gboolean
gst_luma_src_read_rest_from_network (GstLumaSrc * self, const GError * cause,
    GError ** error)
{
  LumaStreaming *s = self->streaming;
  const LumaStoreMeta *meta = luma_store_reader_get_meta (s->stored);
  guint64 size = meta->size;
  g_autofree gchar *version = g_strdup (meta->version);
  g_autofree gchar *text = g_strdup_printf (_("The stored video of task %s "
          "cannot be read, the rest comes from the network: %s"),
      task_id (self), cause->message);

  GST_WARNING_OBJECT (self, "%s", text);
  gst_luma_src_warn_store (self, text, cause);
  /* a record read for its URL, not a wait */
  s->phase = PHASE_STREAMING;
  /* a read that a flush cuts leaves the stored video to read on from
   * (after a seek back, it has the bytes): the stream has no URL yet */
  if (!gst_luma_src_fetch_record (self, FALSE, error)) {
    if (g_cancellable_is_cancelled (self->cancellable))
      s->phase = PHASE_STORED;
    else
      g_clear_pointer (&s->stored, luma_store_reader_free);
    return FALSE;
  }
  g_clear_pointer (&s->stored, luma_store_reader_free);
  return gst_luma_src_expect_same_file (self, size, version, error);
}

/* From the store, from another's download, from what the `.part` holds,
 * or from the network. */
static gssize
gst_luma_src_read (GstLumaSrc * self, guint8 * data, gsize size,
    GError ** error)
{
  LumaStreaming *s = self->streaming;
  gssize n;

  /* one that stopped short may be followed by another's anew */
  while (s->follower != NULL) {
    guint begins = s->store_begins;

    if (gst_luma_src_read_followed (self, data, size, &n, error))
      return n;
    /* the same follower: the offset is ahead of what it has (a new one,
     * of the writer that took the entry over, is read from next) */
    if (s->store_begins == begins) {
      if (!gst_luma_src_expect_followed_file (self, error))
        return -1;
      break;
    }
  }
  if (s->phase == PHASE_STORED) {
    g_autoptr (GError) cause = NULL;

    n = luma_store_reader_read (s->stored, data, size, s->offset, &cause);
    if (n >= 0)
      return n;
    if (!luma_task_settings_check_key (&s->settings.task, NULL)) {
      g_propagate_error (error, g_steal_pointer (&cause));
      return -1;
    }
    if (!gst_luma_src_read_rest_from_network (self, cause, error))
      return -1;
  }
  if (s->fill != NULL && luma_fill_has_ended (s->fill))
    gst_luma_src_end_fill (self);
  /* back within what the `.part` held before the fill (a demuxer back
   * from the index at the end of the file, a scrub back): the `.part` has
   * those bytes and more now, and the source appends from its end, as it
   * did before fills (one download); a seek ahead again starts another
   * fill, not counted as one tried again */
  if (s->fill != NULL && s->offset <= luma_fill_get_start (s->fill)) {
    gst_luma_src_end_fill (self);
    if (s->fills > 0)
      s->fills--;
  }
  if (s->writer != NULL && s->offset > luma_store_writer_get_prefix (s->writer))
    gst_luma_src_start_fill (self);
  if (s->writer != NULL && s->offset < luma_store_writer_get_prefix (s->writer)) {
    g_autoptr (GError) cause = NULL;

    n = luma_store_writer_read (s->writer, data, size, s->offset, &cause);
    if (n >= 0)
      return n;
    /* the `.part` failed (a write behind the stream, a read): the
     * network has the same bytes */
    gst_luma_src_stop_storing (self, cause);
  }
  if (luma_stream_get_offset (s->stream) != s->offset)
    luma_stream_seek (s->stream, s->offset);
  return gst_luma_src_read_video (self, data, size, error);
}

/* basesrc bounds the reads of a pull, not the buffers a push source
 * makes: a seek's stop is kept here. G_MAXUINT64 when there is none. */
static guint64
gst_luma_src_bytes_before_stop (GstLumaSrc * self, guint64 offset)
{
  guint64 stop;

  GST_OBJECT_LOCK (self);
  stop = GST_BASE_SRC (self)->segment.stop;
  GST_OBJECT_UNLOCK (self);
  if (stop == G_MAXUINT64)
    return G_MAXUINT64;
  return stop > offset ? stop - offset : 0;
}

static GstFlowReturn
gst_luma_src_create (GstPushSrc * pushsrc, GstBuffer ** outbuf)
{
  GstLumaSrc *self = GST_LUMA_SRC (pushsrc);
  LumaStreaming *s = self->streaming;
  g_autoptr (GError) error = NULL;
  GstBuffer *buffer;
  GstMapInfo map;
  guint64 offset, left;
  gssize n;

  if (!gst_luma_src_find_video (self, &error))
    return gst_luma_src_fail (self, error);
  /* the key is needed once the store has not answered the task */
  if (s->phase == PHASE_WAITING
      && !luma_task_settings_check_key (&s->settings.task, &error)) {
    gst_luma_src_settings_error (self, &s->settings, error->message);
    return GST_FLOW_ERROR;
  }
  if ((s->phase == PHASE_WAITING || s->begin_pending)
      && !gst_luma_src_fetch_video (self, &error))
    return gst_luma_src_fail (self, error);
  if (!check_blocksize (self, &error)) {
    gst_luma_src_settings_error (self, &s->settings, error->message);
    return GST_FLOW_ERROR;
  }

  offset = s->offset;
  left = gst_luma_src_bytes_before_stop (self, offset);
  if (left == 0)
    return GST_FLOW_EOS;
  buffer = gst_luma_src_new_buffer (self,
      gst_base_src_get_blocksize (GST_BASE_SRC (self)));
  gst_buffer_map (buffer, &map, GST_MAP_WRITE);
  n = gst_luma_src_read (self, map.data, MIN (map.size, left), &error);

  if (n <= 0) {
    gst_buffer_unmap (buffer, &map);
    gst_buffer_unref (buffer);
    if (n == 0) {
      GST_DEBUG_OBJECT (self, "end of the video at byte %" G_GUINT64_FORMAT,
          offset);
      if (s->phase == PHASE_STREAMING)
        gst_luma_src_finish_storing (self);
      return GST_FLOW_EOS;
    }
    return gst_luma_src_fail (self, error);
  }

  buffer = fit_buffer (buffer, &map, n);
  s->offset = offset + n;
  /* bytes came without the wait a flush cut (a renewal's, a
   * record read for a stored video's rest): it is over, not the start of
   * a later renewal's, which would inherit its wait-timeout */
  s->wait_resume = (LumaWaitResume) {
  0, 0};
  gst_luma_src_announce_size (self);
  GST_BUFFER_OFFSET (buffer) = offset;
  GST_BUFFER_OFFSET_END (buffer) = offset + n;
  gst_luma_src_store_buffer (self, buffer, offset);
  *outbuf = buffer;
  return GST_FLOW_OK;
}

/* ----- GstBaseSrc ----- */

GstObject *
gst_luma_top_level (GstObject * object)
{
  GstObject *top = gst_object_ref (object);
  GstObject *parent;

  while ((parent = gst_object_get_parent (top)) != NULL) {
    gst_object_unref (top);
    top = parent;
  }
  return top;
}

/* The top-level bin the element is in (or the element): only its address
 * is used, to tell the sources of one pipeline. */
static gconstpointer
pipeline_of (GstLumaSrc * self)
{
  GstObject *top = gst_luma_top_level (GST_OBJECT (self));

  gst_object_unref (top);
  return top;
}

/* NULL when the store is off: then no file is touched. Sources of one
 * pipeline never wait for each other's writing (@pipeline). */
static LumaStore *
luma_store_for (const LumaSettings * settings, LumaApi * api,
    gconstpointer pipeline)
{
  g_autofree gchar *api_url = NULL;
  g_autofree gchar *key_digest = NULL;
  LumaStoreConfig config = { settings->store_dir, NULL, NULL,
    (guint64) settings->store_limit * 1024 * 1024,
    settings->store == GST_LUMA_STORE_MODE_READ_ONLY,
    .group = pipeline
  };

  /* no directory: HOME and XDG_DATA_HOME are both relative paths */
  if (settings->store == GST_LUMA_STORE_MODE_OFF || settings->store_dir == NULL)
    return NULL;
  /* the API as its client writes it: one entry for "https://API.kie.ai/"
   * and "https://api.kie.ai" */
  config.api_url = api_url = g_uri_to_string (luma_api_get_base (api));
  config.key_digest = key_digest =
      luma_store_key_digest (settings->task.api_key);
  return luma_store_new (&config);
}

static LumaStreaming *
luma_streaming_new (GstLumaSrc * self, const LumaSettings * settings,
    GError ** error)
{
  g_auto (GStrv) envp = g_get_environ ();
  g_autoptr (GProxyResolver) proxy_resolver =
      luma_proxy_resolver_new (settings->proxy, envp, NULL, error);
  LumaHttpConfig http = { settings->user_agent, settings->timeout,
    proxy_resolver, settings->ssl_strict
  };
  g_autoptr (SoupSession) api_session = NULL;
  g_autoptr (SoupSession) session = NULL;
  g_autofree gchar *proxy_text = NULL;
  LumaApi *api;
  LumaStreaming *s;

  if (proxy_resolver == NULL)
    return NULL;
  /* the sessions are the process's, shared by every source with the same
   * settings: the polls of hundreds of sources go over a few connections,
   * and a clip's video over the connection a finished clip left */
  proxy_text = luma_proxy_settings_text (settings->proxy, envp);
  api_session = luma_http_session_shared (&http, proxy_text, LUMA_HTTP_FOR_API);
  session = luma_http_session_shared (&http, proxy_text, LUMA_HTTP_FOR_VIDEO);
  api =
      luma_api_new (api_session, settings->task.api_url,
      settings->task.api_key, error);
  if (api == NULL)
    return NULL;
  s = g_new0 (LumaStreaming, 1);
  luma_settings_copy (&s->settings, settings);
  s->phase =
      luma_settings_non_empty (settings->task_id) ? PHASE_WAITING :
      PHASE_CREATING;
  s->api = api;
  s->stream = luma_stream_new (session, settings->retries);
  s->store = luma_store_for (settings, api, pipeline_of (self));
  return s;
}

static void
luma_streaming_free (LumaStreaming * s)
{
  /* a .part left stays for the next run to resume */
  if (s->fill != NULL)
    luma_fill_finish (s->fill, &s->writer, NULL);
  luma_store_writer_free (s->writer, FALSE);
  luma_store_follower_free (s->follower);
  luma_store_reader_free (s->stored);
  drop_pool (s);
  luma_store_free (s->store);
  luma_settings_clear (&s->settings);
  g_free (s->task_error_code);
  luma_api_free (s->api);
  luma_stream_free (s->stream);
  gst_luma_record_free (s->record);
  g_free (s);
}


/* What creating a task needs: a prompt and a video URL that KIE can
 * fetch; the optional texts as one line each. */
static gboolean
check_create_settings (const LumaSettings * settings, GError ** error)
{
  g_autoptr (GUri) video = NULL;
  g_autoptr (GError) url_error = NULL;

  if (!luma_task_settings_prompt_is_usable (&settings->task)) {
    g_set_error_literal (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        _("Creating a task needs a prompt in valid UTF-8"));
    return FALSE;
  }
  if (settings->video_url == NULL) {
    g_set_error_literal (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        _("Creating a task needs video-url: the public http(s) URL of the "
            "clip to modify"));
    return FALSE;
  }
  video = luma_text_is_safe (settings->video_url) ?
      luma_http_parse_url (settings->video_url, &url_error) : NULL;
  if (video == NULL) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        _("Invalid video-url: %s"), url_error ? url_error->message :
        _("it holds control characters"));
    return FALSE;
  }
  return luma_task_settings_check_texts (&settings->task, error);
}

/* A task the store may hold needs no key: that is known once the store was
 * looked at (create()). */
static gboolean
check_common_settings (const LumaSettings * settings, GError ** error)
{
  gboolean store_may_answer =
      luma_settings_non_empty (settings->task_id) != NULL
      && settings->store != GST_LUMA_STORE_MODE_OFF;

  if (!store_may_answer && !luma_task_settings_check_key (&settings->task,
          error))
    return FALSE;
  if (!luma_task_settings_check_key_sendable (&settings->task, error))
    return FALSE;
  if (!luma_text_is_header_safe (settings->user_agent)) {
    g_set_error_literal (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        _("The user-agent holds control characters or invalid UTF-8: it "
            "cannot be sent"));
    return FALSE;
  }
  return TRUE;
}

/* Values that would make no sense to run with, found before any request:
 * a header value with a line break in it would add headers of its own. */
static gboolean
check_settings (const LumaSettings * settings, GError ** error)
{
  g_autoptr (GError) task_error = NULL;

  if (luma_settings_non_empty (settings->task_id) == NULL
      && settings->task.prompt == NULL) {
    g_set_error_literal (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        _("No task id given: set the task-id property or use a luma://TASKID "
            "URI, or set prompt and video-url to create a task"));
    return FALSE;
  }
  if (luma_settings_non_empty (settings->task_id) == NULL)
    return check_create_settings (settings, error)
        && check_common_settings (settings, error);
  if (settings->task.prompt != NULL || settings->video_url != NULL) {
    g_set_error_literal (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        _("task-id names an existing task, prompt and video-url create a new "
            "one: set one or the other"));
    return FALSE;
  }
  if (!luma_task_id_check (settings->task_id, &task_error)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        _("Invalid task-id: %s"), task_error->message);
    return FALSE;
  }
  return check_common_settings (settings, error);
}

/* Builds what the streaming thread needs, or posts why it cannot. */
static LumaStreaming *
gst_luma_src_prepare (GstLumaSrc * self, const LumaSettings * settings)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text = NULL;
  LumaStreaming *s;

  if (!check_settings (settings, &error)
      || !check_blocksize (self, &error)) {
    gst_luma_src_settings_error (self, settings, error->message);
    return NULL;
  }
  s = luma_streaming_new (self, settings, &error);
  if (s == NULL && error->domain == LUMA_PROXY_ERROR) {
    /* the message names the property or the variable */
    gst_luma_src_settings_error (self, settings, error->message);
  } else if (s == NULL) {
    text = g_strdup_printf (_("Invalid api-url or KIE_API_URL: %s"),
        error->message);
    gst_luma_src_settings_error (self, settings, text);
  }
  return s;
}

/* No network here: start() must never block a state change. */
static gboolean
gst_luma_src_start (GstBaseSrc * basesrc)
{
  GstLumaSrc *self = GST_LUMA_SRC (basesrc);
  g_autoptr (GError) error = NULL;
  LumaSettings settings;
  gboolean no_store_dir;

  /* GstBaseSrc turns the segment into TIME for do-timestamp, which
   * do_seek () refuses: the first seek failed and the pipeline did not
   * start, with no error. The bytes are a file's: the segment stays in
   * BYTES, and the buffers still get their running time. */
  if (basesrc->segment.format != GST_FORMAT_BYTES)
    gst_base_src_set_format (basesrc, GST_FORMAT_BYTES);
  /* a cut meant for a seek that a stop overtook
   * (gst_luma_src_cut_for_seek ()) is not this run's */
  g_cancellable_reset (self->cancellable);

  g_mutex_lock (&self->settings_lock);
  luma_settings_copy (&settings, &self->settings);
  g_mutex_unlock (&self->settings_lock);
  luma_settings_resolve (&settings);
  if (!luma_settings_resolve_store (&settings, &error)) {
    gst_luma_src_settings_error (self, &settings, error->message);
    luma_settings_clear (&settings);
    return FALSE;
  }

  no_store_dir = settings.store != GST_LUMA_STORE_MODE_OFF
      && settings.store_dir == NULL;
  self->streaming = gst_luma_src_prepare (self, &settings);
  luma_settings_clear (&settings);
  if (self->streaming == NULL)
    return FALSE;
  /* said, not silent: the user counts on the store to outlive KIE */
  if (no_store_dir)
    gst_luma_src_post_resource_message (self, GST_MESSAGE_WARNING,
        GST_RESOURCE_ERROR_SETTINGS, _("The store is off: neither "
            "XDG_DATA_HOME nor HOME is an absolute path, so there is no "
            "folder to keep finished videos in. Set GST_LUMA_STORE_DIR or "
            "store-dir to one, or GST_LUMA_STORE=off"),
        gst_luma_src_error_details (self, GST_LUMA_TASK_STATE_WAITING), NULL);

  GST_OBJECT_LOCK (self);
  self->view.status = GST_LUMA_TASK_STATE_WAITING;
  g_clear_pointer (&self->view.location, g_free);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_luma_src_stop (GstBaseSrc * basesrc)
{
  GstLumaSrc *self = GST_LUMA_SRC (basesrc);

  if (self->streaming != NULL && self->streaming->fill != NULL)
    gst_luma_src_end_fill (self);
  g_clear_pointer (&self->streaming, luma_streaming_free);
  return TRUE;
}

static gboolean
gst_luma_src_unlock (GstBaseSrc * basesrc)
{
  GstLumaSrc *self = GST_LUMA_SRC (basesrc);

  GST_DEBUG_OBJECT (self, "cancelling any wait or request");
  g_cancellable_cancel (self->cancellable);
  return TRUE;
}

static gboolean
gst_luma_src_unlock_stop (GstBaseSrc * basesrc)
{
  GstLumaSrc *self = GST_LUMA_SRC (basesrc);

  g_cancellable_reset (self->cancellable);
  return TRUE;
}

/* Seekable before the task is even done: the result is a file on a server
 * that takes Range (and one that does not is read from its start and the
 * bytes before the offset are dropped). */
static gboolean
gst_luma_src_is_seekable (GstBaseSrc * basesrc)
{
  return TRUE;
}

static gboolean
gst_luma_src_do_seek (GstBaseSrc * basesrc, GstSegment * segment)
{
  GstLumaSrc *self = GST_LUMA_SRC (basesrc);

  if (segment->format != GST_FORMAT_BYTES || self->streaming == NULL)
    return FALSE;
  /* from the segment's position, as GstBaseSrc's loop does: a
   * seek that sets only the stop (its start GST_SEEK_TYPE_NONE) leaves
   * the position where the stream is, and must not go back to the
   * segment's start (the bytes since would be pushed twice); a seek that
   * sets the start has its position there (gst_segment_do_seek ()). */
  GST_DEBUG_OBJECT (self, "seek to byte %" G_GUINT64_FORMAT, segment->position);
  self->streaming->offset = segment->position;
  luma_stream_seek (self->streaming->stream, segment->position);
  segment->time = segment->start;
  return TRUE;
}

/* The bytes come forwards only: a seek at a reverse rate is refused as it
 * comes in, before GstBaseSrc flushes. It calls do_seek () after the flush
 * and, when that refuses, streams on without a segment. */
static gboolean
is_reverse_seek (GstEvent * event)
{
  gdouble rate;

  if (GST_EVENT_TYPE (event) != GST_EVENT_SEEK)
    return FALSE;
  gst_event_parse_seek (event, &rate, NULL, NULL, NULL, NULL, NULL, NULL);
  return rate < 0.0;
}

/* A seek that does not flush has GstBaseSrc pause the task, which
 * waits for the streaming thread to leave create (), before it unlocks
 * it: the caller would be held for the whole wait for the task (an hour
 * by default). The wait is cut first, as a flushing seek cuts it; the
 * seek then restarts the task, and unlock_stop () resets the cancellable.
 * Only a seek GstBaseSrc is sure to carry out that far (in BYTES, on a
 * running source): any other would leave the wait cut, and the task
 * paused.
 *
 * While the task is being created (the journal, the POST) such a seek is
 * refused instead: cut, the creation's answer would be lost (a billed task
 * "may exist"); waited for, it would hold the seek, and a stop behind it
 * (the state lock), for as long as the POST, or another process creating
 * the same task, takes. There are no bytes to seek in yet. Returns FALSE
 * for a seek refused. */
static gboolean
gst_luma_src_cut_for_seek (GstLumaSrc * self, GstEvent * event)
{
  GstPad *pad = GST_BASE_SRC_PAD (self);
  GstSeekFlags flags;
  GstFormat format;
  gboolean pushing, creating;

  if (GST_EVENT_TYPE (event) != GST_EVENT_SEEK)
    return TRUE;
  gst_event_parse_seek (event, NULL, &format, &flags, NULL, NULL, NULL, NULL);
  if ((flags & GST_SEEK_FLAG_FLUSH) || format != GST_FORMAT_BYTES)
    return TRUE;
  GST_OBJECT_LOCK (pad);
  pushing = GST_PAD_MODE (pad) == GST_PAD_MODE_PUSH;
  GST_OBJECT_UNLOCK (pad);
  if (!pushing)
    return TRUE;
  /* under the lock: a creation never begins between the test and the cut
   * (one cut before its POST is sent loses nothing) */
  GST_OBJECT_LOCK (self);
  creating = self->creating;
  if (!creating)
    g_cancellable_cancel (self->cancellable);
  GST_OBJECT_UNLOCK (self);
  if (creating)
    GST_DEBUG_OBJECT (self, "refusing a seek without flush: the task is "
        "being created");
  else
    GST_DEBUG_OBJECT (self, "a seek without flush: any wait cut first");
  return !creating;
}

/* from downstream */
static gboolean
gst_luma_src_event (GstBaseSrc * basesrc, GstEvent * event)
{
  if (is_reverse_seek (event)) {
    GST_DEBUG_OBJECT (basesrc, "refusing a seek at a reverse rate");
    return FALSE;
  }
  if (!gst_luma_src_cut_for_seek (GST_LUMA_SRC (basesrc), event))
    return FALSE;
  return GST_BASE_SRC_CLASS (parent_class)->event (basesrc, event);
}

/* from the application */
static gboolean
gst_luma_src_send_event (GstElement * element, GstEvent * event)
{
  if (is_reverse_seek (event)) {
    GST_DEBUG_OBJECT (element, "refusing a seek at a reverse rate");
    gst_event_unref (event);
    return FALSE;
  }
  if (!gst_luma_src_cut_for_seek (GST_LUMA_SRC (element), event)) {
    gst_event_unref (event);
    return FALSE;
  }
  return GST_ELEMENT_CLASS (parent_class)->send_event (element, event);
}

static gboolean
gst_luma_src_get_size (GstBaseSrc * basesrc, guint64 * size)
{
  GstLumaSrc *self = GST_LUMA_SRC (basesrc);

  if (self->streaming == NULL || self->streaming->record == NULL)
    return FALSE;
  *size = gst_luma_src_video_size (self);
  return *size != LUMA_STREAM_SIZE_UNKNOWN;
}

static gboolean
gst_luma_src_query (GstBaseSrc * basesrc, GstQuery * query)
{
  GstLumaSrc *self = GST_LUMA_SRC (basesrc);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_SCHEDULING:
      /* a network stream: urisourcebin buffers it */
      gst_query_set_scheduling (query,
          GST_SCHEDULING_FLAG_SEEKABLE |
          GST_SCHEDULING_FLAG_BANDWIDTH_LIMITED, 1, -1, 0);
      gst_query_add_scheduling_mode (query, GST_PAD_MODE_PUSH);
      return TRUE;
    case GST_QUERY_URI:{
      g_autofree gchar *uri = gst_uri_handler_get_uri (GST_URI_HANDLER (self));
      g_autofree gchar *location = NULL;

      gst_query_set_uri (query, uri);
      GST_OBJECT_LOCK (self);
      location = g_strdup (self->view.location);
      GST_OBJECT_UNLOCK (self);
      if (location != NULL) {
        gst_query_set_uri_redirection (query, location);
        gst_query_set_uri_redirection_permanent (query, FALSE);
      }
      return TRUE;
    }
    default:
      return GST_BASE_SRC_CLASS (parent_class)->query (basesrc, query);
  }
}

/* ----- properties ----- */

static gboolean
gst_luma_src_is_configurable (GstLumaSrc * self)
{
  GstState state;

  GST_OBJECT_LOCK (self);
  state = GST_STATE (self);
  GST_OBJECT_UNLOCK (self);
  return state == GST_STATE_NULL || state == GST_STATE_READY;
}

/* One place for what the property and the URI handler both set. */
static gboolean
gst_luma_src_set_task_id (GstLumaSrc * self, const gchar * id, GError ** error)
{
  if (!gst_luma_src_is_configurable (self)) {
    g_set_error_literal (error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
        _("The task id can only be changed in the NULL or READY state"));
    return FALSE;
  }
  g_mutex_lock (&self->settings_lock);
  g_free (self->settings.task_id);
  self->settings.task_id = g_strdup (id);
  g_mutex_unlock (&self->settings_lock);
  return TRUE;
}

/* The whole numbers, which the URI handler sets too. */
static void
luma_settings_set_uint (LumaSettings * settings, guint prop_id, guint value)
{
  switch (prop_id) {
    case LUMA_TASK_PROP_POLL_INTERVAL:
      settings->task.poll_interval = value;
      break;
    case LUMA_TASK_PROP_WAIT_TIMEOUT:
      settings->task.wait_timeout = value;
      break;
    case PROP_RETRIES:
      settings->retries = value;
      break;
    case PROP_TIMEOUT:
      settings->timeout = value;
      break;
    default:
      g_assert_not_reached ();
  }
}

static void
replace_string (gchar ** dest, const GValue * value)
{
  g_free (*dest);
  *dest = g_value_dup_string (value);
}

/* whether @value is another request than the one set: the same
 * prompt (or URL, key...) set again is not */
static gboolean
gst_luma_src_changes_request (GstLumaSrc * self, guint prop_id,
    const GValue * value)
{
  const gchar *now = NULL;
  gboolean changes;

  if (prop_id == LUMA_TASK_PROP_FORCE_NEW)
    return TRUE;
  g_mutex_lock (&self->settings_lock);
  switch (prop_id) {
    case LUMA_TASK_PROP_PROMPT:
      now = self->settings.task.prompt;
      break;
    case LUMA_TASK_PROP_WATERMARK:
      now = self->settings.task.watermark;
      break;
    case LUMA_TASK_PROP_API_KEY:
      now = self->settings.task.api_key;
      break;
    case LUMA_TASK_PROP_API_URL:
      now = self->settings.task.api_url;
      break;
    case PROP_VIDEO_URL:
      now = self->settings.video_url;
      break;
    default:
      break;
  }
  changes = g_strcmp0 (now, g_value_get_string (value)) != 0;
  g_mutex_unlock (&self->settings_lock);
  return changes;
}

/* Another request (set in NULL or READY, before its run): the task
 * created for the last one is not its task, which is not known yet, and
 * task-id (and the URI) no longer name it. */
static void
gst_luma_src_forget_created_task (GstLumaSrc * self, guint prop_id,
    const GValue * value)
{
  gboolean forgot;

  if (!(prop_id == LUMA_TASK_PROP_PROMPT
          || prop_id == LUMA_TASK_PROP_WATERMARK
          || prop_id == LUMA_TASK_PROP_API_KEY
          || prop_id == LUMA_TASK_PROP_API_URL || prop_id == PROP_VIDEO_URL
          || (prop_id == LUMA_TASK_PROP_FORCE_NEW
              && g_value_get_boolean (value)))
      || !gst_luma_src_changes_request (self, prop_id, value)
      || !gst_luma_src_is_configurable (self))
    return;
  GST_OBJECT_LOCK (self);
  forgot = self->view.created_task_id != NULL;
  g_clear_pointer (&self->view.created_task_id, g_free);
  GST_OBJECT_UNLOCK (self);
  if (forgot)
    g_object_notify (G_OBJECT (self), "task-id");
}

static void
gst_luma_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstLumaSrc *self = GST_LUMA_SRC (object);
  LumaSettings *settings = &self->settings;

  if (prop_id == PROP_TASK_ID) {
    g_autoptr (GError) error = NULL;

    if (!gst_luma_src_set_task_id (self, g_value_get_string (value), &error))
      GST_WARNING_OBJECT (self, "%s", error->message);
    return;
  }

  gst_luma_src_forget_created_task (self, prop_id, value);
  g_mutex_lock (&self->settings_lock);
  if (luma_task_settings_set_property (&settings->task, prop_id, value)) {
    /* one of the settings lumamodify has too */
    g_mutex_unlock (&self->settings_lock);
    return;
  }
  switch (prop_id) {
    case PROP_RETRIES:
    case PROP_TIMEOUT:
      luma_settings_set_uint (settings, prop_id, g_value_get_uint (value));
      break;
    case PROP_USER_AGENT:
      g_free (settings->user_agent);
      settings->user_agent =
          g_strdup (luma_settings_non_empty (g_value_get_string (value))
          ? g_value_get_string (value) : DEFAULT_USER_AGENT);
      break;
    case PROP_PROXY:
      replace_string (&settings->proxy, value);
      break;
    case PROP_SSL_STRICT:
      settings->ssl_strict = g_value_get_boolean (value);
      break;
    case PROP_VIDEO_URL:
      replace_string (&settings->video_url, value);
      break;
    case PROP_STORE:
      settings->store = g_value_get_enum (value);
      settings->store_set = TRUE;
      break;
    case PROP_STORE_DIR:
      replace_string (&settings->store_dir, value);
      break;
    case PROP_STORE_LIMIT:
      settings->store_limit = g_value_get_uint (value);
      settings->store_limit_set = TRUE;
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  g_mutex_unlock (&self->settings_lock);
}

/* What the store will use, as for api-url: a property set, else its
 * variable (when it can be read), else the default. */
static void
get_store_property (const LumaSettings * settings, guint prop_id,
    GValue * value)
{
  LumaSettings effective = *settings;

  /* only the plain values: nothing is owned or freed here */
  effective.store_dir = NULL;
  luma_settings_resolve_store (&effective, NULL);
  if (prop_id == PROP_STORE)
    g_value_set_enum (value, effective.store);
  else if (prop_id == PROP_STORE_LIMIT)
    g_value_set_uint (value, effective.store_limit);
  else
    /* unset: the variable's, else NULL for the default (which depends on
     * the user) */
    g_value_set_string (value, settings->store_dir ? settings->store_dir
        : luma_settings_non_empty (g_getenv ("GST_LUMA_STORE_DIR")));
  g_free (effective.store_dir);
}

/* The task this element streams, with the settings lock held: task-id,
 * or the task it created (or reused) itself, read under the object lock.
 * An editor that asks for the URI then keeps one it can open again. */
static gchar *
dup_task_id_locked (GstLumaSrc * self)
{
  gchar *id;

  if (self->settings.task_id != NULL)
    return g_strdup (self->settings.task_id);
  GST_OBJECT_LOCK (self);
  id = g_strdup (self->view.created_task_id);
  GST_OBJECT_UNLOCK (self);
  return id;
}

static void
gst_luma_src_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstLumaSrc *self = GST_LUMA_SRC (object);
  LumaSettings *settings = &self->settings;

  if (prop_id == PROP_TASK_STATE || prop_id == PROP_RESULT_URL) {
    GST_OBJECT_LOCK (self);
    if (prop_id == PROP_TASK_STATE)
      g_value_set_enum (value, self->view.status);
    else
      g_value_set_string (value, self->view.location);
    GST_OBJECT_UNLOCK (self);
    return;
  }

  g_mutex_lock (&self->settings_lock);
  if (luma_task_settings_get_property (&settings->task, prop_id, value)) {
    /* one of the settings lumamodify has too */
    g_mutex_unlock (&self->settings_lock);
    return;
  }
  switch (prop_id) {
    case PROP_TASK_ID:
      g_value_take_string (value, dup_task_id_locked (self));
      break;
    case PROP_RETRIES:
      g_value_set_uint (value, settings->retries);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, settings->timeout);
      break;
    case PROP_USER_AGENT:
      g_value_set_string (value, settings->user_agent);
      break;
    case PROP_PROXY:
      g_value_set_string (value, settings->proxy);
      break;
    case PROP_SSL_STRICT:
      g_value_set_boolean (value, settings->ssl_strict);
      break;
    case PROP_VIDEO_URL:
      g_value_set_string (value, settings->video_url);
      break;
    case PROP_STORE:
    case PROP_STORE_DIR:
    case PROP_STORE_LIMIT:
      get_store_property (settings, prop_id, value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  g_mutex_unlock (&self->settings_lock);
}

/* ----- GstURIHandler: luma://TASKID[?property=value&...] ----- */

static GstURIType
gst_luma_src_uri_get_type (GType type)
{
  return GST_URI_SRC;
}

static const gchar *const *
gst_luma_src_uri_get_protocols (GType type)
{
  static const gchar *protocols[] = { GST_LUMA_URI_SCHEME, NULL };

  return protocols;
}

static gchar *
gst_luma_src_uri_get_uri (GstURIHandler * handler)
{
  GstLumaSrc *self = GST_LUMA_SRC (handler);
  g_autofree gchar *id = NULL;

  g_mutex_lock (&self->settings_lock);
  id = dup_task_id_locked (self);
  g_mutex_unlock (&self->settings_lock);
  if (id == NULL)
    return NULL;
  return luma_uri_build (id);
}

/* What a URI may set: only the wait's whole numbers, none that is secret
 * (URIs end up in logs and histories) and none that says where requests
 * go or how they look (a shared playlist must not be able to send the key
 * through a proxy of its choosing, nor add headers). Their ranges are the
 * properties' own, read at class_init. */
static const guint uri_prop_ids[] = { LUMA_TASK_PROP_POLL_INTERVAL,
  LUMA_TASK_PROP_WAIT_TIMEOUT, PROP_RETRIES, PROP_TIMEOUT
};

static LumaUriParam uri_params[G_N_ELEMENTS (uri_prop_ids)];

static void
init_uri_params (GObjectClass * gobject_class)
{
  static const gchar *names[] = { "poll-interval", "wait-timeout", "retries",
    "timeout"
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (uri_params); i++) {
    GParamSpecUInt *pspec = G_PARAM_SPEC_UINT (g_object_class_find_property
        (gobject_class, names[i]));

    uri_params[i].name = names[i];
    uri_params[i].minimum = pspec->minimum;
    uri_params[i].maximum = pspec->maximum;
    /* 0 turns a bound off: the user's own choice, never a playlist's, for
     * then a silent host would hold the pipeline for ever */
    if (g_str_has_suffix (names[i], "timeout"))
      uri_params[i].minimum = MAX (pspec->minimum, 1);
  }
}

static guint
uri_param_prop_id (const LumaUriParam * param)
{
  return uri_prop_ids[param - uri_params];
}

/* All of a URI or nothing: it is read whole first, then applied under one
 * lock. */
static gboolean
gst_luma_src_uri_set_uri (GstURIHandler * handler, const gchar * uri_string,
    GError ** error)
{
  GstLumaSrc *self = GST_LUMA_SRC (handler);
  g_autoptr (GError) parse_error = NULL;
  LumaUri uri;
  guint i;

  if (!gst_luma_src_is_configurable (self)) {
    g_set_error_literal (error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
        _("The task id can only be changed in the NULL or READY state"));
    return FALSE;
  }
  if (!luma_uri_parse (uri_string, uri_params, G_N_ELEMENTS (uri_params),
          &uri, &parse_error)) {
    g_set_error_literal (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        parse_error->message);
    return FALSE;
  }

  g_mutex_lock (&self->settings_lock);
  g_free (self->settings.task_id);
  self->settings.task_id = g_steal_pointer (&uri.task_id);
  for (i = 0; i < uri.n_values; i++)
    luma_settings_set_uint (&self->settings, uri_param_prop_id (uri.params[i]),
        uri.values[i]);
  g_mutex_unlock (&self->settings_lock);
  luma_uri_clear (&uri);
  return TRUE;
}

static void
gst_luma_src_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  GstURIHandlerInterface *iface = (GstURIHandlerInterface *) g_iface;

  iface->get_type = gst_luma_src_uri_get_type;
  iface->get_protocols = gst_luma_src_uri_get_protocols;
  iface->get_uri = gst_luma_src_uri_get_uri;
  iface->set_uri = gst_luma_src_uri_set_uri;
}

/* ----- GObject ----- */

static void
gst_luma_src_init (GstLumaSrc * self)
{
  g_mutex_init (&self->settings_lock);
  luma_task_settings_init (&self->settings.task);
  self->settings.retries = DEFAULT_RETRIES;
  self->settings.timeout = DEFAULT_TIMEOUT;
  self->settings.user_agent = g_strdup (DEFAULT_USER_AGENT);
  self->settings.ssl_strict = DEFAULT_SSL_STRICT;
  self->settings.store = DEFAULT_STORE;
  self->settings.store_limit = DEFAULT_STORE_LIMIT;
  self->view.status = GST_LUMA_TASK_STATE_WAITING;
  self->cancellable = g_cancellable_new ();

  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_BYTES);
  gst_base_src_set_blocksize (GST_BASE_SRC (self), DEFAULT_BLOCKSIZE);
}

static void
gst_luma_src_finalize (GObject * object)
{
  GstLumaSrc *self = GST_LUMA_SRC (object);

  luma_settings_clear (&self->settings);
  g_free (self->view.location);
  g_free (self->view.created_task_id);
  g_clear_pointer (&self->streaming, luma_streaming_free);
  g_object_unref (self->cancellable);
  g_mutex_clear (&self->settings_lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define READY_MUTABLE_FLAGS \
    (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

/* What the shared properties do in lumasrc (lumasettings.c) */
static const LumaTaskBlurbs task_blurbs = {
  .prompt = "Creates a task when task-id is unset: the modification to "
      "apply, in English (with video-url). The same request again reuses "
      "the task it created",
  .watermark = "A watermark for a task this element creates, optional",
  .callback_url = "The URL KIE calls when a task this element creates is "
      "done, optional",
  .force_new = "Create a new task (billed) even when the same request "
      "already created one; acts once: reads false again once a run has "
      "set the earlier task aside",
  .poll_interval = "Milliseconds between two readings of the task's record "
      "(the first is at once)",
  .wait_timeout = "Seconds to wait for the task to finish at the most, "
      "0 = forever",
};

static void
gst_luma_src_install_properties (GObjectClass * gobject_class)
{
  g_object_class_install_property (gobject_class, PROP_TASK_ID,
      g_param_spec_string ("task-id", "Task id",
          "The id of the Luma Modify task whose video to stream (required)",
          NULL, READY_MUTABLE_FLAGS));
  luma_task_settings_install_properties (gobject_class, &task_blurbs);
  g_object_class_install_property (gobject_class, PROP_RETRIES,
      g_param_spec_uint ("retries", "Retries",
          "How many times in a row a failed request (network error, server "
          "error, dropped connection) is tried again, with a growing wait",
          0, 100, DEFAULT_RETRIES, READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Timeout",
          "Seconds without network activity before a request fails, 0 = none",
          0, 3600, DEFAULT_TIMEOUT, READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class, PROP_USER_AGENT,
      g_param_spec_string ("user-agent", "User-Agent",
          "The User-Agent sent with every request (never empty: CDNs block "
          "clients without one)", DEFAULT_USER_AGENT, READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class, PROP_PROXY,
      g_param_spec_string ("proxy", "Proxy",
          "HTTP proxy URI for http and https URLs; when unset, the "
          "http_proxy, https_proxy and all_proxy environment variables as "
          "curl reads them, else the system's proxy settings; no_proxy "
          "applies either way", NULL, READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class, PROP_SSL_STRICT,
      g_param_spec_boolean ("ssl-strict", "SSL strict",
          "Refuse servers whose TLS certificate cannot be verified",
          DEFAULT_SSL_STRICT, READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class, PROP_VIDEO_URL,
      g_param_spec_string ("video-url", "Video URL",
          "Creates a task when task-id is unset: the public http(s) URL of "
          "the clip to modify (MP4, MOV or AVI, at most 10 s and 500 MB)",
          NULL, READY_MUTABLE_FLAGS));

  g_object_class_install_property (gobject_class, PROP_STORE,
      g_param_spec_enum ("store", "Store",
          "Keep finished videos in the store and serve them from it (on), "
          "never touch it (off), or only serve what it holds (read-only); "
          "when unset, the GST_LUMA_STORE environment variable",
          GST_TYPE_LUMA_STORE_MODE, DEFAULT_STORE, READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class, PROP_STORE_DIR,
      g_param_spec_string ("store-dir", "Store directory",
          "Where finished videos are stored; when unset, the "
          "GST_LUMA_STORE_DIR environment variable, else "
          "$XDG_DATA_HOME/gst-luma/results", NULL, READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class, PROP_STORE_LIMIT,
      g_param_spec_uint ("store-limit", "Store limit",
          "MiB the store may hold before the least recently used videos go "
          "(those KIE still holds first), 0 = no limit; when unset, the "
          "GST_LUMA_STORE_LIMIT environment variable", 0, G_MAXUINT,
          DEFAULT_STORE_LIMIT, READY_MUTABLE_FLAGS));

  task_state_pspec = g_param_spec_enum ("task-state", "Task state",
      "The task's state as last read", GST_TYPE_LUMA_TASK_STATE,
      GST_LUMA_TASK_STATE_WAITING, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property (gobject_class, PROP_TASK_STATE,
      task_state_pspec);
  result_url_pspec = g_param_spec_string ("result-url", "Result URL",
      "The URL of the task's result video, once known", NULL,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property (gobject_class, PROP_RESULT_URL,
      result_url_pspec);
}

static void
gst_luma_src_class_init (GstLumaSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->set_property = gst_luma_src_set_property;
  gobject_class->get_property = gst_luma_src_get_property;
  gobject_class->finalize = gst_luma_src_finalize;
  gst_luma_src_install_properties (gobject_class);
  init_uri_params (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Luma Modify task source", "Source/Network",
      "Waits for a KIE.AI Luma Modify task and streams its video",
      "gst-luma developers");
  element_class->send_event = GST_DEBUG_FUNCPTR (gst_luma_src_send_event);

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_luma_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_luma_src_stop);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_luma_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_luma_src_unlock_stop);
  basesrc_class->is_seekable = GST_DEBUG_FUNCPTR (gst_luma_src_is_seekable);
  basesrc_class->do_seek = GST_DEBUG_FUNCPTR (gst_luma_src_do_seek);
  basesrc_class->event = GST_DEBUG_FUNCPTR (gst_luma_src_event);
  basesrc_class->get_size = GST_DEBUG_FUNCPTR (gst_luma_src_get_size);
  basesrc_class->query = GST_DEBUG_FUNCPTR (gst_luma_src_query);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_luma_src_create);

  gst_type_mark_as_plugin_api (GST_TYPE_LUMA_TASK_STATE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_LUMA_STORE_MODE, 0);
  gst_tag_register (GST_LUMA_TAG_TASK_ID, GST_TAG_FLAG_META, G_TYPE_STRING,
      "Luma task id", "The id of the KIE.AI Luma Modify task", NULL);
}
