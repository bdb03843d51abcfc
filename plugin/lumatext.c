/* gst-luma: text from others made safe to show, and values safe to send
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Text that a server, a URI or a file sends ends up in bus messages, error
 * texts, tags and terminals. GStreamer takes every such string to be valid
 * UTF-8 (an invalid one crashes gst-launch-1.0 as it prints it), and a
 * terminal obeys the escape sequences it is given (ESC[2J clears the
 * screen). So what comes from outside is made valid and stripped of control
 * characters before it is kept.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumatext.h"

#include <string.h>

/* C0, DEL and C1 controls (ESC and CSI among them), and the bidirectional
 * overrides and isolates, which reorder what a reader sees. */
static gboolean
is_unsafe_char (gunichar c)
{
  return g_unichar_iscntrl (c)
      || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/* Text that is safe as it is, checked a byte at a time: most of what a
 * record holds (ids, URLs, English text), and every progress text. */
static gboolean
is_printable_ascii (const gchar * text, gssize length)
{
  gssize i;

  for (i = 0; length < 0 || i < length; i++) {
    guchar c = text[i];

    if (c == '\0')
      return length < 0;
    if (c < 0x20 || c >= 0x7f)
      return FALSE;
  }
  return TRUE;
}

/**
 * luma_text_make_safe:
 * @text: (nullable): any bytes, up to @length (or a NUL when -1)
 *
 * Returns: (transfer full) (nullable): @text as valid UTF-8, with invalid
 *   sequences replaced by U+FFFD, line breaks and tabs by spaces, and other
 *   control characters removed; %NULL for %NULL.
 */
gchar *
luma_text_make_safe (const gchar * text, gssize length)
{
  g_autofree gchar *valid = NULL;
  GString *safe;
  const gchar *p;

  if (text == NULL)
    return NULL;
  if (is_printable_ascii (text, length))
    return length < 0 ? g_strdup (text) : g_strndup (text, length);
  valid = g_utf8_make_valid (text, length);
  safe = g_string_sized_new (strlen (valid));
  for (p = valid; *p != '\0'; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    if (c == '\n' || c == '\r' || c == '\t')
      g_string_append_c (safe, ' ');
    else if (!is_unsafe_char (c))
      g_string_append_unichar (safe, c);
  }
  return g_string_free (safe, FALSE);
}

/* What luma_text_make_safe() would give back unchanged. */
gboolean
luma_text_is_safe (const gchar * text)
{
  const gchar *p;

  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (is_unsafe_char (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

/* A value that can go into an HTTP header as it is: one line of printable
 * text. A CR or LF would end the header and start one of the sender's
 * choosing. */
gboolean
luma_text_is_header_safe (const gchar * value)
{
  const gchar *p;

  for (p = value; *p != '\0'; p++)
    if (g_ascii_iscntrl (*p))
      return FALSE;
  return g_utf8_validate (value, -1, NULL);
}

/* Overwrites a copy of the API key with zeros, in a way the compiler does
 * not drop as a dead store. */
void
luma_secret_wipe (gchar * secret)
{
  if (secret != NULL)
    explicit_bzero (secret, strlen (secret));
}

/* Frees a copy of the API key, overwritten first, so that a core dump
 * taken after the pipeline is gone holds as few copies as possible. */
void
luma_secret_free (gchar * secret)
{
  luma_secret_wipe (secret);
  g_free (secret);
}

/* The first @needle in @size bytes of @data, NULs and all, or NULL */
static gchar *
find_bytes (gchar * data, gsize size, const gchar * needle, gsize needle_size)
{
  gchar *end = data + size;

  while ((gsize) (end - data) >= needle_size
      && (data = memchr (data, needle[0], end - data - needle_size + 1))) {
    if (memcmp (data, needle, needle_size) == 0)
      return data;
    data++;
  }
  return NULL;
}

/* Stars out every @secret in @size bytes of @data; TRUE if there was one */
static gboolean
star_out (gchar * data, gsize size, const gchar * secret, gsize secret_size)
{
  gchar *end = data + size;
  gchar *at;
  gboolean found = FALSE;

  while ((at = find_bytes (data, end - data, secret, secret_size)) != NULL) {
    memset (at, '*', secret_size);
    data = at + secret_size;
    found = TRUE;
  }
  return found;
}

/* The length of @secret if it is to be hidden: a key shorter than
 * LUMA_SECRET_MIN_HIDDEN is no secret worth the name, and starring out
 * every "k" would garble what the server said. */
static gsize
hidden_size (const gchar * secret)
{
  gsize size = secret != NULL ? strlen (secret) : 0;

  return size >= LUMA_SECRET_MIN_HIDDEN ? size : 0;
}

/* A server may quote the key back ("invalid key: ..."), and what it writes
 * reaches errors, messages and the log: every occurrence of @secret in
 * @body is starred out before anything reads it. Takes @body, returns it
 * or a copy. */
GBytes *
luma_secret_hide (GBytes * body, const gchar * secret)
{
  gsize size, secret_size = hidden_size (secret);
  gchar *data = (gchar *) g_bytes_get_data (body, &size);
  GByteArray *copy;

  if (secret_size == 0 || data == NULL
      || find_bytes (data, size, secret, secret_size) == NULL)
    return body;
  copy = g_bytes_unref_to_array (body);
  star_out ((gchar *) copy->data, copy->len, secret, secret_size);
  return g_byte_array_free_to_bytes (copy);
}

gboolean
luma_secret_was_hidden_in (const gchar * text, const gchar * secret)
{
  gsize secret_size = hidden_size (secret);
  g_autofree gchar *stars = NULL;

  if (text == NULL || secret_size == 0)
    return FALSE;
  stars = g_strnfill (secret_size, '*');
  return strstr (text, stars) != NULL;
}

/* The same in a text made of what servers said (an error's message: a
 * header, a Location, a JSON string the parser unescaped): TRUE if
 * @text held @secret, now starred out. */
gboolean
luma_secret_hide_in_text (gchar * text, const gchar * secret)
{
  gsize secret_size = hidden_size (secret);

  return text != NULL && secret_size > 0
      && star_out (text, strlen (text), secret, secret_size);
}

void
luma_secret_hide_in_error (GError ** error, const gchar * secret)
{
  if (error != NULL && *error != NULL)
    luma_secret_hide_in_text ((*error)->message, secret);
}
