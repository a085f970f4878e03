#!/bin/bash
# Module conda-env-kernels (notebook user): registers a Jupyter kernel for every persisted conda
# environment that has ipykernel, so that the environments show up in Jupyter after a restart
# (kernel specs live in ~/.local, on the root volume, which is reset at every start).
#   ENVS_DIR        envs directory, relative to the persisted volume
#   DISPLAY_PREFIX  kernels are shown as "<prefix> (<env>)"
# An environment without python or ipykernel is skipped; one that fails to register is logged and
# the others are still registered (the module then exits 1 so that the runner reports it).
set -euo pipefail

envs="$PERSIST_DIR/$ENVS_DIR"
real_envs="${envs#"$LCC_ROOT"}"
if [ ! -d "$envs" ]; then
  echo "no environments: $real_envs does not exist; nothing to register"
  exit 0
fi

registered=0 skipped=0 failed=0
for dir in "$envs"/*/; do
  [ -d "$dir" ] || continue
  dir="${dir%/}"
  name="${dir##*/}"
  python="$dir/bin/python"
  if [[ ! $name =~ ^[A-Za-z0-9._-]+$ ]]; then
    echo "$name: skipped: not a valid kernel name (letters, digits, '.', '_' and '-' only)"
    skipped=$((skipped+1))
  elif [ ! -x "$python" ]; then
    echo "$name: skipped: no bin/python"
    skipped=$((skipped+1))
  elif ! timeout 30 "$python" -c 'import ipykernel' >/dev/null 2>&1; then
    echo "$name: skipped: no ipykernel (install it in the environment to get a kernel)"
    skipped=$((skipped+1))
  elif output=$(timeout 30 "$python" -m ipykernel install --user --name "$name" \
    --display-name "$DISPLAY_PREFIX ($name)" 2>&1); then
    echo "$name: kernel registered as \"$DISPLAY_PREFIX ($name)\""
    registered=$((registered+1))
  else
    echo "$name: FAILED to register the kernel: ${output//$'\n'/ | }"
    failed=$((failed+1))
  fi
done

echo "kernels from $real_envs: $registered registered, $skipped skipped, $failed failed"
[ "$failed" -eq 0 ]
