#!/bin/bash
# Corporate proxy for everything that talks HTTP(S) from the notebook.
# AWS endpoints are reached through VPC endpoints, so they must NOT go through the proxy.

set -eu

PROXY="${PROXY_URL:-http://proxy.example.internal:3128}"
NO_PROXY_LIST="localhost,127.0.0.1,169.254.169.254,.internal,.amazonaws.com"

# For login shells and terminals
cat >/etc/profile.d/proxy.sh <<EOF2
export http_proxy=${PROXY}
export https_proxy=${PROXY}
export HTTP_PROXY=${PROXY}
export HTTPS_PROXY=${PROXY}
export no_proxy=${NO_PROXY_LIST}
export NO_PROXY=${NO_PROXY_LIST}
EOF2
chmod 644 /etc/profile.d/proxy.sh

# For the Jupyter server (and so every kernel): systemd drop-in.
# The unit is called jupyter-server on current notebook platforms.
DROPIN_DIR=/etc/systemd/system/jupyter-server.service.d
mkdir -p "$DROPIN_DIR"
cat >"$DROPIN_DIR/proxy.conf" <<EOF3
[Service]
Environment="http_proxy=${PROXY}" "https_proxy=${PROXY}" "no_proxy=${NO_PROXY_LIST}"
Environment="HTTP_PROXY=${PROXY}" "HTTPS_PROXY=${PROXY}" "NO_PROXY=${NO_PROXY_LIST}"
EOF3

# dnf too (only used by root-run installs)
if ! grep -q '^proxy=' /etc/dnf/dnf.conf; then
    echo "proxy=${PROXY}" >> /etc/dnf/dnf.conf
fi

systemctl daemon-reload
# restart in the background: the hook must not wait for Jupyter
systemctl --no-block restart jupyter-server

echo "proxy ${PROXY} configured"
