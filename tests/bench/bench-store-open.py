#!/usr/bin/env python3
# gst-luma benchmark: how long a stored task takes to open, from setting
# PLAYING to the first buffer at the sink (bench-streaming.sh runs it).
# Copyright (C) 2026 gst-luma developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   bench-store-open.py TASK_ID OPENS
#
# Opens the task OPENS times, each in a pipeline of its own, in one process
# (plugin loading is paid once, before the first); prints the median in ms.
# GST_LUMA_STORE_DIR says where the store is.
import statistics
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def open_once(task_id):
    pipeline = Gst.parse_launch(
        "lumasrc name=src task-id=%s ! fakesink name=sink sync=false "
        "signal-handoffs=true num-buffers=1" % task_id)
    first = threading.Event()
    stamp = []

    def on_handoff(sink, buffer, pad):
        if not stamp:
            stamp.append(time.monotonic())
            first.set()

    pipeline.get_by_name("sink").connect("handoff", on_handoff)
    start = time.monotonic()
    pipeline.set_state(Gst.State.PLAYING)
    if not first.wait(30):
        sys.exit("no buffer within 30 s")
    pipeline.set_state(Gst.State.NULL)
    return (stamp[0] - start) * 1000


def main():
    task_id, opens = sys.argv[1], int(sys.argv[2])
    Gst.init(None)
    open_once(task_id)
    times = [open_once(task_id) for _ in range(opens)]
    print("%.2f" % statistics.median(times))


main()
