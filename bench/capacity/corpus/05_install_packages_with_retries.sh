#!/bin/bash
# Install the team's Python packages into the JupyterSystemEnv kernel env.
# The mirror is sometimes slow right after the instance starts (the VPC endpoint
# DNS takes a moment), so every install is retried with a back-off.
#
# NOTE: keep this list short! Big installs belong in a background module with
#       its own conda env on the persisted volume.

set -uo pipefail

PACKAGES=(
  "pyathena==3.*"
  "awswrangler==3.*"
  "sqlfluff"
  "black[jupyter]"
)

ENV_PIP=/home/ec2-user/anaconda3/envs/JupyterSystemEnv/bin/pip

retry() {
  # retry ATTEMPTS COMMAND...
  local attempts=$1; shift
  local n=1 delay=2
  until "$@"; do
    if [ "$n" -ge "$attempts" ]; then
      echo "giving up after $n attempts: $*" >&2
      return 1
    fi
    echo "attempt $n failed; retrying in ${delay}s" >&2
    sleep "$delay"
    n=$((n + 1))
    delay=$((delay * 2))
  done
}

if [ ! -x "$ENV_PIP" ]; then
  echo "no pip at $ENV_PIP; nothing installed"
  exit 0
fi

failed=0
for pkg in "${PACKAGES[@]}"; do
  # --quiet keeps the CloudWatch log readable
  if retry 4 sudo -u ec2-user "$ENV_PIP" install --quiet --upgrade "$pkg"; then
    echo "installed $pkg"
  else
    failed=$((failed + 1))
  fi
done

if [ "$failed" -gt 0 ]; then
  echo "$failed package(s) failed to install"
  exit 1
fi
