#!/bin/bash
# Module stop-ssm-agent (root): stops and disables the SSM agent, and optionally uninstalls it.
#   UNINSTALL  1 to remove the amazon-ssm-agent package as well (with dnf, offline: repositories disabled)
# Notebook instances only: AL2023 (systemd, dnf; Amazon Linux 2 and 1 are gone). No agent or no systemd:
# logged, exit 0. Running it again changes nothing.
set -euo pipefail

a=amazon-ssm-agent
s=0

if [ ! -d "$LCC_ROOT/run/systemd/system" ] || ! command -v systemctl >/dev/null; then
  echo "no systemd: $a not stopped"
elif [ -f "$LCC_ROOT/etc/systemd/system/$a.service" ] || [ -f "$LCC_ROOT/usr/lib/systemd/system/$a.service" ] ||
  [ "$(systemctl show -p LoadState $a 2>/dev/null)" = LoadState=loaded ]; then
  for c in stop disable; do
    if systemctl $c $a; then echo "$a: $c done"; else
      echo "$a: $c FAILED"
      s=1
    fi
  done
else
  echo "no $a unit"
fi

if [ "$UNINSTALL" = 1 ]; then
  if ! rpm -q --quiet $a 2>/dev/null; then
    echo "$a not installed: nothing to uninstall"
  elif dnf -y -q --disablerepo='*' remove $a; then
    echo "$a uninstalled"
  else
    echo "dnf could not remove $a"
    s=1
  fi
fi
exit $s
