#!/bin/bash
# Module persisted-bin-on-path (root): puts a bin directory of the persisted volume on the PATH of
# the notebook user's login shells, through /etc/profile.d/persisted-bin.sh (mode 644).
#   BIN_DIR  directory relative to the persisted volume (validated at synth time)
# The directory is created by the notebook user (root never writes into the user's volume). The
# profile snippet only touches the notebook user's PATH: a root shell must never run programs that
# the user can write. It appends the directory once (system programs keep precedence).
set -euo pipefail

real_bin="${PERSIST_DIR#"$LCC_ROOT"}/$BIN_DIR"
profile="$LCC_ROOT/etc/profile.d/persisted-bin.sh"

if sudo -n -u "$NB_USER" -- mkdir -p "$PERSIST_DIR/$BIN_DIR"; then
  echo "$real_bin present (owned by $NB_USER)"
else
  echo "could not create $real_bin as $NB_USER"
  exit 1
fi

content=$(
  cat <<EOF
# Written by the SageMaker lifecycle configuration (module persisted-bin-on-path): puts
# $real_bin on the PATH of $NB_USER's login shells (never root's).
if [ "\$(id -un 2>/dev/null)" = "$NB_USER" ]; then
  case ":\$PATH:" in
    *":$real_bin:"*) ;;
    *) PATH="\$PATH:$real_bin"; export PATH ;;
  esac
fi
EOF
)

mkdir -p "${profile%/*}"
if [ -f "$profile" ] && [ ! -L "$profile" ] && [ "$(cat "$profile")" = "$content" ]; then
  chmod 0644 "$profile"
  echo "/etc/profile.d/persisted-bin.sh already up to date"
else
  tmp=$(mktemp "$profile.XXXXXX")
  printf '%s\n' "$content" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$profile"
  echo "/etc/profile.d/persisted-bin.sh written: $real_bin appended to $NB_USER's PATH in login shells"
fi
