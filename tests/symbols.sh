#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/symbols.sh LIBRARY PLUGIN: the library exports its public API and
# nothing else, the plugin only what GStreamer looks up. A symbol that leaks
# out becomes ABI that applications may bind to.
set -euo pipefail

exported () {
  nm -D --defined-only "$1" | awk '$2 ~ /^[TDBRVWi]$/ { print $3 }' | sort
}

check () {
  local file=$1 expected=$2 actual

  actual=$(exported "$file" | tr '\n' ' ' | sed 's/ $//')
  if [ "$actual" = "$expected" ]; then
    echo "ok - $(basename "$file") exports: $actual"
  else
    echo "not ok - $(basename "$file") exports: $actual"
    echo "#   expected: $expected"
    return 1
  fi
}

rc=0
check "$1" "gst_luma_store_mode_get_type gst_luma_task_state_get_nick gst_luma_task_state_get_type" || rc=1
check "$2" "gst_plugin_luma_get_desc" || rc=1
exit $rc
