#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, builds, and runs every test (each starts its own servers).
set -euo pipefail
cd "$(dirname "$0")/.."

.ci/deps
builddir=${BUILDDIR:-build}
if [ -f "$builddir/build.ninja" ]; then
  meson setup --reconfigure "$builddir" -Dtests=enabled >/dev/null
else
  meson setup "$builddir" -Dtests=enabled >/dev/null
fi
meson compile -C "$builddir"
meson test -C "$builddir" --print-errorlogs "$@"
