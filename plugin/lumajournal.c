/* gst-luma: the idempotency journal of task creation
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * KIE bills every task it creates, has no idempotency key and no cancel: a
 * request sent twice is paid twice. The journal makes sure the same request
 * never creates a second task by accident, across runs and processes.
 *
 * A request is named by a key, the SHA-256 of what it asks for. Its entry
 * is a few files in the journal's directory:
 *   KEY.lock      flock(2)ed by whoever looks at or changes the entry; never
 *                 deleted, so that everyone always locks the same inode
 *   KEY.creating  "a POST may be on its way": written, durably, before the
 *                 POST is sent; says what was asked, for a person to look
 *   KEY.task      the task id the POST answered
 * Under the lock: a task entry is reused; a creating entry alone means an
 * earlier attempt died or gave up after sending (its lock went with it, or
 * it was released on purpose), so a billed task may exist, and nothing is
 * created until a person decides (force-new); otherwise the lock is kept
 * until the POST's outcome is known, and the creating entry written right
 * before the POST (not before an upload that comes first: a run killed
 * there sent nothing). A crash anywhere leaves one of these states, never
 * a silent second POST.
 *
 * Pure GLib/GIO and POSIX file code: no HTTP.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumajournal.h"
#include "lumafile.h"
#include "lumauri.h"

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The key's serialization starts with this (its NUL included), so that a
 * future format cannot give an old key to a different request. */
#define KEY_FORMAT "gst-luma journal key 1"
#define KEY_LENGTH 64

#define LOCK_SUFFIX ".lock"
#define CREATING_SUFFIX ".creating"
#define TASK_SUFFIX ".task"

/* A task entry is the task id and a newline: anything longer is not ours. */
#define MAX_TASK_ENTRY (LUMA_TASK_ID_MAX_LENGTH + 1)

/* While another process holds an entry (for as long as its POST takes), the
 * lock is tried again after 2 ms, then ever less often, up to every 50 ms;
 * a cancellation ends the wait at once, whatever the interval. */
#define LOCK_RETRY_MIN_MS 2
#define LOCK_RETRY_MAX_MS 50

/* *INDENT-OFF* */
G_DEFINE_QUARK (luma-journal-error-quark, luma_journal_error);
/* *INDENT-ON* */

struct _LumaJournalClaim
{
  gchar *dir;
  gchar *key;
  gint lock_fd;
  gchar *attempt;               /* the creating entry, once it is to go out */
};

gchar *
luma_journal_default_dir (void)
{
  g_autofree gchar *state = luma_file_xdg_dir (g_get_user_state_dir (),
      ".local/state");

  /* relative, which ensure_dir () refuses */
  if (state == NULL)
    return g_build_filename (g_get_user_state_dir (), "gst-luma", "journal",
        NULL);
  return g_build_filename (state, "gst-luma", "journal", NULL);
}

static void
add_field (GChecksum * sum, const gchar * value)
{
  gchar head[32];
  gsize length;

  /* "N" for NULL, "S<length>:<bytes>" for a string: no two lists of
   * fields serialize alike ("ab","c" is not "a","bc"; NULL is not ""). */
  if (value == NULL) {
    g_checksum_update (sum, (const guchar *) "N", 1);
    return;
  }
  length = strlen (value);
  g_snprintf (head, sizeof head, "S%" G_GSIZE_FORMAT ":", length);
  g_checksum_update (sum, (const guchar *) head, -1);
  g_checksum_update (sum, (const guchar *) value, length);
}

/* The API's base URL in the form the API client uses
 * (luma_http_parse_base_url ()): scheme and host in lower case, no default
 * port, no trailing slashes. "https://API.kie.ai/" and "https://api.kie.ai" are the
 * same API, and must not make a second task. A URL that does not parse is
 * taken as it is: the API client refuses it anyway. */
static gchar *
normalize_api_url (const gchar * api_url)
{
  g_autoptr (GUri) uri = NULL;
  g_autofree gchar *host = NULL;
  g_autofree gchar *path = NULL;
  const GUriFlags flags = G_URI_FLAGS_ENCODED | G_URI_FLAGS_SCHEME_NORMALIZE;
  gsize length;

  if (api_url == NULL)
    return NULL;
  uri = g_uri_parse (api_url, flags, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return g_strdup (api_url);
  host = g_ascii_strdown (g_uri_get_host (uri), -1);
  path = g_strdup (g_uri_get_path (uri));
  for (length = strlen (path); length > 0 && path[length - 1] == '/'; length--)
    path[length - 1] = '\0';
  return g_uri_join (flags, g_uri_get_scheme (uri), g_uri_get_userinfo (uri),
      host, g_uri_get_port (uri), path, g_uri_get_query (uri),
      g_uri_get_fragment (uri));
}

gchar *
luma_journal_key (const gchar * api_url, const gchar * api_key,
    const gchar * input, const gchar * prompt, const gchar * watermark)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree gchar *url = normalize_api_url (api_url);
  g_autofree gchar *key_digest = NULL;

  /* Tasks belong to an account: another key is another request. The key
   * itself is a secret and never enters the journal, not even through a
   * hash that covers other known fields. */
  if (api_key != NULL)
    key_digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, api_key, -1);

  g_checksum_update (sum, (const guchar *) KEY_FORMAT, sizeof KEY_FORMAT);
  add_field (sum, url);
  add_field (sum, key_digest);
  add_field (sum, input);
  add_field (sum, prompt);
  add_field (sum, watermark);
  return g_strdup (g_checksum_get_string (sum));
}

/* Keys become file names: only what luma_journal_key() makes is taken, so
 * that no key can name a file outside the journal. */
static gboolean
check_key (const gchar * key, GError ** error)
{
  gsize i;

  for (i = 0; i < KEY_LENGTH; i++)
    if (!g_ascii_isxdigit (key[i]) || g_ascii_isupper (key[i]))
      break;
  if (i != KEY_LENGTH || key[i] != '\0') {
    g_set_error_literal (error, LUMA_JOURNAL_ERROR,
        LUMA_JOURNAL_ERROR_INVALID,
        _("A journal key is 64 lower-case hexadecimal digits"));
    return FALSE;
  }
  return TRUE;
}

static gchar *
entry_path (const gchar * dir, const gchar * key, const gchar * suffix)
{
  g_autofree gchar *name = g_strconcat (key, suffix, NULL);

  return g_build_filename (dir, name, NULL);
}

/* @format takes the path, then the cause (two %s). */
static void
set_io_error (GError ** error, const gchar * format, const gchar * path,
    const gchar * cause)
{
  g_autofree gchar *display = g_filename_display_name (path);

  g_set_error (error, LUMA_JOURNAL_ERROR, LUMA_JOURNAL_ERROR_IO, format,
      display, cause);
}

static void
set_corrupt_error (GError ** error, const gchar * path, const gchar * why)
{
  g_autofree gchar *display = g_filename_display_name (path);

  g_set_error (error, LUMA_JOURNAL_ERROR, LUMA_JOURNAL_ERROR_CORRUPT,
      _("The journal entry %s cannot be read (%s). It should hold the id of "
          "a task created earlier for this request: look for that task on "
          "KIE's dashboard, or delete the file or set force-new=true to "
          "create a new task"), display, why);
}

static gboolean
ensure_dir (const gchar * dir, GError ** error)
{
  /* one journal: not one for each working directory, each of which would
   * create (and bill) the request anew */
  if (!g_path_is_absolute (dir)) {
    g_set_error (error, LUMA_JOURNAL_ERROR, LUMA_JOURNAL_ERROR_IO,
        _("The journal directory %s is not an absolute path: set "
            "XDG_STATE_HOME or HOME to one"), dir);
    return FALSE;
  }
  /* 0700: the entries name prompts and inputs, which are the user's own */
  if (g_mkdir_with_parents (dir, 0700) != 0) {
    gint errsv = errno;

    set_io_error (error, _("Cannot create the journal directory %s: %s"),
        dir, g_strerror (errsv));
    return FALSE;
  }
  return TRUE;
}

/* Makes the directory's entries (a file renamed into it, one removed) last
 * through a power cut: GLib's DURABLE syncs a file, not its name. */
static gboolean
sync_dir (const gchar * dir, GError ** error)
{
  if (luma_file_sync_dir (dir))
    return TRUE;
  set_io_error (error, _("Cannot write the journal directory %s to disk: %s"),
      dir, g_strerror (errno));
  return FALSE;
}

/* flock(2), not fcntl() locks: flock locks belong to the open file, so two
 * threads of one process that each open the entry exclude each other too,
 * and the kernel drops the lock when its holder dies, however it dies.
 * GLib has no lock API; LOCK_NB in a loop keeps the wait cancellable. */
static gboolean
lock_entry (const gchar * dir, const gchar * key, LumaJournalHeldFunc on_held,
    gpointer user_data, GCancellable * cancellable, gint * lock_fd,
    GError ** error)
{
  g_autofree gchar *path = entry_path (dir, key, LOCK_SUFFIX);
  guint delay = LOCK_RETRY_MIN_MS;
  gint fd;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  /* O_CLOEXEC: a program spawned meanwhile must not keep the lock after we
   * are gone; O_NOFOLLOW: the lock is this file, not one a link points at */
  fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    gint errsv = errno;

    set_io_error (error, _("Cannot open the journal lock %s: %s"), path,
        g_strerror (errsv));
    return FALSE;
  }
  while (flock (fd, LOCK_EX | LOCK_NB) != 0) {
    gint errsv = errno;

    if (errsv == EINTR)
      continue;
    if (errsv != EWOULDBLOCK) {
      set_io_error (error, _("Cannot lock the journal entry %s: %s"), path,
          g_strerror (errsv));
      g_close (fd, NULL);
      return FALSE;
    }
    /* another process or thread is creating this very task right now */
    if (delay == LOCK_RETRY_MIN_MS && on_held != NULL)
      on_held (user_data);
    if (!luma_file_wait (cancellable, delay, error)) {
      g_close (fd, NULL);
      return FALSE;
    }
    delay = MIN (delay * 2, LOCK_RETRY_MAX_MS);
  }
  *lock_fd = fd;
  return TRUE;
}

/* TRUE with *task_id NULL: there is no task entry. Read with a bound, and
 * never through a link or from a FIFO (which would block the open). */
static gboolean
read_task (const gchar * path, gchar ** task_id, GError ** error)
{
  gchar buffer[MAX_TASK_ENTRY + 1];
  g_autoptr (GError) invalid = NULL;
  gboolean not_regular;
  gssize n;
  gsize length;
  gint fd;

  fd = luma_file_open_regular (path, O_RDONLY, 0, &not_regular);
  if (fd < 0) {
    gint errsv = errno;

    if (errsv == ENOENT)
      return TRUE;
    if (errsv == ELOOP) {
      set_corrupt_error (error, path, _("it is a symbolic link"));
      return FALSE;
    }
    if (not_regular) {
      set_corrupt_error (error, path, _("it is not a regular file"));
      return FALSE;
    }
    /* the entry is there (not ENOENT) but cannot be opened, e.g. one left
     * by another user: it may record a billed task, as an entry that
     * cannot be parsed does */
    set_corrupt_error (error, path, g_strerror (errsv));
    return FALSE;
  }
  n = luma_file_read_up_to (fd, buffer, sizeof buffer);
  if (n < 0) {
    gint errsv = errno;

    g_close (fd, NULL);
    set_corrupt_error (error, path, g_strerror (errsv));
    return FALSE;
  }
  length = n;
  g_close (fd, NULL);

  if (length > MAX_TASK_ENTRY) {
    set_corrupt_error (error, path, _("it is too long"));
    return FALSE;
  }
  if (length > 0 && buffer[length - 1] == '\n')
    length--;
  buffer[length] = '\0';
  if (memchr (buffer, '\0', length) != NULL) {
    set_corrupt_error (error, path, _("it holds a NUL byte"));
    return FALSE;
  }
  if (!luma_task_id_check (buffer, &invalid)) {
    set_corrupt_error (error, path, invalid->message);
    return FALSE;
  }
  *task_id = g_strdup (buffer);
  return TRUE;
}

/* What a person needs to find the task on KIE's dashboard, or to see that
 * it was never created: what was asked, when, by which process. No key. */
static gchar *
describe_attempt (const LumaJournalRequest * what)
{
  static const LumaJournalRequest nothing = { NULL, };
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *time = g_date_time_format_iso8601 (now);

  if (what == NULL)
    what = &nothing;
  json_builder_begin_object (builder);
  luma_json_add_string (builder, "time", time);
  luma_json_add_string (builder, "host", g_get_host_name ());
  json_builder_set_member_name (builder, "pid");
  json_builder_add_int_value (builder, getpid ());
  luma_json_add_string (builder, "apiUrl", what->api_url);
  luma_json_add_string (builder, "input", what->input);
  luma_json_add_string (builder, "prompt", what->prompt);
  luma_json_add_string (builder, "watermark", what->watermark);
  json_builder_end_object (builder);
  return luma_json_to_text (builder);
}

/* Atomic (a temporary file renamed) and durable (synced): after a crash the
 * file is there whole, or not at all. */
static gboolean
write_entry (const gchar * path, const gchar * contents, GError ** error)
{
  g_autofree gchar *why = NULL;

  if (!luma_file_set_contents (path, contents, &why)) {
    set_io_error (error, _("Cannot write the journal entry %s: %s"), path, why);
    return FALSE;
  }
  return TRUE;
}

static gboolean
entry_exists (const gchar * path, gboolean * exists, GError ** error)
{
  GStatBuf st;
  gint errsv;

  if (g_lstat (path, &st) == 0) {
    *exists = TRUE;
    return TRUE;
  }
  errsv = errno;
  if (errsv == ENOENT) {
    *exists = FALSE;
    return TRUE;
  }
  /* not knowing is not "no": that could create the task twice */
  set_io_error (error, _("Cannot look at the journal entry %s: %s"), path,
      g_strerror (errsv));
  return FALSE;
}

static gboolean
remove_entry (const gchar * path, GError ** error)
{
  if (g_unlink (path) != 0 && errno != ENOENT) {
    gint errsv = errno;

    set_io_error (error, _("Cannot remove the journal entry %s: %s"), path,
        g_strerror (errsv));
    return FALSE;
  }
  return TRUE;
}

static void
set_creating_left_error (GError ** error, const gchar * path)
{
  g_autofree gchar *display = g_filename_display_name (path);

  g_set_error (error, LUMA_JOURNAL_ERROR, LUMA_JOURNAL_ERROR_CREATING_LEFT,
      _("An earlier run sent this request to create a task and never "
          "recorded the answer (journal entry %s): KIE may have created the "
          "task, and billed it. Look for it on KIE's dashboard (the entry "
          "says what was asked, and when), or set force-new=true to create "
          "a new task anyway"), display);
}

gboolean
luma_journal_begin (const gchar * dir, const gchar * key,
    const LumaJournalRequest * what, LumaJournalHeldFunc on_held,
    gpointer user_data, GCancellable * cancellable,
    LumaJournalClaim ** claim, gchar ** existing_task_id, GError ** error)
{
  g_autofree gchar *task_path = NULL;
  g_autofree gchar *creating_path = NULL;
  gchar *task_id = NULL;
  gboolean creating_left;
  gint fd;

  g_return_val_if_fail (dir != NULL && key != NULL, FALSE);
  g_return_val_if_fail (claim != NULL && *claim == NULL, FALSE);
  g_return_val_if_fail (existing_task_id != NULL && *existing_task_id == NULL,
      FALSE);

  if (!check_key (key, error) || !ensure_dir (dir, error)
      || !lock_entry (dir, key, on_held, user_data, cancellable, &fd, error))
    return FALSE;

  /* The task entry first: a commit that died between writing it and
   * removing the creating entry left both, and the task is known. */
  task_path = entry_path (dir, key, TASK_SUFFIX);
  if (!read_task (task_path, &task_id, error))
    goto failed;
  if (task_id != NULL) {
    luma_file_unlock (fd);
    *existing_task_id = task_id;
    return TRUE;
  }

  /* We hold the lock, so whoever wrote a creating entry is gone or gave
   * up: its POST may have created a task that nobody recorded. */
  creating_path = entry_path (dir, key, CREATING_SUFFIX);
  if (!entry_exists (creating_path, &creating_left, error))
    goto failed;
  if (creating_left) {
    set_creating_left_error (error, creating_path);
    goto failed;
  }

  /* the creating entry is written by luma_journal_send (), right before
   * the POST: what comes first (an upload) may be killed, and nothing
   * was sent then */
  *claim = g_new0 (LumaJournalClaim, 1);
  (*claim)->dir = g_strdup (dir);
  (*claim)->key = g_strdup (key);
  (*claim)->lock_fd = fd;
  (*claim)->attempt = describe_attempt (what);
  return TRUE;

failed:
  luma_file_unlock (fd);
  return FALSE;
}

gboolean
luma_journal_send (LumaJournalClaim * claim, GError ** error)
{
  g_autofree gchar *creating_path = NULL;

  g_return_val_if_fail (claim != NULL, FALSE);

  /* The creating entry must be on disk before the POST is sent: after a
   * power cut between the two, the next run has to see it. */
  creating_path = entry_path (claim->dir, claim->key, CREATING_SUFFIX);
  if (!write_entry (creating_path, claim->attempt, error))
    return FALSE;
  if (!sync_dir (claim->dir, error)) {
    g_unlink (creating_path);
    return FALSE;
  }
  return TRUE;
}

static void
claim_free (LumaJournalClaim * claim)
{
  luma_file_unlock (claim->lock_fd);
  g_free (claim->dir);
  g_free (claim->key);
  g_free (claim->attempt);
  g_free (claim);
}

gboolean
luma_journal_commit (LumaJournalClaim * claim, const gchar * task_id,
    GError ** error)
{
  g_autofree gchar *task_path = NULL;
  g_autofree gchar *creating_path = NULL;
  g_autofree gchar *contents = NULL;
  g_autoptr (GError) invalid = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (claim != NULL, FALSE);

  task_path = entry_path (claim->dir, claim->key, TASK_SUFFIX);
  creating_path = entry_path (claim->dir, claim->key, CREATING_SUFFIX);

  /* A task id that could not be read back would make the entry corrupt:
   * refused, and the creating entry stays (a task was made, unrecorded). */
  if (!luma_task_id_check (task_id, &invalid)) {
    g_set_error (error, LUMA_JOURNAL_ERROR, LUMA_JOURNAL_ERROR_INVALID,
        _("The task id KIE gave cannot be journalled: %s"), invalid->message);
  } else {
    contents = g_strconcat (task_id, "\n", NULL);
    /* The task entry must be on disk before the creating entry goes: the
     * other order has a moment, after a crash, with neither. */
    if (write_entry (task_path, contents, error)
        && sync_dir (claim->dir, error)) {
      /* A creating entry that cannot be removed is harmless now: the task
       * entry is read first. */
      g_unlink (creating_path);
      ok = TRUE;
    }
  }
  claim_free (claim);
  return ok;
}

void
luma_journal_abort (LumaJournalClaim * claim)
{
  g_autofree gchar *creating_path = NULL;

  if (claim == NULL)
    return;
  creating_path = entry_path (claim->dir, claim->key, CREATING_SUFFIX);
  /* If this fails the next run reports CREATING_LEFT: a question to the
   * user, never a second task. */
  g_unlink (creating_path);
  claim_free (claim);
}

void
luma_journal_abandon (LumaJournalClaim * claim)
{
  /* The creating entry stays, durably written before the POST: releasing
   * the lock is all there is to do. */
  if (claim != NULL)
    claim_free (claim);
}

gboolean
luma_journal_forget (const gchar * dir, const gchar * key,
    GCancellable * cancellable, GError ** error)
{
  g_autofree gchar *task_path = NULL;
  g_autofree gchar *creating_path = NULL;
  gboolean ok;
  gint fd;

  g_return_val_if_fail (dir != NULL && key != NULL, FALSE);

  /* Under the lock: never remove the creating entry of a POST that another
   * process is sending right now. */
  if (!check_key (key, error) || !ensure_dir (dir, error)
      || !lock_entry (dir, key, NULL, NULL, cancellable, &fd, error))
    return FALSE;
  task_path = entry_path (dir, key, TASK_SUFFIX);
  creating_path = entry_path (dir, key, CREATING_SUFFIX);
  ok = remove_entry (task_path, error) && remove_entry (creating_path, error);
  luma_file_unlock (fd);
  return ok;
}
