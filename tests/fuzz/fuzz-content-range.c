/* gst-luma: libFuzzer target for the check of a video answer's range
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Any header values a video host (or whatever sits between it and us) may
 * send go to luma_stream_check_answer(), the check lumastream.c makes of
 * every successful answer before it hands out a byte of it. The input is
 * text, one field a line:
 *
 *   STATUS ASKED          e.g. "206 500": 200..206 (other numbers are
 *                         brought into that span), the offset asked for
 *   Content-Range value   (no line, or an empty one: not sent)
 *   Content-Length value  (likewise)
 *   Transfer-Encoding value (likewise)
 *   Content-Encoding value (likewise)
 *
 * Besides memory errors, the target aborts when the check breaks its
 * contract (lumastream-private.h): an answer it takes must put its body at
 * the right place in the file, within the file, not compressed (no
 * "gzip" among its Content-Encoding), and an answer it refuses
 * must come with a LUMA_STREAM_ERROR_RANGE error that names the host.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lumastream-private.h"
#define FUZZ_NAME "fuzz-content-range"
#include "fuzz-common.h"

#define HOST "cdn.example"

static void
contract_broken (const gchar * what, guint status, guint64 asked,
    const LumaStreamAnswer * answer)
{
  g_autofree gchar *detail = g_strdup_printf ("status %u, asked %"
      G_GUINT64_FORMAT ", start %" G_GUINT64_FORMAT ", end %"
      G_GUINT64_FORMAT ", size %" G_GUINT64_FORMAT, status, asked,
      answer->start, answer->end, answer->size);

  fuzz_contract_broken (what, detail);
}

/* Header values cannot hold line breaks (libsoup warns and drops them);
 * anything else goes, bytes that are not UTF-8 included. */
static void
set_header (SoupMessageHeaders * headers, const gchar * name, gchar ** lines,
    guint index)
{
  if (g_strv_length (lines) <= index || lines[index][0] == '\0')
    return;
  g_strdelimit (lines[index], "\r", ' ');
  soup_message_headers_replace (headers, name, lines[index]);
}

static void
check_taken (guint status, SoupMessageHeaders * headers, guint64 asked,
    const LumaStreamAnswer * a)
{
  gboolean has_length = soup_message_headers_get_encoding (headers) ==
      SOUP_ENCODING_CONTENT_LENGTH;
  goffset length = soup_message_headers_get_content_length (headers);
  const gchar *coding = soup_message_headers_get_list (headers,
      "Content-Encoding");
  g_auto (GStrv) codings = g_strsplit (coding ? coding : "", ",", -1);
  guint i;

  for (i = 0; codings[i] != NULL; i++)
    if (g_ascii_strcasecmp (g_strstrip (codings[i]), "gzip") == 0)
      contract_broken ("a gzip answer taken", status, asked, a);

  if (status == SOUP_STATUS_PARTIAL_CONTENT) {
    if (a->start != asked)
      contract_broken ("a 206 taken that does not start where asked",
          status, asked, a);
    if (a->size == LUMA_STREAM_SIZE_UNKNOWN)
      contract_broken ("a 206 taken without a file size", status, asked, a);
    if (!(a->start < a->end && a->end <= a->size))
      contract_broken ("a 206 taken whose range is not within the file",
          status, asked, a);
    if (has_length && (length < 0 || (guint64) length != a->end - a->start))
      contract_broken ("a 206 taken whose length is not its range's",
          status, asked, a);
    return;
  }
  if (a->start != 0 || a->end != a->size)
    contract_broken ("a whole answer that is not the file from byte 0",
        status, asked, a);
  if (a->size != LUMA_STREAM_SIZE_UNKNOWN && a->size < asked)
    contract_broken ("a whole answer taken that ends before the offset",
        status, asked, a);
  if (has_length && (length < 0 || (guint64) length != a->size))
    contract_broken ("a whole answer whose size is not its length",
        status, asked, a);
  if (!has_length && a->size != LUMA_STREAM_SIZE_UNKNOWN)
    contract_broken ("a size from nowhere", status, asked, a);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  /* a copy that ends with a NUL; a NUL inside ends the text there */
  gchar *text = g_strndup ((const gchar *) data, size);
  gchar **lines = g_strsplit (text, "\n", 6);
  SoupMessageHeaders *headers =
      soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  LumaStreamAnswer answer = { 0, 0, 0 };
  GError *error = NULL;
  guint64 status = 206, asked = 0;
  gchar *cursor = lines[0] != NULL ? lines[0] : text;

  status = g_ascii_strtoull (cursor, &cursor, 10);
  asked = g_ascii_strtoull (cursor, NULL, 10);
  status = 200 + status % 7;

  set_header (headers, "Content-Range", lines, 1);
  set_header (headers, "Content-Length", lines, 2);
  set_header (headers, "Transfer-Encoding", lines, 3);
  set_header (headers, "Content-Encoding", lines, 4);

  if (luma_stream_check_answer (status, headers, asked, HOST, &answer, &error)) {
    if (error != NULL)
      contract_broken ("taken with an error", status, asked, &answer);
    check_taken (status, headers, asked, &answer);
  } else {
    if (!g_error_matches (error, LUMA_STREAM_ERROR, LUMA_STREAM_ERROR_RANGE)
        || error->message == NULL || strstr (error->message, HOST) == NULL)
      contract_broken ("refused without a range error that names the host",
          status, asked, &answer);
    g_error_free (error);
  }

  soup_message_headers_unref (headers);
  g_strfreev (lines);
  g_free (text);
  return 0;
}
