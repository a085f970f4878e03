#!/bin/bash
# Module idle-autostop (root): installs the carried autostop.py root-owned and runs it from a ROOT-OWNED
# /etc/cron.d entry as root, with the root-owned system python in isolated mode (-I). The notebook user can
# neither remove the entry (crontab -r only touches their own crontab) nor change what it runs: nothing
# under their home, their conda envs or the persisted volume is executed, and JupyterSystemEnv's python
# (user-writable) is never run, not even to probe it.
# Notebook instances only (AL2023: systemd, cronie, /usr/bin/python3 is the system python 3.9).
set -euo pipefail
lib=$LCC_ROOT/usr/local/lib/sagemaker-lifecycle
log=$LCC_ROOT/var/log/sagemaker-lifecycle/autostop.log
state=$LCC_ROOT/var/lib/sagemaker-lifecycle/autostop
cron=$LCC_ROOT/etc/cron.d
cronfile=$cron/sagemaker-lifecycle-autostop
program=$lib/autostop.py
python=$LCC_ROOT/usr/bin/python3
notice=$NB_HOME/IDLE-SHUTDOWN-NOTICE.txt
no() {
  echo "NOT scheduled: $*"
  exit 1
}
# put FILE: stdin becomes FILE (root-owned, 0644, replaced atomically), only when it differs.
put() {
  cat >"$1.new"
  if [ ! -L "$1" ] && cmp -s "$1.new" "$1"; then
    rm -f "$1.new"
    echo "${1#"$LCC_ROOT"} already up to date"
  else
    chown root:root "$1.new" && chmod 0644 "$1.new" && mv -f "$1.new" "$1"
    echo "${1#"$LCC_ROOT"} installed"
  fi
}

# Root-owned directories all the way up, nothing in them writable by the user.
install -d -o root -g root -m 0755 "$lib" "${log%/*}" "$cron"
install -d -o root -g root -m 0700 "$state"
for d in "$lib" "$cron"; do [ ! -L "$d" ] || no "$d is a symbolic link"; done
put "$program" <"$MODULE_DIR/files/autostop.py"

# The interpreter: the system python (root-owned, not writable by others: else never run), isolated. AWS
# through its botocore or else the image's root-owned AWS CLI (the program checks the CLI's ownership and its
# own interpreter's directories before using them).
[ -n "$(find -L "$python" -maxdepth 0 -user 0 ! -perm /022 2>/dev/null)" ] || no "$python missing, not root-owned or writable by others"
setup=$("$python" -I "$program" --check-setup 2>&1) || no "$python does not reach AWS: $setup"
echo "interpreter: ${python#"$LCC_ROOT"} -I; ${setup#*autostop: }"
if [ -d "$LCC_ROOT/run/systemd/system" ] && ! systemctl is-active --quiet crond; then
  if systemctl enable --now crond >/dev/null 2>&1; then echo "crond started"; else echo "warning: crond not running"; fi
fi

# The log, the state, the notice and the notebook user's crontab are on the root volume, reset at every start:
# no rotation, no state, notice or crontab line of an earlier boot to clean up (the hook only runs at a start).
if [ -L "$log" ] || [ ! -f "$log" ]; then rm -rf "$log"; fi
touch "$log" && chown root:root "$log" && chmod 0644 "$log"

# The program's options from the settings: IDLE_MINUTES is --idle-minutes, VERIFY_TLS=1 is --verify-tls.
args=(--cpu-users "$NB_USER" --notice-file "$notice" --state-dir "$state" --metadata-file "$LCC_ROOT/opt/ml/metadata/resource-metadata.json")
for v in IDLE_MINUTES GRACE_MINUTES WARN_MINUTES JUPYTER_URL CPU_PERCENT GPU_PERCENT DEADLINE_SECONDS; do
  o=--${v,,}
  args+=("${o//_/-}" "${!v}")
done
for v in VERIFY_TLS IGNORE_CONNECTIONS DRY_RUN; do
  o=--${v,,}
  [ "${!v}" = 0 ] || args+=("${o//_/-}")
done
for pair in $IDLE_FOR; do args+=(--idle-for "$pair"); done
printf -v command '%q ' "$python" -I "$program" "${args[@]}"
printf '%s\n' "# sagemaker-lifecycle:idle-autostop" SHELL=/bin/bash PATH=/sbin:/bin:/usr/sbin:/usr/bin \
  "$SCHEDULE root $command>>$(printf %q "$log") 2>&1" | put "$cronfile"
