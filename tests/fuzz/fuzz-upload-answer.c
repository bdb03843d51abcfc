/* gst-luma: libFuzzer target for the file upload API's answer
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Any bytes an upload host may send back go to
 * luma_record_parse_upload_answer(). Besides memory errors (and the
 * warnings of json-glib or GLib, fatal here), the target aborts when the
 * reader breaks its contract (lumarecord.h): a body that is not read
 * without a reason that is safe text, or one that is with fields set; a
 * message that is not safe text.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumarecord.h"
#include "lumatext.h"
#define FUZZ_NAME "fuzz-upload-answer"
#include "fuzz-common.h"

static void
check_answer (const LumaUploadAnswer * answer)
{
  if (answer->why != NULL) {
    if (!luma_text_is_safe (answer->why))
      fuzz_contract_broken ("a reason that is not safe text", NULL);
    if (answer->has_code || answer->has_success || answer->msg != NULL
        || answer->download_url != NULL)
      fuzz_contract_broken ("an answer not read, with fields set", NULL);
  }
  if (answer->msg != NULL && !luma_text_is_safe (answer->msg))
    fuzz_contract_broken ("a message that is not safe text", NULL);
  if (!answer->has_code && answer->code != 0)
    fuzz_contract_broken ("a code without has_code", NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  GBytes *body = g_bytes_new (data, size);
  LumaUploadAnswer answer;

  luma_record_parse_upload_answer (body, &answer);
  check_answer (&answer);
  luma_upload_answer_clear (&answer);
  g_bytes_unref (body);
  return 0;
}
