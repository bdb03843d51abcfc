#!/usr/bin/env bash
# gst-luma tests: luma-wait-many.py waits for several tasks in one process.
# Copyright (C) 2026 gst-luma developers
# SPDX-License-Identifier: LGPL-2.1-or-later
source "$(dirname "$0")/lib.sh"

"$PYTHON" -c 'import gi; gi.require_version("Gst", "1.0")' 2>/dev/null \
  || bail_out "$PYTHON has no PyGObject for GStreamer: install python3-gi gir1.2-gstreamer-1.0"
"$PYTHON" -c 'import gi; gi.require_version("GstLuma", "1.0")' 2>/dev/null \
  || bail_out "no GstLuma typelib in GI_TYPELIB_PATH (${GI_TYPELIB_PATH:-unset}): build with -Dintrospection=enabled (gobject-introspection, libgirepository1.0-dev)"

make_sample video.mp4
make_sample av.mp4 audio
start_luma_emulator --task slow=video.mp4,generating-ms=2000 \
  --task quick=av.mp4 --task failed=,flag=3,error-message=boom

wait_many() {
  "$PYTHON" "$LUMA_WAIT_MANY" --poll-interval 200 "$@"
}

mkdir all-good some-bad
check "two good tasks: exit status 0" exits_with 0 good wait_many all-good slow quick
check "progress of each task" output_has good '^slow: generating'
check "the quick task is saved while the slow one waits" \
  bash -c "grep -n -e '^quick: saved' -e '^slow: success' good.out | head -1 | grep -q quick"
check "slow task: 2 s of video" has_duration all-good/slow.mp4 1.9 2.1
check "quick task: 2 s of video" has_duration all-good/quick.mp4 1.9 2.2
check "the saved files are the tasks' videos" cmp -s video.mp4 all-good/slow.mp4
check "no .part left" bash -c '! ls all-good/*.part 2>/dev/null'

check "a failed task among good ones: exit status 1" \
  exits_with 1 some-bad wait_many some-bad quick failed slow
check "the failure is told" output_has some-bad '^failed: failed \(generate-failed\).*boom'
check "the good ones are still saved" \
  test -s some-bad/quick.mp4 -a -s some-bad/slow.mp4
check "nothing saved for the failed one" test ! -e some-bad/failed.mp4
check "bad command line: 2" exits_with 2 usage wait_many all-good
# a number beyond the property's range is a bad command line (2)
check "--poll-interval beyond 32 bits: 2" \
  exits_with 2 huge wait_many --poll-interval 99999999999 all-good quick
check "--wait-timeout beyond 32 bits: 2" \
  exits_with 2 hugewait wait_many --wait-timeout 99999999999 all-good quick

finish
