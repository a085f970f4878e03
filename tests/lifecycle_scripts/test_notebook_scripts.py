"""The notebook catalogue scripts run for real with bash in a sandbox root.

Each module is run the way the runner runs it (same environment, cwd ``/``, settings sourced, carried
files under ``$MODULE_DIR/files``), see ``run_module``; the whole on-start hook built from every module
is run twice through ``LifecycleBundle`` and ``Sandbox.run_hook`` and must leave the same state.
Commands that only exist on an instance (conda, the environments' python, systemctl...) are recording
fakes; git is the real one.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest

import constructs_lib.bundling.bundle as bundle_module
from constructs_lib import LifecycleBundle, Module, RunAs
from constructs_lib.catalogue import (
    conda_env_kernels,
    conda_packages_background,
    conda_persistent_envs,
    environment_variables,
    git_config,
    idle_autostop,
    persist_dotfolders,
    persisted_bin_on_path,
    stop_ssm_agent,
)
from tests.support.sandbox import Sandbox

SCRIPTS_DIR = Path(str(resources.files("lifecycle_scripts.notebook")))
SCRIPTS = sorted(path.name for path in SCRIPTS_DIR.glob("*.sh"))
SHELLCHECK = str(Path(sys.executable).parent / "shellcheck")
RUNNER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # what runner.sh appends
NB_USER = "ec2-user"
REAL_HOME = "/home/ec2-user"
REAL_PERSIST = "/home/ec2-user/SageMaker"
MARKER = "# sagemaker-lifecycle:idle-autostop"
LOG_EXCLUDES = ("var/log", "var/lib/sagemaker-lifecycle", "home/ec2-user/SageMaker/.lifecycle")


# -- helpers -----------------------------------------------------------------------------------------


@dataclass
class Result:
    returncode: int
    output: str

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()


def run_module(sandbox: Sandbox, module: Module, *, path: str | None = None) -> Result:
    """Run one module as runner.sh does: ``env -i`` with the runner's variables, ``cd /``, settings
    sourced, then the script. SANDBOX_CALLS is added so that the recording programs can record."""
    directory = sandbox.base / "modules" / module.name
    shutil.rmtree(directory, ignore_errors=True)
    (directory / "files").mkdir(parents=True)
    script = directory / "run"
    script.write_text(module.script)
    script.chmod(0o755)
    settings = directory / "settings.sh"
    settings.write_text("".join(f"export {key}={shlex.quote(value)}\n" for key, value in module.settings.items()))
    for rel, data in carried(module).items():
        target = directory / "files" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    as_root = module.user is RunAs.ROOT
    env = {
        "HOME": "/root" if as_root else str(sandbox.home),
        "USER": "root" if as_root else NB_USER,
        "LOGNAME": "root" if as_root else NB_USER,
        "SHELL": "/bin/bash",
        "PATH": path if path is not None else f"{sandbox.env()['PATH']}:{RUNNER_PATH}",
        "LANG": "C.UTF-8",
        "LCC_ROOT": str(sandbox.root),
        "NB_USER": NB_USER,
        "NB_HOME": str(sandbox.home),
        "PERSIST_DIR": str(sandbox.persist),
        "MODULE_DIR": str(directory),
        "MODULE_NAME": module.name,
        "HOOK": "on-start",
        "SANDBOX_CALLS": str(sandbox.calls_file),
    }
    completed = subprocess.run(
        ["/bin/bash", "-c", 'cd / && . "$1" && shift && exec "$@"', f"lcc-{module.name}", str(settings), str(script)],
        env=env,
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    return Result(completed.returncode, completed.stdout)


def carried(module: Module) -> dict[str, bytes]:
    """The module's carried files as bytes (Module stores them read at construction)."""
    files: dict[str, bytes] = {}
    for rel, source in module.files.items():
        files[rel] = (
            source.read_bytes() if isinstance(source, Path) else source.encode() if isinstance(source, str) else source
        )
    return files


def write_program(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# A python of a conda environment: answers the import checks, installs a kernel spec like ipykernel.
FAKE_PYTHON = r"""#!/bin/bash
{ printf '%s' "$0"; printf '\t%s' "$@"; echo; } >>"@LOG@"
case "${1-} ${2-}" in
  "-c import ipykernel") exit @IPYKERNEL_RC@ ;;
  "-c import boto3") exit @BOTO3_RC@ ;;
  "-m ipykernel")
    shift 2
    name="" display=""
    while [ $# -gt 0 ]; do
      case "$1" in --name) name=$2; shift 2 ;; --display-name) display=$2; shift 2 ;; *) shift ;; esac
    done
    if [ "@INSTALL_RC@" != 0 ]; then echo "Traceback: simulated failure" >&2; echo "line two" >&2; exit @INSTALL_RC@; fi
    dir="$HOME/.local/share/jupyter/kernels/$name"
    mkdir -p "$dir"
    printf '{"argv": ["%s", "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "%s"}\n' \
      "$0" "$display" >"$dir/kernel.json"
    echo "Installed kernelspec $name in $dir" ;;
  *) exit 2 ;;
esac
"""

# conda: create makes the prefix with a python like the one above; install needs an existing prefix.
FAKE_CONDA = r"""#!/bin/bash
{ printf 'conda'; printf '\t%s' "$@"; echo; } >>"@LOG@"
if [ "@RC@" != 0 ]; then echo "CondaHTTPError: simulated" >&2; exit @RC@; fi
command=$1
shift
prefix=""
while [ $# -gt 0 ]; do case "$1" in --prefix | -p) prefix=$2; shift 2 ;; *) shift ;; esac; done
case "$command" in
  create) mkdir -p "$prefix/conda-meta" "$prefix/bin" && cp "@PYTHON@" "$prefix/bin/python" && echo "created $prefix" ;;
  install) [ -d "$prefix/conda-meta" ] && echo "installed into $prefix" ;;
  *) exit 2 ;;
esac
"""


def fake_python(
    sandbox: Sandbox, path: Path, *, ipykernel: bool = True, boto3: bool = False, install_rc: int = 0
) -> Path:
    text = (
        FAKE_PYTHON.replace("@LOG@", str(sandbox.base / "tools.log"))
        .replace("@IPYKERNEL_RC@", "0" if ipykernel else "1")
        .replace("@BOTO3_RC@", "0" if boto3 else "1")
        .replace("@INSTALL_RC@", str(install_rc))
    )
    return write_program(path, text)


def fake_conda(sandbox: Sandbox, *, rc: int = 0) -> Path:
    python = fake_python(sandbox, sandbox.base / "templates" / "python")
    text = FAKE_CONDA.replace("@LOG@", str(sandbox.base / "tools.log")).replace("@RC@", str(rc))
    return write_program(sandbox.home / "anaconda3" / "bin" / "conda", text.replace("@PYTHON@", str(python)))


def tool_calls(sandbox: Sandbox) -> list[list[str]]:
    log = sandbox.base / "tools.log"
    return [line.split("\t") for line in log.read_text().splitlines()] if log.exists() else []


def jupyter_system_python(sandbox: Sandbox) -> Path:
    return sandbox.home / "anaconda3" / "envs" / "JupyterSystemEnv" / "bin" / "python"


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


# -- static checks -----------------------------------------------------------------------------------


def test_every_module_script_is_found() -> None:
    assert SCRIPTS == [
        "conda_env_kernels.sh",
        "conda_packages_background.sh",
        "conda_persistent_envs.sh",
        "environment_variables.sh",
        "git_config.sh",
        "idle_autostop.sh",
        "persist_dotfolders.sh",
        "persisted_bin_on_path.sh",
        "stop_ssm_agent.sh",
    ]


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_passes_bash_n_and_shellcheck(script: str) -> None:
    path = SCRIPTS_DIR / script
    assert path.read_text().startswith("#!/bin/bash\n")
    syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    lint = subprocess.run([SHELLCHECK, "--shell=bash", "-x", str(path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_touches_system_paths_only_under_lcc_root(script: str) -> None:
    """Every absolute path the script opens must carry $LCC_ROOT (or come from NB_HOME/PERSIST_DIR)."""
    for number, line in enumerate((SCRIPTS_DIR / script).read_text().splitlines(), start=1):
        code = line.split(" #", 1)[0]
        if code.lstrip().startswith("#"):
            continue
        for redirect in ('>"/', ">/etc", ">/usr", ">/var", '<"/', "<(/"):
            assert redirect not in code, f"{script}:{number}: {line}"


# -- conda_persistent_envs ---------------------------------------------------------------------------


def test_condarc_is_created_with_the_persisted_dirs_first(sandbox: Sandbox) -> None:
    result = run_module(sandbox, conda_persistent_envs())
    assert result.returncode == 0, result.output
    assert (sandbox.home / ".condarc").read_text() == (
        f"envs_dirs:\n  - {REAL_PERSIST}/.conda/envs\npkgs_dirs:\n  - {REAL_PERSIST}/.conda/pkgs\n"
    )
    assert (sandbox.persist / ".conda" / "envs").is_dir()
    assert (sandbox.persist / ".conda" / "pkgs").is_dir()
    assert result.lines[-1] == f"{REAL_HOME}/.condarc updated"


def test_condarc_keeps_other_keys_and_entries_and_never_duplicates(sandbox: Sandbox) -> None:
    condarc = sandbox.home / ".condarc"
    condarc.write_text(
        "# my settings\n"
        "channels:\n"
        "  - conda-forge\n"
        "  - defaults\n"
        "envs_dirs:\n"
        "  - /home/ec2-user/anaconda3/envs\n"
        "  - ~/SageMaker/.conda/envs   # the same, spelled with ~\n"
        "  - '/home/ec2-user/SageMaker/.conda/envs/'\n"
        "  - /opt/shared/envs\n"
        "\n"
        "auto_activate_base: false\n"
        "pkgs_dirs: [/home/ec2-user/anaconda3/pkgs, /home/ec2-user/SageMaker/.conda/pkgs]\n"
        "ssl_verify: true\n"
    )
    first = run_module(sandbox, conda_persistent_envs())
    assert first.returncode == 0, first.output
    expected = (
        "# my settings\n"
        "channels:\n"
        "  - conda-forge\n"
        "  - defaults\n"
        "envs_dirs:\n"
        "  - /home/ec2-user/SageMaker/.conda/envs\n"
        "  - /home/ec2-user/anaconda3/envs\n"
        "  - /opt/shared/envs\n"
        "\n"
        "auto_activate_base: false\n"
        "pkgs_dirs:\n"
        "  - /home/ec2-user/SageMaker/.conda/pkgs\n"
        "  - /home/ec2-user/anaconda3/pkgs\n"
        "ssl_verify: true\n"
    )
    assert condarc.read_text() == expected
    second = run_module(sandbox, conda_persistent_envs())
    assert second.returncode == 0, second.output
    assert condarc.read_text() == expected
    assert second.lines[-1] == f"{REAL_HOME}/.condarc already up to date"


def test_condarc_without_pkgs_dir_and_with_a_scalar_entry(sandbox: Sandbox) -> None:
    condarc = sandbox.home / ".condarc"
    condarc.write_text("envs_dirs: /opt/envs\npkgs_dirs:\n  - /cache\n")
    result = run_module(sandbox, conda_persistent_envs(envs_dir="conda/envs", pkgs_dir=None))
    assert result.returncode == 0, result.output
    assert condarc.read_text() == f"envs_dirs:\n  - {REAL_PERSIST}/conda/envs\n  - /opt/envs\npkgs_dirs:\n  - /cache\n"
    assert "pkgs_dirs: left as it is" in result.lines
    assert not (sandbox.persist / ".conda").exists()


def test_condarc_that_is_a_link_stays_a_link(sandbox: Sandbox) -> None:
    kept = sandbox.persist / "condarc"
    kept.write_text("channels:\n  - defaults\n")
    (sandbox.home / ".condarc").symlink_to("SageMaker/condarc")
    assert run_module(sandbox, conda_persistent_envs(pkgs_dir=None)).returncode == 0
    assert os.readlink(sandbox.home / ".condarc") == "SageMaker/condarc"
    assert kept.read_text() == f"channels:\n  - defaults\nenvs_dirs:\n  - {REAL_PERSIST}/.conda/envs\n"


# -- conda_env_kernels -------------------------------------------------------------------------------


def test_kernels_are_registered_for_envs_with_ipykernel_and_a_broken_env_does_not_stop_the_rest(
    sandbox: Sandbox,
) -> None:
    envs = sandbox.persist / ".conda" / "envs"
    fake_python(sandbox, envs / "a-good" / "bin" / "python")
    fake_python(sandbox, envs / "b-broken" / "bin" / "python", install_rc=1)
    fake_python(sandbox, envs / "c.good_too" / "bin" / "python")
    fake_python(sandbox, envs / "d-no-ipykernel" / "bin" / "python", ipykernel=False)
    (envs / "e-no-python").mkdir()
    (envs / ".conda_envs_dir_test").write_text("")
    result = run_module(sandbox, conda_env_kernels(display_prefix="Team"))
    assert result.returncode == 1, result.output
    assert result.lines == [
        'a-good: kernel "Team (a-good)"',
        "b-broken: FAILED: Traceback: simulated failure | line two",
        'c.good_too: kernel "Team (c.good_too)"',
        "d-no-ipykernel: skipped: no ipykernel",
        "e-no-python: skipped: no bin/python",
        "kernels: 2 registered, 2 skipped, 1 failed",
    ]
    kernels = sandbox.home / ".local" / "share" / "jupyter" / "kernels"
    assert sorted(p.name for p in kernels.iterdir()) == ["a-good", "c.good_too"]
    spec = json.loads((kernels / "a-good" / "kernel.json").read_text())
    assert spec["display_name"] == "Team (a-good)"
    assert spec["argv"][0] == str(envs / "a-good" / "bin" / "python")
    installs = [call for call in tool_calls(sandbox) if call[1:3] == ["-m", "ipykernel"]]
    assert [call[1:] for call in installs if call[0].endswith("a-good/bin/python")] == [
        ["-m", "ipykernel", "install", "--user", "--name", "a-good", "--display-name", "Team (a-good)"]
    ]


def test_kernels_without_an_envs_dir(sandbox: Sandbox) -> None:
    result = run_module(sandbox, conda_env_kernels())
    assert result.returncode == 0
    assert result.lines == [f"no {REAL_PERSIST}/.conda/envs: no kernels"]
    (sandbox.persist / ".conda" / "envs").mkdir(parents=True)
    empty = run_module(sandbox, conda_env_kernels())
    assert (empty.returncode, empty.lines) == (0, ["kernels: 0 registered, 0 skipped, 0 failed"])
    fake_python(sandbox, sandbox.persist / ".conda" / "envs" / "no spaces please" / "bin" / "python")
    invalid = run_module(sandbox, conda_env_kernels())
    assert invalid.returncode == 0
    assert invalid.lines == [
        "no spaces please: skipped: not a kernel name",
        "kernels: 0 registered, 1 skipped, 0 failed",
    ]
    assert tool_calls(sandbox) == []


# -- stop_ssm_agent ----------------------------------------------------------------------------------


def systemd(sandbox: Sandbox, *, agent: bool = True) -> None:
    (sandbox.root / "run" / "systemd" / "system").mkdir(parents=True)
    if agent:
        unit = sandbox.root / "etc" / "systemd" / "system" / "amazon-ssm-agent.service"
        unit.parent.mkdir(parents=True)
        unit.write_text("[Service]\nExecStart=/usr/bin/amazon-ssm-agent\n")


def al2023(sandbox: Sandbox) -> None:
    """AL2023 as the module sees it: systemd with the agent's unit, dnf, no initctl (no upstart)."""
    systemd(sandbox)
    (sandbox.bin / "initctl").unlink()
    (sandbox.bin / "yum").unlink()  # yum is only an alias of dnf there; the module must ask for dnf


def test_ssm_agent_on_systemd_is_stopped_and_disabled(sandbox: Sandbox) -> None:
    systemd(sandbox)
    result = run_module(sandbox, stop_ssm_agent())
    assert result.returncode == 0, result.output
    assert result.lines == ["amazon-ssm-agent: stop done", "amazon-ssm-agent: disable done"]
    assert [c[1:] for c in sandbox.calls("systemctl")] == [
        ["stop", "amazon-ssm-agent"],
        ["disable", "amazon-ssm-agent"],
    ]
    assert sandbox.calls("yum") == sandbox.calls("dnf") == []


def test_ssm_agent_absent_on_systemd_is_logged(sandbox: Sandbox) -> None:
    systemd(sandbox, agent=False)
    result = run_module(sandbox, stop_ssm_agent())
    assert result.returncode == 0
    assert result.lines == ["no amazon-ssm-agent unit"]
    assert [c[1] for c in sandbox.calls("systemctl")] == ["show"]


def test_ssm_agent_on_al2023_is_stopped_disabled_and_uninstalled_with_dnf(sandbox: Sandbox) -> None:
    al2023(sandbox)
    sandbox.add_fake("rpm", "exit 0")  # installed
    result = run_module(sandbox, stop_ssm_agent(uninstall=True))
    assert result.returncode == 0, result.output
    assert result.lines == [
        "amazon-ssm-agent: stop done",
        "amazon-ssm-agent: disable done",
        "amazon-ssm-agent uninstalled",
    ]
    assert [c[0] for c in sandbox.calls()] == ["systemctl", "systemctl", "rpm", "dnf"]
    assert "initctl" not in (sandbox.base / "modules" / "stop-ssm-agent" / "run").read_text()


def test_an_upstart_layout_is_not_used_any_more(sandbox: Sandbox) -> None:
    (sandbox.root / "etc" / "init").mkdir(parents=True)
    (sandbox.root / "etc" / "init" / "amazon-ssm-agent.conf").write_text("exec /usr/bin/amazon-ssm-agent\n")
    result = run_module(sandbox, stop_ssm_agent())
    assert result.returncode == 0
    assert result.lines == ["no systemd: amazon-ssm-agent not stopped"]
    assert sandbox.calls("initctl") == [] and not (sandbox.root / "etc" / "init" / "amazon-ssm-agent.override").exists()


def test_ssm_agent_without_any_init_system_is_logged(sandbox: Sandbox) -> None:
    result = run_module(sandbox, stop_ssm_agent())
    assert result.returncode == 0
    assert result.lines == ["no systemd: amazon-ssm-agent not stopped"]
    assert sandbox.calls("systemctl") == sandbox.calls("initctl") == []


def test_ssm_agent_is_uninstalled_offline_with_dnf_only(sandbox: Sandbox) -> None:
    systemd(sandbox)
    sandbox.add_fake("rpm", "exit 0")  # installed
    result = run_module(sandbox, stop_ssm_agent(uninstall=True))
    assert result.returncode == 0, result.output
    assert result.lines[-1] == "amazon-ssm-agent uninstalled"
    assert [c[1:] for c in sandbox.calls("dnf")] == [["-y", "-q", "--disablerepo=*", "remove", "amazon-ssm-agent"]]
    if shutil.which("dnf") is None:  # AL2023 always has dnf; yum (Amazon Linux 2's) is not a fallback any more
        (sandbox.bin / "dnf").unlink()
        result = run_module(sandbox, stop_ssm_agent(uninstall=True))
        assert result.returncode == 1
        assert result.lines[-1] == "dnf could not remove amazon-ssm-agent"
        assert sandbox.calls("yum") == []


def test_ssm_agent_not_installed_is_not_uninstalled(sandbox: Sandbox) -> None:
    result = run_module(sandbox, stop_ssm_agent(uninstall=True))  # the fake rpm says: not installed
    assert result.returncode == 0
    assert result.lines[-1] == "amazon-ssm-agent not installed: nothing to uninstall"
    assert sandbox.calls("dnf") == sandbox.calls("yum") == []


def test_ssm_agent_failing_package_manager_fails_the_module(sandbox: Sandbox) -> None:
    sandbox.add_fake("rpm", "exit 0")
    sandbox.add_fake("dnf", "echo 'Error: simulated' >&2; exit 1")
    result = run_module(sandbox, stop_ssm_agent(uninstall=True))
    assert result.returncode == 1
    assert result.lines[-1] == "dnf could not remove amazon-ssm-agent"


# -- persist_dotfolders ------------------------------------------------------------------------------


def test_dotfolders_are_moved_once_linked_and_ssh_is_private(sandbox: Sandbox) -> None:
    ssh = sandbox.home / ".ssh"
    (ssh / "keys").mkdir(parents=True)
    (ssh / "id_ed25519").write_text("PRIVATE")
    (ssh / "id_ed25519.pub").write_text("ssh-ed25519 AAAA")
    (ssh / "config").write_text("Host git\n")
    (ssh / "keys" / "deploy").write_text("PRIVATE2")
    for path in (ssh / "id_ed25519", ssh / "config", ssh / "keys" / "deploy"):
        path.chmod(0o664)
    ssh.chmod(0o755)
    first = run_module(sandbox, persist_dotfolders())
    assert first.returncode == 0, first.output
    assert first.lines == [
        ".config: created and linked to SageMaker/.persisted-home/.config",
        ".ssh: moved and linked to SageMaker/.persisted-home/.ssh",
        ".ssh: private (700, 600, *.pub 644)",
    ]
    store = sandbox.persist / ".persisted-home"
    assert mode_of(store) == 0o700
    for name in (".config", ".ssh"):
        assert os.readlink(sandbox.home / name) == f"SageMaker/.persisted-home/{name}"
        assert (store / name).is_dir() and not (store / name).is_symlink()
    assert (ssh / "id_ed25519").read_text() == "PRIVATE"  # through the link
    kept = store / ".ssh"
    assert {p.name: mode_of(p) for p in [kept, *kept.rglob("*")]} == {
        ".ssh": 0o700,
        "keys": 0o700,
        "deploy": 0o600,
        "id_ed25519": 0o600,
        "config": 0o600,
        "id_ed25519.pub": 0o644,
    }
    before = sandbox.snapshot()
    second = run_module(sandbox, persist_dotfolders())
    assert second.returncode == 0
    assert second.lines[:2] == [
        ".config: already linked to SageMaker/.persisted-home/.config",
        ".ssh: already linked to SageMaker/.persisted-home/.ssh",
    ]
    assert sandbox.snapshot() == before


def test_dotfolders_merge_without_overwriting_when_both_exist(sandbox: Sandbox) -> None:
    kept = sandbox.persist / "state" / ".aws"
    kept.mkdir(parents=True)
    (kept / "config").write_text("kept\n")
    home_aws = sandbox.home / ".aws"
    home_aws.mkdir()
    (home_aws / "config").write_text("fresh from the image\n")
    (home_aws / "cli").mkdir()
    (home_aws / "cli" / "alias").write_text("new\n")
    result = run_module(sandbox, persist_dotfolders(folders=[".aws"], persisted_dir="state"))
    assert result.returncode == 0, result.output
    assert result.lines == [".aws: merged and linked to SageMaker/state/.aws"]
    assert os.readlink(home_aws) == "SageMaker/state/.aws"
    assert (kept / "config").read_text() == "kept\n"
    assert (kept / "cli" / "alias").read_text() == "new\n"


def test_dotfolders_replace_a_foreign_link_and_leave_a_file_alone(sandbox: Sandbox) -> None:
    (sandbox.home / ".config").symlink_to("/nowhere")
    (sandbox.home / ".ssh").write_text("not a directory")
    result = run_module(sandbox, persist_dotfolders())
    assert result.returncode == 1
    assert result.lines == [
        ".config: relinked to SageMaker/.persisted-home/.config",
        f".ssh: {sandbox.home}/.ssh is not a directory; left alone",
    ]
    assert os.readlink(sandbox.home / ".config") == "SageMaker/.persisted-home/.config"
    assert (sandbox.home / ".ssh").read_text() == "not a directory"


# -- persisted_bin_on_path ---------------------------------------------------------------------------

PROFILE_BIN = (
    "# SageMaker lifecycle: persisted-bin-on-path\n"
    + f"""if [ "$(id -un 2>/dev/null)" = ec2-user ]; then
  case ":$PATH:" in *":{REAL_PERSIST}/tools/bin:"*) ;; *) PATH="$PATH:{REAL_PERSIST}/tools/bin" ;; esac
fi
"""
)


def source_profile(tmp_path: Path, profile: Path, user: str, path: str, times: int = 2) -> str:
    """PATH that a program started by a login-like shell of ``user`` sees, after ``profile`` sourced ``times`` times."""
    fake_bin = write_program(tmp_path / "id-bin" / "id", f"#!/bin/sh\necho {user}\n").parent
    sourcing = "; ".join(['. "$1"'] * times)
    completed = subprocess.run(
        ["/bin/bash", "-c", f"{sourcing}; /usr/bin/printenv PATH", "profile", str(profile)],
        env={"PATH": f"{fake_bin}:{path}"},
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.removesuffix("\n").removeprefix(f"{fake_bin}:")


def test_persisted_bin_profile_file(sandbox: Sandbox, tmp_path: Path) -> None:
    first = run_module(sandbox, persisted_bin_on_path(bin_dir="tools/bin"))
    assert first.returncode == 0, first.output
    profile = sandbox.root / "etc" / "profile.d" / "persisted-bin.sh"
    assert profile.read_text() == PROFILE_BIN
    assert mode_of(profile) == 0o644
    assert (sandbox.persist / "tools" / "bin").is_dir()
    # the directory is made by the notebook user, not by root
    assert [c[1:] for c in sandbox.calls("sudo")] == [
        ["-n", "-u", "ec2-user", "--", "mkdir", "-p", f"{sandbox.persist}/tools/bin"]
    ]
    second = run_module(sandbox, persisted_bin_on_path(bin_dir="tools/bin"))
    assert second.lines[-1] == "/etc/profile.d/persisted-bin.sh already up to date"
    assert profile.read_text() == PROFILE_BIN
    # sourced: appended once for the notebook user, never for root, not again when present
    assert source_profile(tmp_path, profile, "ec2-user", "/usr/bin:/bin") == f"/usr/bin:/bin:{REAL_PERSIST}/tools/bin"
    assert source_profile(tmp_path, profile, "root", "/usr/bin:/bin") == "/usr/bin:/bin"
    present = f"{REAL_PERSIST}/tools/bin:/usr/bin:/bin"
    assert source_profile(tmp_path, profile, "ec2-user", present) == present


def test_persisted_bin_profile_file_is_rewritten_when_changed(sandbox: Sandbox) -> None:
    profile = sandbox.root / "etc" / "profile.d" / "persisted-bin.sh"
    profile.write_text("PATH=/evil:$PATH\n")
    profile.chmod(0o666)
    result = run_module(sandbox, persisted_bin_on_path(bin_dir="tools/bin"))
    assert result.returncode == 0
    assert profile.read_text() == PROFILE_BIN
    assert mode_of(profile) == 0o644


# -- environment_variables ---------------------------------------------------------------------------


def hostile_values(tmp_path: Path) -> dict[str, str]:
    return {
        "QUOTES": "it's \"double\" and 'single'",
        "DOLLAR": "$HOME ${PATH} $((1+1)) $",
        "SUBSTITUTION": f"$(touch {tmp_path}/pwned-subst)",
        "BACKTICKS": f"`touch {tmp_path}/pwned-backtick`",
        "SEMICOLON": f"x; touch {tmp_path}/pwned-semicolon",
        "NEWLINES": f"line one\nline two\ntouch {tmp_path}/pwned-newline\n",
        "BACKSLASHES": "a\\b\\n\\'c",
        "EMPTY": "",
        "SPACES": "  two  spaces  ",
        "GLOB": "* ? [a-z]",
        "UNICODE": "héllo ✓ — 日本",
        "HASH": "# not a comment",
    }


def exported_by(profile: Path, shell: str) -> dict[str, str]:
    completed = subprocess.run(
        [shell, "-c", '. "$1" && env -0', "profile", str(profile)],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
    )
    pairs = [item.decode() for item in completed.stdout.split(b"\0") if item]
    return dict(pair.split("=", 1) for pair in pairs)


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_environment_values_arrive_literally_and_nothing_runs(sandbox: Sandbox, tmp_path: Path, shell: str) -> None:
    values = hostile_values(tmp_path)
    module = environment_variables(variables=values, file_name="team.sh")
    result = run_module(sandbox, module)
    assert result.returncode == 0, result.output
    assert result.lines[0] == f"/etc/profile.d/team.sh written ({' '.join(sorted(values))})"
    profile = sandbox.root / "etc" / "profile.d" / "team.sh"
    assert mode_of(profile) == 0o644
    assert profile.read_bytes() == carried(module)["environment.sh"]
    exported = exported_by(profile, shell)
    for name, value in values.items():
        assert exported[name] == value, name
    assert not list(tmp_path.glob("pwned*"))
    again = run_module(sandbox, module)
    assert again.lines[0] == f"/etc/profile.d/team.sh already up to date ({' '.join(sorted(values))})"
    assert not list(tmp_path.glob("pwned*"))


def test_environment_file_is_replaced_when_values_change(sandbox: Sandbox) -> None:
    run_module(sandbox, environment_variables(variables={"STAGE": "dev"}))
    profile = sandbox.root / "etc" / "profile.d" / "notebook-environment.sh"
    run_module(sandbox, environment_variables(variables={"STAGE": "prod", "TEAM": "ds"}))
    assert exported_by(profile, "bash")["STAGE"] == "prod"
    assert profile.read_text().count("export ") == 2
    assert sorted(p.name for p in profile.parent.iterdir()) == ["notebook-environment.sh"]  # no temp files left


# idle_autostop: tests/lifecycle_scripts/test_autostop_cron.py


# -- conda_packages_background -----------------------------------------------------------------------


def test_conda_env_is_created_installed_and_its_kernel_registered_once(sandbox: Sandbox) -> None:
    fake_conda(sandbox)
    module = conda_packages_background(
        env_name="analytics", packages=["pandas>=2", "scikit-learn"], channel="conda-forge"
    )
    first = run_module(sandbox, module)
    assert first.returncode == 0, first.output
    prefix = sandbox.persist / ".conda" / "envs" / "analytics"
    log = f"{REAL_PERSIST}/.lifecycle/logs/conda-analytics.log"
    assert first.lines == [
        f"analytics: creating {REAL_PERSIST}/.conda/envs/analytics with python=3.11 and ipykernel (log {log})",
        "analytics: installing pandas>=2 scikit-learn",
        "analytics: packages installed",
        'analytics: kernel registered as "conda (analytics)"',
    ]
    conda_calls = [c[1:] for c in tool_calls(sandbox) if c[0] == "conda"]

    def options(command: str) -> list[str]:
        return [command, "--yes", "--quiet", "--prefix", str(prefix), "-c", "conda-forge", "python=3.11", "ipykernel"]

    assert conda_calls == [
        options("create"),
        [*options("install"), "pandas>=2", "scikit-learn"],
    ]
    kernel = json.loads((sandbox.home / ".local/share/jupyter/kernels/analytics/kernel.json").read_text())
    assert kernel["display_name"] == "conda (analytics)"
    conda_log = sandbox.persist / ".lifecycle" / "logs" / "conda-analytics.log"
    assert f"created {prefix}" in conda_log.read_text()
    second = run_module(sandbox, module)
    assert second.returncode == 0, second.output
    assert (
        second.lines[0]
        == f"analytics: {REAL_PERSIST}/.conda/envs/analytics already has pandas>=2 scikit-learn; nothing to install"
    )
    assert [c for c in tool_calls(sandbox) if c[0] == "conda"] == [["conda", *call] for call in conda_calls]
    # new packages: installed into the existing environment, which is not created again
    third = run_module(sandbox, conda_packages_background(env_name="analytics", packages=["polars"]))
    assert third.returncode == 0, third.output
    assert third.lines[:2] == [
        f"analytics: environment exists at {REAL_PERSIST}/.conda/envs/analytics",
        "analytics: installing polars",
    ]
    assert [c[1] for c in tool_calls(sandbox) if c[0] == "conda"] == ["create", "install", "install"]


def test_conda_missing_or_failing_fails_the_module(sandbox: Sandbox) -> None:
    module = conda_packages_background(env_name="ml", packages=["numpy"])
    missing = run_module(sandbox, module, path=f"{sandbox.bin}:/usr/bin:/bin")
    if shutil.which("conda", path="/usr/bin:/bin") is None:
        assert missing.returncode == 1
        assert missing.lines == [
            "conda not found (neither /home/ec2-user/anaconda3/bin/conda nor conda on PATH); ml not created"
        ]
    fake_conda(sandbox, rc=1)
    failing = run_module(sandbox, module)
    assert failing.returncode == 1
    assert failing.lines[-1] == f"ml: conda create FAILED; see {REAL_PERSIST}/.lifecycle/logs/conda-ml.log"
    assert "CondaHTTPError: simulated" in (sandbox.persist / ".lifecycle" / "logs" / "conda-ml.log").read_text()


# -- git_config --------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_config_sets_values_literally_and_once(sandbox: Sandbox) -> None:
    alias = "log --graph --format='%h %s' # not a comment; \"quoted\" \\ backslash $HOME `id`"
    module = git_config(
        user_name="Jane O'Doe", user_email="jane@example.com", extra={"core.editor": "vim", "alias.lg": alias}
    )
    first = run_module(sandbox, module)
    assert first.returncode == 0, first.output
    assert first.lines == ["user.name set", "user.email set", "alias.lg set", "core.editor set"]
    gitconfig = sandbox.home / ".gitconfig"

    def get(key: str) -> str:
        return subprocess.run(
            ["git", "config", "-f", str(gitconfig), "--get", key], capture_output=True, text=True, check=True
        ).stdout.removesuffix("\n")

    assert get("user.name") == "Jane O'Doe"
    assert get("user.email") == "jane@example.com"
    assert get("core.editor") == "vim"
    assert get("alias.lg") == alias
    content = gitconfig.read_bytes()
    second = run_module(sandbox, module)
    assert second.lines == [
        "user.name already set",
        "user.email already set",
        "alias.lg already set",
        "core.editor already set",
    ]
    assert gitconfig.read_bytes() == content


def test_git_missing_is_logged(sandbox: Sandbox) -> None:
    result = run_module(sandbox, git_config(user_name="Jane", user_email="jane@example.com"), path=str(sandbox.bin))
    assert result.returncode == 1
    assert result.lines == ["git not found; nothing configured"]


# -- the whole hook, twice ---------------------------------------------------------------------------


def all_modules() -> list[Module]:
    return [
        stop_ssm_agent(),
        persist_dotfolders(),
        conda_persistent_envs(),
        conda_env_kernels(),
        persisted_bin_on_path(),
        environment_variables(variables={"TEAM": "data science", "PIP_INDEX_URL": "https://pypi.example.com/simple"}),
        git_config(user_name="Jane Doe", user_email="jane@example.com", extra={"pull.rebase": "true"}),
        idle_autostop(),
        conda_packages_background(env_name="analytics", packages=["pandas>=2", "scikit-learn"]),
    ]


@pytest.fixture
def unlimited_hook_size(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """All nine modules do not fit in one 16384-character hook (about 19,700 characters; the auto-stop
    program and its installer alone are about 6,700): the size limit is lifted here, where what is tested
    is the modules' behaviour together, run twice."""
    monkeypatch.setattr(bundle_module, "CONTENT_LIMIT_CHARS", 10**6)
    yield


def prepare_instance(sandbox: Sandbox) -> None:
    systemd(sandbox)
    fake_python(sandbox, jupyter_system_python(sandbox), boto3=True)
    (sandbox.root / "usr" / "bin").mkdir(parents=True, exist_ok=True)
    (sandbox.root / "usr" / "bin" / "python3").symlink_to("/usr/bin/python3")  # root-owned, for idle-autostop
    fake_conda(sandbox)
    fake_python(sandbox, sandbox.persist / ".conda" / "envs" / "existing" / "bin" / "python")
    (sandbox.home / ".ssh").mkdir()
    (sandbox.home / ".ssh" / "id_rsa").write_text("PRIVATE")
    (sandbox.home / ".condarc").write_text("channels:\n  - conda-forge\n")
    (sandbox.root / "var" / "spool" / "cron" / NB_USER).write_text("0 3 * * * echo nightly\n")


def run_hook_and_wait(sandbox: Sandbox, bundle: LifecycleBundle) -> str:
    result = sandbox.run_hook(bundle.script, timeout=120)
    assert result.returncode == 0, result.stderr
    marker = sandbox.persist / ".lifecycle" / "markers" / "on-start.conda-packages-analytics.done"
    assert sandbox.wait_for(marker, timeout=30), result.stdout
    assert marker.read_text().startswith("exit=0 "), marker.read_text()
    return result.stdout


def test_the_whole_hook_twice_leaves_the_same_state(sandbox: Sandbox, unlimited_hook_size: None) -> None:
    prepare_instance(sandbox)
    bundle = LifecycleBundle(hook="on-start", modules=all_modules())
    first = run_hook_and_wait(sandbox, bundle)
    for module in all_modules()[:-1]:
        assert f"[on-start] [{module.name}] end: ok, exit 0," in first, first
    assert "hook end: 9 modules, 0 failed, 1 in background" in first
    state = sandbox.snapshot(exclude=LOG_EXCLUDES)
    # the first run did the work
    assert state["home/ec2-user/.ssh"] == ("link", 0, "SageMaker/.persisted-home/.ssh")
    assert state["home/ec2-user/SageMaker/.persisted-home/.ssh/id_rsa"][:2] == ("file", 0o600)
    assert state["home/ec2-user/.condarc"][2] == (
        "channels:\n  - conda-forge\n"
        f"envs_dirs:\n  - {REAL_PERSIST}/.conda/envs\npkgs_dirs:\n  - {REAL_PERSIST}/.conda/pkgs\n"
    )
    kernels = "home/ec2-user/.local/share/jupyter/kernels"
    assert {key.split("/")[-1] for key in state if key.startswith(kernels + "/")} >= {"existing", "analytics"}
    assert state[f"var/spool/cron/{NB_USER}"][2] == "0 3 * * * echo nightly\n"  # idle-autostop is in cron.d
    assert state["etc/cron.d/sagemaker-lifecycle-autostop"][:2] == ("file", 0o644)
    assert state["etc/profile.d/notebook-environment.sh"][:2] == ("file", 0o644)
    assert state["etc/profile.d/persisted-bin.sh"][:2] == ("file", 0o644)
    assert (
        "pull.rebase" not in state["home/ec2-user/.gitconfig"][2]
        and "rebase = true" in state["home/ec2-user/.gitconfig"][2]
    )
    assert state["usr/local/lib/sagemaker-lifecycle/autostop.py"][:2] == ("file", 0o644)
    assert state["home/ec2-user/SageMaker/.conda/envs/analytics/conda-meta"][0] == "dir"

    second = run_hook_and_wait(sandbox, bundle)
    assert "hook end: 9 modules, 0 failed, 1 in background" in second
    assert sandbox.snapshot(exclude=LOG_EXCLUDES) == state
    assert "already up to date" in second and "already linked" in second
