#!/usr/bin/env bash
# gst-luma tests: luma-ges-timeline.py renders luma:// clips with GES.
# Copyright (C) 2026 gst-luma developers
# SPDX-License-Identifier: LGPL-2.1-or-later
source "$(dirname "$0")/lib.sh"

"$PYTHON" -c 'import gi; gi.require_version("GES", "1.0")' 2>/dev/null \
  || bail_out "$PYTHON has no GES bindings: install python3-gi gir1.2-ges-1.0"
"$PYTHON" -c 'import gi; gi.require_version("GstLuma", "1.0")' 2>/dev/null \
  || bail_out "no GstLuma typelib in GI_TYPELIB_PATH (${GI_TYPELIB_PATH:-unset}): build with -Dintrospection=enabled (gobject-introspection, libgirepository1.0-dev)"

make_sample video.mp4
make_sample av.mp4 audio
make_sample long.mp4 long
start_luma_emulator --task gen=video.mp4,generating-ms=1500 --task av=av.mp4 \
  --task failed=,flag=3 --task trimmed=long.mp4

timeline() {
  "$PYTHON" "$LUMA_GES_TIMELINE" --poll-interval 200 "$@"
}

check "two tasks, one still generating: exit status 0" \
  exits_with 0 render timeline render.mp4 gen av
check "progress while generating" output_has render '^gen: generating'
check "the clips end to end: 4 s" has_duration render.mp4 3.8 4.3
check "H.264 video" has_stream render.mp4 'video #.*H\.264'
check "AAC audio (one clip has sound)" has_stream render.mp4 'audio #.*AAC'
check "the first clip's size" has_stream render.mp4 'Width: 160$'

check "the same task twice: exit status 0" \
  exits_with 0 twice timeline twice.mp4 gen gen
check "the same task twice: 4 s" has_duration twice.mp4 3.8 4.2
check "video only: no audio stream" lacks_stream twice.mp4 'audio #'

# --help says "--wait-timeout S ... 0 = forever"; a luma:// URI
# cannot turn a bound off (wait-timeout=0 refuses the URI)
check "--wait-timeout 0 (forever): exit status 0" \
  exits_with 0 forever timeline --wait-timeout 0 forever.mp4 av
check "--wait-timeout 0: no traceback" bash -c '! grep -q Traceback forever.out'
# a number beyond the property's range is a bad command line (2)
check "--poll-interval beyond 32 bits: 2" \
  exits_with 2 huge timeline --poll-interval 99999999999 huge.mp4 av
check "--wait-timeout beyond 32 bits: 2" \
  exits_with 2 hugewait timeline --wait-timeout 99999999999 huge.mp4 av

# an editor's trimmed clip: opened at its in-point, it is still stored whole
# (the bytes before are fetched in the background while it renders)
check "a trimmed clip: exit status 0" \
  exits_with 0 trim timeline --trim 5 trim.mp4 trimmed
check "a trimmed clip: 5 s" has_duration trim.mp4 4.8 5.2
check "--trim -1: 2" exits_with 2 badtrim timeline --trim -1 bad.mp4 av

check "a failed task: exit status 1" exits_with 1 failed timeline failed.mp4 gen failed
check "a failed task: no output" test ! -e failed.mp4 -a ! -e failed.mp4.part

# KIE deleted the files (here the whole emulator is gone) and there is no
# key: the clips the renders above stored still make the timeline.
stop_emulator
unset KIE_API_KEY
check "the emulator gone, no key: the stored clips render: exit status 0" \
  exits_with 0 offline timeline offline.mp4 gen av
check "offline: the clips end to end: 4 s" has_duration offline.mp4 3.8 4.3
check "offline: AAC audio" has_stream offline.mp4 'audio #.*AAC'
check "offline: the trimmed clip's whole video: exit status 0" \
  exits_with 0 wholeoffline timeline whole.mp4 trimmed
check "offline: the trimmed clip's whole video: 10 s" \
  has_duration whole.mp4 9.8 10.2

finish
