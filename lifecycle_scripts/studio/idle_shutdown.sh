#!/bin/bash
# Module studio-idle-shutdown (sagemaker-user: Studio has no root and usually no cron): installs the carried
# autostop.py and starts ONE detached loop that runs it with --target studio now and then every CHECK_MINUTES
# (DeleteApp when idle). The loop writes its pid file; a second run of the hook replaces that loop.
# It cooperates with the built-in idle detector: it reads /tmp/.sagemaker-last-active-timestamp (which the
# JupyterLab and Code Editor extensions update on user activity, so Code Editor activity counts) and writes
# the time there when it sees CPU or GPU load, so the built-in idle shutdown does not stop a training run.
#   IDLE_MINUTES GRACE_MINUTES WARN_MINUTES CHECK_MINUTES JUPYTER_URL ('none': Code Editor) CPU_PERCENT
#   GPU_PERCENT IDLE_FOR DEADLINE_SECONDS, VERIFY_TLS IGNORE_CONNECTIONS DRY_RUN (1: pass the flag)
set -euo pipefail
lib=$NB_HOME/.local/lib/sagemaker-lifecycle
program=$lib/autostop.py
pidfile=$lib/idle-shutdown.pid
log=$NB_HOME/.lifecycle/logs/idle-shutdown.log
state=$NB_HOME/.local/state/sagemaker-lifecycle/autostop
notice=$NB_HOME/IDLE-SHUTDOWN-NOTICE.txt

mkdir -p "$lib" "${log%/*}" "$state"
rm -f "$notice" "$state/state.json"
install -m 0644 "$MODULE_DIR/files/autostop.py" "$program"
python=""
for p in "$LCC_ROOT/opt/conda/bin/python" "$(command -v python3)"; do
  if [ -x "$p" ] && "$p" -I "$program" --check-setup >/dev/null 2>&1; then python=$p && break; fi
done
if [ -z "$python" ]; then
  echo "NOT started: no python that reaches AWS (botocore or an AWS CLI; tried /opt/conda/bin/python, python3)"
  exit 1
fi

# The earlier loop, if its pid still runs our loop (its command line names the pid file): stop its group.
old=$(cat "$pidfile" 2>/dev/null || true)
if [[ "$old" =~ ^[0-9]+$ ]] && grep -qF "$pidfile" "/proc/$old/cmdline" 2>/dev/null; then
  kill -TERM -- "-$old" && echo "stopped the earlier loop (pid $old)"
fi
rm -f "$pidfile"
if [ -f "$log" ] && [ "$(stat -c %s "$log")" -gt 1000000 ]; then mv -f "$log" "$log.1"; fi

args=(--target studio --idle-minutes "$IDLE_MINUTES" --grace-minutes "$GRACE_MINUTES" --warn-minutes "$WARN_MINUTES")
args+=(--jupyter-url "$JUPYTER_URL" --cpu-percent "$CPU_PERCENT" --cpu-users "$(id -u)" --gpu-percent "$GPU_PERCENT")
args+=(--deadline-seconds "$DEADLINE_SECONDS" --notice-file "$notice" --state-dir "$state")
args+=(--activity-file "$LCC_ROOT/tmp/.sagemaker-last-active-timestamp")
args+=(--metadata-file "$LCC_ROOT/opt/ml/metadata/resource-metadata.json")
for pair in $IDLE_FOR; do args+=(--idle-for "$pair"); done
if [ "$VERIFY_TLS" = 1 ]; then args+=(--verify-tls); fi
if [ "$IGNORE_CONNECTIONS" = 1 ]; then args+=(--ignore-connections); fi
if [ "$DRY_RUN" = 1 ]; then args+=(--dry-run); fi
# shellcheck disable=SC2016  # expanded by the loop's own bash
setsid nohup /bin/bash -c 'echo $$ >"$0"; s=$1; shift; while :; do "$@"; sleep "$s"; done' \
  "$pidfile" "$((CHECK_MINUTES * 60))" "$python" -I "$program" "${args[@]}" </dev/null >>"$log" 2>&1 &
for _ in $(seq 50); do [ -s "$pidfile" ] && break; sleep 0.1; done
if [ ! -s "$pidfile" ]; then echo "NOT started: the loop did not write $pidfile" && exit 1; fi
echo "idle-shutdown loop started (pid $(cat "$pidfile"), python ${python#"$LCC_ROOT"}): every ${CHECK_MINUTES}m," \
  "idle ${IDLE_MINUTES}m, grace ${GRACE_MINUTES}m, log ${log#"$LCC_ROOT"}"
