#!/usr/bin/env bash
# What lumasrc costs while it waits: many instances in one process, each
# waiting for a task that generates for a while (KIE emulator on loopback),
# and the CPU time the process spent meanwhile. Target: near zero.
#   tests/bench/bench-waiting.sh [INSTANCES] [GENERATING_SECONDS] [POLL_MS]
set -euo pipefail
cd "$(dirname "$0")/../.."

instances=${1:-200}
seconds=${2:-20}
poll_ms=${3:-1000}
builddir=${BUILDDIR:-build}

.ci/deps
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" -Dtests=enabled >/dev/null
meson compile -C "$builddir" >/dev/null

work=$(mktemp -d)
emulator_pid=""
cleanup() {
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

head -c 65536 /dev/urandom > "$work/video.mp4"
task_args=()
for ((i = 0; i < instances; i++)); do
  task_args+=(--task "bench-$i=$work/video.mp4,generating-ms=$((seconds * 1000))")
done
"$builddir/tests/emulator/luma-emulator" --key bench-key \
  --ready-file "$work/ready" "${task_args[@]}" >/dev/null 2>&1 &
emulator_pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
[ -s "$work/ready" ] || { echo "the emulator did not start" >&2; exit 1; }

echo "== lumasrc while waiting: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores," \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
# the store off: the 200 small videos streamed at the end are not the point,
# and must not land in the user's store
env "$(cat "$work/ready")" KIE_API_KEY=bench-key GST_LUMA_STORE=off \
  GST_PLUGIN_PATH="$PWD/$builddir/plugin" \
  "$builddir/tests/bench/bench-waiting" --instances "$instances" \
  --poll-interval "$poll_ms"
