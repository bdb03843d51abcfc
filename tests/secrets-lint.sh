#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/secrets-lint.sh PLUGIN_DIR: every copy of the API key that our code
# makes is overwritten when released (luma_secret_free, lumatext.c), so
# that a core dump taken after the pipeline ended holds as few as possible:
# no api_key released with a plain g_free, and every "Bearer " header value
# built is wiped after use. (libsoup's own copy of the header is its own.)
set -euo pipefail
dir=$1
rc=0

# ok/not ok lines for meson's TAP reader
plain=$(grep -n -E 'g_free \([^)]*api_key\)|api_key, g_free\)' "$dir"/*.c || true)
if [ -z "$plain" ]; then
  echo "ok - no API key copy is released with a plain g_free"
else
  echo "not ok - API key copies released unwiped:"
  echo "$plain" | sed 's/^/#   /'
  rc=1
fi

for f in "$dir"/*.c; do
  while IFS=: read -r line _; do
    [ -n "$line" ] || continue
    if sed -n "${line},$((line + 4))p" "$f" | grep -q 'luma_secret_free (value)'; then
      echo "ok - $(basename "$f"):$line: the Bearer header value is wiped"
    else
      echo "not ok - $(basename "$f"):$line: a Bearer header value is not wiped"
      rc=1
    fi
  done < <(grep -n 'g_strconcat ("Bearer "' "$f" || true)
done
exit $rc
