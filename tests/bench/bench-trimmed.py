#!/usr/bin/env python3
# gst-luma benchmark: a trimmed clip's first streaming with the store on
# (bench-streaming.sh runs it). The source prerolls, then plays the middle
# tenth of the video, as an editor plays a clip between its in- and
# out-points; the bytes before the in-point are stored in the background.
# Copyright (C) 2026 gst-luma developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   bench-trimmed.py TASK_ID SIZE
#
# Prints "PLAYED STORED": the seconds from the seek to the clip's end, and
# from the seek to the store holding the whole video, with the pipeline
# open until then. GST_LUMA_STORE_DIR says where the store is (empty).
import glob
import os
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def stored_video(store_dir):
    found = glob.glob(os.path.join(store_dir, "*", "*", "video"))
    return found[0] if found else None


def wait_for(bus, kinds):
    msg = bus.timed_pop_filtered(600 * Gst.SECOND,
                                 kinds | Gst.MessageType.ERROR)
    if msg is None:
        sys.exit("no message within 600 s")
    if msg.type == Gst.MessageType.ERROR:
        sys.exit("error: %s" % msg.parse_error()[0].message)


def main():
    task_id, size = sys.argv[1], int(sys.argv[2])
    store_dir = os.environ["GST_LUMA_STORE_DIR"]
    Gst.init(None)
    pipeline = Gst.parse_launch(
        "lumasrc task-id=%s poll-interval=10 ! fakesink sync=false" % task_id)
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PAUSED)
    wait_for(bus, Gst.MessageType.ASYNC_DONE)
    start = time.monotonic()
    in_point = size // 2
    pipeline.seek(1.0, Gst.Format.BYTES, Gst.SeekFlags.FLUSH,
                  Gst.SeekType.SET, in_point,
                  Gst.SeekType.SET, in_point + size // 10)
    pipeline.set_state(Gst.State.PLAYING)
    wait_for(bus, Gst.MessageType.EOS)
    played = time.monotonic() - start
    while stored_video(store_dir) is None:
        if time.monotonic() - start > 600:
            sys.exit("not stored within 600 s")
        time.sleep(0.005)
    stored = time.monotonic() - start
    pipeline.set_state(Gst.State.NULL)
    print("%.2f %.2f" % (played, stored))


main()
