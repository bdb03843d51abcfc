/* gst-luma: public contract for applications embedding lumasrc
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS
/* What libgstluma-1.0 exports; everything else it builds is hidden. */
#if defined (BUILDING_GST_LUMA) && defined (__GNUC__)
#define GST_LUMA_API __attribute__ ((visibility ("default"))) extern
#else
#define GST_LUMA_API extern
#endif
/**
 * GstLumaTaskState:
 * @GST_LUMA_TASK_STATE_WAITING: no answer from the API yet
 * @GST_LUMA_TASK_STATE_GENERATING: the task is still generating (successFlag 0)
 * @GST_LUMA_TASK_STATE_SUCCESS: the video is ready (successFlag 1)
 * @GST_LUMA_TASK_STATE_CALLBACK_FAILED: the video is ready but KIE could not
 *   call the task's callback URL (successFlag 4)
 * @GST_LUMA_TASK_STATE_CREATE_FAILED: the task could not be created (successFlag 2)
 * @GST_LUMA_TASK_STATE_GENERATE_FAILED: generation failed (successFlag 3)
 * @GST_LUMA_TASK_STATE_ERROR: lumasrc could not learn the task's state
 *   (refused key, unknown task, malformed answer, timeout, ...)
 *
 * The state of a Luma Modify task as lumasrc sees it: the value of the
 * element's `task-state` property, of the `task-state` field of its
 * %GST_LUMA_MESSAGE_TASK element messages and of the details of its errors.
 */
typedef enum
{
  GST_LUMA_TASK_STATE_WAITING,
  GST_LUMA_TASK_STATE_GENERATING,
  GST_LUMA_TASK_STATE_SUCCESS,
  GST_LUMA_TASK_STATE_CALLBACK_FAILED,
  GST_LUMA_TASK_STATE_CREATE_FAILED,
  GST_LUMA_TASK_STATE_GENERATE_FAILED,
  GST_LUMA_TASK_STATE_ERROR,
} GstLumaTaskState;

GST_LUMA_API GType gst_luma_task_state_get_type (void);
#define GST_TYPE_LUMA_TASK_STATE (gst_luma_task_state_get_type ())

/**
 * GstLumaStoreMode:
 * @GST_LUMA_STORE_MODE_ON: finished videos are kept in the store and served
 *   from it when opened again
 * @GST_LUMA_STORE_MODE_OFF: the store is neither read nor written
 * @GST_LUMA_STORE_MODE_READ_ONLY: stored videos are served, nothing is
 *   written, locked or removed
 *
 * What lumasrc does with its persistent store of finished videos: the value
 * of its `store` property, or of the `GST_LUMA_STORE` environment variable
 * (by nick: `on`, `off`, `read-only`).
 */
typedef enum
{
  GST_LUMA_STORE_MODE_ON,
  GST_LUMA_STORE_MODE_OFF,
  GST_LUMA_STORE_MODE_READ_ONLY,
} GstLumaStoreMode;

GST_LUMA_API GType gst_luma_store_mode_get_type (void);
#define GST_TYPE_LUMA_STORE_MODE (gst_luma_store_mode_get_type ())

/**
 * gst_luma_task_state_get_nick:
 * @state: a #GstLumaTaskState
 *
 * Returns: (transfer none): the state's short name ("generating", ...),
 *   the same as its #GEnumValue nick.
 */
GST_LUMA_API const gchar *gst_luma_task_state_get_nick (GstLumaTaskState state);

/**
 * GST_LUMA_URI_SCHEME:
 *
 * The URI scheme lumasrc handles: `luma://TASKID`.
 */
#define GST_LUMA_URI_SCHEME "luma"

/**
 * GST_LUMA_MESSAGE_TASK:
 *
 * Name of the structure of the element messages lumasrc posts at each poll
 * of the task and when the task's state changes. Fields:
 * %GST_LUMA_FIELD_TASK_ID, %GST_LUMA_FIELD_TASK_STATE, %GST_LUMA_FIELD_POLLS,
 * %GST_LUMA_FIELD_ELAPSED and, once known, %GST_LUMA_FIELD_RESULT_URL.
 */
#define GST_LUMA_MESSAGE_TASK "luma-task"

/**
 * GST_LUMA_PROGRESS_CODE:
 *
 * The code of the GST_MESSAGE_PROGRESS messages lumasrc posts while it
 * waits for a task (START, CONTINUE at each poll, then COMPLETE, ERROR or
 * CANCELED), also when the record read again for a fresh URL while the
 * video streams says the task is generating again.
 */
#define GST_LUMA_PROGRESS_CODE "luma-wait"

/**
 * GST_LUMA_TAG_TASK_ID:
 *
 * A tag (G_TYPE_STRING) that lumasrc sends with the video: the task id.
 * The task's prompt goes as GST_TAG_DESCRIPTION, its source video's URL as
 * GST_TAG_LOCATION and its completion time as GST_TAG_DATE_TIME.
 */
#define GST_LUMA_TAG_TASK_ID "luma-task-id"

/**
 * GST_LUMA_MESSAGE_TASK_CREATED:
 *
 * Name of the structure of the element message lumasrc posts once, when it
 * created a task (properties `prompt` and `video-url`) or found the one the
 * same request created before; lumamodify posts it too, once it has the
 * task of its input. Fields: %GST_LUMA_FIELD_TASK_ID,
 * %GST_LUMA_FIELD_PROMPT, %GST_LUMA_FIELD_VIDEO_URL (from lumamodify, only
 * when it uploaded the clip in this run), %GST_LUMA_FIELD_REUSED.
 */
#define GST_LUMA_MESSAGE_TASK_CREATED "luma-task-created"

/**
 * GST_LUMA_MESSAGE_UPLOAD:
 *
 * Name of the structure of the element messages lumamodify posts while it
 * uploads its input clip to KIE's file host: at most every 100 ms, and
 * once when all is sent. Fields: %GST_LUMA_FIELD_BYTES_SENT,
 * %GST_LUMA_FIELD_BYTES_TOTAL. An upload that is tried again starts over
 * from 0.
 */
#define GST_LUMA_MESSAGE_UPLOAD "luma-upload"

/**
 * GST_LUMA_PROGRESS_UPLOAD_CODE:
 *
 * The code of the GST_MESSAGE_PROGRESS messages lumamodify posts around
 * the upload of its input clip (START, then COMPLETE, ERROR or CANCELED).
 */
#define GST_LUMA_PROGRESS_UPLOAD_CODE "luma-upload"

/**
 * GST_LUMA_FIELD_TASK_ID:
 *
 * (G_TYPE_STRING) the task id.
 */
#define GST_LUMA_FIELD_TASK_ID "task-id"
/**
 * GST_LUMA_FIELD_TASK_STATE:
 *
 * (GST_TYPE_LUMA_TASK_STATE) the task's state,
 * as the element's `task-state` property.
 */
#define GST_LUMA_FIELD_TASK_STATE "task-state"
/**
 * GST_LUMA_FIELD_POLLS:
 *
 * (G_TYPE_UINT) record-info requests made so far.
 */
#define GST_LUMA_FIELD_POLLS "polls"
/**
 * GST_LUMA_FIELD_ELAPSED:
 *
 * (G_TYPE_UINT64) nanoseconds since the wait began.
 */
#define GST_LUMA_FIELD_ELAPSED "elapsed"
/**
 * GST_LUMA_FIELD_RESULT_URL:
 *
 * (G_TYPE_STRING) the result video's URL, as
 * the element's `result-url` property.
 */
#define GST_LUMA_FIELD_RESULT_URL "result-url"

/**
 * GST_LUMA_FIELD_PROMPT:
 *
 * (G_TYPE_STRING) the prompt of a created task.
 */
#define GST_LUMA_FIELD_PROMPT "prompt"
/**
 * GST_LUMA_FIELD_VIDEO_URL:
 *
 * (G_TYPE_STRING) the clip a created task modifies.
 */
#define GST_LUMA_FIELD_VIDEO_URL "video-url"
/**
 * GST_LUMA_FIELD_REUSED:
 *
 * (G_TYPE_BOOLEAN) the task was created before, by the same request, and is
 * used again rather than created twice.
 */
#define GST_LUMA_FIELD_REUSED "reused"

/**
 * GST_LUMA_FIELD_BYTES_SENT:
 *
 * (G_TYPE_UINT64) bytes of the upload request sent so far.
 */
#define GST_LUMA_FIELD_BYTES_SENT "bytes-sent"
/**
 * GST_LUMA_FIELD_BYTES_TOTAL:
 *
 * (G_TYPE_UINT64) bytes of the whole upload request: the clip, and the
 * multipart form around it.
 */
#define GST_LUMA_FIELD_BYTES_TOTAL "bytes-total"

/*
 * Fields of the details structure of every error and warning message
 * lumasrc posts (gst_message_parse_error_details()).
 */
/**
 * GST_LUMA_DETAIL_TASK_ID:
 *
 * (G_TYPE_STRING) the task id.
 */
#define GST_LUMA_DETAIL_TASK_ID "task-id"
/**
 * GST_LUMA_DETAIL_TASK_STATE:
 *
 * (GST_TYPE_LUMA_TASK_STATE) the task's state.
 */
#define GST_LUMA_DETAIL_TASK_STATE "task-state"
/**
 * GST_LUMA_DETAIL_API_CODE:
 *
 * (G_TYPE_INT) the API's `code`, 0 if none.
 */
#define GST_LUMA_DETAIL_API_CODE "api-code"
/**
 * GST_LUMA_DETAIL_HTTP_STATUS:
 *
 * (G_TYPE_UINT) the last HTTP status, 0 if none.
 */
#define GST_LUMA_DETAIL_HTTP_STATUS "http-status"
/**
 * GST_LUMA_DETAIL_ERROR_CODE:
 *
 * (G_TYPE_STRING) the task's errorCode, if any.
 */
#define GST_LUMA_DETAIL_ERROR_CODE "error-code"
/**
 * GST_LUMA_DETAIL_TASK_MAY_EXIST:
 *
 * (G_TYPE_BOOLEAN) on a failure to create a task: whether a billed task may
 * exist all the same (the request was sent and no answer told, or an
 * earlier run's was).
 */
#define GST_LUMA_DETAIL_TASK_MAY_EXIST "task-may-exist"
/**
 * GST_LUMA_DETAIL_INPUT_REFUSED:
 *
 * (G_TYPE_STRING) on a failure to create a task because of its input clip,
 * why it was refused: `live` (a live stream), `size` (larger than
 * lumamodify's `max-input-size`, or than the upload host takes),
 * `container` (not MP4, MOV or AVI), `duration` (longer than 10 s),
 * `unreadable` (its duration cannot be read), all found by lumamodify
 * before any upload; or `kie` (KIE's own refusal, code 422).
 */
#define GST_LUMA_DETAIL_INPUT_REFUSED "input-refused"

G_END_DECLS
