#!/bin/bash
# Studio (sagemaker-user): pip uses the company's package mirror (setting PIP_INDEX_URL) and trusts the
# company CA carried with this script (files: company-ca.pem), both under the persisted home.
set -euo pipefail

ca="$HOME/.config/company/company-ca.pem"
mkdir -p "${ca%/*}" "$HOME/.config/pip"
cmp -s "$MODULE_DIR/files/company-ca.pem" "$ca" || install -m 0644 "$MODULE_DIR/files/company-ca.pem" "$ca"
conf="$HOME/.config/pip/pip.conf"
wanted=$(printf '[global]\nindex-url = %s\ncert = %s\n' "$PIP_INDEX_URL" "$ca")
if [ -f "$conf" ] && [ "$(cat "$conf")" = "$wanted" ]; then
  echo "pip settings unchanged"
else
  printf '%s\n' "$wanted" >"$conf"
  echo "pip index set to $PIP_INDEX_URL, company CA trusted by pip"
fi
