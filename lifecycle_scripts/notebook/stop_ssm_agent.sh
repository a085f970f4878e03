#!/bin/bash
# Module stop-ssm-agent (root): stops and disables the SSM agent, and optionally uninstalls it.
#   UNINSTALL  1 to remove the amazon-ssm-agent package as well (offline: repositories disabled)
# systemd (Amazon Linux 2, AL2023): systemctl stop + disable. upstart (Amazon Linux 1): initctl
# stop and a 'manual' override. No agent: logged, exit 0. Running it again changes nothing.
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
elif [ -d "$LCC_ROOT/etc/init" ] && command -v initctl >/dev/null; then
  if [ -f "$LCC_ROOT/etc/init/$agent.conf" ]; then
    state=$(initctl status "$agent" 2>&1 || true)
    if [[ "$state" == *stop/waiting* ]]; then
      echo "upstart: $agent already stopped"
    elif initctl stop "$agent" >/dev/null 2>&1; then
      echo "upstart: $agent stopped"
    else
      echo "upstart: could not stop $agent (${state:-no status})"
      status=1
    fi
    override="$LCC_ROOT/etc/init/$agent.override"
    if [ "$(cat "$override" 2>/dev/null || true)" = "manual" ]; then
      echo "upstart: $agent already set to manual start"
    else
      echo manual >"$override"
      chmod 0644 "$override"
      echo "upstart: $agent set to manual start (/etc/init/$agent.override)"
    fi
  else
    echo "upstart: no $agent job; nothing to stop"
  fi
else
  echo "neither systemd nor upstart found; $agent not stopped"
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
