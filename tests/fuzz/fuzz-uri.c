/* gst-luma: libFuzzer target for luma:// URIs
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Any string a playlist or an editor project may hold goes to
 * luma_uri_parse() with lumasrc's table of settable numbers. Besides memory
 * errors, the target aborts when the parser breaks its contract: a URI
 * taken with a task id that luma_task_id_check() refuses, a value outside
 * its range or a name given twice, an error without a safe message, or a
 * task id that does not come back the same through luma_uri_build().
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lumatext.h"
#include "lumauri.h"
#define FUZZ_NAME "fuzz-uri"
#include "fuzz-common.h"

static const LumaUriParam table[] = {
  {"poll-interval", 10, G_MAXUINT},
  {"wait-timeout", 0, G_MAXUINT},
  {"retries", 0, 100},
  {"timeout", 0, 3600},
};

static void
check_taken (const LumaUri * uri)
{
  g_autofree gchar *built = NULL;
  LumaUri again;
  guint i, j;

  if (!luma_task_id_check (uri->task_id, NULL))
    fuzz_contract_broken ("a URI taken with a task id that is refused", NULL);
  for (i = 0; i < uri->n_values; i++) {
    if (uri->values[i] < uri->params[i]->minimum
        || uri->values[i] > uri->params[i]->maximum)
      fuzz_contract_broken ("a value out of its range", NULL);
    for (j = 0; j < i; j++)
      if (uri->params[j] == uri->params[i])
        fuzz_contract_broken ("a name taken twice", NULL);
  }

  built = luma_uri_build (uri->task_id);
  if (!luma_uri_parse (built, table, G_N_ELEMENTS (table), &again, NULL))
    fuzz_contract_broken ("a built URI is refused", NULL);
  if (strcmp (again.task_id, uri->task_id) != 0 || again.n_values != 0)
    fuzz_contract_broken ("a task id does not round-trip", NULL);
  luma_uri_clear (&again);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  /* a C string: what GstURIHandler is given */
  gchar *text = g_strndup ((const gchar *) data, size);
  GError *error = NULL;
  LumaUri uri;

  if (luma_uri_parse (text, table, G_N_ELEMENTS (table), &uri, &error)) {
    if (error != NULL)
      fuzz_contract_broken ("taken, with an error", NULL);
    check_taken (&uri);
    luma_uri_clear (&uri);
  } else {
    if (error == NULL || error->message == NULL
        || !luma_text_is_safe (error->message))
      fuzz_contract_broken ("refused without a safe message", NULL);
    g_error_free (error);
  }
  g_free (text);
  return 0;
}
