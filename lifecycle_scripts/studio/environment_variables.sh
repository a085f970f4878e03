#!/bin/bash
# Module studio-environment-variables (sagemaker-user): the same variables for shells and for kernels.
# Carried files, generated at synth time with every value quoted:
#   environment.sh -> ~/.config/sagemaker-lifecycle/environment.sh, sourced by ~/.bashrc and ~/.profile
#                     (one line each, added once): terminals of JupyterLab and Code Editor, login shells
#   environment.py -> ~/.ipython/profile_default/startup/00-sagemaker-lifecycle-environment.py: sets
#                     os.environ in every IPython kernel as it starts. The image's supervisord starts the
#                     server without reading any rc file, maybe before this script ends, so kernels are
#                     reached one by one rather than through the server; a running kernel keeps its values.
# Studio has no root and no /etc/profile.d of its own to write; the home directory is the persisted volume.
# Files are mode 644, replaced atomically and only when their content differs.
set -euo pipefail

# put SOURCE REL: copy $MODULE_DIR/files/SOURCE to ~/REL when different, and log it.
put() {
  local source="$MODULE_DIR/files/$1" target="$NB_HOME/$2" tmp
  mkdir -p "${target%/*}"
  if [ -f "$target" ] && [ ! -L "$target" ] && cmp -s "$source" "$target"; then
    echo "$2 already up to date ($VARIABLE_NAMES)"
    return 0
  fi
  tmp=$(mktemp "$target.XXXXXX")
  cat "$source" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$target"
  echo "$2 written ($VARIABLE_NAMES)"
}

rel=".config/sagemaker-lifecycle/environment.sh"
put environment.sh "$rel"
put environment.py .ipython/profile_default/startup/00-sagemaker-lifecycle-environment.py

# shellcheck disable=SC2016  # $HOME expands when the rc file runs, not here
line='[ -f "$HOME/.config/sagemaker-lifecycle/environment.sh" ] && . "$HOME/.config/sagemaker-lifecycle/environment.sh"'
for rc in .bashrc .profile; do
  if ! grep -qxF "$line" "$NB_HOME/$rc" 2>/dev/null; then
    printf '%s\n' "$line" >>"$NB_HOME/$rc"
    echo "home/$rc now sources $rel"
  fi
done
