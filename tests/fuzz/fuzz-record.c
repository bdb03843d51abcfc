/* gst-luma: libFuzzer target for the record-info parser
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Any bytes a server (or whatever sits between it and us) may send go to
 * gst_luma_record_parse(). A record that comes back has every field read,
 * is copied, compared with its copy and freed, so that AddressSanitizer sees
 * each pointer dereferenced and LeakSanitizer sees each allocation released.
 * Besides memory errors, the target aborts when the parser breaks its own
 * contract (luma-record.h): an error with no message, a finished task with
 * no result URL, a state outside the enum, a string (error messages
 * included) that is not valid UTF-8 or holds control characters.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lumarecord.h"
#include "lumatext.h"
#define FUZZ_NAME "fuzz-record"
#include "fuzz-common.h"

/* Written to so that the compiler cannot drop the reads that feed it. */
static volatile gsize sink;

/* Every string the parser gives may reach a bus message, an error or a
 * tag: valid UTF-8 without control characters (lumatext.c). */
static gsize
touch_string (const gchar * text)
{
  if (text != NULL && !luma_text_is_safe (text))
    fuzz_contract_broken ("a string with invalid UTF-8 or control characters",
        NULL);
  return text != NULL ? strlen (text) + (guchar) text[0] : 0;
}

static gsize
touch_strv (gchar ** strv)
{
  gsize total = 0;
  guint i;

  if (strv == NULL)
    return 0;
  for (i = 0; strv[i] != NULL; i++)
    total += touch_string (strv[i]);
  return total + i;
}

static gboolean
strv_equal (gchar ** a, gchar ** b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_strv_equal ((const gchar * const *) a, (const gchar * const *) b);
}

static void
check_record (const GstLumaRecord * record)
{
  GstLumaRecord *copy;
  const gchar *nick;
  gsize total = 0;
  gboolean finished;

  /* gst_luma_task_state_get_nick() says "unknown" outside the enum */
  nick = gst_luma_task_state_get_nick (record->state);
  if (g_strcmp0 (nick, "unknown") == 0)
    fuzz_contract_broken ("state is not a GstLumaTaskState", NULL);
  if (record->code != 200 && record->state != GST_LUMA_TASK_STATE_ERROR)
    fuzz_contract_broken ("code is not 200 but the state is not ERROR", NULL);

  finished = record->state == GST_LUMA_TASK_STATE_SUCCESS
      || record->state == GST_LUMA_TASK_STATE_CALLBACK_FAILED;
  if (finished && (record->result_urls == NULL
          || record->result_urls[0] == NULL))
    fuzz_contract_broken ("a finished task without a result URL", NULL);

  total += (gsize) record->code + (gsize) record->state;
  total += touch_string (record->msg);
  total += touch_string (record->task_id);
  total += touch_strv (record->result_urls);
  total += touch_strv (record->origin_urls);
  total += touch_string (record->error_code);
  total += touch_string (record->error_message);
  total += (gsize) record->create_time + (gsize) record->complete_time;
  total += touch_string (record->prompt);
  total += touch_string (record->source_url);

  copy = gst_luma_record_copy (record);
  if (copy == record || copy->code != record->code
      || copy->state != record->state
      || copy->create_time != record->create_time
      || copy->complete_time != record->complete_time
      || g_strcmp0 (copy->msg, record->msg) != 0
      || g_strcmp0 (copy->task_id, record->task_id) != 0
      || !strv_equal (copy->result_urls, record->result_urls)
      || !strv_equal (copy->origin_urls, record->origin_urls)
      || g_strcmp0 (copy->error_code, record->error_code) != 0
      || g_strcmp0 (copy->error_message, record->error_message) != 0
      || g_strcmp0 (copy->prompt, record->prompt) != 0
      || g_strcmp0 (copy->source_url, record->source_url) != 0)
    fuzz_contract_broken ("the copy differs from the record", NULL);
  /* The copy must be deep: a pointer it shared with the record would be
   * freed twice, here and by the caller, which AddressSanitizer reports. */
  gst_luma_record_free (copy);

  sink += total;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  GBytes *body;
  GstLumaRecord *record;
  GError *error = NULL;

  /* libFuzzer's buffer is exactly @size bytes on the heap, not
   * NUL-terminated: a parser that reads one byte too far is caught. */
  body = g_bytes_new_static (data, size);
  record = gst_luma_record_parse (body, &error);

  if (record != NULL) {
    if (error != NULL)
      fuzz_contract_broken ("a record and an error", NULL);
    check_record (record);
    gst_luma_record_free (record);
  } else {
    if (error == NULL || error->domain != GST_LUMA_RECORD_ERROR
        || error->message == NULL || error->message[0] == '\0')
      fuzz_contract_broken
          ("NULL without a GST_LUMA_RECORD_ERROR and a message", NULL);
    sink += touch_string (error->message);
    g_error_free (error);
  }

  g_bytes_unref (body);
  return 0;
}
