#!/bin/bash
# Module conda-packages-background (notebook user, run detached by the runner, which writes the
# completion marker): creates a conda environment on the persisted volume if it is missing, with
# python and ipykernel, installs the packages and registers its Jupyter kernel.
#   ENV_NAME PYTHON_VERSION  environment name and python version
#   PACKAGES                 package specs, space-separated (validated at synth time)
#   CHANNEL                  extra channel (name or URL), or empty for the configured channels
#   ENVS_DIR DISPLAY_PREFIX  envs directory relative to the volume; kernel shown as "<prefix> (<env>)"
# conda's own output goes to .lifecycle/logs/conda-<env>.log on the volume. When the environment
# already has exactly these packages installed by this module, nothing is run again.
set -euo pipefail

prefix="$PERSIST_DIR/$ENVS_DIR/$ENV_NAME"
real_prefix="${prefix#"$LCC_ROOT"}"
state_dir="$PERSIST_DIR/.lifecycle"
conda_log="$state_dir/logs/conda-$ENV_NAME.log"
stamp="$prefix/conda-meta/.lifecycle-packages"

conda=""
if [ -x "$NB_HOME/anaconda3/bin/conda" ]; then
  conda="$NB_HOME/anaconda3/bin/conda"
elif command -v conda >/dev/null; then
  conda=$(command -v conda)
fi
if [ -z "$conda" ]; then
  echo "conda not found (neither ${NB_HOME#"$LCC_ROOT"}/anaconda3/bin/conda nor conda on PATH); $ENV_NAME not created"
  exit 1
fi

mkdir -p "$state_dir/logs" "${prefix%/*}"
# One run at a time per environment (on-create and on-start both run at creation).
exec 9>"$state_dir/conda-$ENV_NAME.lock"
flock 9

read -r -a package_specs <<<"$PACKAGES"
channel_args=()  # expanded as ${a[@]+...}: bash 4.2 (Amazon Linux 2) treats an empty array as unset
if [ -n "$CHANNEL" ]; then channel_args=(-c "$CHANNEL"); fi
wanted="python=$PYTHON_VERSION ipykernel $PACKAGES channel=${CHANNEL:-default}"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  echo "$ENV_NAME: $real_prefix already has $PACKAGES; nothing to install"
else
  if [ -d "$prefix/conda-meta" ]; then
    echo "$ENV_NAME: environment exists at $real_prefix"
  else
    echo "$ENV_NAME: creating $real_prefix with python=$PYTHON_VERSION and ipykernel (log ${conda_log#"$LCC_ROOT"})"
    if ! "$conda" create --yes --quiet --prefix "$prefix" ${channel_args[@]+"${channel_args[@]}"} \
      "python=$PYTHON_VERSION" ipykernel >>"$conda_log" 2>&1; then
      echo "$ENV_NAME: conda create FAILED; see ${conda_log#"$LCC_ROOT"}"
      exit 1
    fi
  fi
  echo "$ENV_NAME: installing $PACKAGES"
  if ! "$conda" install --yes --quiet --prefix "$prefix" ${channel_args[@]+"${channel_args[@]}"} \
    "python=$PYTHON_VERSION" ipykernel "${package_specs[@]}" >>"$conda_log" 2>&1; then
    echo "$ENV_NAME: conda install FAILED; see ${conda_log#"$LCC_ROOT"}"
    exit 1
  fi
  printf '%s\n' "$wanted" >"$stamp"
  echo "$ENV_NAME: packages installed"
fi

if "$prefix/bin/python" -m ipykernel install --user --name "$ENV_NAME" \
  --display-name "$DISPLAY_PREFIX ($ENV_NAME)" >>"$conda_log" 2>&1; then
  echo "$ENV_NAME: kernel registered as \"$DISPLAY_PREFIX ($ENV_NAME)\""
else
  echo "$ENV_NAME: kernel registration FAILED; see ${conda_log#"$LCC_ROOT"}"
  exit 1
fi
