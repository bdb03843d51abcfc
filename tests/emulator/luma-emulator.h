/* gst-luma: a KIE.AI Luma Modify API emulator on SoupServer, for the tests
 * and for the demo.
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Three servers on 127.0.0.1: the API (GET /api/v1/modify/record-info,
 * POST /api/v1/modify/generate), a result-file host that serves each
 * task's video with HTTP Range, and an upload host (KIE's File Upload API).
 * They run in a thread of their own with its own GMainContext, so that a caller may block (as lumasrc does in its
 * streaming thread) while the emulator answers.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS typedef struct _LumaEmulator LumaEmulator;

typedef struct
{
  const gchar *task_id;
  GBytes *video;                /* the result file; may be NULL for failed tasks */
  guint generating_polls;       /* answer successFlag 0 to this many polls first */
  guint generating_ms;          /* ... and until this long after the first poll */
  gint final_flag;              /* successFlag once done: 1 (also when 0), 2, 3 or 4 */
  const gchar *error_code;      /* errorCode for flags 2 and 3 (sent as a number if it is one) */
  const gchar *error_message;   /* errorMessage for flags 2 and 3 */
  const gchar *prompt;          /* goes into paramJson; a default when NULL */
} LumaEmulatorTask;

/* How the result-file host misbehaves for one task. All zero: a good server.
 * Each field is also a --task setting of the luma-emulator program
 * (luma-emulator-main.c, tested by tests/check/emulatorcli.c): a new one
 * goes there too. */
typedef struct
{
  gboolean ignore_range;        /* answer 200 with the whole file to Range requests */
  gsize drop_after;             /* with drop_count: close the connection after this */
  guint drop_count;             /*   many body bytes, for the first drop_count answers */
  gboolean stall;               /* send stall_after body bytes (0: not even the */
  gsize stall_after;            /*   headers), then send nothing, never close */
  guint fail_status;            /* with fail_count: answer this status (403, 404, 410...) */
  guint fail_count;             /*   to the first fail_count requests (G_MAXUINT: always) */
  gboolean fail_html;           /*   with an HTML page as body (a CDN block) */
  const gchar *redirect_to;     /* answer 302 with this Location (a URL, any scheme) */
  guint fail_after;             /* answer this many requests before the failures */
  const gchar *fail_retry_after;        /* with fail_status: send this Retry-After */
  guint drop_fail_status;       /* with drop_after: answer this status (403...) to
                                 *   the request that follows each drop */
  const gchar *partial_content_range;   /* send this Content-Range on 206 answers
                                         *   instead of the true one ("": none at all) */
  gsize range_piece;            /* answer a Range with at most this many bytes
                                 *   (a 206 for a part of what was asked) */
  gsize rate;                   /* send a whole body at this many bytes a second
                                 *   (0: as fast as the client reads) */
  gboolean no_validators;       /* send no ETag (a host or proxy that strips
                                 *   them): only the size tells files apart */
  gsize only_below;             /* the faults above are only for requests
                                 *   whose first byte is below this; the
                                 *   others are answered as a fresh link's
                                 *   (0: for all requests) */
} LumaEmulatorVideoFaults;

LumaEmulator *luma_emulator_new (const gchar * api_key);

/* Starts both servers (port 0: a free one) in the emulator's thread. */
gboolean luma_emulator_start (LumaEmulator * em, guint api_port,
    guint video_port, GError ** error);

/* Stops the servers and the thread, frees everything. */
void luma_emulator_free (LumaEmulator * em);

/* "http://127.0.0.1:PORT", no trailing slash (free with g_free) */
gchar *luma_emulator_get_api_url (LumaEmulator * em);
gchar *luma_emulator_get_video_url_base (LumaEmulator * em);

/* Can be called before or after start, from any thread. */
void luma_emulator_add_task (LumaEmulator * em, const LumaEmulatorTask * task);
void luma_emulator_set_video_faults (LumaEmulator * em, const gchar * task_id,
    const LumaEmulatorVideoFaults * faults);

/* Overrides the result URL the task's record gives (file://..., another host...). */
void luma_emulator_set_result_url (LumaEmulator * em, const gchar * task_id,
    const gchar * url);

/* Scripted answers to record-info for @task_id, served in order (one per
 * request) before the task's normal answers. @retry_after and @content_type
 * may be NULL (default content type: application/json). */
void luma_emulator_push_record_reply (LumaEmulator * em, const gchar * task_id,
    guint http_status, const gchar * retry_after, const gchar * content_type,
    const gchar * body);

/* A scripted 302 to @location (resolved by the client), in the same queue. */
void luma_emulator_push_record_redirect (LumaEmulator * em,
    const gchar * task_id, const gchar * location);

/* Observations, safe from any thread. */
/* record-info requests that carried an Authorization header */
guint luma_emulator_get_api_auth_requests (LumaEmulator * em);
guint luma_emulator_get_record_requests (LumaEmulator * em,
    const gchar * task_id);
guint luma_emulator_get_video_requests (LumaEmulator * em,
    const gchar * task_id);
/* requests to the result-file host that carried an Authorization header */
guint luma_emulator_get_video_auth_requests (LumaEmulator * em);
/* connections the result-file host was asked over (each client port once) */
guint luma_emulator_get_video_connections (LumaEmulator * em);
/* the Range header of the last video request for the task, or NULL (free it) */
gchar *luma_emulator_get_last_range (LumaEmulator * em, const gchar * task_id);
/* The ETag the result-file host sends for the task's video now (a new one
 * each time the task's video is set), or NULL. */
gchar *luma_emulator_get_video_etag (LumaEmulator * em, const gchar * task_id);

/* Task creation: POST /api/v1/modify/generate checks the key, fetches the
 * videoUrl (loopback only) and makes a task whose result is that video.
 * Tasks it creates generate for this many polls and milliseconds. */
void luma_emulator_set_created_timing (LumaEmulator * em,
    guint generating_polls, guint generating_ms);
/* Answers generate only this long after creating the task. */
void luma_emulator_set_generate_answer_delay (LumaEmulator * em,
    guint delay_ms);
/* Scripted answers to generate, in order, before the normal ones; a
 * scripted answer creates nothing. @retry_after and @body may be NULL. */
void luma_emulator_push_generate_reply (LumaEmulator * em, guint http_status,
    const gchar * retry_after, const gchar * body);
/* A scripted redirect (@http_status: 307 or 308 keep the POST) to
 * @location, in the same queue. */
void luma_emulator_push_generate_redirect (LumaEmulator * em,
    guint http_status, const gchar * location);
/* POST /api/v1/common/download-url {"url": U} (the key as Bearer): a
 * fresh link for U when it is one of the result URLs of this emulator
 * ({"code":200,"data":"http://127.0.0.1:PORT/fresh/TASK/N.mp4"}, served
 * without the task's faults), else 422. Requests of any outcome: */
guint luma_emulator_get_download_url_requests (LumaEmulator * em);
/* download-url answers @ms late. */
void luma_emulator_set_download_url_delay (LumaEmulator * em, guint ms);
/* tasks created, and generate requests of any outcome */
guint luma_emulator_get_creates (LumaEmulator * em);
guint luma_emulator_get_generate_requests (LumaEmulator * em);
/* the body of the last generate request (free it), or NULL */
gchar *luma_emulator_get_last_generate_body (LumaEmulator * em);

/* --- the upload host (KIE's File Upload API) ---
 * A third server on 127.0.0.1, started with the others:
 * POST /api/file-stream-upload (multipart/form-data: file, uploadPath,
 * fileName; the API key as Bearer) stores the file in memory and answers
 * {"success":true,"code":200,"msg":..,"data":{"fileName","filePath",
 * "downloadUrl","fileSize","mimeType","uploadedAt"}}; a missing or wrong
 * key gets HTTP 401 with {"success":false,"code":401,"msg":..}. The file is
 * then served by GET (and HEAD) at downloadUrl,
 * http://127.0.0.1:PORT/files/<uploadPath>/<fileName>, without a key. */

/* The port to listen on (before start; default 0: a free one). */
void luma_emulator_set_upload_port (LumaEmulator * em, guint port);
/* "http://127.0.0.1:PORT", no trailing slash (free with g_free) */
gchar *luma_emulator_get_upload_url (LumaEmulator * em);

/* Scripted answers to uploads, served in order (one per POST) before the
 * normal ones, even before the key check; nothing is stored for them.
 * @retry_after and @body may be NULL; the body goes as application/json. */
void luma_emulator_push_upload_reply (LumaEmulator * em, guint http_status,
    const gchar * retry_after, const gchar * body);
/* Every upload answer (scripted ones too) is sent @ms after the body has
 * arrived; 0: at once. The emulator serves other requests meanwhile. */
void luma_emulator_set_upload_answer_delay (LumaEmulator * em, guint ms);

/* Observations, safe from any thread. */
/* files stored (an upload to a name already used counts again) */
guint luma_emulator_get_uploads (LumaEmulator * em);
/* requests to the upload API (every path but /files/), and of those the
 * ones that carried an Authorization header */
guint luma_emulator_get_upload_requests (LumaEmulator * em);
guint luma_emulator_get_upload_auth_requests (LumaEmulator * em);
/* GET and HEAD requests of /files/, and of those the ones that carried an
 * Authorization header (must stay 0: the URLs are public) */
guint luma_emulator_get_upload_downloads (LumaEmulator * em);
guint luma_emulator_get_upload_download_auth_requests (LumaEmulator * em);
/* the file stored under a downloadUrl the host gave, or NULL (unref it) */
GBytes *luma_emulator_get_uploaded_file (LumaEmulator * em,
    const gchar * download_url);
/* a form field (uploadPath, fileName...) of the last stored upload, or NULL
 * (free it) */
gchar *luma_emulator_get_last_upload_field (LumaEmulator * em,
    const gchar * name);

G_END_DECLS
