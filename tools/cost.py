"""What a month of notifications costs: Step Functions Standard, Express, and the Lambda
orchestrator this design replaces.

    python -m tools.cost --volume 1000000 [--mix sms=0.5,email=0.3,both=0.2]   # or: make cost VOLUME=n

The states entered per path are measured: the synthesized template is deployed into the
embedded local AWS and one execution per path (sms, email, both, rejected) is run. The figures
go to docs/states_entered.json, from which ``tools.docs`` prices the README's table without
deploying again. Durations cannot be measured locally (moto's timings say nothing about AWS),
so the Express and Lambda durations below are stated assumptions.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools._asl import ROOT, Template, pick_stack, render_string, synthesize

STATES_ENTERED_PATH = ROOT / "docs" / "states_entered.json"
PATHS: tuple[str, ...] = ("sms", "email", "both", "rejected")
DEFAULT_MIX: dict[str, float] = {"sms": 0.5, "email": 0.3, "both": 0.2}
README_VOLUME = 1_000_000

# ---- list prices, US East (N. Virginia), free tiers left out -------------------------------
# Source: https://aws.amazon.com/step-functions/pricing/ (Standard: state transitions; Express:
# requests and duration, first duration tier, memory billed in 64 MB chunks, 100 ms rounding).
STANDARD_PRICE_PER_TRANSITION = 0.025 / 1_000
EXPRESS_PRICE_PER_REQUEST = 1.00 / 1_000_000
EXPRESS_PRICE_PER_GB_SECOND = 0.00001667
EXPRESS_MEMORY_CHUNK_MB = 64
EXPRESS_DURATION_STEP_MS = 100
# Source: https://aws.amazon.com/lambda/pricing/ (x86, first duration tier, 1 ms billing).
LAMBDA_PRICE_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_PRICE_PER_GB_SECOND = 0.0000166667

# ---- assumptions (durations cannot be measured on the local engine) --------------------------
# Express: a definition of about 20 KB and payloads of a few KB fit in one 64 MB chunk.
EXPRESS_MEMORY_MB = 64
# Express wall time per path: two DynamoDB writes (~10 ms each), one SNS Publish or SES
# SendEmail (~50-150 ms) and Step Functions' own per-state overhead; "both" sends in parallel
# but adds the Parallel state; "rejected" is one write, under the 100 ms minimum.
EXPRESS_DURATION_MS: dict[str, int] = {"sms": 300, "email": 300, "both": 400, "rejected": 100}
# Lambda orchestrator: one warm 128 MB function per notification making the same calls through
# the SDK (client set-up included, cold starts left out); "both" sends one after the other.
LAMBDA_MEMORY_MB = 128
LAMBDA_DURATION_MS: dict[str, int] = {"sms": 400, "email": 400, "both": 600, "rejected": 100}


@dataclass(frozen=True)
class Probe:
    """One request per path and how its execution must end, so a wrong path is not priced."""

    request: dict[str, Any]
    status: str
    error: str | None = None


PROBES: dict[str, Probe] = {
    "sms": Probe({"channel": "sms", "message": "cost probe", "phoneNumber": "+15555550100"}, "SUCCEEDED"),
    "email": Probe({"channel": "email", "message": "cost probe",
                    "email": {"to": "probe@example.org", "subject": "cost probe"}}, "SUCCEEDED"),
    "both": Probe({"channel": "both", "message": "cost probe", "phoneNumber": "+15555550100",
                   "email": {"to": ["probe@example.org"], "subject": "cost probe"}}, "SUCCEEDED"),
    "rejected": Probe({"channel": "sms", "message": "cost probe, no phone number"}, "FAILED", "ValidationError"),
}


# ---- measuring ------------------------------------------------------------------------------


def ses_identities(template: Template) -> list[str]:
    """The SES identities the state machine may send from (its ``ses:SendEmail`` resources)."""
    found: list[str] = []
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::IAM::Policy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement.get("Action")
            if "ses:SendEmail" not in ([actions] if isinstance(actions, str) else actions or []):
                continue
            resources = statement.get("Resource")
            for arn in resources if isinstance(resources, list) else [resources]:
                match = re.search(r":identity/(.+)$", render_string(arn))
                if match and match.group(1) not in found:
                    found.append(match.group(1))
    return found


@contextmanager
def _quiet_engine_log() -> Iterator[None]:
    # moto's ASL engine logs every caught error (e.g. a rejection's failed write or a caught send
    # error) at ERROR level: noise here, since the probe's outcome is checked below.
    engine_log = logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component")
    level = engine_log.level
    engine_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        engine_log.setLevel(level)


def measure_states_entered(template: Template, assembly_dir: Path, stack_name: str) -> dict[str, list[str]]:
    """Deploys the template (with the assembly's assets) once into the in-process local AWS and
    runs one execution per path."""
    from local_aws import LocalAws  # late: moto takes a while to import

    entered: dict[str, list[str]] = {}
    with _quiet_engine_log(), LocalAws.in_process() as local:
        local.publish_assets(assembly_dir, stack_name)
        stack = local.deploy_template("NotifyCdkCostProbe", template)
        local.verify_email_identities(ses_identities(template))
        for path in PATHS:
            probe = PROBES[path]
            result = local.start_and_wait(stack.state_machine_arn, probe.request, name=f"cost-probe-{path}")
            if (result.status, result.error) != (probe.status, probe.error):
                raise RuntimeError(f"the {path} probe ended {result.status} {result.error} ({result.cause}), "
                                   f"expected {probe.status} {probe.error}: not the path to price")
            entered[path] = result.states_entered
    return entered


def states_entered_document(stack_name: str, entered: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    return {
        "about": "States entered per path, measured by `make cost` on the local engine; "
                 "`make docs` prices them for the README. Regenerate with `make cost`.",
        "stack": stack_name,
        "paths": {path: {"count": len(entered[path]), "states": list(entered[path])} for path in PATHS},
    }


def load_states_entered(path: Path = STATES_ENTERED_PATH) -> dict[str, int]:
    document = json.loads(path.read_text())
    return {name: int(document["paths"][name]["count"]) for name in PATHS}


# ---- pricing --------------------------------------------------------------------------------


def parse_mix(text: str) -> dict[str, float]:
    """``sms=0.5,email=0.3,both=0.2`` -> shares that sum to 1 over known paths."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in PATHS:
            raise ValueError(f"unknown path {name!r} in --mix; use {', '.join(PATHS)}")
        try:
            share = float(value)
        except ValueError:
            raise ValueError(f"--mix {name}={value!r}: give a number such as {name}=0.5") from None
        if share < 0:
            raise ValueError(f"--mix {name}={share}: shares cannot be negative")
        mix[name] = share
    if not math.isclose(sum(mix.values()), 1.0, abs_tol=1e-6):
        raise ValueError(f"--mix shares add up to {sum(mix.values()):g}; they must add up to 1")
    return mix


def _gb_seconds(memory_mb: int, duration_ms: float) -> float:
    return memory_mb / 1024 * duration_ms / 1000


def standard_cost(transitions: int) -> float:
    """One Standard execution: billed transitions = states entered (see the notes)."""
    return transitions * STANDARD_PRICE_PER_TRANSITION


def express_cost(duration_ms: int) -> float:
    billed_ms = math.ceil(duration_ms / EXPRESS_DURATION_STEP_MS) * EXPRESS_DURATION_STEP_MS
    memory_mb = math.ceil(EXPRESS_MEMORY_MB / EXPRESS_MEMORY_CHUNK_MB) * EXPRESS_MEMORY_CHUNK_MB
    return EXPRESS_PRICE_PER_REQUEST + _gb_seconds(memory_mb, billed_ms) * EXPRESS_PRICE_PER_GB_SECOND


def lambda_cost(duration_ms: int) -> float:
    return LAMBDA_PRICE_PER_REQUEST + _gb_seconds(LAMBDA_MEMORY_MB, duration_ms) * LAMBDA_PRICE_PER_GB_SECOND


def _money(amount: float, *, cents: bool = False) -> str:
    """Dollars and cents, or (for small monthly totals) enough digits to tell designs apart."""
    if cents or amount == 0 or amount >= 1:
        return f"${amount:,.2f}"
    return f"${amount:.4f}" if amount >= 0.0001 else f"${amount:.2e}"


def _ms(durations: Mapping[str, int]) -> str:
    return "/".join(str(durations[p]) for p in PATHS)


def cost_table(states_entered: Mapping[str, int], volume: int, mix: Mapping[str, float]) -> str:
    """The Markdown table and its notes (what the README shows for 1,000,000 a month)."""
    shares = {path: mix.get(path, 0.0) for path in PATHS}
    mix_text = ", ".join(f"{p} {shares[p]:.0%}" for p in PATHS if shares[p])
    per_notification = {
        "standard": {p: standard_cost(states_entered[p]) for p in PATHS},
        "express": {p: express_cost(EXPRESS_DURATION_MS[p]) for p in PATHS},
        "lambda": {p: lambda_cost(LAMBDA_DURATION_MS[p]) for p in PATHS},
    }
    average_states = sum(shares[p] * states_entered[p] for p in PATHS)
    rows = [
        ("states entered (measured on the local engine)",
         [str(states_entered[p]) for p in PATHS], f"{average_states:g} on average"),
    ]
    labels = {
        "standard": "Step Functions Standard: $0.025 per 1,000 transitions",
        "express": f"Step Functions Express: $1.00 per 1M requests + {EXPRESS_MEMORY_MB} MB × "
                   f"{_ms(EXPRESS_DURATION_MS)} ms",
        "lambda": f"Lambda orchestrator: $0.20 per 1M requests + {LAMBDA_MEMORY_MB} MB × "
                  f"{_ms(LAMBDA_DURATION_MS)} ms",
    }
    for design, label in labels.items():
        costs = per_notification[design]
        monthly = volume * sum(shares[p] * costs[p] for p in PATHS)
        rows.append((label, [_money(costs[p] * 1_000_000, cents=True) for p in PATHS], _money(monthly)))
    header = ["", *(f"{p} (per 1M)" for p in PATHS), f"{volume:,} a month ({mix_text})"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join([label, *cells, total]) + " |" for label, cells, total in rows]
    extra_start = volume * STANDARD_PRICE_PER_TRANSITION
    lines += [
        "",
        "- Billed Standard transitions are taken to be the states entered (the `*StateEntered` history "
        "events, Parallel and branch states included); starting and ending an execution are not counted. "
        f"Were the start billed as one more transition, Standard would cost {_money(extra_start)} more "
        "for this volume. Retries would add one transition each; none happen on these paths.",
        f"- Express durations are assumed ({_ms(EXPRESS_DURATION_MS)} ms for sms/email/both/rejected: "
        "two DynamoDB writes, one SNS or SES call and per-state overhead; the rejected path is under "
        f"the 100 ms minimum) at the {EXPRESS_MEMORY_CHUNK_MB} MB minimum memory; measured durations "
        "on the local engine mean nothing.",
        f"- The Lambda orchestrator is one warm {LAMBDA_MEMORY_MB} MB invocation per notification "
        f"({_ms(LAMBDA_DURATION_MS)} ms; both channels sent one after the other); cold starts are "
        "left out.",
        "- SNS, SES and DynamoDB charges are left out of all three: every design sends the same "
        "messages and writes the same records. Free tiers are left out; prices are us-east-1 list "
        "prices (Step Functions and Lambda pricing pages).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Monthly cost of N notifications, three designs compared.")
    parser.add_argument("--volume", type=int, default=README_VOLUME, help="notifications a month")
    parser.add_argument("--mix", default=",".join(f"{k}={v}" for k, v in DEFAULT_MIX.items()),
                        help="share of each path, e.g. sms=0.5,email=0.3,both=0.2 (paths: sms, email, both, "
                             "rejected)")
    parser.add_argument("--no-measure", action="store_true",
                        help=f"price {STATES_ENTERED_PATH.relative_to(ROOT)} instead of measuring again")
    args = parser.parse_args(argv)
    if args.volume < 0:
        parser.error("--volume must be 0 or more")
    try:
        mix = parse_mix(args.mix)
    except ValueError as error:
        parser.error(str(error))
    if args.no_measure:
        counts = load_states_entered()
    else:
        with tempfile.TemporaryDirectory(prefix="notify-cdk-cost-") as outdir:
            stack_name, template = pick_stack(synthesize(outdir))
            entered = measure_states_entered(template, Path(outdir), stack_name)
        STATES_ENTERED_PATH.parent.mkdir(exist_ok=True)
        STATES_ENTERED_PATH.write_text(json.dumps(states_entered_document(stack_name, entered), indent=2) + "\n")
        print(f"wrote {STATES_ENTERED_PATH.relative_to(ROOT)}\n")
        counts = {path: len(states) for path, states in entered.items()}
    print(cost_table(counts, args.volume, mix), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
