"""Server mode: a moto HTTP server in this process, driven over HTTP like the demo and the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import Any

import pytest
from moto.core.config import default_user_config

from local_aws import LocalAws


def test_server_deploys_and_runs_the_workflow(template: dict[str, Any]) -> None:
    config_before = dict(default_user_config["stepfunctions"])
    moto_port_before = os.environ.get("MOTO_PORT")

    with LocalAws.server(region="us-east-1") as server:
        assert server.endpoint_url == f"http://127.0.0.1:{server.port}"
        assert server.client("stepfunctions").meta.endpoint_url == server.endpoint_url

        stack = server.deploy_template("Notify", template)
        result = server.start_and_wait(
            stack.outputs["StateMachineArn"],
            {"phoneNumber": "+15555550100", "message": "from the server"},
            name="demo-1",
        )

        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert result.states_entered == ["Normalise", "LogRequest", "SendSms"]
        assert [(m.phone_number, m.message) for m in server.sms_messages()] == [("+15555550100", "from the server")]
        assert server.table_items(stack.outputs["TableName"])[0]["notificationId"] == "demo-1"

        env = server.cli_env()
        assert env["AWS_ENDPOINT_URL"] == server.endpoint_url
        assert env["AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION"] == f"http://localhost:{server.port}"
        # A separate process configured only by cli_env() sees the same stack.
        listed = subprocess.run(
            [
                sys.executable,
                "-c",
                "import boto3, json; print(json.dumps([s['StackName'] for s in "
                "boto3.client('cloudformation').describe_stacks()['Stacks']]))",
            ],
            env={**_base_env(), **env},
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert json.loads(listed.stdout) == ["Notify"]
        port = server.port

    assert port is not None
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the server is stopped"
    assert default_user_config["stepfunctions"] == config_before
    assert os.environ.get("MOTO_PORT") == moto_port_before


def _base_env() -> dict[str, str]:
    # Only what a Python subprocess needs; no inherited AWS settings.
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def test_server_refuses_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(OSError, match="is busy"):
            LocalAws.start_server(port=busy.getsockname()[1])
