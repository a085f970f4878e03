#!/bin/bash
# lifecycle: runAs=notebook-user budget=10s
# pip installs from the company's package mirror (setting PIP_INDEX_URL), for the notebook user.
# ~/.config/pip/pip.conf is rewritten only when it changes.
set -euo pipefail

conf="$HOME/.config/pip/pip.conf"
wanted=$(printf '[global]\nindex-url = %s\n' "$PIP_INDEX_URL")
if [ -f "$conf" ] && [ "$(cat "$conf")" = "$wanted" ]; then
  echo "pip index unchanged"
  exit 0
fi
mkdir -p "${conf%/*}"
printf '%s\n' "$wanted" >"$conf"
echo "pip index set to $PIP_INDEX_URL"
