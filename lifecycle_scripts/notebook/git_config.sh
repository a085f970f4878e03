#!/bin/bash
# Module git-config (notebook user): sets git's global (~/.gitconfig) options. ~/.gitconfig is on
# the root volume, which is reset at every start, so this runs at every start.
#   CFG_USER_NAME CFG_USER_EMAIL   user.name and user.email
#   CFG_COUNT, CFG_KEY_<n>, CFG_VALUE_<n>  further options (n = 1..CFG_COUNT), validated at synth time
# (deliberately not GIT_CONFIG_*: git itself reads those variables). A value already set is left
# alone, so a second run does not even rewrite the file.
set -euo pipefail

if ! command -v git >/dev/null; then
  echo "git not found; nothing configured"
  exit 1
fi

set_option() {  # set_option KEY VALUE
  local current
  current=$(git config --global --get-all "$1" 2>/dev/null || true)
  if [ "$current" = "$2" ]; then
    echo "$1 already set"
  else
    git config --global --replace-all "$1" "$2"
    echo "$1 set"
  fi
}

set_option user.name "$CFG_USER_NAME"
set_option user.email "$CFG_USER_EMAIL"
for ((i=1; i<=CFG_COUNT; i++)); do
  key_var="CFG_KEY_$i"
  value_var="CFG_VALUE_$i"
  set_option "${!key_var}" "${!value_var}"
done
