#!/bin/bash
# Use the internal Artifactory mirrors for pip and conda: the notebooks have no internet
# access (DirectInternetAccess disabled), only the VPC endpoints and the mirror.
#
# MIRROR_HOST comes from the module's settings, e.g. artifactory.example.internal

set -euo pipefail

: "${MIRROR_HOST:?MIRROR_HOST is not set}"

PIP_INDEX="https://${MIRROR_HOST}/artifactory/api/pypi/pypi-remote/simple"
CONDA_CHANNEL="https://${MIRROR_HOST}/artifactory/api/conda/conda-forge-remote"

# ---- pip -----------------------------------------------------------------------------
# A system-wide pip.conf reaches every environment, including the conda envs that
# users create themselves later.
mkdir -p /etc/pip
cat >/etc/pip.conf <<PIPCONF
[global]
index-url = ${PIP_INDEX}
trusted-host = ${MIRROR_HOST}
timeout = 60
retries = 5
disable-pip-version-check = true
PIPCONF
chmod 0644 /etc/pip.conf

# ---- conda ---------------------------------------------------------------------------
# Written as the notebook user into ~/.condarc; keys we do not own are left alone.
sudo -u ec2-user -i bash -s -- "$CONDA_CHANNEL" <<'USERSIDE'
set -euo pipefail
channel="$1"
conda=/home/ec2-user/anaconda3/bin/conda
if [ ! -x "$conda" ]; then
  echo "no conda at $conda; skipping the channel setup"
  exit 0
fi
# channel_alias makes "-c conda-forge" resolve to the mirror as well
"$conda" config --set channel_alias "${channel%/*}"
"$conda" config --remove-key channels 2>/dev/null || true
"$conda" config --add channels "$channel"
"$conda" config --set show_channel_urls true
echo "conda channels now: $("$conda" config --show channels | tr '\n' ' ')"
USERSIDE

echo "pip and conda point at ${MIRROR_HOST}"
