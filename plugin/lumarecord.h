/* gst-luma: reading a record-info answer of the KIE.AI Luma Modify API
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/luma/luma.h>

G_BEGIN_DECLS

/**
 * GST_LUMA_RECORD_MAX_SIZE:
 *
 * Answers larger than this are refused without being parsed.
 */
#define GST_LUMA_RECORD_MAX_SIZE (1024 * 1024)

#define GST_LUMA_RECORD_ERROR (gst_luma_record_error_quark ())
GQuark gst_luma_record_error_quark (void);

/**
 * GstLumaRecordError:
 * @GST_LUMA_RECORD_ERROR_TOO_LARGE: the body is larger than %GST_LUMA_RECORD_MAX_SIZE
 * @GST_LUMA_RECORD_ERROR_SYNTAX: the body is not JSON
 * @GST_LUMA_RECORD_ERROR_NOT_OBJECT: the body, or `data`, is not a JSON object
 * @GST_LUMA_RECORD_ERROR_MISSING: a field that is needed is absent or null
 * @GST_LUMA_RECORD_ERROR_WRONG_TYPE: a field has a type that cannot be used
 * @GST_LUMA_RECORD_ERROR_OUT_OF_RANGE: `successFlag` is not one of 0-4
 */
typedef enum {
  GST_LUMA_RECORD_ERROR_TOO_LARGE,
  GST_LUMA_RECORD_ERROR_SYNTAX,
  GST_LUMA_RECORD_ERROR_NOT_OBJECT,
  GST_LUMA_RECORD_ERROR_MISSING,
  GST_LUMA_RECORD_ERROR_WRONG_TYPE,
  GST_LUMA_RECORD_ERROR_OUT_OF_RANGE,
} GstLumaRecordError;

/**
 * GstLumaRecord:
 * @code: the API's `code` (200 on success)
 * @msg: the API's `msg`, or %NULL
 * @task_id: `data.taskId`, or %NULL
 * @state: the task's state, from `data.successFlag`;
 *   %GST_LUMA_TASK_STATE_ERROR when @code is not 200
 * @result_urls: (array zero-terminated=1): `data.response.resultUrls`;
 *   never empty when @state is SUCCESS or CALLBACK_FAILED, else may be %NULL
 * @origin_urls: (array zero-terminated=1): `data.response.originUrls`, or %NULL
 * @error_code: `data.errorCode` as text (numbers are printed), or %NULL
 * @error_message: `data.errorMessage`, or %NULL
 * @create_time: `data.createTime` in Unix milliseconds, or -1 when unknown
 * @complete_time: `data.completeTime` in Unix milliseconds, or -1 when unknown
 * @prompt: the prompt read from `data.paramJson`, or %NULL; %NULL too
 *   while the task generates (paramJson is only read once it is over)
 * @source_url: the input video URL read from `data.paramJson`, or %NULL;
 *   %NULL too while the task generates
 *
 * What lumasrc needs of a record-info answer.
 */
typedef struct {
  gint code;
  gchar *msg;
  gchar *task_id;
  GstLumaTaskState state;
  gchar **result_urls;
  gchar **origin_urls;
  gchar *error_code;
  gchar *error_message;
  gint64 create_time;
  gint64 complete_time;
  gchar *prompt;
  gchar *source_url;
} GstLumaRecord;

GstLumaRecord *gst_luma_record_parse (GBytes * body, GError ** error);
GstLumaRecord *gst_luma_record_copy (const GstLumaRecord * record);
void gst_luma_record_free (GstLumaRecord * record);

/* generate's answer to @status (pure: the fuzzer feeds it anything):
 * *@code is the HTTP status when that is an error, else the answer's code
 * (0 when it has none); *@msg is safe text or NULL; *@task_id as given
 * (luma_task_id_check () judges it), or NULL. FALSE when a success cannot
 * be read. */
gboolean luma_record_parse_create_answer (GBytes * body, guint status,
    gint * code, gchar ** msg, gchar ** task_id);

/* What download-url answered, as for generate: *@code, *@msg, and *@link,
 * the fresh link: "data" itself when it is a string, else its "url",
 * "downloadUrl" or "link" member (KIE does not document the form), as
 * given if it is safe text (the caller judges it as a URL), else NULL. */
void luma_record_parse_link_answer (GBytes * body, guint status, gint * code,
    gchar ** msg, gchar ** link);

/* What the file upload API answered (lumaupload.c judges it). */
typedef struct {
  gchar *why;                   /* not a JSON object: why, as safe text;
                                 * the rest is then unset */
  gboolean has_code;
  gint code;                    /* "code": a number or a string of digits */
  gboolean has_success;
  gboolean success;
  gchar *msg;                   /* safe text, or NULL */
  gchar *download_url;          /* data.downloadUrl as given, or NULL */
  gboolean has_file_size;
  gint64 file_size;             /* data.fileSize: what the host stored */
} LumaUploadAnswer;

/* Pure, like the others: the fuzzer feeds it anything. */
void luma_record_parse_upload_answer (GBytes * body, LumaUploadAnswer * answer);
void luma_upload_answer_clear (LumaUploadAnswer * answer);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LumaUploadAnswer, luma_upload_answer_clear)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstLumaRecord, gst_luma_record_free)

G_END_DECLS
