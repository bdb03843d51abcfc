#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/fuzz/run.sh [SECONDS]: fuzzes the record-info parser with libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer for SECONDS (60 by
# default), starting from the seed corpus in tests/fuzz/corpus/. Prints the
# number of executions; exits non-zero when an input crashed, leaked, hung or
# broke the parser's contract, and keeps that input in
# build-fuzz/fuzz-artifacts/ (replay it: build-fuzz/tests/fuzz/fuzz-record FILE).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-60}
case $seconds in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

# clang is the compiler with libFuzzer; its runtimes (fuzzer, ASan, UBSan)
# are in libclang-rt-14-dev, which the clang package only recommends.
.ci/deps clang libclang-rt-14-dev

builddir=${LUMA_FUZZ_BUILDDIR:-build-fuzz}
# tests/fuzz/ is reached through tests/meson.build, so the tests are not
# disabled here; only the fuzz target is compiled below.
setup_args=(-Dfuzzing=true -Dtests=enabled -Dexamples=disabled)
if [ -f "$builddir/build.ninja" ]; then
  meson setup --reconfigure "$builddir" "${setup_args[@]}" >/dev/null
else
  # meson takes the compiler from CC once, when the directory is made
  CC=clang meson setup "$builddir" "${setup_args[@]}" >/dev/null
fi
meson compile -C "$builddir" tests/fuzz/fuzz-record >/dev/null

# libFuzzer adds what it finds to the first corpus directory: a copy, so that
# the seeds in the repository stay the hand-made ones.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R tests/fuzz/corpus "$work/corpus"
artifacts="$(cd "$builddir" && pwd)/fuzz-artifacts"
mkdir -p "$artifacts"

# halt_on_error: the first finding ends the run with its stack.
# print_stacktrace: UBSan prints none otherwise. What the caller has in
# these variables comes after ours and wins.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# -max_len: answers are refused above 1 MiB, but mutating bodies that large
# is slow; 64 KiB reaches every branch of the parser.
# -timeout: a body that takes 10 s to parse is a finding too.
rc=0
"$builddir/tests/fuzz/fuzz-record" \
  -max_total_time="$seconds" \
  -dict=tests/fuzz/record.dict \
  -max_len=65536 \
  -timeout=10 \
  -print_final_stats=1 \
  -artifact_prefix="$artifacts/" \
  "$work/corpus" >"$work/fuzz.log" 2>&1 || rc=$?

executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log")
per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log")
added=$(sed -n 's/^stat::new_units_added: *//p' "$work/fuzz.log")
corpus=$(find "$work/corpus" -type f | wc -l)

if [ "$rc" -ne 0 ]; then
  # The progress lines before the finding say nothing: only the report.
  grep -v -E '^#[0-9]+[[:space:]]' "$work/fuzz.log" | tail -n 80
  echo "fuzz-record: FAILED (exit $rc) after ${executions:-?} executions;" \
    "the input is in $artifacts/"
  exit 1
fi
echo "fuzz-record: ${executions:-?} executions in ${seconds} s" \
  "(${per_second:-?}/s), ${added:-0} new inputs, corpus of $corpus, no crash"
