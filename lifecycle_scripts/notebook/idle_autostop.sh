#!/bin/bash
# Module idle-autostop (root): installs the carried autostop.py root-owned and runs it from the NOTEBOOK
# USER's crontab (one line, found by its marker). The usual python with boto3 (JupyterSystemEnv's) is
# user-writable: root never runs it, not even to probe for boto3.
set -euo pipefail
lib=$LCC_ROOT/usr/local/lib/sagemaker-lifecycle
log=$LCC_ROOT/var/log/sagemaker-lifecycle/autostop.log
marker="# sagemaker-lifecycle:idle-autostop"
program=$lib/autostop.py

install -d -m 0755 "$lib" "${log%/*}"
state="installed (root-owned, 0644)"
if [ ! -L "$program" ] && cmp -s "$MODULE_DIR/files/autostop.py" "$program"; then state="already up to date"; fi
install -m 0644 "$MODULE_DIR/files/autostop.py" "$program"
echo "program ${program#"$LCC_ROOT"} $state"

python=""
for p in "$NB_HOME/anaconda3/envs/JupyterSystemEnv/bin/python" "$LCC_ROOT/usr/bin/python3" "$(command -v python3)"; do
  if [ -x "$p" ] && sudo -n -u "$NB_USER" -- "$p" -c "import boto3" >/dev/null 2>&1; then python=$p && break; fi
done
if [ -z "$python" ]; then
  echo "NOT scheduled: no python with boto3 (tried JupyterSystemEnv's, /usr/bin/python3, python3 on PATH)" && exit 1
fi
echo "interpreter: ${python#"$LCC_ROOT"} (has boto3, run as $NB_USER)"
if ! command -v crontab >/dev/null; then echo "NOT scheduled: crontab not found (install cronie)" && exit 1; fi
if [ -d "$LCC_ROOT/run/systemd/system" ] && ! systemctl is-active --quiet crond; then
  if systemctl enable --now crond >/dev/null 2>&1; then echo "crond was not running; started it"; else
    echo "warning: crond is not running and could not be started"; fi
fi

if [ -L "$log" ] || [ ! -f "$log" ]; then rm -rf "$log"; fi
touch "$log" && chown "$NB_USER" "$log" && chmod 0644 "$log"

args=(--idle-minutes "$IDLE_MINUTES" --grace-minutes "$GRACE_MINUTES" --jupyter-url "$JUPYTER_URL")
if [ "$IGNORE_CONNECTIONS" = 1 ]; then args+=(--ignore-connections); fi
if [ "$DRY_RUN" = 1 ]; then args+=(--dry-run); fi
printf -v command '%q ' "$python" "$program" "${args[@]}"
line="$SCHEDULE $command>>$(printf %q "$log") 2>&1 $marker"

current=$(crontab -u "$NB_USER" -l 2>/dev/null || true)
others=$(grep -vF -- "$marker" <<<"$current" || true)
summary="$SCHEDULE, idle ${IDLE_MINUTES}m, grace ${GRACE_MINUTES}m"
if [ "${others:+$others$'\n'}$line" = "$current" ]; then
  echo "crontab of $NB_USER already up to date: $summary"
else
  crontab -u "$NB_USER" - <<<"${others:+$others$'\n'}$line"
  echo "crontab of $NB_USER set: $summary, log ${log#"$LCC_ROOT"}"
fi
