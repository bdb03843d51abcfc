#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/fuzz/run.sh [SECONDS]: fuzzes what lumasrc parses of what others
# send, with libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer: the
# record-info parser for SECONDS (60 by default), then each other target
# for the time the table below gives it, each from its seed corpus in
# tests/fuzz/corpus-NAME/ (and its dictionary tests/fuzz/fuzz-NAME.dict, if
# any). Prints the number of executions per target; exits non-zero when an
# input crashed, leaked, hung or broke a parser's contract, and keeps that
# input in build-fuzz/fuzz-artifacts/ (replay it:
# build-fuzz/tests/fuzz/fuzz-NAME FILE).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-60}
case $seconds in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

# The targets (tests/fuzz/fuzz-NAME.c, built by tests/fuzz/meson.build) and
# their time: the record parser gets the most, being the largest.
targets=(
  "record $seconds"
  "uri 20"
  "content-range 20"
  "proxy 20"
  "retry-after 20"
  "create-answer 20"
  "upload-answer 20"
  "link-answer 20"
  "store-meta 20"
)

# clang is the compiler with libFuzzer; its runtimes (fuzzer, ASan, UBSan)
# are in libclang-rt-14-dev, which the clang package only recommends.
.ci/deps clang libclang-rt-14-dev

builddir=${LUMA_FUZZ_BUILDDIR:-build-fuzz}
# tests/fuzz/ is reached through tests/meson.build, so the tests are not
# disabled here; only the fuzz targets are compiled below.
setup_args=(-Dfuzzing=true -Dtests=enabled -Dexamples=disabled)
if [ -f "$builddir/build.ninja" ]; then
  meson setup --reconfigure "$builddir" "${setup_args[@]}" >/dev/null
else
  # meson takes the compiler from CC once, when the directory is made
  CC=clang meson setup "$builddir" "${setup_args[@]}" >/dev/null
fi
for t in "${targets[@]}"; do
  meson compile -C "$builddir" "tests/fuzz/fuzz-${t%% *}" >/dev/null
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts="$(cd "$builddir" && pwd)/fuzz-artifacts"
mkdir -p "$artifacts"

# halt_on_error: the first finding ends the run with its stack.
# print_stacktrace: UBSan prints none otherwise. What the caller has in
# these variables comes after ours and wins.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# fuzz NAME SECONDS
fuzz () {
  local name=$1 time=$2 rc=0 log="$work/$1.log" corpus="$work/corpus-$1"
  local dict=()

  # libFuzzer adds what it finds to the first corpus directory: a copy, so
  # that the seeds in the repository stay the hand-made ones.
  mkdir -p "$corpus"
  if [ -d "tests/fuzz/corpus-$name" ]; then
    cp -R "tests/fuzz/corpus-$name/." "$corpus/"
  fi
  if [ -f "tests/fuzz/fuzz-$name.dict" ]; then
    dict=(-dict="tests/fuzz/fuzz-$name.dict")
  fi
  # -max_len: answers are refused above 1 MiB, but mutating inputs that
  # large is slow; 64 KiB reaches every branch of the parsers.
  # -timeout: an input that takes 10 s to parse is a finding too.
  "$builddir/tests/fuzz/fuzz-$name" \
    -max_total_time="$time" \
    "${dict[@]}" \
    -max_len=65536 \
    -timeout=10 \
    -print_final_stats=1 \
    -artifact_prefix="$artifacts/fuzz-$name-" \
    "$corpus" >"$log" 2>&1 || rc=$?

  local executions per_second added count
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  added=$(sed -n 's/^stat::new_units_added: *//p' "$log")
  count=$(find "$corpus" -type f | wc -l)

  if [ "$rc" -ne 0 ]; then
    # The progress lines before the finding say nothing: only the report.
    grep -v -E '^#[0-9]+[[:space:]]' "$log" | tail -n 80
    echo "fuzz-$name: FAILED (exit $rc) after ${executions:-?} executions;" \
      "the input is in $artifacts/"
    return 1
  fi
  echo "fuzz-$name: ${executions:-?} executions in ${time} s" \
    "(${per_second:-?}/s), ${added:-0} new inputs, corpus of $count, no crash"
}

failed=0
for t in "${targets[@]}"; do
  fuzz ${t} || failed=$((failed + 1))
done
[ "$failed" -eq 0 ]
