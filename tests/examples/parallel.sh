#!/usr/bin/env bash
# Two runs of the same command at once (a retry while the first
# still runs, a batch that starts it twice) share OUTPUT.part: the second
# truncates the first's bytes and removes the file when it fails or is
# interrupted, so that the first fails to rename, or renames a file with a
# hole of zeros and says "Saved".
# SPDX-License-Identifier: LGPL-2.1-or-later
source "$(dirname "$0")/lib.sh"

make_sample video.mp4
# about 10 s to download: the second run starts while the first streams
start_luma_emulator --task slow=video.mp4,rate=12000 \
  --task slow2=video.mp4,rate=12000 --task quick=video.mp4

# wait_for_size FILE N: FILE holds N bytes or more (at most 30 s)
wait_for_size() {
  for _ in $(seq 300); do
    [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# second_run_interrupted COMMAND...: runs COMMAND and interrupts it
# (Ctrl-C) once it has polled the task (its filesink has opened OUTPUT.part
# by then), or after 5 s
second_run_interrupted() {
  local pid
  "$@" >second.out 2>&1 &
  pid=$!
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    grep -q "success" second.out && break
    sleep 0.1
  done
  kill -INT "$pid" 2>/dev/null
  wait "$pid"
  sed 's/^/#   second run: /' second.out
}

# luma-transcode: the first run's file is 0 bytes until mp4mux ends, the
# second truncates nothing yet but removes the file when interrupted
"$LUMA_TRANSCODE" --poll-interval 100 slow out.mp4 >first.out 2>&1 &
first=$!
wait_for_size out.mp4.part 0
sleep 1
second_run_interrupted "$LUMA_TRANSCODE" --poll-interval 100 slow out.mp4
wait "$first"
status=$?
sed 's/^/#   first run: /' first.out
check "test_transcode_parallel_run: the first run exits 0" test "$status" = 0
check "test_transcode_parallel_run: the first run's OUTPUT is whole" has_duration out.mp4 1.9 2.1

# luma-wait-many.py: lumasrc ! filesink, the bytes as they come
mkdir first-dir
"$PYTHON" "$LUMA_WAIT_MANY" --poll-interval 100 first-dir slow2 >first.out 2>&1 &
first=$!
wait_for_size first-dir/slow2.mp4.part 65000 || echo "# the first run wrote nothing"
second_run_interrupted "$PYTHON" "$LUMA_WAIT_MANY" --poll-interval 100 first-dir slow2
wait "$first"
status=$?
sed 's/^/#   first run: /' first.out
check "test_wait_many_parallel_run: the first run exits 0" test "$status" = 0
check "test_wait_many_parallel_run: the first run's file is the video" \
  cmp video.mp4 first-dir/slow2.mp4

# luma-ges-timeline.py: OUTPUT.part held by another run while it renders
# (this script stands in for that run: the same lock, flock(1))
exec {holder}>ges.mp4.part
flock -n "$holder"
"$PYTHON" "$LUMA_GES_TIMELINE" --poll-interval 100 ges.mp4 quick >ges.out 2>&1
status=$?
exec {holder}>&-
sed 's/^/#   ges run: /' ges.out
check "test_ges_timeline_parallel_run: refused while another run renders" \
  test "$status" != 0
check "test_ges_timeline_parallel_run: says why" \
  grep -q "being written by another run" ges.out
check "test_ges_timeline_parallel_run: the other run's file stays" \
  test -e ges.mp4.part

# Where flock () is refused (ENOLCK: NFS without lockd; stood in for by an
# LD_PRELOAD shim, after the sanitizer's runtime where there is one), a
# single run saves its OUTPUT, unlocked, rather than refuse to run
cat >nolock.c <<'EOC'
#include <errno.h>
int flock (int fd, int op) { (void) fd; (void) op; errno = ENOLCK; return -1; }
EOC
if cc -shared -fPIC -o nolock.so nolock.c; then
  nolock="${LD_PRELOAD:+$LD_PRELOAD }$PWD/nolock.so"
  LD_PRELOAD=$nolock "$LUMA_TRANSCODE" --poll-interval 100 quick nolock.mp4 \
    >nolock.out 2>&1
  status=$?
  sed 's/^/#   no locks: /' nolock.out
  check "test_no_locks_file_system: luma-transcode saves" \
    test "$status" = 0 -a -e nolock.mp4
  mkdir nolock-dir
  LD_PRELOAD=$nolock "$PYTHON" "$LUMA_WAIT_MANY" --poll-interval 100 \
    nolock-dir quick >nolock-py.out 2>&1
  status=$?
  sed 's/^/#   no locks (wait-many): /' nolock-py.out
  check "test_no_locks_file_system: luma-wait-many.py saves" \
    cmp video.mp4 nolock-dir/quick.mp4
fi

# Started with stdout closed (>&-, as a daemon or a cron job may start it):
# the OUTPUT.part lock must not take descriptor 1, or the progress lines
# and "Saved OUTPUT" that g_print () writes there go into the video
"$LUMA_TRANSCODE" --poll-interval 100 quick closed.mp4 >&- 2>closed.err
status=$?
sed 's/^/#   closed stdout: /' closed.err
check "test_closed_stdout_keeps_the_video: exit status 0" \
  test "$status" = 0
check "test_closed_stdout_keeps_the_video: no message in the video" \
  bash -c '! grep -a -q -e "Saved closed" -e "Task quick" closed.mp4'
check "test_closed_stdout_keeps_the_video: the video is whole" \
  has_duration closed.mp4 1.9 2.1

finish
