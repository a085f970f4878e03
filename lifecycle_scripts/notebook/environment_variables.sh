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
changed=()

# put SOURCE TARGET: copy when different; appends TARGET (without $LCC_ROOT) to changed.
put() {
  local source="$MODULE_DIR/files/$1" target="$LCC_ROOT$2" tmp
  mkdir -p "${target%/*}"
  if [ -f "$target" ] && [ ! -L "$target" ] && cmp -s "$source" "$target"; then
    chmod 0644 "$target"
    return 0
  fi
  tmp=$(mktemp "$target.XXXXXX")
  cat "$source" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$target"
  changed+=("$2")
}

put environment.sh "/etc/profile.d/$FILE_NAME"
if [ "${#changed[@]}" -gt 0 ]; then
  echo "/etc/profile.d/$FILE_NAME written ($VARIABLE_NAMES, for login shells)"
else
  echo "/etc/profile.d/$FILE_NAME already up to date ($VARIABLE_NAMES)"
fi

changed=()
put jupyter-server.env /etc/sagemaker-lifecycle/jupyter-server.env
env_changed=${#changed[@]}
put jupyter-server.conf "/etc/systemd/system/$unit.d/50-sagemaker-lifecycle-environment.conf"
dropin_changed=$((${#changed[@]} - env_changed))
if [ "${#changed[@]}" -eq 0 ]; then
  echo "$unit environment already up to date; no restart"
  exit 0
fi
echo "written: ${changed[*]}"

unit_loaded() {
  [ "$(timeout 10 systemctl show -p LoadState "$unit" 2>/dev/null || true)" = "LoadState=loaded" ]
}

if [ ! -d "$LCC_ROOT/run/systemd/system" ] || ! command -v systemctl >/dev/null; then
  echo "no systemd: the Jupyter server gets the values only through login shells"
elif ! unit_loaded; then
  echo "no $unit unit: nothing to restart; the values reach login shells and terminals"
elif [ "$dropin_changed" -gt 0 ] && ! timeout 10 systemctl daemon-reload; then
  echo "warning: systemctl daemon-reload failed; the Jupyter server gets the values at its next start after one"
elif ! timeout 10 systemctl --no-block try-restart "$unit"; then
  echo "warning: systemctl try-restart $unit failed; the Jupyter server gets the values at its next start"
else
  echo "$unit: restart requested (--no-block try-restart), its kernels and terminals get $VARIABLE_NAMES"
fi
