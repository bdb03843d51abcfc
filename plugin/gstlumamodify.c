/* gst-luma: lumamodify, a bin that has a clip modified by KIE.AI Luma Modify
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-lumamodify
 * @title: lumamodify
 *
 * lumamodify has a clip modified by KIE.AI Luma Modify. It takes the bytes
 * of the clip, an MP4, MOV or AVI file of at most 10 s and 500 MB, on its
 * sink pad; uploads them to KIE's file host; creates the task with the
 * #GstLumaModify:prompt; waits for it; and streams the result video out of
 * its src pad, as lumasrc does (an inner lumasrc does it: seeking, resume
 * and renewal of an expired URL work downstream, and a seek never reaches
 * the input side).
 *
 * The input is written into a temporary file, never held in memory, at the
 * byte offsets its BYTES segments give (muxers such as mp4mux go back to
 * rewrite their headers), and refused before any request when it is live,
 * larger than #GstLumaModify:max-input-size, not an MP4, MOV or AVI file,
 * or longer than 10 s (read by its demuxer). The upload and the task
 * are made in a thread of lumamodify's own once the input has ended;
 * setting the pipeline to NULL stops them at once. So does an end of
 * stream sent to the pipeline before the task is known (gst-launch-1.0 -e
 * at Ctrl-C: the input may be cut short), with an error; once the task is
 * known, it ends the output, as for any source.
 *
 * Every task is billed: the same clip (by its SHA-256) with the same prompt
 * and watermark, to the same API with the same key, gets the task created
 * before (the journal of lumasrc, in `$XDG_STATE_HOME/gst-luma/journal`),
 * with no second upload; #GstLumaModify:force-new creates a new one.
 *
 * The API key comes from #GstLumaModify:api-key or `KIE_API_KEY`; it goes to
 * the API host and the upload host only, never to the host of the uploaded
 * clip nor to that of the result.
 *
 * ## Example launch lines
 * |[
 * export KIE_API_KEY=...
 * gst-launch-1.0 filesrc location=clip.mp4 ! lumamodify prompt="Make it snow" ! filesink location=snowy.mp4
 * ]| Uploads clip.mp4, has it modified and saves the result as it is.
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=100 ! x264enc ! mp4mux ! lumamodify prompt="Make it look like a watercolour" ! decodebin ! autovideosink
 * ]| Has a 4 s clip made on the spot modified, then plays the result. Each
 * run of this line pays for a new task: mp4mux writes the time into the
 * file's headers, so the clip is never the same bytes twice, and the
 * journal names a clip by its bytes. To run it again without a new task,
 * write the clip to a file once and give that file.
 *
 * Since: 0.1
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlumamodify.h"
#include "gstlumasrc.h"
#include "lumaapi.h"
#include "lumacreate.h"
#include "lumafile.h"
#include "lumahttp.h"
#include "lumajournal.h"
#include "lumaproxy.h"
#include "lumasettings.h"
#include "lumatext.h"
#include "lumaupload.h"

#include <gst/base/gsttypefindhelper.h>
#include <gst/luma/luma.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <inttypes.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_luma_modify_debug);
#define GST_CAT_DEFAULT gst_luma_modify_debug

/* KIE's limits for an input clip */
#define DEFAULT_MAX_INPUT_SIZE G_GUINT64_CONSTANT (500000000)
#define MAX_DURATION (10 * GST_SECOND)
#define USER_AGENT "gst-luma/" VERSION " (GStreamer lumamodify)"
#define HTTP_TIMEOUT 15
/* the folder of the uploads at KIE */
#define UPLOAD_FOLDER "gst-luma"
/* enough for the typefinders of MP4, MOV and AVI, which read the first
 * boxes or the RIFF header */
#define TYPEFIND_HEAD_SIZE (1024 * 1024)
#define PROBE_TIMEOUT (30 * GST_SECOND)
#define READ_SIZE (64 * 1024)

/* Why an input was refused (GST_LUMA_DETAIL_INPUT_REFUSED). */
#define LUMA_MODIFY_ERROR (luma_modify_error_quark ())
static GQuark luma_modify_error_quark (void);

typedef enum
{
  LUMA_MODIFY_ERROR_LIVE,
  LUMA_MODIFY_ERROR_SIZE,
  LUMA_MODIFY_ERROR_CONTAINER,
  LUMA_MODIFY_ERROR_DURATION,
  LUMA_MODIFY_ERROR_UNREADABLE,
  LUMA_MODIFY_ERROR_TEMP_FILE,  /* the temporary file: not the input's fault */
  LUMA_MODIFY_ERROR_UPSTREAM,   /* another element failed: the input's end
                                 * is no end of the clip */
  LUMA_MODIFY_ERROR_ENDED,      /* the application ended the pipeline
                                 * before the task was known */
} LumaModifyError;

/* *INDENT-OFF* */
G_DEFINE_QUARK (luma-modify-error-quark, luma_modify_error);
/* *INDENT-ON* */

/* after the shared ones, LUMA_TASK_PROP_* (lumasettings.h) */
enum
{
  PROP_UPLOAD_URL = LUMA_TASK_PROP_LAST,
  PROP_MAX_INPUT_SIZE,
  PROP_TASK_ID,
  PROP_TASK_STATE,
  PROP_UPLOADED_URL,
};

static GParamSpec *task_id_pspec, *task_state_pspec, *uploaded_url_pspec;

/* What the user set; guarded by settings_lock, copied out at
 * READY->PAUSED. */
typedef struct
{
  LumaTaskSettings task;
  gchar *upload_url;            /* NULL: $KIE_UPLOAD_URL, else the default */
  guint64 max_input_size;
} ModifySettings;

/* The input on its way into the temporary file: the upstream streaming
 * thread's own, from READY->PAUSED to PAUSED->READY. */
typedef struct
{
  gchar *path;                  /* NULL until the first buffer */
  gint path_lock;               /* see spool_remove () */
  GFileIOStream *file;
  guint64 position;             /* where the next buffer goes */
  guint64 file_offset;          /* where the file's own offset is */
  guint64 size;                 /* the furthest byte written */
  gboolean refused;             /* an error was posted: the rest is dropped */
  gboolean ended;               /* EOS came */
} Collector;

/* One run: made at READY->PAUSED (no network), handed to the worker thread
 * at EOS, freed at PAUSED->READY once the worker is joined. */
typedef struct
{
  ModifySettings settings;      /* with the environment's values resolved */
  SoupSession *session;
  LumaApi *api;
  gchar *path;                  /* the collected clip, once the input ended */
  gint path_lock;               /* see spool_remove () */
  guint64 size;
  gchar *task_id;
  gboolean creating;            /* a failure now is one to create the task */
  gboolean journal_held;        /* another held the request: waited for */
  LumaCreateResult create_result;
  GCancellable *cancellable;    /* cut by PAUSED->READY, or an EOS sent
                                 * before the handover */
  /* under handover_lock: */
  gboolean task_known;          /* created, or the journal's */
  gboolean end_at_handover;     /* an EOS came once the task was known */
  gboolean handed_over;         /* to the inner lumasrc */
  gboolean working;             /* the input ended: an early EOS's error
                                 * is the worker's to post, once it knows
                                 * what the work it cut did (or the
                                 * input's refusal is posted) */
  gboolean orphaned;            /* the worker's to free (see stop ()) */
} ModifyJob;

struct _GstLumaModify
{
  GstBin parent;

  GstPad *sinkpad;
  GstElement *src;              /* the inner lumasrc, locked until the task is known */

  GMutex settings_lock;
  ModifySettings settings;

  Collector collector;
  ModifyJob *job;
  GThread *worker;
  /* held while the worker hands the task to the inner lumasrc, so that a
   * stop never comes between its check and the start of lumasrc */
  GMutex handover_lock;

  /* the errors of the other elements of the pipeline, seen on its bus
   * from READY->PAUSED to PAUSED->READY: a source that fails posts its
   * error, then ends its stream, and that end is no end of the clip */
  GstBus *pipeline_bus;
  gulong pipeline_error_id;
  gint other_failed;            /* atomic */
  /* an EOS the application sent before the task was known (atomic): the
   * input's end that follows is no end of the clip either */
  gint ended_early;

  /* what the element shows; guarded by the object lock */
  gchar *task_id;
  GstLumaTaskState task_state;
  gchar *uploaded_url;
};

/* Container bytes: MP4, MOV (video/quicktime), AVI (video/x-msvideo), or
 * none said (filesrc sets no caps): the bytes are checked, whatever the
 * caps. */
static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

#define gst_luma_modify_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstLumaModify, gst_luma_modify, GST_TYPE_BIN,
    GST_DEBUG_CATEGORY_INIT (gst_luma_modify_debug, "lumamodify", 0,
        "KIE.AI Luma Modify of a clip"));
GST_ELEMENT_REGISTER_DEFINE (lumamodify, "lumamodify", GST_RANK_NONE,
    GST_TYPE_LUMA_MODIFY);

/* ----- settings ----- */

static void
modify_settings_clear (ModifySettings * settings)
{
  luma_task_settings_clear (&settings->task);
  g_clear_pointer (&settings->upload_url, g_free);
}

static void
modify_settings_copy (ModifySettings * dest, const ModifySettings * src)
{
  *dest = *src;
  luma_task_settings_copy (&dest->task, &src->task);
  dest->upload_url = g_strdup (src->upload_url);
}

/* Resolved once, when a run starts: what the worker and the inner lumasrc
 * use is what the checks saw. */
static void
modify_settings_resolve (ModifySettings * settings)
{
  luma_task_settings_resolve (&settings->task);
  luma_settings_resolve_string (&settings->upload_url, "KIE_UPLOAD_URL",
      LUMA_UPLOAD_DEFAULT_URL);
}

/* Values that would make no sense to run with, found before any request. */
static gboolean
check_settings (const ModifySettings * settings, GError ** error)
{
  g_autoptr (GUri) upload = NULL;
  g_autoptr (GError) url_error = NULL;

  if (!luma_task_settings_prompt_is_usable (&settings->task)) {
    g_set_error_literal (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        _("lumamodify needs a prompt in valid UTF-8: the modification to "
            "apply, in English"));
    return FALSE;
  }
  if (!luma_task_settings_check_key (&settings->task, error)
      || !luma_task_settings_check_key_sendable (&settings->task, error)
      || !luma_task_settings_check_texts (&settings->task, error))
    return FALSE;
  /* as the upload reads it (luma_upload_file ()): a base URL, without a
   * query, a fragment or credentials */
  upload = luma_text_is_safe (settings->upload_url) ?
      luma_http_parse_base_url (settings->upload_url, "", &url_error) : NULL;
  if (upload == NULL) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        _("Invalid upload-url or KIE_UPLOAD_URL: %s"), url_error ?
        url_error->message : _("it holds control characters"));
    return FALSE;
  }
  return TRUE;
}

/* ----- what the element shows ----- */

static void
gst_luma_modify_set_view (GstLumaModify * self, gchar ** field,
    const gchar * value, GParamSpec * pspec)
{
  GST_OBJECT_LOCK (self);
  g_free (*field);
  *field = g_strdup (value);
  GST_OBJECT_UNLOCK (self);
  g_object_notify_by_pspec (G_OBJECT (self), pspec);
}

static void
gst_luma_modify_set_task_state (GstLumaModify * self, GstLumaTaskState state)
{
  gboolean changed;

  GST_OBJECT_LOCK (self);
  changed = self->task_state != state;
  self->task_state = state;
  GST_OBJECT_UNLOCK (self);
  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), task_state_pspec);
}

/* The inner lumasrc's state is the element's, once it has the task. The
 * element is the inner lumasrc's parent, taken as a reference: the
 * notification may come from a poll's deferred messages (lumaworkers.c),
 * which run after a stop that did not wait for them, and after the
 * element is gone (no parent then). */
static void
on_src_task_state (GObject * src, GParamSpec * pspec, gpointer user_data)
{
  g_autoptr (GstObject) parent = gst_object_get_parent (GST_OBJECT (src));
  GstLumaTaskState state;

  if (parent == NULL)
    return;
  g_object_get (src, "task-state", &state, NULL);
  gst_luma_modify_set_task_state (GST_LUMA_MODIFY (parent), state);
}

static void
post_progress_with_code (GstLumaModify * self, const gchar * code,
    GstProgressType type, const gchar * text)
{
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_progress (GST_OBJECT (self), type, code, text));
}

/* The upload's */
static void
gst_luma_modify_post_progress (GstLumaModify * self, GstProgressType type,
    const gchar * text)
{
  post_progress_with_code (self, GST_LUMA_PROGRESS_UPLOAD_CODE, type, text);
}

/* A wait's: for another process or element creating the same task */
static void
gst_luma_modify_post_wait_progress (GstLumaModify * self,
    GstProgressType type, const gchar * text)
{
  post_progress_with_code (self, GST_LUMA_PROGRESS_CODE, type, text);
}

/* ----- errors ----- */

static const gchar *
input_refusal (const GError * error)
{
  static const gchar *reasons[] = { "live", "size", "container", "duration",
    "unreadable"
  };

  if (error->domain == LUMA_MODIFY_ERROR
      && (guint) error->code < G_N_ELEMENTS (reasons))
    return reasons[error->code];
  if (g_error_matches (error, LUMA_UPLOAD_ERROR, LUMA_UPLOAD_ERROR_TOO_LARGE))
    return "size";
  if (g_error_matches (error, LUMA_CREATE_ERROR,
          LUMA_CREATE_ERROR_INPUT_REFUSED))
    return "kie";
  return NULL;
}

static GstResourceError
resource_error_code (const GError * error)
{
  if (g_error_matches (error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_UPSTREAM)
      || g_error_matches (error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_ENDED))
    return GST_RESOURCE_ERROR_READ;
  if (error->domain == LUMA_MODIFY_ERROR)
    return error->code == LUMA_MODIFY_ERROR_TEMP_FILE
        ? GST_RESOURCE_ERROR_WRITE : GST_RESOURCE_ERROR_OPEN_WRITE;
  if (error->domain == LUMA_UPLOAD_ERROR) {
    switch (error->code) {
      case LUMA_UPLOAD_ERROR_NOT_AUTHORIZED:
        return GST_RESOURCE_ERROR_NOT_AUTHORIZED;
      case LUMA_UPLOAD_ERROR_FILE:
      case LUMA_UPLOAD_ERROR_BAD_ANSWER:
        return GST_RESOURCE_ERROR_READ;
      case LUMA_UPLOAD_ERROR_UNAVAILABLE:
        return GST_RESOURCE_ERROR_WRITE;
      case LUMA_UPLOAD_ERROR_THROTTLED:
        return GST_RESOURCE_ERROR_BUSY;
      case LUMA_UPLOAD_ERROR_BAD_ARGUMENT:
        return GST_RESOURCE_ERROR_SETTINGS;
      default:
        return GST_RESOURCE_ERROR_OPEN_WRITE;
    }
  }
  /* the task is created as lumasrc creates it */
  if (error->domain == LUMA_CREATE_ERROR || error->domain == LUMA_JOURNAL_ERROR)
    return gst_luma_src_resource_error_code (error);
  if (g_error_matches (error, LUMA_HTTP_ERROR, LUMA_HTTP_ERROR_PROXY_AUTH))
    return GST_RESOURCE_ERROR_NOT_AUTHORIZED;
  if (error->domain == LUMA_HTTP_ERROR)
    return error->code == LUMA_HTTP_ERROR_BAD_URL
        ? GST_RESOURCE_ERROR_SETTINGS : GST_RESOURCE_ERROR_WRITE;
  if (error->domain == GST_RESOURCE_ERROR)
    return error->code;
  return GST_RESOURCE_ERROR_READ;
}

/* The details lumasrc's errors have, with what lumamodify adds: whether a
 * billed task may exist (a failure to create it), and why the input was
 * refused. */
static GstStructure *
error_details (const ModifyJob * job, const GError * error)
{
  const gchar *refused = input_refusal (error);
  GstStructure *details = gst_structure_new ("details",
      GST_LUMA_DETAIL_TASK_ID, G_TYPE_STRING, job ? job->task_id : NULL,
      GST_LUMA_DETAIL_TASK_STATE, GST_TYPE_LUMA_TASK_STATE,
      GST_LUMA_TASK_STATE_ERROR,
      GST_LUMA_DETAIL_API_CODE, G_TYPE_INT,
      job ? job->create_result.api_code : 0,
      GST_LUMA_DETAIL_HTTP_STATUS, G_TYPE_UINT,
      job ? job->create_result.http_status : 0, NULL);

  if (job != NULL && job->creating)
    gst_structure_set (details, GST_LUMA_DETAIL_TASK_MAY_EXIST,
        G_TYPE_BOOLEAN, job->create_result.outcome == LUMA_CREATE_MAYBE, NULL);
  if (refused != NULL)
    gst_structure_set (details, GST_LUMA_DETAIL_INPUT_REFUSED, G_TYPE_STRING,
        refused, NULL);
  return details;
}

static void
gst_luma_modify_post_resource_message (GstLumaModify * self,
    GstMessageType type, GstResourceError code, const gchar * text,
    GstStructure * details, const GError * cause)
{
  gchar *debug = cause == NULL ? NULL : g_strdup_printf ("%s error %d",
      g_quark_to_string (cause->domain), cause->code);

  /* text from servers and file names leaves as valid UTF-8 without
   * control characters */
  gst_element_message_full_with_details (GST_ELEMENT (self), type,
      GST_RESOURCE_ERROR, code, luma_text_make_safe (text, -1), debug, __FILE__,
      GST_FUNCTION, __LINE__, details);
}

/* Posts @error (a cancelled run posts nothing). */
static void
gst_luma_modify_fail (GstLumaModify * self, const ModifyJob * job,
    const GError * error)
{
  g_autofree gchar *text = g_strdup (error->message);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    GST_DEBUG_OBJECT (self, "cancelled");
    return;
  }
  /* a server (upload host, API) may have quoted the key back */
  if (job != NULL)
    luma_secret_hide_in_text (text, job->settings.task.api_key);
  GST_WARNING_OBJECT (self, "%s", text);
  gst_luma_modify_set_task_state (self, GST_LUMA_TASK_STATE_ERROR);
  gst_luma_modify_post_resource_message (self, GST_MESSAGE_ERROR,
      resource_error_code (error), text, error_details (job, error), error);
}

/* ----- the collector: the input into a temporary file ----- */

static gboolean
upstream_is_live (GstLumaModify * self)
{
  g_autoptr (GstQuery) query = gst_query_new_latency ();
  gboolean live = FALSE;

  if (gst_pad_peer_query (self->sinkpad, query))
    gst_query_parse_latency (query, &live, NULL, NULL);
  return live;
}

/* The temporary files are named so; one a process that died left behind
 * (a crash, a kill) is removed by the next lumamodify that starts. */
#define SPOOL_PREFIX "luma-modify-"

/* Older than this, and unlocked: left by a process that died. A file just
 * made is locked within microseconds; the age keeps it from looking
 * orphaned meanwhile. */
#define SPOOL_ORPHAN_AGE_S 60

/* The file at *@path is removed, then its lock is released (after: a sweep
 * never finds it unlocked while it is in use). Each temporary file is
 * locked (flock(2), -1 for none) while it exists; a process that dies
 * releases its locks, which is how others know its files are orphans. */
static void
spool_remove (gchar ** path, gint * path_lock)
{
  if (*path != NULL)
    g_unlink (*path);
  g_clear_pointer (path, g_free);
  luma_file_unlock (*path_lock);
  *path_lock = -1;
}

static void
set_temp_file_error (GError ** error, const gchar * path, GError * cause)
{
  g_autofree gchar *name = g_filename_display_name (path ? path : "");

  g_set_error (error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_TEMP_FILE,
      _("Cannot write the input into the temporary file %s: %s"), name,
      cause->message);
}

/* At the first buffer: a live input never ends, and could not be a clip
 * of 10 s anyway; anything else goes into a new temporary file. */
static gboolean
collector_open (GstLumaModify * self, GError ** error)
{
  Collector *c = &self->collector;
  g_autoptr (GError) cause = NULL;
  g_autoptr (GFile) file = NULL;
  gint fd;

  if (upstream_is_live (self)) {
    g_set_error_literal (error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_LIVE,
        _("The input is a live stream: lumamodify needs a clip that ends "
            "(of at most 10 s), not a live source"));
    return FALSE;
  }
  luma_file_remove_orphans (g_get_tmp_dir (), SPOOL_PREFIX, SPOOL_ORPHAN_AGE_S);
  fd = g_file_open_tmp (SPOOL_PREFIX "XXXXXX", &c->path, &cause);
  if (fd < 0) {
    set_temp_file_error (error, c->path, cause);
    return FALSE;
  }
  /* none but this process had the file yet: the lock cannot be refused;
   * a program spawned meanwhile must not hold it after this process */
  fcntl (fd, F_SETFD, FD_CLOEXEC);
  flock (fd, LOCK_EX | LOCK_NB);
  c->path_lock = fd;
  file = g_file_new_for_path (c->path);
  c->file = g_file_open_readwrite (file, NULL, &cause);
  if (c->file == NULL) {
    set_temp_file_error (error, c->path, cause);
    return FALSE;
  }
  GST_DEBUG_OBJECT (self, "collecting the input into %s", c->path);
  return TRUE;
}

/* Writes @buffer at the collector's position: muxers seek back (a BYTES
 * segment) to rewrite what they wrote before. */
static gboolean
collector_write (Collector * c, GstBuffer * buffer, GError ** error)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (c->file));
  g_autoptr (GError) cause = NULL;
  GstMapInfo map;
  gboolean written;

  if (c->position != c->file_offset
      && !g_seekable_seek (G_SEEKABLE (c->file), c->position, G_SEEK_SET,
          NULL, &cause)) {
    set_temp_file_error (error, c->path, cause);
    return FALSE;
  }
  c->file_offset = c->position;
  /* memory that cannot be read (a device's, mapped by no one): its bytes
   * would be missing from the clip */
  if (!gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    g_set_error_literal (error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_UPSTREAM,
        _("A buffer of the input cannot be read (its memory cannot be "
            "mapped): the clip would be missing its bytes"));
    return FALSE;
  }
  if (!luma_file_fits_size_limit (c->position + map.size)) {
    gst_buffer_unmap (buffer, &map);
    g_set_error_literal (&cause, G_IO_ERROR, G_IO_ERROR_FAILED,
        _("the input is larger than this process may write a file "
            "(ulimit -f)"));
    set_temp_file_error (error, c->path, cause);
    return FALSE;
  }
  written = g_output_stream_write_all (out, map.data, map.size, NULL, NULL,
      &cause);
  gst_buffer_unmap (buffer, &map);
  if (!written) {
    set_temp_file_error (error, c->path, cause);
    return FALSE;
  }
  c->position += map.size;
  c->file_offset = c->position;
  c->size = MAX (c->size, c->position);
  return TRUE;
}

/* Posts why the input is refused, once: upstream may go on trying (a
 * refused caps event is sent again). */
static void
gst_luma_modify_refuse (GstLumaModify * self, const GError * error)
{
  if (self->collector.refused)
    return;
  self->collector.refused = TRUE;
  gst_luma_modify_fail (self, NULL, error);
}

static GstFlowReturn
gst_luma_modify_chain (GstPad * pad, GstObject * parent, GstBuffer * buffer)
{
  GstLumaModify *self = GST_LUMA_MODIFY (parent);
  Collector *c = &self->collector;
  guint64 limit = self->job->settings.max_input_size;
  g_autoptr (GError) error = NULL;
  gsize size = gst_buffer_get_size (buffer);

  if (c->refused || c->ended) {
    gst_buffer_unref (buffer);
    return c->refused ? GST_FLOW_ERROR : GST_FLOW_EOS;
  }
  if (c->file == NULL && !collector_open (self, &error))
    goto refused;
  /* before the bytes are written: nothing beyond the limit reaches the disk
   * (a segment's offset may be near 2^64: no sum that could wrap) */
  if (size > limit || c->position > limit - size) {
    g_set_error (&error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_SIZE,
        _("The input is larger than the limit of %" PRIu64
            " bytes (max-input-size; KIE takes clips of at most 500 MB)"),
        limit);
    goto refused;
  }
  if (!collector_write (c, buffer, &error))
    goto refused;
  gst_buffer_unref (buffer);
  return GST_FLOW_OK;

refused:
  gst_buffer_unref (buffer);
  gst_luma_modify_refuse (self, error);
  return GST_FLOW_ERROR;
}

/* Caps that name something else than container bytes (raw video, an
 * elementary stream, another container) are refused at once, rather than
 * after the whole input has been written. */
static gboolean
gst_luma_modify_check_caps (GstLumaModify * self, GstCaps * caps)
{
  static const gchar *accepted[] = { "video/quicktime", "video/x-msvideo",
    "application/octet-stream"
  };
  g_autoptr (GError) error = NULL;
  const gchar *name;
  guint i;

  if (gst_caps_is_any (caps) || gst_caps_is_empty (caps))
    return TRUE;
  name = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  for (i = 0; i < G_N_ELEMENTS (accepted); i++)
    if (g_str_equal (name, accepted[i]))
      return TRUE;

  g_set_error (&error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_CONTAINER,
      _("The input is not an MP4, MOV or AVI file (it is %s): KIE takes "
          "only those"), name);
  gst_luma_modify_refuse (self, error);
  return FALSE;
}

static gpointer gst_luma_modify_work (gpointer data);

static void
on_pipeline_error (GstBus * bus, GstMessage * message, gpointer user_data)
{
  GstLumaModify *self = user_data;
  GstObject *src = GST_MESSAGE_SRC (message);

  /* its own errors, and its inner lumasrc's, are its own to handle */
  if (src == GST_OBJECT (self)
      || (src != NULL && gst_object_has_as_ancestor (src, GST_OBJECT (self))))
    return;
  GST_INFO_OBJECT (self, "%" GST_PTR_FORMAT " failed", src);
  g_atomic_int_set (&self->other_failed, TRUE);
}

/* The bus of the top-level bin (the application's), where every error
 * arrives in the thread that posts it: a child bus drops what it passes
 * on, and emits nothing. */
static void
watch_pipeline_errors (GstLumaModify * self)
{
  GstObject *top = gst_luma_top_level (GST_OBJECT (self));

  g_atomic_int_set (&self->other_failed, FALSE);
  if (top != GST_OBJECT (self))
    self->pipeline_bus = gst_element_get_bus (GST_ELEMENT (top));
  gst_object_unref (top);
  if (self->pipeline_bus == NULL)
    return;
  gst_bus_enable_sync_message_emission (self->pipeline_bus);
  self->pipeline_error_id = g_signal_connect (self->pipeline_bus,
      "sync-message::error", G_CALLBACK (on_pipeline_error), self);
}

static void
unwatch_pipeline_errors (GstLumaModify * self)
{
  if (self->pipeline_bus == NULL)
    return;
  g_signal_handler_disconnect (self->pipeline_bus, self->pipeline_error_id);
  gst_bus_disable_sync_message_emission (self->pipeline_bus);
  gst_clear_object (&self->pipeline_bus);
}

/* Nothing is uploaded nor created for an input that ended because the
 * pipeline failed: the task would be billed for a clip cut short. */
static gboolean
check_pipeline_sound (GstLumaModify * self, GError ** error)
{
  if (!g_atomic_int_get (&self->other_failed))
    return TRUE;
  g_set_error_literal (error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_UPSTREAM,
      _("Another element of the pipeline failed: its input may be cut "
          "short, so it is not uploaded and no task is created"));
  return FALSE;
}

/* The input has ended: the file goes to the worker, which checks it,
 * uploads it and creates the task, off the upstream streaming thread. */
static void
gst_luma_modify_input_ended (GstLumaModify * self)
{
  Collector *c = &self->collector;
  g_autoptr (GError) cause = NULL;
  g_autoptr (GError) error = NULL;

  if (c->refused || c->ended)
    return;
  c->ended = TRUE;
  /* an EOS the application sent (send_event ()) posted its error; one that
   * comes from now on cuts the worker, which then posts it */
  g_mutex_lock (&self->handover_lock);
  c->refused = g_atomic_int_get (&self->ended_early);
  self->job->working = !c->refused;
  g_mutex_unlock (&self->handover_lock);
  if (c->refused)
    return;
  if (c->file == NULL) {
    g_set_error_literal (&error, LUMA_MODIFY_ERROR,
        LUMA_MODIFY_ERROR_CONTAINER,
        _("The input ended before its first byte: there is no clip to "
            "modify"));
    gst_luma_modify_refuse (self, error);
    return;
  }
  if (!g_io_stream_close (G_IO_STREAM (c->file), NULL, &cause)) {
    set_temp_file_error (&error, c->path, cause);
    gst_luma_modify_refuse (self, error);
    return;
  }
  g_clear_object (&c->file);
  if (!check_pipeline_sound (self, &error)) {
    gst_luma_modify_refuse (self, error);
    return;
  }
  GST_INFO_OBJECT (self, "input of %" G_GUINT64_FORMAT " bytes collected",
      c->size);
  self->job->path = g_steal_pointer (&c->path);
  self->job->path_lock = c->path_lock;
  c->path_lock = -1;
  self->job->size = c->size;
  self->worker = g_thread_try_new ("lumamodify", gst_luma_modify_work, self,
      &cause);
  if (self->worker == NULL) {
    g_set_error (&error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        _("Cannot start a thread: %s"), cause->message);
    gst_luma_modify_refuse (self, error);
  }
}

/* A flush while the input comes in: the file is emptied, and the bytes
 * that come next are the clip. */
static void
collector_restart (GstLumaModify * self)
{
  Collector *c = &self->collector;
  g_autoptr (GError) cause = NULL;
  g_autoptr (GError) error = NULL;

  c->position = 0;
  if (c->file == NULL || c->refused || c->ended || c->size == 0)
    return;
  if (!g_seekable_truncate (G_SEEKABLE (c->file), 0, NULL, &cause)) {
    set_temp_file_error (&error, c->path, cause);
    gst_luma_modify_refuse (self, error);
    return;
  }
  c->size = 0;
}

/* Nothing of the input goes downstream: the output is the inner lumasrc's.
 * Every event is taken here. */
static gboolean
gst_luma_modify_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstLumaModify *self = GST_LUMA_MODIFY (parent);
  gboolean ret = TRUE;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;

      gst_event_parse_caps (event, &caps);
      ret = gst_luma_modify_check_caps (self, caps);
      break;
    }
    case GST_EVENT_SEGMENT:{
      const GstSegment *segment;

      /* as filesink: a BYTES segment says where the next bytes go */
      gst_event_parse_segment (event, &segment);
      if (segment->format == GST_FORMAT_BYTES)
        self->collector.position = segment->start;
      break;
    }
    case GST_EVENT_FLUSH_STOP:
      /* as filesink: upstream starts again (a flushing seek), and what
       * came before is no part of the clip; its next segment says where
       * its bytes go */
      collector_restart (self);
      break;
    case GST_EVENT_EOS:
      gst_luma_modify_input_ended (self);
      break;
    default:
      break;
  }
  gst_event_unref (event);
  return ret;
}

static gboolean
gst_luma_modify_sink_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  if (GST_QUERY_TYPE (query) == GST_QUERY_SEEKING) {
    GstFormat format;

    /* each byte goes to its offset in the file: muxers (mp4mux) may go
     * back to rewrite their headers */
    gst_query_parse_seeking (query, &format, NULL, NULL, NULL);
    gst_query_set_seeking (query, format, format == GST_FORMAT_BYTES, 0, -1);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

/* The input and the output are two streams: no query crosses from one to
 * the other. */
static GstIterator *
gst_luma_modify_no_internal_links (GstPad * pad, GstObject * parent)
{
  return NULL;
}

static void
collector_clear (Collector * c)
{
  if (c->file != NULL)
    g_io_stream_close (G_IO_STREAM (c->file), NULL, NULL);
  g_clear_object (&c->file);
  spool_remove (&c->path, &c->path_lock);
  memset (c, 0, sizeof (*c));
  c->path_lock = -1;
}

/* ----- the worker: checks, upload, task ----- */

/* The extension KIE's file host gets, for the types it takes; NULL for
 * anything else. */
static const gchar *
container_extension (GstCaps * caps)
{
  const GstStructure *s;
  const gchar *variant;

  if (caps == NULL || gst_caps_is_empty (caps))
    return NULL;
  s = gst_caps_get_structure (caps, 0);
  if (gst_structure_has_name (s, "video/x-msvideo"))
    return "avi";
  if (!gst_structure_has_name (s, "video/quicktime"))
    return NULL;
  variant = gst_structure_get_string (s, "variant");
  return g_strcmp0 (variant, "apple") == 0 ? "mov" : "mp4";
}

/* The file's type from its first bytes; renamed with the extension of that
 * type, which the upload keeps. */
static gboolean
check_container (GstLumaModify * self, ModifyJob * job, GError ** error)
{
  g_autoptr (GFile) file = g_file_new_for_path (job->path);
  g_autoptr (GFileInputStream) in = g_file_read (file, job->cancellable, error);
  gsize head_size = MIN (job->size, TYPEFIND_HEAD_SIZE), n = 0;
  g_autofree guint8 *head = g_malloc (MAX (head_size, 1));
  g_autoptr (GstCaps) caps = NULL;
  const gchar *description = NULL;
  g_autofree gchar *named = NULL;
  const gchar *extension;

  if (in == NULL || !g_input_stream_read_all (G_INPUT_STREAM (in), head,
          head_size, &n, job->cancellable, error))
    return FALSE;
  caps = gst_type_find_helper_for_data (GST_OBJECT (self), head, n, NULL);
  extension = container_extension (caps);
  if (extension == NULL) {
    if (caps != NULL && !gst_caps_is_empty (caps))
      description = gst_structure_get_name (gst_caps_get_structure (caps, 0));
    if (description != NULL)
      g_set_error (error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_CONTAINER,
          _("The input is not an MP4, MOV or AVI file (it looks like %s): "
              "KIE takes only those"), description);
    else
      g_set_error_literal (error, LUMA_MODIFY_ERROR,
          LUMA_MODIFY_ERROR_CONTAINER,
          _("The input is not an MP4, MOV or AVI file (its type cannot be "
              "recognised): KIE takes only those"));
    return FALSE;
  }
  GST_DEBUG_OBJECT (self, "input is %" GST_PTR_FORMAT, caps);
  named = g_strconcat (job->path, ".", extension, NULL);
  if (g_rename (job->path, named) != 0) {
    g_autoptr (GError) cause = g_error_new_literal (G_IO_ERROR,
        g_io_error_from_errno (errno), g_strerror (errno));

    set_temp_file_error (error, named, cause);
    return FALSE;
  }
  g_free (job->path);
  job->path = g_steal_pointer (&named);
  return TRUE;
}

/* A queue and a fakesink for each stream parsebin finds, so that the probe
 * prerolls. The queue: a demuxer pushes all of its streams from one
 * thread, which the first prerolled sink would block before the other
 * streams (a clip's sound) reach theirs. Bounded in bytes, not in time: a
 * stream may begin late. */
#define PROBE_QUEUE_BYTES (64 * 1024 * 1024)

static void
on_probe_pad_added (GstElement * parsebin, GstPad * pad, GstBin * probe)
{
  GstElement *queue = gst_element_factory_make ("queue", NULL);
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);
  g_autoptr (GstPad) sinkpad = NULL;

  if (queue == NULL || sink == NULL) {
    /* the probe then ends in its timeout */
    gst_clear_object (&queue);
    gst_clear_object (&sink);
    return;
  }
  g_object_set (queue, "max-size-buffers", 0, "max-size-time",
      (guint64) 0, "max-size-bytes", PROBE_QUEUE_BYTES, NULL);
  g_object_set (sink, "sync", FALSE, NULL);
  gst_bin_add_many (probe, queue, sink, NULL);
  gst_element_link (queue, sink);
  sinkpad = gst_element_get_static_pad (queue, "sink");
  gst_pad_link (pad, sinkpad);
  gst_element_sync_state_with_parent (sink);
  gst_element_sync_state_with_parent (queue);
}

static void
on_probe_cancelled (GCancellable * cancellable, GstBus * bus)
{
  gst_bus_post (bus, gst_message_new_application (NULL,
          gst_structure_new_empty ("cancelled")));
}

/* The probe's answer: prerolled (TRUE), or the error it posted; a stop
 * ends the wait at once. */
static gboolean
wait_for_preroll (GstElement * probe, GCancellable * cancellable,
    GError ** error)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (probe);
  g_autoptr (GstMessage) message = NULL;
  gulong handler;

  handler = g_cancellable_connect (cancellable,
      G_CALLBACK (on_probe_cancelled), gst_object_ref (bus), gst_object_unref);
  message = gst_bus_timed_pop_filtered (bus, PROBE_TIMEOUT,
      GST_MESSAGE_ASYNC_DONE | GST_MESSAGE_ERROR | GST_MESSAGE_APPLICATION);
  g_cancellable_disconnect (cancellable, handler);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (message == NULL) {
    g_set_error_literal (error, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE,
        _("its streams could not be read in 30 s"));
    return FALSE;
  }
  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (message, error, NULL);
    return FALSE;
  }
  return GST_MESSAGE_TYPE (message) == GST_MESSAGE_ASYNC_DONE;
}

/* The clip's duration as its demuxer reads it (filesrc ! parsebin, each
 * stream into a fakesink, prerolled), or GST_CLOCK_TIME_NONE and why.
 * Elements made by name rather than GstDiscoverer: linking libgstpbutils
 * would load it and its video and audio libraries into every pipeline that
 * uses lumasrc (~0.7 MiB of resident memory). */
static GstClockTime
read_duration (const gchar * path, GCancellable * cancellable, GError ** error)
{
  g_autoptr (GstElement) probe = gst_pipeline_new ("lumamodify-probe");
  GstElement *src = gst_element_factory_make ("filesrc", NULL);
  GstElement *parsebin = gst_element_factory_make ("parsebin", NULL);
  g_autoptr (GError) cause = NULL;
  gint64 duration = -1;
  gboolean prerolled = FALSE;

  if (src == NULL || parsebin == NULL) {
    g_clear_object (&src);
    g_clear_object (&parsebin);
    g_set_error (error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_UNREADABLE,
        _("Cannot tell how long the clip is (%s): KIE takes clips of at "
            "most 10 s"), _("filesrc or parsebin is missing"));
    return GST_CLOCK_TIME_NONE;
  }
  g_object_set (src, "location", path, NULL);
  gst_bin_add_many (GST_BIN (probe), src, parsebin, NULL);
  gst_element_link (src, parsebin);
  g_signal_connect (parsebin, "pad-added", G_CALLBACK (on_probe_pad_added),
      probe);
  if (gst_element_set_state (probe, GST_STATE_PAUSED) !=
      GST_STATE_CHANGE_FAILURE)
    prerolled = wait_for_preroll (probe, cancellable, &cause);
  if (prerolled && !gst_element_query_duration (probe, GST_FORMAT_TIME,
          &duration))
    duration = -1;
  gst_element_set_state (probe, GST_STATE_NULL);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return GST_CLOCK_TIME_NONE;
  if (duration <= 0) {
    g_set_error (error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_UNREADABLE,
        _("Cannot tell how long the clip is (%s): KIE takes clips of at "
            "most 10 s"), cause ? cause->message : _("no duration found"));
    return GST_CLOCK_TIME_NONE;
  }
  return duration;
}

static gboolean
check_duration (GstLumaModify * self, ModifyJob * job, GError ** error)
{
  GstClockTime duration = read_duration (job->path, job->cancellable,
      error);

  if (duration == GST_CLOCK_TIME_NONE)
    return FALSE;
  GST_INFO_OBJECT (self, "input lasts %" GST_TIME_FORMAT,
      GST_TIME_ARGS (duration));
  if (duration > MAX_DURATION) {
    g_set_error (error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_DURATION,
        _("The clip lasts %.2f s, more than the 10 s KIE takes"),
        (gdouble) duration / GST_SECOND);
    return FALSE;
  }
  return TRUE;
}

/* "sha256:<hex>", what names the clip in the journal. */
static gchar *
file_digest (const gchar * path, GCancellable * cancellable, GError ** error)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) in = g_file_read (file, cancellable, error);
  g_autoptr (GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buffer = g_malloc (READ_SIZE);
  gssize n;

  if (in == NULL)
    return NULL;
  while ((n = g_input_stream_read (G_INPUT_STREAM (in), buffer, READ_SIZE,
              cancellable, error)) > 0)
    g_checksum_update (checksum, buffer, n);
  if (n < 0)
    return NULL;
  return g_strconcat ("sha256:", g_checksum_get_string (checksum), NULL);
}

static void
on_upload_progress (guint64 sent, guint64 total, gpointer user_data)
{
  GstLumaModify *self = user_data;

  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new (GST_LUMA_MESSAGE_UPLOAD,
              GST_LUMA_FIELD_BYTES_SENT, G_TYPE_UINT64, sent,
              GST_LUMA_FIELD_BYTES_TOTAL, G_TYPE_UINT64, total, NULL)));
}

/* What the upload hook works on: the job of its worker, which may no
 * longer be the element's (gst_luma_modify_stop ()) */
typedef struct
{
  GstLumaModify *self;
  ModifyJob *job;
} UploadHook;

/* Another process or element is creating the task of this very clip and
 * prompt (or is stalled): the wait for it is told. */
static void
on_journal_held (gpointer user_data)
{
  UploadHook *hook = user_data;

  GST_INFO_OBJECT (hook->self, "another process or element holds the "
      "request");
  hook->job->journal_held = TRUE;
  gst_luma_modify_post_wait_progress (hook->self, GST_PROGRESS_TYPE_START,
      _("Another process or element is creating the same task: waiting for "
          "it"));
}

/* The end of that wait: its task, or why there is none. */
static void
end_journal_wait (GstLumaModify * self, ModifyJob * job, const GError * error)
{
  if (!job->journal_held)
    return;
  job->journal_held = FALSE;
  if (error == NULL)
    gst_luma_modify_post_wait_progress (self, GST_PROGRESS_TYPE_COMPLETE,
        _("The other process or element is done"));
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    gst_luma_modify_post_wait_progress (self, GST_PROGRESS_TYPE_CANCELED,
        _("Stopped waiting"));
  else
    gst_luma_modify_post_wait_progress (self, GST_PROGRESS_TYPE_ERROR,
        error->message);
}

/* The hook of luma_create_task_once(): called only once the journal's claim
 * is held, so that a clip whose task exists is never uploaded again. */
static gchar *
upload_clip (gpointer user_data, GCancellable * cancellable, GError ** error)
{
  UploadHook *hook = user_data;
  GstLumaModify *self = hook->self;
  ModifyJob *job = hook->job;
  g_autoptr (GFile) file = g_file_new_for_path (job->path);
  g_autofree gchar *size = g_format_size (job->size);
  g_autofree gchar *text = g_strdup_printf (_("Uploading the clip (%s)"),
      size);
  LumaUploadAnswerStatus answered = { 0, 0 };
  gchar *url;

  /* the claim is this one's now: the other gave up */
  end_journal_wait (self, job, NULL);
  if (!check_pipeline_sound (self, error))
    return NULL;
  gst_luma_modify_post_progress (self, GST_PROGRESS_TYPE_START, text);
  /* its rate limits are waited out within wait-timeout, as generate's */
  url = luma_upload_file_full (job->session, job->settings.upload_url,
      job->settings.task.api_key, file, UPLOAD_FOLDER,
      job->settings.task.wait_timeout, on_upload_progress, self, &answered,
      cancellable, error);
  if (url == NULL) {
    gboolean cancelled = g_error_matches (*error, G_IO_ERROR,
        G_IO_ERROR_CANCELLED);

    /* the details of the error name what the upload host answered, as
     * they name what the API answered (error_details ()) */
    job->create_result.http_status = answered.http_status;
    job->create_result.api_code = answered.api_code;

    gst_luma_modify_post_progress (self, cancelled ? GST_PROGRESS_TYPE_CANCELED
        : GST_PROGRESS_TYPE_ERROR, cancelled ? _("Upload stopped")
        : (*error)->message);
    return NULL;
  }
  GST_INFO_OBJECT (self, "uploaded to %s", url);
  gst_luma_modify_set_view (self, &self->uploaded_url, url, uploaded_url_pspec);
  gst_luma_modify_post_progress (self, GST_PROGRESS_TYPE_COMPLETE,
      _("Uploaded the clip"));
  return url;
}

static void
gst_luma_modify_post_created (GstLumaModify * self, ModifyJob * job,
    gboolean reused)
{
  g_autofree gchar *prompt =
      luma_text_make_safe (job->settings.task.prompt, -1);
  g_autofree gchar *video_url = NULL;
  GstStructure *s = gst_structure_new (GST_LUMA_MESSAGE_TASK_CREATED,
      GST_LUMA_FIELD_TASK_ID, G_TYPE_STRING, job->task_id,
      GST_LUMA_FIELD_PROMPT, G_TYPE_STRING, prompt,
      GST_LUMA_FIELD_REUSED, G_TYPE_BOOLEAN, reused, NULL);

  GST_OBJECT_LOCK (self);
  video_url = g_strdup (self->uploaded_url);
  GST_OBJECT_UNLOCK (self);
  if (video_url != NULL && !reused)
    gst_structure_set (s, GST_LUMA_FIELD_VIDEO_URL, G_TYPE_STRING, video_url,
        NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* The task of this clip and prompt: the journal's, or a new one, for which
 * the clip is uploaded first (lumacreate.c). */
static gboolean
gst_luma_modify_get_task (GstLumaModify * self, ModifyJob * job,
    GError ** error)
{
  const LumaTaskSettings *s = &job->settings.task;
  LumaCreateRequest request = { s->prompt, NULL, s->callback_url,
    s->watermark
  };
  g_autofree gchar *dir = luma_journal_default_dir ();
  g_autofree gchar *input = file_digest (job->path, job->cancellable, error);
  UploadHook hook = { self, job };
  LumaCreateJournal journal = { dir, s->api_url, input, s->force_new,
    upload_clip, &hook, on_journal_held
  };
  g_autoptr (GError) journal_warning = NULL;
  gboolean reused = FALSE;
  guint retries;

  if (input == NULL)
    return FALSE;
  /* the inner lumasrc's, which also makes the polls: one setting for all
   * the tries of the API */
  g_object_get (self->src, "retries", &retries, NULL);
  job->creating = TRUE;
  job->task_id = luma_create_task_once (job->api, &request, &journal,
      s->wait_timeout, retries, &job->create_result, &reused,
      &journal_warning, job->cancellable, error);
  if (s->force_new && !journal.force_new)
    luma_task_settings_spend_force_new (&self->settings.task,
        &self->settings_lock, G_OBJECT (self));
  end_journal_wait (self, job, job->task_id != NULL ? NULL : *error);
  if (journal_warning != NULL)
    gst_luma_modify_post_resource_message (self, GST_MESSAGE_WARNING,
        GST_RESOURCE_ERROR_OPEN_WRITE, journal_warning->message,
        error_details (job, journal_warning), NULL);
  if (job->task_id == NULL)
    return FALSE;
  job->creating = FALSE;
  g_mutex_lock (&self->handover_lock);
  job->task_known = TRUE;
  g_mutex_unlock (&self->handover_lock);
  GST_INFO_OBJECT (self, "%s task %s", reused ? "reusing" : "created",
      job->task_id);
  gst_luma_modify_set_view (self, &self->task_id, job->task_id, task_id_pspec);
  gst_luma_modify_post_created (self, job, reused);
  return TRUE;
}

/* The error of an EOS sent before the task was known; posted by the
 * worker once the work it cut has ended, since a request to create the
 * task cut with no answer may have created it (billed), and one that had
 * its answer did. */
static void
gst_luma_modify_post_ended (GstLumaModify * self, ModifyJob * job)
{
  g_autoptr (GError) error = NULL;

  if (job->task_id != NULL)
    g_set_error (&error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_ENDED,
        _("The pipeline was ended (an end of stream sent to it, as "
            "gst-launch-1.0 -e does at Ctrl-C) as lumamodify got its task "
            "%s: the run stops, and the task is the journal's for the next "
            "run"), job->task_id);
  else if (job->creating && job->create_result.outcome == LUMA_CREATE_MAYBE)
    g_set_error_literal (&error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_ENDED,
        _("The pipeline was ended (an end of stream sent to it, as "
            "gst-launch-1.0 -e does at Ctrl-C) while the request to create "
            "the task was out: it was cut with no answer, so a billed task "
            "may exist (check KIE's dashboard; the next run stops rather "
            "than create another)"));
  else
    g_set_error_literal (&error, LUMA_MODIFY_ERROR, LUMA_MODIFY_ERROR_ENDED,
        _("The pipeline was ended (an end of stream sent to it, as "
            "gst-launch-1.0 -e does at Ctrl-C) before lumamodify had its "
            "task: the input may be cut short, so the run stops, and "
            "nothing more is uploaded or created"));
  gst_luma_modify_fail (self, job, error);
}

/* The inner lumasrc streams the task's result from here on, in the state
 * of the bin; a stop that came first wins. */
static void
gst_luma_modify_start_source (GstLumaModify * self, ModifyJob * job)
{
  g_mutex_lock (&self->handover_lock);
  if (!g_cancellable_is_cancelled (job->cancellable)) {
    job->handed_over = TRUE;
    g_object_set (self->src, "task-id", job->task_id,
        "api-key", job->settings.task.api_key, "api-url",
        job->settings.task.api_url, "poll-interval",
        job->settings.task.poll_interval, "wait-timeout",
        job->settings.task.wait_timeout, NULL);
    gst_element_set_locked_state (self->src, FALSE);
    if (!gst_element_sync_state_with_parent (self->src))
      GST_WARNING_OBJECT (self, "the inner lumasrc did not start");
    if (job->end_at_handover)
      gst_element_send_event (self->src, gst_event_new_eos ());
    /* stopped meanwhile from this thread (a bus sync handler at one of
     * the inner lumasrc's state changes): down again, now that the state
     * change is over (gst_luma_modify_change_state ()) */
    if (g_cancellable_is_cancelled (job->cancellable))
      gst_element_set_state (self->src, GST_STATE_NULL);
  }
  g_mutex_unlock (&self->handover_lock);
  /* an EOS came before the task was known, and cut the run */
  if (!job->handed_over && g_atomic_int_get (&self->ended_early))
    gst_luma_modify_post_ended (self, job);
}

static void
gst_luma_modify_run_job (GstLumaModify * self, ModifyJob * job)
{
  g_autoptr (GError) error = NULL;

  if (!check_container (self, job, &error)
      || !check_duration (self, job, &error)
      || !gst_luma_modify_get_task (self, job, &error)) {
    /* cut by an EOS sent before the task was known */
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
        && g_atomic_int_get (&self->ended_early))
      gst_luma_modify_post_ended (self, job);
    else
      gst_luma_modify_fail (self, job, error);
    return;
  }
  /* the task has the clip now (or had it before): no need to keep it */
  spool_remove (&job->path, &job->path_lock);
  gst_luma_modify_start_source (self, job);
}

static void modify_job_free (ModifyJob * job);

static gpointer
gst_luma_modify_work (gpointer data)
{
  GstLumaModify *self = data;
  ModifyJob *job = self->job;

  gst_luma_modify_run_job (self, job);
  /* stopped from within one of its own posts: what the stop could not
   * free under it is this thread's (gst_luma_modify_stop ()) */
  if (job->orphaned) {
    modify_job_free (job);
    gst_object_unref (self);
  }
  return NULL;
}

/* ----- state ----- */

static void
modify_job_free (ModifyJob * job)
{
  spool_remove (&job->path, &job->path_lock);
  g_free (job->task_id);
  modify_settings_clear (&job->settings);
  g_clear_pointer (&job->api, luma_api_free);
  g_clear_object (&job->session);
  g_clear_object (&job->cancellable);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ModifyJob, modify_job_free);

/* What a run needs, without any network; or NULL and why. */
static ModifyJob *
modify_job_new (const ModifySettings * settings, GError ** error)
{
  g_autoptr (ModifyJob) job = g_new0 (ModifyJob, 1);
  g_auto (GStrv) envp = g_get_environ ();
  g_autoptr (GProxyResolver) resolver = NULL;
  g_autoptr (GError) cause = NULL;
  LumaHttpConfig http = { USER_AGENT, HTTP_TIMEOUT, NULL, TRUE };

  job->path_lock = -1;
  job->cancellable = g_cancellable_new ();
  modify_settings_copy (&job->settings, settings);
  modify_settings_resolve (&job->settings);
  if (!check_settings (&job->settings, error))
    return NULL;
  resolver = luma_proxy_resolver_new (NULL, envp, NULL, &cause);
  if (resolver == NULL) {
    g_set_error_literal (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        cause->message);
    return NULL;
  }
  http.proxy_resolver = resolver;
  job->session = luma_http_session_new (&http);
  job->api = luma_api_new (job->session, job->settings.task.api_url,
      job->settings.task.api_key, &cause);
  if (job->api == NULL) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        _("Invalid api-url or KIE_API_URL: %s"), cause->message);
    return NULL;
  }
  return g_steal_pointer (&job);
}

static gboolean
gst_luma_modify_prepare (GstLumaModify * self)
{
  ModifySettings settings;
  g_autoptr (GError) error = NULL;

  g_mutex_lock (&self->settings_lock);
  modify_settings_copy (&settings, &self->settings);
  g_mutex_unlock (&self->settings_lock);
  self->job = modify_job_new (&settings, &error);
  modify_settings_clear (&settings);
  if (self->job == NULL) {
    gst_luma_modify_fail (self, NULL, error);
    return FALSE;
  }

  g_atomic_int_set (&self->ended_early, FALSE);
  GST_OBJECT_LOCK (self);
  g_clear_pointer (&self->task_id, g_free);
  g_clear_pointer (&self->uploaded_url, g_free);
  self->task_state = GST_LUMA_TASK_STATE_WAITING;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

/* Stops the worker (an upload, a request, a wait for the journal end at
 * once) and puts the inner lumasrc back to sleep for the next run. Called
 * once the sink pad is inactive: no EOS can start a worker any more. */
static void
gst_luma_modify_stop (GstLumaModify * self)
{
  if (self->worker == g_thread_self ()) {
    /* An application's bus sync handler, stopping the pipeline at one of
     * the worker's messages: the worker cannot join itself. Cancelled, it
     * ends once the handler returns, and frees the job then; the element
     * lives until it has. */
    self->job->orphaned = TRUE;
    self->job = NULL;
    gst_object_ref (self);
    g_thread_unref (g_steal_pointer (&self->worker));
    /* the inner lumasrc may be in the middle of a state change that this
     * thread began: the worker puts it back down once that is over
     * (gst_luma_modify_start_source ()) */
    gst_element_set_locked_state (self->src, TRUE);
  } else {
    if (self->worker != NULL)
      g_thread_join (g_steal_pointer (&self->worker));
    gst_element_set_locked_state (self->src, TRUE);
    gst_element_set_state (self->src, GST_STATE_NULL);
  }
  collector_clear (&self->collector);
  g_clear_pointer (&self->job, modify_job_free);
}

static GstStateChangeReturn
gst_luma_modify_change_state (GstElement * element, GstStateChange transition)
{
  GstLumaModify *self = GST_LUMA_MODIFY (element);
  GstStateChangeReturn ret;

  /* A stop from the worker (a bus sync handler at a message it posted,
   * such as a state change of the inner lumasrc, which it may be bringing
   * up): the bin leaves the inner lumasrc alone, since a state change of
   * it begun in this thread would go on, after the stop, with the
   * transitions it had planned. */
  if (self->worker == g_thread_self ()
      && GST_STATE_TARGET (element) <= GST_STATE_READY)
    gst_element_set_locked_state (self->src, TRUE);

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!gst_luma_modify_prepare (self))
        return GST_STATE_CHANGE_FAILURE;
      watch_pipeline_errors (self);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* from the worker: it may hold the lock, and checks the cancellable
       * after the handover */
      if (self->worker == g_thread_self ()) {
        g_cancellable_cancel (self->job->cancellable);
      } else {
        g_mutex_lock (&self->handover_lock);
        g_cancellable_cancel (self->job->cancellable);
        g_mutex_unlock (&self->handover_lock);
      }
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (ret == GST_STATE_CHANGE_FAILURE) {
        unwatch_pipeline_errors (self);
        gst_luma_modify_stop (self);
      }
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      unwatch_pipeline_errors (self);
      gst_luma_modify_stop (self);
      break;
    default:
      break;
  }
  return ret;
}

/* What an EOS the application sends does (send_event ()). */
typedef enum
{
  EOS_TO_SOURCE,                /* the inner lumasrc streams the task */
  EOS_AT_HANDOVER,              /* it will: the EOS is sent to it then */
  EOS_ENDS_RUN,                 /* no task yet: the run stops, and fails */
  EOS_ENDS_WORK,                /* the same, told by the worker it cut */
  /* no run, or one ended already: the inner lumasrc is locked down, and
   * GstBaseSrc would keep the EOS pending into the next run (which would
   * then end at once, its task billed) */
  EOS_DROPPED,
} EosOutcome;

static EosOutcome
gst_luma_modify_take_eos (GstLumaModify * self)
{
  gboolean worker = self->worker == g_thread_self ();
  ModifyJob *job = self->job;
  EosOutcome outcome = EOS_TO_SOURCE;

  /* from the worker (a bus sync handler at one of its messages), the lock
   * may be its own already, in the handover */
  if (!worker)
    g_mutex_lock (&self->handover_lock);
  if (job == NULL || g_atomic_int_get (&self->ended_early)) {
    outcome = EOS_DROPPED;
  } else if (job->handed_over) {
    /* put back down by a stop meanwhile: not the inner lumasrc's any
     * more either */
    outcome = g_cancellable_is_cancelled (job->cancellable) ? EOS_DROPPED
        : EOS_TO_SOURCE;
  } else if (job->task_known) {
    job->end_at_handover = TRUE;
    outcome = EOS_AT_HANDOVER;
  } else {
    g_atomic_int_set (&self->ended_early, TRUE);
    g_cancellable_cancel (job->cancellable);
    outcome = job->working ? EOS_ENDS_WORK : EOS_ENDS_RUN;
  }
  if (!worker)
    g_mutex_unlock (&self->handover_lock);
  return outcome;
}

/* An EOS the application sends to the pipeline (gst-launch-1.0 -e at
 * Ctrl-C) reaches the upstream source too, and the input that then ends
 * is cut short. Before the task is known, the run stops (an upload or a
 * request under way is cut, as by a stop) and fails: no task is billed
 * for a cut clip, and no script takes an empty output for a result. Once
 * it is known, the EOS goes to the inner lumasrc, whose output ends where
 * it is, as any source's. */
static gboolean
gst_luma_modify_send_event (GstElement * element, GstEvent * event)
{
  GstLumaModify *self = GST_LUMA_MODIFY (element);
  EosOutcome outcome = EOS_TO_SOURCE;

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    outcome = gst_luma_modify_take_eos (self);
  if (outcome == EOS_TO_SOURCE)
    return GST_ELEMENT_CLASS (parent_class)->send_event (element, event);
  gst_event_unref (event);
  /* the input still coming in: nothing was sent */
  if (outcome == EOS_ENDS_RUN)
    gst_luma_modify_post_ended (self, self->job);
  return outcome != EOS_DROPPED;
}

/* ----- properties ----- */

static void
gst_luma_modify_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstLumaModify *self = GST_LUMA_MODIFY (object);
  ModifySettings *settings = &self->settings;

  g_mutex_lock (&self->settings_lock);
  if (luma_task_settings_set_property (&settings->task, prop_id, value)) {
    /* one of the settings lumasrc has too */
  } else if (prop_id == PROP_UPLOAD_URL) {
    g_free (settings->upload_url);
    settings->upload_url = g_value_dup_string (value);
  } else if (prop_id == PROP_MAX_INPUT_SIZE) {
    settings->max_input_size = g_value_get_uint64 (value);
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
  g_mutex_unlock (&self->settings_lock);
}

static void
gst_luma_modify_get_view (GstLumaModify * self, guint prop_id, GValue * value)
{
  GST_OBJECT_LOCK (self);
  if (prop_id == PROP_TASK_ID)
    g_value_set_string (value, self->task_id);
  else if (prop_id == PROP_TASK_STATE)
    g_value_set_enum (value, self->task_state);
  else
    g_value_set_string (value, self->uploaded_url);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_luma_modify_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstLumaModify *self = GST_LUMA_MODIFY (object);
  ModifySettings *settings = &self->settings;

  if (prop_id == PROP_TASK_ID || prop_id == PROP_TASK_STATE
      || prop_id == PROP_UPLOADED_URL) {
    gst_luma_modify_get_view (self, prop_id, value);
    return;
  }

  g_mutex_lock (&self->settings_lock);
  if (luma_task_settings_get_property (&settings->task, prop_id, value)) {
    /* one of the settings lumasrc has too */
  } else if (prop_id == PROP_UPLOAD_URL) {
    g_value_take_string (value,
        luma_settings_shown_url (luma_settings_effective
            (settings->upload_url, "KIE_UPLOAD_URL", LUMA_UPLOAD_DEFAULT_URL)));
  } else if (prop_id == PROP_MAX_INPUT_SIZE) {
    g_value_set_uint64 (value, settings->max_input_size);
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
  g_mutex_unlock (&self->settings_lock);
}

/* ----- GObject ----- */

static void
gst_luma_modify_init_pads (GstLumaModify * self)
{
  GstElementClass *klass = GST_ELEMENT_GET_CLASS (self);
  g_autoptr (GstPad) target = gst_element_get_static_pad (self->src, "src");
  GstPad *srcpad;

  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_luma_modify_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_luma_modify_sink_event));
  gst_pad_set_query_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_luma_modify_sink_query));
  gst_pad_set_iterate_internal_links_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_luma_modify_no_internal_links));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  srcpad = gst_ghost_pad_new_from_template ("src", target,
      gst_element_class_get_pad_template (klass, "src"));
  gst_element_add_pad (GST_ELEMENT (self), srcpad);
}

static void
gst_luma_modify_init (GstLumaModify * self)
{
  g_mutex_init (&self->settings_lock);
  g_mutex_init (&self->handover_lock);
  self->settings.max_input_size = DEFAULT_MAX_INPUT_SIZE;
  luma_task_settings_init (&self->settings.task);
  self->task_state = GST_LUMA_TASK_STATE_WAITING;
  self->collector.path_lock = -1;

  /* asleep until the task is known: it has nothing to stream before */
  self->src = g_object_new (GST_TYPE_LUMA_SRC, "name", "lumasrc", NULL);
  gst_element_set_locked_state (self->src, TRUE);
  gst_bin_add (GST_BIN (self), self->src);
  g_signal_connect (self->src, "notify::task-state",
      G_CALLBACK (on_src_task_state), NULL);
  gst_luma_modify_init_pads (self);
}

/* An element dropped in PAUSED or PLAYING (which GStreamer warns about)
 * still ends its worker before what the worker uses goes away. */
static void
gst_luma_modify_dispose (GObject * object)
{
  GstLumaModify *self = GST_LUMA_MODIFY (object);

  if (self->worker != NULL) {
    g_cancellable_cancel (self->job->cancellable);
    g_thread_join (g_steal_pointer (&self->worker));
  }
  G_OBJECT_CLASS (parent_class)->dispose (object);
}

static void
gst_luma_modify_finalize (GObject * object)
{
  GstLumaModify *self = GST_LUMA_MODIFY (object);

  collector_clear (&self->collector);
  g_clear_pointer (&self->job, modify_job_free);
  modify_settings_clear (&self->settings);
  g_free (self->task_id);
  g_free (self->uploaded_url);
  g_mutex_clear (&self->settings_lock);
  g_mutex_clear (&self->handover_lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define READY_MUTABLE_FLAGS \
    (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

/* What the shared properties do in lumamodify (lumasettings.c) */
static const LumaTaskBlurbs task_blurbs = {
  .prompt = "The modification to apply, in English (required). The same clip "
      "and prompt again reuse the task they created",
  .watermark = "A watermark for the task, optional",
  .callback_url = "The URL KIE calls when the task is done, optional",
  .force_new = "Upload the clip and create a new task (billed) even when the "
      "same clip and prompt already created one; acts once: reads false "
      "again once a run has set the earlier task aside",
  .poll_interval = "Milliseconds between two readings of the task's record "
      "(the first is at once); given to the inner lumasrc",
  .wait_timeout = "Seconds to wait for the task to finish at the most, "
      "0 = forever; given to the inner lumasrc",
};

static void
gst_luma_modify_install_own_properties (GObjectClass * gobject_class)
{
  g_object_class_install_property (gobject_class, PROP_MAX_INPUT_SIZE,
      g_param_spec_uint64 ("max-input-size", "Maximum input size",
          "The most bytes of input taken (KIE takes clips of at most "
          "500 MB); more is an error at once, before any upload",
          1, G_MAXUINT64, DEFAULT_MAX_INPUT_SIZE, READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class, PROP_UPLOAD_URL,
      g_param_spec_string ("upload-url", "Upload URL",
          "Base URL of KIE's file upload host; when unset, the "
          "KIE_UPLOAD_URL environment variable, else "
          LUMA_UPLOAD_DEFAULT_URL, LUMA_UPLOAD_DEFAULT_URL,
          READY_MUTABLE_FLAGS));
}

static void
gst_luma_modify_install_view_properties (GObjectClass * gobject_class)
{
  task_id_pspec = g_param_spec_string ("task-id", "Task id",
      "The id of the task of the clip, once created or found in the journal",
      NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property (gobject_class, PROP_TASK_ID, task_id_pspec);
  task_state_pspec = g_param_spec_enum ("task-state", "Task state",
      "The task's state as last read", GST_TYPE_LUMA_TASK_STATE,
      GST_LUMA_TASK_STATE_WAITING, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property (gobject_class, PROP_TASK_STATE,
      task_state_pspec);
  uploaded_url_pspec = g_param_spec_string ("uploaded-url", "Uploaded URL",
      "The public URL of the clip at KIE's file host, once uploaded (not "
      "set when the journal had the task)", NULL,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property (gobject_class, PROP_UPLOADED_URL,
      uploaded_url_pspec);
}

static void
gst_luma_modify_class_init (GstLumaModifyClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_luma_modify_set_property;
  gobject_class->get_property = gst_luma_modify_get_property;
  gobject_class->dispose = gst_luma_modify_dispose;
  gobject_class->finalize = gst_luma_modify_finalize;
  luma_task_settings_install_properties (gobject_class, &task_blurbs);
  gst_luma_modify_install_own_properties (gobject_class);
  gst_luma_modify_install_view_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Luma Modify of a clip", "Filter/Network",
      "Has a clip (MP4, MOV or AVI, at most 10 s) modified by KIE.AI Luma "
      "Modify: uploads it, creates the task and streams its result video",
      "gst-luma developers");
  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_luma_modify_change_state);
  element_class->send_event = GST_DEBUG_FUNCPTR (gst_luma_modify_send_event);

  gst_type_mark_as_plugin_api (GST_TYPE_LUMA_TASK_STATE, 0);
}
