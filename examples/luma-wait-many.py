#!/usr/bin/python3
# gst-luma example: luma-wait-many, waits for several Luma Modify tasks at
# once and saves each one's video.
# Copyright (C) 2026 gst-luma developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Wait for several Luma Modify tasks at once and save their videos.

Usage:
    export KIE_API_KEY=...
    luma-wait-many.py [--poll-interval MS] [--wait-timeout S] OUTDIR TASK_ID...

Each task gets a pipeline of its own, "lumasrc ! filesink", and all of them
run at the same time in one GLib main loop: a slow task does not hold back
the others. Each video goes to OUTDIR/TASK_ID.mp4 (through
OUTDIR/TASK_ID.mp4.part, renamed once complete). A line is printed at each
poll of each task, then a summary.

Exit status: 0 when every task was saved, 1 when any was not, 2 for a bad
command line, 130 when interrupted.

The interpreter is Debian's /usr/bin/python3, the one python3-gi
(PyGObject) is installed for. The names of lumasrc's messages and its task
states come from the GstLuma typelib (package gir1.2-gstluma-1.0; from a
build tree: GI_TYPELIB_PATH and LD_LIBRARY_PATH set to its plugin/ folder).
"""

import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
try:
    # gst/luma/luma.h, the contract of lumasrc's messages: GstLuma.TaskState
    # and the names of the messages' fields (GstLuma.FIELD_POLLS, ...)
    gi.require_version("GstLuma", "1.0")
except ValueError:
    sys.exit("luma-wait-many: the GstLuma typelib is missing: install "
             "gir1.2-gstluma-1.0, or set GI_TYPELIB_PATH and "
             "LD_LIBRARY_PATH to a build's plugin/ folder")
from gi.repository import GLib, Gst, GstLuma  # noqa: E402

from luma_example import claim_part, say  # noqa: E402

GUINT_MAX = 2 ** 32 - 1
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def task_state(structure, field):
    """The GstLuma.TaskState of a field, None if there is none."""
    if structure is None or not structure.has_field(field):
        return None
    return GstLuma.TaskState(structure.get_value(field))


class TaskDownload:
    """One task: its pipeline, and what became of it."""

    def __init__(self, task_id, outdir, args, on_finished):
        self.task_id = task_id
        self.path = os.path.join(outdir, task_id + ".mp4")
        self.part_path = self.path + ".part"
        self.state = GstLuma.TaskState.WAITING
        self.error = None
        self.finished = False
        self._on_finished = on_finished
        self._part_lock = None

        self.pipeline = Gst.Pipeline.new("luma-" + task_id)
        src = Gst.ElementFactory.make("lumasrc")
        sink = Gst.ElementFactory.make("filesink")
        src.set_property("task-id", task_id)
        if args.poll_interval is not None:
            src.set_property("poll-interval", args.poll_interval)
        if args.wait_timeout is not None:
            src.set_property("wait-timeout", args.wait_timeout)
        sink.set_property("location", self.part_path)
        self.pipeline.add(src)
        self.pipeline.add(sink)
        src.link(sink)

        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self._on_message)

    def start(self):
        try:
            self._part_lock = claim_part(self.part_path)
        except BlockingIOError:
            self._finish(error=f"{self.part_path} is being written by "
                         "another run")
            return
        except OSError as e:
            self._finish(error=f"cannot write {self.part_path}: {e.strerror}")
            return
        # returns at once: lumasrc waits in its streaming thread
        if self.pipeline.set_state(Gst.State.PLAYING) == \
                Gst.StateChangeReturn.FAILURE:
            # the reason (no key, OUTDIR not writable...) is on the bus
            message = self.pipeline.get_bus().pop_filtered(
                Gst.MessageType.ERROR)
            self._fail(message)

    def stop(self):
        """Interrupts the wait or the download; the task goes on at KIE."""
        if not self.finished:
            self._finish(error="interrupted")

    def _on_message(self, bus, message):
        if self.finished:
            return
        if message.type == Gst.MessageType.ELEMENT:
            structure = message.get_structure()
            if structure.has_name(GstLuma.MESSAGE_TASK):
                self._show_poll(structure)
        elif message.type == Gst.MessageType.EOS:
            self._finish()
        elif message.type == Gst.MessageType.ERROR:
            self._fail(message)

    def _show_poll(self, structure):
        self.state = task_state(structure, GstLuma.FIELD_TASK_STATE)
        polls = structure.get_value(GstLuma.FIELD_POLLS)
        elapsed = structure.get_value(GstLuma.FIELD_ELAPSED) // Gst.SECOND
        say(f"{self.task_id}: {self.state.value_nick}, "
              f"{elapsed} s elapsed, "
              f"{polls} poll{'s' if polls != 1 else ''}", flush=True)

    def _fail(self, message):
        if message is None:
            self._finish(error="could not start")
            return
        error, _debug = message.parse_error()
        # the details say what became of the task: generate-failed,
        # generating (a wait that timed out), ...
        state = task_state(message.parse_error_details(),
                           GstLuma.DETAIL_TASK_STATE)
        if state is not None:
            self.state = state
        self._finish(error=error.message)

    def _finish(self, error=None):
        self.finished = True
        self.error = error
        self.pipeline.set_state(Gst.State.NULL)
        self.pipeline.get_bus().remove_signal_watch()
        # Only the run that holds the .part renames or removes it
        if error is None and self._part_lock is not None:
            try:
                os.replace(self.part_path, self.path)
            except OSError as e:
                self.error = f"cannot rename {self.part_path}: {e.strerror}"
        if self.error is not None and self._part_lock is not None and \
                os.path.exists(self.part_path):
            os.unlink(self.part_path)
        if self._part_lock is not None:
            os.close(self._part_lock)
            self._part_lock = None
        if self.error is None:
            say(f"{self.task_id}: saved {self.path}", flush=True)
        else:
            say(f"{self.task_id}: failed ({self.state.value_nick}): "
                  f"{self.error}",
                  file=sys.stderr, flush=True)
        self._on_finished()


def parse_args():
    parser = argparse.ArgumentParser(
        description="Wait for several Luma Modify tasks at once and save "
                    "each video as OUTDIR/TASK_ID.mp4.",
        epilog="Environment: KIE_API_KEY (required unless the videos are "
               "in lumasrc's store), KIE_API_URL, GST_LUMA_STORE*. Exit "
               "status: 0 all saved, 1 any failed, 2 bad command line, "
               "130 interrupted.")
    parser.add_argument("--poll-interval", type=int, metavar="MS",
                        help="milliseconds between two readings of a task "
                             "(default: lumasrc's, 30000)")
    parser.add_argument("--wait-timeout", type=int, metavar="S",
                        help="seconds to wait for a task at the most, 0 = "
                             "forever (default: lumasrc's, 3600)")
    parser.add_argument("outdir", metavar="OUTDIR")
    parser.add_argument("task_ids", metavar="TASK_ID", nargs="+")
    args = parser.parse_args()

    if args.poll_interval is not None and args.poll_interval < 10:
        parser.error("--poll-interval is at least 10 ms")
    if args.wait_timeout is not None and args.wait_timeout < 0:
        parser.error("--wait-timeout cannot be negative")
    # lumasrc's properties are 32-bit unsigned numbers
    for name, value in (("--poll-interval", args.poll_interval),
                        ("--wait-timeout", args.wait_timeout)):
        if value is not None and value > GUINT_MAX:
            parser.error(f"{name} is at most {GUINT_MAX}")
    for task_id in args.task_ids:
        # the id names a file: no path tricks
        if task_id in (".", "..") or os.sep in task_id or not task_id:
            parser.error(f"not a task id: {task_id!r}")
    if len(set(args.task_ids)) != len(args.task_ids):
        parser.error("a task id is given twice")
    if not os.path.isdir(args.outdir):
        parser.error(f"{args.outdir} is not a directory")
    return args


def main():
    args = parse_args()
    Gst.init(None)
    if Gst.ElementFactory.find("lumasrc") is None:
        say("luma-wait-many: the lumasrc element is missing (is gst-luma "
              "installed, or GST_PLUGIN_PATH set?)", file=sys.stderr)
        return EXIT_FAILED

    loop = GLib.MainLoop()
    downloads = []

    def on_finished():
        if all(d.finished for d in downloads):
            loop.quit()

    interrupted = False

    def on_interrupt():
        nonlocal interrupted
        interrupted = True
        for d in downloads:
            d.stop()
        return GLib.SOURCE_CONTINUE

    downloads.extend(TaskDownload(task_id, args.outdir, args, on_finished)
                     for task_id in args.task_ids)
    for signum in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, on_interrupt)
    for d in downloads:
        d.start()
    if not all(d.finished for d in downloads):
        loop.run()

    failed = [d for d in downloads if d.error is not None]
    say(f"{len(downloads) - len(failed)} of {len(downloads)} "
          f"task{'s' if len(downloads) != 1 else ''} saved", flush=True)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
