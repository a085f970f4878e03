#!/bin/bash
# Housekeeping on the persisted volume: remove .ipynb_checkpoints older than 30 days
# and pip caches, which fill the 20 GiB volume surprisingly fast.
# Runs as ec2-user, bounded by the module's budget.

set -u

ROOT="$HOME/SageMaker"
DAYS=30

# checkpoints
find "$ROOT" -xdev -type d -name .ipynb_checkpoints -prune -mtime +"$DAYS" -print0 2>/dev/null |
  xargs -0 -r rm -rf --
# pip cache (the persistent one; the home cache is reset at every start anyway)
rm -rf "$ROOT/.cache/pip" 2>/dev/null || true

used=$(df -P "$ROOT" | awk 'NR == 2 { print $5 }')
echo "persisted volume ${used} used after cleanup"
