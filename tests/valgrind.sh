#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/valgrind.sh [MESON TEST ARGS]: the whole GstCheck suite under
# valgrind's memcheck, in the ordinary build directory (build/, or $BUILDDIR
# as tests/run.sh has it). A test fails on any memory error and on any block
# definitely lost, unless tests/valgrind.supp says why it is not ours. Each
# process writes its report to build/valgrind/PID.log; those that found
# something are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

.ci/deps valgrind

builddir=${BUILDDIR:-build}
if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" -Dtests=enabled >/dev/null
fi
if ! meson compile -C "$builddir" >"$builddir/valgrind-compile.log" 2>&1; then
  cat "$builddir/valgrind-compile.log"
  exit 1
fi

logdir="$(cd "$builddir" && pwd)/valgrind"
rm -rf "$logdir"
mkdir -p "$logdir"

# The system plugins the tests may load under valgrind: only those the
# suite needs, none that valgrind cannot run on this CPU
# (tests/valgrind-plugins.sh says why, tests/valgrind-probe.sh checks).
export LUMA_SYSTEM_PLUGINS LUMA_VALGRIND_PLUGINS="$logdir/plugins"
LUMA_SYSTEM_PLUGINS=$(pkg-config --variable=pluginsdir gstreamer-1.0)
echo "valgrind: the tests load our plugin and these system plugins:" \
  "$(tests/valgrind-plugins.sh "$LUMA_VALGRIND_PLUGINS")"
# Says whether this machine's libraries run under valgrind at all; the stage
# cannot check anything where even the private set does not.
if ! tests/valgrind-probe.sh; then
  echo "valgrind: this machine's decoders cannot run under valgrind, even the" \
    "private set: the stage cannot check the decode paths here" >&2
  exit 1
fi

# Check runs each test in a forked child, which stays under valgrind and
# writes a report of its own (%p). --gen-suppressions prints, under each
# finding, the entry that would silence it, for when it is not ours.
wrap=("$PWD/tests/valgrind-wrap.sh"
  --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite
  --error-exitcode=1 --num-callers=40 --gen-suppressions=all
  --suppressions="$PWD/tests/valgrind.supp"
  --log-file="$logdir/%p.log")

# GLib's slab allocator would hide blocks from memcheck, and gc-friendly
# clears pointers in freed memory so that nothing dead keeps a leak
# reachable.
export G_SLICE=always-malloc G_DEBUG=gc-friendly
# The suite runs about 6 times slower under valgrind (stress: 10 s, 60 s),
# well within the tests' own timeouts, which are tens of times their normal
# run time; tripling them keeps a margin for a slower machine without
# letting a hung test hold the run for hours. Both meson's timeouts and
# Check's (CK_DEFAULT_TIMEOUT, set per test) are scaled.
multiplier=${LUMA_VALGRIND_TIMEOUT_MULTIPLIER:-3}
export CK_TIMEOUT_MULTIPLIER=$multiplier

# Tests that assert how fast something happens scale their limits by
# CK_TIMEOUT_MULTIPLIER (tests/check/harness.c: luma_test_slowdown()).

# The examples suite runs shell scripts: wrapped, valgrind would check bash
# (it does not follow children, which would take it through Python and
# gst-launch too). Their C programs are checked in the sanitizer stage.
rc=0
meson test -C "$builddir" --timeout-multiplier "$multiplier" --print-errorlogs \
  --no-suite examples --wrap="${wrap[*]@Q}" "$@" || rc=$?

found=0
for log in "$logdir"/[0-9]*.log; do
  grep -q 'ERROR SUMMARY: [1-9]' "$log" || continue
  found=$((found + 1))
  echo
  echo "---- valgrind: $log"
  cat "$log"
done
processes=$(find "$logdir" -name '[0-9]*.log' | wc -l)
echo "valgrind: $processes processes, $found with findings"
if [ "$found" -ne 0 ] && [ "$rc" -eq 0 ]; then
  rc=1
fi
exit "$rc"
