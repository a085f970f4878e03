#!/bin/bash
# lifecycle: runAs=notebook-user budget=15s
# Git credentials for the company's git server (setting GIT_HOST) kept in memory for 8 hours, never on
# disk: git's own cache helper, set for that host only in ~/.gitconfig (reset at every start).
set -euo pipefail

if ! command -v git >/dev/null; then
  echo "git not found; credential helper not set"
  exit 0
fi
key="credential.https://$GIT_HOST.helper"
wanted="cache --timeout=28800"
if [ "$(git config --global --get "$key" || true)" = "$wanted" ]; then
  echo "credential helper for $GIT_HOST already set"
else
  git config --global "$key" "$wanted"
  echo "credential helper for $GIT_HOST set"
fi
