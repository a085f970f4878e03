"""Runs the jobs of a GitHub Actions workflow here, step by step, the way a hosted runner does.

Each `run:` step is executed by real bash with GitHub's `shell: bash` command line
(``bash --noprofile --norc -eo pipefail FILE``), in a workspace directory, with ``GITHUB_WORKSPACE``,
``RUNNER_TEMP`` and a fresh ``GITHUB_OUTPUT`` file; a failing step ends the job, as on GitHub.
The few actions the workflows use are played by their documented effect: ``actions/checkout`` by a
callback that makes the checkout, ``actions/setup-python`` by a Python first on ``PATH``,
``actions/upload-artifact`` and ``actions/download-artifact`` by copying a directory to and from an
artifact store shared by the jobs of one "run". Any other action, an action not pinned by a full commit
SHA, or a `${{ ... }}` expression the caller did not give a value for is an error: a new one must be
looked at before the test can pass.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.DOTALL)
PINNED = re.compile(r"([\w.-]+/[\w.-]+)@([0-9a-f]{40})")
GITHUB_BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]

Checkout = Callable[[str, Path], None]


class WorkflowError(AssertionError):
    """The workflow uses something this runner (and so the test) has not been taught."""


def load_workflow(path: Path) -> dict[str, Any]:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(workflow, dict), path
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def run_scripts(workflow: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(job, step name, script) of every `run:` step."""
    return [
        (job_id, str(step.get("name", "")), str(step["run"]))
        for job_id, job in workflow["jobs"].items()
        for step in job.get("steps", [])
        if "run" in step
    ]


@dataclass
class StepResult:
    name: str
    returncode: int
    output: str
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Runner:
    """One job's machine: a workspace and a temp directory under ``root``."""

    root: Path
    artifacts: Path
    expressions: Mapping[str, str]
    checkout: Checkout | None = None
    timeout: float = 600

    def __post_init__(self) -> None:
        self.workspace = self.root / "workspace"
        self.temp = self.root / "temp"
        self.home = self.root / "home"
        self.toolcache = self.root / "toolcache"
        for directory in (self.workspace, self.temp, self.home, self.toolcache, self.artifacts):
            directory.mkdir(parents=True, exist_ok=True)

    def resolve(self, raw: object) -> str:
        # An action input or env value is a string; YAML's true/false arrive as "true"/"false".
        text = str(raw).lower() if isinstance(raw, bool) else str(raw)
        values = {"runner.temp": str(self.temp), **self.expressions}

        def value(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression not in values:
                raise WorkflowError(f"no value for the expression {expression!r}")
            return values[expression]

        return EXPRESSION.sub(value, text)

    def environment(self, step_env: Mapping[str, str]) -> dict[str, str]:
        # What setup-python gives: an interpreter without the project's packages, first on PATH.
        for name in ("python3", "python"):
            link = self.toolcache / name
            if not link.exists():
                link.symlink_to(getattr(sys, "_base_executable", sys.executable))
        env = {
            "PATH": os.pathsep.join([str(self.toolcache), "/usr/bin", "/bin"]),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "RUNNER_TEMP": str(self.temp),
        }
        env.update({key: self.resolve(val) for key, val in step_env.items()})
        return env

    def run_step(self, step: Mapping[str, Any], defaults: Mapping[str, Any]) -> StepResult:
        name = str(step.get("name") or step.get("uses") or "run")
        if "uses" in step:
            self.use(str(step["uses"]), {k: self.resolve(v) for k, v in step.get("with", {}).items()})
            return StepResult(name, 0, "")
        script = str(step["run"])
        if "${{" in script:
            raise WorkflowError(f"step {name!r}: an expression inside run: (template injection)")
        shell = step.get("shell", defaults.get("run", {}).get("shell"))
        if shell != "bash":
            raise WorkflowError(f"step {name!r}: shell {shell!r}; this runner plays `shell: bash` only")
        script_file = self.temp / "step.sh"
        script_file.write_text(script, encoding="utf-8")
        output_file = self.temp / "github_output"
        output_file.write_text("")
        env = self.environment(step.get("env", {}))
        env["GITHUB_OUTPUT"] = str(output_file)
        result = subprocess.run(
            [*GITHUB_BASH, str(script_file)],
            cwd=self.workspace / step.get("working-directory", "."),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=self.timeout,
        )
        outputs = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line)
        return StepResult(name, result.returncode, result.stdout, outputs)

    def use(self, uses: str, with_: Mapping[str, str]) -> None:
        pinned = PINNED.fullmatch(uses)
        if pinned is None:
            raise WorkflowError(f"{uses!r} is not pinned by a full commit SHA")
        action = pinned.group(1)
        if action == "actions/checkout":
            if with_.get("persist-credentials") != "false":
                raise WorkflowError("a checkout without persist-credentials: false")
            assert self.checkout is not None, "this job checks out code, give the runner a checkout"
            self.checkout(with_.get("ref", ""), self.workspace / with_.get("path", "."))
        elif action == "actions/setup-python":
            pass  # environment() puts a bare interpreter first on PATH
        elif action == "actions/upload-artifact":
            source, target = self.workspace / with_["path"], self.artifacts / with_["name"]
            if target.exists():
                raise WorkflowError(f"artifact {with_['name']!r} uploaded twice in one run")
            if with_.get("if-no-files-found") == "error" and not (source.is_dir() and any(source.iterdir())):
                raise WorkflowError(f"artifact {with_['name']!r}: nothing at {source}")
            shutil.copytree(source, target, symlinks=True)
        elif action == "actions/download-artifact":
            source = self.artifacts / with_["name"]
            if not source.is_dir():
                raise WorkflowError(f"artifact {with_['name']!r} does not exist")
            shutil.copytree(source, self.workspace / with_["path"], symlinks=True)
        else:
            raise WorkflowError(f"this runner does not know the action {action}")

    def run_job(self, workflow: Mapping[str, Any], job_id: str, *, until: str | None = None) -> list[StepResult]:
        """The job's steps in order until one fails, or until (not including) the step named ``until``."""
        job = workflow["jobs"][job_id]
        defaults = {**workflow.get("defaults", {}), **job.get("defaults", {})}
        results: list[StepResult] = []
        for step in job["steps"]:
            if until is not None and step.get("name") == until:
                break
            results.append(self.run_step(step, defaults))
            if results[-1].returncode != 0:
                break
        else:
            assert until is None, f"job {job_id} has no step {until!r}"
        return results
