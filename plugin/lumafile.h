/* gst-luma: what the journal, the store and the readers of JSON answers share
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS
/* Waits up to @ms, or less if @cancellable is cancelled; FALSE if it is. */
    gboolean luma_file_wait (GCancellable * cancellable, guint ms,
    GError ** error);

/* A base directory of the XDG spec: @dir as GLib gives it (from an
 * XDG_*_HOME variable), or @under_home in the home directory where @dir is
 * a relative path, which the spec says to ignore: it would follow the
 * working directory. NULL where neither is absolute. */
gchar *luma_file_xdg_dir (const gchar * dir, const gchar * under_home);

/* fsync(2) of a directory, so that a rename or a new file in it lasts
 * through a power cut; FALSE with errno set if it could not be done. */
gboolean luma_file_sync_dir (const gchar * dir);

/* Releases a flock(2) and closes @fd; -1 is nothing. */
void luma_file_unlock (gint fd);

/* open(2) of a regular file, never through a symbolic link (ELOOP). What
 * else may sit at @path fails with EINVAL and *@not_regular TRUE (when
 * given): a FIFO would block the open for ever, a directory or a device
 * is not a file of ours, nor, to be written, a file with other names (hard
 * links), which the writes would change too. */
gint luma_file_open_regular (const gchar * path, gint flags, gint mode,
    gboolean * not_regular);

/* Whether @fd is the file at @path now (not one renamed over it, nor one
 * removed since). */
gboolean luma_file_is_at (gint fd, const gchar * path);

/* @contents into the file at @path, atomically (a temporary file renamed)
 * and durably (synced): after a crash the file is the old one or the new
 * one, whole. Mode 0600. A file size limit (`ulimit -f`) it would pass is
 * an error (EFBIG), never SIGXFSZ. On failure, *@why says why. */
gboolean luma_file_set_contents (const gchar * path, const gchar * contents,
    gchar ** why);

/* Removes the regular files of this user in @dir whose names begin with
 * @prefix, that nothing changed for @min_age_s and that no process holds a
 * flock(2) on: those a process that died left behind, where its files are
 * locked while it lives. */
void luma_file_remove_orphans (const gchar * dir, const gchar * prefix,
    gint64 min_age_s);

/* FALSE, with errno EFBIG, where a file written up to @end bytes would
 * pass this process's file size limit (RLIMIT_FSIZE, `ulimit -f`): the
 * kernel would not fail that write but kill the process (SIGXFSZ). */
gboolean luma_file_fits_size_limit (guint64 end);

/* Reads @fd from where it is up to @size bytes, or to its end if that
 * comes first; -1 with errno set on an error. */
gssize luma_file_read_up_to (gint fd, gchar * buffer, gsize size);

/* A string member, or null; text that is not UTF-8 made valid first. */
void luma_json_add_string (JsonBuilder * builder, const gchar * name,
    const gchar * value);

/* The object @builder made, as pretty-printed JSON text. */
gchar *luma_json_to_text (JsonBuilder * builder);

/* What we read nests four levels deep at most; json-glib parses
 * recursively and without a limit. */
#define LUMA_JSON_MAX_NESTING 32

/* NULL when json-glib may be given @text, else why not */
gchar *luma_json_why_refused (const gchar * text, gsize size);
gboolean luma_json_load (JsonParser * parser, const gchar * text, gsize size,
    GError ** error);

/* Members of what others wrote, read by their type: json-glib's own
 * getters warn (a g_critical) when a member is an object or an array where
 * a value was expected. @object may be NULL (no such object). */
const gchar *luma_json_get_string (JsonObject * object, const gchar * name);
gboolean luma_json_get_int (JsonObject * object, const gchar * name,
    gint64 * value);
gboolean luma_json_get_bool (JsonObject * object, const gchar * name,
    gboolean * value);
JsonObject *luma_json_get_object (JsonObject * object, const gchar * name);

G_END_DECLS
