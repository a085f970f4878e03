"""cdk-nag's verdict, enforced whoever runs the app.

Run directly, ``app.synth()`` raises when a validation plugin finds something. Run by the CDK CLI it
writes ``validation-report.json`` with ``"conclusion": "failure"`` and still succeeds (measured with
aws-cdk-lib 2.275 and CLI 2.1148 on an app with deployment stages), so a finding would reach a deploy.
This reads the report after synth and fails with the findings.
"""

from __future__ import annotations

import json
from pathlib import Path

REPORT = "validation-report.json"


class NagFindings(Exception):
    """cdk-nag reported findings that no construct acknowledged."""


def findings(report: Path) -> list[str]:
    """``rule: construct path`` for every violation in the report (none when there is no report)."""
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    found = []
    for plugin in data.get("pluginReports", []):
        for violation in plugin.get("violations", []):
            if violation.get("severity", "error") != "error":
                continue  # warnings (for example cfn-lint's W2001 on asset parameters) do not fail synth
            for construct in violation.get("violatingConstructs", []):
                found.append(f"{violation.get('ruleName')}: {construct.get('constructPath')}")
        if plugin.get("conclusion") != "success" and not found:
            found.append(f"{plugin.get('pluginName')}: {plugin.get('conclusion')}")
    return found


def raise_on_findings(assembly: Path) -> None:
    found = findings(assembly / REPORT)
    if found:
        shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
        raise NagFindings(f"cdk-nag: {len(found)} unacknowledged finding(s): {shown} (details: {assembly / REPORT}).")
