/* gst-luma: what the journal, the store and the readers of JSON answers share
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumafile.h"

#include <glib/gi18n-lib.h>

#include <glib/gstdio.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <string.h>

gboolean
luma_file_wait (GCancellable * cancellable, guint ms, GError ** error)
{
  GPollFD pollfd;

  if (g_cancellable_make_pollfd (cancellable, &pollfd)) {
    g_poll (&pollfd, 1, ms);
    g_cancellable_release_fd (cancellable);
  } else {
    g_usleep (ms * 1000);
  }
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

gchar *
luma_file_xdg_dir (const gchar * dir, const gchar * under_home)
{
  gchar *path;

  if (g_path_is_absolute (dir))
    return g_strdup (dir);
  path = g_build_filename (g_get_home_dir (), under_home, NULL);
  if (g_path_is_absolute (path))
    return path;
  g_free (path);
  return NULL;
}

gboolean
luma_file_sync_dir (const gchar * dir)
{
  gint fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  gint errsv;
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = fsync (fd) == 0;
  errsv = errno;
  g_close (fd, NULL);
  errno = errsv;
  return ok;
}

void
luma_file_unlock (gint fd)
{
  if (fd < 0)
    return;
  /* LOCK_UN first: a child forked without exec shares the open file, and
   * would otherwise keep the lock for as long as it lives. */
  flock (fd, LOCK_UN);
  g_close (fd, NULL);
}

gint
luma_file_open_regular (const gchar * path, gint flags, gint mode,
    gboolean * not_regular)
{
  gint fd = g_open (path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode);
  struct stat st;
  gint errsv;

  if (not_regular != NULL)
    *not_regular = FALSE;
  if (fd < 0)
    return -1;
  if (fstat (fd, &st) != 0) {
    errsv = errno;
    g_close (fd, NULL);
    errno = errsv;
    return -1;
  }
  /* opened to write: a file with another name elsewhere (a hard link: a
   * snapshot made with cp -al, a deduplicating tool) would be written
   * there too */
  if (!S_ISREG (st.st_mode)
      || ((flags & O_ACCMODE) != O_RDONLY && st.st_nlink > 1)) {
    if (not_regular != NULL)
      *not_regular = TRUE;
    g_close (fd, NULL);
    errno = EINVAL;
    return -1;
  }
  /* no effect on a regular file: cleared all the same, so that nothing
   * that reads, writes or locks it can see EAGAIN */
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

gboolean
luma_file_is_at (gint fd, const gchar * path)
{
  GStatBuf path_st;
  struct stat fd_st;

  return fstat (fd, &fd_st) == 0 && g_lstat (path, &path_st) == 0
      && fd_st.st_ino == path_st.st_ino && fd_st.st_dev == path_st.st_dev;
}

gboolean
luma_file_set_contents (const gchar * path, const gchar * contents,
    gchar ** why)
{
  g_autoptr (GError) error = NULL;

  if (!luma_file_fits_size_limit (strlen (contents))) {
    *why = g_strdup (g_strerror (EFBIG));
    return FALSE;
  }
  if (!g_file_set_contents_full (path, contents, -1,
          G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600,
          &error)) {
    *why = g_strdup (error->message);
    return FALSE;
  }
  return TRUE;
}

/* @fd's file, locked by none, still at @path and old enough */
static gboolean
is_orphan (gint fd, const gchar * path, gint64 min_age_s)
{
  struct stat st;

  return fstat (fd, &st) == 0 && st.st_uid == geteuid ()
      && g_get_real_time () / G_USEC_PER_SEC - st.st_mtime >= min_age_s
      && flock (fd, LOCK_EX | LOCK_NB) == 0 && luma_file_is_at (fd, path);
}

void
luma_file_remove_orphans (const gchar * dir, const gchar * prefix,
    gint64 min_age_s)
{
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while (listing != NULL && (name = g_dir_read_name (listing)) != NULL) {
    g_autofree gchar *path = NULL;
    gint fd;

    if (!g_str_has_prefix (name, prefix))
      continue;
    path = g_build_filename (dir, name, NULL);
    fd = luma_file_open_regular (path, O_RDONLY, 0, NULL);
    if (fd < 0)
      continue;
    if (is_orphan (fd, path, min_age_s))
      g_unlink (path);
    /* the lock, if taken, goes with the descriptor */
    g_close (fd, NULL);
  }
}

gboolean
luma_file_fits_size_limit (guint64 end)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_FSIZE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY
      || end <= limit.rlim_cur)
    return TRUE;
  errno = EFBIG;
  return FALSE;
}

gssize
luma_file_read_up_to (gint fd, gchar * buffer, gsize size)
{
  gsize length = 0;

  while (length < size) {
    gssize n = read (fd, buffer + length, size - length);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0)
      break;
    length += n;
  }
  return length;
}

void
luma_json_add_string (JsonBuilder * builder, const gchar * name,
    const gchar * value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL) {
    /* json-glib would write invalid UTF-8 as it is: not JSON any more */
    g_autofree gchar *valid = g_utf8_make_valid (value, -1);

    json_builder_add_string_value (builder, valid);
  } else {
    json_builder_add_null_value (builder);
  }
}

gchar *
luma_json_to_text (JsonBuilder * builder)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (builder);

  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return json_generator_to_data (generator, NULL);
}

/* json-glib parses recursively and without a limit: nested brackets by the
 * hundred thousand (a 1 MiB answer) overflow the stack of the thread that
 * reads them. Only brackets outside strings count, so what json-glib's
 * scanner takes beyond JSON is refused too: strings in single quotes and
 * comments would hide the brackets after them from this count. JSON itself
 * has no ' or / outside a string. */
gchar *
luma_json_why_refused (const gchar * text, gsize size)
{
  gboolean in_string = FALSE;
  guint depth = 0;
  gsize i;

  for (i = 0; i < size; i++) {
    if (in_string) {
      if (text[i] == '\\')
        i++;
      else if (text[i] == '"')
        in_string = FALSE;
    } else if (text[i] == '"') {
      in_string = TRUE;
    } else if (text[i] == '\'' || text[i] == '/') {
      return g_strdup_printf (_("the answer is not JSON: it has a %c "
              "outside a string"), text[i]);
    } else if (text[i] == '[' || text[i] == '{') {
      if (++depth > LUMA_JSON_MAX_NESTING)
        return g_strdup_printf (_("the answer nests deeper than %d levels"),
            LUMA_JSON_MAX_NESTING);
    } else if ((text[i] == ']' || text[i] == '}') && depth > 0) {
      depth--;
    }
  }
  return NULL;
}

/* json_parser_load_from_data(), for text from elsewhere (a server, a file):
 * what nests too deep is refused before json-glib sees it, and TRUE means
 * there is a root. An empty text (an empty GBytes has no data at all)
 * would be a g_critical in json-glib, and blanks load without a root,
 * which JSON_NODE_HOLDS_OBJECT () takes with another. */
gboolean
luma_json_load (JsonParser * parser, const gchar * text, gsize size,
    GError ** error)
{
  if (text != NULL && size > 0) {
    g_autofree gchar *why = luma_json_why_refused (text, size);

    if (why != NULL) {
      g_set_error_literal (error, JSON_PARSER_ERROR,
          JSON_PARSER_ERROR_INVALID_DATA, why);
      return FALSE;
    }
    if (!json_parser_load_from_data (parser, text, size, error))
      return FALSE;
    if (json_parser_get_root (parser) != NULL)
      return TRUE;
  }
  g_set_error_literal (error, JSON_PARSER_ERROR,
      JSON_PARSER_ERROR_INVALID_DATA, _("the answer is empty"));
  return FALSE;
}

static JsonNode *
get_member (JsonObject * object, const gchar * name)
{
  return object != NULL ? json_object_get_member (object, name) : NULL;
}

static JsonNode *
get_value (JsonObject * object, const gchar * name, GType type)
{
  JsonNode *node = get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != type)
    return NULL;
  return node;
}

/* NULL when absent, null or not a string. */
const gchar *
luma_json_get_string (JsonObject * object, const gchar * name)
{
  JsonNode *node = get_value (object, name, G_TYPE_STRING);

  return node != NULL ? json_node_get_string (node) : NULL;
}

/* FALSE (and *@value untouched) when absent or not an integer. */
gboolean
luma_json_get_int (JsonObject * object, const gchar * name, gint64 * value)
{
  JsonNode *node = get_value (object, name, G_TYPE_INT64);

  if (node == NULL)
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}

/* FALSE (and *@value untouched) when absent or not a boolean. */
gboolean
luma_json_get_bool (JsonObject * object, const gchar * name, gboolean * value)
{
  JsonNode *node = get_value (object, name, G_TYPE_BOOLEAN);

  if (node == NULL)
    return FALSE;
  *value = json_node_get_boolean (node);
  return TRUE;
}

/* NULL when absent, null or not an object. */
JsonObject *
luma_json_get_object (JsonObject * object, const gchar * name)
{
  JsonNode *node = get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ?
      json_node_get_object (node) : NULL;
}
