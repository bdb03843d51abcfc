/* gst-luma: libFuzzer target for the Retry-After parser
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * luma_http_parse_retry_after() reads what a server (or whatever sits
 * between it and us) puts in Retry-After, and its answer decides how long
 * lumasrc sleeps. The input is the header value, up to the first NUL byte;
 * up to 8 bytes after that NUL choose "now" (seconds since 1970, folded
 * into what GDateTime can hold), else "now" is a fixed day of 2026. Besides
 * memory errors, the target aborts when the parser breaks its contract
 * (lumahttp.h): an answer that is neither "none" nor 0 to an hour, an
 * answer that changes from one call to the next, a number of seconds not
 * read as one, or a wait that grows as "now" moves on.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lumahttp.h"
#define FUZZ_NAME "fuzz-retry-after"
#include "fuzz-common.h"

/* 0001-01-01 to 9999-12-31 23:59:59, in seconds since 1970 */
#define FIRST_SECOND G_GINT64_CONSTANT (-62135596800)
#define LAST_SECOND G_GINT64_CONSTANT (253402300799)

static gboolean
is_delta_seconds (const gchar * value)
{
  g_autofree gchar *text = g_strstrip (g_strdup (value));
  const gchar *p;

  if (text[0] == '\0')
    return FALSE;
  for (p = text; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  g_autofree gchar *value = g_strndup ((const gchar *) data, size);
  gsize value_length = strlen (value);
  guint64 raw_now = 0, wait, again, later_wait;
  gint64 seconds = 1772366400;  /* 2026-03-01 12:00:00 UTC */
  g_autoptr (GDateTime) now = NULL;
  g_autoptr (GDateTime) later = NULL;

  if (value_length < size) {
    gsize n = MIN (size - value_length - 1, sizeof (raw_now));

    memcpy (&raw_now, data + value_length + 1, n);
    seconds = FIRST_SECOND
        + (gint64) (raw_now % (guint64) (LAST_SECOND - FIRST_SECOND + 1));
  }
  now = g_date_time_new_from_unix_utc (seconds);
  if (now == NULL)
    fuzz_contract_broken ("the fuzzer made a time GDateTime cannot hold",
        value);

  wait = luma_http_parse_retry_after (value, now);
  if (wait != LUMA_HTTP_RETRY_AFTER_NONE && wait > LUMA_HTTP_RETRY_AFTER_MAX_MS)
    fuzz_contract_broken ("a wait longer than the cap", value);
  again = luma_http_parse_retry_after (value, now);
  if (again != wait)
    fuzz_contract_broken ("two answers for the same value and time", value);

  if (is_delta_seconds (value)
      && (wait == LUMA_HTTP_RETRY_AFTER_NONE || wait % 1000 != 0))
    fuzz_contract_broken ("a number of seconds not read as whole seconds",
        value);

  /* a minute later, the wait is no longer, and what could not be read
   * still cannot */
  later = g_date_time_add_seconds (now, 60);
  if (later != NULL) {
    later_wait = luma_http_parse_retry_after (value, later);
    if ((later_wait == LUMA_HTTP_RETRY_AFTER_NONE)
        != (wait == LUMA_HTTP_RETRY_AFTER_NONE))
      fuzz_contract_broken ("readable at one time and not at another", value);
    if (wait != LUMA_HTTP_RETRY_AFTER_NONE && later_wait > wait)
      fuzz_contract_broken ("a wait that grows as time passes", value);
  }
  return 0;
}
