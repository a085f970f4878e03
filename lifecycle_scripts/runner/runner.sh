#!/bin/bash
# Module runner of a bundled SageMaker lifecycle hook (shipped inside the bundle by constructs_lib).
#
#   runner.sh HOOK BUNDLE_DIR                        run every module of BUNDLE_DIR/plan.tsv in order
#   runner.sh --background HOOK BUNDLE_DIR INDEX     (internal) run one detached background module
#
# Each module runs as its user, within its time budget. Its output is logged as it comes, each line
# prefixed by a time stamp and its name, to stdout (CloudWatch), to a root-owned log under
# /var/log/sagemaker-lifecycle and, written as the notebook user, to a log on the persisted volume.
# A module's output is capped at LOG_CAP bytes per log (a last line says what was cut) and costs no
# time beyond the module's budget and LOG_DRAIN seconds. Start, end, exit status and duration are
# logged too. A failing, missing, hanging or chatty module is logged and skipped over: the runner
# always exits 0.
set -u
umask 022
trap '' HUP
export PATH="${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ORIG_TZ="${TZ-}"
export TZ=UTC

BACKGROUND_INDEX=""
if [ "${1-}" = "--background" ]; then
  BACKGROUND_INDEX="${4-}"
  shift
fi
HOOK="${1:?hook name}"
BUNDLE_DIR="${2:?bundle directory}"

# bundle.env sets NB_USER, NB_HOME, PERSIST_DIR, LOG_DIR, HOOK_BUDGET, KILL_GRACE, LOG_CAP, LOG_DRAIN and
# USER_LOG_KEEP (generated at synth time).
# shellcheck source=/dev/null
. "$BUNDLE_DIR/bundle.env"
# LCC_ROOT: empty on an instance; a sandbox directory standing in for / in tests
LCC_ROOT="${LCC_ROOT-}"
NB_HOME="$LCC_ROOT$NB_HOME"
PERSIST_DIR="$LCC_ROOT$PERSIST_DIR"
STATE_DIR="$PERSIST_DIR/.lifecycle"
ROOT_LOG_DIR="$LCC_ROOT$LOG_DIR"
WORK_DIR="$BUNDLE_DIR/work"
mkdir -p "$ROOT_LOG_DIR" "$WORK_DIR" && chmod 0700 "$WORK_DIR"

if [ -n "$BACKGROUND_INDEX" ]; then
  LOG_NAME="$HOOK.$(awk -F '\t' -v i="$BACKGROUND_INDEX" '$1 == i { print $2 }' "$BUNDLE_DIR/plan.tsv")"
  BUFFER="$WORK_DIR/$BACKGROUND_INDEX.buffer"
  exec >>"$ROOT_LOG_DIR/$LOG_NAME.log" 2>&1
else
  LOG_NAME="$HOOK"
  BUFFER="$WORK_DIR/hook.buffer"
fi
# Lines go to stdout, ROOT_LOG and BUFFER; in the background, stdout is the root log already.
ROOT_LOG="$ROOT_LOG_DIR/$LOG_NAME.log"
[ -z "$BACKGROUND_INDEX" ] || ROOT_LOG=/dev/null
USER_LOG="$STATE_DIR/logs/$LOG_NAME.log"
: >"$BUFFER"

now_ms() { date +%s%3N; }

# The capped writer (awk, kept short: it travels in every hook): prefixes each line of a module's output
# with the time and names, appends it to stdout, the root log (r) and the buffer of the persisted log (b),
# flushed line by line, up to cap bytes; past that it only counts (c lines, cb bytes), and its last line
# says how much was cut. Lines are at most 4096 bytes (fold -b, line-buffered by stdbuf).
# mawk reads a pipe in whole blocks unless told to read lines; gawk (Amazon Linux) reads what is there.
AWK_OPTS=()
case "$(awk -W version 2>&1 </dev/null)" in mawk*) AWK_OPTS=(-W interactive) ;; esac
# shellcheck disable=SC2016  # awk's own $0
CAPPED_WRITER='function o(l){print l;print l>>r;print l>>b;fflush();fflush(r);fflush(b)}
{t=systime();if(t!=s){s=t;ts=strftime("%Y-%m-%dT%H:%M:%SZ",t)}l=ts" "p$0
if(!c&&w+length(l)<cap){o(l);w+=length(l)+1;next}c++;cb+=length($0)+1}
END{if(c)o(strftime("%Y-%m-%dT%H:%M:%SZ")" "p"[log cut: "c" more lines ("cb" bytes) past the log cap of "cap" bytes]")}'


# as_user CMD...: run CMD as the notebook user (directly when the runner already is that user).
as_user() {
  if [ "$(id -un)" = "$NB_USER" ]; then
    "$@"
  else
    sudo -n -u "$NB_USER" -- "$@"
  fi
}

# log SOURCE MESSAGE...: one line to stdout, the root log and the buffer for the persisted log.
log() {
  local ts line
  printf -v ts '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  line="$ts [$HOOK] [$1] ${*:2}"
  printf '%s\n' "$line"
  printf '%s\n' "$line" >>"$ROOT_LOG"
  printf '%s\n' "$line" >>"$BUFFER"
}

# flush_user_log: append the buffered lines to the persisted log, writing as the notebook user so
# that root never follows a link the user planted in a directory the user owns.
flush_user_log() {
  [ -s "$BUFFER" ] || return 0
  # shellcheck disable=SC2016  # expanded by the inner sh
  if as_user /bin/sh -c 'mkdir -p "${1%/*}" && cat >>"$1"' lcc-log "$USER_LOG" <"$BUFFER" 2>/dev/null; then
    : >"$BUFFER"
  fi
}

# rotate_user_log: a persisted log above USER_LOG_KEEP bytes becomes LOG.1 (the previous LOG.1 goes),
# as the notebook user; the persisted volume outlives restarts, and its logs must not grow forever.
rotate_user_log() {
  # shellcheck disable=SC2016  # expanded by the inner sh
  as_user /bin/sh -c '[ ! -f "$1" ] || [ "$(wc -c <"$1")" -le "$2" ] || mv -f "$1" "$1.1"' lcc-rotate \
    "$USER_LOG" "$USER_LOG_KEEP" 2>/dev/null
}

# write_marker NAME TEXT: the completion marker of a background module, as the notebook user.
marker_path() { printf '%s/markers/%s.%s.done' "$STATE_DIR" "$HOOK" "$1"; }
write_marker() {
  # shellcheck disable=SC2016  # expanded by the inner sh
  printf '%s\n' "$2" | as_user /bin/sh -c 'mkdir -p "${1%/*}" && cat >"$1"' lcc-marker "$(marker_path "$1")" 2>/dev/null \
    || log runner "could not write the completion marker of $1"
}

describe_status() {
  case "$1" in
    0) echo "ok" ;;
    124 | 137) echo "timed out after its budget of $2s and was killed" ;;
    126) echo "failed: not executable (exit 126)" ;;
    127) echo "failed: command or interpreter not found (exit 127)" ;;
    *) echo "failed with exit status $1" ;;
  esac
}

# run_module INDEX NAME USER BUDGET: run one module to completion or to its budget; sets RC.
run_module() {
  local index="$1" name="$2" user="$3" budget="$4"
  local dir="$BUNDLE_DIR/modules/$index-$name"
  local home="$NB_HOME" account="$NB_USER"
  if [ "$user" = "root" ]; then home=/root account=root; fi
  local -a cmd=(env -i "HOME=$home" "USER=$account" "LOGNAME=$account" "SHELL=/bin/bash"
    "PATH=$PATH" "LANG=C.UTF-8" "LCC_ROOT=$LCC_ROOT" "NB_USER=$NB_USER" "NB_HOME=$NB_HOME"
    "PERSIST_DIR=$PERSIST_DIR" "MODULE_DIR=$dir" "MODULE_NAME=$name" "HOOK=$HOOK")
  if [ -n "$ORIG_TZ" ]; then cmd+=("TZ=$ORIG_TZ"); fi
  # shellcheck disable=SC2016  # expanded by the inner bash
  cmd+=(/bin/bash -c 'cd / && { [ ! -f "$1" ] || . "$1"; } && shift && exec "$@"' "lcc-$name" "$dir/settings.sh" "$dir/run")
  if [ "$user" != "root" ] && [ "$(id -un)" != "$NB_USER" ]; then
    cmd=(sudo -n -u "$NB_USER" -- "${cmd[@]}")
  fi
  # The module writes into a FIFO read by a capped writer, itself bounded in time and killed with its
  # process group: the module's budget bounds the module, its output and the logging of it.
  local fifo="$WORK_DIR/$index.fifo" reader watchdog
  rm -f "$fifo"
  if ! mkfifo -m 0600 "$fifo"; then
    RC=125
    log "$name" "not run: could not create its output pipe"
    return
  fi
  LC_ALL=C timeout -k 1 $((budget+KILL_GRACE+LOG_DRAIN+1)) /bin/sh -c 'stdbuf -oL fold -b -w 4096 | awk "$@"' lcc-log \
    "${AWK_OPTS[@]}" -v p="[$HOOK] [$name] " -v cap="$LOG_CAP" -v r="$ROOT_LOG" -v b="$BUFFER" "$CAPPED_WRITER" <"$fifo" &
  reader=$!
  # The FIFO is opened inside the budget: if the writer is gone, the open cannot block the hook.
  # shellcheck disable=SC2016  # expanded by the inner sh
  timeout -k "$KILL_GRACE" "$budget" /bin/sh -c 'exec >"$0" 2>&1 && exec "$@"' "$fifo" "${cmd[@]}" </dev/null
  RC=$?
  # Whatever still holds the module's output (a process it left running) gets LOG_DRAIN seconds.
  { sleep "$LOG_DRAIN"; kill -TERM "$reader"; } </dev/null >/dev/null 2>&1 &
  watchdog=$!
  wait "$reader"
  local reader_rc=$?
  kill "$watchdog" 2>/dev/null
  rm -f "$fifo"
  if [ "$reader_rc" -ne 0 ]; then
    log "$name" "output still open ${LOG_DRAIN}s after its end (a process it left holds it): no longer logged"
  fi
}

run_background_child() {
  local index name user mode budget start rc
  IFS=$'\t' read -r index name user mode budget < <(awk -F '\t' -v i="$BACKGROUND_INDEX" '$1 == i' "$BUNDLE_DIR/plan.tsv")
  start=$(now_ms)
  rotate_user_log
  log "$name" "background start: user $user, budget ${budget}s"
  flush_user_log
  run_module "$index" "$name" "$user" "$budget"
  rc=$RC
  log "$name" "background end: $(describe_status "$rc" "$budget"), $((($(now_ms) - start)/1000))s"
  flush_user_log
  write_marker "$name" "exit=$rc seconds=$((($(now_ms) - start)/1000)) finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

run_hook() {
  local hook_start deadline index name user mode budget start rc elapsed
  local total=0 failed=0 background=0 failed_names=""
  hook_start=$(now_ms)
  rotate_user_log
  deadline=$((hook_start+HOOK_BUDGET*1000))
  log runner "hook start: $(wc -l <"$BUNDLE_DIR/plan.tsv") modules, blocking budget ${HOOK_BUDGET}s, user log $USER_LOG"
  while IFS=$'\t' read -r index name user mode budget; do
    total=$((total+1))
    if [ "$mode" = "background" ]; then
      as_user rm -f "$(marker_path "$name")" 2>/dev/null
      setsid "$BASH" "$BUNDLE_DIR/runner.sh" --background "$HOOK" "$BUNDLE_DIR" "$index" </dev/null >/dev/null 2>&1 &
      log "$name" "started in background (pid $!, user $user, budget ${budget}s); log $ROOT_LOG_DIR/$HOOK.$name.log, marker $(marker_path "$name")"
      background=$((background+1))
      flush_user_log
      continue
    fi
    if [ $(($(now_ms)+budget*1000)) -gt "$deadline" ]; then
      log "$name" "skipped: its budget of ${budget}s would run past the hook's deadline"
      failed=$((failed+1)); failed_names+=" $name"
      continue
    fi
    start=$(now_ms)
    log "$name" "start: user $user, budget ${budget}s"
    run_module "$index" "$name" "$user" "$budget"
    rc=$RC
    elapsed=$(($(now_ms)-start))
    log "$name" "end: $(describe_status "$rc" "$budget"), exit $rc, $((elapsed/1000)).$(printf '%03d' $((elapsed%1000)))s"
    if [ "$rc" -ne 0 ]; then failed=$((failed+1)); failed_names+=" $name"; fi
    flush_user_log
  done <"$BUNDLE_DIR/plan.tsv"
  elapsed=$(($(now_ms)-hook_start))
  log runner "hook end: $total modules, $failed failed${failed_names:+ (${failed_names# })}, $background in background, blocking time $((elapsed/1000))s of ${HOOK_BUDGET}s; exiting 0"
  flush_user_log
}

if [ -n "$BACKGROUND_INDEX" ]; then
  run_background_child
else
  run_hook
fi
exit 0
