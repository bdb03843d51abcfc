/* gst-luma: the idempotency journal: the same request never creates a
 * second task, across runs, processes and threads
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The other processes are this test program again, in a helper mode
 * (LUMA_JOURNAL_TEST_HELPER in the environment): each runs the journal's
 * protocol as the element would, with a sleep for the POST.
 */
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lumafile.h"
#include "lumajournal.h"

#define HELPER_ENV "LUMA_JOURNAL_TEST_HELPER"

#define API_URL "https://api.kie.ai"
#define API_KEY "test-secret-key-0123456789"
#define INPUT "https://in.example/clip.mp4"
#define PROMPT "Make it snow"

static const LumaJournalRequest request = { API_URL, INPUT, PROMPT, NULL };

static gchar *tmp_dir;          /* a fresh one for each test */
static gchar *journal;          /* in it, not yet created */
static gchar *key;              /* of the request above */

/* As tests/check/harness.c: limits on how fast something happens are
 * scaled by CK_TIMEOUT_MULTIPLIER (sanitizers, valgrind). */
static gint
luma_test_slowdown (void)
{
  const gchar *value = g_getenv ("CK_TIMEOUT_MULTIPLIER");
  gint factor = value ? atoi (value) : 1;

  return MAX (factor, 1);
}

static void
remove_tree (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  if (dir != NULL) {
    while ((name = g_dir_read_name (dir)) != NULL) {
      g_autofree gchar *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR)
          && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
    g_dir_close (dir);
  }
  g_rmdir (path);
}

static void
setup (void)
{
  GError *error = NULL;

  tmp_dir = g_dir_make_tmp ("luma-journal-XXXXXX", &error);
  fail_unless (tmp_dir != NULL, "%s", error ? error->message : "");
  /* two levels that do not exist: begin makes them */
  journal = g_build_filename (tmp_dir, "state", "journal", NULL);
  key = luma_journal_key (API_URL, API_KEY, INPUT, PROMPT, NULL);
}

static void
teardown (void)
{
  remove_tree (tmp_dir);
  g_clear_pointer (&tmp_dir, g_free);
  g_clear_pointer (&journal, g_free);
  g_clear_pointer (&key, g_free);
}

static gchar *
entry (const gchar * dir, const gchar * suffix)
{
  g_autofree gchar *name = g_strconcat (key, suffix, NULL);

  return g_build_filename (dir, name, NULL);
}

static gboolean
entry_exists (const gchar * suffix)
{
  g_autofree gchar *path = entry (journal, suffix);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* begin, expecting a claim, without sending */
static LumaJournalClaim *
claim_unsent_in (const gchar * dir)
{
  g_autoptr (GError) error = NULL;
  LumaJournalClaim *claim = NULL;
  g_autofree gchar *existing = NULL;

  fail_unless (luma_journal_begin (dir, key, &request, NULL, NULL, NULL, &claim,
          &existing, &error), "%s", error ? error->message : "");
  fail_unless (claim != NULL, "no claim: task %s exists", existing);
  fail_unless (existing == NULL);
  return claim;
}

/* begin, expecting a claim, and send: a POST may go out */
static LumaJournalClaim *
claim_in (const gchar * dir)
{
  g_autoptr (GError) error = NULL;
  LumaJournalClaim *claim = claim_unsent_in (dir);

  fail_unless (luma_journal_send (claim, &error), "%s",
      error ? error->message : "");
  return claim;
}

/* begin, expecting a task created earlier */
static gchar *
reuse_in (const gchar * dir)
{
  g_autoptr (GError) error = NULL;
  LumaJournalClaim *claim = NULL;
  gchar *existing = NULL;

  fail_unless (luma_journal_begin (dir, key, &request, NULL, NULL, NULL, &claim,
          &existing, &error), "%s", error ? error->message : "");
  fail_unless (claim == NULL, "claimed: the task would be created again");
  fail_unless (existing != NULL);
  return existing;
}

/* begin, expecting an error; returns it */
static GError *
refused_in (const gchar * dir, const gchar * with_key, GQuark domain, gint code)
{
  GError *error = NULL;
  LumaJournalClaim *claim = NULL;
  gchar *existing = NULL;

  fail_if (luma_journal_begin (dir, with_key, &request, NULL, NULL, NULL,
          &claim, &existing, &error), "begin succeeded: claim %p, task %s",
      claim, existing);
  fail_unless (claim == NULL && existing == NULL);
  fail_unless (error != NULL);
  fail_unless (g_error_matches (error, domain, code), "%s (%s %d)",
      error->message, g_quark_to_string (error->domain), error->code);
  return error;
}

/* ---- the helper processes ---- */

static gchar *
self_path (void)
{
  gchar *path = g_file_read_link ("/proc/self/exe", NULL);

  fail_unless (path != NULL);
  return path;
}

static GSubprocess *
spawn_helper (GSubprocessFlags flags, const gchar * mode, const gchar * dir)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *self = self_path ();
  GSubprocess *helper;

  g_subprocess_launcher_setenv (launcher, HELPER_ENV, "1", TRUE);
  helper = g_subprocess_launcher_spawn (launcher, &error, self, mode, dir, key,
      NULL);
  fail_unless (helper != NULL, "%s", error ? error->message : "");
  return helper;
}

/* helper MODE DIR KEY, as another process would run the protocol:
 *   race:  waits for a byte on stdin (all start at once), begins; claimed:
 *          "POSTs" for 300 ms, commits task-PID, prints "claimed task-PID";
 *          else prints "reused ID"
 *   crash: begins, prints "claimed", and dies by SIGKILL before its commit
 *   crash-unsent: the same before it sends (killed during an upload)
 *   hold:  begins, prints "locked", holds the claim for 2 s, aborts */
static int
helper_main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  LumaJournalClaim *claim = NULL;
  g_autofree gchar *existing = NULL;
  const gchar *mode, *dir;
  gchar start;

  if (argc != 4)
    return 2;
  mode = argv[1];
  dir = argv[2];
  key = argv[3];

  if (strcmp (mode, "race") == 0 && read (0, &start, 1) != 1)
    return 2;
  if (!luma_journal_begin (dir, key, &request, NULL, NULL, NULL, &claim,
          &existing, &error)) {
    printf ("error %s\n", error->message);
    return 1;
  }
  if (claim == NULL) {
    printf ("reused %s\n", existing);
    return 0;
  }
  if (strcmp (mode, "crash-unsent") == 0) {
    printf ("claimed\n");
    fflush (stdout);
    kill (getpid (), SIGKILL);
  }
  if (!luma_journal_send (claim, &error)) {
    printf ("error %s\n", error->message);
    return 1;
  }

  if (strcmp (mode, "race") == 0) {
    g_autofree gchar *task_id = g_strdup_printf ("task-%d", (gint) getpid ());

    g_usleep (300 * 1000);
    if (!luma_journal_commit (claim, task_id, &error)) {
      printf ("error %s\n", error->message);
      return 1;
    }
    printf ("claimed %s\n", task_id);
  } else if (strcmp (mode, "crash") == 0) {
    printf ("claimed\n");
    fflush (stdout);
    kill (getpid (), SIGKILL);
  } else if (strcmp (mode, "hold") == 0) {
    printf ("locked\n");
    fflush (stdout);
    g_usleep (2 * G_USEC_PER_SEC);
    luma_journal_abort (claim);
  } else {
    return 2;
  }
  return 0;
}

/* ---- the tests ---- */

/* A task committed once is what every later begin gets, without a claim. */
GST_START_TEST (test_commit_then_reuse)
{
  g_autoptr (GError) error = NULL;
  LumaJournalClaim *claim = claim_in (journal);
  g_autofree gchar *reused = NULL;
  g_autofree gchar *reused_again = NULL;

  fail_unless (entry_exists (".creating"));
  fail_unless (luma_journal_commit (claim, "774d9a7dd608a0e49293903095e45a4c",
          &error), "%s", error ? error->message : "");
  fail_if (entry_exists (".creating"));
  fail_unless (entry_exists (".task"));

  reused = reuse_in (journal);
  fail_unless_equals_string (reused, "774d9a7dd608a0e49293903095e45a4c");
  /* reusing takes nothing away */
  reused_again = reuse_in (journal);
  fail_unless_equals_string (reused_again, reused);
}

GST_END_TEST;

/* Every field of the request tells keys apart, NULL is not "", and no
 * field's bytes can pass for another's; spellings of one API URL do not. */
GST_START_TEST (test_keys)
{
  gchar *keys[] = {
    luma_journal_key (API_URL, API_KEY, INPUT, PROMPT, NULL),
    luma_journal_key ("https://api2.kie.ai", API_KEY, INPUT, PROMPT, NULL),
    luma_journal_key ("https://api.kie.ai:8443", API_KEY, INPUT, PROMPT, NULL),
    luma_journal_key ("https://api.kie.ai/v2", API_KEY, INPUT, PROMPT, NULL),
    luma_journal_key (NULL, API_KEY, INPUT, PROMPT, NULL),
    luma_journal_key ("", API_KEY, INPUT, PROMPT, NULL),
    luma_journal_key (API_URL, "another-key", INPUT, PROMPT, NULL),
    luma_journal_key (API_URL, NULL, INPUT, PROMPT, NULL),
    luma_journal_key (API_URL, "", INPUT, PROMPT, NULL),
    luma_journal_key (API_URL, API_KEY, "https://in.example/other.mp4",
        PROMPT, NULL),
    luma_journal_key (API_URL, API_KEY,
        "sha256:"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        PROMPT, NULL),
    luma_journal_key (API_URL, API_KEY, NULL, PROMPT, NULL),
    luma_journal_key (API_URL, API_KEY, "", PROMPT, NULL),
    luma_journal_key (API_URL, API_KEY, INPUT, "Make it rain", NULL),
    luma_journal_key (API_URL, API_KEY, INPUT, NULL, NULL),
    luma_journal_key (API_URL, API_KEY, INPUT, "", NULL),
    luma_journal_key (API_URL, API_KEY, INPUT, PROMPT, ""),
    luma_journal_key (API_URL, API_KEY, INPUT, PROMPT, "gst-luma"),
    /* one string cut at two places */
    luma_journal_key (API_URL, API_KEY, "ab", "c", NULL),
    luma_journal_key (API_URL, API_KEY, "a", "bc", NULL),
    luma_journal_key (API_URL, API_KEY, "abc", "", NULL),
    luma_journal_key (API_URL, API_KEY, "", "abc", NULL),
    /* cut where a field's own framing could be read */
    luma_journal_key (API_URL, API_KEY, "aSb", "c", NULL),
    luma_journal_key (API_URL, API_KEY, "a", "bSc", NULL),
  };
  const gchar *same_api[] = { "https://api.kie.ai/", "HTTPS://API.KIE.AI",
    "https://api.kie.ai:443", "https://api.kie.ai//", "https://Api.Kie.Ai/",
  };
  g_autofree gchar *again = luma_journal_key (API_URL, API_KEY, INPUT, PROMPT,
      NULL);
  guint i, j;

  fail_unless_equals_string (again, keys[0]);
  for (i = 0; i < G_N_ELEMENTS (keys); i++) {
    fail_unless_equals_int (strlen (keys[i]), 64);
    for (j = 0; j < 64; j++)
      fail_unless (g_ascii_isxdigit (keys[i][j])
          && !g_ascii_isupper (keys[i][j]), "%s", keys[i]);
    for (j = 0; j < i; j++)
      fail_if (strcmp (keys[i], keys[j]) == 0, "keys %u and %u are equal", j,
          i);
  }
  for (i = 0; i < G_N_ELEMENTS (same_api); i++) {
    g_autofree gchar *same = luma_journal_key (same_api[i], API_KEY, INPUT,
        PROMPT, NULL);

    fail_unless_equals_string (same, keys[0]);
  }
  for (i = 0; i < G_N_ELEMENTS (keys); i++)
    g_free (keys[i]);
}

GST_END_TEST;

/* A POST that certainly created nothing leaves nothing behind. */
GST_START_TEST (test_abort_then_new_claim)
{
  g_autoptr (GError) error = NULL;
  LumaJournalClaim *claim = claim_in (journal);
  g_autofree gchar *task = NULL;

  luma_journal_abort (claim);
  fail_if (entry_exists (".creating"));
  fail_if (entry_exists (".task"));

  claim = claim_in (journal);
  fail_unless (luma_journal_commit (claim, "task-2", &error));
  task = reuse_in (journal);
  fail_unless_equals_string (task, "task-2");
}

GST_END_TEST;

/* A POST whose outcome is unknown stops every later begin, with a message
 * that says how to go on, until forget (force-new). */
GST_START_TEST (test_abandon_then_creating_left)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) again = NULL;
  g_autofree gchar *creating = entry (journal, ".creating");
  LumaJournalClaim *claim = claim_in (journal);

  luma_journal_abandon (claim);
  fail_unless (entry_exists (".creating"));

  error = refused_in (journal, key, LUMA_JOURNAL_ERROR,
      LUMA_JOURNAL_ERROR_CREATING_LEFT);
  fail_unless (strstr (error->message, "force-new=true") != NULL, "%s",
      error->message);
  fail_unless (strstr (error->message, creating) != NULL, "%s", error->message);
  fail_unless (strstr (error->message, "dashboard") != NULL, "%s",
      error->message);
  /* it stays until someone decides */
  again = refused_in (journal, key, LUMA_JOURNAL_ERROR,
      LUMA_JOURNAL_ERROR_CREATING_LEFT);

  g_clear_error (&error);
  fail_unless (luma_journal_forget (journal, key, NULL, &error), "%s",
      error ? error->message : "");
  fail_if (entry_exists (".creating"));
  claim = claim_in (journal);
  luma_journal_abort (claim);
}

GST_END_TEST;

/* A claim dropped without a decision (g_autoptr) counts as abandoned. */
GST_START_TEST (test_dropped_claim_is_abandoned)
{
  g_autoptr (GError) error = NULL;

  {
    g_autoptr (LumaJournalClaim) claim = claim_in (journal);
  }
  error = refused_in (journal, key, LUMA_JOURNAL_ERROR,
      LUMA_JOURNAL_ERROR_CREATING_LEFT);
}

GST_END_TEST;

/* force-new: forget drops a committed task, and the next begin claims. */
GST_START_TEST (test_forget_committed_task)
{
  g_autoptr (GError) error = NULL;
  LumaJournalClaim *claim = claim_in (journal);
  g_autofree gchar *task = NULL;

  fail_unless (luma_journal_commit (claim, "task-old", &error));
  fail_unless (luma_journal_forget (journal, key, NULL, &error));
  fail_if (entry_exists (".task"));
  claim = claim_in (journal);
  fail_unless (luma_journal_commit (claim, "task-new", &error));
  task = reuse_in (journal);
  fail_unless_equals_string (task, "task-new");
  /* forgetting what is not there is no error */
  fail_unless (luma_journal_forget (journal, key, NULL, &error));
  fail_unless (luma_journal_forget (journal, key, NULL, &error));
}

GST_END_TEST;

static gpointer
cancel_later (gpointer data)
{
  g_usleep (5 * G_USEC_PER_SEC * luma_test_slowdown ());
  g_cancellable_cancel (data);
  return NULL;
}

/* A claim dropped before it sent (an upload that failed or was stopped
 * first) leaves nothing behind: the next begin claims the request. */
GST_START_TEST (test_unsent_claim_leaves_nothing)
{
  LumaJournalClaim *claim = claim_unsent_in (journal);

  fail_if (entry_exists (".creating"));
  luma_journal_abandon (claim);
  claim = claim_unsent_in (journal);
  luma_journal_abort (claim);
}

GST_END_TEST;

/* A process killed before it sent (during an upload): nothing can have
 * been created, and the next begin claims the request, not "a billed task
 * may exist". */
GST_START_TEST (test_crash_before_sending)
{
  g_autoptr (GSubprocess) helper = NULL;
  g_autofree gchar *out = NULL;
  g_autoptr (GError) error = NULL;

  helper = spawn_helper (G_SUBPROCESS_FLAGS_STDOUT_PIPE, "crash-unsent",
      journal);
  fail_unless (g_subprocess_communicate_utf8 (helper, NULL, NULL, &out, NULL,
          &error), "%s", error ? error->message : "");
  fail_unless_equals_string (out, "claimed\n");
  fail_unless (g_subprocess_get_if_signaled (helper));
  luma_journal_abort (claim_unsent_in (journal));
}

GST_END_TEST;

/* A process that dies between its POST and its commit: the kernel drops
 * its lock, its creating entry stays, the next begin reports it. */
GST_START_TEST (test_crash_between_post_and_commit)
{
  g_autoptr (GSubprocess) helper = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = NULL;
  LumaJournalClaim *claim = NULL;
  g_autofree gchar *existing = NULL;
  GThread *canceller;

  helper = spawn_helper (G_SUBPROCESS_FLAGS_STDOUT_PIPE, "crash", journal);
  fail_unless (g_subprocess_communicate_utf8 (helper, NULL, NULL, &out, NULL,
          &error), "%s", error ? error->message : "");
  fail_unless_equals_string (out, "claimed\n");
  fail_unless (g_subprocess_get_if_signaled (helper));
  fail_unless_equals_int (g_subprocess_get_term_sig (helper), SIGKILL);

  /* a lock left held would be a wait without end: bounded here */
  canceller = g_thread_new ("cancel", cancel_later, cancellable);
  fail_if (luma_journal_begin (journal, key, &request, NULL, NULL, cancellable,
          &claim, &existing, &error));
  fail_unless (claim == NULL && existing == NULL);
  fail_unless (g_error_matches (error, LUMA_JOURNAL_ERROR,
          LUMA_JOURNAL_ERROR_CREATING_LEFT), "%s", error->message);
  g_cancellable_cancel (cancellable);
  g_thread_join (canceller);
}

GST_END_TEST;

/* A commit that died after writing the task entry, before removing the
 * creating entry, left both: the task is known, and reused. */
GST_START_TEST (test_crash_inside_commit)
{
  g_autofree gchar *task_path = entry (journal, ".task");
  g_autofree gchar *task = NULL;

  luma_journal_abandon (claim_in (journal));
  fail_unless (g_file_set_contents (task_path, "task-c\n", -1, NULL));
  task = reuse_in (journal);
  fail_unless_equals_string (task, "task-c");
}

GST_END_TEST;

/* Three processes begin the same request at once, twenty times: each time
 * exactly one creates the task, the two others get its id. */
GST_START_TEST (test_three_processes_one_claims)
{
  guint round, i;

  for (round = 0; round < 20; round++) {
    g_autofree gchar *name = g_strdup_printf ("round-%u", round);
    g_autofree gchar *dir = g_build_filename (tmp_dir, name, NULL);
    g_autofree gchar *claimed = NULL;
    GSubprocess *helpers[3];
    gchar *outs[3];
    guint n_claimed = 0;

    for (i = 0; i < 3; i++)
      helpers[i] = spawn_helper (G_SUBPROCESS_FLAGS_STDIN_PIPE |
          G_SUBPROCESS_FLAGS_STDOUT_PIPE, "race", dir);
    for (i = 0; i < 3; i++) {
      GOutputStream *in = g_subprocess_get_stdin_pipe (helpers[i]);

      /* the start signal; communicate() closes the pipe */
      fail_unless (g_output_stream_write_all (in, "g", 1, NULL, NULL, NULL));
      fail_unless (g_output_stream_flush (in, NULL, NULL));
    }
    for (i = 0; i < 3; i++) {
      g_autoptr (GError) error = NULL;

      fail_unless (g_subprocess_communicate_utf8 (helpers[i], NULL, NULL,
              &outs[i], NULL, &error), "%s", error ? error->message : "");
      fail_unless (g_subprocess_get_if_exited (helpers[i]));
      fail_unless_equals_int (g_subprocess_get_exit_status (helpers[i]), 0);
      if (g_str_has_prefix (outs[i], "claimed ")) {
        n_claimed++;
        claimed = g_strstrip (g_strdup (outs[i] + strlen ("claimed ")));
      }
    }
    fail_unless_equals_int (n_claimed, 1);
    for (i = 0; i < 3; i++) {
      if (!g_str_has_prefix (outs[i], "claimed ")) {
        g_autofree gchar *expected = g_strdup_printf ("reused %s\n", claimed);

        fail_unless_equals_string (outs[i], expected);
      }
      g_free (outs[i]);
      g_object_unref (helpers[i]);
    }
    /* and the journal says so */
    {
      g_autofree gchar *task = reuse_in (dir);
      g_autofree gchar *creating = entry (dir, ".creating");

      fail_unless_equals_string (task, claimed);
      fail_if (g_file_test (creating, G_FILE_TEST_EXISTS));
    }
  }
}

GST_END_TEST;

static gint64 cancelled_at;     /* read after the thread is joined */

static gpointer
cancel_after_50_ms (gpointer data)
{
  g_usleep (50 * 1000);
  cancelled_at = g_get_monotonic_time ();
  g_cancellable_cancel (data);
  return NULL;
}

/* While another process holds the entry (its POST), a begin waits, and a
 * cancellation ends the wait at once: the element's PLAYING->NULL. */
GST_START_TEST (test_cancel_while_locked)
{
  g_autoptr (GSubprocess) helper = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *line = NULL;
  LumaJournalClaim *claim = NULL;
  g_autofree gchar *existing = NULL;
  GThread *canceller;
  gint64 start, end, cancelled;
  gint slowdown = luma_test_slowdown ();

  helper = spawn_helper (G_SUBPROCESS_FLAGS_STDOUT_PIPE, "hold", journal);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (helper));
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  fail_unless_equals_string (line, "locked");

  start = g_get_monotonic_time ();
  canceller = g_thread_new ("cancel", cancel_after_50_ms, cancellable);
  fail_if (luma_journal_begin (journal, key, &request, NULL, NULL, cancellable,
          &claim, &existing, &error));
  end = g_get_monotonic_time ();
  g_thread_join (canceller);
  cancelled = cancelled_at;

  fail_unless (claim == NULL && existing == NULL);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED),
      "%s", error->message);
  /* it did wait for the other process, and stopped when told */
  fail_unless (end >= cancelled, "returned before the cancellation");
  fail_unless (end - start < 200 * 1000 * slowdown,
      "%" G_GINT64_FORMAT " us", end - start);
  fail_unless (end - cancelled < 50 * 1000 * slowdown,
      "%" G_GINT64_FORMAT " us from the cancellation", end - cancelled);

  g_subprocess_force_exit (helper);
  fail_unless (g_subprocess_wait (helper, NULL, NULL));
}

GST_END_TEST;

typedef struct
{
  gboolean done;
  LumaJournalClaim *claim;
  gchar *existing;
  GError *error;
} BeginResult;

static gpointer
begin_in_thread (gpointer data)
{
  BeginResult *result = data;

  luma_journal_begin (journal, key, &request, NULL, NULL, NULL, &result->claim,
      &result->existing, &result->error);
  g_atomic_int_set (&result->done, TRUE);
  return NULL;
}

/* Two threads of one process exclude each other too (a lock that belonged
 * to the process, as fcntl's do, would let the second in). */
GST_START_TEST (test_threads_of_one_process)
{
  g_autoptr (GError) error = NULL;
  LumaJournalClaim *claim = claim_in (journal);
  BeginResult result = { FALSE, };
  GThread *thread;

  thread = g_thread_new ("begin", begin_in_thread, &result);
  g_usleep (200 * 1000);
  fail_if (g_atomic_int_get (&result.done),
      "a second begin went on while the first held the claim");
  fail_unless (luma_journal_commit (claim, "task-t", &error));
  g_thread_join (thread);

  fail_unless (result.error == NULL, "%s", result.error->message);
  fail_unless (result.claim == NULL);
  fail_unless_equals_string (result.existing, "task-t");
  g_free (result.existing);
}

GST_END_TEST;

/* A task entry that is not a task id is an error that says what to delete,
 * never a crash, never a claim; one of the largest ids is read. */
GST_START_TEST (test_corrupt_task_entry)
{
  static const struct
  {
    const gchar *name;
    const gchar *contents;
    gssize length;
  } cases[] = {
    {"control characters", "\x01\x02\x1b[31mtask\n", -1},
    {"empty", "", -1},
    {"a newline", "\n", -1},
    {"two lines", "task-1\ntask-2\n", -1},
    {"a space", "task 1\n", -1},
    {"a NUL", "task\0more\n", 10},
    {"invalid UTF-8", "task-\xff\xfe\n", -1},
  };
  g_autofree gchar *task_path = entry (journal, ".task");
  g_autofree gchar *elsewhere = g_build_filename (tmp_dir, "elsewhere", NULL);
  g_autofree gchar *longest = g_strnfill (256, 'a');
  g_autofree gchar *longest_line = g_strconcat (longest, "\n", NULL);
  g_autofree gchar *found = NULL;
  gchar *big;
  guint i;

  /* the directory is there, so that entries can be planted */
  luma_journal_abort (claim_in (journal));

  for (i = 0; i < G_N_ELEMENTS (cases) + 4; i++) {
    g_autoptr (GError) error = NULL;
    const gchar *name;

    g_unlink (task_path);
    g_rmdir (task_path);
    if (i < G_N_ELEMENTS (cases)) {
      name = cases[i].name;
      fail_unless (g_file_set_contents (task_path, cases[i].contents,
              cases[i].length, NULL));
    } else if (i == G_N_ELEMENTS (cases)) {
      name = "10 MB";
      big = g_strnfill (10 * 1024 * 1024, 'a');
      fail_unless (g_file_set_contents (task_path, big, -1, NULL));
      g_free (big);
    } else if (i == G_N_ELEMENTS (cases) + 1) {
      name = "257 bytes";
      big = g_strnfill (257, 'a');
      fail_unless (g_file_set_contents (task_path, big, -1, NULL));
      g_free (big);
    } else if (i == G_N_ELEMENTS (cases) + 2) {
      name = "a directory";
      fail_unless (g_mkdir (task_path, 0700) == 0);
    } else {
      name = "a symbolic link";
      fail_unless (g_file_set_contents (elsewhere, "task-1\n", -1, NULL));
      fail_unless (symlink (elsewhere, task_path) == 0);
    }
    error = refused_in (journal, key, LUMA_JOURNAL_ERROR,
        LUMA_JOURNAL_ERROR_CORRUPT);
    fail_unless (strstr (error->message, task_path) != NULL, "%s: %s", name,
        error->message);
    fail_unless (strstr (error->message, "delete") != NULL, "%s: %s", name,
        error->message);
    fail_if (entry_exists (".creating"), "%s: claimed", name);
  }

  g_unlink (task_path);
  fail_unless (g_file_set_contents (task_path, longest_line, -1, NULL));
  found = reuse_in (journal);
  fail_unless_equals_string (found, longest);
}

GST_END_TEST;

/* A journal directory that cannot be made is an error naming it. */
GST_START_TEST (test_unusable_directory)
{
  g_autofree gchar *file = g_build_filename (tmp_dir, "a-file", NULL);
  g_autofree gchar *below = g_build_filename (file, "journal", NULL);
  /* relative: one journal for each working directory */
  const gchar *dirs[] = { file, below, "journal-here" };
  guint i;

  fail_unless (g_file_set_contents (file, "not a directory", -1, NULL));
  for (i = 0; i < G_N_ELEMENTS (dirs); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GError) forget_error = NULL;

    error = refused_in (dirs[i], key, LUMA_JOURNAL_ERROR,
        LUMA_JOURNAL_ERROR_IO);
    fail_unless (strstr (error->message, dirs[i]) != NULL, "%s",
        error->message);
    fail_if (luma_journal_forget (dirs[i], key, NULL, &forget_error));
    fail_unless (g_error_matches (forget_error, LUMA_JOURNAL_ERROR,
            LUMA_JOURNAL_ERROR_IO));
  }
}

GST_END_TEST;

/* Only keys luma_journal_key() makes name files; a task id that could not
 * be read back is refused, and the task stays "creating". */
GST_START_TEST (test_bad_key_and_task_id)
{
  g_autofree gchar *upper = g_ascii_strup (key, -1);
  g_autofree gchar *shorter = g_strndup (key, 63);
  g_autofree gchar *longer = g_strconcat (key, "0", NULL);
  const gchar *bad_keys[] = { "../../etc/passwd", "", upper, shorter, longer,
    "0000000000000000000000000000000000000000000000000000000000000/..",
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) left = NULL;
  g_autofree gchar *too_long = g_strnfill (257, 'a');
  const gchar *bad_ids[] = { NULL, "", "bad\nid", "bad id", too_long };
  LumaJournalClaim *claim;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad_keys); i++) {
    g_autoptr (GError) refused = refused_in (journal, bad_keys[i],
        LUMA_JOURNAL_ERROR, LUMA_JOURNAL_ERROR_INVALID);
  }
  fail_if (g_file_test (journal, G_FILE_TEST_EXISTS));

  for (i = 0; i < G_N_ELEMENTS (bad_ids); i++) {
    g_clear_error (&error);
    g_clear_error (&left);
    fail_unless (luma_journal_forget (journal, key, NULL, &error));
    claim = claim_in (journal);
    fail_if (luma_journal_commit (claim, bad_ids[i], &error));
    fail_unless (g_error_matches (error, LUMA_JOURNAL_ERROR,
            LUMA_JOURNAL_ERROR_INVALID));
    fail_if (entry_exists (".task"));
    left = refused_in (journal, key, LUMA_JOURNAL_ERROR,
        LUMA_JOURNAL_ERROR_CREATING_LEFT);
  }
}

GST_END_TEST;

/* A task entry that cannot be written leaves the task "creating": a task
 * exists that the journal does not know, so nothing may create another. */
GST_START_TEST (test_commit_failure_keeps_creating)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) left = NULL;
  g_autofree gchar *task_path = entry (journal, ".task");
  g_autofree gchar *in_the_way = g_build_filename (task_path, "x", NULL);
  LumaJournalClaim *claim = claim_in (journal);

  /* a non-empty directory where the entry goes: the rename fails */
  fail_unless (g_mkdir (task_path, 0700) == 0);
  fail_unless (g_file_set_contents (in_the_way, "", -1, NULL));
  fail_if (luma_journal_commit (claim, "task-lost", &error));
  fail_unless (g_error_matches (error, LUMA_JOURNAL_ERROR,
          LUMA_JOURNAL_ERROR_IO), "%s", error->message);
  fail_unless (entry_exists (".creating"));

  remove_tree (task_path);
  left = refused_in (journal, key, LUMA_JOURNAL_ERROR,
      LUMA_JOURNAL_ERROR_CREATING_LEFT);
}

GST_END_TEST;

static void
assert_mode (const gchar * path, guint mode)
{
  GStatBuf st;

  fail_unless (g_stat (path, &st) == 0, "%s", path);
  fail_unless_equals_int (st.st_mode & 0777, mode);
}

/* The entries are the user's alone, say what was asked for a person to
 * look, and hold neither the API key nor its digest. */
GST_START_TEST (test_entries_are_private)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree gchar *creating = entry (journal, ".creating");
  g_autofree gchar *task = entry (journal, ".task");
  g_autofree gchar *lock = entry (journal, ".lock");
  g_autofree gchar *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
      API_KEY, -1);
  LumaJournalClaim *claim = claim_in (journal);
  JsonObject *object;
  GDir *dir;
  const gchar *name;

  assert_mode (journal, 0700);
  assert_mode (creating, 0600);
  assert_mode (lock, 0600);
  fail_unless (json_parser_load_from_file (parser, creating, &error), "%s",
      error ? error->message : "");
  object = json_node_get_object (json_parser_get_root (parser));
  fail_unless_equals_string (json_object_get_string_member (object, "prompt"),
      PROMPT);
  fail_unless_equals_string (json_object_get_string_member (object, "input"),
      INPUT);
  fail_unless_equals_string (json_object_get_string_member (object, "apiUrl"),
      API_URL);
  fail_unless_equals_int (json_object_get_int_member (object, "pid"),
      getpid ());
  fail_unless (luma_journal_commit (claim, "task-p", &error));
  assert_mode (task, 0600);

  dir = g_dir_open (journal, 0, NULL);
  fail_unless (dir != NULL);
  while ((name = g_dir_read_name (dir)) != NULL) {
    g_autofree gchar *path = g_build_filename (journal, name, NULL);
    g_autofree gchar *contents = NULL;

    fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
    fail_if (strstr (contents, API_KEY) != NULL, "%s", name);
    fail_if (strstr (contents, digest) != NULL, "%s", name);
    fail_if (strstr (name, digest) != NULL, "%s", name);
  }
  g_dir_close (dir);
}

GST_END_TEST;

/* Whatever the prompt holds, the creating entry stays JSON a person or a
 * tool can read. */
GST_START_TEST (test_creating_entry_is_json)
{
  static const LumaJournalRequest odd = { NULL, "sha256:00",
    "line one\nline \"two\"\x01 \xff\xfe end", ""
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree gchar *creating = entry (journal, ".creating");
  LumaJournalClaim *claim = NULL;
  g_autofree gchar *existing = NULL;
  JsonObject *object;

  fail_unless (luma_journal_begin (journal, key, &odd, NULL, NULL, NULL, &claim,
          &existing, &error));
  fail_unless (luma_journal_send (claim, &error));
  fail_unless (json_parser_load_from_file (parser, creating, &error), "%s",
      error ? error->message : "");
  object = json_node_get_object (json_parser_get_root (parser));
  fail_unless (g_str_has_prefix (json_object_get_string_member (object,
              "prompt"), "line one\nline \"two\"\x01 "));
  fail_unless (json_object_get_null_member (object, "apiUrl"));
  fail_unless_equals_string (json_object_get_string_member (object,
          "watermark"), "");
  luma_journal_abort (claim);
}

GST_END_TEST;

/* XDG_*_HOME holding a relative path is ignored, as the XDG spec says:
 * the directory under HOME serves. */
GST_START_TEST (test_relative_xdg_dir_ignored)
{
  g_autofree gchar *under_home = g_build_filename (g_get_home_dir (),
      ".local/state", NULL);
  g_autofree gchar *absolute = luma_file_xdg_dir ("/var/x", ".local/state");
  g_autofree gchar *relative = luma_file_xdg_dir ("state", ".local/state");

  fail_unless_equals_string (absolute, "/var/x");
  if (g_path_is_absolute (g_get_home_dir ())) {
    fail_unless_equals_string (relative, under_home);
  } else {
    fail_unless (relative == NULL);
  }
}

GST_END_TEST;

GST_START_TEST (test_default_dir)
{
  g_autofree gchar *dir = luma_journal_default_dir ();
  g_autofree gchar *expected = g_build_filename (g_get_user_state_dir (),
      "gst-luma", "journal", NULL);

  fail_unless_equals_string (dir, expected);
}

GST_END_TEST;

static Suite *
journal_suite (void)
{
  Suite *s = suite_create ("luma-journal");
  TCase *tc = tcase_create ("journal");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_commit_then_reuse);
  tcase_add_test (tc, test_keys);
  tcase_add_test (tc, test_abort_then_new_claim);
  tcase_add_test (tc, test_abandon_then_creating_left);
  tcase_add_test (tc, test_dropped_claim_is_abandoned);
  tcase_add_test (tc, test_forget_committed_task);
  tcase_add_test (tc, test_unsent_claim_leaves_nothing);
  tcase_add_test (tc, test_crash_before_sending);
  tcase_add_test (tc, test_crash_between_post_and_commit);
  tcase_add_test (tc, test_crash_inside_commit);
  tcase_add_test (tc, test_three_processes_one_claims);
  tcase_add_test (tc, test_cancel_while_locked);
  tcase_add_test (tc, test_threads_of_one_process);
  tcase_add_test (tc, test_corrupt_task_entry);
  tcase_add_test (tc, test_unusable_directory);
  tcase_add_test (tc, test_bad_key_and_task_id);
  tcase_add_test (tc, test_commit_failure_keeps_creating);
  tcase_add_test (tc, test_entries_are_private);
  tcase_add_test (tc, test_creating_entry_is_json);
  tcase_add_test (tc, test_default_dir);
  tcase_add_test (tc, test_relative_xdg_dir_ignored);
  return s;
}

int
main (int argc, char **argv)
{
  if (g_getenv (HELPER_ENV) != NULL)
    return helper_main (argc, argv);

  gst_check_init (&argc, &argv);
  return gst_check_run_suite (journal_suite (), "journal", __FILE__);
}
