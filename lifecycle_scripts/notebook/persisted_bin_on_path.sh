#!/bin/bash
# Module persisted-bin-on-path (root): puts a bin directory of the persisted volume on the PATH of
# the notebook user's login shells, through /etc/profile.d/persisted-bin.sh (mode 644).
#   BIN_DIR  directory relative to the persisted volume (validated at synth time)
# The directory is created by the notebook user (root never writes into the user's volume). The
# profile snippet only touches the notebook user's PATH: a root shell must never run programs that
# the user can write. It appends the directory once (system programs keep precedence). The file is
# replaced atomically, and only when its content differs.
set -euo pipefail

bin="${PERSIST_DIR#"$LCC_ROOT"}/$BIN_DIR"
f=$LCC_ROOT/etc/profile.d/persisted-bin.sh

if ! sudo -n -u "$NB_USER" -- mkdir -p "$PERSIST_DIR/$BIN_DIR"; then
  echo "could not create $bin as $NB_USER"
  exit 1
fi

content="# SageMaker lifecycle: persisted-bin-on-path
if [ \"\$(id -un 2>/dev/null)\" = $NB_USER ]; then
  case \":\$PATH:\" in *\":$bin:\"*) ;; *) PATH=\"\$PATH:$bin\" ;; esac
fi"

mkdir -p "${f%/*}"
if [ -f "$f" ] && [ ! -L "$f" ] && [ "$(cat "$f")" = "$content" ]; then
  chmod 0644 "$f"
  echo "${f#"$LCC_ROOT"} already up to date"
else
  t=$(mktemp "$f.XXXXXX")
  echo "$content" >"$t" && chmod 0644 "$t" && mv -f "$t" "$f"
  echo "${f#"$LCC_ROOT"} written"
fi
