#!/bin/bash
# Module idle-autostop (root): installs the carried autostop.py root-owned and runs it from a ROOT-OWNED
# /etc/cron.d entry as root, with the root-owned system python in isolated mode (-I). The notebook user can
# neither remove the entry (crontab -r only touches their own crontab) nor change what it runs: nothing
# under their home, their conda envs or the persisted volume is executed, and JupyterSystemEnv's python
# (user-writable) is never run, not even to probe it.
set -euo pipefail
lib=$LCC_ROOT/usr/local/lib/sagemaker-lifecycle
log=$LCC_ROOT/var/log/sagemaker-lifecycle/autostop.log
state=$LCC_ROOT/var/lib/sagemaker-lifecycle/autostop
cronfile=$LCC_ROOT/etc/cron.d/sagemaker-lifecycle-autostop
marker="# sagemaker-lifecycle:idle-autostop"
program=$lib/autostop.py
notice=$NB_HOME/IDLE-SHUTDOWN-NOTICE.txt

# Root-owned directories all the way up, nothing in them writable by the user.
install -d -o root -g root -m 0755 "$lib" "${log%/*}" "${cronfile%/*}"
install -d -o root -g root -m 0700 "$state"
rm -f "$state/state.json"
for dir in "$lib" "${cronfile%/*}"; do
  if [ -L "$dir" ]; then echo "NOT scheduled: $dir is a symbolic link" && exit 1; fi
done
state_msg="installed (root-owned, 0644)"
if [ ! -L "$program" ] && cmp -s "$MODULE_DIR/files/autostop.py" "$program"; then state_msg="already up to date"; fi
rm -f "$program" && install -o root -g root -m 0644 "$MODULE_DIR/files/autostop.py" "$program"
echo "program ${program#"$LCC_ROOT"} $state_msg"

# The interpreter: the system python (root-owned, in root-owned directories), isolated. AWS through its
# botocore or else the image's root-owned AWS CLI (the program checks the CLI's ownership before using it).
python="" setup=""
for p in "$LCC_ROOT/usr/bin/python3" "$LCC_ROOT/usr/bin/python3.9"; do
  [ -x "$p" ] || continue
  real=$(readlink -f -- "$p")
  if [ "$(stat -c %u -- "$real")" != 0 ] || [ $((0$(stat -c %a -- "$real")&022)) != 0 ]; then
    setup="$p is not root-owned or is writable by others: not run" && continue
  fi
  if setup=$("$p" -I "$program" --check-setup 2>&1); then python=$p && break; fi
done
if [ -z "$python" ]; then
  echo "NOT scheduled: no root-owned python3 that reaches AWS (botocore or a root-owned AWS CLI): ${setup:-none found}"
  exit 1
fi
echo "interpreter: ${python#"$LCC_ROOT"} -I (root-owned); ${setup#*autostop: }"
if ! command -v crontab >/dev/null && [ ! -d "$LCC_ROOT/etc/cron.d" ]; then
  echo "NOT scheduled: no cron (install cronie)" && exit 1
fi
if [ -d "$LCC_ROOT/run/systemd/system" ] && ! systemctl is-active --quiet crond; then
  if systemctl enable --now crond >/dev/null 2>&1; then echo "crond was not running; started it"; else
    echo "warning: crond is not running and could not be started"; fi
fi

if [ -L "$log" ] || [ ! -f "$log" ]; then rm -rf "$log"; fi
if [ -f "$log" ] && [ "$(stat -c %s "$log")" -gt 1000000 ]; then mv -f "$log" "$log.1"; fi
touch "$log" && chown root:root "$log" && chmod 0644 "$log"
rm -f "$notice"  # a notice of the previous run of the instance

args=(--idle-minutes "$IDLE_MINUTES" --grace-minutes "$GRACE_MINUTES" --warn-minutes "$WARN_MINUTES")
args+=(--jupyter-url "$JUPYTER_URL" --cpu-percent "$CPU_PERCENT" --cpu-users "$NB_USER" --gpu-percent "$GPU_PERCENT")
args+=(--deadline-seconds "$DEADLINE_SECONDS" --notice-file "$notice" --state-dir "$state")
args+=(--metadata-file "$LCC_ROOT/opt/ml/metadata/resource-metadata.json")
for pair in $IDLE_FOR; do args+=(--idle-for "$pair"); done
if [ "$VERIFY_TLS" = 1 ]; then args+=(--verify-tls); fi
if [ "$IGNORE_CONNECTIONS" = 1 ]; then args+=(--ignore-connections); fi
if [ "$DRY_RUN" = 1 ]; then args+=(--dry-run); fi
printf -v command '%q ' "$python" -I "$program" "${args[@]}"
line="$SCHEDULE root $command>>$(printf %q "$log") 2>&1"
content="$marker (the notebook user cannot change this file)
SHELL=/bin/bash
PATH=/sbin:/bin:/usr/sbin:/usr/bin
$line"
summary="$SCHEDULE, idle ${IDLE_MINUTES}m, grace ${GRACE_MINUTES}m, warn ${WARN_MINUTES}m"
if [ -f "$cronfile" ] && [ ! -L "$cronfile" ] && [ "$(cat "$cronfile")" = "$content" ]; then
  echo "cron entry ${cronfile#"$LCC_ROOT"} already up to date: $summary"
else
  rm -f "$cronfile" && printf '%s\n' "$content" >"$cronfile.new" && chmod 0644 "$cronfile.new"
  chown root:root "$cronfile.new" && mv -f "$cronfile.new" "$cronfile"
  echo "cron entry ${cronfile#"$LCC_ROOT"} set (root): $summary, log ${log#"$LCC_ROOT"}"
fi

# The former schedule lived in the notebook user's own crontab: remove that line (found by its marker).
if command -v crontab >/dev/null && current=$(crontab -u "$NB_USER" -l 2>/dev/null) && grep -qF -- "$marker" <<<"$current"; then
  others=$(grep -vF -- "$marker" <<<"$current" || true)
  if [ -n "$others" ]; then crontab -u "$NB_USER" - <<<"$others"; else crontab -u "$NB_USER" -r; fi
  echo "removed the former line from the crontab of $NB_USER"
fi
