#!/bin/bash
# Module conda-persistent-envs (notebook user): puts the persisted conda directories FIRST in
# ~/.condarc, so that environments created there survive a restart and are found by conda.
#   ENVS_DIR  envs directory, relative to the persisted volume (validated at synth time)
#   PKGS_DIR  package cache, relative to the persisted volume, or empty to leave pkgs_dirs alone
# Other keys and other entries of .condarc are kept; the file is only rewritten when it changes,
# so a second run leaves it byte for byte the same.
set -euo pipefail

condarc="$NB_HOME/.condarc"
real_home="${NB_HOME#"$LCC_ROOT"}"
real_persist="${PERSIST_DIR#"$LCC_ROOT"}"

# first_in KEY PATH: copy stdin to stdout with PATH the first entry of the top-level list KEY
# (block or flow style), other entries kept in order, duplicates (also '~/...' spellings) dropped.
first_in() {
  awk -v key="$1" -v want="$2" -v home="$real_home" '
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    function norm(s) {
      s = trim(s)
      if (s ~ /^".*"$/ || s ~ /^\047.*\047$/) s = substr(s, 2, length(s) - 2)
      if (s == "~" || s ~ /^~\//) s = home substr(s, 2)
      if (s != "/") sub(/\/+$/, "", s)
      return s
    }
    function add(s) { s = trim(s); if (s != "") items[++n] = s }
    function emit(   i, k) {
      print key ":"
      print "  - " want
      seen[want] = 1
      for (i = 1; i <= n; i++) {
        k = norm(items[i])
        if (!(k in seen)) { seen[k] = 1; print "  - " items[i] }
      }
      for (i = 0; i < blanks; i++) print ""
      blanks = 0
      done = 1
    }
    inblock && /^[ \t]*$/ { blanks++; next }
    inblock && /^[ \t]+#/ { next }
    inblock && /^[ \t]*-([ \t]|$)/ {
      item = $0
      sub(/^[ \t]*-[ \t]*/, "", item)
      sub(/[ \t]+#.*$/, "", item)
      add(item)
      next
    }
    inblock && /^[ \t]/ { next }
    inblock { inblock = 0; emit() }
    !done && $0 ~ ("^" key "[ \t]*:") {
      rest = $0
      sub("^" key "[ \t]*:[ \t]*", "", rest)
      sub(/[ \t]+#.*$/, "", rest)
      rest = trim(rest)
      if (rest ~ /^\[.*\]$/) {
        m = split(substr(rest, 2, length(rest) - 2), parts, ",")
        for (i = 1; i <= m; i++) add(parts[i])
        emit()
      } else if (rest != "" && rest != "null" && rest != "~") {
        add(rest)
        emit()
      } else {
        inblock = 1
      }
      next
    }
    { print }
    END { if (!done) emit() }
  '
}

tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.next"' EXIT
if [ -f "$condarc" ]; then cat "$condarc" >"$tmp"; fi

set_first() {  # set_first KEY RELATIVE_DIR
  local real="$real_persist/$2"
  mkdir -p "$PERSIST_DIR/$2"
  first_in "$1" "$real" <"$tmp" >"$tmp.next"
  mv -f "$tmp.next" "$tmp"
  echo "$1: $real first (directory present)"
}

set_first envs_dirs "$ENVS_DIR"
if [ -n "$PKGS_DIR" ]; then
  set_first pkgs_dirs "$PKGS_DIR"
else
  echo "pkgs_dirs: left as it is (no persisted package cache requested)"
fi

if [ -f "$condarc" ] && cmp -s "$tmp" "$condarc"; then
  echo "$real_home/.condarc already up to date; not rewritten"
else
  # Written in place (not replaced), so a .condarc that is a link to the persisted volume stays one.
  cat "$tmp" >"$condarc"
  echo "$real_home/.condarc updated"
fi
