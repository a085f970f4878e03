#!/bin/bash
# Module studio-environment-variables (sagemaker-user): installs ~/.config/sagemaker-lifecycle/environment.sh,
# generated at synth time with every value shell-quoted and carried as files/environment.sh, and makes
# ~/.bashrc and ~/.profile source it (one line each, added once). Studio has no root and no /etc/profile.d
# of its own to write, and the home directory is the persisted volume.
set -euo pipefail

rel=".config/sagemaker-lifecycle/environment.sh"
target="$NB_HOME/$rel"
# shellcheck disable=SC2016  # $HOME expands when the rc file runs, not here
line='[ -f "$HOME/.config/sagemaker-lifecycle/environment.sh" ] && . "$HOME/.config/sagemaker-lifecycle/environment.sh"'

mkdir -p "${target%/*}"
if [ -f "$target" ] && [ ! -L "$target" ] && cmp -s "$MODULE_DIR/files/environment.sh" "$target"; then
  echo "$rel already up to date ($VARIABLE_NAMES)"
else
  tmp=$(mktemp "$target.XXXXXX")
  cat "$MODULE_DIR/files/environment.sh" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$target"
  echo "$rel written ($VARIABLE_NAMES)"
fi
for rc in .bashrc .profile; do
  if ! grep -qxF "$line" "$NB_HOME/$rc" 2>/dev/null; then
    printf '%s\n' "$line" >>"$NB_HOME/$rc"
    echo "home/$rc now sources $rel"
  fi
done
