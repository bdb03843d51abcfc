#!/usr/bin/env bash
# A reader of the Python examples' output that goes away (`| head
# -1`, a log collector restarted) left them waiting for ever: the
# BrokenPipeError of a print in a bus callback skipped the code after it,
# which quits the main loop.
# SPDX-License-Identifier: LGPL-2.1-or-later
source "$(dirname "$0")/lib.sh"

make_sample video.mp4
start_luma_emulator --task slow=video.mp4,generating-ms=1500

# closed_pipe NAME COMMAND...: COMMAND's stdout read by `head -1`, which
# exits after the first line; its exit status (124, 137: still running
# after 60 s, even after SIGTERM) in NAME.status
closed_pipe() {
  local name=$1
  shift
  timeout -k 5 60 "$@" 2>"$name.err" | head -1 >"$name.out"
  echo "${PIPESTATUS[0]}" >"$name.status"
  echo "# $name: exit status $(cat "$name.status")"
}

status_is() {
  [ "$(cat "$1.status")" = "$2" ]
}

mkdir out
closed_pipe wait-many "$PYTHON" "$LUMA_WAIT_MANY" --poll-interval 100 out slow
check "test_wait_many_closed_pipe: exits 0, without hanging" status_is wait-many 0
check "test_wait_many_closed_pipe: the video is saved" cmp -s video.mp4 out/slow.mp4

closed_pipe ges "$PYTHON" "$LUMA_GES_TIMELINE" --poll-interval 100 ges.mp4 slow
check "test_ges_timeline_closed_pipe: exits 0, without hanging" status_is ges 0
check "test_ges_timeline_closed_pipe: the video is rendered" test -s ges.mp4

finish
