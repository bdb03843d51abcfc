#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/style.sh [FILE...]: checks that the project's C is formatted as
# GStreamer formats its own, by gst-indent (GStreamer's scripts/gst-indent:
# GNU indent with the options below, run twice, as indent is not idempotent
# in one pass). Prints the diff that would make each drifting file right and
# exits 1 if any drifts; the meson test "style". tests/indent.sh reformats
# the files in place.
#
# The files: the .c files below, or the FILEs given. Headers are left out,
# as GStreamer leaves its own out (scripts/gst-indent-all.py indents *.c
# only): indent does not know G_BEGIN_DECLS, G_DECLARE_*_TYPE or an export
# macro on a line of its own, and indents the declarations after them.
# Likewise a line indent would break is kept between /* *INDENT-OFF* */ and
# /* *INDENT-ON* */, as GStreamer does: G_DEFINE_QUARK (a-b-quark, a_b) is
# one, whose quark name indent would respace ("a - b - quark").
#
# Exits 77 (meson: skipped) when GNU indent is not installed (.ci/deps
# installs it).
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."

fix=0
if [ "${1:-}" = --fix ]; then
  fix=1
  shift
fi

indent_opts=(
  --braces-on-if-line
  --case-brace-indentation0
  --case-indentation2
  --braces-after-struct-decl-line
  --line-length80
  --no-tabs
  --cuddle-else
  --dont-line-up-parentheses
  --continuation-indentation4
  --honour-newlines
  --tab-size8
  --indent-level2
  --leave-preprocessor-space
)

indent=""
for candidate in gst-indent-1.0 gnuindent gindent indent; do
  case $("$candidate" --version 2>/dev/null) in
    GNU*) indent=$candidate; break ;;
  esac
done
if [ -z "$indent" ]; then
  echo "tests/style.sh: GNU indent is not installed (Debian package indent)" >&2
  exit 77
fi

if [ $# -gt 0 ]; then
  files=()
  for f in "$@"; do
    case $f in
      /*) files+=("$f") ;;
      *) files+=("$caller/$f") ;;
    esac
  done
else
  shopt -s nullglob
  files=(
    plugin/*.c
    tests/check/*.c
    tests/emulator/*.c
    examples/*.c
    tests/fuzz/*.c
    tests/bench/*.c
    docs/*.c
  )
  shopt -u nullglob
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

drifting=0
for f in "${files[@]}"; do
  "$indent" "${indent_opts[@]}" <"$f" >"$work/pass1"
  "$indent" "${indent_opts[@]}" <"$work/pass1" >"$work/pass2"
  if cmp -s "$f" "$work/pass2"; then
    continue
  fi
  drifting=$((drifting + 1))
  if [ "$fix" = 1 ]; then
    cat "$work/pass2" >"$f"
    echo "reformatted $f"
  else
    diff -u --label "$f" --label "$f (gst-indent)" "$f" "$work/pass2" || true
  fi
done

if [ "$fix" = 1 ]; then
  echo "tests/indent.sh: ${#files[@]} files, $drifting reformatted"
  exit 0
fi
if [ "$drifting" -gt 0 ]; then
  echo >&2
  echo "tests/style.sh: $drifting of ${#files[@]} files are not formatted as" \
    "gst-indent formats them (above: the change it would make);" \
    "tests/indent.sh reformats them" >&2
  exit 1
fi
echo "tests/style.sh: ${#files[@]} files, all formatted as gst-indent formats them"
