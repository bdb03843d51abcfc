#!/usr/bin/python3
# gst-luma example: luma-ges-timeline, puts the videos of several Luma
# Modify tasks one after the other on a GES timeline and renders one MP4.
# Copyright (C) 2026 gst-luma developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Render the videos of several Luma Modify tasks, one after the other,
into one MP4 file with the GStreamer Editing Services.

Usage:
    export KIE_API_KEY=...
    luma-ges-timeline.py [--poll-interval MS] [--wait-timeout S]
                         [--trim S] OUTPUT TASK_ID...

Each task is a luma://TASK_ID URI, which GES loads as a GESUriClipAsset
like any file. --trim S takes each clip from S seconds in (its in-point),
as an editor's trimmed clips: lumasrc still stores each whole video. The result is H.264 video (x264enc) and, when any of the
videos has sound, AAC audio, in an MP4 file; its picture has the size and
frame rate of the first video.

GES reads each URI with GstDiscoverer first, one URI after the other and
with a timeout of 60 s each (GES_DISCOVERY_TIMEOUT), which a task that is
still generating would exceed. So the script first waits for all the tasks
at once, each with a lumasrc of its own that only has to preroll, printing
their progress; GES then finds them done at their first poll.

Exit status: 0 rendered, 1 any error (a task failed, timed out...), 2 bad
command line, 130 interrupted.

The interpreter is Debian's /usr/bin/python3, the one python3-gi and
gir1.2-ges-1.0 are installed for. The names of lumasrc's messages and its
task states come from the GstLuma typelib (package gir1.2-gstluma-1.0; from
a build tree: GI_TYPELIB_PATH and LD_LIBRARY_PATH set to its plugin/
folder).
"""

import argparse
import os
import signal
import sys
import urllib.parse

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstPbutils", "1.0")
gi.require_version("GES", "1.0")
try:
    # gst/luma/luma.h, the contract of lumasrc's messages: GstLuma.TaskState
    # and the names of the messages' fields (GstLuma.FIELD_POLLS, ...)
    gi.require_version("GstLuma", "1.0")
except ValueError:
    sys.exit("luma-ges-timeline: the GstLuma typelib is missing: install "
             "gir1.2-gstluma-1.0, or set GI_TYPELIB_PATH and "
             "LD_LIBRARY_PATH to a build's plugin/ folder")
from gi.repository import GES, GLib, Gst, GstLuma, GstPbutils  # noqa: E402

from luma_example import claim_part, say  # noqa: E402

GUINT_MAX = 2 ** 32 - 1
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class Failure(Exception):
    pass


def luma_uri(task_id, args):
    """luma://TASK_ID, with lumasrc's non-secret settings as its query;
    the key stays in KIE_API_KEY."""
    query = {}
    if args.poll_interval is not None:
        query["poll-interval"] = args.poll_interval
    # a URI cannot turn a bound off (wait-timeout=0 refuses it): the
    # waiters set 0 on their lumasrc, and GES opens the tasks once done
    if args.wait_timeout:
        query["wait-timeout"] = args.wait_timeout
    uri = GstLuma.URI_SCHEME + "://" + urllib.parse.quote(task_id, safe="")
    if query:
        uri += "?" + urllib.parse.urlencode(query)
    return uri


class TaskWaiter:
    """Waits for one task: "lumasrc ! fakesink" goes to PAUSED, which it
    reaches once lumasrc has the task's first bytes, i.e. once the task is
    done."""

    def __init__(self, task_id, uri, wait_timeout, on_done):
        self.task_id = task_id
        self.error = None
        self.done = False
        self.stopped = False
        self._on_done = on_done

        self.pipeline = Gst.Pipeline.new("wait-" + task_id)
        src = Gst.Element.make_from_uri(Gst.URIType.SRC, uri, None)
        if wait_timeout == 0:
            src.set_property("wait-timeout", 0)
        sink = Gst.ElementFactory.make("fakesink")
        self.pipeline.add(src)
        self.pipeline.add(sink)
        src.link(sink)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self._on_message)

    def start(self):
        if self.pipeline.set_state(Gst.State.PAUSED) == \
                Gst.StateChangeReturn.FAILURE:
            message = self.pipeline.get_bus().pop_filtered(
                Gst.MessageType.ERROR)
            self._finish(message.parse_error()[0].message if message
                         else "could not start")

    def stop(self):
        """Stops waiting, silently: the task goes on at KIE."""
        if not self.done:
            self._finish("stopped", quiet=True)

    def _on_message(self, bus, message):
        if self.done:
            return
        if message.type == Gst.MessageType.ELEMENT:
            structure = message.get_structure()
            if structure.has_name(GstLuma.MESSAGE_TASK):
                self._show_poll(structure)
        elif message.type == Gst.MessageType.ASYNC_DONE:
            self._finish()
        elif message.type == Gst.MessageType.ERROR:
            self._finish(message.parse_error()[0].message)

    def _show_poll(self, structure):
        state = GstLuma.TaskState(
            structure.get_value(GstLuma.FIELD_TASK_STATE))
        polls = structure.get_value(GstLuma.FIELD_POLLS)
        elapsed = structure.get_value(GstLuma.FIELD_ELAPSED) // Gst.SECOND
        say(f"{self.task_id}: {state.value_nick}, {elapsed} s elapsed, "
              f"{polls} poll{'s' if polls != 1 else ''}", flush=True)

    def _finish(self, error=None, quiet=False):
        self.done = True
        self.error = error
        self.stopped = quiet
        self.pipeline.set_state(Gst.State.NULL)
        self.pipeline.get_bus().remove_signal_watch()
        if error is None:
            say(f"{self.task_id}: ready", flush=True)
        elif not quiet:
            say(f"{self.task_id}: {error}", file=sys.stderr, flush=True)
        self._on_done()


class Renderer:
    def __init__(self):
        self.loop = GLib.MainLoop()
        self.interrupted = False
        self.waiters = []
        self.pipeline = None

    def interrupt(self):
        self.interrupted = True
        for waiter in self.waiters:
            waiter.stop()
        self.loop.quit()
        return GLib.SOURCE_CONTINUE

    def wait_for_tasks(self, uris, wait_timeout):
        """Waits for all the tasks at once; stops at the first failure."""
        def on_done():
            if any(w.error for w in self.waiters):
                for waiter in self.waiters:
                    waiter.stop()
            if all(w.done for w in self.waiters):
                self.loop.quit()

        self.waiters = [TaskWaiter(task_id, uri, wait_timeout, on_done)
                        for task_id, uri in uris]
        for waiter in self.waiters:
            waiter.start()
        if not all(w.done for w in self.waiters):
            self.loop.run()
        self._check_interrupted()
        failed = [w for w in self.waiters
                  if w.error is not None and not w.stopped]
        if failed:
            raise Failure(f"task {failed[0].task_id} failed")

    def load_assets(self, uris):
        """GES discovers each URI (asynchronously, in the main loop)."""
        assets = {}
        errors = []

        def on_loaded(source, result, uri):
            try:
                assets[uri] = GES.Asset.request_finish(result)
            except GLib.Error as e:
                errors.append(f"{uri}: {e.message}")
            if len(assets) + len(errors) == len(uris):
                self.loop.quit()

        for _task_id, uri in uris:
            GES.UriClipAsset.new(uri, None, on_loaded, uri)
        self.loop.run()
        self._check_interrupted()
        if errors:
            raise Failure("GES could not load " + errors[0])
        return [assets[uri] for _task_id, uri in uris]

    def render(self, assets, output, trim=0):
        timeline, has_audio = build_timeline(assets, trim)
        self.pipeline = GES.Pipeline()
        self.pipeline.set_timeline(timeline)
        part_path = output + ".part"
        try:
            part_lock = claim_part(part_path)
        except BlockingIOError:
            raise Failure(f"{part_path} is being written by another run: "
                          "wait for it to end, or give another OUTPUT")
        except OSError as e:
            raise Failure(f"cannot write {part_path}: {e.strerror}")
        try:
            self._render_into(timeline, has_audio, part_path, output)
        finally:
            # renamed or removed: the next run may have the path
            os.close(part_lock)

    def _render_into(self, timeline, has_audio, part_path, output):
        profile = make_mp4_profile(has_audio)
        if not self.pipeline.set_render_settings(
                Gst.filename_to_uri(part_path), profile):
            raise Failure("GES refused the MP4 encoding profile")
        self.pipeline.set_mode(GES.PipelineFlags.RENDER)

        duration = timeline.get_duration()
        say(f"Rendering {duration / Gst.SECOND:.1f} s into {output}",
              flush=True)
        error = self._run_render(duration)
        self.pipeline.set_state(Gst.State.NULL)
        if error is None and not self.interrupted:
            os.replace(part_path, output)
            return
        if os.path.exists(part_path):
            os.unlink(part_path)
        self._check_interrupted()
        raise Failure(error)

    def _run_render(self, duration):
        outcome = {"error": None}

        def on_message(bus, message):
            if message.type == Gst.MessageType.EOS:
                self.loop.quit()
            elif message.type == Gst.MessageType.ERROR:
                outcome["error"] = message.parse_error()[0].message
                self.loop.quit()

        def show_progress():
            ok, position = self.pipeline.query_position(Gst.Format.TIME)
            if ok and duration > 0:
                percent = min(100, 100 * position // duration)
                say(f"\rRendering: {percent}%", end="", flush=True)
            return GLib.SOURCE_CONTINUE

        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        handler = bus.connect("message", on_message)
        progress_id = None
        if sys.stdout.isatty():
            progress_id = GLib.timeout_add(500, show_progress)
        if self.pipeline.set_state(Gst.State.PLAYING) == \
                Gst.StateChangeReturn.FAILURE:
            outcome["error"] = "could not start rendering"
        else:
            self.loop.run()
        if progress_id is not None:
            GLib.source_remove(progress_id)
            say()
        bus.disconnect(handler)
        bus.remove_signal_watch()
        return outcome["error"]

    def _check_interrupted(self):
        if self.interrupted:
            raise KeyboardInterrupt


def build_timeline(assets, trim=0):
    """One layer, the clips end to end; an audio track only when a video
    has sound (a clip without sound gets silence there)."""
    has_audio = any(a.get_supported_formats() & GES.TrackType.AUDIO
                    for a in assets)
    timeline = GES.Timeline.new()
    video_track = GES.VideoTrack.new()
    video_track.set_restriction_caps(first_video_caps(assets))
    timeline.add_track(video_track)
    if has_audio:
        timeline.add_track(GES.AudioTrack.new())

    layer = timeline.append_layer()
    start = 0
    for asset in assets:
        # from its in-point, as an editor opens a trimmed clip
        inpoint = min(trim, asset.get_duration())
        duration = asset.get_duration() - inpoint
        layer.add_asset(asset, start, inpoint, duration,
                        GES.TrackType.UNKNOWN)
        start += duration
    timeline.commit()
    return timeline, has_audio


def first_video_caps(assets):
    """The size and frame rate of the first video, rather than GES's
    default of 1280x720 at 30 fps."""
    for asset in assets:
        streams = asset.get_info().get_video_streams()
        if streams:
            video = streams[0]
            return Gst.Caps.from_string(
                f"video/x-raw,width={video.get_width()},"
                f"height={video.get_height()},"
                f"framerate={video.get_framerate_num()}/"
                f"{max(video.get_framerate_denom(), 1)}")
    return Gst.Caps.from_string("video/x-raw")


def make_mp4_profile(has_audio):
    container = GstPbutils.EncodingContainerProfile.new(
        "mp4", None, Gst.Caps.from_string("video/quicktime,variant=iso"),
        None)
    video = GstPbutils.EncodingVideoProfile.new(
        Gst.Caps.from_string("video/x-h264"), None, None, 0)
    # the preset name picks the encoder: the best ranked might be another
    video.set_preset_name("x264enc")
    container.add_profile(video)
    if has_audio:
        container.add_profile(GstPbutils.EncodingAudioProfile.new(
            Gst.Caps.from_string("audio/mpeg,mpegversion=4"), None, None, 0))
    return container


def parse_args():
    parser = argparse.ArgumentParser(
        description="Render the videos of several Luma Modify tasks, one "
                    "after the other, into one MP4 file (GES).",
        epilog="Environment: KIE_API_KEY (required unless the videos are "
               "in lumasrc's store), KIE_API_URL, GST_LUMA_STORE*. Exit "
               "status: 0 rendered, 1 error, 2 bad command line, 130 "
               "interrupted.")
    parser.add_argument("--poll-interval", type=int, metavar="MS",
                        help="milliseconds between two readings of a task "
                             "(default: lumasrc's, 30000)")
    parser.add_argument("--wait-timeout", type=int, metavar="S",
                        help="seconds to wait for a task at the most, 0 = "
                             "forever (default: lumasrc's, 3600)")
    parser.add_argument("--trim", type=float, default=0, metavar="S",
                        help="leave out the first S seconds of each clip "
                             "(default: 0)")
    parser.add_argument("output", metavar="OUTPUT")
    parser.add_argument("task_ids", metavar="TASK_ID", nargs="+")
    args = parser.parse_args()
    if args.poll_interval is not None and args.poll_interval < 10:
        parser.error("--poll-interval is at least 10 ms")
    if args.wait_timeout is not None and args.wait_timeout < 0:
        parser.error("--wait-timeout cannot be negative")
    if not 0 <= args.trim < 1e6:
        parser.error("--trim is a number of seconds from 0")
    args.trim = int(args.trim * Gst.SECOND)
    # lumasrc's properties are 32-bit unsigned numbers
    for name, value in (("--poll-interval", args.poll_interval),
                        ("--wait-timeout", args.wait_timeout)):
        if value is not None and value > GUINT_MAX:
            parser.error(f"{name} is at most {GUINT_MAX}")
    return args


def main():
    args = parse_args()
    Gst.init(None)
    GES.init()
    if Gst.ElementFactory.find("lumasrc") is None:
        say("luma-ges-timeline: the lumasrc element is missing (is "
              "gst-luma installed, or GST_PLUGIN_PATH set?)",
              file=sys.stderr)
        return EXIT_FAILED

    # the same task twice is one asset, placed twice: wait for it once
    unique_ids = list(dict.fromkeys(args.task_ids))
    uris = [(task_id, luma_uri(task_id, args)) for task_id in unique_ids]
    renderer = Renderer()
    for signum in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum,
                             renderer.interrupt)
    try:
        renderer.wait_for_tasks(uris, args.wait_timeout)
        assets = dict(zip(unique_ids, renderer.load_assets(uris)))
        renderer.render([assets[t] for t in args.task_ids], args.output,
                        args.trim)
    except Failure as e:
        say(f"luma-ges-timeline: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        say("luma-ges-timeline: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    say(f"Saved {args.output}", flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
