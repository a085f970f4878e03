#!/bin/bash
# Module studio-team-conda-builder (sagemaker-user, detached by the runner): in the manager space only,
# builds the team's conda environments on the shared file system from files/environments.tsv
# (name|python version|package specs|spec hash, validated at synth time), one build at a time (flock on
# the team directory), then makes each one read-only and writes ready/<env> (its spec hash). Users' spaces
# only read what is ready (module studio-team-conda-envs). An environment whose spec changed is rebuilt
# (its ready marker is removed first, so kernels disappear until it is ready again); one that left the
# spec is removed. Needs no root: every space reaches the file system as the domain's POSIX user.
#   MANAGER_SPACE MOUNT_DIR TEAM_DIR CHANNEL
set -euo pipefail

metadata="$LCC_ROOT/opt/ml/metadata/resource-metadata.json"
space=$(sed -n 's/.*"SpaceName"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$metadata" 2>/dev/null | head -n 1)
if [ "$space" != "$MANAGER_SPACE" ]; then
  echo "space '${space:-unknown}' is not the manager space '$MANAGER_SPACE': nothing to build"
  exit 0
fi

# shellcheck source=lifecycle_scripts/studio/team_mount.sh
. "$MODULE_DIR/files/team_mount.sh"
mount=$(team_mount) || true
if [ -z "$mount" ]; then
  echo "NOT built: no team file system mounted (${MOUNT_DIR:-/mnt/custom-file-systems/efs/fs-*})"
  exit 1
fi
team="$mount/$TEAM_DIR"
mkdir -p "$team/envs" "$team/ready" "$team/logs"
exec 9>"$team/.build.lock"
if ! flock -n 9; then
  echo "another build holds ${team#"$LCC_ROOT"}/.build.lock: nothing to do"
  exit 0
fi
conda=""
for c in "$LCC_ROOT/opt/conda/bin/conda" "$(command -v conda || true)"; do
  if [ -n "$c" ] && [ -x "$c" ]; then conda=$c && break; fi
done
if [ -z "$conda" ]; then
  echo "NOT built: conda not found (/opt/conda/bin/conda, conda on PATH)"
  exit 1
fi
channel_args=()
if [ -n "$CHANNEL" ]; then channel_args=(-c "$CHANNEL"); fi

built=0 current=0 failed=0 removed=0
declare -A listed=()
while IFS='|' read -r name python packages hash; do
  listed[$name]=1
  prefix="$team/envs/$name"
  if [ -x "$prefix/bin/python" ] && [ "$(cat "$team/ready/$name" 2>/dev/null)" = "$hash" ]; then
    current=$((current + 1))
    continue
  fi
  rm -f "$team/ready/$name"
  if [ -e "$prefix" ]; then chmod -R u+w "$prefix" && rm -rf -- "$prefix"; fi
  read -r -a specs <<<"$packages"
  log="$team/logs/$name.log"
  echo "$name: building (python $python, $packages); log ${log#"$LCC_ROOT"}"
  if "$conda" create --yes --quiet -p "$prefix" ${channel_args[@]+"${channel_args[@]}"} "python=$python" ipykernel \
    ${specs[@]+"${specs[@]}"} >"$log" 2>&1; then
    chmod -R a-w "$prefix"
    printf '%s\n' "$hash" >"$team/ready/$name"
    echo "$name: ready (read-only)"
    built=$((built + 1))
  else
    echo "$name: FAILED (exit $?); see ${log#"$LCC_ROOT"}"
    failed=$((failed + 1))
  fi
done <"$MODULE_DIR/files/environments.tsv"
for marker in "$team/envs"/*; do
  [ -d "$marker" ] || continue
  name="${marker##*/}"
  if [ -z "${listed[$name]+x}" ]; then
    rm -f "$team/ready/$name"
    chmod -R u+w "$marker" && rm -rf -- "$marker"
    echo "$name: removed (no longer in the team's environments)"
    removed=$((removed + 1))
  fi
done
echo "team environments: $built built, $current up to date, $removed removed, $failed failed"
[ "$failed" -eq 0 ]
