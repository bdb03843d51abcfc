#!/usr/bin/env bash
# Side-by-side streaming benchmark: lumasrc against souphttpsrc (and curl, as
# the machine's reference), all three reading the same file from the same
# local nginx. lumasrc gets its URL the way it does in real use: from a task
# record, here served by the bundled KIE emulator (--task ID=,url=URL).
#
# The store of finished videos, in the same run: lumasrc's first streaming
# with the store on (a fresh store each run: every run downloads and
# writes), lumasrc streaming the stored video against filesrc on the same
# file, the time from PLAYING to the first buffer of a stored task, and a
# trimmed clip (the middle tenth of the big file, once): how long it plays
# and how long until the store holds the whole video (the bytes before the
# clip are stored in the background).
#
# A benchmark, not a test: it prints figures and fails only when a run fails
# or streams the wrong bytes. See BENCHMARKS.md for how to read the table.
#
#   tests/bench/bench-streaming.sh
#
# Environment:
#   RUNS=N         timed runs per tool and file (default 5)
#   BIG_MIB=N      size of the large file in MiB (default 1024)
#   BUILD_DIR=DIR  the build directory it uses (default build-bench; relative
#                  to the top of the tree)
#   KEEP=1         keep the temporary directory (files, logs) for a look
#   TOOLS="A B"    time only these readers (of lumasrc souphttpsrc curl
#                  lumasrc-store stored filesrc): for a closer look at one;
#                  the tables, which compare them all, are then left out
#   PIN=apart      the servers (nginx, the emulator) on CPU 0, every reader on
#                  CPU 1 (taskset): each reader has a core of its own
#   PIN=shared     servers and readers all on CPU 0: one core for both
#                  Unpinned (the default), the scheduler places them, and a
#                  reader that lands on nginx's core does nginx's sending in
#                  its own system time: souphttpsrc's two "modes" (see
#                  BENCHMARKS.md); pinned, each regime is measured alone
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

RUNS=${RUNS:-5}
BIG_MIB=${BIG_MIB:-1024}
SMALL_MIB=10
BUILD_DIR=${BUILD_DIR:-build-bench}
KEEP=${KEEP:-0}
ALL_TOOLS="lumasrc souphttpsrc curl lumasrc-store stored filesrc"
TOOLS=${TOOLS:-$ALL_TOOLS}
PIN=${PIN:-}

server_pin=()
reader_pin=()
case $PIN in
  "") ;;
  apart)
    [ "$(nproc)" -ge 2 ] || { echo "bench-streaming: PIN=apart needs 2 CPUs" >&2; exit 1; }
    server_pin=(taskset -c 0); reader_pin=(taskset -c 1) ;;
  shared) server_pin=(taskset -c 0); reader_pin=(taskset -c 0) ;;
  *) echo "bench-streaming: PIN is apart or shared, not \"$PIN\"" >&2; exit 1 ;;
esac

work=""
nginx_pid=""
emulator_pid=""

die () {
  echo "bench-streaming: $*" >&2
  exit 1
}

log () {
  echo "== $*" >&2
}

cleanup () {
  # the servers first: the temporary directory holds what they serve
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; fi
  if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  if [ -n "$work" ]; then
    if [ "$KEEP" = 1 ]; then
      echo "kept $work" >&2
    else
      rm -rf "$work"
    fi
  fi
}

# ----- set-up -----

find_nginx () {
  # /usr/sbin is not on every user's PATH
  command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }
}

install_deps () {
  local extra=(curl time python3-gi gir1.2-gstreamer-1.0)

  if ! find_nginx >/dev/null; then
    # nginx-light is the smallest nginx Debian 12 has; later releases
    # dropped it for plain nginx
    if apt-cache show nginx-light >/dev/null 2>&1; then
      extra+=(nginx-light)
    else
      extra+=(nginx)
    fi
  fi
  .ci/deps "${extra[@]}"
}

build () {
  log "building in $BUILD_DIR"
  # without the test suite and examples: only the plugin and the emulator
  # are needed, and the build stays quick
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    meson setup "$BUILD_DIR" -Dtests=disabled -Dexamples=disabled >/dev/null
  fi
  meson compile -C "$BUILD_DIR" >/dev/null
  # absolute from here on: GST_PLUGIN_PATH must not depend on the directory
  BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
  [ -f "$BUILD_DIR/plugin/libgstluma.so" ] || die "no plugin in $BUILD_DIR/plugin"
  [ -x "$BUILD_DIR/tests/emulator/luma-emulator" ] || die "no emulator in $BUILD_DIR"
}

# Random bytes: nothing on the way may shrink them, and the page cache holds
# them after the first read, so that the disk is out of the measurement.
make_files () {
  log "making a $BIG_MIB MiB and a $SMALL_MIB MiB file of random bytes"
  head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom >"$www/big.bin"
  head -c $((SMALL_MIB * 1024 * 1024)) /dev/urandom >"$www/small.bin"
  chmod 644 "$www/big.bin" "$www/small.bin"
  cat "$www/big.bin" "$www/small.bin" >/dev/null
}

write_nginx_conf () {
  local port=$1

  # Everything under $work: no system config, no root-owned paths, no log
  # in /var/log. One worker is enough for one client at a time.
  cat >"$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path $work/nginx-tmp/body;
  proxy_temp_path $work/nginx-tmp/proxy;
  fastcgi_temp_path $work/nginx-tmp/fastcgi;
  uwsgi_temp_path $work/nginx-tmp/uwsgi;
  scgi_temp_path $work/nginx-tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    root $www;
  }
}
EOF
}

# Tries random high ports until nginx gets one: nginx cannot report a port
# the kernel picked, and a port probed free could be taken before it binds.
start_nginx () {
  local nginx port attempt

  nginx=$(find_nginx) || die "nginx is not installed"
  mkdir -p "$work/nginx-tmp"
  for attempt in $(seq 20); do
    port=$((20000 + RANDOM % 40000))
    write_nginx_conf "$port"
    "${server_pin[@]}" "$nginx" -p "$work" -e "$work/nginx-error.log" -c "$work/nginx.conf" \
      2>"$work/nginx-start.log" &
    nginx_pid=$!
    for _ in $(seq 50); do
      if curl -sf -o /dev/null "http://127.0.0.1:$port/small.bin"; then
        NGINX_PORT=$port
        log "nginx on 127.0.0.1:$port (attempt $attempt)"
        return
      fi
      kill -0 "$nginx_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
    nginx_pid=""
  done
  cat "$work/nginx-start.log" >&2
  die "nginx did not start"
}

start_emulator () {
  local ready=$work/emulator.ready
  local base=http://127.0.0.1:$NGINX_PORT

  # the key guards nothing here; it only has to match on both sides
  KEY=bench-$RANDOM$RANDOM
  "${server_pin[@]}" "$BUILD_DIR/tests/emulator/luma-emulator" --key "$KEY" --ready-file "$ready" \
    --task "big=,url=$base/big.bin" --task "small=,url=$base/small.bin" \
    >/dev/null 2>"$work/emulator.log" &
  emulator_pid=$!
  for _ in $(seq 100); do
    [ -s "$ready" ] && break
    kill -0 "$emulator_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -s "$ready" ] || { cat "$work/emulator.log" >&2; die "the emulator did not start"; }
  KIE_API_URL=$(sed -n 's/^KIE_API_URL=//p' "$ready")
  log "KIE emulator at $KIE_API_URL"
}

# Both gst-launch commands run in the same environment (same plugin path,
# same registry, no proxy), so that they differ only by their source element.
# The private registry keeps the user's own out of it.
setup_environment () {
  export GST_PLUGIN_PATH=$BUILD_DIR/plugin
  export GST_REGISTRY=$work/registry.bin
  export KIE_API_KEY=$KEY KIE_API_URL
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
  export no_proxy=127.0.0.1,localhost
  export LC_ALL=C
  gst-inspect-1.0 lumasrc >/dev/null || die "GStreamer does not find lumasrc in $GST_PLUGIN_PATH"
}

# ----- the three readers -----

# Sets cmd to the command line of tool $1 reading file $2 (big or small).
# gst-launch exits non-zero on an error before EOS, and lumasrc and
# souphttpsrc both make a body that stops short of its Content-Length an
# error: a zero exit status means the whole file went through.
command_for () {
  local tool=$1 file=$2 url=http://127.0.0.1:$NGINX_PORT/$2.bin

  case $tool in
    lumasrc)
      # the network path as it was before the store: store=off
      cmd=(gst-launch-1.0 -q lumasrc task-id="$file" poll-interval=10
        store=off ! fakesink sync=false) ;;
    lumasrc-store)
      # the first streaming: a store of its own, emptied before each run
      rm -rf "$work/store-first"
      cmd=(env GST_LUMA_STORE_DIR="$work/store-first" gst-launch-1.0 -q
        lumasrc task-id="$file" poll-interval=10 ! fakesink sync=false) ;;
    stored)
      cmd=(env GST_LUMA_STORE_DIR="$work/store-kept"
        gst-launch-1.0 -q lumasrc task-id="$file" poll-interval=10
        ! fakesink sync=false) ;;
    filesrc)
      cmd=(gst-launch-1.0 -q filesrc location="$(stored_video "$file")"
        ! fakesink sync=false) ;;
    souphttpsrc)
      cmd=(gst-launch-1.0 -q souphttpsrc location="$url" ! fakesink sync=false) ;;
    curl)
      # prints how many bytes it got, for measure () to check
      cmd=(curl -sS -f -o /dev/null -w '%{size_download}' "$url") ;;
  esac
}

# Once per GStreamer reader and file, before the timed runs: the whole stream
# goes through fdsink to cmp. This also warms the registry and the page cache.
verify () {
  local tool=$1 file=$2 cmd

  command_for "$tool" "$file"
  # the same pipeline, with fdsink to stdout in place of fakesink
  "${cmd[@]:0:${#cmd[@]}-2}" fdsink fd=1 sync=false | cmp - "$www/$file.bin" \
    || die "$tool did not stream $file.bin byte for byte"
  log "$tool streams $file.bin byte for byte"
}

# The stored video of task $1 in $work/store-kept (which holds it alone).
stored_video () {
  local meta

  meta=$(grep -l "\"task-id\" : \"$1\"" "$work"/store-kept/*/*/meta.json) \
    || die "task $1 is not in the store"
  echo "$(dirname "$meta")/video"
}

# Streams each file once into $work/store-kept, and checks what it stored.
fill_store () {
  local file

  for file in small big; do
    GST_LUMA_STORE_DIR=$work/store-kept gst-launch-1.0 -q lumasrc \
      task-id="$file" poll-interval=10 ! fakesink sync=false \
      || die "lumasrc did not store $file.bin"
    cmp "$(stored_video "$file")" "$www/$file.bin" \
      || die "the stored $file.bin is not the file"
    # the first open hashes the file once (verified from then on): done
    # here, not in a timed run
    verify stored "$file"
  done
  log "the store holds both files"
}

# The time from PLAYING to the first buffer of the stored big file, in ms:
# the median of OPENS opens in one process (bench-store-open.py).
measure_open () {
  local python

  # a python3 first on PATH (pyenv, a venv) may not have PyGObject: Debian's
  for python in python3 /usr/bin/python3; do
    "$python" -c 'import gi' 2>/dev/null && break
  done
  GST_LUMA_STORE_DIR=$work/store-kept \
    "${reader_pin[@]}" "$python" "$top/tests/bench/bench-store-open.py" big "${OPENS:-21}" \
    || die "the open benchmark failed (python3-gi, gir1.2-gstreamer-1.0)"
}

# A trimmed clip of the big file, its first streaming with the store on
# (bench-trimmed.py): "PLAYED STORED", the seconds from the seek to the
# clip's end and to the whole video stored; the stored file is checked.
measure_trimmed () {
  local python size

  for python in python3 /usr/bin/python3; do
    "$python" -c 'import gi' 2>/dev/null && break
  done
  size=$(stat -c %s "$www/big.bin")
  rm -rf "$work/store-trimmed"
  GST_LUMA_STORE_DIR=$work/store-trimmed \
    "${reader_pin[@]}" "$python" "$top/tests/bench/bench-trimmed.py" big "$size" \
    || die "the trimmed clip benchmark failed"
  cmp "$(ls "$work"/store-trimmed/*/*/video)" "$www/big.bin" \
    || die "the trimmed clip's stored video is not the file"
}

# One timed run: appends "TOOL FILE wall user sys maxrss_kib" to the results.
# A failed run stops the benchmark.
measure () {
  local tool=$1 file=$2 timing=$work/time.out cmd out size

  command_for "$tool" "$file"
  if ! out=$(/usr/bin/time -f '%e %U %S %M' -o "$timing" "${reader_pin[@]}" \
      "${cmd[@]}" \
      2>"$work/run.err"); then
    cat "$work/run.err" >&2
    die "$tool on $file.bin failed"
  fi
  size=$(stat -c %s "$www/$file.bin")
  if [ "$tool" = curl ] && [ "$out" != "$size" ]; then
    die "curl got $out of $size bytes of $file.bin"
  fi
  echo "$tool $file $(tail -n 1 "$timing")" >>"$results"
}

# A B C, A B C... rather than A A A, B B B: a slow patch of the machine (the
# other core is shared) then spreads over all tools instead of one.
run_all () {
  local file=$1 i tool

  for i in $(seq "$RUNS"); do
    for tool in $TOOLS; do
      log "$file.bin run $i/$RUNS: $tool"
      measure "$tool" "$file"
    done
  done
}

# ----- the report -----

# median of the numbers on stdin
median () {
  sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) print "nan";
          else if (NR % 2) print v[(NR + 1) / 2];
          else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# One figure of each run of tool $1 on file $2: wall (s), cpu (user + sys,
# s) or rss (MiB).
column_of () {
  awk -v t="$1" -v f="$2" -v what="$3" '$1 == t && $2 == f {
      if (what == "wall") print $3
      else if (what == "cpu") print $4 + $5
      else if (what == "rss") print $6 / 1024
    }' "$results"
}

print_machine () {
  echo "date:        $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine:     $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "kernel:      $(uname -srm)"
  echo "pinning:     ${PIN:-none} (servers: ${server_pin[*]:-any CPU}; readers: ${reader_pin[*]:-any CPU})"
  echo "GStreamer:   $(gst-launch-1.0 --version | sed -n 's/^GStreamer //p')"
  echo "libsoup:     $(pkg-config --modversion libsoup-3.0 2>/dev/null \
    || dpkg-query -W -f='${Version}' libsoup-3.0-0)"
  echo "nginx:       $("$(find_nginx)" -v 2>&1 | sed 's/^nginx version: //')"
  echo "curl:        $(curl --version | head -n 1 | cut -d' ' -f2)"
  echo "load before: $load_before"
  echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
}

print_table () {
  local big_bytes tool cpu
  local -A w c r s

  big_bytes=$(stat -c %s "$www/big.bin")
  for tool in lumasrc souphttpsrc curl; do
    w[$tool]=$(column_of "$tool" big wall | median)
    # CPU per GiB: the median of user+sys over the runs, scaled to 1 GiB
    cpu=$(column_of "$tool" big cpu | median)
    c[$tool]=$(awk -v t="$cpu" -v b="$big_bytes" 'BEGIN { print t * 1073741824 / b }')
    r[$tool]=$(column_of "$tool" big rss | median)
    s[$tool]=$(column_of "$tool" small rss | median)
  done

  echo
  echo "$RUNS runs each, alternating; big file $((big_bytes / 1048576)) MiB, small file $SMALL_MIB MiB"
  echo "MB = 10^6 bytes; CPU = user + sys of the whole process; RSS = peak resident set (time %M)"
  echo
  awk -v b="$big_bytes" \
    -v wl="${w[lumasrc]}" -v ws="${w[souphttpsrc]}" -v wc="${w[curl]}" \
    -v cl="${c[lumasrc]}" -v cs="${c[souphttpsrc]}" -v cc="${c[curl]}" \
    -v rl="${r[lumasrc]}" -v rs="${r[souphttpsrc]}" -v rc="${r[curl]}" \
    -v sl="${s[lumasrc]}" -v ss="${s[souphttpsrc]}" -v sc="${s[curl]}" '
    function row(name, fmt, l, s, c) {
      printf "%-30s " fmt " " fmt " " fmt "   %6.2f\n", name, l, s, c, l / s
    }
    BEGIN {
      printf "%-30s %11s %11s %11s   %s\n", "", "lumasrc", "souphttpsrc",
        "curl", "lumasrc/souphttpsrc"
      row("wall time, median (s)", "%11.2f", wl, ws, wc)
      row("throughput (MB/s)", "%11.0f", b / wl / 1e6, b / ws / 1e6, b / wc / 1e6)
      row("CPU per GiB (s)", "%11.3f", cl, cs, cc)
      row("peak RSS, big file (MiB)", "%11.1f", rl, rs, rc)
      row("peak RSS, small file (MiB)", "%11.1f", sl, ss, sc)
    }'
  print_store_table "$big_bytes"
  echo
  echo "all runs (tool file wall user sys maxrss_KiB):"
  sed 's/^/  /' "$results"
}

print_store_table () {
  local big_bytes=$1 tool cpu
  local -A w c

  for tool in lumasrc souphttpsrc lumasrc-store stored filesrc; do
    w[$tool]=$(column_of "$tool" big wall | median)
    cpu=$(column_of "$tool" big cpu | median)
    c[$tool]=$(awk -v t="$cpu" -v b="$big_bytes" 'BEGIN { print t * 1073741824 / b }')
  done
  echo
  echo "the store (big file): first streaming with the store on, and the stored video"
  echo
  awk -v wl="${w[lumasrc]}" -v ws="${w[souphttpsrc]}" -v wf="${w[lumasrc-store]}" \
    -v wst="${w[stored]}" -v wfs="${w[filesrc]}" \
    -v cl="${c[lumasrc]}" -v cf="${c[lumasrc-store]}" -v cst="${c[stored]}" \
    -v cfs="${c[filesrc]}" -v open="$open_ms" -v trimmed="$trimmed" '
    BEGIN {
      split(trimmed, t, " ")
      printf "%-46s %8.2f s   ratio to souphttpsrc %.2f (store=off: %.2f)\n",
        "first streaming, store on: wall time", wf, wf / ws, wl / ws
      printf "%-46s %8.2f\n",
        "first streaming, store on / store=off: wall", wf / wl
      printf "%-46s %8.3f s   (store=off: %.3f)\n",
        "first streaming, store on: CPU per GiB", cf, cl
      printf "%-46s %8.2f s   ratio to filesrc %.2f (target <= 1.2)\n",
        "stored video: wall time", wst, wst / wfs
      printf "%-46s %8.2f s\n", "filesrc ! fakesink, same file: wall time", wfs
      printf "%-46s %8.3f s   (filesrc: %.3f)\n", "stored video: CPU per GiB",
        cst, cfs
      printf "%-46s %8.1f ms  (target < 20)\n",
        "stored task: PLAYING to first buffer, median", open
      printf "%-46s %8.2f s   stored whole %.2f s after the seek\n",
        "trimmed clip (the middle tenth), store on: played", t[1], t[2]
    }'
}

main () {
  [[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number"
  [[ "$BIG_MIB" =~ ^[1-9][0-9]*$ ]] || die "BIG_MIB must be a positive number"

  install_deps
  build

  trap cleanup EXIT
  trap 'exit 130' INT TERM
  work=$(mktemp -d "${TMPDIR:-/tmp}/bench-streaming.XXXXXX")
  # nginx's worker may run as another user (when started by root): it must
  # be able to read what it serves
  chmod 755 "$work"
  www=$work/www
  mkdir -m 755 "$www"
  results=$work/results

  make_files
  start_nginx
  start_emulator
  setup_environment

  for file in small big; do
    verify lumasrc "$file"
    verify souphttpsrc "$file"
    verify lumasrc-store "$file"
  done
  fill_store
  open_ms=$(measure_open)
  trimmed=$(measure_trimmed)

  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  : >"$results"
  run_all small
  run_all big

  echo
  print_machine
  if [ "$TOOLS" = "$ALL_TOOLS" ]; then
    print_table
  else
    echo
    echo "all runs of $TOOLS (tool file wall user sys maxrss_KiB):"
    sed 's/^/  /' "$results"
    echo "trimmed clip (played, stored whole after the seek, s): $trimmed"
  fi
}

main "$@"
