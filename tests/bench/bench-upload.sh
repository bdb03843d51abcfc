#!/usr/bin/env bash
# Side-by-side upload benchmark: luma_upload_file() (through bench-upload, a
# small driver) against curl -F, both sending the same 500 MB file to the
# KIE emulator's upload host (POST /api/file-stream-upload) on loopback.
#
# A benchmark, not a test: it prints figures and fails only when an upload
# fails or the host stored other bytes than the file's. See BENCHMARKS.md
# for how to read the table.
#
#   tests/bench/bench-upload.sh
#
# Environment:
#   RUNS=N         timed runs per uploader (default 3)
#   SIZE_MB=N      size of the input in MB, 10^6 bytes (default 500)
#   BUILDDIR=DIR   build directory, configured with -Dtests=enabled
#                  (default build; relative to the top of the tree)
#   KEEP=1         keep the temporary directory (input, logs) for a look
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-500}
BUILDDIR=${BUILDDIR:-build}
KEEP=${KEEP:-0}
KEY=bench-$RANDOM$RANDOM

work=""
emulator_pid=""

die () {
  echo "bench-upload: $*" >&2
  exit 1
}

log () {
  echo "== $*" >&2
}

stop_emulator () {
  if [ -n "$emulator_pid" ]; then
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
    emulator_pid=""
  fi
}

cleanup () {
  stop_emulator
  if [ -n "$work" ]; then
    if [ "$KEEP" = 1 ]; then
      echo "kept $work" >&2
    else
      rm -rf "$work"
    fi
  fi
}

# ----- set-up -----

build () {
  log "building in $BUILDDIR"
  if [ ! -f "$BUILDDIR/build.ninja" ]; then
    meson setup "$BUILDDIR" -Dtests=enabled >/dev/null
  fi
  meson compile -C "$BUILDDIR" >/dev/null
  BUILDDIR=$(cd "$BUILDDIR" && pwd)
  [ -x "$BUILDDIR/tests/bench/bench-upload" ] \
    || die "no bench-upload in $BUILDDIR (configure it with -Dtests=enabled)"
  [ -x "$BUILDDIR/tests/emulator/luma-emulator" ] || die "no emulator in $BUILDDIR"
}

# Random bytes, read once so that the page cache holds them: the disk stays
# out of the measurement.
make_input () {
  log "making a $SIZE_MB MB file of random bytes"
  input=$work/input.mp4
  head -c $((SIZE_MB * 1000000)) /dev/urandom >"$input"
  input_sha=$(sha256sum <"$input" | cut -d' ' -f1)
}

# A fresh emulator for every upload: it keeps each file in memory, and a
# run must not pay for the ones before it. The task is only there because
# the emulator wants one.
start_emulator () {
  local ready=$work/emulator.ready

  rm -f "$ready"
  "$BUILDDIR/tests/emulator/luma-emulator" --key "$KEY" --ready-file "$ready" \
    --print-upload-url --task none=,flag=3 >/dev/null 2>"$work/emulator.log" &
  emulator_pid=$!
  for _ in $(seq 100); do
    [ -s "$ready" ] && grep -q '^KIE_UPLOAD_URL=' "$ready" && break
    kill -0 "$emulator_pid" 2>/dev/null || break
    sleep 0.1
  done
  UPLOAD_URL=$(sed -n 's/^KIE_UPLOAD_URL=//p' "$ready" 2>/dev/null || true)
  [ -n "$UPLOAD_URL" ] || { cat "$work/emulator.log" >&2; die "the emulator did not start"; }
}

# CPU seconds (user + sys) the emulator has used so far, and its peak RSS
# in KiB: it should hold the file once, not twice.
emulator_cpu () {
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' \
    "/proc/$emulator_pid/stat"
}

emulator_peak_rss () {
  awk '$1 == "VmHWM:" { print $2 }' "/proc/$emulator_pid/status"
}

# ----- the two uploaders -----

# Sets cmd to the command line of uploader $1. Both print what tells where
# the file went: bench-upload the downloadUrl, curl the host's JSON answer.
command_for () {
  case $1 in
    luma)
      cmd=("$BUILDDIR/tests/bench/bench-upload" --url "$UPLOAD_URL"
        --key "$KEY" --upload-path bench "$input") ;;
    curl)
      cmd=(curl -sS -f -F "file=@$input" -F uploadPath=bench
        -F fileName=curl.mp4 -H "Authorization: Bearer $KEY"
        "$UPLOAD_URL/api/file-stream-upload") ;;
  esac
}

download_url_of () {
  case $1 in
    luma) cat ;;
    curl) sed -n 's/.*"downloadUrl":"\([^"]*\)".*/\1/p' ;;
  esac
}

# Once per uploader, before the timed runs: what the host stored (fetched
# back from its downloadUrl) has the input's checksum.
verify () {
  local tool=$1 cmd url sha

  start_emulator
  command_for "$tool"
  url=$("${cmd[@]}" | download_url_of "$tool")
  [ -n "$url" ] || die "$tool: no downloadUrl"
  sha=$(curl -sS -f "$url" | sha256sum | cut -d' ' -f1)
  stop_emulator
  [ "$sha" = "$input_sha" ] || die "$tool: the host stored other bytes"
  log "$tool uploads the file byte for byte"
}

# One timed run: appends "TOOL wall user sys maxrss_kib emulator_cpu
# emulator_maxrss_kib" to the results. A failed upload stops the benchmark.
measure () {
  local tool=$1 timing=$work/time.out cmd out

  start_emulator
  command_for "$tool"
  if ! out=$(/usr/bin/time -f '%e %U %S %M' -o "$timing" "${cmd[@]}" \
      2>"$work/run.err"); then
    cat "$work/run.err" >&2
    die "$tool failed"
  fi
  [ -n "$(download_url_of "$tool" <<<"$out")" ] || die "$tool: no downloadUrl in $out"
  echo "$tool $(tail -n 1 "$timing") $(emulator_cpu) $(emulator_peak_rss)" \
    >>"$results"
  stop_emulator
}

# luma, curl, luma, curl...: a busy moment of the machine falls on both.
run_all () {
  local i tool

  for i in $(seq "$RUNS"); do
    for tool in luma curl; do
      log "run $i/$RUNS: $tool"
      measure "$tool"
    done
  done
}

# ----- the report -----

median () {
  sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) print "nan";
          else if (NR % 2) print v[(NR + 1) / 2];
          else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# wall (s), cpu (user + sys, s), rss (MiB) or server (the emulator's CPU, s)
column_of () {
  awk -v t="$1" -v what="$2" '$1 == t {
      if (what == "wall") print $2
      else if (what == "cpu") print $3 + $4
      else if (what == "rss") print $5 / 1024
      else if (what == "server") print $6
      else if (what == "server_rss") print $7 / 1024
    }' "$results"
}

print_machine () {
  echo "date:        $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit:      $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "machine:     $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "kernel:      $(uname -srm)"
  echo "libsoup:     $(pkg-config --modversion libsoup-3.0 2>/dev/null \
    || dpkg-query -W -f='${Version}' libsoup-3.0-0)"
  echo "curl:        $(curl --version | head -n 1 | cut -d' ' -f2)"
  echo "load before: $load_before"
  echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
}

print_table () {
  local bytes tool
  local -A w c r s sr

  bytes=$(stat -c %s "$input")
  for tool in luma curl; do
    w[$tool]=$(column_of "$tool" wall | median)
    c[$tool]=$(column_of "$tool" cpu | median)
    r[$tool]=$(column_of "$tool" rss | median)
    s[$tool]=$(column_of "$tool" server | median)
    sr[$tool]=$(column_of "$tool" server_rss | median)
  done

  echo
  echo "$RUNS runs each, alternating; input $((bytes / 1000000)) MB (MB = 10^6 bytes)"
  echo "CPU = user + sys of the uploading process; RSS = its peak resident set (time %M);"
  echo "emulator CPU, RSS = what the receiving server spent on the same upload (not ours)"
  echo
  awk -v b="$bytes" \
    -v wl="${w[luma]}" -v wc="${w[curl]}" -v cl="${c[luma]}" -v cc="${c[curl]}" \
    -v rl="${r[luma]}" -v rc="${r[curl]}" -v sl="${s[luma]}" -v sc="${s[curl]}" \
    -v srl="${sr[luma]}" -v src="${sr[curl]}" '
    function row(name, fmt, l, c) {
      printf "%-28s " fmt " " fmt "   %6.2f\n", name, l, c, l / c
    }
    BEGIN {
      printf "%-28s %11s %11s   %s\n", "", "luma_upload", "curl -F", "luma/curl"
      row("wall time, median (s)", "%11.2f", wl, wc)
      row("throughput (MB/s)", "%11.0f", b / wl / 1e6, b / wc / 1e6)
      row("CPU, median (s)", "%11.2f", cl, cc)
      row("peak RSS, median (MiB)", "%11.1f", rl, rc)
      row("emulator CPU, median (s)", "%11.2f", sl, sc)
      row("emulator peak RSS (MiB)", "%11.0f", srl, src)
      print ""
      printf "target: wall <= 1.2 x curl        %s (%.2f)\n",
        wl <= 1.2 * wc ? "met" : "MISSED", wl / wc
      printf "target: peak RSS < 64 MiB         %s (%.1f MiB)\n",
        rl < 64 ? "met" : "MISSED", rl
    }'
  echo
  echo "all runs (tool wall user sys maxrss_KiB emulator_cpu emulator_maxrss_KiB):"
  sed 's/^/  /' "$results"
}

main () {
  [[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number"
  [[ "$SIZE_MB" =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive number"

  .ci/deps curl time
  build

  trap cleanup EXIT
  trap 'exit 130' INT TERM
  work=$(mktemp -d /tmp/bench-upload.XXXXXX)
  results=$work/results

  make_input
  verify luma
  verify curl

  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  : >"$results"
  run_all

  echo
  print_machine
  print_table
}

main "$@"
