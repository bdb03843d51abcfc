#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/valgrind-plugins.sh DIR: fills DIR with links to the system
# GStreamer plugins the suite needs, and only those, for tests/valgrind.sh.
#
# Why: valgrind 3.19 cannot run every library on every CPU. On AVX-512
# machines libhwy (libavcodec -> libjxl -> libhwy) dies with SIGILL in a
# library constructor as soon as decodebin autoplugs gst-libav. Under
# valgrind the suite therefore sees a private plugin set: parsing, demuxing
# and decoding H.264 through openh264 (gst-plugins-bad), which pulls in
# nothing valgrind cannot run. The main and sanitizer stages keep the whole
# system set. Prints the plugins it linked; fails, naming it, when one is
# missing, so that nothing is skipped silently.
set -euo pipefail

dir=$1
system=$(pkg-config --variable=pluginsdir gstreamer-1.0)

# What the tests use: fixtures (videotestsrc, x264enc, mp4mux; a clip
# with sound: audiotestsrc, lamemp3enc), pipelines (core elements,
# typefind, decodebin/playbin/uridecodebin, qtdemux, h264parse,
# openh264dec), and what playbin's sinks and the discoverer convert
# through.
plugins=(
  coreelements typefindfunctions playback isomp4 videoparsersbad openh264
  videotestsrc x264 app pbtypes videoconvertscale audioconvert audioresample
  volume autodetect audiotestsrc lame
)

rm -rf "$dir"
mkdir -p "$dir"
for p in "${plugins[@]}"; do
  lib="$system/libgst$p.so"
  if [ ! -f "$lib" ]; then
    echo "valgrind-plugins.sh: $lib is missing (see .ci/deps)" >&2
    exit 1
  fi
  if ldd "$lib" | grep -q -E 'lib(hwy|jxl)\.'; then
    echo "valgrind-plugins.sh: $lib pulls in libhwy, which valgrind cannot run on every CPU" >&2
    exit 1
  fi
  ln -s "$lib" "$dir/"
done
echo "${plugins[*]}"
