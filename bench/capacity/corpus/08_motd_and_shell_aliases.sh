#!/bin/bash
# Friendly terminal: a message of the day with the team's links, and a few aliases.
# Harmless and idempotent: files are rewritten whole each time.

set -eu

cat >/etc/motd <<'MOTD'
  ___  ___ _____ ___ ___
 |   \/ __|_   _| __/ _ \   Data Science Team notebook
 | |) \__ \ | | | _| (_) |
 |___/|___/ |_| |___\__\_\  Wiki:    https://wiki.example.internal/ds/notebooks
                            Support: #ds-platform   On-call: ds-oncall@example.com

 * Only /home/ec2-user/SageMaker survives a restart. Keep your work there.
 * The instance stops itself after 60 idle minutes.
MOTD

cat >/etc/profile.d/team-aliases.sh <<'ALIASES'
# team aliases (managed by the lifecycle config; edits are overwritten at start)
alias ll='ls -alF'
alias sm='cd ~/SageMaker'
alias gpu='nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv'
alias envs='conda env list'
ALIASES
chmod 0644 /etc/motd /etc/profile.d/team-aliases.sh

echo "motd and aliases in place"
