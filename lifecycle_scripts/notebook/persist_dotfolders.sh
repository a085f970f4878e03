#!/bin/bash
# Module persist-dotfolders (notebook user): keeps home dot-folders on the persisted volume.
#   FOLDERS        space-separated dot-names (validated at synth time), e.g. ".config .ssh"
#   PERSISTED_DIR  directory on the persisted volume that holds them
# For each folder: a real home folder is moved there once (the first time); when both exist, the
# home folder's new entries are merged in without overwriting; when neither exists the persisted
# one is created. The home entry then becomes a relative symlink to it. .ssh is kept private
# (directories 700, files 600, public keys 644). A second run changes nothing.
set -euo pipefail

store="$PERSIST_DIR/$PERSISTED_DIR"
mkdir -p "$store"
chmod 0700 "$store"

# The link is relative to the home directory when the volume is inside it (always on notebook
# instances), so it resolves the same on the instance and in a test sandbox.
if [[ $store == "$NB_HOME"/* ]]; then
  link_base="${store#"$NB_HOME"/}"
else
  link_base="${store#"$LCC_ROOT"}"
fi

status=0
read -r -a folder_names <<<"$FOLDERS"
for folder in "${folder_names[@]}"; do
  home_entry="$NB_HOME/$folder"
  kept="$store/$folder"
  target="$link_base/$folder"
  if [ -L "$home_entry" ] && [ "$(readlink "$home_entry")" = "$target" ]; then
    mkdir -p "$kept"
    echo "$folder: already linked to $target"
  elif [ -L "$home_entry" ]; then
    mkdir -p "$kept"
    ln -sfn "$target" "$home_entry"
    echo "$folder: link pointed elsewhere; now linked to $target"
  elif [ -d "$home_entry" ] && [ ! -e "$kept" ]; then
    mv "$home_entry" "$kept"
    ln -s "$target" "$home_entry"
    echo "$folder: moved to the persisted volume and linked ($target)"
  elif [ -d "$home_entry" ]; then
    cp -a -n "$home_entry/." "$kept/"
    rm -rf "$home_entry"
    ln -s "$target" "$home_entry"
    echo "$folder: merged new entries into the persisted copy and linked ($target)"
  elif [ -e "$home_entry" ]; then
    echo "$folder: $home_entry is not a directory; left alone"
    status=1
    continue
  else
    mkdir -p "$kept"
    ln -s "$target" "$home_entry"
    echo "$folder: created on the persisted volume and linked ($target)"
  fi
  if [ "$folder" = .ssh ]; then
    find "$kept" -type d -exec chmod 0700 {} +
    find "$kept" -type f ! -name '*.pub' -exec chmod 0600 {} +
    find "$kept" -type f -name '*.pub' -exec chmod 0644 {} +
    echo "$folder: permissions set (directories 700, files 600, public keys 644)"
  fi
done
exit "$status"
