#!/bin/bash
# Module studio-idle-shutdown (sagemaker-user: Studio has no root and usually no cron): installs the carried
# autostop.py and starts ONE detached loop that runs it with --target studio now and then every CHECK_MINUTES
# (DeleteApp when idle). The loop writes its pid file; a second run of the hook replaces that loop.
#   IDLE_MINUTES GRACE_MINUTES CHECK_MINUTES JUPYTER_URL, IGNORE_CONNECTIONS DRY_RUN (1: pass the flag)
set -euo pipefail
lib=$NB_HOME/.local/lib/sagemaker-lifecycle
program=$lib/autostop.py
pidfile=$lib/idle-shutdown.pid
log=$NB_HOME/.lifecycle/logs/idle-shutdown.log

mkdir -p "$lib" "${log%/*}"
install -m 0644 "$MODULE_DIR/files/autostop.py" "$program"
python=""
for p in "$LCC_ROOT/opt/conda/bin/python" "$(command -v python3)"; do
  if [ -x "$p" ] && "$p" -c "import boto3" >/dev/null 2>&1; then python=$p && break; fi
done
if [ -z "$python" ]; then
  echo "NOT started: no python with boto3 (tried /opt/conda/bin/python, python3 on PATH)" && exit 1
fi

# The earlier loop, if its pid still runs our loop (its command line names the pid file): stop its group.
old=$(cat "$pidfile" 2>/dev/null || true)
if [[ "$old" =~ ^[0-9]+$ ]] && grep -qF "$pidfile" "/proc/$old/cmdline" 2>/dev/null; then
  kill -TERM -- "-$old" && echo "stopped the earlier loop (pid $old)"
fi
rm -f "$pidfile"
if [ -f "$log" ] && [ "$(stat -c %s "$log")" -gt 1000000 ]; then mv -f "$log" "$log.1"; fi

args=(--target studio --idle-minutes "$IDLE_MINUTES" --grace-minutes "$GRACE_MINUTES" --jupyter-url "$JUPYTER_URL")
args+=(--metadata-file "$LCC_ROOT/opt/ml/metadata/resource-metadata.json")
if [ "$IGNORE_CONNECTIONS" = 1 ]; then args+=(--ignore-connections); fi
if [ "$DRY_RUN" = 1 ]; then args+=(--dry-run); fi
# shellcheck disable=SC2016  # expanded by the loop's own bash
setsid nohup /bin/bash -c 'echo $$ >"$0"; s=$1; shift; while :; do "$@"; sleep "$s"; done' \
  "$pidfile" "$((CHECK_MINUTES * 60))" "$python" "$program" "${args[@]}" </dev/null >>"$log" 2>&1 &
for _ in $(seq 50); do [ -s "$pidfile" ] && break; sleep 0.1; done
if [ ! -s "$pidfile" ]; then echo "NOT started: the loop did not write $pidfile" && exit 1; fi
echo "idle-shutdown loop started (pid $(cat "$pidfile"), python ${python#"$LCC_ROOT"}): every ${CHECK_MINUTES}m," \
  "idle ${IDLE_MINUTES}m, grace ${GRACE_MINUTES}m, log ${log#"$LCC_ROOT"}"
