#!/bin/bash
# Sourced by the team conda modules (carried as files/team_mount.sh): team_mount prints the directory where
# the team file system is mounted, or fails. MOUNT_DIR given: that one. Else the EFS mounted under
# /mnt/custom-file-systems/efs (fs-<hex>) that holds TEAM_DIR, or the only one mounted.
team_mount() {
  local dir found=()
  if [ -n "$MOUNT_DIR" ]; then
    dir="$LCC_ROOT$MOUNT_DIR"
    [ -d "$dir" ] && echo "$dir"
    return
  fi
  for dir in "$LCC_ROOT/mnt/custom-file-systems/efs"/fs-*/; do
    dir="${dir%/}"
    [[ "${dir##*/}" =~ ^fs-[0-9a-f]+$ ]] && [ -d "$dir" ] && found+=("$dir")
  done
  for dir in ${found[@]+"${found[@]}"}; do
    if [ -d "$dir/$TEAM_DIR" ]; then echo "$dir" && return; fi
  done
  [ "${#found[@]}" -eq 1 ] && echo "${found[0]}"
}
