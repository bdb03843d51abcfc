/* gst-luma: libFuzzer target for download-url's answer
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Any bytes a server may send back to the POST that asks for a fresh link
 * go to luma_record_parse_link_answer(), under an HTTP status the first
 * byte picks. Besides memory errors (and json-glib's g_criticals, fatal
 * here), the target aborts when the reader breaks its contract
 * (lumarecord.h): a code that is not the error status it was given, a
 * message that is not safe text, or a link that is not safe text (its
 * caller judges it as a URL).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdlib.h>

#include "lumarecord.h"
#include "lumatext.h"
#define FUZZ_NAME "fuzz-link-answer"
#include "fuzz-common.h"

static const guint statuses[] = { 200, 201, 401, 422, 500, 503 };

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  GBytes *body;
  guint status;
  gchar *msg = NULL, *link = NULL;
  gint code = -1;

  if (size == 0)
    return 0;
  status = statuses[data[0] % G_N_ELEMENTS (statuses)];
  body = g_bytes_new (data + 1, size - 1);
  luma_record_parse_link_answer (body, status, &code, &msg, &link);
  if (status >= 300 && code != (gint) status)
    fuzz_contract_broken ("an error status that is not the code", NULL);
  if (msg != NULL && !luma_text_is_safe (msg))
    fuzz_contract_broken ("a message that is not safe text", NULL);
  if (link != NULL && !luma_text_is_safe (link))
    fuzz_contract_broken ("a link that is not safe text", NULL);
  g_free (msg);
  g_free (link);
  g_bytes_unref (body);
  return 0;
}
