"""How tools.bench grades its figures and when it exits non-zero (no AWS, no synth)."""

from __future__ import annotations

import json

import pytest

from tools import bench

SMS_STATES = ["ValidateRequest", "ClaimSms", "SendSms", "RecordOutcome"]
REJECTED_STATES = ["ValidateRequest", "RecordRejection", "Rejected"]
SENT = bench.PathExpectation("SUCCEEDED", "SENT")


def _run(path: str = "sms", status: str = "SUCCEEDED", record_status: str | None = "SENT",
         states: list[str] | None = None, error: str | None = None) -> bench.PathRun:
    return bench.PathRun(path=path, status=status, error=error, states=SMS_STATES if states is None else states,
                         lambda_events=0, record_status=record_status)


# ---- paths --------------------------------------------------------------------------------------


def test_path_problem_names_the_execution_and_the_record_status() -> None:
    assert bench.path_problem("SUCCEEDED", "SENT", SENT) is None
    assert bench.path_problem("FAILED", "SENT", SENT) == "execution FAILED (expected SUCCEEDED)"
    assert bench.path_problem("SUCCEEDED", "FAILED", SENT) == "record FAILED (expected SENT)"
    assert bench.path_problem("FAILED", None, SENT) == \
        "execution FAILED (expected SUCCEEDED), record missing (expected SENT)"


def test_a_path_that_ended_as_expected_is_graded_on_its_states() -> None:
    figure = bench.graded_path_figure("sms", _run(), 4, SENT)
    assert (figure.value, figure.target, figure.result) == ("4", "<= 4", "PASS")
    assert bench.failing([figure]) == []
    longer = bench.graded_path_figure("sms", _run(states=[*SMS_STATES, "RecordFailed"]), 4, SENT)
    assert longer.result == "MISS" and bench.failing([longer]) == [longer]


def test_the_targets_are_the_jsonata_workflows() -> None:
    assert bench.PATH_TARGETS == {"sms": 4, "email": 4, "both": 6, "rejected": 3, "duplicate": 3}
    assert bench.DEFINITION_STATES_TARGET == 20


def _template(states: int) -> dict[str, object]:
    asl = {"StartAt": "S0", "States": {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(states - 2)}}
    asl["States"][f"S{states - 2}"] = {"Type": "Parallel", "End": True, "Branches": [  # type: ignore[index]
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}]}
    return {"Resources": {"Machine": {"Type": "AWS::StepFunctions::StateMachine",
                                      "Properties": {"DefinitionString": json.dumps(asl)}}}}


def test_the_definition_is_graded_on_its_states_branches_included() -> None:
    assert bench.definition_figure(_template(20)) == bench.Figure("states in the definition", "20", "<= 20", "PASS")
    assert bench.definition_figure(_template(21)).result == "MISS"
    assert bench.definition_figure({"Resources": {}}).result == "n/a"


def test_the_deployed_definition_size_is_graded_at_20000_bytes() -> None:
    assert bench.definition_size_figure(20_000) == bench.Figure(
        "definition size as deployed (bytes)", "20,000", "<= 20,000", "PASS")
    assert bench.definition_size_figure(20_001).result == "MISS"
    assert bench.definition_size_figure(None).result == "n/a"


def test_a_path_with_few_states_but_the_wrong_execution_status_fails() -> None:
    """Three states are within every target: the old grading said PASS for a crashed path."""
    crashed = _run(status="FAILED", error="States.Runtime", record_status=None, states=SMS_STATES[:3])
    figure = bench.graded_path_figure("sms", crashed, 4, SENT)
    assert figure.value == "3"
    assert figure.result == "FAIL: execution FAILED (expected SUCCEEDED), record missing (expected SENT)"
    assert bench.failing([figure]) == [figure]


def test_a_path_whose_record_has_the_wrong_status_fails() -> None:
    figure = bench.graded_path_figure("sms", _run(record_status="FAILED"), 4, SENT)
    assert figure.result == "FAIL: record FAILED (expected SENT)"


def test_the_rejected_path_must_fail_validation_and_be_recorded_rejected() -> None:
    expected = bench.PATH_EXPECTATIONS["rejected"]
    rejected = _run("rejected", "FAILED", "REJECTED", REJECTED_STATES)
    assert bench.graded_path_figure("rejected", rejected, 3, expected).result == "PASS"
    accepted = _run("rejected", "SUCCEEDED", "SENT", SMS_STATES[:3])
    assert bench.graded_path_figure("rejected", accepted, 3, expected).result == (
        "FAIL: execution SUCCEEDED (expected FAILED), record SENT (expected REJECTED)")


def test_a_path_without_a_target_still_fails_when_it_ends_wrong() -> None:
    assert bench.graded_path_figure("duplicate", _run("duplicate"), None, SENT).result == "-"
    wrong = bench.graded_path_figure("duplicate", _run("duplicate", status="FAILED"), None, SENT)
    assert wrong.result == "FAIL: execution FAILED (expected SUCCEEDED)"


def test_a_path_that_did_not_run_is_not_measured() -> None:
    figure = bench.graded_path_figure("sms", None, 4, SENT)
    assert figure.result == "n/a" and bench.failing([figure]) == [figure]


def test_every_path_with_a_target_has_an_expectation() -> None:
    assert set(bench.PATH_EXPECTATIONS) == set(bench.PATH_TARGETS) == {p for p, _, _ in bench.path_requests()}


# ---- the behaviour suite ------------------------------------------------------------------------


def test_a_failing_behaviour_suite_fails_however_fast_it_was() -> None:
    figure = bench.suite_figure(bench.SuiteRun(10.0, 1, "1 failed, 51 passed in 10.00s"), 3.0)
    assert figure.value == "3.33 (10.00 s / 3.00 s)"
    assert figure.result == "FAIL: pytest exit 1: 1 failed, 51 passed in 10.00s"
    assert bench.failing([figure]) == [figure]


@pytest.mark.parametrize(
    ("suite", "result"),
    [
        (bench.SuiteRun(30.0, 0, "52 passed"), "PASS"),
        (bench.SuiteRun(60.0, 0, "52 passed"), "MISS"),  # 20x the bare synth, target 15x
        (bench.SuiteRun(None, None, "tests/behaviour collected no tests"), "n/a"),
    ],
)
def test_a_passing_suite_is_graded_on_its_time(suite: bench.SuiteRun, result: str) -> None:
    assert bench.suite_figure(suite, 3.0).result == result


# ---- synth: graded through the CLI, reported in process -------------------------------------------


def test_the_synth_target_is_through_the_cli_at_1_6x() -> None:
    assert bench.CLI_SYNTH_RATIO_TARGET == 1.6


@pytest.mark.parametrize(("app", "result"), [(4.8, "PASS"), (5.0, "MISS"), (None, "n/a")])
def test_a_graded_synth_ratio_passes_within_its_target(app: float | None, result: str) -> None:
    figure = bench.synth_figure("synth", app, 3.0, 1.6)
    assert (figure.target, figure.result) == ("<= 1.6", result)
    assert bench.failing([figure]) == ([] if result == "PASS" else [figure])


def test_a_synth_ratio_without_a_target_is_reported_only_however_high() -> None:
    figure = bench.synth_figure("synth", 7.9, 3.15, None)
    assert figure == bench.Figure("synth", "2.51 (7.90 s / 3.15 s)", "- (reported only)", "-")
    assert bench.failing([figure]) == []


def _synth(cli_app: float, cli_bare: float, app: float = 7.9, bare: float = 3.15) -> bench.SynthTimes:
    wall = {"app": [app], "bare": [bare], bench.CLI_APP_KIND: [cli_app], bench.CLI_BARE_KIND: [cli_bare]}
    return bench.SynthTimes(wall=wall, cpu={kind: list(times) for kind, times in wall.items()})


def _synth_figures(synth: bench.SynthTimes) -> dict[str, bench.Figure]:
    figures = bench.build_figures([], {"Resources": {}}, synth, bench.SuiteRun(None, None, "not run"))
    return {f.name: f for f in figures if f.name.startswith("synth")}


def test_the_cli_ratio_is_graded_and_the_in_process_ratios_are_reported() -> None:
    figures = _synth_figures(_synth(cli_app=7.5, cli_bare=5.0))  # 1.5x through the CLI, 2.5x in process
    cli = figures["synth through the CLI: app / bare app (medians, 1 runs each)"]
    assert (cli.value, cli.target, cli.result) == ("1.50 (7.50 s / 5.00 s)", "<= 1.6", "PASS")
    in_process = [f for name, f in figures.items() if name.startswith("synth in-process: app / bare app")]
    assert [f.value for f in in_process] == ["2.51 (7.90 s / 3.15 s)"] * 2  # wall and CPU
    assert all((f.target, f.result) == ("- (reported only)", "-") for f in in_process)
    assert bench.failing(list(figures.values())) == []


def test_a_cli_ratio_over_1_6x_misses_even_when_the_in_process_ratio_is_low() -> None:
    figures = _synth_figures(_synth(cli_app=8.5, cli_bare=5.0, app=3.5, bare=3.15))
    assert [f.result for f in bench.failing(list(figures.values()))] == ["MISS"]


def test_the_cli_runs_the_app_and_the_bare_app_with_cdk_json_s_python() -> None:
    app_command = json.loads((bench.ROOT / "cdk.json").read_text())["app"]
    assert bench.cli_app_command("app.py") == app_command
    assert bench.cli_app_command("tools/bare_app.py") == app_command.replace("app.py", "tools/bare_app.py")
    assert (bench.ROOT / bench.CLI_SCRIPTS[bench.CLI_BARE_KIND]).is_file()


def test_both_cli_kinds_run_the_same_cdk_synth_but_for_the_app() -> None:
    outdir = bench.ROOT / "scratch"
    app, bare = (bench.child_command(kind, outdir) for kind in (bench.CLI_APP_KIND, bench.CLI_BARE_KIND))
    assert app[:2] == [str(bench.CDK_BIN), "synth"] and "--quiet" in app
    assert app[app.index("--output") + 1] == str(outdir)
    differ = [(a, b) for a, b in zip(app, bare, strict=True) if a != b]
    assert differ == [(bench.cli_app_command("app.py"), bench.cli_app_command("tools/bare_app.py"))]
    assert bench.child_command("bare", outdir)[1:] == ["-c", bench.CHILD_SCRIPT]


def test_the_synth_table_shows_cli_kinds_without_phases() -> None:
    synth = _synth(7.5, 5.0)
    synth.phases["app"] = [{"import_cdk": 1.0, "import_app": 2.0, "build": 1.5, "synth": 3.0}]
    rows = {row[0]: row for row in bench.phase_rows(synth)}
    assert list(rows) == ["app", "bare", bench.CLI_APP_KIND, bench.CLI_BARE_KIND]
    assert rows["app"][1:] == ["7.90 s", "7.90 s", "1.00 s", "2.00 s", "1.50 s", "3.00 s"]
    assert rows[bench.CLI_APP_KIND][1:] == ["7.50 s", "7.50 s", "-", "-", "-", "-"]


# ---- all figures and the exit status ------------------------------------------------------------


def test_failing_picks_fail_miss_and_not_measured() -> None:
    figures = [bench.Figure(name, "1", "-", result) for name, result in [
        ("pass", "PASS"), ("reported", "-"),
        ("miss", "MISS"), ("fail", "FAIL: record FAILED (expected SENT)"),
        ("na", "n/a"),
    ]]
    assert [f.name for f in bench.failing(figures)] == ["miss", "fail", "na"]


def _results(runs: list[bench.PathRun], suite: bench.SuiteRun, synth: bench.SynthTimes) -> bench.Results:
    return bench.Results(bench.build_figures(runs, _template(18), synth, suite, 19_000), runs, synth, None, [])


def _good_runs() -> list[bench.PathRun]:
    rejected = _run("rejected", "FAILED", "REJECTED", REJECTED_STATES)
    both = _run("both", states=["ValidateRequest", "ClaimBoth", "SendBoth", "SendSmsOfBoth", "SendEmailOfBoth",
                                "RecordOutcome"])
    duplicate = _run("duplicate", states=["ValidateRequest", "ClaimSms", "RecordDuplicate"])
    return [_run("sms"), _run("email"), both, rejected, duplicate]


PASSED = bench.SuiteRun(30.0, 0, "52 passed")


@pytest.mark.parametrize(
    ("runs", "suite", "synth", "status"),
    [
        # everything met; the in-process ratio (2.51x) is reported only
        (_good_runs(), PASSED, _synth(7.5, 5.0), 0),
        # one path ended wrong
        ([*_good_runs()[:4], _run("duplicate", record_status=None)], PASSED, _synth(7.5, 5.0), 1),
        # one path entered more states than its target
        ([*_good_runs()[:4], _run("duplicate")], PASSED, _synth(7.5, 5.0), 1),
        # the behaviour suite failed
        (_good_runs(), bench.SuiteRun(30.0, 1, "1 failed"), _synth(7.5, 5.0), 1),
        # synth through the CLI over 1.6x
        (_good_runs(), PASSED, _synth(8.5, 5.0), 1),
    ],
)
def test_bench_exits_non_zero_on_anything_failing_or_missed(
    monkeypatch: pytest.MonkeyPatch, runs: list[bench.PathRun], suite: bench.SuiteRun,
    synth: bench.SynthTimes, status: int,
) -> None:
    results = _results(runs, suite, synth)
    monkeypatch.setattr(bench, "measure", lambda rounds: results)
    monkeypatch.setattr(bench, "jsii_env", lambda: {})

    assert bench.main(["--no-doc"]) == status
