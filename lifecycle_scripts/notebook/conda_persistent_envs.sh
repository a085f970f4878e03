#!/bin/bash
# Module conda-persistent-envs (notebook user): puts the persisted conda directories FIRST in
# ~/.condarc, so that environments created there survive a restart and are found by conda.
#   ENVS_DIR  envs directory, relative to the persisted volume (validated at synth time)
#   PKGS_DIR  package cache, relative to the persisted volume, or empty to leave pkgs_dirs alone
# Other keys and other entries of .condarc are kept; the file is only rewritten when it changes,
# so a second run leaves it byte for byte the same.
set -euo pipefail

condarc=$NB_HOME/.condarc
home=${NB_HOME#"$LCC_ROOT"}
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.next"' EXIT
[ ! -f "$condarc" ] || cat "$condarc" >"$tmp"

# first KEY DIR: DIR (relative to the persisted volume; created) made the first entry of the top-level
# list KEY of $tmp (block or flow style), other entries kept in order, duplicates (also '~/...' spellings,
# quoted or with a trailing slash) dropped. In a block, comments and nested lines go, blank lines move
# after it. The awk program travels as written (kept short): t trims, a adds an item, e emits the list.
first() {
  local dir=${PERSIST_DIR#"$LCC_ROOT"}/$2
  mkdir -p "$PERSIST_DIR/$2"
  awk -v key="$1" -v want="$dir" -v home="$home" '
function t(s){sub(/^[ \t]+/,"",s);sub(/[ \t]+$/,"",s);return s}
function a(s){s=t(s);if(s!="")v[++n]=s}
function e(i,k){print key":\n  - "want;z[want]=1
for(i=1;i<=n;i++){k=v[i];if(k~/^".*"$|^\047.*\047$/)k=substr(k,2,length(k)-2)
if(k=="~"||k~/^~\//)k=home substr(k,2);if(k!="/")sub(/\/+$/,"",k)
if(!(k in z)){z[k]=1;print "  - "v[i]}}
for(;l>0;l--)print "";d=1}
b&&/^[ \t]*$/{l++;next}
b&&/^[ \t]*-([ \t]|$)/{s=$0;sub(/^[ \t]*-[ \t]*/,"",s);sub(/[ \t]+#.*$/,"",s);a(s);next}
b&&/^[ \t]/{next}
b{b=0;e()}
!d&&$0~"^"key"[ \t]*:"{s=$0;sub("^"key"[ \t]*:","",s);sub(/[ \t]+#.*$/,"",s);s=t(s)
if(s~/^\[.*\]$/){m=split(substr(s,2,length(s)-2),p,",");for(i=1;i<=m;i++)a(p[i]);e()}
else if(s!=""&&s!="null"&&s!="~"){a(s);e()}else b=1;next}
1
END{if(!d)e()}' "$tmp" >"$tmp.next"
  mv -f "$tmp.next" "$tmp"
  echo "$1: $dir first"
}

first envs_dirs "$ENVS_DIR"
if [ -n "$PKGS_DIR" ]; then first pkgs_dirs "$PKGS_DIR"; else echo "pkgs_dirs: left as it is"; fi

if [ -f "$condarc" ] && cmp -s "$tmp" "$condarc"; then
  echo "$home/.condarc already up to date"
else
  # Written in place (not replaced), so a .condarc that is a link to the persisted volume stays one.
  cat "$tmp" >"$condarc"
  echo "$home/.condarc updated"
fi
