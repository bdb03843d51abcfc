#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/indent.sh [FILE...]: formats the project's C in place as GStreamer's
# gst-indent does: the files tests/style.sh checks, or the FILEs given.
exec "$(dirname "$0")/style.sh" --fix "$@"
