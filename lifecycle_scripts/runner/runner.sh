#!/bin/bash
# Module runner of a bundled SageMaker lifecycle hook (shipped inside the bundle by constructs_lib).
#
#   runner.sh HOOK BUNDLE_DIR                              run every module of BUNDLE_DIR/plan.tsv in order
#   runner.sh HOOK BUNDLE_DIR INDEX NAME USER BUDGET       (internal) run one detached background module
#
# Each module runs as its user, within its time budget. Its output is logged as it comes, each line
# prefixed by a time stamp and its name, to stdout (CloudWatch), to a root-owned log under
# /var/log/sagemaker-lifecycle and, written as the notebook user, to a log on the persisted volume.
# A module's output is capped at LOG_CAP bytes per log (a last line says what was cut) and costs no
# time beyond the module's budget and LOG_DRAIN seconds. Start, end, exit status and duration are
# logged too. A failing, missing, hanging or chatty module is logged and skipped over: the runner
# always exits 0. This file travels in every hook (shfmt-minified): its messages are kept short.
set -u
umask 022
trap '' HUP
export PATH="${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ORIG_TZ=${TZ-}
export TZ=UTC
HOOK=$1
BUNDLE_DIR=$2
PLAN=$BUNDLE_DIR/plan.tsv

# bundle.env sets NB_USER, NB_HOME, PERSIST_DIR, LOG_DIR, HOOK_BUDGET, KILL_GRACE, LOG_CAP, LOG_DRAIN and
# USER_LOG_KEEP (generated at synth time).
# shellcheck source=/dev/null
. "$BUNDLE_DIR/bundle.env"
# LCC_ROOT: empty on an instance; a sandbox directory standing in for / in tests
LCC_ROOT=${LCC_ROOT-}
NB_HOME=$LCC_ROOT$NB_HOME
PERSIST_DIR=$LCC_ROOT$PERSIST_DIR
STATE_DIR=$PERSIST_DIR/.lifecycle
ROOT_LOG_DIR=$LCC_ROOT$LOG_DIR
WORK_DIR=$BUNDLE_DIR/work
mkdir -p "$ROOT_LOG_DIR" "$WORK_DIR" && chmod 0700 "$WORK_DIR"
# AS_USER CMD...: CMD as the notebook user (directly when the runner already is that user)
AS_USER=()
[ "$(id -un)" = "$NB_USER" ] || AS_USER=(sudo -n -u "$NB_USER" --)

# Lines go to stdout, ROOT_LOG and BUFFER (copied to USER_LOG by flush); a background module's stdout is
# its root log already.
LOG_NAME=$HOOK
ROOT_LOG=$ROOT_LOG_DIR/$HOOK.log
BUFFER=$WORK_DIR/hook.buffer
if [ -n "${3-}" ]; then
  LOG_NAME=$HOOK.$4
  ROOT_LOG=/dev/null
  BUFFER=$WORK_DIR/$3.buffer
  exec >>"$ROOT_LOG_DIR/$LOG_NAME.log" 2>&1
fi
USER_LOG=$STATE_DIR/logs/$LOG_NAME.log
: >"$BUFFER"

now_ms() { date +%s%3N; }

# The capped writer: prefixes each line of a module's output with the time and names, appends it to stdout,
# the root log (r) and the buffer of the persisted log (b), flushed line by line, up to cap bytes; past that
# it only counts (c lines, cb bytes), and its last line says how much was cut. Lines are at most 4096 bytes
# (fold -b, line-buffered by stdbuf). mawk reads a pipe in whole blocks unless told to read lines; gawk
# (Amazon Linux) reads what is there, and warns about mawk's option.
AWK_OPTS=()
case "$(awk -W version 2>&1 </dev/null)" in mawk*) AWK_OPTS=(-W interactive) ;; esac
# shellcheck disable=SC2016  # awk's own $0
CAPPED_WRITER='function o(l){print l;print l>>r;print l>>b;fflush();fflush(r);fflush(b)}
{t=systime();if(t!=s){s=t;ts=strftime("%FT%TZ",t)}l=ts" "p$0
if(!c&&w+length(l)<cap){o(l);w+=length(l)+1;next}c++;cb+=length($0)+1}
END{if(c)o(strftime("%FT%TZ")" "p"[log cut: "c" lines ("cb" bytes) past "cap"]")}'

# log SOURCE MESSAGE...: one line to stdout, the root log and the buffer of the persisted log.
log() { printf '%(%FT%TZ)T [%s] [%s] %s\n' -1 "$HOOK" "$1" "${*:2}" | tee -a "$ROOT_LOG" "$BUFFER"; }

# append FILE: stdin appended to FILE (its directory made), written as the notebook user so that root never
# follows a link the user planted in a directory the user owns. A FILE past USER_LOG_KEEP bytes first becomes
# FILE.1 (the previous FILE.1 goes): the persisted volume outlives restarts, and its logs must not grow forever.
append() {
  # shellcheck disable=SC2016  # expanded by the inner sh
  "${AS_USER[@]}" /bin/sh -c 'mkdir -p "${1%/*}" && { [ ! -f "$1" ] || [ "$(wc -c <"$1")" -le "$2" ] || mv -f "$1" "$1.1"; } && cat >>"$1"' \
    lcc-append "$1" "$USER_LOG_KEEP" 2>/dev/null
}

# flush: the buffered lines to the persisted log.
flush() { [ -s "$BUFFER" ] && append "$USER_LOG" <"$BUFFER" && : >"$BUFFER"; }

# marker NAME: the completion marker of a background module.
marker() { echo "$STATE_DIR/markers/$HOOK.$1.done"; }

# run_module INDEX NAME USER BUDGET: run one module to completion or to its budget; sets RC.
run_module() {
  local dir=$BUNDLE_DIR/modules/$1-$2 home=$NB_HOME account=$NB_USER fifo=$WORK_DIR/$1.fifo reader watchdog
  [ "$3" != root ] || home=/root account=root
  # shellcheck disable=SC2016  # expanded by the inner bash
  local -a cmd=(env -i "HOME=$home" "USER=$account" "LOGNAME=$account" SHELL=/bin/bash "PATH=$PATH" LANG=C.UTF-8
    "LCC_ROOT=$LCC_ROOT" "NB_USER=$NB_USER" "NB_HOME=$NB_HOME" "PERSIST_DIR=$PERSIST_DIR" "MODULE_DIR=$dir"
    "MODULE_NAME=$2" "HOOK=$HOOK" ${ORIG_TZ:+"TZ=$ORIG_TZ"}
    /bin/bash -c 'cd / && { [ ! -f "$1" ] || . "$1"; } && shift && exec "$@"' "lcc-$2" "$dir/settings.sh" "$dir/run")
  [ "$3" = root ] || cmd=("${AS_USER[@]}" "${cmd[@]}")
  # The module writes into a FIFO read by the capped writer, itself bounded in time and killed with its
  # process group: the module's budget bounds the module, its output and the logging of it.
  rm -f "$fifo"
  if ! mkfifo -m 0600 "$fifo"; then
    RC=125
    log "$2" "not run: no output pipe"
    return
  fi
  LC_ALL=C timeout -k 1 $(($4+KILL_GRACE+LOG_DRAIN+1)) /bin/sh -c 'stdbuf -oL fold -b -w 4096 | awk "$@"' lcc-log \
    "${AWK_OPTS[@]}" -v p="[$HOOK] [$2] " -v cap="$LOG_CAP" -v r="$ROOT_LOG" -v b="$BUFFER" "$CAPPED_WRITER" <"$fifo" &
  reader=$!
  # The FIFO is opened inside the budget: if the writer is gone, the open cannot block the hook.
  # shellcheck disable=SC2016  # expanded by the inner sh
  timeout -k "$KILL_GRACE" "$4" /bin/sh -c 'exec >"$0" 2>&1 && exec "$@"' "$fifo" "${cmd[@]}" </dev/null
  RC=$?
  # Whatever still holds the module's output (a process it left running) gets LOG_DRAIN seconds.
  { sleep "$LOG_DRAIN"; kill -TERM "$reader"; } </dev/null >/dev/null 2>&1 &
  watchdog=$!
  wait "$reader" || log "$2" "output still open ${LOG_DRAIN}s after its end: cut"
  kill "$watchdog" 2>/dev/null
  rm -f "$fifo"
}

# run INDEX NAME USER BUDGET [PREFIX]: run_module between a start line and an end line (what the exit status
# means, the status, the duration; E milliseconds), both flushed to the persisted log at once; sets RC.
run() {
  local start s
  start=$(now_ms)
  log "$2" "${5-}start: user $3, budget $4s"
  flush
  run_module "$@"
  E=$(($(now_ms)-start))
  s="failed with exit status $RC"
  ((RC)) || s=ok
  ((RC!=124&&RC!=137)) || s="timed out after $4s, killed"
  log "$2" "${5-}end: $s, exit $RC, $((E/1000)).$(printf %03d $((E%1000)))s"
  flush
}

run_hook() {
  local hook_start deadline total index name user mode budget failed=0 background=0 names=""
  hook_start=$(now_ms)
  deadline=$((hook_start+HOOK_BUDGET*1000))
  total=$(wc -l <"$PLAN")
  log runner "hook start: $total modules, log $USER_LOG"
  while IFS=$'\t' read -r index name user mode budget; do
    if [ "$mode" = background ]; then
      "${AS_USER[@]}" rm -f "$(marker "$name")" 2>/dev/null
      setsid "$BASH" "$BUNDLE_DIR/runner.sh" "$HOOK" "$BUNDLE_DIR" "$index" "$name" "$user" "$budget" </dev/null >/dev/null 2>&1 &
      log "$name" "started in background (pid $!, user $user, budget ${budget}s), log $ROOT_LOG_DIR/$HOOK.$name.log"
      background=$((background+1))
    elif (($(now_ms)+budget*1000>deadline)); then
      log "$name" "skipped: ${budget}s past the hook's deadline"
      failed=$((failed+1)) names+=" $name"
    else
      run "$index" "$name" "$user" "$budget"
      ((RC==0)) || failed=$((failed+1)) names+=" $name"
    fi
    flush
  done <"$PLAN"
  log runner "hook end: $total modules, $failed failed${names:+ (${names# })}, $background in background, $((($(now_ms) - hook_start)/1000))s of ${HOOK_BUDGET}s"
  flush
}

if [ -n "${3-}" ]; then
  # the detached child of a background module
  run "${@:3}" "background "
  echo "exit=$RC seconds=$((E/1000)) finished=$(date +%FT%TZ)" | append "$(marker "$4")" || log "$4" "marker not written"
else
  run_hook
fi
exit 0
