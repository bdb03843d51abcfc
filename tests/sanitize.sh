#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/sanitize.sh [MESON TEST ARGS]: the whole GstCheck suite built with
# AddressSanitizer and UndefinedBehaviorSanitizer, in build-asan/. The first
# invalid access, overflow or undefined operation fails its test, with the
# stack.
#
# Leaks are not looked for here (detect_leaks=0) but in tests/valgrind.sh:
# Debian builds GLib without frame pointers, so LeakSanitizer's fast unwinder
# stops at g_malloc() and a GLib one-time allocation cannot be told from ours
# without full unwinding, which makes the suite several times slower (the
# stress test goes past its timeout); and LeakSanitizer's own tracer crashes
# in the TLS tests. valgrind gives whole stacks at no such cost to this stage.
set -euo pipefail
cd "$(dirname "$0")/.."

.ci/deps

builddir=${LUMA_ASAN_BUILDDIR:-build-asan}
# b_lundef=false: the plugin and libgstluma-1.0 leave the sanitizer
# runtimes' symbols to be resolved by the executable that loads them.
setup_args=(-Dtests=enabled "-Db_sanitize=address,undefined" -Db_lundef=false)
if [ -f "$builddir/build.ninja" ]; then
  meson setup --reconfigure "$builddir" "${setup_args[@]}" >/dev/null
else
  # gcc, whatever CC says: its ASan runtime is a shared library that the
  # plugin links, and that the tests below can preload; clang's would be
  # linked into executables only.
  CC=gcc meson setup "$builddir" "${setup_args[@]}" >/dev/null
fi
if ! meson compile -C "$builddir" >"$builddir/compile.log" 2>&1; then
  cat "$builddir/compile.log"
  exit 1
fi

# Not every process that loads our plugin is built with ASan: GStreamer
# reads plugins in gst-plugin-scanner, a helper it forks, and the example
# tests run Python programs. In those the plugin would bring the ASan
# runtime in after libc, which the runtime refuses. So every test runs with
# the runtime preloaded, through meson's --wrap: the tests' children inherit
# it, meson itself does not need it. libstdc++ goes with it: ASan finds the
# C++ functions it intercepts when it starts, and a C++ library loaded later
# (libproxy, behind GIO's proxy resolver, throws exceptions) would make it
# abort at the first throw.
libasan=$(ldd "$builddir/plugin/libgstluma.so" | awk '$1 ~ /^libasan/ { print $3 }')
if [ -z "$libasan" ]; then
  echo "sanitize.sh: $builddir/plugin/libgstluma.so is not linked with libasan" >&2
  exit 1
fi
preload="LD_PRELOAD=$libasan libstdc++.so.6"

# Ours first; what the caller already has in these variables comes after and
# wins (the runtimes take the last value of a repeated option).
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# GLib 2.74 still carves small blocks out of its own slabs (GSlice): ask
# for plain malloc() so that ASan sees each block's bounds.
export G_SLICE=always-malloc
# Instrumented code runs up to twice as slow: both the meson timeouts and
# Check's own (CK_DEFAULT_TIMEOUT, set per test) are scaled.
export CK_TIMEOUT_MULTIPLIER=2

meson test -C "$builddir" --timeout-multiplier 2 --print-errorlogs \
  --wrap="env ${preload@Q}" "$@"
