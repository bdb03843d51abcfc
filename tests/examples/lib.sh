# gst-luma tests: what the example tests share. Sourced by each of them.
# Copyright (C) 2026 gst-luma developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# meson sets WORKDIR (one folder per test, kept after the run for a look at
# what went wrong), LUMA_EMULATOR, the paths of the examples, and a
# hermetic GStreamer environment. Results are printed as TAP.

set -uo pipefail

KEY=test-key
checks=0
failures=0
emulator_pid=

rm -rf "$WORKDIR"
mkdir -p "$WORKDIR"
cd "$WORKDIR" || exit 1
# whatever the examples keep for the user (lumasrc's store of results, the
# task journal) goes under this test's own folder, never into the real home
export XDG_DATA_HOME=$WORKDIR/xdg-data XDG_CACHE_HOME=$WORKDIR/xdg-cache
export XDG_STATE_HOME=$WORKDIR/xdg-state
unset GST_LUMA_STORE GST_LUMA_STORE_DIR GST_LUMA_STORE_LIMIT

stop_emulator() {
  if [ -n "$emulator_pid" ]; then
    kill "$emulator_pid" 2>/dev/null
    wait "$emulator_pid" 2>/dev/null
  fi
  emulator_pid=
}
trap stop_emulator EXIT

ok() {
  checks=$((checks + 1))
  echo "ok $checks - $1"
}

not_ok() {
  checks=$((checks + 1))
  failures=$((failures + 1))
  echo "not ok $checks - $1"
}

# check DESCRIPTION COMMAND...: one TAP line for whether COMMAND succeeds.
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# The plan at the end, as TAP allows; the exit status for meson.
finish() {
  echo "1..$checks"
  [ "$failures" -eq 0 ]
  exit $?
}

# Prerequisites missing: one failed check that says which, and stop.
bail_out() {
  echo "Bail out! $1"
  exit 1
}

# make_sample PATH [audio|long]: a 2 s 160x120 H.264 clip, with AAC sound
# if asked. long: 10 s of 320x240 noise (7 MB: more than a player reads
# ahead while it prerolls), a key frame each second, its index first, as a
# video made for the web: a demuxer reads the index, then seeks, and a
# seek into the clip skips bytes.
make_sample() {
  local audio=() frames=50 size=width=160,height=120 pattern=smpte
  local encoding=() faststart=false
  if [ "${2:-}" = audio ]; then
    audio=(audiotestsrc num-buffers=86 ! audioconvert ! avenc_aac ! queue ! mux.)
  elif [ "${2:-}" = long ]; then
    frames=250 size=width=320,height=240 pattern=snow faststart=true
    encoding=(key-int-max=25 bitrate=6000)
  fi
  gst-launch-1.0 -q videotestsrc num-buffers=$frames pattern=$pattern \
    ! video/x-raw,format=I420,$size,framerate=25/1 \
    ! x264enc speed-preset=ultrafast "${encoding[@]}" ! queue \
    ! mp4mux name=mux faststart=$faststart \
    ! filesink location="$1" "${audio[@]}" >/dev/null 2>&1 \
    || bail_out "cannot make the sample clip $1 (gst-launch-1.0, x264enc, avenc_aac)"
}

# start_emulator PROGRAM ARGS... READY_FILE: runs a KIE emulator that writes
# KIE_API_URL=... (and KIE_UPLOAD_URL=... with --print-upload-url) into
# READY_FILE (its last argument), and exports each line.
start_emulator() {
  local ready=${!#}
  rm -f "$ready"
  "$@" >emulator.log 2>&1 &
  emulator_pid=$!
  for _ in $(seq 100); do
    [ -s "$ready" ] && break
    sleep 0.1
  done
  [ -s "$ready" ] || bail_out "the emulator did not start: $(cat emulator.log)"
  local line
  while IFS= read -r line; do
    export "$line"
  done <"$ready"
  export KIE_API_KEY=$KEY
}

# start_luma_emulator --task ...: the luma-emulator program.
start_luma_emulator() {
  start_emulator "$LUMA_EMULATOR" --key "$KEY" "$@" --ready-file emulator.ready
}

# duration_of FILE: its duration in seconds, as gst-discoverer-1.0 reads it.
duration_of() {
  gst-discoverer-1.0 "$1" 2>/dev/null | awk -F': ' '/^ *Duration:/ {
    split($2, t, ":"); print t[1] * 3600 + t[2] * 60 + t[3]; exit }'
}

# has_duration FILE MIN MAX
has_duration() {
  local d
  d=$(duration_of "$1")
  echo "# $1: duration ${d:-unknown} s"
  [ -n "$d" ] && awk -v d="$d" -v lo="$2" -v hi="$3" 'BEGIN { exit !(d >= lo && d <= hi) }'
}

# has_stream FILE PATTERN: gst-discoverer-1.0 lists a stream like PATTERN.
# (Not grep -q: with pipefail, the discoverer's SIGPIPE would count.)
has_stream() {
  gst-discoverer-1.0 "$1" 2>/dev/null | grep -E "$2" >/dev/null
}

lacks_stream() {
  ! has_stream "$@"
}

# run_status NAME COMMAND...: runs COMMAND with its output in NAME.out and
# prints its exit status.
run_status() {
  local name=$1
  shift
  "$@" >"$name.out" 2>&1
  echo $?
}

# exits_with EXPECTED NAME COMMAND...: COMMAND exits with EXPECTED.
exits_with() {
  local expected=$1 name=$2 status
  shift 2
  status=$(run_status "$name" "$@")
  echo "# $name: exit status $status"
  if [ "$status" != "$expected" ]; then
    sed 's/^/#   /' "$name.out"
    return 1
  fi
}

# output_has NAME PATTERN: what the command NAME printed matches PATTERN.
output_has() {
  grep -qE "$2" "$1.out"
}
