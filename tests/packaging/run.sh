#!/usr/bin/env bash
# gst-luma tests: the Debian packages, as a user gets them.
# Copyright (C) 2026 gst-luma developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/packaging/run.sh: builds the packages of debian/ from the committed
# tree (git HEAD, copied to a temporary folder: dpkg-buildpackage writes the
# .deb files next to the tree), installs them, checks from a clean
# environment (PATH and HOME only: no GST_PLUGIN_PATH, no GI_TYPELIB_PATH)
# what they give, plays a task of the KIE emulator with playbin and
# gst-play-1.0, then purges them again.
#
# Needs root or sudo. The project's dependencies (.ci/deps) and the build
# dependencies of debian/control that are missing are installed and stay, as
# .ci/deps leaves them; the gst-luma packages, and whatever installing them
# pulled in, are purged at the end. LUMA_KEEP_TMP=1 keeps the temporary
# folder (the build log, the .deb files). Prints ok / not ok lines, then
# "N passed, M failed"; exits 1 when anything failed.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
packages=(gstreamer1.0-luma libgstluma-1.0-0 libgstluma-1.0-dev gir1.2-gstluma-1.0)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
key=packaging-key

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt_get() {
  # other users of apt on the machine: wait for the lock rather than fail
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 \
    -y -qq "$@"
}

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; }
# check DESCRIPTION COMMAND...: one line for whether COMMAND succeeds
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}
# a prerequisite failed: nothing after it can be checked
give_up() {
  not_ok "$1"
  finish
}

installed() {
  dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q ' installed$'
}

# The script purges the packages at the end: it must not take away ones the
# machine had before.
for p in "${packages[@]}"; do
  if installed "$p"; then
    echo "$p is installed already; purge it first (apt-get purge" \
      "${packages[*]}): this script removes what it installs" >&2
    exit 2
  fi
done

tmp=$(mktemp -d /tmp/gst-luma-packaging.XXXXXX)
emulator_pid=
pulled_in=()
we_installed=false

cleanup() {
  if [ -n "$emulator_pid" ]; then
    kill "$emulator_pid" 2>/dev/null
    wait "$emulator_pid" 2>/dev/null
  fi
  if $we_installed; then
    # an interruption before the end: do not leave the packages behind
    apt_get purge "${packages[@]}" "${pulled_in[@]}" >/dev/null 2>&1
  fi
  if [ "${LUMA_KEEP_TMP:-0}" = 1 ]; then
    echo "# kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- what the build and the checks need ------------------------------------

# the tools, the demuxers and decoders playbin needs, x264enc for the sample
"$repo/.ci/deps" >/dev/null || give_up "install the project's dependencies (.ci/deps)"

# the committed tree, without build folders or anything uncommitted
src=$tmp/gst-luma
mkdir -p "$src"
git -C "$repo" archive --format=tar HEAD | tar -x -C "$src" \
  || give_up "copy the committed tree (git archive HEAD)"
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  echo "# note: uncommitted changes in $repo are not in the packages"
fi
echo "# building the packages of $(git -C "$repo" rev-parse --short HEAD) in $tmp"

if ! (cd "$src" && dpkg-checkbuilddeps >/dev/null 2>&1); then
  apt_get update
  # apt reads the Build-Depends of debian/control in the folder
  (cd "$src" && apt_get build-dep ./ >/dev/null) \
    || give_up "install the build dependencies (apt-get build-dep)"
fi

# --- build -----------------------------------------------------------------

start=$SECONDS
if (cd "$src" && dpkg-buildpackage -b -us -uc) >"$tmp/build.log" 2>&1; then
  ok "dpkg-buildpackage -b -us -uc ($((SECONDS - start)) s)"
else
  sed 's/^/#   /' "$tmp/build.log" | tail -40
  give_up "dpkg-buildpackage -b -us -uc (log: $tmp/build.log)"
fi

debs=()
for p in "${packages[@]}"; do
  deb=$(ls "$tmp/${p}_"*.deb 2>/dev/null | head -1)
  if [ -n "$deb" ]; then
    debs+=("$deb")
  else
    not_ok "package $p built"
  fi
done
[ ${#debs[@]} -eq ${#packages[@]} ] || finish
ok "packages built: ${packages[*]}"

plugin_deb=${debs[0]}
lib_deb=${debs[1]}
dev_deb=${debs[2]}
gir_deb=${debs[3]}

field_is() { # DEB FIELD VALUE
  local value
  value=$(dpkg-deb -f "$1" "$2")
  echo "# $(basename "$1"): $2: $value"
  [ "$value" = "$3" ]
}
field_lists() { # DEB FIELD ITEM...: a comma-separated field holds each ITEM
  local value item
  value=$(dpkg-deb -f "$1" "$2")
  echo "# $(basename "$1"): $2: $value"
  for item in "${@:3}"; do
    echo "$value" | tr ',' '\n' | grep -qx " *$item *" || return 1
  done
}
depends_on() { # DEB PACKAGE
  dpkg-deb -f "$1" Depends | tr ',' '\n' | grep -q "^ *$2\b"
}
lists() { # DEB PATH
  dpkg-deb -c "$1" | awk '{ print $6 }' | grep -qx "./$2"
}
check "gstreamer1.0-luma declares the URI source: Gstreamer-Uri-Sources: luma" \
  field_is "$plugin_deb" Gstreamer-Uri-Sources luma
check "gstreamer1.0-luma declares its elements: Gstreamer-Elements: lumasrc, lumamodify" \
  field_lists "$plugin_deb" Gstreamer-Elements lumasrc lumamodify
check "gstreamer1.0-luma: Gstreamer-Version: 1.22" \
  field_is "$plugin_deb" Gstreamer-Version 1.22
check "gstreamer1.0-luma depends on libgstluma-1.0-0 and GStreamer (shlibs)" \
  eval 'depends_on "$plugin_deb" libgstluma-1.0-0 && depends_on "$plugin_deb" libgstreamer1.0-0'
check "libgstluma-1.0-0 has a symbols file" \
  eval 'dpkg-deb -I "$lib_deb" symbols | grep -q "^ gst_luma_task_state_get_type@Base"'
check "gir1.2-gstluma-1.0 depends on libgstluma-1.0-0 and gir1.2-glib-2.0" \
  eval 'depends_on "$gir_deb" libgstluma-1.0-0 && depends_on "$gir_deb" gir1.2-glib-2.0'
check "libgstluma-1.0-dev: header, .so link, .pc and gir" eval '
  lists "$dev_deb" usr/include/gstreamer-1.0/gst/luma/luma.h &&
  lists "$dev_deb" usr/lib/$multiarch/libgstluma-1.0.so &&
  lists "$dev_deb" usr/lib/$multiarch/pkgconfig/gstreamer-luma-1.0.pc &&
  lists "$dev_deb" usr/share/gir-1.0/GstLuma-1.0.gir'

# --- install ---------------------------------------------------------------

# what apt would install besides them: purged with them at the end
mapfile -t pulled_in < <(apt-get install -s --no-install-recommends "${debs[@]}" 2>/dev/null \
  | awk '$1 == "Inst" { print $2 }' | grep -vxF -f <(printf '%s\n' "${packages[@]}"))
[ ${#pulled_in[@]} -eq 0 ] || echo "# apt also installs: ${pulled_in[*]}"
we_installed=true
if apt_get install --no-install-recommends "${debs[@]}" >"$tmp/install.log" 2>&1; then
  ok "apt-get install ./*.deb"
else
  sed 's/^/#   /' "$tmp/install.log"
  give_up "apt-get install ./*.deb"
fi

# --- what a user gets, from the system paths alone ---------------------------

home=$tmp/home # a registry of its own, not root's ~/.cache
mkdir -p "$home"
clean() {
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" "$@"
}
# with the KIE_API_URL and KIE_API_KEY of the emulator, nothing else
clean_kie() {
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" \
    KIE_API_URL="$KIE_API_URL" KIE_API_KEY="$key" "$@"
}
# output_has NAME PATTERN COMMAND...: COMMAND succeeds and prints PATTERN
output_has() {
  local name=$1 pattern=$2
  shift 2
  "$@" >"$tmp/$name.out" 2>&1
  local status=$?
  if [ $status -ne 0 ] || ! grep -qE -- "$pattern" "$tmp/$name.out"; then
    echo "# exit status $status; output:"
    sed 's/^/#   /' "$tmp/$name.out" | tail -20
    return 1
  fi
}

# (GStreamer may name it /lib/...: the same folder, /lib is /usr/lib)
check "gst-inspect-1.0 lumasrc: from /usr/lib/$multiarch/gstreamer-1.0" \
  output_has inspect "Filename +(/usr)?/lib/$multiarch/gstreamer-1.0/libgstluma.so$" \
  clean gst-inspect-1.0 lumasrc
check "gst-inspect-1.0 lumasrc: handles luma:// URIs" \
  output_has inspect-uri '^ +luma$' clean gst-inspect-1.0 lumasrc
check "gst-inspect-1.0 --print-plugin-auto-install-info luma: urisource-luma" \
  output_has autoinstall '^urisource-luma$' \
  clean gst-inspect-1.0 --print-plugin-auto-install-info luma
check "dpkg -s gstreamer1.0-luma: Gstreamer-Uri-Sources: luma" \
  output_has dpkg-s '^Gstreamer-Uri-Sources: luma$' clean dpkg -s gstreamer1.0-luma

check "python3: GstLuma.TaskState.SUCCESS from the typelib" \
  output_has python '^<enum Success of type GstLuma.TaskState> success$' \
  clean python3 -c 'import gi; gi.require_version("GstLuma","1.0"); from gi.repository import GstLuma; print(GstLuma.TaskState.SUCCESS, GstLuma.TaskState.SUCCESS.value_nick)'
check "python3: the constants of luma.h (GstLuma.MESSAGE_TASK)" \
  output_has python-const '^luma-task luma$' \
  clean python3 -c 'import gi; gi.require_version("GstLuma","1.0"); from gi.repository import GstLuma; print(GstLuma.MESSAGE_TASK, GstLuma.URI_SCHEME)'

check "pkg-config finds gstreamer-luma-1.0" \
  output_has pkg-config '-I/usr/include/gstreamer-1.0.* -lgstluma-1.0' \
  clean pkg-config --cflags --libs gstreamer-luma-1.0
cat >"$tmp/nick.c" <<'EOF'
#include <gst/luma/luma.h>
#include <stdio.h>

int
main (void)
{
  GEnumClass *klass = g_type_class_ref (GST_TYPE_LUMA_TASK_STATE);

  printf ("%s %s\n", gst_luma_task_state_get_nick (GST_LUMA_TASK_STATE_SUCCESS),
      g_enum_get_value (klass, GST_LUMA_TASK_STATE_ERROR)->value_nick);
  return 0;
}
EOF
check "a program built with pkg-config gstreamer-luma-1.0 links and runs" \
  output_has c-program '^success error$' clean sh -c "cd '$tmp' &&
    cc -o nick nick.c \$(pkg-config --cflags --libs gstreamer-luma-1.0) && ./nick"

# --- play a task of the emulator ---------------------------------------------

clip=$tmp/clip.mp4
clean gst-launch-1.0 -q videotestsrc num-buffers=50 \
  ! video/x-raw,format=I420,width=160,height=120,framerate=25/1 \
  ! x264enc speed-preset=ultrafast ! mp4mux ! filesink location="$clip" \
  >/dev/null 2>&1 || give_up "make a sample clip (videotestsrc, x264enc, mp4mux)"

# the emulator of the package build's own tree (dh's meson build folder)
emulator=$(ls "$src"/obj-*/tests/emulator/luma-emulator 2>/dev/null | head -1)
[ -x "$emulator" ] || give_up "the emulator of the build tree (obj-*/tests/emulator/luma-emulator)"
ready=$tmp/emulator.ready
"$emulator" --key "$key" --ready-file "$ready" --task "ready=$clip" \
  --task "gen=$clip,generating-ms=1500" --task "again=$clip" \
  --task "failed=,flag=3,error-message=boom" >"$tmp/emulator.log" 2>&1 &
emulator_pid=$!
for _ in $(seq 100); do [ -s "$ready" ] && break; sleep 0.1; done
[ -s "$ready" ] || give_up "start the emulator: $(cat "$tmp/emulator.log")"
export "$(cat "$ready")"
echo "# emulator at $KIE_API_URL"

check "gst-launch-1.0 playbin uri=luma://ready: to the end, exit status 0" \
  output_has playbin 'Got EOS from element' \
  clean_kie timeout 60 gst-launch-1.0 playbin uri=luma://ready \
  video-sink=fakesink audio-sink=fakesink
check "gst-launch-1.0 playbin: a task still generating, waited for" \
  output_has playbin-wait 'Got EOS from element' \
  clean_kie timeout 60 gst-launch-1.0 playbin 'uri=luma://gen?poll-interval=200' \
  video-sink=fakesink audio-sink=fakesink
# gst-play-1.0 exits 0 after an error too: its output tells
gst_play_clean() { # NAME
  ! grep -qE 'ERROR|WARNING' "$tmp/$1.out"
}
check "gst-play-1.0 luma://again: plays to the end, exit status 0" eval '
  output_has gst-play "^Reached end of play list" \
    clean_kie timeout 60 gst-play-1.0 --videosink=fakesink --audiosink=fakesink \
    luma://again && gst_play_clean gst-play'
check "gst-play-1.0 luma://failed: the task's failure is told" \
  output_has gst-play-failed 'ERROR .*boom.* for luma://failed' \
  clean_kie timeout 60 gst-play-1.0 --videosink=fakesink --audiosink=fakesink \
  luma://failed

mkdir -p "$tmp/saved"
check "examples/luma-wait-many.py with the installed packages only" eval '
  output_has wait-many "^1 of 1 task saved" \
    clean_kie timeout 60 /usr/bin/python3 "$src/examples/luma-wait-many.py" \
    --poll-interval 200 "$tmp/saved" gen && cmp -s "$clip" "$tmp/saved/gen.mp4"'

kill "$emulator_pid" 2>/dev/null
wait "$emulator_pid" 2>/dev/null
emulator_pid=

# The emulator is gone and no key is set (the same API URL): what was
# played above comes from the store in the clean home
# ($home/.local/share/gst-luma/results)
check "after the service is gone, no key: luma://again plays from the store" eval '
  output_has gst-play-stored "^Reached end of play list" \
    clean KIE_API_URL="$KIE_API_URL" timeout 60 gst-play-1.0 \
    --videosink=fakesink --audiosink=fakesink luma://again \
    && gst_play_clean gst-play-stored'

# --- purge -----------------------------------------------------------------

purge=("${packages[@]}" "${pulled_in[@]}")
if apt_get purge "${purge[@]}" >"$tmp/purge.log" 2>&1; then
  we_installed=false
  ok "apt-get purge ${purge[*]}"
else
  sed 's/^/#   /' "$tmp/purge.log"
  not_ok "apt-get purge ${purge[*]}"
fi
none_left() {
  local p
  for p in "${packages[@]}"; do
    if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qv '^unknown ok not-installed$\|^$'; then
      echo "# $p: $(dpkg-query -W -f='${Status}' "$p")"
      return 1
    fi
  done
  [ ! -e "/usr/lib/$multiarch/gstreamer-1.0/libgstluma.so" ] \
    && [ ! -e "/usr/lib/$multiarch/girepository-1.0/GstLuma-1.0.typelib" ]
}
check "nothing of the packages is left" none_left

finish
