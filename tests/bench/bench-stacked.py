#!/usr/bin/env python3
# gst-luma benchmark: the file descriptors and threads of a GES timeline of
# trimmed luma:// clips stacked on layers, as an editor opens them. CLIPS
# tasks (distinct, all with the same 10 s video) each on a layer of its own
# at 0 s, from an in-point at 5 s for 2 s (a seek ahead: with the store on,
# each clip's fill downloads the rest, LUMA_FILLS_AT_ONCE at a time),
# rendered by GES to a small MKV: once with a fresh store, once with
# GST_LUMA_STORE=off. The render is a child process, sampled every 0.1 s.
# Copyright (C) 2026 gst-luma developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   tests/bench/bench-stacked.py
#   CLIPS=80 RATE=2000000 tests/bench/bench-stacked.py
#
# Environment:
#   CLIPS=N        clips, layers and tasks (default 30)
#   RATE=N         the emulator sends each video answer at N bytes a second
#                  (default: as fast as it can)
#   BUILD_DIR=DIR  the build directory (default build-bench, as
#                  bench-streaming.sh's; relative to the top of the tree)
#   KEEP=1         keep the temporary directory (logs, stores) for a look
#
# Prints a row a mode: the render's exit status, its peak descriptors
# (/proc/PID/fd) and threads, descriptors per clip, wall time, and the
# store's entries stored whole and those with only a .part, counted once
# the render has exited (a fill still running or waiting for a place then
# is cut short: with a slow RATE, some keep only a .part).
# The limit of open files is the caller's (ulimit -n), printed above the
# table. A benchmark, not a test: it fails only when a render fails.
#
# Needs Debian's python3-gi and gir1.2-ges-1.0 (.ci/deps installs them).
# The render runs as "bench-stacked.py --render OUTPUT TASK_ID...".
import glob
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

SELF = os.path.abspath(__file__)
TOP = os.path.dirname(os.path.dirname(os.path.dirname(SELF)))
IN_POINT, DURATION = 5, 2
# tests/examples/lib.sh's make_sample long: 10 s of 320x240 noise, a key
# frame each second, its index first
SAMPLE_RECIPE = (
    "videotestsrc num-buffers=250 pattern=snow ! "
    "video/x-raw,format=I420,width=320,height=240,framerate=25/1 ! "
    "x264enc speed-preset=ultrafast key-int-max=25 bitrate=6000 ! "
    "mp4mux faststart=true")


def die(what):
    sys.exit("bench-stacked: " + what)


def log(what):
    print("== " + what, file=sys.stderr, flush=True)


# ----- the render, in the child -----

def render(output, task_ids):
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstPbutils", "1.0")
    gi.require_version("GES", "1.0")
    from gi.repository import GES, GLib, Gst, GstPbutils

    Gst.init(None)
    GES.init()
    loop = GLib.MainLoop()
    assets, errors = [], []

    def on_loaded(source, result, task_id):
        try:
            assets.append(GES.Asset.request_finish(result))
        except GLib.Error as e:
            errors.append("GES could not load %s: %s" % (task_id, e.message))
        if len(assets) + len(errors) == len(task_ids):
            loop.quit()

    # all at once, as an editor opening a project does
    for task_id in task_ids:
        GES.UriClipAsset.new("luma://" + task_id, None, on_loaded, task_id)
    loop.run()
    if errors:
        die(errors[0])

    timeline = GES.Timeline.new()
    track = GES.VideoTrack.new()
    track.set_restriction_caps(Gst.Caps.from_string(
        "video/x-raw,width=320,height=240,framerate=25/1"))
    timeline.add_track(track)
    for asset in assets:
        timeline.append_layer().add_asset(
            asset, 0, IN_POINT * Gst.SECOND, DURATION * Gst.SECOND,
            GES.TrackType.VIDEO)
    timeline.commit()

    profile = GstPbutils.EncodingContainerProfile.new(
        "mkv", None, Gst.Caps.from_string("video/x-matroska"), None)
    video = GstPbutils.EncodingVideoProfile.new(
        Gst.Caps.from_string("video/x-h264"), None, None, 0)
    video.set_preset_name("x264enc")
    profile.add_profile(video)
    pipeline = GES.Pipeline()
    pipeline.set_timeline(timeline)
    pipeline.set_render_settings(Gst.filename_to_uri(output), profile)
    pipeline.set_mode(GES.PipelineFlags.RENDER)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        600 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None:
        die("the render did not end within 600 s")
    if msg.type == Gst.MessageType.ERROR:
        die("render error: %s" % msg.parse_error()[0].message)


# ----- the set-up, in the parent -----

def build(build_dir):
    log("building in " + build_dir)
    os.chdir(TOP)
    subprocess.run([".ci/deps"], check=True)
    # as bench-streaming.sh: only the plugin and the emulator
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        subprocess.run(["meson", "setup", build_dir, "-Dtests=disabled",
                        "-Dexamples=disabled"], check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(["meson", "compile", "-C", build_dir], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.abspath(build_dir)


def gi_python():
    # a python3 first on PATH (pyenv, a venv) may not have PyGObject: Debian's
    for python in (sys.executable, "/usr/bin/python3"):
        if subprocess.run([python, "-c", "import gi; "
                           "gi.require_version('GES', '1.0')"],
                          stderr=subprocess.DEVNULL).returncode == 0:
            return python
    die("no python3 with GES bindings: install python3-gi gir1.2-ges-1.0")


def sample(build_dir):
    """The sample video, made once per build tree, kept under a name made
    of its recipe (as tests/check/harness.c keeps its own)."""
    cache = os.path.join(build_dir, "tests", "sample-cache")
    digest = hashlib.sha256(SAMPLE_RECIPE.encode()).hexdigest()[:16]
    path = os.path.join(cache, "250-snow-faststart-%s.mp4" % digest)
    if not os.path.exists(path):
        log("making the sample video " + path)
        os.makedirs(cache, exist_ok=True)
        part = "%s.%d" % (path, os.getpid())
        subprocess.run(["gst-launch-1.0", "-q"] + SAMPLE_RECIPE.split()
                       + ["!", "filesink", "location=" + part], check=True,
                       stdout=subprocess.DEVNULL)
        os.replace(part, path)
    return path


def start_emulator(build_dir, work, key, task_ids, video, rate):
    ready = os.path.join(work, "emulator.ready")
    cmd = [os.path.join(build_dir, "tests", "emulator", "luma-emulator"),
           "--key", key, "--ready-file", ready]
    for task_id in task_ids:
        cmd += ["--task", "%s=%s%s" % (task_id, video,
                                       ",rate=" + rate if rate else "")]
    with open(os.path.join(work, "emulator.log"), "w") as errors:
        emulator = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                    stderr=errors)
    for _ in range(100):
        if os.path.exists(ready) and os.path.getsize(ready):
            with open(ready) as lines:
                # KIE_API_URL=...
                return emulator, dict(line.rstrip("\n").split("=", 1)
                                      for line in lines)
        if emulator.poll() is not None:
            break
        time.sleep(0.1)
    die("the emulator did not start (see %s/emulator.log)" % work)


def environment(build_dir, work, key, api):
    # our plugin, a registry of its own, no proxy; the store is per mode
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build_dir, "plugin"),
               GST_REGISTRY=os.path.join(work, "registry.bin"),
               KIE_API_KEY=key, no_proxy="127.0.0.1,localhost", LC_ALL="C",
               **api)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "all_proxy", "ALL_PROXY", "GST_LUMA_STORE",
                 "GST_LUMA_STORE_LIMIT"):
        env.pop(name, None)
    # the registry is built here, outside the measurement
    if subprocess.run(["gst-inspect-1.0", "lumasrc"], env=env,
                      stdout=subprocess.DEVNULL).returncode != 0:
        die("GStreamer does not find lumasrc in " + env["GST_PLUGIN_PATH"])
    return env


# ----- one run -----

def peaks_of(child):
    """Samples the child every 0.1 s until it exits: peak fds, threads."""
    fds = threads = 0
    while child.poll() is None:
        try:
            fds = max(fds, len(os.listdir("/proc/%d/fd" % child.pid)))
            with open("/proc/%d/status" % child.pid) as status:
                for line in status:
                    if line.startswith("Threads:"):
                        threads = max(threads, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            pass
        time.sleep(0.1)
    return fds, threads


def run(mode, python, env, work, task_ids):
    store = os.path.join(work, "store-" + mode)
    env = dict(env, GST_LUMA_STORE_DIR=store)
    if mode == "off":
        env["GST_LUMA_STORE"] = "off"
    log("rendering %d stacked clips, store %s" % (len(task_ids), mode))
    start = time.monotonic()
    with open(os.path.join(work, "render-%s.log" % mode), "w") as out:
        child = subprocess.Popen(
            [python, SELF, "--render",
             os.path.join(work, "render-%s.mkv" % mode)] + task_ids,
            env=env, stdout=out, stderr=subprocess.STDOUT)
        fds, threads = peaks_of(child)
    wall = time.monotonic() - start
    if child.returncode != 0:
        with open(out.name) as printed:
            sys.stderr.writelines(printed.readlines()[-5:])
    whole = glob.glob(os.path.join(store, "*", "*", "video"))
    only_part = [p for p in glob.glob(os.path.join(store, "*", "*",
                                                   "video.part"))
                 if not os.path.exists(p[:-len(".part")])]
    return ("store on" if mode == "on" else "store=off", len(task_ids),
            child.returncode, fds, threads, fds / len(task_ids), wall,
            len(whole), len(only_part))


def main():
    if sys.argv[1:2] == ["--render"]:
        render(sys.argv[2], sys.argv[3:])
        return
    clips, rate = os.environ.get("CLIPS", "30"), os.environ.get("RATE", "")
    if not clips.isdigit() or int(clips) < 1 or (rate and not rate.isdigit()):
        die("CLIPS must be a positive number, RATE a number of bytes")
    clips = int(clips)
    build_dir = build(os.environ.get("BUILD_DIR", "build-bench"))
    python = gi_python()
    video = sample(build_dir)
    work = tempfile.mkdtemp(prefix="bench-stacked.")
    emulator = None
    try:
        key = "bench-%d" % os.getpid()
        task_ids = ["clip%03d" % i for i in range(clips)]
        emulator, api = start_emulator(build_dir, work, key, task_ids,
                                       video, rate)
        env = environment(build_dir, work, key, api)
        rows = [run(mode, python, env, work, task_ids)
                for mode in ("on", "off")]
    finally:
        if emulator is not None:
            emulator.terminate()
            emulator.wait()
        if os.environ.get("KEEP") == "1":
            log("kept " + work)
        else:
            shutil.rmtree(work)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    print("\n%d trimmed clips stacked on %d layers (in-point %d s, %d s "
          "each); ulimit -n %d (hard %d); video answers at %s"
          % (clips, clips, IN_POINT, DURATION, soft, hard,
             rate + " B/s" if rate else "full speed"))
    print("%-9s %5s %4s %8s %12s %8s %8s %12s %10s" % (
        "mode", "clips", "exit", "peak fds", "peak threads", "fds/clip",
        "wall (s)", "stored whole", "only .part"))
    for row in rows:
        print("%-9s %5d %4d %8d %12d %8.1f %8.2f %12d %10d" % row)
    if any(row[2] != 0 for row in rows):
        die("a render failed (KEEP=1 keeps its log and the stores)")


main()
