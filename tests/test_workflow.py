"""The pull-request review workflows: checked by GitHub's workflow schema and zizmor, and run here.

The jobs of `.github/workflows/lifecycle-review.yml` run step by step with real bash in directories laid out
like a runner's (tests/support/actions_runner.py): two checkouts of this repository at HEAD (the head one
with a changed lifecycle module in cdk.json) synthesized by the real CDK CLI, then the base branch's review
tool and `cdk diff --template` on the two cloud assemblies. The comment workflow's checking step runs on
the real report and on hostile artifacts; its last step needs GitHub's API and is checked statically.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.actions_runner import Runner, StepResult, load_workflow, run_scripts

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
REVIEW = WORKFLOWS / "lifecycle-review.yml"
COMMENT = WORKFLOWS / "lifecycle-review-comment.yml"
BIN = Path(sys.executable).parent
PR_NUMBER = "42"
RUN_URL = "https://github.com/example/repo/actions/runs/7"
MARKER = "<!-- lifecycle-review -->"
FOOTER = f"\n---\n_The full report and the CloudFormation diff: artifact lifecycle-review of {RUN_URL}._\n"


def tool(name: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / name), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


# --- the checks in the gate ---------------------------------------------------------------------------


def test_every_workflow_matches_githubs_workflow_schema() -> None:
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert {f.name for f in files} >= {REVIEW.name, COMMENT.name}
    result = tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_malformed_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    permissions:\n      contents: writ\n"
        "    steps:\n      - run: echo\n"
    )
    result = tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(bad))
    assert result.returncode == 1, result.stdout + result.stderr


def zizmor(*args: str) -> subprocess.CompletedProcess[str]:
    return tool("zizmor", "--offline", "--no-progress", *args)


def test_zizmor_finds_nothing_of_medium_severity_or_above() -> None:
    result = zizmor("--min-severity", "medium", str(WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_the_only_zizmor_ignore_is_the_workflow_run_trigger_of_the_comment_workflow() -> None:
    result = zizmor("--no-ignores", "--min-severity", "medium", "--format", "json", str(WORKFLOWS))
    findings = json.loads(result.stdout)
    where = [(f["ident"], Path(f["locations"][0]["symbolic"]["key"]["Local"]["verbatim_path"]).name) for f in findings]
    assert where == [("dangerous-triggers", COMMENT.name)], where
    trigger = findings[0]["locations"][0]["concrete"]
    assert trigger["feature"].startswith("on:\n  workflow_run:"), trigger["feature"]
    assert [c for c in trigger["comments"] if c.startswith("# zizmor: ignore[dangerous-triggers] ")], trigger


PULL_REQUEST_TARGET = """\
name: unsafe
on: pull_request_target
permissions: {}
jobs:
  build:
    name: build
    runs-on: ubuntu-24.04
    permissions:
      contents: read # checkout
      pull-requests: write # comment
    steps:
      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0
        with:
          ref: ${{ github.event.pull_request.head.sha }}
          persist-credentials: false
      - run: make test
"""


@pytest.mark.parametrize(
    ("workflow", "audit"),
    [
        (PULL_REQUEST_TARGET, "dangerous-triggers"),
        (  # the former lifecycle-review.yml: tags, a persisted token, run: with an expression
            PULL_REQUEST_TARGET.replace("pull_request_target", "pull_request")
            .replace("08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0", "v4")
            .replace("          persist-credentials: false\n", "")
            .replace("make test", 'gh pr comment "${{ github.event.pull_request.title }}"'),
            "unpinned-uses",
        ),
    ],
    ids=["pull_request_target-checks-out-head", "former-workflow"],
)
def test_zizmor_flags_an_unsafe_workflow(tmp_path: Path, workflow: str, audit: str) -> None:
    path = tmp_path / ".github" / "workflows" / "unsafe.yml"
    path.parent.mkdir(parents=True)
    path.write_text(workflow)
    result = zizmor("--min-severity", "medium", str(path))
    assert result.returncode != 0, result.stdout
    assert f"[{audit}]" in result.stdout, result.stdout


def test_every_run_step_passes_shellcheck(tmp_path: Path) -> None:
    for workflow in (REVIEW, COMMENT):
        for job, name, script in run_scripts(load_workflow(workflow)):
            path = tmp_path / "step.sh"
            path.write_text("#!/bin/bash\nset -eo pipefail\n" + script)
            result = tool("shellcheck", "--shell=bash", str(path))
            assert result.returncode == 0, f"{workflow.name} {job} {name!r}:\n{result.stdout}"


def test_tokens_are_read_only_except_in_the_comment_job_which_runs_no_repository_code() -> None:
    review, comment = load_workflow(REVIEW), load_workflow(COMMENT)
    assert review["on"] == {"pull_request": None} and review["permissions"] == {}
    for job in review["jobs"].values():
        assert job["permissions"] == {"contents": "read"}
    # The review job checks out only the base: the head is data (a downloaded cloud assembly).
    review_uses = [s for s in review["jobs"]["review"]["steps"] if "actions/checkout@" in s.get("uses", "")]
    assert [s["with"]["ref"] for s in review_uses] == ["${{ github.event.pull_request.base.sha }}"]
    assert comment["permissions"] == {}
    (job,) = comment["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert not [s for s in job["steps"] if "checkout" in s.get("uses", "")]
    code = [
        line
        for _, _, script in run_scripts(comment)
        for line in script.splitlines()
        if not line.lstrip().startswith("#")
    ]
    runs_code = re.compile(r"\b(make|python3?|pip|npm|npx|node|cdk|source|bash|sh|eval|exec)\b")
    assert code and not [line for line in code if runs_code.search(line)]


# --- the review workflow, run here --------------------------------------------------------------------


def clone_at(ref: str, dest: Path) -> None:
    """A checkout of this repository at ``ref`` that uses the shared venv and node_modules (no network here)."""
    subprocess.run(["git", "clone", "--quiet", "--shared", "--no-checkout", str(REPO), str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "--quiet", ref], check=True)
    (dest / ".venv").symlink_to(REPO / ".venv")
    (dest / "node_modules").symlink_to(REPO / "node_modules")
    # Make's stamps in the shared directories are newer than the fresh checkout's pins: installs are no-ops.
    for name in ("requirements.txt", "pyproject.toml", "package.json", "package-lock.json"):
        os.utime(dest / name, (0, 0))


def change_lifecycle_modules(checkout: Path) -> None:
    """The pull request: a longer idle time for idle-autostop, persisted-bin-on-path removed."""
    cdk_json = checkout / "cdk.json"
    config = json.loads(cdk_json.read_text())
    notebook = config["context"]["notebookEnvironment"]["notebooks"][0]
    modules = [m for m in notebook["onStart"] if m["module"] != "persisted-bin-on-path"]
    assert len(modules) == len(notebook["onStart"]) - 1
    for module in modules:
        if module["module"] == "idle-autostop":
            module["idle"] = "45m"
    notebook["onStart"] = modules
    cdk_json.write_text(json.dumps(config, indent=2) + "\n")


@dataclass
class Run:
    """One pull-request run of lifecycle-review.yml: its artifact store, job results and base commit."""

    root: Path
    artifacts: Path
    base_sha: str
    synth: dict[str, list[StepResult]]
    review: list[StepResult]


def review_expressions(base_sha: str) -> dict[str, str]:
    return {"github.event.pull_request.base.sha": base_sha, "github.event.pull_request.number": PR_NUMBER}


def checkout_for(base_sha: str) -> Any:
    def checkout(ref: str, dest: Path) -> None:
        # The base is checked out by SHA; an empty ref is GitHub's merge of the pull request.
        clone_at(ref or base_sha, dest)
        if not ref:
            change_lifecycle_modules(dest)

    return checkout


@pytest.fixture(scope="module")
def pr_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("lifecycle-review")
    artifacts = root / "artifacts"
    base_sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    workflow = load_workflow(REVIEW)
    assert workflow["jobs"]["synth"]["strategy"]["matrix"]["side"] == ["base", "head"]
    synth = {}
    for side in ("base", "head"):
        expressions = {
            **review_expressions(base_sha),
            "matrix.side": side,
            "matrix.side == 'base' && github.event.pull_request.base.sha || ''": base_sha if side == "base" else "",
        }
        runner = Runner(root / f"synth-{side}", artifacts, expressions, checkout_for(base_sha))
        synth[side] = runner.run_job(workflow, "synth")
    review = []
    if all(r.returncode == 0 for results in synth.values() for r in results):
        runner = Runner(root / "review", artifacts, review_expressions(base_sha), checkout_for(base_sha))
        review = runner.run_job(workflow, "review")
    return Run(root, artifacts, base_sha, synth, review)


def failures(results: list[StepResult]) -> str:
    return "\n".join(f"--- {r.name} (exit {r.returncode})\n{r.output[-4000:]}" for r in results if r.returncode)


def step(results: list[StepResult], name: str) -> StepResult:
    (found,) = [r for r in results if r.name == name]
    return found


def test_both_sides_synthesize_offline_without_credentials(pr_run: Run) -> None:
    for side, results in pr_run.synth.items():
        assert results and not failures(results), failures(results)
        assert (pr_run.artifacts / f"cdk-out-{side}" / "manifest.json").is_file(), side
    assert "Successfully synthesized" in step(pr_run.synth["head"], "Synthesize").output


def test_the_review_names_the_changed_modules_and_is_uploaded(pr_run: Run) -> None:
    assert pr_run.review and not failures(pr_run.review), failures(pr_run.review)
    artifact = pr_run.artifacts / "lifecycle-review"
    assert (artifact / "pr-number").read_text() == f"{PR_NUMBER}\n"
    assert (artifact / "changed").read_text() == "true\n"
    report = (artifact / "review.md").read_text()
    assert report.startswith("## Lifecycle configuration changes\n")
    assert "| SageMakerNotebooks |" in report and "OnStart | changed |" in report
    assert "| `idle-autostop` | changed: settings |" in report
    assert "| `persisted-bin-on-path` | removed |" in report
    log = step(pr_run.review, "Lifecycle script changes").output
    assert "lifecycle configs changed: true" in log
    assert "module idle-autostop (changed)" in log  # the text report in the job log
    assert "::stop-commands::" in log  # the head's scripts are echoed with workflow commands off


def test_the_cloudformation_diff_compares_each_stack_offline(pr_run: Run) -> None:
    diff = (pr_run.artifacts / "lifecycle-review" / "cloudformation-diff.txt").read_text()
    for stack in ("SageMakerNotebooks", "SageMakerStudio", "SageMakerStudioUsers00"):
        assert f"Stack {stack}\n" in diff, diff[:2000]
    notebooks = diff.split("Stack SageMakerNotebooks\n", 1)[1].split("Stack ", 1)[0]
    assert "[~] AWS::SageMaker::NotebookInstanceLifecycleConfig" in notebooks, notebooks[:3000]


def review_runner(root: Path, base_sha: str, artifacts: Path) -> Runner:
    return Runner(root, artifacts, review_expressions(base_sha), checkout_for(base_sha))


def test_no_change_is_told_apart_from_a_change(pr_run: Run, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    shutil.copytree(pr_run.artifacts / "cdk-out-base", artifacts / "cdk-out-base")
    shutil.copytree(pr_run.artifacts / "cdk-out-base", artifacts / "cdk-out-head")
    results = review_runner(tmp_path / "runner", pr_run.base_sha, artifacts).run_job(
        load_workflow(REVIEW), "review", until="CloudFormation diff"
    )
    assert not failures(results), failures(results)
    assert (tmp_path / "runner" / "workspace" / "review" / "changed").read_text() == "false\n"
    assert "lifecycle configs changed: false" in results[-1].output


def corrupt_head(artifacts: Path) -> None:
    template = artifacts / "cdk-out-head" / "SageMakerNotebooks.template.json"
    template.write_text(template.read_text()[:1000])


@pytest.mark.parametrize(
    ("break_it", "status", "message"),
    [
        (corrupt_head, 2, "the review tool rejected its input (exit status 2)"),
        # A base without the tool: Python exits 1, which must not read as "changed" (the former `|| test $? -eq 1`).
        (None, 1, "the review tool did not run (exit status 1)"),
    ],
    ids=["bad-input", "not-importable"],
)
def test_a_failing_review_fails_the_job_and_uploads_nothing(
    pr_run: Run, tmp_path: Path, break_it: Any, status: int, message: str
) -> None:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    for side in ("base", "head"):
        shutil.copytree(pr_run.artifacts / f"cdk-out-{side}", artifacts / f"cdk-out-{side}")
    runner = review_runner(tmp_path / "runner", pr_run.base_sha, artifacts)
    if break_it is not None:
        break_it(artifacts)
    else:
        original = runner.checkout
        assert original is not None

        def checkout_without_tool(ref: str, dest: Path) -> None:
            original(ref, dest)
            shutil.rmtree(dest / "constructs_lib" / "review")

        runner.checkout = checkout_without_tool
    results = runner.run_job(load_workflow(REVIEW), "review")
    assert results[-1].name == "Lifecycle script changes"
    assert results[-1].returncode == status, results[-1].output
    errors = [line for line in results[-1].output.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and message in errors[0], results[-1].output
    assert not (runner.workspace / "review" / "changed").exists()
    assert not (artifacts / "lifecycle-review").exists()


# --- the comment workflow's checks on its (untrusted) artifact ---------------------------------------------

CHECK_STEP = "Check the report and build the comment"


def run_comment_check(tmp_path: Path, files: dict[str, bytes | Path]) -> tuple[StepResult, Path]:
    artifacts = tmp_path / "artifacts"
    review = artifacts / "lifecycle-review"
    review.mkdir(parents=True)
    for name, content in files.items():
        if isinstance(content, Path):
            (review / name).symlink_to(content)
        else:
            (review / name).write_bytes(content)
    expressions = {
        "github.event.workflow_run.id": "7",
        "github.token": "",
        "github.event.workflow_run.html_url": RUN_URL,
    }
    runner = Runner(tmp_path / "runner", artifacts, expressions, timeout=30)
    results = runner.run_job(load_workflow(COMMENT), "comment", until="Post or update the comment")
    return results[-1], runner.workspace


def comment_body(workspace: Path) -> str:
    body = json.loads((workspace / "comment.json").read_text())["body"]
    assert isinstance(body, str) and body.startswith(MARKER + "\n")
    return body[len(MARKER) + 1 :]


def test_the_comment_carries_the_report_of_the_review_job(pr_run: Run, tmp_path: Path) -> None:
    review = pr_run.artifacts / "lifecycle-review"
    files = {name: (review / name).read_bytes() for name in ("pr-number", "changed", "review.md")}
    result, workspace = run_comment_check(tmp_path, files)
    assert result.name == CHECK_STEP and result.returncode == 0, result.output
    assert result.outputs == {"pr": PR_NUMBER, "changed": "true"}
    assert comment_body(workspace) == files["review.md"].decode() + FOOTER


HOSTILE_REPORT = b'## x\n`${{ github.token }}` $(touch pwned) `touch pwned` "; touch pwned; \\\n\x00\n'


def test_the_report_reaches_the_comment_verbatim_and_runs_nothing(tmp_path: Path) -> None:
    result, workspace = run_comment_check(
        tmp_path, {"pr-number": b"7\n", "changed": b"false\n", "review.md": HOSTILE_REPORT + b"\xff\xfe end\n"}
    )
    assert result.returncode == 0, result.output
    assert result.outputs == {"pr": "7", "changed": "false"}
    body = comment_body(workspace)
    assert body.startswith(HOSTILE_REPORT.decode()) and body.endswith(" end\n" + FOOTER)
    assert not list(tmp_path.rglob("pwned"))


def test_a_report_over_the_comment_limit_is_cut_to_its_summary(tmp_path: Path) -> None:
    summary = "## Lifecycle configuration changes\n\n| a | b |\n|---|---|\n"
    section = "### Stack / `Config` / OnStart: changed\n\n" + "```diff\n" + "+echo x\n" * 2000 + "```\n"
    report = (summary + section * 400).encode()  # about 6.5 MB
    started = time.monotonic()
    result, workspace = run_comment_check(tmp_path, {"pr-number": b"3\n", "changed": b"true\n", "review.md": report})
    assert time.monotonic() - started < 20
    assert result.returncode == 0, result.output
    body = comment_body(workspace)
    assert body.startswith(summary) and "### " not in body
    assert body.endswith(f"_The full report ({len(report)} bytes) is longer than a comment may be._\n" + FOOTER)
    assert len(MARKER) + 1 + len(body) < 65536


def test_one_huge_line_is_capped_too(tmp_path: Path) -> None:
    result, workspace = run_comment_check(
        tmp_path, {"pr-number": b"3\n", "changed": b"true\n", "review.md": b"x" * 3_000_000}
    )
    assert result.returncode == 0, result.output
    assert len(comment_body(workspace)) < 65536 - len(MARKER) - 1


GOOD = {"pr-number": b"5\n", "changed": b"true\n", "review.md": b"## report\n"}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({**GOOD, "pr-number": b"5$(touch pwned)\n"}, "pr-number is not a pull-request number"),
        ({**GOOD, "pr-number": b"5\n6\n"}, "pr-number is not a pull-request number"),
        ({**GOOD, "pr-number": b"0\n"}, "pr-number is not a pull-request number"),
        ({**GOOD, "pr-number": b"-5"}, "pr-number is not a pull-request number"),
        ({**GOOD, "pr-number": b"1" * 100_000}, "pr-number is not a pull-request number"),
        ({**GOOD, "pr-number": b""}, "pr-number is not a pull-request number"),
        ({**GOOD, "pr-number": b"5\x00"}, "pr-number is not a pull-request number"),
        ({**GOOD, "pr-number": b"5\x006\n"}, "pr-number is not a pull-request number"),
        ({**GOOD, "changed": b"yes\n"}, "changed is neither true nor false"),
        ({**GOOD, "changed": b"true\n\n"}, "changed is neither true nor false"),
        ({**GOOD, "review.md": Path("/etc/passwd")}, "has no regular file review.md"),
        ({"pr-number": b"5", "changed": b"true"}, "has no regular file review.md"),
        ({"changed": b"true", "review.md": b""}, "has no regular file pr-number"),
    ],
    ids=[
        "pr-command",
        "pr-two-lines",
        "pr-zero",
        "pr-negative",
        "pr-huge",
        "pr-empty",
        "pr-nul",
        "pr-nul-inside",
        "changed-garbage",
        "changed-two-lines",
        "report-symlink",
        "report-missing",
        "pr-missing",
    ],
)
def test_a_hostile_artifact_is_refused_with_one_line(
    tmp_path: Path, files: dict[str, bytes | Path], message: str
) -> None:
    started = time.monotonic()
    result, workspace = run_comment_check(tmp_path, files)
    assert time.monotonic() - started < 10
    assert result.returncode == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert not (workspace / "comment.json").exists()
    assert not list(tmp_path.rglob("pwned"))
