#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# docs/plugins/gst_plugins_cache.json, the plugin's documentation cache in
# the format of GStreamer's own gst_plugins_cache.json files, made from the
# plugin built in BUILDDIR (build/ by default) by docs/plugins-scanner.c, and
# the tables of docs/index.md and docs/ELEMENT.md made from it (between
# their BEGIN and END lines, by docs/render.py):
#
#   meson compile -C build update-docs-cache     rewrites the committed files
#   docs/update-cache.sh [BUILDDIR]              the same, once built
#   docs/update-cache.sh --check [BUILDDIR]      the docs-cache test: writes
#       them into BUILDDIR/docs/generated/ and fails, printing the diff,
#       when they differ from the committed files
#
# Only the build tree's plugin is seen (no system plugins, a private
# registry), and nothing of this machine's environment: the elements read
# KIE_API_KEY, KIE_API_URL, KIE_UPLOAD_URL, http_proxy and GST_LUMA_STORE*,
# which would otherwise show as defaults.
set -euo pipefail

check=0
if [ "${1:-}" = --check ]; then
  check=1
  shift
fi
srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=$(cd "${1:-$srcdir/build}" && pwd)
scanner=$builddir/docs/gst-luma-plugins-scanner
plugin=$builddir/plugin/libgstluma.so

for f in "$scanner" "$plugin"; do
  if [ ! -f "$f" ]; then
    echo "$0: no $f: build first (meson compile -C $builddir)" >&2
    exit 2
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

env -u KIE_API_KEY -u KIE_API_URL -u KIE_UPLOAD_URL -u http_proxy -u https_proxy \
  -u GST_LUMA_STORE -u GST_LUMA_STORE_DIR -u GST_LUMA_STORE_LIMIT \
  -u no_proxy -u LANGUAGE -u GST_PLUGIN_PATH -u GST_PLUGIN_SYSTEM_PATH \
  LC_ALL=C.UTF-8 \
  GST_PLUGIN_SYSTEM_PATH_1_0= \
  GST_PLUGIN_PATH_1_0="$builddir/plugin" \
  GST_REGISTRY_1_0="${GST_REGISTRY_1_0:-$work/registry.bin}" \
  "$scanner" "$work/scan.json" "$plugin"

# The cache, sorted and indented as GStreamer writes its caches, and the
# pages' generated tables (docs/render.py)
out=$builddir/docs/generated
rm -rf "$out"
mkdir -p "$out"
python3 "$srcdir/docs/render.py" "$work/scan.json" "$srcdir/docs" "$out"
files=$(cd "$out" && find . -type f | sed 's|^\./||' | sort)

if [ "$check" = 0 ]; then
  for f in $files; do
    mkdir -p "$(dirname "$srcdir/docs/$f")"
    if ! cmp -s "$out/$f" "$srcdir/docs/$f"; then
      cp "$out/$f" "$srcdir/docs/$f"
      echo "wrote docs/$f"
    fi
  done
  exit 0
fi

drift=0
for f in $files; do
  if [ ! -f "$srcdir/docs/$f" ]; then
    echo "docs/$f is missing" >&2
    drift=1
  elif ! diff -u --label "docs/$f (committed)" --label "docs/$f (from the built plugin)" \
    "$srcdir/docs/$f" "$out/$f"; then
    drift=1
  fi
done
if [ "$drift" = 1 ]; then
  echo >&2
  echo "The documentation is not what the built plugin says (above: - committed," \
    "+ built): run meson compile -C build update-docs-cache, check and commit" \
    "the change" >&2
  exit 1
fi
echo "docs/plugins/gst_plugins_cache.json and the pages' tables are up to date"
