#!/bin/bash
# Module studio-team-conda-envs (sagemaker-user, every space): makes the team's conda environments on the
# shared file system usable, read-only, by this user. Nothing here needs root, and nothing is written to
# the team directory: only ~/.condarc (the team envs dir appended to envs_dirs, once) and one Jupyter kernel
# spec per ready environment under ~/.local/share/jupyter/kernels/team-<env> (stale ones removed).
#   MOUNT_DIR       where the file system is mounted; empty: the one under /mnt/custom-file-systems/efs
#                   that holds TEAM_DIR (or the only one mounted)
#   TEAM_DIR        the team directory on it: envs/<env> and ready/<env> (written by the builder module)
#   DISPLAY_PREFIX  kernels are shown as "<prefix> (<env>)"
set -euo pipefail

# shellcheck source=lifecycle_scripts/studio/team_mount.sh
. "$MODULE_DIR/files/team_mount.sh"
mount=$(team_mount) || true
if [ -z "$mount" ]; then
  echo "no team file system mounted (${MOUNT_DIR:-/mnt/custom-file-systems/efs/fs-*}); nothing to register"
  exit 0
fi
envs="$mount/$TEAM_DIR/envs"
ready="$mount/$TEAM_DIR/ready"
real_envs="${envs#"$LCC_ROOT"}"

# ~/.condarc: the team envs dir after the user's own (conda creates new envs in the first writable one).
condarc="$NB_HOME/.condarc"
entry="  - $real_envs"
if grep -qxF -- "$entry" "$condarc" 2>/dev/null; then
  echo ".condarc already lists $real_envs"
else
  tmp=$(mktemp "$condarc.XXXXXX")
  if grep -qx 'envs_dirs:' "$condarc" 2>/dev/null; then
    awk -v e="$entry" 'b && !/^  - / { print e; b = 0 } { print } /^envs_dirs:$/ { b = 1 } END { if (b) print e }' \
      "$condarc" >"$tmp"
  else
    { cat "$condarc" 2>/dev/null || true; printf 'envs_dirs:\n%s\n' "$entry"; } >"$tmp"
  fi
  chmod 0644 "$tmp" && mv -f "$tmp" "$condarc"
  echo ".condarc: $real_envs added to envs_dirs (read-only team environments)"
fi

kernels="$NB_HOME/.local/share/jupyter/kernels"
tag='"managed_by": "studio-team-conda-envs"'
mkdir -p "$kernels"
registered=0 unchanged=0 removed=0
declare -A wanted=()
for marker in "$ready"/*; do
  [ -f "$marker" ] || continue
  name="${marker##*/}"
  python="$envs/$name/bin/python"
  if [[ ! "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]]; then
    echo "$name: skipped: not a valid environment name"
    continue
  fi
  if [ ! -x "$python" ]; then
    echo "$name: skipped: marked ready but ${python#"$LCC_ROOT"} is missing"
    continue
  fi
  wanted[$name]=1
  spec="$kernels/team-$name/kernel.json"
  json=$(printf '{"argv": ["%s", "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "%s (%s)", "language": "python", "metadata": {%s}}' \
    "${python#"$LCC_ROOT"}" "$DISPLAY_PREFIX" "$name" "$tag")
  if [ -f "$spec" ] && [ "$(cat "$spec")" = "$json" ]; then
    unchanged=$((unchanged + 1))
  else
    mkdir -p "${spec%/*}" && printf '%s' "$json" >"$spec"
    echo "$name: kernel \"$DISPLAY_PREFIX ($name)\" registered"
    registered=$((registered + 1))
  fi
done
for spec in "$kernels"/team-*/kernel.json; do
  if [ ! -f "$spec" ] || ! grep -qF "$tag" "$spec"; then continue; fi
  dir="${spec%/kernel.json}"
  name="${dir##*/team-}"
  if [ -z "${wanted[$name]+x}" ]; then
    rm -rf -- "$dir" && echo "$name: kernel removed (environment no longer ready)"
    removed=$((removed + 1))
  fi
done
echo "team environments in $real_envs: $registered registered, $unchanged unchanged, $removed removed"
