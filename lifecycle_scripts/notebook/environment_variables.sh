#!/bin/bash
# Module environment-variables (root): the same variables for login shells and for the Jupyter server,
# whose kernels and terminals inherit its environment (it reads no /etc/profile.d of its own).
#   FILE_NAME       file name under /etc/profile.d (validated at synth time, ends in .sh)
#   VARIABLE_NAMES  the names it sets, space-separated (for the log)
# Carried files, generated at synth time with every value quoted:
#   environment.sh       -> /etc/profile.d/$FILE_NAME (login shells)
#   jupyter-server.env   -> /etc/sagemaker-lifecycle/jupyter-server.env (systemd EnvironmentFile dialect)
#   jupyter-server.conf  -> /etc/systemd/system/jupyter-server.service.d/50-sagemaker-lifecycle-environment.conf
# Each file is root-owned, mode 644, replaced atomically and only when its content differs. When the
# drop-in changed: systemctl daemon-reload; when anything the server reads changed: systemctl --no-block
# try-restart (a server that is not running yet starts later with the values; the hook never waits).
# No systemd, no jupyter-server unit or a failing systemctl: logged, and the module still succeeds.
set -euo pipefail

u=jupyter-server.service
c=""

# put SOURCE TARGET: copy when different, and note the change in $c.
put() {
  local t=$LCC_ROOT$2 tmp
  mkdir -p "${t%/*}"
  if [ -f "$t" ] && [ ! -L "$t" ] && cmp -s "$MODULE_DIR/files/$1" "$t"; then
    chmod 0644 "$t"
  else
    tmp=$(mktemp "$t.XXXXXX")
    cat "$MODULE_DIR/files/$1" >"$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$t"
    c=1
  fi
}

put environment.sh "/etc/profile.d/$FILE_NAME"
m="already up to date"
[ -z "$c" ] || m=written
echo "/etc/profile.d/$FILE_NAME $m ($VARIABLE_NAMES)"
c=""
put jupyter-server.conf "/etc/systemd/system/$u.d/50-sagemaker-lifecycle-environment.conf"
reload=$c
put jupyter-server.env /etc/sagemaker-lifecycle/jupyter-server.env
if [ -z "$c" ]; then
  echo "$u environment up to date; no restart"
  exit 0
fi

sc() { timeout 8 systemctl "$@"; }
if [ ! -d "$LCC_ROOT/run/systemd/system" ] || [ "$(sc show -p LoadState $u 2>/dev/null)" != LoadState=loaded ]; then
  echo "no systemd $u: only login shells get the values"
elif [ -n "$reload" ] && ! sc daemon-reload; then
  echo "warning: daemon-reload failed"
elif ! sc --no-block try-restart $u; then
  echo "warning: try-restart failed"
else
  echo "$u try-restart requested: kernels get $VARIABLE_NAMES"
fi
