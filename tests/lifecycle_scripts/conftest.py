# ruff: noqa: F403, F405  (re-exports tests.support.servers: the tests import those names from here)
"""Fixtures of the auto-stop tests; the servers themselves live in tests/support/servers.py and the
session-wide ``jupyter_server`` and ``moto_server`` in tests/conftest.py (shared with other tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.servers import *
from tests.support.servers import (
    FaultProxy,
    JupyterServer,
    MotoIam,
    MotoServer,
    Notebook,
    Run,
)


@pytest.fixture
def jupyter(jupyter_server: JupyterServer) -> Iterator[JupyterServer]:
    jupyter_server.cleanup()
    yield jupyter_server
    jupyter_server.cleanup()


@pytest.fixture(scope="session")
def moto_iam_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoIam]:
    """A moto server that enforces IAM policies after its first three (setup) calls."""
    server = start_moto(tmp_path_factory.mktemp("moto-iam"), {"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    try:
        iam = server.client("iam")
        iam.create_user(UserName="admin")  # unauthenticated call 1
        iam.put_user_policy(  # 2
            UserName="admin",
            PolicyName="all",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )
        key = iam.create_access_key(UserName="admin")["AccessKey"]  # 3; from here on IAM is enforced
        admin = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
        iam = server.client("iam", admin.access_key, admin.secret_key)

        def user(name: str, actions: list[str]) -> Credentials:
            iam.create_user(UserName=name)
            if actions:
                iam.put_user_policy(
                    UserName=name,
                    PolicyName="autostop",
                    PolicyDocument=json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
                        }
                    ),
                )
            created = iam.create_access_key(UserName=name)["AccessKey"]
            return Credentials(created["AccessKeyId"], created["SecretAccessKey"])

        yield MotoIam(
            server,
            admin,
            describe_only=user("describe-only", ["sagemaker:DescribeNotebookInstance"]),
            nothing=user("nothing", ["s3:ListAllMyBuckets"]),
        )
    finally:
        stop_process(server.process)


@pytest.fixture
def fault_proxy(moto_server: MotoServer) -> Iterator[Callable[[dict[str, int]], FaultProxy]]:
    proxies: list[FaultProxy] = []

    def make(throttle: dict[str, int]) -> FaultProxy:
        proxy = FaultProxy(moto_server.url, throttle)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


@pytest.fixture
def notebook(moto_server: MotoServer, request: pytest.FixtureRequest, tmp_path: Path) -> Notebook:
    return create_notebook(moto_server.client("sagemaker"), instance_name_for(request), tmp_path)


@pytest.fixture
def autostop(jupyter: JupyterServer, notebook: Notebook, moto_server: MotoServer, tmp_path: Path) -> Callable[..., Run]:
    """Run the program against this test's Jupyter server and notebook instance in moto.

    Keyword arguments: ``env`` (extra variables or a whole environment with ``base_env=False``),
    ``endpoint`` (instead of moto), ``python`` (interpreter command), ``defaults=False`` (no
    --jupyter-url, --token, --metadata-file).
    """

    def run(
        *args: str,
        env: dict[str, str] | None = None,
        endpoint: str | None = None,
        credentials: Credentials | None = None,
        python: list[str] | None = None,
        defaults: bool = True,
        metadata_file: Path | None = None,
    ) -> Run:
        argv = list(args)
        if defaults:
            if "--jupyter-url" not in argv:
                argv += ["--jupyter-url", jupyter.url]
            if "--token" not in argv and "--token-file" not in argv:
                argv += ["--token", jupyter.token]
            argv += ["--metadata-file", str(metadata_file or notebook.metadata_file)]
            if "--state-dir" not in argv:
                argv += ["--state-dir", str(tmp_path / "autostop-state")]
        keys = (credentials.access_key, credentials.secret_key) if credentials else ("testing", "testing")
        return run_program(argv, aws_env(endpoint or moto_server.url, *keys, **(env or {})), python)

    return run
