#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Randomized torture of the store's "one download" protocol: several lumasrc
# processes stream the same task into the same store at once while some of
# them are killed (SIGKILL) or stopped (SIGSTOP) at random moments; the
# writer, the one holding the entry's lock, most often. Whoever is left must
# still get the whole video, the store must never hold a wrong byte, and the
# clients between them should download the video about once.
#
# A tool run by hand, not a test: meson and CI do not run it. Linux only
# (/proc/locks tells which process holds an entry's lock).
#
#   tests/stress/store-torture.sh
#   DURATION=120 SEED=4242 tests/stress/store-torture.sh
#
# It needs a built tree (the plugin and the emulator):
#   meson setup build && meson compile -C build
#
# Set-up: one luma-emulator with two tasks, t1 (80 MiB of random bytes sent
# at 20 MB/s) and t2 (48 MiB at 8 MB/s), whose records give result URLs on
# store-torture-proxy.py, a TCP proxy in front of the emulator's result-file
# host that logs every HTTP request and its Range. Each round draws, from
# its seed: the task; the store (fresh, kept from the round before, or
# holding a video.part left by a client killed mid-download); 3 to 6 clients
# (store=on or read-only; filesink, behind a queue, behind a slow identity,
# or fakesink; started within 2 s); and events (kill the writer, kill a
# client, stop the writer or a client for 6 to 8 s, kill them all). One
# round in five is "lockstep": a writer and followers started within 60 ms
# of each other, and the writer killed.
#
# What a round checks:
#   - every client not killed exits 0 within 120 s (no hang), with no
#     GLib CRITICAL or WARNING on stderr, and, unless it is a fakesink,
#     wrote exactly the video (cmp);
#   - the store then holds the whole video and no video.part, or only a
#     video.part that is a prefix of the video;
#   - then one client (store=on or read-only), another store=on one if the
#     store still has no video, and a read-only one stream the exact video;
#     the store then holds the whole video, and the read-only client made
#     no request.
#
# Environment:
#   BUILD_DIR=DIR  the build directory (default build; relative to the top
#                  of the tree): it must hold plugin/ and
#                  tests/emulator/luma-emulator
#   DURATION=S     start no round after S seconds (default 600)
#   ROUNDS=N       run at most N rounds (default: as many as DURATION allows)
#   SEED=N         the seed of round 1; round K uses SEED+K-1 (default:
#                  random). SEED=S ROUNDS=1 replays the round of seed S, but
#                  for a store "kept" from a round before, which starts empty
#   LOCKSTEP=1     make every round a lockstep one
#   KEEP=1         keep the temporary directory (under $TMPDIR)
#
# Output: one line a round, as in
#   round 7 seed=1006 PASS 9.7s t1 store=fresh clients=5 killed=2 stopped=0
#     store-after=video requests=3 [c0:- c3:bytes=23200000- c1:bytes=...]
# (on one line): the task, the store the round started with (fresh, kept,
# part), how many clients it had, killed and stopped, the store it left,
# and the requests made to the result-file host while the clients ran
# (user agent c<client>: the Range asked for, "-" for the whole file; the
# requests of the final clients are not counted). Fewer is better: the
# clients share one download from byte 0, and a writer killed costs one
# ranged request (from the .part's length) by the client taking the entry
# over; a read-only client with no download to follow, and followers of a
# writer stopped for seconds, may stream on their own. A FAIL line ends with
# what went wrong, a "SOFT:" note is a remark, not a failure. At the end, a
# tally: rounds, passed, failed, and how many rounds made how many requests.
# The run exits 1 if a round failed.
#
# A failing round's files stay in the temporary directory, in
# round-K-seed-S/: the scenario, the events as they happened, each client's
# stderr (GST_DEBUG=lumasrc:5) and output, the requests, the store's files;
# summary.txt there has the rounds' lines in full (clients and events).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

BUILD_DIR=${BUILD_DIR:-build}
DURATION=${DURATION:-600}
ROUNDS=${ROUNDS:-0}
SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}
LOCKSTEP=${LOCKSTEP:-0}
KEEP=${KEEP:-0}
# an emulator accepts any key; this one only has to match on both sides
KEY=torture-test-key
# seconds a client may take before it counts as hung (a round's clients
# take 3 to 15 s)
CLIENT_TIMEOUT=120

work=""
proxy_pid=""
emulator_pid=""
final_pid=""
failed=0
soft=0

die () {
  echo "store-torture: $*" >&2
  exit 1
}

# A line on stdout, and in summary.txt.
say () {
  echo "$*"
  echo "$(date +%T) $*" >>"$work/summary.txt"
}

# The clients run under timeout, which puts them in a process group of
# their own: an interrupt reaches this script only, so the clients still
# running are ended here, through their timeout (which passes the signal on
# and wakes a stopped client). The temporary directory stays when a round
# failed, and when this script itself failed (an exit status other than 0,
# 1 or an interrupt's).
cleanup () {
  local status=$? f keep

  for f in "$work"/round-*/tpid-*; do
    [ -f "$f" ] || continue
    if [ ! -e "${f/tpid-/rc-}" ]; then
      kill "$(cat "$f")" 2>/dev/null || true
    fi
  done
  if [ -n "$final_pid" ]; then kill "$final_pid" 2>/dev/null || true; fi
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; fi
  if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  if [ -z "$work" ]; then
    return
  fi
  keep=$KEEP
  if [ "$failed" -gt 0 ]; then keep=1; fi
  if [ "$status" -gt 1 ] && [ "$status" != 130 ]; then keep=1; fi
  if [ "$keep" = 1 ]; then
    echo "store-torture: kept $work" >&2
  else
    rm -rf "$work"
  fi
}

# ----- set-up -----

check_build () {
  [ -d "$BUILD_DIR" ] || die "no build directory $BUILD_DIR: build first" \
    "(meson setup $BUILD_DIR && meson compile -C $BUILD_DIR)"
  # absolute from here on: GST_PLUGIN_PATH must not depend on the directory
  BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
  emulator=$BUILD_DIR/tests/emulator/luma-emulator
  if [ ! -f "$BUILD_DIR/plugin/libgstluma.so" ] || [ ! -x "$emulator" ]; then
    die "$BUILD_DIR lacks plugin/libgstluma.so or tests/emulator/luma-emulator:" \
      "build first (meson setup $BUILD_DIR && meson compile -C $BUILD_DIR)"
  fi
}

# GStreamer's own core elements (queue, identity, filesink, fakesink), found
# where pkg-config says, else where Debian and others put them.
find_core_elements () {
  local dir candidates=()

  dir=$(pkg-config --variable=pluginsdir gstreamer-1.0 2>/dev/null || true)
  if [ -n "$dir" ]; then candidates+=("$dir"); fi
  candidates+=(/usr/lib/*-linux-gnu*/gstreamer-1.0 /usr/lib64/gstreamer-1.0
    /usr/lib/gstreamer-1.0 /usr/local/lib/gstreamer-1.0)
  for dir in "${candidates[@]}"; do
    if [ -f "$dir/libgstcoreelements.so" ]; then
      echo "$dir/libgstcoreelements.so"
      return
    fi
  done
  die "GStreamer's core elements (libgstcoreelements.so) are not installed"
}

# Random bytes: a wrong byte anywhere in an output shows in cmp.
make_videos () {
  head -c $((80 * 1024 * 1024)) /dev/urandom >"$work/video-t1.bin"
  head -c $((48 * 1024 * 1024)) /dev/urandom >"$work/video-t2.bin"
}

free_port () {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 10 s for file $1 to be written by process $2.
wait_ready () {
  local i

  for i in $(seq 100); do
    if [ -s "$1" ]; then return 0; fi
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# The emulator's result-file host must be on a port known before the proxy
# starts (the proxy forwards to it) and the proxy's port before the emulator
# starts (the task records give it): a port probed free can be taken before
# the emulator binds it, so a failed start is tried again.
start_servers () {
  local attempt video_port proxy_port

  for attempt in 1 2 3 4 5; do
    video_port=$(free_port)
    rm -f "$work/proxy.ready" "$work/emulator.ready"
    python3 "$top/tests/stress/store-torture-proxy.py" "$video_port" \
      "$work/proxy.log" "$work/proxy.ready" 2>"$work/proxy.err" &
    proxy_pid=$!
    wait_ready "$work/proxy.ready" "$proxy_pid" \
      || { cat "$work/proxy.err" >&2; die "the proxy did not start"; }
    proxy_port=$(cat "$work/proxy.ready")
    "$emulator" --key "$KEY" --video-port "$video_port" \
      --ready-file "$work/emulator.ready" \
      --task "t1=$work/video-t1.bin,rate=20000000,url=http://127.0.0.1:$proxy_port/r/t1/a.mp4" \
      --task "t2=$work/video-t2.bin,rate=8000000,url=http://127.0.0.1:$proxy_port/r/t2/a.mp4" \
      >/dev/null 2>"$work/emulator.log" </dev/null &
    emulator_pid=$!
    if wait_ready "$work/emulator.ready" "$emulator_pid"; then
      KIE_API_URL=$(sed -n 's/^KIE_API_URL=//p' "$work/emulator.ready")
      echo "emulator at $KIE_API_URL, its result files through the proxy on" \
        "port $proxy_port (attempt $attempt)" >>"$work/summary.txt"
      return
    fi
    kill "$emulator_pid" "$proxy_pid" 2>/dev/null || true
    wait "$emulator_pid" "$proxy_pid" 2>/dev/null || true
    emulator_pid=""
    proxy_pid=""
  done
  cat "$work/emulator.log" >&2
  die "the emulator did not start"
}

# Only the core elements and lumasrc, in a registry of this run's own: the
# user's plugins and settings stay out of it.
setup_environment () {
  mkdir "$work/plugins"
  ln -s "$(find_core_elements)" "$work/plugins/"
  export GST_PLUGIN_SYSTEM_PATH_1_0=$work/plugins
  export GST_PLUGIN_PATH_1_0=$BUILD_DIR/plugin
  export GST_REGISTRY_1_0=$work/registry.bin
  export KIE_API_URL KIE_API_KEY=$KEY
  export GST_DEBUG=lumasrc:5 GST_DEBUG_NO_COLOR=1
  unset GST_LUMA_STORE GST_LUMA_STORE_LIMIT GST_LUMA_STORE_DIR
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
  export no_proxy=127.0.0.1,localhost
  gst-inspect-1.0 lumasrc >/dev/null \
    || die "GStreamer does not find lumasrc in $BUILD_DIR/plugin"
}

# ----- the pieces of a round -----

# An integer in [$1, $2], from the round's seeded RANDOM.
rnd () {
  echo $(($1 + RANDOM % ($2 - $1 + 1)))
}

# Milliseconds as seconds, for sleep.
ms () {
  printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}

proxy_lines () {
  wc -l <"$work/proxy.log"
}

# The first file named $2 in store $1, or nothing.
store_file () {
  find "$1" -name "$2" -type f -print -quit 2>/dev/null || true
}

# The gst-launch run by the timeout of client $1 of this round, or nothing
# (not started yet, or gone).
pid_of () {
  local tpid

  tpid=$(cat "$D/tpid-$1" 2>/dev/null) || return 0
  pgrep -P "$tpid" 2>/dev/null | head -n 1 || true
}

# Whether pid $1 is still a gst-launch: a pid read a moment ago may have
# exited, even been reused.
is_gst () {
  local cmd

  cmd=$(tr '\0' ' ' 2>/dev/null </proc/"$1"/cmdline) || return 1
  [[ $cmd == "gst-launch-1.0 "* ]]
}

# The pids holding the entry's lock of store $1 for writing: the writer.
# lumasrc takes it with flock, which /proc/locks lists by inode.
writer_pids () {
  local lock ino

  lock=$(store_file "$1" lock)
  [ -n "$lock" ] || return 0
  ino=$(stat -c %i "$lock" 2>/dev/null) || return 0
  awk -v ino="$ino" '$2 == "FLOCK" && $4 == "WRITE" {
      n = split($6, a, ":"); if (a[n] == ino) print $5 }' /proc/locks
}

# Starts client $1 (store=$2, sink kind $3) on store $4 and task $5, in the
# background, and returns once its timeout's pid is in tpid-$1. Its exit
# status goes to rc-$1 when it ends: the launching subshell cannot hand it
# back.
start_client () {
  local idx=$1 mode=$2 sink=$3 store=$4 task=$5 out=$D/out-$1
  local tail

  case $sink in
    file) tail=(filesink location="$out") ;;
    queue*) tail=(queue max-size-bytes="${sink#queue}000000" ! filesink location="$out") ;;
    slow*) tail=(identity sleep-time="${sink#slow}" ! filesink location="$out") ;;
    fake) tail=(queue ! fakesink sync=false) ;;
  esac
  rm -f "$D/tpid-$idx" "$D/rc-$idx"
  (
    GST_LUMA_STORE_DIR=$store timeout -k 10 "$CLIENT_TIMEOUT" \
      gst-launch-1.0 -q lumasrc task-id="$task" poll-interval=1000 \
      store="$mode" user-agent="torture-c$idx" ! "${tail[@]}" \
      >"$D/stdout-$idx" 2>"$D/stderr-$idx" </dev/null &
    echo $! >"$D/tpid-$idx.tmp"
    mv "$D/tpid-$idx.tmp" "$D/tpid-$idx"
    rc=0
    wait $! || rc=$?
    echo "$rc" >"$D/rc-$idx"
  ) 2>/dev/null &
  while [ ! -s "$D/tpid-$idx" ]; do sleep 0.01; done
}

# Waits for client $1's rc file; gives up after timeout's own limit, and
# some: a client that never reports is a failure of this script's own.
wait_client () {
  local i

  for i in $(seq $(((CLIENT_TIMEOUT + 30) * 10))); do
    if [ -e "$D/rc-$1" ]; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Milliseconds since the round's clock started.
now () {
  echo $((($(date +%s%N) - t0) / 1000000))
}

# The number of client pid $1 in this round, or "?".
index_of () {
  local j

  for ((j = 0; j < n; j++)); do
    if [ "$(pid_of "$j")" = "$1" ]; then
      echo "$j"
      return
    fi
  done
  echo '?'
}

# Runs event $1 ("MS killwriter", "MS kill I", "MS killall", "MS stopwriter
# DUR", "MS stop I DUR") at its time, and notes in the events file what it
# did: only what it did to a live gst-launch counts.
run_event () {
  local ev what p w j dur idx

  read -r -a ev <<<"$1"
  what=${ev[1]}
  sleep "$(ms "${ev[0]}")"
  case $what in
    killwriter)
      for w in $(writer_pids "$STORE"); do
        idx=$(index_of "$w")
        if is_gst "$w" && kill -KILL "$w" 2>/dev/null; then
          echo "$(now)ms killed writer client $idx pid $w" >>"$D/events"
        fi
      done ;;
    kill)
      p=$(pid_of "${ev[2]}")
      if [ -n "$p" ] && is_gst "$p" && kill -KILL "$p" 2>/dev/null; then
        echo "$(now)ms killed client ${ev[2]} pid $p (writer now: $(writer_pids "$STORE" | tr '\n' ' '))" >>"$D/events"
      fi ;;
    killall)
      for ((j = 0; j < n; j++)); do
        p=$(pid_of "$j")
        if [ -n "$p" ] && is_gst "$p" && kill -KILL "$p" 2>/dev/null; then
          echo "$(now)ms killed client $j pid $p (killall)" >>"$D/events"
        fi
      done ;;
    stopwriter | stop)
      if [ "$what" = stop ]; then
        p=$(pid_of "${ev[2]}")
        dur=${ev[3]}
      else
        p=$(writer_pids "$STORE" | head -n 1)
        dur=${ev[2]}
      fi
      [ -n "$p" ] || return 0
      idx=$(index_of "$p")
      if is_gst "$p" && kill -STOP "$p" 2>/dev/null; then
        echo "$(now)ms stopped client $idx pid $p for ${dur}ms ($what)" >>"$D/events"
        sleep "$(ms "$dur")"
        kill -CONT "$p" 2>/dev/null || true
        echo "$(now)ms continued pid $p" >>"$D/events"
      fi ;;
  esac
}

# ----- a round -----

# The store the round starts with: fresh (6 in 10), kept from the round
# before (2 in 10) or holding the .part of a client killed mid-download.
# Appends its kind to scen.
prepare_store () {
  local kind pk tp cp part

  kind=$(rnd 1 10)
  if [ "$kind" -le 6 ]; then
    rm -rf "$STORE"
    scen+=" store=fresh"
    short_store=fresh
  elif [ "$kind" -le 8 ]; then
    rm -rf "$STORE"
    if [ "$task" = t1 ]; then pk=$(rnd 300 3500); else pk=$(rnd 300 5000); fi
    start_client p on file "$STORE" "$task"
    sleep "$(ms "$pk")"
    tp=$(cat "$D/tpid-p")
    cp=$(pgrep -P "$tp" 2>/dev/null | head -n 1 || true)
    if [ -n "$cp" ] && is_gst "$cp"; then kill -KILL "$cp" 2>/dev/null || true; fi
    wait_client p || true
    part=$(store_file "$STORE" video.part)
    scen+=" store=prepart(killed-after=${pk}ms,part=$(if [ -n "$part" ]; then stat -c %s "$part"; else echo none; fi))"
    short_store=part
  else
    scen+=" store=kept($(find "$STORE" -name 'video*' -printf '%f:%s ' 2>/dev/null || true))"
    short_store=kept
  fi
}

# Draws the clients (modes, sinks, starts) and the events, and writes the
# scenario file.
draw_scenario () {
  local i m s r ls0 nk

  n=$(rnd 3 6)
  modes=() sinks=() starts=() events=()
  lockstep=0
  for ((i = 0; i < n; i++)); do
    m=on
    if [ "$(rnd 1 10)" -le 2 ]; then m=read-only; fi
    r=$(rnd 1 20)
    if [ "$r" -le 10 ]; then s="file"
    elif [ "$r" -le 14 ]; then s=queue$(rnd 1 4)
    elif [ "$r" -le 18 ]; then s=slow$(rnd 2000 25000)
    else s=fake; fi
    modes[i]=$m
    sinks[i]=$s
    starts[i]=$(rnd 0 2000)
  done
  # lockstep: client 0 a plain writer, the others plain followers started
  # within 60 ms of each other, so that they notice the writer's death at once
  if [ "$LOCKSTEP" = 1 ] || [ "$(rnd 1 5)" -eq 1 ]; then
    ls0=$(rnd 300 1000)
    for ((i = 0; i < n; i++)); do
      modes[i]=on
      sinks[i]="file"
      if [ "$i" = 0 ]; then starts[i]=0; else starts[i]=$((ls0 + RANDOM % 60)); fi
    done
    scen+=" lockstep"
    lockstep=1
  fi
  if [ "$(rnd 1 10)" -le 6 ]; then events+=("$(rnd 300 4000) killwriter"); fi
  if [ "$(rnd 1 10)" -le 3 ]; then events+=("$(rnd 1500 6000) killwriter"); fi
  nk=$(rnd 0 2)
  for ((i = 0; i < nk; i++)); do
    events+=("$(rnd 200 6000) kill $(rnd 0 $((n - 1)))")
  done
  if [ "$(rnd 1 10)" -le 3 ]; then
    if [ "$(rnd 1 2)" -eq 1 ]; then
      events+=("$(rnd 500 3000) stopwriter $(rnd 6000 8000)")
    else
      events+=("$(rnd 500 3000) stop $(rnd 0 $((n - 1))) $(rnd 6000 8000)")
    fi
  fi
  if [ "$(rnd 1 12)" -eq 1 ]; then events+=("$(rnd 800 4000) killall"); fi
  if [ "$lockstep" = 1 ]; then events+=("$(rnd 1500 3500) killwriter"); fi
  {
    echo "seed=$seed $scen"
    for ((i = 0; i < n; i++)); do
      echo "client $i start=${starts[i]}ms store=${modes[i]} sink=${sinks[i]}"
    done
    for e in ${events[@]+"${events[@]}"}; do echo "event at $e"; done
  } >"$D/scenario"
  scen+=" n=$n clients=[$(for ((i = 0; i < n; i++)); do printf '%s/%s@%s ' "${modes[i]}" "${sinks[i]}" "${starts[i]}"; done)]"
  scen+=" events=[$(printf '%s; ' ${events[@]+"${events[@]}"})]"
}

# Launches the clients and the events on one clock, and waits for all.
run_clients () {
  local i e actors=() ok=1

  : >"$D/events"
  t0=$(date +%s%N)
  for ((i = 0; i < n; i++)); do
    ( sleep "$(ms "${starts[i]}")"
      start_client "$i" "${modes[i]}" "${sinks[i]}" "$STORE" "$task" ) &
    actors+=($!)
  done
  for e in ${events[@]+"${events[@]}"}; do
    ( run_event "$e" || true ) &
    actors+=($!)
  done
  for ((i = 0; i < n; i++)); do
    if ! wait_client "$i"; then
      ok=0
      notes+=("client $i never reported its exit")
    fi
  done
  wait "${actors[@]}" 2>/dev/null || true
  tend=$(now)
  [ "$ok" = 1 ]
}

# Checks each client's exit status, stderr and output.
check_clients () {
  local i killed r oc

  for ((i = 0; i < n; i++)); do
    killed=0
    if grep -q "killed.* client $i pid" "$D/events"; then killed=1; fi
    r=$(cat "$D/rc-$i" 2>/dev/null || echo '?')
    oc="-"
    if [ "${sinks[i]}" != fake ] && [ -f "$D/out-$i" ]; then
      oc=$(cmp "$SRC" "$D/out-$i" 2>&1) && oc=same
    fi
    echo "client $i rc=$r killed=$killed out=$oc" >>"$D/results"
    if [ "$killed" = 1 ]; then
      # killed: 137, or 0 if it was done by then
      if [ "$r" != 137 ] && [ "$r" != 0 ]; then fail "killed client $i rc=$r"; fi
      continue
    fi
    if [ "$r" = 124 ] || [ "$r" = 137 ]; then
      fail "client $i (${modes[i]}/${sinks[i]}) hung (timeout: rc=$r)"
    elif [ "$r" != 0 ]; then
      fail "client $i (${modes[i]}/${sinks[i]}) rc=$r"
    fi
    if [ "${sinks[i]}" != fake ] && [ "$oc" != same ]; then
      fail "client $i output differs: $oc"
    fi
    if grep -qE 'CRITICAL|WARNING \*\*|assertion|Segmentation' "$D/stderr-$i"; then
      fail "client $i stderr: $(grep -m1 -E 'CRITICAL|WARNING \*\*|assertion|Segmentation' "$D/stderr-$i")"
    fi
  done
}

# Checks what the clients left in the store: the whole video and no .part,
# or a .part that is a prefix of the video. Sets store_after.
check_store () {
  local vid part ps i

  vid=$(store_file "$STORE" video)
  part=$(store_file "$STORE" video.part)
  if [ -n "$vid" ]; then
    store_after=video
    if ! cmp -s "$SRC" "$vid"; then
      fail "stored video differs: $(cmp "$SRC" "$vid" 2>&1 || true)"
    fi
    if [ -n "$part" ]; then fail "video and .part both present"; fi
  elif [ -n "$part" ]; then
    ps=$(stat -c %s "$part")
    store_after=part:$ps
    if [ "$ps" -gt "$size" ] || ! cmp -s -n "$ps" "$SRC" "$part"; then
      fail ".part ($ps bytes) is not a prefix: $(cmp -n "$ps" "$SRC" "$part" 2>&1 || true)"
    fi
    # a store=on client that finished normally (never stopped or killed)
    # should have left a video, unless it gave up on a stalled writer
    for ((i = 0; i < n; i++)); do
      if [ "${modes[i]}" = on ] && [ "$(cat "$D/rc-$i" 2>/dev/null)" = 0 ] \
          && ! grep -q "client $i pid" "$D/events"; then
        notes+=("SOFT: on-client $i finished but the store holds only a .part")
        soft=$((soft + 1))
        break
      fi
    done
  else
    store_after=none
  fi
}

# The final clients, one at a time: a random mode first, then store=on if
# there is no video yet, then a read-only one that must be served from the
# store with no request.
run_finals () {
  local fm f fmode q0 q1 fr foc vid part

  fm=on
  if [ "$(rnd 1 3)" -eq 1 ]; then fm=read-only; fi
  for f in 1 2 3; do
    case $f in
      1) fmode=$fm ;;
      2)
        if [ -n "$(store_file "$STORE" video)" ]; then continue; fi
        fmode=on ;;
      3) fmode=read-only ;;
    esac
    q0=$(proxy_lines)
    # in the background: an interrupt is then handled at once
    GST_LUMA_STORE_DIR=$STORE timeout -k 10 "$CLIENT_TIMEOUT" \
      gst-launch-1.0 -q lumasrc task-id="$task" poll-interval=1000 \
      store="$fmode" user-agent="torture-f$f" \
      ! filesink location="$D/out-f$f" >/dev/null 2>"$D/stderr-f$f" </dev/null &
    final_pid=$!
    fr=0
    wait "$final_pid" || fr=$?
    final_pid=""
    q1=$(proxy_lines)
    foc=$(cmp "$SRC" "$D/out-f$f" 2>&1) && foc=same
    echo "final $f store=$fmode rc=$fr out=$foc requests=$((q1 - q0))" >>"$D/results"
    if [ "$fr" != 0 ] || [ "$foc" != same ]; then
      fail "final $f ($fmode) rc=$fr out=$foc"
    fi
    if [ "$f" = 3 ] && [ $((q1 - q0)) != 0 ]; then
      fail "final read-only client made $((q1 - q0)) requests"
    fi
  done
  vid=$(store_file "$STORE" video)
  part=$(store_file "$STORE" video.part)
  if [ -z "$vid" ] || [ -n "$part" ] || ! cmp -s "$SRC" "$vid"; then
    fail "after the finals: video=${vid:+yes} part=${part:+yes}"
  fi
}

fail () {
  round_failed=1
  notes+=("$*")
}

# Round $1 with seed $2.
round () {
  local k=$1 meta rq verdict pstart pend reqs
  local scen store_after short_store tend

  seed=$2
  RANDOM=$seed
  D=$work/round-$k-seed-$seed
  mkdir -p "$D"
  task=t1
  if [ "$(rnd 1 10)" -le 3 ]; then task=t2; fi
  SRC=$work/video-$task.bin
  STORE=$work/store-$task
  size=$(stat -c %s "$SRC")
  scen="task=$task"
  round_failed=0
  notes=()

  prepare_store
  pstart=$(proxy_lines)
  draw_scenario
  if ! run_clients; then round_failed=1; fi
  pend=$(proxy_lines)
  check_clients
  check_store
  reqs=$((pend - pstart))
  sed -n "$((pstart + 1)),${pend}p" "$work/proxy.log" >"$D/requests"
  run_finals
  find "$STORE" -type f -printf '%P %s\n' >"$D/store-ls" 2>/dev/null || true
  meta=$(store_file "$STORE" meta.json)
  if [ -n "$meta" ]; then cp "$meta" "$D/meta.json"; fi

  hist[$reqs]=$((${hist[$reqs]:-0} + 1))
  rq=$(awk '{ r = $NF; sub("range=", "", r); u = $(NF - 1); sub("ua=torture-", "", u);
      printf "%s%s:%s", (NR > 1 ? " " : ""), u, r }' "$D/requests")
  verdict=PASS
  if [ "$round_failed" = 1 ]; then verdict=FAIL; fi
  echo "$(date +%T) round $k seed=$seed $verdict ${tend}ms $scen | store-after=$store_after requests=$reqs [$rq] | $(tr '\n' ' ' <"$D/events")| ${notes[*]:-}" >>"$work/summary.txt"
  printf 'round %d seed=%d %s %d.%01ds %s store=%s clients=%d killed=%d stopped=%d%s store-after=%s requests=%d [%s]%s\n' \
    "$k" "$seed" "$verdict" $((tend / 1000)) $((tend % 1000 / 100)) "$task" \
    "$short_store" "$n" "$(grep -c killed "$D/events" || true)" \
    "$(grep -c stopped "$D/events" || true)" \
    "$(if [ "$lockstep" = 1 ]; then echo " lockstep"; fi)" "$store_after" \
    "$reqs" "$rq" "${notes[*]:+ | ${notes[*]}}"
  if [ "$round_failed" = 1 ]; then
    failed=$((failed + 1))
    echo "  its files: $D"
  else
    rm -f "$D"/out-*
    if [ ${#notes[@]} -eq 0 ]; then rm -rf "$D"; fi
  fi
}

main () {
  local k start rounds=0 r line="" limit=""

  [[ "$DURATION" =~ ^[0-9]+$ ]] || die "DURATION must be a number of seconds"
  [[ "$ROUNDS" =~ ^[0-9]+$ ]] || die "ROUNDS must be a number"
  [[ "$SEED" =~ ^[0-9]+$ ]] || die "SEED must be a number"
  command -v python3 >/dev/null || die "python3 is not installed"
  command -v pgrep >/dev/null || die "pgrep (procps) is not installed"
  check_build

  trap cleanup EXIT
  trap 'exit 130' INT TERM
  work=$(mktemp -d "${TMPDIR:-/tmp}/store-torture.XXXXXX")
  : >"$work/summary.txt"
  : >"$work/proxy.log"
  make_videos
  start_servers
  setup_environment
  declare -gA hist=()

  if [ "$ROUNDS" != 0 ]; then limit=", at most $ROUNDS rounds"; fi
  say "store-torture: seed $SEED, $DURATION s$limit, the plugin of" \
    "$BUILD_DIR, in $work"
  start=$(date +%s)
  for ((k = 1; ROUNDS == 0 || k <= ROUNDS; k++)); do
    if [ $(($(date +%s) - start)) -ge "$DURATION" ]; then break; fi
    round "$k" $((10#$SEED + k - 1))
    rounds=$k
  done

  for r in $(printf '%s\n' "${!hist[@]}" | sort -n); do
    line+=" $r:${hist[$r]}"
  done
  say "done in $(($(date +%s) - start)) s: $rounds rounds, $((rounds - failed))" \
    "passed, $failed failed ($soft with a SOFT note)"
  say "requests per round (requests:rounds):${line:- none}"
  [ "$failed" = 0 ]
}

main "$@"
