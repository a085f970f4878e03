"""Files that carry environment variables to Jupyter servers and kernels (generated at synth time).

Jupyter kernels and terminals inherit the environment of the Jupyter server, which reads neither
``/etc/profile.d`` nor ``~/.bashrc``. Two ways in, one per platform:

* Notebook instances (systemd, unit ``jupyter-server.service``): a drop-in with ``EnvironmentFile=``
  pointing at a root-owned file in the dialect below, then a restart of the server.
* Studio (the image's supervisord starts the server; nothing of ours is read before it): an IPython
  start-up file that puts the values into ``os.environ`` of every Python kernel as it starts.

The environment file uses one dialect that systemd's ``EnvironmentFile=`` parser and a POSIX shell
read the same way: a comment line, then one ``NAME="value"`` line per variable, where inside the
double quotes a backslash precedes each backslash, double quote, backtick and dollar sign, and every
other character (newline and tab included) stands for itself. systemd drops an assignment whose value
holds any other control character, so the factory rejects such values rather than lose them silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

JUPYTER_SERVER_UNIT = "jupyter-server.service"
"""The systemd unit of the Jupyter server on notebook instances (Amazon Linux 2 and AL2023)."""
JUPYTER_SERVER_ENV_PATH = "/etc/sagemaker-lifecycle/jupyter-server.env"
JUPYTER_SERVER_DROPIN_PATH = f"/etc/systemd/system/{JUPYTER_SERVER_UNIT}.d/50-sagemaker-lifecycle-environment.conf"

_NEEDS_BACKSLASH = re.compile(r'([\\"`$])')
SYSTEMD_REJECTED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
"""Control characters that make systemd drop an assignment (it keeps tab and newline)."""

_HEADER = "# Set by the SageMaker lifecycle configuration (module {module}); do not edit."


def _escape(value: str) -> str:
    return _NEEDS_BACKSLASH.sub(r"\\\1", value)


def systemd_environment_file(variables: Mapping[str, str], module: str = "environment-variables") -> str:
    """``NAME="value"`` lines, sorted by name, in the dialect described in the module docstring."""
    lines = [_HEADER.format(module=module)]
    lines += [f'{name}="{_escape(value)}"' for name, value in sorted(variables.items())]
    return "\n".join(lines) + "\n"


def jupyter_server_dropin(module: str = "environment-variables") -> str:
    """The ``[Service]`` drop-in; ``-`` makes a missing file harmless to the unit."""
    return f"{_HEADER.format(module=module)}\n[Service]\nEnvironmentFile=-{JUPYTER_SERVER_ENV_PATH}\n"


def ipython_startup_file(variables: Mapping[str, str], module: str = "studio-environment-variables") -> str:
    """An IPython start-up file setting ``os.environ``; values are Python string literals (``repr``)."""
    lines = [_HEADER.format(module=module), "import os as _os", "", "_os.environ.update("]
    lines.append("    {")
    lines += [f"        {name!r}: {value!r}," for name, value in sorted(variables.items())]
    lines += ["    }", ")", "del _os"]
    return "\n".join(lines) + "\n"
