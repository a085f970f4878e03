#!/bin/bash
# Module idle-autostop (root): installs the carried auto-stop program and schedules it with cron.
#   IDLE_MINUTES GRACE_MINUTES SCHEDULE JUPYTER_URL  program options and cron schedule
#   IGNORE_CONNECTIONS DRY_RUN                        1 to pass the flag, 0 not to
# Nothing is downloaded: the program travels in the bundle (files/autostop.py) and is installed
# root-owned to /usr/local/lib/sagemaker-lifecycle/autostop.py (dirs 0755, file 0644).
#
# Who runs the job: the NOTEBOOK USER, from its crontab. The job needs no root: it reads the
# world-readable instance metadata, calls the local Jupyter API and calls SageMaker with the
# instance role (IMDS credentials are available to every local user). The usual interpreter with
# boto3 is JupyterSystemEnv's python, which lives in the user's home and is writable by the user;
# running it as root would let the user run code as root (DOMAIN: a root-run step never executes
# files the notebook user can write). So each candidate interpreter is tested as the user too,
# and this script as root only writes root-owned files and the user's crontab.
# The crontab line carries a marker comment: it is replaced, never added twice, other lines kept.
set -euo pipefail

marker="# sagemaker-lifecycle:idle-autostop"
lib_dir="$LCC_ROOT/usr/local/lib/sagemaker-lifecycle"
program="$lib_dir/autostop.py"
log_dir="$LCC_ROOT/var/log/sagemaker-lifecycle"
log_file="$log_dir/autostop.log"

as_user() { sudo -n -u "$NB_USER" -- "$@"; }

# 1. The program, root-owned and read-only for everybody else.
install -d -m 0755 "$lib_dir"
chmod 0755 "$lib_dir"
if [ -f "$program" ] && [ ! -L "$program" ] && cmp -s "$MODULE_DIR/files/autostop.py" "$program"; then
  chmod 0644 "$program"
  echo "program ${program#"$LCC_ROOT"} already up to date"
else
  tmp=$(mktemp "$program.XXXXXX")
  cat "$MODULE_DIR/files/autostop.py" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$program"
  echo "program installed to ${program#"$LCC_ROOT"} (root-owned, 0644)"
fi

# 2. An interpreter with boto3, as the user will run it.
python=""
for candidate in "$NB_HOME/anaconda3/envs/JupyterSystemEnv/bin/python" "$LCC_ROOT/usr/bin/python3" python3; do
  if [[ "$candidate" != /* ]]; then
    candidate=$(command -v "$candidate" || true)
    [ -n "$candidate" ] || continue
  fi
  if [ -x "$candidate" ] && as_user "$candidate" -c 'import boto3' >/dev/null 2>&1; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  echo "NOT scheduled: no python with boto3 found (tried ${NB_HOME#"$LCC_ROOT"}/anaconda3/envs/JupyterSystemEnv/bin/python, /usr/bin/python3, python3 on PATH)"
  exit 1
fi
echo "interpreter: ${python#"$LCC_ROOT"} (has boto3, run as $NB_USER)"

if ! command -v crontab >/dev/null; then
  echo "NOT scheduled: crontab not found (install cronie)"
  exit 1
fi
if [ -d "$LCC_ROOT/run/systemd/system" ] && command -v systemctl >/dev/null \
  && ! systemctl is-active --quiet crond 2>/dev/null; then
  if systemctl enable --now crond >/dev/null 2>&1; then
    echo "crond was not running; started it"
  else
    echo "warning: crond is not running and could not be started"
  fi
fi

# 3. The log file: root-owned directory, file writable by the user who runs the job.
install -d -m 0755 "$log_dir"
if [ -L "$log_file" ] || { [ -e "$log_file" ] && [ ! -f "$log_file" ]; }; then rm -rf "$log_file"; fi
touch "$log_file"
chown "$NB_USER" "$log_file"
chmod 0644 "$log_file"

# 4. The crontab line (absolute paths: cron's PATH is minimal).
args=(--idle-minutes "$IDLE_MINUTES" --grace-minutes "$GRACE_MINUTES" --jupyter-url "$JUPYTER_URL")
if [ "$IGNORE_CONNECTIONS" = 1 ]; then args+=(--ignore-connections); fi
if [ "$DRY_RUN" = 1 ]; then args+=(--dry-run); fi
printf -v command '%q ' "$python" "$program" "${args[@]}"
line="$SCHEDULE ${command}>>$(printf '%q' "$log_file") 2>&1 $marker"
if [[ "$line" == *%* ]]; then
  echo "NOT scheduled: the cron line would contain '%', which cron turns into a newline"
  exit 1
fi

current=$(crontab -u "$NB_USER" -l 2>/dev/null || true)
others=""
if [ -n "$current" ]; then others=$(printf '%s\n' "$current" | grep -vF -- "$marker" || true); fi
wanted=$(if [ -n "$others" ]; then printf '%s\n' "$others"; fi; printf '%s\n' "$line")
if [ "$wanted" = "$current" ]; then
  echo "crontab of $NB_USER already up to date: $SCHEDULE, idle ${IDLE_MINUTES}m, grace ${GRACE_MINUTES}m"
else
  printf '%s\n' "$wanted" | crontab -u "$NB_USER" -
  echo "crontab of $NB_USER set: $SCHEDULE, idle ${IDLE_MINUTES}m, grace ${GRACE_MINUTES}m, log ${log_file#"$LCC_ROOT"}"
fi
