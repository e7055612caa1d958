"""Pure helpers of tools.demo and tools.bench: names, expectations, tables (no AWS, no synth);
and the demo's exit status when the CDK CLI fails (with a stand-in CLI and embedded AWS)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import local_aws
from local_aws.apigateway.client import ApiAnswer
from local_aws.records import SentEmail, SmsMessage
from tools import bench, demo
from tools._common import ses_identities, tail

# ---- demo: expectations and names ---------------------------------------------------------------


def test_invalid_examples_must_fail_with_validation_error_and_others_succeed() -> None:
    assert demo.expected_outcome(Path("examples/invalid.json")) == demo.Expectation("FAILED", "ValidationError")
    assert demo.expected_outcome(Path("examples/sms.json")) == demo.Expectation("SUCCEEDED")
    assert demo.Expectation("FAILED", "ValidationError").met_by("FAILED", "ValidationError")
    assert not demo.Expectation("FAILED", "ValidationError").met_by("FAILED", "States.Runtime")
    assert not demo.Expectation("SUCCEEDED").met_by("FAILED", None)


def test_execution_name_is_the_notification_id_when_usable() -> None:
    assert demo.execution_name({"notificationId": "demo-sms-001"}, "sms", set(), "abc123") == "demo-sms-001"


@pytest.mark.parametrize(
    ("request_body", "taken", "expected"),
    [
        ({"notificationId": "demo-sms-001"}, {"demo-sms-001"}, "demo-sms-001-abc123"),  # used in this run
        ({}, set(), "demo-sms-abc123"),  # no id: the file's stem
        ({"notificationId": ""}, set(), "demo-sms-abc123"),
        ({"notificationId": 42}, set(), "demo-sms-abc123"),
        ({"notificationId": "a b/c"}, set(), "a-b-c-abc123"),  # not a valid execution name
    ],
)
def test_execution_name_adds_a_run_suffix_only_when_needed(
    request_body: dict[str, object], taken: set[str], expected: str
) -> None:
    assert demo.execution_name(request_body, "sms", taken, "abc123") == expected


def test_execution_names_stay_unique_and_within_80_characters() -> None:
    taken: set[str] = set()
    names = [demo.execution_name({"notificationId": "x" * 200}, "sms", taken, "abc123") for _ in range(3)]
    for name in names:
        taken.add(name)
    assert all(len(n) <= 80 and demo.is_valid_execution_name(n) for n in names)
    names = []
    for _ in range(3):
        names.append(demo.execution_name({}, "sms", taken, "abc123"))
        taken.add(names[-1])
    assert len(set(names)) == 3


def test_record_key_follows_the_workflow() -> None:
    assert demo.record_key({"notificationId": "n-1"}, "exec") == "n-1"
    assert demo.record_key({"notificationId": ""}, "exec") == "exec"
    assert demo.record_key({}, "exec") == "exec"


# ---- demo: formatting ---------------------------------------------------------------------------


def test_shorten_and_path() -> None:
    assert demo.shorten("a  b\nc", 10) == "a b c"
    assert demo.shorten("x" * 20, 10) == "xxxxxxx..."
    assert demo.format_path(["A", "B", "C"]) == "A -> B -> C"
    assert demo.format_path([]) == "(no state entered)"


def test_long_paths_break_before_an_arrow_and_never_inside_a_name() -> None:
    states = [f"State{i}WithAFairlyLongName" for i in range(8)]
    lines = demo.path_values(states, width=100)
    assert len(lines) > 1
    assert all(len(line) <= 100 - 2 - demo.LABEL_WIDTH for line in lines)
    assert all(line.startswith("-> ") for line in lines[1:])
    assert " ".join(lines).replace("-> ", "").split(" ") == states


def test_field_lines_put_the_label_once_and_wrap_under_the_value_column() -> None:
    lines = demo.field_lines("email", ["word " * 40], width=60)
    assert lines[0].startswith("  email ")
    assert all(line.startswith(" " * 14) for line in lines[1:])
    assert all(len(line) <= 60 for line in lines)
    assert demo.field_lines("sms", []) == ["  sms         -"]


def test_sms_and_email_values_say_what_went_to_whom() -> None:
    assert demo.sms_values([SmsMessage("+15555550100", "code 1", "m-1")]) == ['to +15555550100: "code 1"']
    mail = SentEmail(message_id="e-1", source="a@example.com", to=["b@example.org"], cc=[], bcc=["c@example.org"],
                     subject="Hi", body="x", reply_to=["r@example.com"])
    assert demo.email_values([mail]) == [
        'from a@example.com; subject "Hi"',
        "to b@example.org; cc -; bcc c@example.org",
        "reply-to r@example.com",
    ]


def test_record_values_keep_key_fields() -> None:
    sent = {
        "notificationId": "n-1", "status": "PARTIAL", "channel": "both", "executionArn": "arn:...",
        "results": {
            "sms": {"status": "SENT", "messageId": "m-1", "error": "", "cause": ""},
            "email": {"status": "FAILED", "messageId": "", "error": "SesV2.MessageRejectedException",
                      "cause": "Email address is not verified."},
        },
    }
    assert demo.record_values(sent) == [
        "n-1: PARTIAL, channel both",
        "email FAILED SesV2.MessageRejectedException: Email address is not verified.",
        "sms SENT id m-1",
    ]
    rejected = {"notificationId": "n-2", "status": "REJECTED", "error": "ValidationError", "reason": "no phone"}
    assert demo.record_values(rejected) == ["n-2: REJECTED", "ValidationError: no phone"]
    assert demo.record_values(None) == ["(no record)"]


def _report(**overrides: object) -> demo.RequestReport:
    values: dict[str, object] = {
        "file": "examples/both.json", "execution": "demo-both-001", "expected": demo.Expectation("SUCCEEDED"),
        "status": "SUCCEEDED", "states": [f"State{i}WithAVeryLongNameIndeed" for i in range(9)],
        "sms": [SmsMessage("+15555550101", "m" * 300, "id")],
        "record": {"notificationId": "demo-both-001", "status": "SENT", "results": {"sms": {"status": "SENT"}}},
    }
    values.update(overrides)
    return demo.RequestReport(**values)  # type: ignore[arg-type]


def test_report_fits_100_columns_and_counts_the_states() -> None:
    lines = demo.render_report(_report())
    assert lines[0].startswith("-- examples/both.json --") and len(lines[0]) == 100
    assert all(len(line) <= 100 for line in lines)
    assert any(line.startswith("  path (9)") for line in lines)
    assert any("as expected" in line for line in lines)


def test_report_and_summary_flag_an_unexpected_outcome() -> None:
    report = _report(status="FAILED", error="States.Runtime", cause="boom")
    text = "\n".join(demo.render_report(report))
    assert "NOT AS EXPECTED (wanted SUCCEEDED)" in text and "cause: boom" in text
    summary = demo.render_summary([report, _report(file="examples/sms.json")])
    assert summary[0].split() == ["file", "expected", "got"]
    assert summary[1].endswith("MISMATCH") and summary[2].endswith("ok")


# ---- demo: the recipient-aware send -------------------------------------------------------------

RECIPIENT_RESULTS = {"sms": {"status": "SKIPPED_PREFERENCE"}, "email": {"status": "SENT", "messageId": "e-1"}}


def test_an_expectation_may_name_the_records_status_and_each_channels() -> None:
    wanted = demo.Expectation("SUCCEEDED", record="SENT", channels=(("sms", "SKIPPED_PREFERENCE"), ("email", "SENT")))
    record = {"status": "SENT", "results": RECIPIENT_RESULTS}

    assert str(wanted) == "SUCCEEDED, record SENT, sms SKIPPED_PREFERENCE, email SENT"
    assert wanted.met_by("SUCCEEDED", None, record)
    assert not wanted.met_by("SUCCEEDED", None, {**record, "results": {**RECIPIENT_RESULTS, "sms": {"status": "SENT"}}})
    assert not wanted.met_by("SUCCEEDED", None, {**record, "status": "PARTIAL"})
    assert not wanted.met_by("SUCCEEDED", None, None)
    assert not wanted.met_by("FAILED", None, record)
    assert demo.Expectation("SUCCEEDED").met_by("SUCCEEDED", None, None)  # the examples look at no record


def test_a_report_shows_the_record_and_channel_statuses_it_was_checked_on() -> None:
    wanted = demo.Expectation("SUCCEEDED", record="SENT", channels=(("sms", "SKIPPED_PREFERENCE"), ("email", "SENT")))
    sent = _report(file="POST /notifications (category marketing)", expected=wanted,
                   record={"notificationId": "n-1", "status": "SENT", "results": RECIPIENT_RESULTS})
    wrong = _report(file="POST /notifications (category marketing)", expected=wanted,
                    record={"notificationId": "n-1", "status": "SENT",
                            "results": {"email": {"status": "SENT"}}})

    assert sent.ok and sent.outcome == "SUCCEEDED, record SENT, sms SKIPPED_PREFERENCE, email SENT"
    assert not wrong.ok and wrong.outcome == "SUCCEEDED, record SENT, sms -, email SENT"
    assert "NOT AS EXPECTED (wanted SUCCEEDED, record SENT, sms SKIPPED_PREFERENCE, email SENT)" \
        in " ".join(line.strip() for line in demo.render_report(wrong))
    assert not _report(file="x", expected=wanted, record=None).ok


def test_a_templated_email_shows_its_ses_template_and_unsubscribe_header() -> None:
    mail = SentEmail(message_id="e-1", source="n@example.com", to=["c@example.org"], cc=[], bcc=[],
                     subject="Votre commande A-1 a été expédiée", body="x", kind="template",
                     template="NotifyCdk-dev-1a2b-order-shipped-fr",
                     headers={"List-Unsubscribe": "<https://unsubscribe.example/list?topic=orders&token=t>",
                              "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})

    assert demo.email_values([mail]) == [
        'from n@example.com; subject "Votre commande A-1 a été expédiée"',
        "to c@example.org; cc -; bcc -",
        "reply-to -",
        "SES template NotifyCdk-dev-1a2b-order-shipped-fr",
        "List-Unsubscribe: <https://unsubscribe.example/list?topic=orders&token=t>",
    ]


def test_a_rendered_sms_is_shown_whole_up_to_one_segment() -> None:
    text = "Bonjour Camille, votre commande A-1742 a été expédiée. Suivi : https://track.example.com/A-1742"
    [value] = demo.sms_values([SmsMessage("+33639980042", text, "m-1")])
    assert value == f'to +33639980042: "{text}"'
    assert " ".join(line[14:] for line in demo.field_lines("sms", [value])) == value


@pytest.mark.parametrize("hour", range(24))
def test_quiet_hours_are_well_away_from_now(hour: int) -> None:
    now = datetime(2026, 3, 29, hour, 37, tzinfo=UTC)  # the day Paris moves to summer time
    quiet = demo.quiet_hours_away_from(now, "Europe/Paris")

    assert quiet["timeZone"] == "Europe/Paris"
    assert re.fullmatch(r"([01]\d|2[0-3]):00", quiet["start"]) and re.fullmatch(r"([01]\d|2[0-3]):00", quiet["end"])
    local = now.astimezone(ZoneInfo("Europe/Paris"))
    start = local.replace(hour=int(quiet["start"][:2]), minute=0)
    ahead = (start - local) % timedelta(days=1)
    assert timedelta(hours=4) < ahead < timedelta(hours=7)  # now is hours from the window, either side
    assert (int(quiet["end"][:2]) - int(quiet["start"][:2])) % 24 == 2


def test_the_recipient_requests_name_the_recipient_not_its_contact_points() -> None:
    requests = demo.recipient_requests("camille-abc123", "abc123")

    assert [body["category"] for _, body, _ in requests] == ["orders", "marketing"]
    for label, body, expected in requests:
        assert body["recipientId"] == "camille-abc123" and body["channel"] == "both"
        assert "phoneNumber" not in body and "to" not in body.get("email", {})
        assert label.startswith("POST /notifications") and expected.record == "SENT"
    [orders, marketing] = [dict(expected.channels) for _, _, expected in requests]
    assert orders == {"sms": "SENT", "email": "SENT"} and marketing == {"sms": "SKIPPED_PREFERENCE", "email": "SENT"}
    template = requests[0][1]["template"]
    variables = {name for path in (demo.TEMPLATES_DIRECTORY / template["name"]).rglob("*.*")
                 for name in re.findall(r"{{\s*(\w+)\s*}}", path.read_text())}
    assert variables and variables <= set(template["data"])


def test_the_preferences_opt_out_of_marketing_sms_in_french() -> None:
    body = demo.recipient_preferences(datetime(2026, 1, 5, 9, 0, tzinfo=UTC), "abc123")
    assert body["locale"] == "fr" and body["optOut"] == {"marketing": ["sms"]}
    assert body["quietHours"] == {"start": "16:00", "end": "18:00", "timeZone": "Europe/Paris"}
    assert body["phoneNumber"].startswith("+33") and body["email"] == "camille-abc123@example.org"


def test_the_recipient_section_says_how_the_stack_was_deployed_and_fits_100_columns() -> None:
    put = ApiAnswer(200, {"recipientId": "camille-abc123", "locale": "fr",
                          "quietHours": {"start": "21:00", "end": "23:00", "timeZone": "Europe/Paris"}}, {})
    exchange = demo.RecipientExchange(
        url="http://127.0.0.1:4000/v1/", caller="NotifyCdk-dev-recipients-RecipientsCaller-X",
        recipient_id="camille-abc123", put=put, local_time="15:26",
        reports=[_report(file="POST /notifications (category orders)")])

    lines = demo.render_recipient_exchange(exchange)
    text = " ".join(line.strip() for line in lines)

    assert all(len(line) <= 100 for line in lines)
    assert lines[0].startswith(f"Recipient-aware send: {demo.RECIPIENT_STACK}")
    assert "deployed directly with CloudFormation CreateStack (not through the CDK CLI)" in text
    assert "granted with api.grant_write_preferences and api.grant_invoke" in text
    assert 'PUT recipients/camille-abc123/preferences -> 200 {"recipientId": "camille-abc123"' in text
    assert "quiet hours 21:00-23:00 Europe/Paris; it is 15:26 there, so each send goes out now" in text
    assert any(line.startswith("-- POST /notifications (category orders) --") for line in lines)


# ---- demo: a failed deploy ----------------------------------------------------------------------

FAILING_CDK = """#!/bin/sh
echo "cdk $*"
if [ "$1" = deploy ]; then
  echo " NotifyCdk-dev failed: ValidationError: Template format error: probe"
  exit 1
fi
"""


class FakeAws:
    """Stands in for the embedded AWS and records what the demo asks of it."""

    account_id, region = "123456789012", "us-east-1"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def cli_env(self) -> dict[str, str]:
        self.calls.append("cli_env")
        return {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}

    def stop(self) -> None:
        self.calls.append("stop")

    def deploy_assembly(self, *args: Any) -> Any:  # CreateStack: what the removed fallback did
        self.calls.append("deploy_assembly")
        raise RuntimeError("stand-in: no CreateStack here")

    def describe_stack(self, *args: Any) -> Any:
        self.calls.append("describe_stack")
        raise RuntimeError("stand-in: no stack here")


def test_a_failed_cdk_deploy_exits_non_zero_with_the_clis_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cdk = tmp_path / "cdk"
    cdk.write_text(FAILING_CDK)
    cdk.chmod(0o755)
    aws = FakeAws()
    monkeypatch.setattr(demo, "CDK_BIN", cdk)

    status = _run_demo(aws, tmp_path, monkeypatch)

    out = capsys.readouterr().out
    assert status == 1
    assert "cdk deploy exited 1" in out
    assert "NotifyCdk-dev failed: ValidationError: Template format error: probe" in out
    assert aws.calls == ["cli_env", "stop"]  # no CreateStack, no second server: stopped once
    assert "FALLBACK" not in out
    assert (tmp_path / "logs" / "cdk-bootstrap.log").read_text().splitlines()[1].startswith("cdk bootstrap")


def _run_demo(aws: FakeAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **stand_ins: Any) -> int:
    """``demo.main`` for one example with ``aws`` as the embedded AWS, no synth, logs in
    ``tmp_path`` and ``stand_ins`` for the demo's functions of those names."""
    monkeypatch.setattr(demo, "LOG_DIR", tmp_path / "logs")
    monkeypatch.setattr(demo, "synthesize", lambda: None)
    for name, stand_in in stand_ins.items():
        monkeypatch.setattr(demo, name, stand_in)
    monkeypatch.setattr(demo.signal, "signal", lambda *args: None)
    monkeypatch.setattr(local_aws.LocalAws, "start_server", lambda **kwargs: aws)
    return demo.main(["--only", "examples/sms.json"])


class FakeDeployedAws(FakeAws):
    """The embedded AWS after a successful deploy: SES, no access check."""

    access = None

    def verify_email_identities(self, identities: Any) -> None:
        self.calls.append("verify_email_identities")


def test_a_failed_recipient_aware_step_exits_non_zero_and_stops_the_embedded_aws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    aws = FakeDeployedAws()

    def fail() -> None:
        raise demo.DemoError("synthesizing NotifyCdk-dev-recipients in process failed: probe")

    stack = type("Stack", (), {"outputs": {"StateMachineArn": "arn", "DeliveryLogTableName": "table"}})()

    status = _run_demo(aws, tmp_path, monkeypatch, deploy=lambda aws, direct: demo.Deployment(stack, "stand-in"),
                       send_one=lambda *args: _report(), call_the_api=lambda *args: None,
                       build_recipient_stack=fail)

    out = capsys.readouterr().out
    assert status == 1
    assert "[7/11] recipient-aware send: synthesize NotifyCdk-dev-recipients in process ... FAILED" in out
    assert "error: synthesizing NotifyCdk-dev-recipients in process failed: probe" in out
    assert "[11/11] stop the embedded AWS" in out and aws.calls[-1] == "stop"


# ---- shared helpers -----------------------------------------------------------------------------


def test_ses_identities_in_order_without_repeats() -> None:
    settings = {"sender": "n@example.com", "allowedSenders": ["a@example.com", "n@example.com"],
                "emailIdentities": ["example.com"]}
    assert ses_identities(settings) == ["n@example.com", "a@example.com", "example.com"]
    assert ses_identities({"sender": "n@example.com", "allowedSenders": None}) == ["n@example.com"]


def test_tail_drops_colour_codes_and_blank_lines() -> None:
    assert tail("a\n\n\x1b[31mb\x1b[0m\nc\n", 2) == "b\nc"


# ---- bench: verdicts and tables -------------------------------------------------------------------


@pytest.mark.parametrize(("states", "result"), [(3, "PASS"), (4, "PASS"), (5, "MISS")])
def test_path_figure_grades_the_states_against_the_target(states: int, result: str) -> None:
    figure = bench.path_figure("sms", states, 4)
    assert figure.result == result
    assert (figure.name, figure.value, figure.target) == ("states entered: sms", str(states), "<= 4")


def test_path_figure_with_no_target_or_no_run() -> None:
    assert bench.path_figure("rejected", 3, 3) == bench.Figure("states entered: rejected", "3", "<= 3", "PASS")
    assert bench.path_figure("duplicate", 5, None).result == "-"
    assert bench.path_figure("sms", None, 4).value == "n/a"
    assert bench.path_figure("sms", None, 4).result == "n/a"


def test_ratio_and_verdict_handle_missing_figures() -> None:
    assert bench.ratio(3.0, 2.0) == 1.5 and bench.verdict(1.5, 1.5) == "PASS"
    assert bench.ratio(None, 2.0) is None and bench.ratio(1.0, 0.0) is None
    assert bench.verdict(None, 1.0) == "n/a" and bench.verdict(2.0, 1.0) == "MISS"


def test_median_phases() -> None:
    samples = [{"synth": 1.0, "build": 3.0}, {"synth": 3.0, "build": 1.0}, {"synth": 2.0}]
    assert bench.median_phases(samples) == {"import_cdk": 0.0, "import_app": 0.0, "build": 1.0, "synth": 2.0}


def test_lambda_functions_referenced_by_the_state_machine() -> None:
    template = {
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function"},
            "Other": {"Type": "AWS::Lambda::Function"},
            "Sm": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
                "DefinitionString": {"Fn::Join": ["", ["{", {"Fn::GetAtt": ["Fn", "Arn"]}, {"Ref": "Table"}, "}"]]},
            }},
            "Policy": {"Type": "AWS::IAM::Policy", "Properties": {"Resource": {"Fn::GetAtt": "Other.Arn"}}},
        }
    }
    assert bench.lambda_functions_referenced(template) == ["Fn"]
    assert bench.lambda_functions_referenced({"Resources": {}}) == []


def test_tables() -> None:
    assert bench.markdown_table(["a", "b"], [["1", "x|y"]]) == ["| a | b |", "|---|---|", "| 1 | x\\|y |"]
    assert bench.text_table(["name", "v"], [["x", "10"]]) == ["name  v", "x     10"]


def test_profile_note_attributes_the_extra_time() -> None:
    def times(import_app: float, build: float, synth: float, validate_ms: float) -> dict[str, list[dict[str, float]]]:
        return {"phases": [{"import_app": import_app, "build": build, "synth": synth}],
                "counters": [{"validateTemplates": validate_ms, "phase:Construction": build * 1000}]}

    runs = {"app": times(1.0, 2.0, 6.0, 5500), "app without cdk-nag": times(1.0, 2.0, 5.5, 5000),
            "bare": times(0.0, 0.2, 4.5, 4400)}
    profile = bench.SynthTimes(
        wall={"app": [11.0], "app without cdk-nag": [10.5], "bare": [5.0]},
        phases={k: v["phases"] for k, v in runs.items()},
        counters={k: v["counters"] for k, v in runs.items()},
    )
    note = bench.profile_note(profile)
    assert note is not None
    assert "app's 6.00 s over the bare app" in note
    assert "import_app +1.00 s, build +1.80 s" in note and "validateTemplates +1.10 s" in note
    assert "cdk-nag packs account for +0.50 s" in note and "takes 4.40 s of the bare app's 4.50 s" in note
    assert bench.profile_note(bench.SynthTimes()) is None


def test_floor_note_compares_the_smaller_builds_with_the_bare_app() -> None:
    profile = bench.SynthTimes(wall={"bare": [3.0], bench.SLIM_KIND: [6.0], bench.WORKFLOW_KIND: [5.1]})
    note = bench.floor_note(profile)
    assert note is not None
    assert "takes 6.00 s (2.00x the bare app)" in note and "5.10 s (1.70x)" in note
    assert "5.10 s (1.70x), 2.10 s over the bare app" in note
    assert bench.floor_note(bench.SynthTimes(wall={"bare": [3.0]})) is None
