#!/usr/bin/env bash
# The demo that needs no KIE account: installs what is missing, builds,
# makes a 5 s sample clip, starts the KIE emulator (its API, its result-file
# host and its file upload host), and has lumamodify upload the clip, create
# the task, wait while it "generates" for a few seconds and save its video.
set -euo pipefail
cd "$(dirname "$0")/.."

.ci/deps
builddir=${BUILDDIR:-build}
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" >/dev/null
meson compile -C "$builddir" >/dev/null

demo="$builddir/demo"
mkdir -p "$demo"
sample="$demo/sample.mp4"
out="$demo/luma-demo.mp4"
if [ ! -s "$sample" ]; then
  echo "Making a 5 s sample clip..."
  gst-launch-1.0 -q videotestsrc num-buffers=125 \
    ! video/x-raw,format=I420,width=640,height=360,framerate=25/1 \
    ! timeoverlay ! x264enc speed-preset=veryfast ! mp4mux \
    ! filesink location="$sample"
fi

# A journal of the demo's own, empty at each run: the emulator forgets its
# tasks when it stops, so a task the journal kept from the last run would
# be unknown to this one.
export XDG_STATE_HOME="$demo/state"
rm -rf "$XDG_STATE_HOME"

ready="$demo/emulator.ready"
rm -f "$ready" "$out"
"$builddir/tests/emulator/luma-emulator" --key demo-key --ready-file "$ready" \
  --print-upload-url --created-generating-ms 6000 >/dev/null 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$ready" ] && break; sleep 0.1; done
[ -s "$ready" ] || { echo "the emulator did not start" >&2; exit 1; }
# KIE_API_URL and KIE_UPLOAD_URL
export $(cat "$ready")

echo "KIE emulator at $KIE_API_URL, uploads at $KIE_UPLOAD_URL;" \
  "a task generates for 6 s."
GST_PLUGIN_PATH="$builddir/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}" \
KIE_API_KEY=demo-key \
  gst-launch-1.0 filesrc location="$sample" \
  ! lumamodify prompt="Make it look like a snowy night" poll-interval=1000 \
  ! filesink location="$out"

# the emulator's "modification" gives the clip back as it was
cmp -s "$sample" "$out" && echo "The saved video is byte for byte the task's result."
echo "Saved: $(realpath "$out")"
gst-discoverer-1.0 "$out" | grep -E 'Duration|video' || true
