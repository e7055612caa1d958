"""``make bench``: states per path, Lambda use, synth cost and suite time -> docs/benchmarks.md.

Each figure is graded PASS, MISS (over its target), FAIL (the thing measured went wrong: a path
that ended with another execution or record status than expected, a behaviour suite that did not
pass), n/a (not measured) or "-" (reported only). bench writes the doc either way and exits 1 when
any figure is FAIL, n/a or MISS.

Synth is graded as users meet it: ``cdk synth`` through the CLI, app.py against a bare app with one
empty stack, both on cdk.json's Python, so CLI, Python and jsii start-up weigh on both sides. The
in-process ratio (``App.synth()`` in a fresh interpreter, no CLI) is reported only: its old 1.5x
target was below what even ``NotificationWorkflow`` alone in one stack takes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from tools._common import (
    CDK_BIN,
    EXAMPLES,
    ROOT,
    STACK_NAME,
    cdk_json_context,
    environment_settings,
    isolated_env,
    jsii_env,
    ses_identities,
    tail,
)

DOC = ROOT / "docs" / "benchmarks.md"
SYNTH_ROUNDS = 3
CLI_SYNTH_RATIO_TARGET = 1.6
SUITE_RATIO_TARGET = 15.0
SUITE_PATH = "tests/behaviour"
SUBPROCESS_TIMEOUT_S = 900

# States entered per path, Parallel branches included; None: no target, reported only.
PATH_TARGETS: dict[str, int | None] = {
    "sms": 4,
    "email": 4,
    "both": 6,
    "rejected": 3,
    "duplicate": 3,
}
# States in the definition, those inside Parallel branches included.
DEFINITION_STATES_TARGET = 20
# "20 KB" read strictly: 20,000 bytes (also under 20 KiB), the definition as deployed (tokens resolved).
DEFINITION_BYTES_TARGET = 20_000

# Each child builds and synthesizes in a fresh interpreter and prints its phase times as JSON.
# BENCH_KIND picks the app, the bare app, or the workflow construct alone in one stack (the floor:
# no cdk-nag, monitoring, API or feedback); BENCH_NO_NAG stubs out the validation plugins the stack
# adds and BENCH_SLIM switches the API and feedback off (profiling only); with CDK_PERF_COUNTERS_FILE
# set, a 0 ms slow-synth threshold makes CDK write its own performance counters there, as it does
# for `cdk synth` (profiling only).
CHILD_SCRIPT = """
import json, os, tempfile, time
t0 = time.perf_counter()
import aws_cdk as cdk
t1 = time.perf_counter()
kind = os.environ["BENCH_KIND"]
if os.environ.get("BENCH_NO_NAG"):
    class _NoPlugins:
        def add_plugins(self, *plugins): pass
        def acknowledge(self, *acknowledgments): pass
    cdk.Validations.of = staticmethod(lambda scope: _NoPlugins())
extra = {"@aws-cdk/core.slowSynthThreshold": 0} if os.environ.get("CDK_PERF_COUNTERS_FILE") else {}
if kind == "app":
    import app as app_module
elif kind == "workflow":
    from constructs_lib import NotificationWorkflow
t2 = time.perf_counter()
with tempfile.TemporaryDirectory() as outdir:
    if kind == "app":
        context = {**json.load(open("cdk.json"))["context"], **extra}
        if os.environ.get("BENCH_SLIM"):
            for settings in context["notify-cdk"]["environments"].values():
                settings.update(api=False, deliveryFeedback=False)
        application = cdk.App(context=context, outdir=outdir)
        app_module.build(application)
    else:
        application = cdk.App(outdir=outdir, context=extra) if extra else cdk.App(outdir=outdir)
        stack = cdk.Stack(application, "Bare")
        if kind == "workflow":
            NotificationWorkflow(stack, "Workflow", sender="notifications@example.com",
                                 email_identities=["example.com"])
    t3 = time.perf_counter()
    application.synth()
    t4 = time.perf_counter()
print(json.dumps({"import_cdk": t1 - t0, "import_app": t2 - t1, "build": t3 - t2, "synth": t4 - t3}))
"""
SLIM_KIND = "app without cdk-nag, API or feedback"
WORKFLOW_KIND = "workflow construct alone"
KINDS: dict[str, dict[str, str]] = {
    "app": {"BENCH_KIND": "app"},
    "bare": {"BENCH_KIND": "bare"},
    "app without cdk-nag": {"BENCH_KIND": "app", "BENCH_NO_NAG": "1"},
    SLIM_KIND: {"BENCH_KIND": "app", "BENCH_NO_NAG": "1", "BENCH_SLIM": "1"},
    WORKFLOW_KIND: {"BENCH_KIND": "workflow"},
}
# `cdk synth` through the CLI, app.py and the bare app run by the same command (cdk.json's app with
# its script swapped), so only what app.py builds differs.
CLI_APP_KIND = "app through the CLI"
CLI_BARE_KIND = "bare app through the CLI"
CLI_SCRIPTS: dict[str, str] = {CLI_APP_KIND: "app.py", CLI_BARE_KIND: "tools/bare_app.py"}
PHASES = ("import_cdk", "import_app", "build", "synth")
# CDK's own counters (milliseconds), named as in cdk.out/performance-counters.json.
COUNTERS = ("phase:Load", "phase:Construction", "phase:Synthesis", "validateTemplates",
            "CloudFormationValidate.validate")


# ---- figures and verdicts (pure) ---------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One row of the results table."""

    name: str
    value: str
    target: str
    result: str  # PASS, MISS, n/a, "-" (reported only), or FAIL: why


def verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "n/a"
    return "PASS" if value <= limit else "MISS"


def path_figure(path: str, states: int | None, target: int | None) -> Figure:
    """States entered on one path against its target."""
    name = f"states entered: {path}"
    if states is None:
        return Figure(name, "n/a", "-" if target is None else f"<= {target}", "n/a")
    if target is None:
        return Figure(name, str(states), "- (reported only)", "-")
    return Figure(name, str(states), f"<= {target}", verdict(states, target))


def definition_figure(template: Mapping[str, Any]) -> Figure:
    """States in the state machine's definition (branch states included) against its target."""
    from tools._asl import all_states, state_machines

    machines = list(state_machines(dict(template)).values())
    count = len(list(all_states(machines[0]))) if len(machines) == 1 else None
    return Figure("states in the definition", "n/a" if count is None else str(count),
                  f"<= {DEFINITION_STATES_TARGET}", verdict(count, DEFINITION_STATES_TARGET))


def definition_size_figure(size: int | None) -> Figure:
    """The deployed definition's size in bytes against its target."""
    return Figure("definition size as deployed (bytes)", "n/a" if size is None else f"{size:,}",
                  f"<= {DEFINITION_BYTES_TARGET:,}", verdict(size, DEFINITION_BYTES_TARGET))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


@dataclass(frozen=True)
class PathExpectation:
    """How a path's execution and its delivery-log record must end."""

    status: str
    record_status: str


def path_problem(status: str, record_status: str | None, expected: PathExpectation) -> str | None:
    """Why a path did not end as expected (execution status, then record status), or None."""
    wrong = []
    if status != expected.status:
        wrong.append(f"execution {status} (expected {expected.status})")
    if record_status != expected.record_status:
        wrong.append(f"record {record_status or 'missing'} (expected {expected.record_status})")
    return ", ".join(wrong) or None


def graded_path_figure(path: str, run: PathRun | None, target: int | None,
                       expected: PathExpectation) -> Figure:
    """The states figure of a path, FAIL when the path itself ended wrong (however few states)."""
    if run is None:
        return path_figure(path, None, target)
    figure = path_figure(path, len(run.states), target)
    problem = path_problem(run.status, run.record_status, expected)
    return figure if problem is None else replace(figure, result=f"FAIL: {problem}")


def synth_figure(name: str, app: float | None, bare: float | None, target: float | None) -> Figure:
    """app / bare against its target; with no target (None), reported only."""
    synth_ratio = ratio(app, bare)
    value = f"{_fmt(synth_ratio)} ({_fmt(app, ' s')} / {_fmt(bare, ' s')})"
    if target is None:
        return Figure(name, value, "- (reported only)", "-")
    return Figure(name, value, f"<= {target:g}", verdict(synth_ratio, target))


@dataclass(frozen=True)
class SuiteRun:
    """The behaviour suite's pytest run: wall time, exit status (None: not run) and summary line."""

    wall: float | None
    exit_code: int | None
    summary: str


def suite_figure(suite: SuiteRun, bare: float | None) -> Figure:
    """Suite time over bare synth against its target; FAIL when pytest did not pass."""
    name, target = "behaviour suite / bare synth", f"<= {SUITE_RATIO_TARGET:g}"
    if suite.exit_code is None or suite.wall is None:
        return Figure(name, "n/a", target, "n/a")
    suite_ratio = ratio(suite.wall, bare)
    value = f"{_fmt(suite_ratio)} ({_fmt(suite.wall, ' s')} / {_fmt(bare, ' s')})"
    if suite.exit_code != 0:
        return Figure(name, value, target, f"FAIL: pytest exit {suite.exit_code}: {suite.summary}")
    return Figure(name, value, target, verdict(suite_ratio, SUITE_RATIO_TARGET))


def failing(figures: Sequence[Figure]) -> list[Figure]:
    """Figures that make bench exit 1: FAIL, MISS and n/a."""
    return [f for f in figures if f.result.startswith(("FAIL", "MISS", "n/a"))]


def median_phases(samples: Sequence[Mapping[str, float]], names: Sequence[str] = PHASES) -> dict[str, float]:
    """Median of each named figure across child runs (missing ones count as 0)."""
    return {name: statistics.median(s.get(name, 0.0) for s in samples) if samples else 0.0 for name in names}


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [row(header), "|" + "|".join("---" for _ in header) + "|", *(row(r) for r in rows)]


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]


def lambda_functions_referenced(template: Mapping[str, Any]) -> list[str]:
    """Logical ids of AWS::Lambda::Function resources that a state machine's properties refer to."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    functions = {k for k, r in resources.items() if r.get("Type") == "AWS::Lambda::Function"}
    found: set[str] = set()
    for cfn_resource in resources.values():
        if cfn_resource.get("Type") == "AWS::StepFunctions::StateMachine":
            found |= _referenced_ids(cfn_resource.get("Properties", {})) & functions
    return sorted(found)


def _referenced_ids(value: Any) -> set[str]:
    if isinstance(value, dict):
        found: set[str] = set()
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt" and isinstance(inner, list) and inner:
                found.add(str(inner[0]))
            elif key == "Fn::GetAtt" and isinstance(inner, str):
                found.add(inner.split(".", 1)[0])
            else:
                found |= _referenced_ids(inner)
        return found
    if isinstance(value, list):
        return set().union(*(_referenced_ids(v) for v in value)) if value else set()
    return set()


# ---- measurements ------------------------------------------------------------------------------


@dataclass
class PathRun:
    path: str
    status: str
    error: str | None
    states: list[str]
    lambda_events: int
    record_status: str | None = None  # the delivery-log record's status (None: no record)


@dataclass
class SynthTimes:
    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # user + sys of the child and its jsii node
    phases: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    counters: dict[str, list[dict[str, float]]] = field(default_factory=dict)  # profiled runs only

    def median_wall(self, kind: str) -> float | None:
        runs = self.wall.get(kind)
        return statistics.median(runs) if runs else None

    def median_cpu(self, kind: str) -> float | None:
        runs = self.cpu.get(kind)
        return statistics.median(runs) if runs else None



SENT = PathExpectation("SUCCEEDED", "SENT")
PATH_EXPECTATIONS: dict[str, PathExpectation] = {
    "sms": SENT,
    "email": SENT,
    "both": SENT,
    "rejected": PathExpectation("FAILED", "REJECTED"),
    "duplicate": SENT,  # the first request's record, left as it was
}


def path_requests() -> list[tuple[str, str, dict[str, Any]]]:
    """(path, execution name, request) for one execution per path."""
    def example(name: str, notification_id: str) -> dict[str, Any]:
        request: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
        return {**request, "notificationId": notification_id}

    return [
        ("sms", "bench-sms", example("sms", "bench-sms")),
        ("email", "bench-email", example("email", "bench-email")),
        ("both", "bench-both", example("both", "bench-both")),
        ("rejected", "bench-rejected", example("invalid", "bench-rejected")),
        # Same notificationId as the sms request under a new execution name: the claim finds it.
        ("duplicate", "bench-duplicate", example("sms", "bench-sms")),
    ]


def synthesize_in_process(outdir: Path) -> dict[str, Any]:
    """The dev stack's template, synthesized the way tests/conftest.py does (cdk.json context)."""
    import aws_cdk as cdk

    import app as app_module

    application = cdk.App(context=cdk_json_context(), outdir=str(outdir), analytics_reporting=False)
    app_module.build(application)
    template: dict[str, Any] = application.synth().get_stack_by_name(STACK_NAME).template
    return template


def run_paths(outdir: Path) -> tuple[list[PathRun], int]:
    """Deploy the synthesized assembly (assets included) into an in-process local AWS and run one
    execution per path; also the deployed definition's size in bytes."""
    from local_aws import LocalAws

    runs: list[PathRun] = []
    with LocalAws.in_process() as aws:
        stack = aws.deploy_assembly(outdir, STACK_NAME)
        deployed = aws.client("stepfunctions").describe_state_machine(stateMachineArn=stack.state_machine_arn)
        definition_bytes = len(deployed["definition"].encode())
        aws.verify_email_identities(ses_identities(environment_settings(cdk_json_context())))
        for path, name, request in path_requests():
            result = aws.start_and_wait(stack.state_machine_arn, request, name=name, timeout_s=120)
            record = aws.table_item(stack.table_name, {"notificationId": request["notificationId"]})
            runs.append(PathRun(
                path=path,
                status=result.status,
                error=result.error,
                states=result.states_entered,
                lambda_events=sum(1 for e in result.events if str(e["type"]).startswith("Lambda")),
                record_status=record.get("status") if record else None,
            ))
    return runs, definition_bytes


@dataclass(frozen=True)
class ChildRun:
    wall: float
    cpu: float  # user + sys of the child and of the processes it waits for (the CLI's app, jsii's node)
    phases: dict[str, float]  # empty through the CLI
    counters: dict[str, float]


def cli_app_command(script: str) -> str:
    """cdk.json's app command with its script swapped, so the app and the bare app share a Python."""
    *python, _ = shlex.split(json.loads((ROOT / "cdk.json").read_text())["app"])
    return shlex.join([*python, script])


def child_command(kind: str, outdir: Path) -> list[str]:
    """`cdk synth` into ``outdir`` for a CLI kind, else a fresh interpreter running CHILD_SCRIPT."""
    if kind not in CLI_SCRIPTS:
        return [sys.executable, "-c", CHILD_SCRIPT]
    # --no-version-reporting: app.py switches it off itself; the flag keeps both sides alike anyway.
    return [str(CDK_BIN), "synth", "--quiet", "--no-version-reporting",
            "--app", cli_app_command(CLI_SCRIPTS[kind]), "--output", str(outdir)]


def run_child(kind: str, env: Mapping[str, str], *, profile: bool = False) -> ChildRun:
    """One fresh process that builds and synthesizes: wall and CPU time, phases, CDK counters."""
    with tempfile.TemporaryDirectory() as scratch:
        counters_file = Path(scratch) / "performance-counters.json"
        child_env = {**env, **KINDS.get(kind, {})}
        if profile:
            child_env["CDK_PERF_COUNTERS_FILE"] = str(counters_file)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        completed = subprocess.run(child_command(kind, Path(scratch) / "cdk.out"), cwd=ROOT, env=child_env,
                                   capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if completed.returncode != 0:
            output = f"{completed.stdout}\n{completed.stderr}"  # the CLI reports synth errors on either
            raise RuntimeError(f"{kind} synth exited {completed.returncode}:\n{tail(output)}")
        counters: dict[str, float] = {}
        if counters_file.exists():  # written by the node process as it exits
            raw = json.loads(counters_file.read_text()).get("counters", {})
            counters = {k: float(v) for k, v in raw.items() if not k.endswith("(cnt)")}
    return ChildRun(
        wall=wall,
        cpu=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        phases={} if kind in CLI_SCRIPTS else json.loads(completed.stdout.strip().splitlines()[-1]),
        counters=counters,
    )


def measure_synth(kinds: Sequence[str], rounds: int, *, profile: bool = False) -> SynthTimes:
    """Alternate the kinds round by round, so drift (load, caches) hits them alike."""
    env = isolated_env()
    times = SynthTimes()
    for round_number in range(1, rounds + 1):
        for kind in kinds:
            run = run_child(kind, env, profile=profile)
            times.wall.setdefault(kind, []).append(run.wall)
            times.cpu.setdefault(kind, []).append(run.cpu)
            if run.phases:
                times.phases.setdefault(kind, []).append(run.phases)
            if run.counters:
                times.counters.setdefault(kind, []).append(run.counters)
            print(f"  round {round_number}: {kind:<24} {run.wall:5.2f} s wall, {run.cpu:5.2f} s CPU", flush=True)
    return times


def measure_suite() -> SuiteRun:
    """The behaviour suite's wall time and pytest exit status (exit None: not run)."""
    if not (ROOT / SUITE_PATH).is_dir():
        return SuiteRun(None, None, f"{SUITE_PATH} does not exist yet")
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", SUITE_PATH, "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, env=isolated_env(), capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, check=False,
    )
    wall = time.perf_counter() - start
    summary = tail(completed.stdout, 1)
    if completed.returncode == 5:
        return SuiteRun(None, None, f"{SUITE_PATH} collected no tests")
    return SuiteRun(wall, completed.returncode, summary)


# ---- report ------------------------------------------------------------------------------------


def _fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def build_figures(runs: Sequence[PathRun], template: Mapping[str, Any], synth: SynthTimes,
                  suite: SuiteRun, definition_bytes: int | None = None) -> list[Figure]:
    figures = []
    by_path = {run.path: run for run in runs}
    for path, target in PATH_TARGETS.items():
        figures.append(graded_path_figure(path, by_path.get(path), target, PATH_EXPECTATIONS[path]))
    figures.append(definition_figure(template))
    figures.append(definition_size_figure(definition_bytes))
    lambda_events = sum(run.lambda_events for run in runs)
    figures.append(Figure(f"Lambda history events ({len(runs)} executions)", str(lambda_events), "0",
                          verdict(lambda_events, 0)))
    functions = lambda_functions_referenced(template)
    figures.append(Figure("Lambda functions the state machine uses",
                          f"{len(functions)}" + (f" ({', '.join(functions)})" if functions else ""), "0",
                          verdict(len(functions), 0)))
    bare_s = synth.median_wall("bare")
    rounds = len(synth.wall.get(CLI_APP_KIND, []))
    figures.append(synth_figure(f"synth through the CLI: app / bare app (medians, {rounds} runs each)",
                                synth.median_wall(CLI_APP_KIND), synth.median_wall(CLI_BARE_KIND),
                                CLI_SYNTH_RATIO_TARGET))
    figures.append(synth_figure("synth in-process: app / bare app (wall)", synth.median_wall("app"), bare_s, None))
    figures.append(synth_figure("synth in-process: app / bare app (CPU, less load-sensitive)",
                                synth.median_cpu("app"), synth.median_cpu("bare"), None))
    figures.append(suite_figure(suite, bare_s))
    return figures


def phase_rows(synth: SynthTimes) -> list[list[str]]:
    """Per kind: median wall and CPU of the process, and of each phase inside it ("-": through the CLI)."""
    rows = []
    for kind in synth.wall:
        medians = median_phases(synth.phases[kind]) if kind in synth.phases else None
        rows.append([kind, _fmt(synth.median_wall(kind), " s"), _fmt(synth.median_cpu(kind), " s"),
                     *(_fmt(medians[p], " s") if medians else "-" for p in PHASES)])
    return rows


def counter_rows(synth: SynthTimes) -> list[list[str]]:
    """Per profiled kind: median build and synth, and CDK's own counters (ms shown as s)."""
    rows = []
    for kind, samples in synth.counters.items():
        phases = median_phases(synth.phases[kind])
        counters = median_phases(samples, COUNTERS)
        rows.append([kind, _fmt(synth.median_wall(kind), " s"), _fmt(phases["import_app"], " s"),
                     _fmt(phases["build"], " s"), _fmt(phases["synth"], " s"),
                     *(_fmt(counters[c] / 1000, " s") for c in COUNTERS)])
    return rows


COUNTER_HEADER = ["profiled kind", "wall", "import_app", "build", "synth", *COUNTERS]


def profile_note(profile: SynthTimes) -> str | None:
    """Where the app's extra synth time over the bare app goes, from the profiled runs."""
    kinds = ("app", "app without cdk-nag", "bare")
    if any(kind not in profile.phases or kind not in profile.counters for kind in kinds):
        return None
    phases = {kind: median_phases(profile.phases[kind]) for kind in kinds}
    counters = {kind: median_phases(profile.counters[kind], COUNTERS) for kind in kinds}
    walls = {kind: profile.median_wall(kind) or 0.0 for kind in kinds}
    app, bare, no_nag = phases["app"], phases["bare"], phases["app without cdk-nag"]

    def extra(name: str, source: dict[str, dict[str, float]] = phases, scale: float = 1.0) -> str:
        return f"{(source['app'][name] - source['bare'][name]) / scale:+.2f} s"

    nag = (app["build"] + app["synth"]) - (no_nag["build"] + no_nag["synth"])
    bare_validation = counters["bare"]["validateTemplates"] / 1000
    return (
        f"Where the app's {walls['app'] - walls['bare']:.2f} s over the bare app go (medians of the profiled "
        f"runs): import_app {extra('import_app')}, build {extra('build')} (CDK phase:Construction "
        f"{extra('phase:Construction', counters, 1000)}), synth {extra('synth')} (validateTemplates "
        f"{extra('validateTemplates', counters, 1000)}, phase:Load {extra('phase:Load', counters, 1000)}). "
        f"The stack's cdk-nag packs account for {nag:+.2f} s of build + synth (app vs `Validations.of` "
        f"stubbed out). CDK's built-in template validation (validateTemplates) takes {bare_validation:.2f} s "
        f"of the bare app's {bare['synth']:.2f} s synth, so it weighs on both sides of the ratio."
    )


def floor_note(profile: SynthTimes) -> str | None:
    """What the smaller builds take in process: how much of the app's ratio is the workflow's own."""
    walls = {kind: profile.median_wall(kind) for kind in ("bare", SLIM_KIND, WORKFLOW_KIND)}
    bare, slim, workflow = walls["bare"], walls[SLIM_KIND], walls[WORKFLOW_KIND]
    if bare is None or slim is None or workflow is None:
        return None
    return (
        f"Floor: the {SLIM_KIND} takes {slim:.2f} s ({slim / bare:.2f}x the bare app), and the "
        f"{WORKFLOW_KIND} in one stack (no cdk-nag, monitoring, API or feedback) {workflow:.2f} s "
        f"({workflow / bare:.2f}x), {workflow - bare:.2f} s over the bare app."
    )


def machine_line() -> str:
    versions = []
    for package in ("aws-cdk-lib", "cdk-nag", "moto"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return (f"nproc {len(os.sched_getaffinity(0))}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.machine()}; " + ", ".join(versions))


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min)"


@dataclass
class Results:
    figures: list[Figure]
    runs: list[PathRun]
    synth: SynthTimes
    profile: SynthTimes | None
    notes: list[str]


_PROFILE_TEXT = [
    "Profile, run because the synth ratio through the CLI missed its target; in process: the app, the",
    "app with `Validations.of` stubbed out (no cdk-nag packs), that app also without the API and",
    "feedback, `NotificationWorkflow` alone in one stack, and the bare app, with CDK's own performance",
    "counters on (what `cdk synth` writes to `cdk.out/performance-counters.json`). `validateTemplates`",
    "is the validation step inside synthesis (CDK's built-in CloudFormation validation, then the",
    "plugins the stack adds); `CloudFormationValidate.validate` is the built-in validator's own check.",
]


def write_doc(results: Results, command: str) -> None:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    figures, runs = results.figures, results.runs
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`{command}`) on {now}.",
        f"Machine: {machine_line()}.",
        "",
        *markdown_table(["figure", "value", "target", "result"],
                        [[f.name, f.value, f.target, f.result] for f in figures]),
        "",
        *(f"- {note}" for note in results.notes),
        "",
        "States entered per path: one execution each, the synthesized dev stack deployed into the",
        "in-process local AWS; `*StateEntered` history events, Parallel branches included. The targets",
        "include the idempotency claim (a conditional `putItem` before sending) on each send path.",
        "",
        *markdown_table(["path", "status", "record", "states"],
                        [[r.path, f"{r.status} {r.error or ''}".strip(), r.record_status or "(none)",
                          " -> ".join(r.states)] for r in runs]),
        "",
        f"Synth, graded through the CLI (target <= {CLI_SYNTH_RATIO_TARGET:g}x): `cdk synth --quiet` of app.py with",
        "cdk.json's context, and of `tools/bare_app.py` (one empty stack) run by the same command, each into",
        "a fresh `--output`. In process (reported only; its old 1.5x target was below what",
        "`NotificationWorkflow` alone in one stack takes): a fresh `python` builds the app with cdk.json's",
        "context, or the bare app, and calls `App.synth()`, no CLI. All four kinds alternate round by",
        "round; medians; wall = the whole process, as the ratios use; CPU includes the processes it waits",
        "for (the app under the CLI, jsii's node). `import_app` is `import app` (constructs_lib, cdk-nag),",
        "`build` is `app.build(App(...))`, `synth` is `App.synth()`.",
        "",
        *markdown_table(["kind", "wall", "CPU", *PHASES], phase_rows(results.synth)),
    ]
    if results.profile is not None:
        lines += ["", *_PROFILE_TEXT, "", *markdown_table(COUNTER_HEADER, counter_rows(results.profile))]
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text("\n".join(lines) + "\n")


@contextmanager
def quiet_moto() -> Iterator[None]:
    """moto warns about every resource type it skips and logs engine errors; keep the figures readable."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def measure(rounds: int) -> Results:
    notes = [f"At the start: {load_line()}."]
    print("[1/4] states per path: synthesize in process, deploy to the in-process local AWS, run 5 executions")
    with quiet_moto(), tempfile.TemporaryDirectory() as outdir:
        template = synthesize_in_process(Path(outdir))
        runs, definition_bytes = run_paths(Path(outdir))
    for run in runs:
        print(f"  {run.path:<9} {len(run.states)} states  {run.status} {run.error or ''}".rstrip()
              + f", record {run.record_status or '(none)'}")

    print(f"[2/4] synth: app vs bare app, in process and through the CLI, {rounds} alternating rounds")
    synth = measure_synth(["app", "bare", CLI_APP_KIND, CLI_BARE_KIND], rounds)
    profile = None
    cli_ratio = ratio(synth.median_wall(CLI_APP_KIND), synth.median_wall(CLI_BARE_KIND))
    if cli_ratio is not None and cli_ratio > CLI_SYNTH_RATIO_TARGET:
        print(f"  ratio through the CLI {cli_ratio:.2f} > {CLI_SYNTH_RATIO_TARGET}: "
              "profiling in process (CDK's counters; smaller builds, the floor)")
        profile = measure_synth(["app", "app without cdk-nag", SLIM_KIND, WORKFLOW_KIND, "bare"], rounds,
                                profile=True)
        notes += [note for note in (profile_note(profile), floor_note(profile)) if note]

    print(f"[3/4] behaviour suite: pytest {SUITE_PATH} -q -p no:cacheprovider")
    suite = measure_suite()
    suite_note = suite.summary if not suite.exit_code else f"pytest exit {suite.exit_code}: {suite.summary}"
    print(f"  {_fmt(suite.wall, ' s')}: {suite_note}")
    notes.append(f"Behaviour suite: {suite_note}.")
    notes.append(f"At the end: {load_line()}; figures from a busy machine vary, the ratios less so.")
    return Results(build_figures(runs, template, synth, suite, definition_bytes), runs, synth, profile, notes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=SYNTH_ROUNDS,
                        help=f"synth rounds per kind, in process and through the CLI (default {SYNTH_ROUNDS})")
    parser.add_argument("--no-doc", action="store_true", help=f"do not write {DOC.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    os.environ.update(jsii_env())  # before aws_cdk is imported in this process
    started = time.perf_counter()
    try:
        results = measure(args.rounds)
    except KeyboardInterrupt:
        print("\nbench: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a figure that cannot be measured at all
        print(f"bench: could not measure: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    command = " ".join(["python -m tools.bench", *(sys.argv[1:] if argv is None else argv)])
    results.notes.insert(0, f"Took {elapsed:.0f} s.")
    print("[4/4] figures" + ("" if args.no_doc else f" (written to {DOC.relative_to(ROOT)})"))
    print("\n".join(text_table(["figure", "value", "target", "result"],
                               [[f.name, f.value, f.target, f.result] for f in results.figures])))
    print()
    print("\n".join(text_table(["synth (medians)", "wall", "CPU", *PHASES], phase_rows(results.synth))))
    if results.profile is not None:
        print()
        print("\n".join(text_table(COUNTER_HEADER, counter_rows(results.profile))))
    print()
    print("\n".join(textwrap.fill(note, 100) for note in results.notes))
    if not args.no_doc:
        write_doc(results, command)
    bad = failing(results.figures)
    if bad:
        print(f"bench: {len(bad)} figure(s) FAIL, MISS or n/a: " + "; ".join(f"{f.name}: {f.result}" for f in bad),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
