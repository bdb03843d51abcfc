#!/usr/bin/env bash
# gst-luma tests: luma-transcode saves a task's video, remuxed or re-encoded.
# Copyright (C) 2026 gst-luma developers
# SPDX-License-Identifier: LGPL-2.1-or-later
source "$(dirname "$0")/lib.sh"

# several polls drawn over each other (carriage return, erase to the end
# of the line), none on a line of its own
rewritten_line() {
  [ "$(grep -o $'\rTask tty: generating' "$1" | wc -l)" -ge 2 ] \
    && grep -q $'\e\\[K' "$1" && ! grep -q '^Task tty: generating' "$1"
}

make_sample video.mp4
make_sample av.mp4 audio
start_luma_emulator --task gen=video.mp4,generating-ms=1500 --task av=av.mp4 \
  --task tty=video.mp4,generating-ms=1000 --task cb=video.mp4,flag=4

# remux, after a wait with a progress line at each poll
check "remux: exit status 0" \
  exits_with 0 remux "$LUMA_TRANSCODE" --poll-interval 200 gen remux.mp4
check "remux: progress while generating" output_has remux '^Task gen: generating'
check "remux: says when the task is ready" output_has remux '^Task gen is ready'
check "remux: the video is 2 s long" has_duration remux.mp4 1.9 2.1
check "remux: H.264 as it was" has_stream remux.mp4 'video #.*H\.264'
check "remux: no .part left" test ! -e remux.mp4.part

# on a terminal (script(1) gives it one), the progress is one line
check "on a terminal: exit status 0" exits_with 0 tty \
  script -qec "'$LUMA_TRANSCODE' --poll-interval 200 tty tty.mp4" /dev/null
check "on a terminal: the progress line is rewritten" rewritten_line tty.out

check "callback failed: exit status 0 all the same" \
  exits_with 0 callback "$LUMA_TRANSCODE" cb callback.mp4
check "callback failed: a warning" output_has callback 'warning: .*callback'

check "remux with sound: exit status 0" \
  exits_with 0 remux-av "$LUMA_TRANSCODE" --poll-interval 200 av remux-av.mp4
check "remux with sound: the video is 2 s long" has_duration remux-av.mp4 1.9 2.2
check "remux with sound: video kept" has_stream remux-av.mp4 'video #.*H\.264'
check "remux with sound: audio kept" has_stream remux-av.mp4 'audio #.*AAC'

check "reencode: exit status 0" \
  exits_with 0 reencode "$LUMA_TRANSCODE" --reencode --poll-interval 200 av reencode.mp4
check "reencode: the video is 2 s long" has_duration reencode.mp4 1.9 2.2
check "reencode: H.264 from x264enc (High profile)" \
  has_stream reencode.mp4 'video #.*H\.264 \(High'
check "reencode: AAC sound" has_stream reencode.mp4 'audio #.*AAC'

finish
