"""The demo path itself, in ``make test``: synthesize, deploy with the CDK CLI to the embedded AWS
(server mode, access check on), send every example, and exit 0 only when each request ended as
expected and the access check refused nothing."""

from __future__ import annotations

import pytest

from tools import demo


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_demo_deploys_with_the_cli_and_sends_every_example_under_the_access_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = demo.main([])

    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    assert "deployed by cdk bootstrap + cdk deploy (CDK CLI)" in out
    [report] = [line for line in out.splitlines() if line.startswith("access check:")]
    assert report.endswith("none denied") and not report.startswith("access check: 0 ")
