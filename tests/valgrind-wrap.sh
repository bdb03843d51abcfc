#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/valgrind-wrap.sh VALGRIND-ARGS... TEST: what tests/valgrind.sh gives
# meson test as --wrap. The test's own environment (tests/meson.build) names
# the system plugin directory; under valgrind the test sees the private set
# of tests/valgrind-plugins.sh instead, with a registry of its own so that
# the main stage's registry is left as it is.
set -euo pipefail
: "${LUMA_SYSTEM_PLUGINS:?set by tests/valgrind.sh}"
: "${LUMA_VALGRIND_PLUGINS:?set by tests/valgrind.sh}"

if [ -n "${GST_PLUGIN_PATH_1_0:-}" ]; then
  export GST_PLUGIN_PATH_1_0="${GST_PLUGIN_PATH_1_0//$LUMA_SYSTEM_PLUGINS/$LUMA_VALGRIND_PLUGINS}"
fi
if [ -n "${GST_REGISTRY_1_0:-}" ]; then
  export GST_REGISTRY_1_0="${GST_REGISTRY_1_0%.registry}.valgrind.registry"
fi
exec valgrind "$@"
