/* gst-luma: libFuzzer target for generate's answer
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Any bytes a server may send back to the POST that creates a task go to
 * luma_record_parse_create_answer(), under an HTTP status the first byte
 * picks. Besides memory errors (and json-glib's g_criticals, fatal here),
 * the target aborts when the reader breaks its contract (lumarecord.h): a
 * code that is not the error status it was given, a success read with no
 * code, a message that is not safe text, or a task id that
 * luma_task_id_check() takes and that is not safe text.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdlib.h>

#include "lumarecord.h"
#include "lumatext.h"
#include "lumauri.h"
#define FUZZ_NAME "fuzz-create-answer"
#include "fuzz-common.h"

static const guint statuses[] = { 200, 201, 401, 429, 500, 503 };

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  GBytes *body;
  guint status;
  gboolean readable;
  gchar *msg = NULL, *task_id = NULL;
  gint code = -1;

  if (size == 0)
    return 0;
  status = statuses[data[0] % G_N_ELEMENTS (statuses)];
  body = g_bytes_new (data + 1, size - 1);
  readable = luma_record_parse_create_answer (body, status, &code, &msg,
      &task_id);
  if (status >= 300 && (code != (gint) status || !readable))
    fuzz_contract_broken ("an error status that is not the code", NULL);
  if (status < 300 && readable && code == 0)
    fuzz_contract_broken ("a success read with no code", NULL);
  if (status < 300 && !readable && code != 0)
    fuzz_contract_broken ("a code from an answer that cannot be read", NULL);
  if (msg != NULL && !luma_text_is_safe (msg))
    fuzz_contract_broken ("a message that is not safe text", NULL);
  if (task_id != NULL && luma_task_id_check (task_id, NULL)
      && !luma_text_is_safe (task_id))
    fuzz_contract_broken ("a task id taken that is not safe text", NULL);
  g_free (msg);
  g_free (task_id);
  g_bytes_unref (body);
  return 0;
}
