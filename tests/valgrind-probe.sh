#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/valgrind-probe.sh: can valgrind run this machine's GStreamer
# decoders? Plays one small H.264 MP4 through decodebin under valgrind
# twice: with every system plugin, as an application would, and with the
# private set the valgrind stage uses (tests/valgrind-plugins.sh). Prints a
# verdict for each, naming the library and function valgrind could not run.
# Exits 0 when the private set runs (the valgrind stage can work here), 1
# when it does not.
#
# Some libraries use instructions that valgrind 3.19 does not know on some
# CPUs (libhwy, under gst-libav, runs RDTSCP in a constructor on AVX-512
# machines): a test that autoplugs them dies with SIGILL under valgrind
# only, whatever our code does.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
system=$(pkg-config --variable=pluginsdir gstreamer-1.0)
tests/valgrind-plugins.sh "$work/plugins" >/dev/null

gst-launch-1.0 -q videotestsrc num-buffers=10 ! \
  video/x-raw,format=I420,width=160,height=120,framerate=25/1 ! \
  x264enc speed-preset=ultrafast ! mp4mux ! filesink location="$work/clip.mp4"

# probe NAME PLUGIN-DIR: one decodebin run under valgrind
probe () {
  local name=$1 plugins=$2 log="$work/$1.log" rc=0

  # in a subshell, so that bash does not print its own line for a SIGILL
  { (GST_PLUGIN_SYSTEM_PATH_1_0="" GST_PLUGIN_PATH_1_0="$plugins" \
    GST_REGISTRY_1_0="$work/$name.registry" \
    exec valgrind --log-file="$log" gst-launch-1.0 -q \
    filesrc location="$work/clip.mp4" ! decodebin ! fakesink) >/dev/null 2>&1; } \
    2>/dev/null || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "valgrind-probe: $name: yes, decodebin ran under valgrind"
    return 0
  fi
  echo "valgrind-probe: $name: NO, decodebin under valgrind ended with status $rc"
  # the frame valgrind stopped at: "at 0x...: function (in /path/lib.so)"
  grep -A1 -E 'Unrecognised instruction|Illegal opcode' "$log" |
    grep -E '^==[0-9]+== +at 0x' | head -n 1 |
    sed -E 's/^==[0-9]+== +at 0x[0-9A-Fa-f]+: /valgrind-probe:   it could not run /'
  return 1
}

probe "every-system-plugin" "$system" || true
if probe "the-valgrind-stage-set" "$work/plugins"; then
  exit 0
fi
exit 1
