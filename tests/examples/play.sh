#!/usr/bin/env bash
# gst-luma tests: luma-play plays a luma:// URI with playbin and seeks in it.
# Copyright (C) 2026 gst-luma developers
# SPDX-License-Identifier: LGPL-2.1-or-later
source "$(dirname "$0")/lib.sh"

make_sample video.mp4
make_sample av.mp4 audio
start_luma_emulator --task gen=video.mp4,generating-ms=1000 --task av=av.mp4 \
  --task failed=,flag=3 --task slow=video.mp4,generating-ms=600000 \
  --task 'accented=,flag=3,error-message=Vidéo refusée'

play() {
  "$LUMA_PLAY" --fakesinks --poll-interval 100 "$@" </dev/null
}

check "seek test after a wait: exit status 0" exits_with 0 seek play --seek-test gen
check "seek test: progress while generating" output_has seek '^Task gen: generating'
check "seek test: seeks to the middle" output_has seek 'seeking to 0:00:01\.0'
check "seek test: lands there" output_has seek 'frame at 0:00:01\.0'
check "seek test: plays on to the end" output_has seek 'played to the end'

check "seek test with sound: exit status 0" exits_with 0 seek-av play --seek-test av
check "plain play to the end: exit status 0" exits_with 0 plain play av
check "a whole luma:// URI: exit status 0" exits_with 0 uri play 'luma://av?retries=1'

check "generation failed: 3" exits_with 3 failed play failed
# KIE's text as it is in a UTF-8 locale (LC_ALL=C.UTF-8 here)
check "test_play_utf8_message: exit 3" exits_with 3 accented play accented
check "test_play_utf8_message: KIE's message as it is" output_has accented 'Vidéo refusée'
check "key refused: 5" exits_with 5 key env KIE_API_KEY=wrong-key "$LUMA_PLAY" --fakesinks av
check "wait timeout: 6" exits_with 6 timeout play --wait-timeout 1 slow
# --help says "--wait-timeout=S ... 0 = forever"; a luma:// URI
# cannot turn a bound off (wait-timeout=0 refuses the URI)
check "--wait-timeout 0 (forever): exit status 0" exits_with 0 forever play --wait-timeout 0 av
check "bad command line: 2" exits_with 2 usage play

finish
