"""Who runs a hook's modules on each target: the notebook user, its home, what persists, where hooks unpack."""

from __future__ import annotations

from dataclasses import dataclass

from constructs_lib.bundling.module import Target


@dataclass(frozen=True)
class UserProfile:
    """Who the notebook user is on a target, and which directory survives a restart."""

    user: str
    home: str
    persist_dir: str
    bundle_base: str
    """Where hooks are unpacked: root-owned on notebook instances (hooks run as root there)."""
    log_dir: str


USERS = {
    Target.NOTEBOOK_INSTANCE: UserProfile(
        "ec2-user",
        "/home/ec2-user",
        "/home/ec2-user/SageMaker",
        "/var/lib/sagemaker-lifecycle",
        "/var/log/sagemaker-lifecycle",
    ),
    # Studio runs lifecycle scripts as sagemaker-user inside the app's container.
    Target.STUDIO: UserProfile(
        "sagemaker-user",
        "/home/sagemaker-user",
        "/home/sagemaker-user",
        "/tmp/sagemaker-lifecycle",
        "/tmp/sagemaker-lifecycle/logs",
    ),
}

KERNEL_GATEWAY_HOOK = "kernelgateway"
KERNEL_GATEWAY_USER = UserProfile("root", "/root", "/root", "/tmp/sagemaker-lifecycle", "/tmp/sagemaker-lifecycle/logs")
"""Studio KernelGateway apps run as root (uid 0) with their home, the persisted volume, at /root."""


def profile_for(target: Target, hook: str) -> UserProfile:
    """The notebook user of a hook: per target, and per app type in Studio."""
    if target is Target.STUDIO and hook == KERNEL_GATEWAY_HOOK:
        return KERNEL_GATEWAY_USER
    return USERS[target]
