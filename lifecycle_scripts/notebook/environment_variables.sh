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

unit=jupyter-server.service
changed=""

# put SOURCE TARGET: copy when different, and add TARGET's name to $changed.
put() {
  local target="$LCC_ROOT$2" tmp
  mkdir -p "${target%/*}"
  if [ -f "$target" ] && [ ! -L "$target" ] && cmp -s "$MODULE_DIR/files/$1" "$target"; then
    chmod 0644 "$target"
  else
    tmp=$(mktemp "$target.XXXXXX")
    cat "$MODULE_DIR/files/$1" >"$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$target"
    changed+=" ${2##*/}"
  fi
}

put environment.sh "/etc/profile.d/$FILE_NAME"
if [ -n "$changed" ]; then
  echo "/etc/profile.d/$FILE_NAME written ($VARIABLE_NAMES, for login shells)"
else
  echo "/etc/profile.d/$FILE_NAME already up to date ($VARIABLE_NAMES)"
fi
changed=""
put jupyter-server.conf "/etc/systemd/system/$unit.d/50-sagemaker-lifecycle-environment.conf"
reload=$changed
put jupyter-server.env /etc/sagemaker-lifecycle/jupyter-server.env
if [ -z "$changed" ]; then
  echo "$unit environment up to date; no restart"
  exit 0
fi
echo "written:$changed"

sc() { timeout 8 systemctl "$@"; }
if [ ! -d "$LCC_ROOT/run/systemd/system" ] || ! command -v systemctl >/dev/null; then
  echo "no systemd: only login shells get the values"
elif [ "$(sc show -p LoadState "$unit" 2>/dev/null || true)" != LoadState=loaded ]; then
  echo "no $unit: only login shells get the values"
elif [ -n "$reload" ] && ! sc daemon-reload; then
  echo "warning: daemon-reload failed; Jupyter gets the values after a reload and restart"
elif ! sc --no-block try-restart "$unit"; then
  echo "warning: try-restart failed; Jupyter gets the values at its next start"
else
  echo "$unit restart requested (--no-block try-restart): kernels get $VARIABLE_NAMES"
fi
