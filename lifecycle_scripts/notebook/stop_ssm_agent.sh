#!/bin/bash
# Module stop-ssm-agent (root): stops and disables the SSM agent, and optionally uninstalls it.
#   UNINSTALL  1 to remove the amazon-ssm-agent package as well (offline: repositories disabled)
# systemd (AL2023, the notebook platform; Amazon Linux 2 alike): systemctl stop + disable. No agent or
# no systemd: logged, exit 0. Running it again changes nothing. Amazon Linux 1 (upstart) is long gone.
set -euo pipefail

agent=amazon-ssm-agent
status=0

systemd_unit_present() {
  local dir
  for dir in etc/systemd/system usr/lib/systemd/system lib/systemd/system run/systemd/system; do
    if [ -f "$LCC_ROOT/$dir/$agent.service" ]; then return 0; fi
  done
  [ "$(systemctl show -p LoadState "$agent" 2>/dev/null || true)" = "LoadState=loaded" ]
}

if [ -d "$LCC_ROOT/run/systemd/system" ] && command -v systemctl >/dev/null; then
  if systemd_unit_present; then
    if systemctl stop "$agent"; then
      echo "systemd: $agent stopped"
    else
      echo "systemd: could not stop $agent"
      status=1
    fi
    if systemctl disable "$agent" >/dev/null 2>&1; then
      echo "systemd: $agent disabled"
    else
      echo "systemd: could not disable $agent"
      status=1
    fi
  else
    echo "systemd: no $agent unit; nothing to stop"
  fi
else
  echo "no systemd found; $agent not stopped"
fi

if [ "$UNINSTALL" = 1 ]; then
  if ! command -v rpm >/dev/null || ! rpm -q --quiet "$agent" 2>/dev/null; then
    echo "$agent package not installed; nothing to uninstall"
  else
    manager=""
    if command -v dnf >/dev/null; then manager=dnf; elif command -v yum >/dev/null; then manager=yum; fi
    if [ -z "$manager" ]; then
      echo "neither dnf nor yum found; $agent not uninstalled"
      status=1
    elif "$manager" -y -q --disablerepo='*' remove "$agent"; then
      echo "$agent uninstalled with $manager"
    else
      echo "$manager could not remove $agent"
      status=1
    fi
  fi
fi
exit "$status"
