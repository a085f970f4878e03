"""The default app through the real CDK CLI: synthesizes offline, passes cfn-lint and cdk-nag, and is reproducible."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from constructs_lib.bundling.inspect import script_of
from tests.conftest import REPO, cdk_env, cdk_synth, copy_app, hook_files, templates_of

LC = "AWS::SageMaker::NotebookInstanceLifecycleConfig"


def test_synth_writes_the_notebook_stack(default_assembly: Path) -> None:
    templates = templates_of(default_assembly)
    assert "SageMakerNotebooks.template.json" in templates
    resources = templates["SageMakerNotebooks.template.json"]["Resources"]
    types = sorted({r["Type"] for r in resources.values()})  # type: ignore[union-attr]
    assert {LC, "AWS::SageMaker::NotebookInstance", "AWS::EC2::VPC", "AWS::KMS::Key"} <= set(types)


def test_cfn_lint_finds_no_error(default_assembly: Path) -> None:
    templates = sorted(str(p) for p in default_assembly.rglob("*.template.json"))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", *templates],
        capture_output=True,
        text=True,
    )
    errors = [line for line in result.stdout.splitlines() if ":E" in line or line.split(":")[-2:-1] == ["error"]]
    assert result.returncode in (0, 4, 8, 12) and not errors, result.stdout + result.stderr  # 4: warnings, 8: info


def test_cdk_nag_ran_and_reports_no_unsuppressed_finding(default_assembly: Path) -> None:
    report = json.loads((default_assembly / "validation-report.json").read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    assert plugins["AwsSolutions"]["conclusion"] == "success"
    assert plugins["AwsSolutions"]["violations"] == []


def test_every_hook_fits_and_carries_its_manifest(default_assembly: Path) -> None:
    template = templates_of(default_assembly)["SageMakerNotebooks.template.json"]
    configs = [r for r in template["Resources"].values() if r["Type"] == LC]  # type: ignore[union-attr,index]
    assert configs
    for config in configs:
        for hook, bundle in config["Metadata"]["LifecycleBundle"].items():
            content = config["Properties"][hook][0]["Content"]
            script, length = script_of(content)
            assert length <= bundle["encodedLength"] <= 16384  # a deploy-time bucket name counts at its longest
            files = hook_files(default_assembly, script, bundle)
            names = [m["name"] for m in bundle["modules"]]
            assert [p.split("/")[1].split("-", 1)[1] for p in sorted(files) if p.endswith("/run")] == names


def test_synth_is_byte_identical_across_directories_time_zones_umasks_and_mtimes(tmp_path: Path) -> None:
    first = copy_app(tmp_path / "one")
    second = copy_app(tmp_path / "second-checkout")
    past = time.time() - 86400 * 400
    for path in second.rglob("*"):
        if not path.is_symlink():
            os.utime(path, (past, past))
    results = []
    for app_dir, tz, umask in ((first, "UTC", "022"), (second, "Pacific/Kiritimati", "077")):
        out = app_dir / "cdk.out"
        env = {"TZ": tz}
        command = ["npx", "--no-install", "cdk", "synth", "--quiet", "--no-notices", "-o", str(out)]
        result = subprocess.run(
            ["bash", "-c", f'umask {umask} && exec "$@"', "synth", *command],
            cwd=app_dir,
            env=cdk_env(env),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
        results.append({p.name: p.read_bytes() for p in sorted(out.glob("*.template.json"))})
    assert results[0] == results[1]
    assert results[0], "no template written"


def test_bad_configuration_fails_synth_naming_the_key(tmp_path: Path) -> None:
    config = json.loads((REPO / "cdk.json").read_text())["context"]["notebookEnvironment"]
    config["notebooks"][0]["onStart"][-1]["idle"] = "forever"
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"notebookEnvironment": config}))
    result = cdk_synth(REPO, tmp_path / "out", "-c", f"configFile={config_file}")
    assert result.returncode != 0
    assert (
        "error: notebookEnvironment.notebooks[0].onStart[6].idle: "
        'expected a duration such as "90s", "60m" or "2h", got "forever".' in result.stderr
    )
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr


def test_default_on_start_hook_from_the_template_runs_twice_to_the_same_state(
    default_assembly: Path, tmp_path: Path
) -> None:
    """The very Content the default app deploys, run twice with real bash in the sandbox root."""
    from constructs_lib.rehearse.assembly import find_hooks
    from tests.lifecycle_scripts.test_notebook_scripts import LOG_EXCLUDES, prepare_instance
    from tests.support.sandbox import Sandbox

    template = templates_of(default_assembly)["SageMakerNotebooks.template.json"]
    (config,) = [r for r in template["Resources"].values() if r["Type"] == LC]  # type: ignore[union-attr,index]
    # The deployed Content; an S3 loader (archiveLocation auto) gets the staged asset in place of the copy.
    (hook,) = find_hooks(default_assembly, stack="SageMakerNotebooks", hook="OnStart")
    script = hook.script
    names = [m["name"] for m in config["Metadata"]["LifecycleBundle"]["OnStart"]["modules"]]
    sandbox = Sandbox(tmp_path)
    prepare_instance(sandbox)
    # As on an instance: its ARN, from which a split hook (scripts inline, auto-stop program in S3) names the
    # bucket of its S3 part (served here from the staged asset, like a loader's archive).
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/datascience"
    (sandbox.root / "opt/ml/metadata/resource-metadata.json").write_text(json.dumps({"ResourceArn": arn}))
    first = sandbox.run_hook(script, timeout=120)
    assert first.returncode == 0, first.stderr
    for name in names:
        assert f"[on-start] [{name}] end: ok, exit 0," in first.stdout, first.stdout
    state = sandbox.snapshot(exclude=LOG_EXCLUDES)
    second = sandbox.run_hook(script, timeout=120)
    assert f"hook end: {len(names)} modules, 0 failed" in second.stdout
    assert sandbox.snapshot(exclude=LOG_EXCLUDES) == state
    assert "home/ec2-user/.condarc" in state and "etc/profile.d/persisted-bin.sh" in state
    assert "etc/cron.d/sagemaker-lifecycle-autostop" in state  # root's entry, not the user's crontab
