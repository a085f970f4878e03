#!/bin/bash
# Module environment-variables (root): installs /etc/profile.d/$FILE_NAME (mode 644), generated at
# synth time with every value shell-quoted, and carried in the bundle as files/environment.sh.
#   FILE_NAME       file name under /etc/profile.d (validated at synth time, ends in .sh)
#   VARIABLE_NAMES  the names it sets, space-separated (for the log)
# The file is replaced atomically and only when its content differs.
set -euo pipefail

source_file="$MODULE_DIR/files/environment.sh"
profile="$LCC_ROOT/etc/profile.d/$FILE_NAME"

mkdir -p "${profile%/*}"
if [ -f "$profile" ] && [ ! -L "$profile" ] && cmp -s "$source_file" "$profile"; then
  chmod 0644 "$profile"
  echo "/etc/profile.d/$FILE_NAME already up to date ($VARIABLE_NAMES)"
else
  tmp=$(mktemp "$profile.XXXXXX")
  cat "$source_file" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$profile"
  echo "/etc/profile.d/$FILE_NAME written ($VARIABLE_NAMES, for login shells)"
fi
