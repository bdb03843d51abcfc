#!/usr/bin/env bash
# The demo that needs no KIE account: installs what is missing, builds,
# starts the KIE emulator with a sample clip as a task that "generates" for a
# few seconds, and lets lumasrc wait for it and save its video.
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

ready="$demo/emulator.ready"
rm -f "$ready" "$out"
"$builddir/tests/emulator/luma-emulator" --key demo-key --ready-file "$ready" \
  --task "demo-task=$sample,generating-ms=6000" >/dev/null &
emulator=$!
trap 'kill $emulator 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$ready" ] && break; sleep 0.1; done
[ -s "$ready" ] || { echo "the emulator did not start" >&2; exit 1; }
export $(cat "$ready")

echo "KIE emulator at $KIE_API_URL; the task generates for 6 s."
GST_PLUGIN_PATH="$builddir/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}" \
KIE_API_KEY=demo-key \
  gst-launch-1.0 lumasrc task-id=demo-task poll-interval=1000 \
  ! filesink location="$out"

cmp -s "$sample" "$out" && echo "The saved video is byte for byte the task's result."
echo "Saved: $(realpath "$out")"
gst-discoverer-1.0 "$out" | grep -E 'Duration|video' || true
