#!/bin/bash
# Module persist-dotfolders (notebook user): keeps home dot-folders on the persisted volume.
#   FOLDERS        space-separated dot-names (validated at synth time), e.g. ".config .ssh"
#   PERSISTED_DIR  directory on the persisted volume that holds them
# For each folder: a real home folder is moved there once (the first time); when both exist, the
# home folder's new entries are merged in without overwriting; when neither exists the persisted
# one is created. The home entry then becomes a relative symlink to it. .ssh is kept private
# (directories 700, files 600, public keys 644). A second run changes nothing.
set -euo pipefail

store=$PERSIST_DIR/$PERSISTED_DIR
mkdir -p "$store"
chmod 0700 "$store"

# The link is relative to the home directory when the volume is inside it (always on notebook
# instances), so it resolves the same on the instance and in a test sandbox.
base=${store#"$LCC_ROOT"}
[[ $store != "$NB_HOME"/* ]] || base=${store#"$NB_HOME"/}

s=0
for f in $FOLDERS; do
  h=$NB_HOME/$f
  k=$store/$f
  t=$base/$f
  if [ -L "$h" ] && [ "$(readlink "$h")" = "$t" ]; then
    m="already linked to"
  elif [ -L "$h" ]; then
    m="relinked to"
  elif [ ! -e "$h" ]; then
    m="created and linked to"
  elif [ ! -d "$h" ]; then
    echo "$f: $h is not a directory; left alone"
    s=1
    continue
  elif [ -e "$k" ]; then
    cp -a -n "$h/." "$k/"
    rm -rf "$h"
    m="merged and linked to"
  else
    mv "$h" "$k"
    m="moved and linked to"
  fi
  mkdir -p "$k"
  [ "$m" = "already linked to" ] || ln -sfn "$t" "$h"
  echo "$f: $m $t"
  if [ "$f" = .ssh ]; then
    find "$k" -type d -exec chmod 0700 {} + -o -type f \( -name '*.pub' -exec chmod 0644 {} + -o -exec chmod 0600 {} + \)
    echo "$f: private (700, 600, *.pub 644)"
  fi
done
exit $s
