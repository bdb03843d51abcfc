#!/usr/bin/env bash
# gst-luma tests: the exit statuses of luma-transcode, one per cause.
# Copyright (C) 2026 gst-luma developers
# SPDX-License-Identifier: LGPL-2.1-or-later
source "$(dirname "$0")/lib.sh"

make_sample video.mp4
start_luma_emulator --task ok=video.mp4 \
  --task failed=,flag=3,error-code=501,error-message=boom \
  --task uncreated=,flag=2,error-message=nope \
  --task slow=video.mp4,generating-ms=600000 \
  --task throttled=video.mp4,fail-status=429,fail-retry-after=1 \
  --task 'accented=,flag=3,error-message=Vidéo refusée'

transcode() {
  "$LUMA_TRANSCODE" --poll-interval 100 "$@"
}

check "bad command line: 2" exits_with 2 usage transcode only-one-argument
check "unknown option: 2" exits_with 2 option transcode --no-such-option ok out.mp4
check "--help lists the exit statuses" exits_with 0 help transcode --help
check "--help: 6 is a timeout" output_has help '^ +6 +the task was still generating'

check "generation failed: 3" exits_with 3 failed transcode failed failed.mp4
check "generation failed: KIE's message shown" output_has failed 'boom'
check "generation failed: no output file" test ! -e failed.mp4 -a ! -e failed.mp4.part
# KIE's text reaches the user as it is in a UTF-8 locale (meson
# sets LC_ALL=C.UTF-8), not with "?" for each character beyond ASCII
check "test_transcode_utf8_message: exit 3" exits_with 3 accented transcode accented accented.mp4
check "test_transcode_utf8_message: KIE's message as it is" output_has accented 'Vidéo refusée'
check "test_transcode_utf8_option_error: GLib's quotes" bash -c \
  '"$LUMA_TRANSCODE" --wait-timeout 99999999999 ok x.mp4 2>&1 | grep -q "“99999999999”"'
check "creation failed: 3" exits_with 3 uncreated transcode uncreated uncreated.mp4

check "key refused: 5" exits_with 5 key env KIE_API_KEY=wrong-key "$LUMA_TRANSCODE" ok key.mp4
check "no key at all: 1" exits_with 1 nokey env KIE_API_KEY= "$LUMA_TRANSCODE" ok nokey.mp4

check "wait timeout: 6" exits_with 6 timeout transcode --wait-timeout 1 slow timeout.mp4
check "wait timeout: the last state was generating" output_has timeout '^Task slow: generating'
check "wait timeout: no output file" test ! -e timeout.mp4 -a ! -e timeout.mp4.part

# a video host that keeps saying "later" (429) for a task that is done:
# busy too, but not "still generating", and no advice to wait for it
check "video host throttling: 1" exits_with 1 throttled transcode --wait-timeout 3 throttled throttled.mp4
check "video host throttling: the error names it" output_has throttled '429'
check "video host throttling: no output file" test ! -e throttled.mp4 -a ! -e throttled.mp4.part

check "unknown task: 1" exits_with 1 unknown transcode no-such-task unknown.mp4
check "unwritable output: 1" exits_with 1 unwritable transcode ok no-such-dir/out.mp4

# a task that is done, but whose result file the host no longer has
stop_emulator
start_emulator "$EXPIRED_EMULATOR" "$KEY" gone video.mp4 expired.ready
check "result expired: 4" exits_with 4 expired transcode gone expired.mp4
check "result expired: no output file" test ! -e expired.mp4 -a ! -e expired.mp4.part

finish
