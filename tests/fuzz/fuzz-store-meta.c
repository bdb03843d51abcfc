/* gst-luma: libFuzzer target for the store's meta.json
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The store's directory is the environment's, and a meta.json in it anyone's
 * to edit: any bytes go to luma_store_meta_parse(). Besides memory errors
 * (and json-glib's g_criticals, fatal here), the target aborts when the
 * reader breaks its contract (lumastore.h): an entry taken without its task
 * id or API URL, or with a prompt, a result URL or a source URL (which
 * reach tags and bus messages) that is not safe text; or one refused with
 * fields left set.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lumastore.h"
#include "lumatext.h"
#define FUZZ_NAME "fuzz-store-meta"
#include "fuzz-common.h"

static void
check_taken (const LumaStoreMeta * meta)
{
  if (meta->task_id == NULL || meta->api_url == NULL)
    fuzz_contract_broken ("an entry taken without its task id or API URL",
        NULL);
  if (meta->prompt != NULL && !luma_text_is_safe (meta->prompt))
    fuzz_contract_broken ("a prompt that is not safe text", NULL);
  if (meta->result_url != NULL && !luma_text_is_safe (meta->result_url))
    fuzz_contract_broken ("a result URL that is not safe text", NULL);
  if (meta->source_url != NULL && !luma_text_is_safe (meta->source_url))
    fuzz_contract_broken ("a source URL that is not safe text", NULL);
  if (meta->version != NULL && (strlen (meta->version) > 1280
          || !luma_text_is_header_safe (meta->version)))
    fuzz_contract_broken ("a version tag that is not one line of at most 1280 "
        "bytes", NULL);
  if (meta->size > (guint64) G_MAXINT64)
    fuzz_contract_broken ("a negative size", NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  LumaStoreMeta meta;

  if (luma_store_meta_parse ((const gchar *) data, size, &meta)) {
    check_taken (&meta);
  } else if (meta.task_id != NULL || meta.api_url != NULL
      || meta.prompt != NULL || meta.result_url != NULL
      || meta.sha256 != NULL || meta.boot_id != NULL || meta.version != NULL
      || meta.source_url != NULL) {
    fuzz_contract_broken ("a refused entry with fields left set", NULL);
  }
  luma_store_meta_clear (&meta);
  return 0;
}
