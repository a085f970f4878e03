#!/bin/bash
# lifecycle: runAs=root budget=10s
# The company proxy for every login shell (and, after the Jupyter restart AWS documents, for kernels):
# /etc/profile.d/company-proxy.sh from the settings HTTPS_PROXY and NO_PROXY. Rewritten only when it
# changes, so a second run leaves the file as it is.
set -euo pipefail

file=/etc/profile.d/company-proxy.sh
wanted=$(
  printf '# Written by the team lifecycle script 20-proxy.sh; do not edit.\n'
  printf 'export HTTPS_PROXY=%q https_proxy=%q\n' "$HTTPS_PROXY" "$HTTPS_PROXY"
  printf 'export NO_PROXY=%q no_proxy=%q\n' "$NO_PROXY" "$NO_PROXY"
)
if [ -f "$file" ] && [ "$(cat "$file")" = "$wanted" ]; then
  echo "proxy settings unchanged"
  exit 0
fi
printf '%s\n' "$wanted" >"$file.new"
chmod 0644 "$file.new"
mv -f "$file.new" "$file"
echo "proxy settings written to $file"
