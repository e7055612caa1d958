"""The demo path itself, in ``make test``: synthesize, deploy with the CDK CLI to the embedded AWS
(server mode, access check on), send every example, then the recipient-aware send (a second stack
synthesized in process and deployed directly, preferences PUT and two POSTs over HTTP), and exit 0
only when each request ended as expected and the access check refused nothing."""

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
    assert f"[{demo.STEPS}/{demo.STEPS}] stop the embedded AWS" in out

    # The recipient-aware send: French SMS and email from the templates, the marketing SMS skipped.
    section = out[out.index("Recipient-aware send:"):]
    flat = " ".join(line.strip() for line in section.splitlines())
    assert "deployed directly (LocalAws.deploy_template), not through the CDK CLI" in out
    assert "PUT recipients/camille-" in flat and "/preferences -> 200 " in flat
    assert "so each send goes out now" in flat
    assert flat.count(", as expected") == 2 and "NOT AS EXPECTED" not in flat
    assert 'to +33639980042: "Bonjour Camille, votre commande A-1742 a été expédiée.' in flat
    assert 'subject "Votre commande A-1742 a été expédiée"' in flat
    assert "-order-shipped-fr" in flat and flat.count("List-Unsubscribe: <") == 2
    assert "SUCCEEDED, record SENT, sms SKIPPED_PREFERENCE, email SENT, as expected" in flat
