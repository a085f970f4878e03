#!/bin/bash
# Module conda-env-kernels (notebook user): registers a Jupyter kernel for every persisted conda
# environment that has ipykernel, so that the environments show up in Jupyter after a restart
# (kernel specs live in ~/.local, on the root volume, which is reset at every start).
#   ENVS_DIR        envs directory, relative to the persisted volume
#   DISPLAY_PREFIX  kernels are shown as "<prefix> (<env>)"
# An environment without python or ipykernel is skipped; one that fails to register is logged and
# the others are still registered (the module then exits 1 so that the runner reports it).
set -euo pipefail

envs=$PERSIST_DIR/$ENVS_DIR
if [ ! -d "$envs" ]; then
  echo "no ${envs#"$LCC_ROOT"}: no kernels"
  exit 0
fi

ok=0 skipped=0 failed=0
for dir in "$envs"/*/; do
  [ -d "$dir" ] || continue
  dir=${dir%/}
  name=${dir##*/}
  python=$dir/bin/python
  display="$DISPLAY_PREFIX ($name)"
  if [[ ! $name =~ ^[A-Za-z0-9._-]+$ ]]; then
    echo "$name: skipped: not a kernel name"
  elif [ ! -x "$python" ]; then
    echo "$name: skipped: no bin/python"
  elif ! timeout 30 "$python" -c 'import ipykernel' >/dev/null 2>&1; then
    echo "$name: skipped: no ipykernel"
  elif out=$(timeout 30 "$python" -m ipykernel install --user --name "$name" --display-name "$display" 2>&1); then
    echo "$name: kernel \"$display\""
    ok=$((ok+1))
    continue
  else
    echo "$name: FAILED: ${out//$'\n'/ | }"
    failed=$((failed+1))
    continue
  fi
  skipped=$((skipped+1))
done

echo "kernels: $ok registered, $skipped skipped, $failed failed"
((failed==0))
