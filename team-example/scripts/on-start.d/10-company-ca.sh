#!/bin/bash
# lifecycle: runAs=root budget=20s files=company-ca.pem
# Trust the company's root CA (the TLS-inspecting proxy signs with it): add it to the system trust store
# (AL2023: /etc/pki/ca-trust), which the root volume loses at every restart, so this runs at every start.
set -euo pipefail

anchor=/etc/pki/ca-trust/source/anchors/company-ca.pem
if cmp -s "$MODULE_DIR/files/company-ca.pem" "$anchor"; then
  echo "company CA already trusted"
  exit 0
fi
install -m 0644 -o root -g root "$MODULE_DIR/files/company-ca.pem" "$anchor"
if command -v update-ca-trust >/dev/null; then
  update-ca-trust extract
  echo "company CA added to the system trust store"
else
  echo "update-ca-trust not found: $anchor written, trust store not rebuilt"
fi
