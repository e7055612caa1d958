"""The bare app ``make bench`` times through the CDK CLI synthesizes there, with cdk.json's context
(which turns on CDK's CloudFormation validation, and that rejects an empty template unacknowledged)."""

from __future__ import annotations

import pytest

from tools import bench
from tools._common import isolated_env


@pytest.mark.skipif(not bench.CDK_BIN.exists(), reason="the CDK CLI is not installed (npm ci)")
def test_the_bare_app_synthesizes_through_the_cli() -> None:
    run = bench.run_child(bench.CLI_BARE_KIND, isolated_env())  # raises with the CLI's output on failure

    assert run.wall > 0 and run.cpu > 0
    assert run.phases == {}
