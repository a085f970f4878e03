#!/bin/bash
# JupyterLab extensions: switch off what confuses our users, switch on what we support.
# Runs as ec2-user; the server is restarted by the proxy module later anyway.

set -euo pipefail

JUPYTER=/home/ec2-user/anaconda3/envs/JupyterSystemEnv/bin/jupyter

if [ ! -x "$JUPYTER" ]; then
    echo "jupyter not found at $JUPYTER"
    exit 0
fi

# Disabled: the announcements pop-up (no internet anyway) and the
# notebook news feed.
for ext in "@jupyterlab/apputils-extension:announcements" "jupyterlab-news"; do
    "$JUPYTER" labextension disable "$ext" >/dev/null 2>&1 && echo "disabled $ext" || echo "could not disable $ext (not installed?)"
done

# Enabled: git, the resource usage indicator
for ext in "@jupyterlab/git" "jupyter-resource-usage"; do
    "$JUPYTER" labextension enable "$ext" >/dev/null 2>&1 && echo "enabled $ext" || echo "could not enable $ext"
done

# Settings overrides: no telemetry, autosave every 60 s, show line numbers.
SETTINGS_DIR="$HOME/.jupyter/lab/user-settings/@jupyterlab"
mkdir -p "$SETTINGS_DIR/docmanager-extension" "$SETTINGS_DIR/notebook-extension"

cat >"$SETTINGS_DIR/docmanager-extension/plugin.jupyterlab-settings" <<'JSON'
{
    "autosaveInterval": 60
}
JSON

cat >"$SETTINGS_DIR/notebook-extension/tracker.jupyterlab-settings" <<'JSON'
{
    "codeCellConfig": { "lineNumbers": true }
}
JSON

echo "extension settings written"
