"""Synthesizing the app in process and reading the state machine definition out of a template.

Shared by the diagram, cost and docs tools. Tools do not import ``tests``: the test suite has
its own reader (``tests/support/asl.py``) with a different job (plausible deployed values).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STATE_MACHINE_TYPE = "AWS::StepFunctions::StateMachine"

# CDK appends an 8-character hash to logical ids; it only makes placeholders harder to read.
_CDK_HASH = re.compile(r"^(?P<base>.+?)[0-9A-F]{8}$")

Template = dict[str, Any]
Asl = dict[str, Any]


def cdk_json_context() -> dict[str, Any]:
    """``App()`` does not read cdk.json: the tools pass its context so they see what deploys."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def synthesize(outdir: str | None = None) -> dict[str, Template]:
    """Templates by stack name, synthesized in this process as ``app.py`` would; the assembly
    (with its assets) stays in ``outdir`` when one is given."""
    import aws_cdk as cdk  # late: importing aws_cdk starts jsii (about a second)

    import app as app_module

    with tempfile.TemporaryDirectory(prefix="notify-cdk-") as scratch:
        application = cdk.App(context=cdk_json_context(), outdir=outdir or scratch, analytics_reporting=False)
        app_module.build(application)
        assembly = application.synth()
        return {stack.stack_name: stack.template for stack in assembly.stacks}


def placeholder(ref: str) -> str:
    """``${WorkflowDeliveryLogTable}`` for ``{"Ref": "WorkflowDeliveryLogTableB6298F67"}``."""
    match = _CDK_HASH.match(ref)
    return "${" + (match.group("base") if match and "::" not in ref else ref) + "}"


def _join_part(part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict) and "Ref" in part:
        return placeholder(str(part["Ref"]))
    if isinstance(part, dict) and "Fn::GetAtt" in part:
        logical_id, attribute = part["Fn::GetAtt"]
        return placeholder(str(logical_id))[:-1] + f".{attribute}}}"
    return "${token}"


def render_string(value: Any) -> str:
    """A CloudFormation string value (literal or ``Fn::Join``) with references as placeholders."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_join_part(p) for p in parts)
    return _join_part(value)


def state_machines(template: Template) -> dict[str, Asl]:
    """The parsed ASL of every state machine in the template, by logical id."""
    found: dict[str, Asl] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != STATE_MACHINE_TYPE:
            continue
        body = resource["Properties"]["DefinitionString"]
        found[logical_id] = json.loads(render_string(body))
    return found


def definition(template: Template) -> Asl:
    """The ASL of the template's one state machine."""
    machines = state_machines(template)
    if len(machines) != 1:
        raise LookupError(f"expected one {STATE_MACHINE_TYPE}, found {sorted(machines)}")
    return next(iter(machines.values()))


def pick_stack(templates: dict[str, Template]) -> tuple[str, Template]:
    """The first stack (by name) holding exactly one state machine: every environment builds
    the same workflow, so one stands for all in the docs."""
    for name in sorted(templates):
        if len(state_machines(templates[name])) == 1:
            return name, templates[name]
    raise LookupError(f"no stack with one state machine among {sorted(templates)}")


def all_states(asl: Asl) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, those inside Parallel branches (and Map iterators) included."""
    for name, state in asl["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from all_states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from all_states(state[key])
