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


# ---- synth: the known miss ----------------------------------------------------------------------


def test_a_synth_miss_is_known_while_the_workflow_alone_misses_too() -> None:
    figure = bench.synth_figure("synth", 7.9, 3.15, 1.82)
    assert figure.result == "MISS (known: the workflow alone is 1.82x)"
    assert figure.value == "2.51 (7.90 s / 3.15 s)"
    assert bench.failing([figure]) == []


@pytest.mark.parametrize("floor", [1.2, None])
def test_a_synth_miss_fails_when_the_floor_meets_the_target_or_was_not_measured(floor: float | None) -> None:
    figure = bench.synth_figure("synth", 7.9, 3.15, floor)
    assert figure.result == "MISS"
    assert bench.failing([figure]) == [figure]


def test_a_synth_ratio_within_the_target_passes_whatever_the_floor() -> None:
    assert bench.synth_figure("synth", 4.0, 3.0, 1.9).result == "PASS"
    assert bench.synth_figure("synth", None, 3.0, 1.9).result == "n/a"


# ---- all figures and the exit status ------------------------------------------------------------


def test_failing_picks_fail_miss_and_not_measured() -> None:
    figures = [bench.Figure(name, "1", "-", result) for name, result in [
        ("pass", "PASS"), ("reported", "-"),
        ("known", "MISS (known: the workflow alone is 1.82x)"),
        ("miss", "MISS"), ("fail", "FAIL: record FAILED (expected SENT)"),
        ("na", "n/a"),
    ]]
    assert [f.name for f in bench.failing(figures)] == ["miss", "fail", "na"]


def _synth(app: float, bare: float) -> bench.SynthTimes:
    return bench.SynthTimes(wall={"app": [app], "bare": [bare]}, cpu={"app": [app], "bare": [bare]})


def _profile(workflow: float, bare: float) -> bench.SynthTimes:
    return bench.SynthTimes(wall={bench.WORKFLOW_KIND: [workflow], "bare": [bare]},
                            cpu={bench.WORKFLOW_KIND: [workflow], "bare": [bare]})


def _results(runs: list[bench.PathRun], suite: bench.SuiteRun, synth: bench.SynthTimes,
             profile: bench.SynthTimes | None) -> bench.Results:
    return bench.Results(bench.build_figures(runs, _template(18), synth, suite, profile), runs, synth, profile, [])


def _good_runs() -> list[bench.PathRun]:
    rejected = _run("rejected", "FAILED", "REJECTED", REJECTED_STATES)
    both = _run("both", states=["ValidateRequest", "ClaimBoth", "SendBoth", "SendSmsOfBoth", "SendEmailOfBoth",
                                "RecordOutcome"])
    duplicate = _run("duplicate", states=["ValidateRequest", "ClaimSms", "RecordDuplicate"])
    return [_run("sms"), _run("email"), both, rejected, duplicate]


@pytest.mark.parametrize(
    ("runs", "suite", "profile", "status"),
    [
        # everything met; the synth ratio is a known miss (the floor misses too)
        (_good_runs(), bench.SuiteRun(30.0, 0, "52 passed"), _profile(5.7, 3.15), 0),
        # one path ended wrong
        ([*_good_runs()[:4], _run("duplicate", record_status=None)], bench.SuiteRun(30.0, 0, "52 passed"),
         _profile(5.7, 3.15), 1),
        # one path entered more states than its target
        ([*_good_runs()[:4], _run("duplicate")], bench.SuiteRun(30.0, 0, "52 passed"), _profile(5.7, 3.15), 1),
        # the behaviour suite failed
        (_good_runs(), bench.SuiteRun(30.0, 1, "1 failed"), _profile(5.7, 3.15), 1),
        # the synth miss is the app's own: the workflow alone is within the target
        (_good_runs(), bench.SuiteRun(30.0, 0, "52 passed"), _profile(4.0, 3.15), 1),
    ],
)
def test_bench_exits_non_zero_on_anything_failing_or_missed(
    monkeypatch: pytest.MonkeyPatch, runs: list[bench.PathRun], suite: bench.SuiteRun,
    profile: bench.SynthTimes, status: int,
) -> None:
    results = _results(runs, suite, _synth(7.9, 3.15), profile)
    monkeypatch.setattr(bench, "measure", lambda rounds: results)
    monkeypatch.setattr(bench, "jsii_env", lambda: {})

    assert bench.main(["--no-doc"]) == status
