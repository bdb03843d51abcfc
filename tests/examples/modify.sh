#!/usr/bin/env bash
# gst-luma tests: luma-modify has a clip modified: a file (uploaded through
# lumamodify) or a URL (lumasrc), the rerun that reuses its task, and the
# exit status of each cause.
# Copyright (C) 2026 gst-luma developers
# SPDX-License-Identifier: LGPL-2.1-or-later
source "$(dirname "$0")/lib.sh"

# a journal of this test's own: reruns reuse only what this test created
export XDG_STATE_HOME=$WORKDIR/state

# make_clip PATH FRAMES: an H.264 MP4 at 25 fps
make_clip() {
  gst-launch-1.0 -q videotestsrc num-buffers="$2" \
    ! video/x-raw,format=I420,width=160,height=120,framerate=25/1 \
    ! x264enc speed-preset=ultrafast ! mp4mux ! filesink location="$1" \
    >/dev/null 2>&1 || bail_out "cannot make the clip $1 (x264enc, mp4mux)"
}

modify() {
  "$LUMA_MODIFY" --poll-interval 100 "$@"
}

# task_of NAME: the task id the run NAME created or reused
task_of() {
  sed -nE 's/^(Created|Reusing) task ([0-9a-f]+).*/\2/p' "$1.out"
}

same_task() {
  [ -n "$(task_of "$1")" ] && [ "$(task_of "$1")" = "$(task_of "$2")" ]
}

make_clip clip.mp4 50
make_clip long.mp4 275
echo "not a video" >notes.txt
# created tasks generate for 1.5 s; "input" serves the clip on the video
# host, for the URL case
start_luma_emulator --print-upload-url --created-generating-ms 1500 \
  --task input=clip.mp4
[ -n "${KIE_UPLOAD_URL:-}" ] || bail_out "the emulator gave no KIE_UPLOAD_URL"
video_base=$(sed -nE 's/^luma-emulator: result files on (.*)$/\1/p' emulator.log)

check "--help lists the exit statuses" exits_with 0 help "$LUMA_MODIFY" --help
check "--help: 7 is a refused input" output_has help '^ +7 +the input was refused'
check "--help: 8 is a task that may exist" output_has help '^ +8 +a billed task may exist'
check "no --prompt: 2" exits_with 2 noprompt modify clip.mp4 out.mp4
check "one argument: 2" exits_with 2 usage modify --prompt snow clip.mp4

# a file: uploaded, a task created, its result saved
check "file: exit status 0" exits_with 0 file modify --prompt "Make it snow" clip.mp4 file.mp4
check "file: says it uploads" output_has file '^Uploading: 100 %'
check "file: a task created" output_has file '^Created task [0-9a-f]{32}$'
check "file: progress while generating" output_has file '^Task [0-9a-f]+: generating'
check "file: the result is the emulator's (the clip itself)" cmp -s clip.mp4 file.mp4
check "file: no .part left" test ! -e file.mp4.part

# the same clip and prompt: the journal's task, no new upload
check "rerun: exit status 0" exits_with 0 rerun modify --prompt "Make it snow" clip.mp4 rerun.mp4
check "rerun: the task is reused" output_has rerun '^Reusing task [0-9a-f]{32}, created before'
check "rerun: the same task" same_task file rerun
check "rerun: nothing uploaded" bash -c '! grep -q "^Uploading" rerun.out'
check "rerun: the same result" cmp -s clip.mp4 rerun.mp4

# wait-timeout ends a run; the task goes on; the rerun waits on it
check "timeout: 6" exits_with 6 timeout modify --prompt "Make it rain" --wait-timeout 1 \
  --poll-interval 200 clip.mp4 timeout.mp4
check "timeout: no output file" test ! -e timeout.mp4 -a ! -e timeout.mp4.part
check "after the timeout: exit status 0" exits_with 0 later modify --prompt "Make it rain" clip.mp4 later.mp4
check "after the timeout: the same task" same_task timeout later

check "force-new: exit status 0" exits_with 0 forced modify --prompt "Make it snow" --force-new clip.mp4 forced.mp4
check "force-new: a new task" bash -c "! grep -q '$(task_of file)' forced.out && grep -q '^Created task' forced.out"

# --force-new, then the wait times out: the rerun it advises leaves
# --force-new out (the same command again would create, and bill, another
# task), and waits for the same task
check "force-new timeout: 6" exits_with 6 ftimeout modify --prompt "Make it hail" \
  --force-new --wait-timeout 1 --poll-interval 200 clip.mp4 ft.mp4
check "force-new timeout: says to run again without --force-new" \
  output_has ftimeout 'run again with the same INPUT and prompt, without --force-new, to wait'
check "force-new timeout: the advised rerun" exits_with 0 ftagain modify \
  --prompt "Make it hail" clip.mp4 ft.mp4
check "force-new timeout: the advised rerun waits for the same task" \
  same_task ftimeout ftagain

# refused before any upload
check "11 s input: 7" exits_with 7 long modify --prompt "Make it snow" long.mp4 long-out.mp4
check "11 s input: says why" output_has long 'lasts 11\.00 s, more than the 10 s'
check "11 s input: nothing uploaded" bash -c '! grep -q "^Uploading" long.out'
check "11 s input: no output file" test ! -e long-out.mp4 -a ! -e long-out.mp4.part
check "not a video: 7" exits_with 7 notes modify --prompt "Make it snow" notes.txt notes.mp4
check "not a video: says why" output_has notes 'not an MP4, MOV or AVI file'

check "key refused: 5" exits_with 5 key env KIE_API_KEY=wrong-key \
  "$LUMA_MODIFY" --prompt "Make it snow" --force-new clip.mp4 key.mp4
check "no such file: 2" exits_with 2 nofile modify --prompt "Make it snow" no-such.mp4 nofile.mp4

# a URL KIE can fetch: no upload, lumasrc creates the task
check "url: exit status 0" exits_with 0 url modify --prompt "Make it snow" \
  "$video_base/r/input/1.mp4" url.mp4
check "url: a task created" output_has url '^Created task [0-9a-f]{32}$'
check "url: nothing uploaded" bash -c '! grep -q "^Uploading" url.out'
check "url: the result is the clip" cmp -s clip.mp4 url.mp4

# --force-new, interrupted (SIGTERM: a background job ignores SIGINT)
# before the task is known (here while the upload
# waits for its answer): the rerun it advises leaves --force-new out, which
# would set aside what the interrupted run may have created and bill
# another task
stop_emulator
start_luma_emulator --print-upload-url --upload-delay-ms 30000
"$LUMA_MODIFY" --prompt "Make it rain" --force-new clip.mp4 fint.mp4 \
  >fint.out 2>&1 &
fint_pid=$!
sleep 2
kill -TERM "$fint_pid"
fint_status=0
wait "$fint_pid" || fint_status=$?
echo "# fint: exit status $fint_status"
check "force-new interrupted: 130" test "$fint_status" = 130
check "force-new interrupted: says to run again without --force-new" \
  output_has fint 'before the task was known; run again with the same INPUT and prompt, without --force-new, to reuse'

finish
