"""System services of notebook instances."""

from __future__ import annotations

from aws_cdk import Duration

from constructs_lib.bundling import Module, RunAs
from constructs_lib.catalogue._common import NOTEBOOK_ONLY, check_type, script


def stop_ssm_agent(*, uninstall: bool = False) -> Module:
    """Stop and disable the SSM agent (systemd, as on AL2023; Amazon Linux 1 and its upstart are long gone),
    and with ``uninstall=True`` remove its package (repositories disabled, so no network is needed).

    Runs as root (service control). An instance without the agent is logged and left as it is.
    """
    check_type("stop_ssm_agent", "uninstall", uninstall, bool, "True or False")
    return Module(
        name="stop-ssm-agent",
        script=script("stop_ssm_agent.sh"),
        strip_comments=True,
        user=RunAs.ROOT,
        budget=Duration.seconds(45 if uninstall else 30),
        settings={"UNINSTALL": "1" if uninstall else "0"},
        targets=NOTEBOOK_ONLY,
        description="stop and disable amazon-ssm-agent" + (", and uninstall it" if uninstall else ""),
    )
