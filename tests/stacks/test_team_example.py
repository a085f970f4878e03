"""team-example/ through the real CDK CLI (one synth for the module): it synthesizes, passes cfn-lint and
cdk-nag, and its team scripts arrive in the hooks as their headers and the configuration say."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from constructs_lib.bundling.inspect import files_of, script_of
from tests.conftest import REPO, cdk_synth, hook_files, templates_of

EXAMPLE = REPO / "team-example"
LC = "AWS::SageMaker::NotebookInstanceLifecycleConfig"
TEAM_SCRIPTS = ["10-company-ca", "20-proxy", "30-pip-index", "40-git-credentials"]


@pytest.fixture(scope="module")
def team_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("team-example.out")
    result = cdk_synth(REPO, out, "-c", "configFile=team-example/config.json")
    assert result.returncode == 0, result.stderr
    return out


def _notebook_configs(assembly: Path) -> dict[str, dict[str, object]]:
    template = templates_of(assembly)["SageMakerNotebooks.template.json"]
    return {k: r for k, r in template["Resources"].items() if r["Type"] == LC}  # type: ignore[union-attr,misc]


def test_three_notebooks_one_of_them_on_a_gpu(team_assembly: Path) -> None:
    template = templates_of(team_assembly)["SageMakerNotebooks.template.json"]
    instances = [r["Properties"] for r in template["Resources"].values() if r["Type"].endswith("NotebookInstance")]  # type: ignore[union-attr,index]
    assert sorted(p["InstanceType"] for p in instances) == ["ml.g5.xlarge", "ml.t3.large", "ml.t3.medium"]
    assert {p["PlatformIdentifier"] for p in instances} == {"notebook-al2023-v1"}


def test_the_team_folder_runs_first_in_name_order_with_the_header_users(team_assembly: Path) -> None:
    for resource in _notebook_configs(team_assembly).values():
        bundle = resource["Metadata"]["LifecycleBundle"]["OnStart"]  # type: ignore[index]
        modules = bundle["modules"]
        assert [m["name"] for m in modules[:4]] == TEAM_SCRIPTS
        assert [m["user"] for m in modules[:4]] == ["root", "root", "notebook-user", "notebook-user"]
        assert all(m["commentsStripped"] for m in modules[:4])
        assert modules[0]["files"][0]["path"] == "company-ca.pem"
        assert modules[2]["settings"]["PIP_INDEX_URL"] == "https://pypi.example.com/simple"
        content = resource["Properties"]["OnStart"][0]["Content"]  # type: ignore[index]
        script, length = script_of(content)
        assert length <= 16384
        files = hook_files(team_assembly, script, bundle)  # inline, split or loader: as archiveLocation auto chose
        pem = (EXAMPLE / "scripts/on-start.d/company-ca.pem").read_bytes()
        assert files["modules/01-10-company-ca/files/company-ca.pem"] == pem


def test_studio_takes_the_script_entry_as_the_studio_user(team_assembly: Path) -> None:
    template = templates_of(team_assembly)["SageMakerStudio.template.json"]
    (config,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::StudioLifecycleConfig"]  # type: ignore[union-attr,index]
    files = files_of(base64.b64decode(config["Properties"]["StudioLifecycleConfigContent"]))  # type: ignore[index]
    assert "modules/01-pip-index/files/company-ca.pem" in files
    assert b"sagemaker-user" in files["bundle.env"]


def test_cfn_lint_finds_no_error(team_assembly: Path) -> None:
    templates = sorted(str(p) for p in team_assembly.rglob("*.template.json"))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", *templates],
        capture_output=True,
        text=True,
    )
    assert result.returncode in (0, 4, 8, 12) and ":E" not in result.stdout, result.stdout + result.stderr


def test_cdk_nag_reports_no_unsuppressed_finding(team_assembly: Path) -> None:
    report = json.loads((team_assembly / "validation-report.json").read_text())
    (plugin,) = report["pluginReports"]
    assert plugin["conclusion"] == "success" and plugin["violations"] == []


def test_team_scripts_pass_shellcheck_and_are_executable() -> None:
    scripts = sorted((EXAMPLE / "scripts").rglob("*.sh"))
    assert len(scripts) == 5
    assert all(p.stat().st_mode & 0o111 for p in scripts)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "shellcheck"), *map(str, scripts)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_the_team_example_rehearses_to_pass(team_assembly: Path) -> None:
    """Every hook of the team's configuration (team scripts, S3-asset hooks, Studio) runs twice in the sandbox."""
    result = subprocess.run(
        [sys.executable, "-m", "constructs_lib.rehearse", str(team_assembly), "--json", "-"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["ok"] and len(report["hooks"]) >= 5
    labels = " ".join(json.dumps(hook)[:300] for hook in report["hooks"])
    assert "Analytics" in labels and "Training" in labels and "TeamLab" in labels
