#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, builds, and runs every test (each starts its own servers), then
# runs it again under the sanitizers and under valgrind, and fuzzes the
# record-info parser. CI runs exactly this (.ci/run).
#
#   tests/run.sh [MESON TEST ARGS]    e.g. tests/run.sh record lumasrc
#
# The stages, in order; a failing one does not stop the next, so that one
# run tells everything, and the exit status is non-zero if any failed:
#   main      the GstCheck suite in build/ ($BUILDDIR), built with
#             -Dwerror=true: a compiler warning fails the stage
#   asan      the same with AddressSanitizer and UBSan (tests/sanitize.sh)
#   valgrind  the same under valgrind's memcheck (tests/valgrind.sh)
#   fuzz      the parsers under libFuzzer (tests/fuzz/run.sh)
#   packaging the Debian packages: built, installed, used from the system
#             paths, purged (tests/packaging/run.sh)
#
# For developers: LUMA_QUICK=1 runs the main suite only; LUMA_STAGES picks
# stages ("main valgrind"); LUMA_FUZZ_SECONDS sets the fuzzing time (60).
set -euo pipefail
cd "$(dirname "$0")/.."

all_stages=(main asan valgrind fuzz packaging)
if [ -n "${LUMA_STAGES:-}" ]; then
  read -r -a stages <<<"$LUMA_STAGES"
elif [ "${LUMA_QUICK:-0}" = 1 ]; then
  stages=(main)
else
  stages=("${all_stages[@]}")
fi
for stage in "${stages[@]}"; do
  case " ${all_stages[*]} " in
    *" $stage "*) ;;
    *) echo "tests/run.sh: no stage \"$stage\" (stages: ${all_stages[*]})" >&2; exit 2 ;;
  esac
done

main_suite () {
  local builddir=${BUILDDIR:-build}

  # werror always, not only in CI: the compiler is Debian 12's everywhere,
  # so a warning seen here is the one CI would fail on.
  local setup_args=(-Dtests=enabled -Dwerror=true)

  # && rather than set -e, which does not apply inside a function whose
  # status is tested
  .ci/deps &&
    if [ -f "$builddir/build.ninja" ]; then
      meson setup --reconfigure "$builddir" "${setup_args[@]}" >/dev/null
    else
      meson setup "$builddir" "${setup_args[@]}" >/dev/null
    fi &&
    meson compile -C "$builddir" &&
    meson test -C "$builddir" --print-errorlogs "$@"
}

passed=0
failed=0
skipped=0
summary=()
for stage in "${all_stages[@]}"; do
  case " ${stages[*]} " in
    *" $stage "*) ;;
    *)
      skipped=$((skipped + 1))
      summary+=("$(printf '  %-9s skipped' "$stage")")
      continue
      ;;
  esac

  case $stage in
    main) title="the GstCheck suite (${BUILDDIR:-build}/)" ;;
    asan) title="the suite with AddressSanitizer and UBSan (build-asan/)" ;;
    valgrind) title="the suite under valgrind (${BUILDDIR:-build}/)" ;;
    fuzz) title="fuzzing the parsers: the record ${LUMA_FUZZ_SECONDS:-60} s, the others 20 s each (build-fuzz/)" ;;
    packaging) title="the Debian packages, built, installed, used and purged (tests/packaging/run.sh)" ;;
  esac
  echo
  echo "==== tests/run.sh: $stage: $title ===="
  start=$SECONDS
  rc=0
  case $stage in
    main) main_suite "$@" || rc=$? ;;
    asan) tests/sanitize.sh "$@" || rc=$? ;;
    valgrind) tests/valgrind.sh "$@" || rc=$? ;;
    fuzz) tests/fuzz/run.sh "${LUMA_FUZZ_SECONDS:-60}" || rc=$? ;;
    packaging) tests/packaging/run.sh || rc=$? ;;
  esac
  elapsed=$((SECONDS - start))
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    result=passed
  else
    failed=$((failed + 1))
    result="FAILED (exit $rc)"
  fi
  summary+=("$(printf '  %-9s %s in %dm%02ds' "$stage" "$result" \
    $((elapsed / 60)) $((elapsed % 60)))")
done

echo
echo "==== tests/run.sh: summary ===="
printf '%s\n' "${summary[@]}"
# The closing line, in the form CI reads: stages, not single tests.
if [ "$skipped" -gt 0 ]; then
  echo "stages: $passed passed, $failed failed, $skipped skipped"
else
  echo "stages: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
