/* gst-luma: running lumasrc in a pipeline against the emulator, for tests
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/luma/luma.h>
#include "luma-emulator.h"

G_BEGIN_DECLS
#define TEST_KEY "test-secret-key-0123456789"
/* What a pipeline with lumasrc did, as seen on its bus and at its sink. */
    typedef struct
{
  GstElement *pipeline;
  GstElement *src;
  GByteArray *data;             /* what reached the fakesink, in order */
  gboolean offsets_contiguous;  /* each buffer's offset follows the last */
  guint64 first_offset;         /* of the bytes in data */
  guint restarts;               /* buffers that did not follow the last (seeks):
                                 * data then holds what came from there on */
  GstMessage *error;            /* the first error, or NULL */
  GPtrArray *warnings;          /* GstMessage */
  gboolean eos;
  guint progress[5];            /* by GstProgressType */
  guint task_messages;
  GstLumaTaskState last_state;
  guint last_polls;
  gboolean duration_changed;
  GstTagList *tags;             /* every tag that reached the sink, merged */
} LumaRun;

/* A port of 127.0.0.1 that nobody listens on: a connection is refused. */
guint16 luma_test_refused_port (void);

/* "lumasrc name=src <props> ! <sink>" with the emulator's URL and key and a
 * 10 ms poll interval; @sink NULL: a fakesink that keeps the bytes. */
LumaRun *luma_run_new (LumaEmulator * em, const gchar * task_id,
    const gchar * sink);
/* Any pipeline: @desc parsed, @element_name the element whose errors
 * luma_run_assert_error() checks (run->src); a fakesink named "sink" with
 * signal-handoffs=true keeps the bytes. */
LumaRun *luma_run_new_launch (const gchar * desc, const gchar * element_name);
/* A run of @pipeline (taken), whose errors come from @src (taken); a
 * fakesink named "sink" in it keeps the bytes. */
LumaRun *luma_run_new_for (GstElement * pipeline, GstElement * src);
/* Plays until EOS or an error, at most @timeout_s seconds (a test failure
 * after that). Stops at EOS or error; the pipeline is left in PLAYING. */
void luma_run_until_done (LumaRun * run, guint timeout_s);
/* Sets PAUSED and handles messages until the pipeline has prerolled. */
void luma_run_preroll (LumaRun * run, guint timeout_s);
/* Sets READY (not NULL, so that the bus keeps its messages) and asserts
 * that it took less than a second (times luma_test_slowdown ()): a wait
 * the stop cuts short, rather than sits out. */
void luma_run_assert_prompt_stop (LumaRun * run);
/* Sets PLAYING, and NULL from the bus sync handler at the first message
 * @match takes (in the thread that posts it, as an application may);
 * asserts that this stop returned, within 10 s. The second: at the first
 * element message named @name. */
typedef gboolean (*LumaMessageMatch) (GstMessage * msg, gconstpointer data);
void luma_run_assert_stop_from_sync_handler_at (LumaRun * run,
    LumaMessageMatch match, gconstpointer match_data);
void luma_run_assert_stop_from_sync_handler (LumaRun * run, const gchar * name);
/* Handles the bus messages that arrived without blocking. */
void luma_run_drain_bus (LumaRun * run);
void luma_run_free (LumaRun * run);

/* Asserts that the run ended in EOS without an error and that what reached
 * the fakesink is @expected, byte for byte. */
void luma_run_assert_output (LumaRun * run, GBytes * expected);
/* The same for @expected from @offset on, which is where what reached the
 * fakesink (since its last restart) began: run->first_offset. */
void luma_run_assert_output_from (LumaRun * run, GBytes * expected,
    guint64 offset);

/* Asserts that the run ended in a resource error with @code whose text
 * holds @words (if not NULL), and returns the error's details. */
const GstStructure *luma_run_assert_error (LumaRun * run, gint code,
    const gchar * words);

/* How much slower than usual this run is allowed to be: CK_TIMEOUT_MULTIPLIER,
 * which the sanitizer and valgrind stages set. Limits on how fast something
 * happens are scaled by it. */
gint luma_test_slowdown (void);

/* Waits up to @seconds (times luma_test_slowdown ()) for @holds (@data);
 * returns whether it holds. */
typedef gboolean (*LumaTestCondition) (gconstpointer data);
gboolean luma_test_wait_until (LumaTestCondition holds, gconstpointer data,
    guint seconds);

GBytes *luma_test_random_bytes (gsize size, guint32 seed);
/* A port on 127.0.0.1 nothing listens on: one the system just gave out,
 * and closed again. */
guint16 luma_test_closed_port (void);
/* An H.264 MP4 of @frames frames at 25 fps (moov at the end); @noisy ones
 * are large (about 11 kB a frame), the others small. Encoded once per build
 * tree: kept in LUMA_TEST_CACHE_DIR (tests/meson.build) under a name made
 * of its recipe, and read from there by the suites and runs after. */
GBytes *luma_test_make_mp4 (guint frames, gboolean noisy);
/* Files, for the store's tests: removes @path and all below it; changes
 * one byte; whether a file name or a file's bytes below @path hold
 * @needle; every file and folder below @path with its size, mtime and
 * ctime, as text to compare before and after. */
void luma_test_remove_tree (const gchar * path);
void luma_test_flip_byte (const gchar * path, goffset offset);
gboolean luma_test_tree_holds (const gchar * path, const gchar * needle);
gchar *luma_test_describe_tree (const gchar * path);
/* A seek without flush to byte @offset of @element, in a thread of its
 * own (it may block): started, asked whether it has returned (a
 * LumaTestCondition), and joined (whether it was taken). */
typedef struct
{
  GstElement *element;
  guint64 offset;
  GThread *thread;
  gint done;                    /* atomic */
  gboolean taken;
} LumaTestSeek;

void luma_test_seek_start (LumaTestSeek * seek, GstElement * element,
    guint64 offset);
gboolean luma_test_seek_returned (gconstpointer seek);
gboolean luma_test_seek_join (LumaTestSeek * seek);

/* `ulimit -f`: this test process may write no file past @bytes (the
 * kernel kills a writer that passes it with SIGXFSZ). */
void luma_test_limit_file_size (guint64 bytes);

/* Every text of @msg (its structure, an error's or warning's text and
 * details) appended to @text: to look for what must not be there. */
void luma_test_append_message_text (GString * text, GstMessage * msg);
/* A slow disk, staged: each fdatasync () of the process (this program's
 * own, which replaces libc's; the plugin's too where the program exports
 * its symbols, tests/meson.build) takes @delay_ms more from now on, and
 * luma_test_wait_for_a_sync () returns once one has begun. */
void luma_test_stage_slow_sync (guint delay_ms);
void luma_test_wait_for_a_sync (void);
/* The next @count fdatasync () fail with EIO, as a disk that did
 * not take the data (Linux tells it once); luma_test_wait_for_syncs_ended
 * () returns once @count syncs have returned since. */
void luma_test_stage_failed_syncs (guint count);
void luma_test_wait_for_syncs_ended (guint count);

/* Fails, showing where, if @text (the bus's messages) holds @secret. */
void luma_test_assert_not_on_bus (const gchar * text, const gchar * secret);

/* A program (gst-launch-1.0...) run as a process of its own, with the
 * environment and KIE_API_KEY set to the test key; its exit status. */
GPid luma_test_spawn_with_key (const gchar * const *argv);
gint luma_test_wait_for_exit (GPid pid);

/* A store directory of the running test's own (GST_LUMA_STORE_DIR), made
 * at the first call, removed when the test's process exits. Every
 * emulator the harness makes calls it: tests stream the same task ids, and
 * must not find each other's stored videos. */
const gchar *luma_test_use_fresh_store (void);
/* A running emulator with the test key. */
LumaEmulator *luma_test_emulator_new (void);
void luma_test_add_ready_task (LumaEmulator * em, const gchar * task_id,
    GBytes * video);

/* What most suites' tests start from: a running emulator with the test key,
 * and a result file to serve (the suite's own, or NULL). */
typedef struct
{
  LumaEmulator *em;
  GBytes *video;
} LumaTestFixture;

/* The running test's, between luma_test_fixture_setup () and
 * luma_test_fixture_teardown () (each test runs in a process of its own:
 * nothing is shared between tests). */
extern LumaTestFixture fixture;

/* For a suite's checked fixture: starts fixture.em and takes @video (may be
 * NULL) as fixture.video. */
void luma_test_fixture_setup (GBytes * video);
/* KIE_API_URL set to fixture.em's API and KIE_API_KEY to the test key, as a
 * user would set them (lumasrc made without properties reads them). */
void luma_test_fixture_set_environment (void);
/* Frees fixture.em and fixture.video, and unsets KIE_API_KEY and
 * KIE_API_URL. */
void luma_test_fixture_teardown (void);

G_END_DECLS
