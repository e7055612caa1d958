"""Generated documentation stays in step with the code: docs/workflow.md, the README's ``api``
and ``cost`` sections, and docs/states_entered.json (which the cost table is priced from).

When one of these fails after a change you meant, run ``make docs`` (or ``make cost`` for
docs/states_entered.json, then ``make docs``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tools._asl import all_states, definition, pick_stack
from tools.bench import PATH_TARGETS
from tools.cost import (
    DEFAULT_MIX,
    PATHS,
    STATES_ENTERED_PATH,
    express_cost,
    lambda_cost,
    measure_states_entered,
    parse_mix,
    standard_cost,
)
from tools.diagram import (
    MARKDOWN_PATH,
    Edge,
    build_graph,
    render_markdown,
    render_readme_section,
    summarize_rules,
    to_mermaid,
)
from tools.docs import README_PATH, parse_params, read_section, render_api, render_cost, replace_section

# ---- docs/workflow.md -----------------------------------------------------------------------


def test_workflow_md_is_what_the_diagram_tool_renders_now(synthesized: Any) -> None:
    expected = render_markdown(synthesized.templates)
    assert MARKDOWN_PATH.read_text() == expected, "docs/workflow.md is stale: run `make diagram`"


def test_readme_shows_the_diagram_of_the_synthesized_definition(synthesized: Any) -> None:
    section = read_section(README_PATH.read_text(), "diagram")
    assert section == render_readme_section(synthesized.templates), "README diagram is stale: run `make docs`"
    assert "ValidateRequest" in section and "SendBoth" in section


def test_mermaid_labels_name_every_state_of_the_definition(synthesized: Any) -> None:
    _, template = pick_stack(synthesized.templates)
    asl = definition(template)
    mermaid = to_mermaid(build_graph(asl))
    # Names must be in the visible labels (quoted text), not only in node ids.
    labels = " ".join(re.findall(r'"([^"]*)"', mermaid)).replace("<br/>", " ")
    missing = [name for name, _ in all_states(asl) if not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", labels)]
    assert missing == []


def test_choice_edges_are_grouped_by_target(synthesized: Any) -> None:
    _, template = pick_stack(synthesized.templates)
    asl = definition(template)
    graph = build_graph(asl)
    validate = next(n.id for n in graph.nodes.values() if n.lines[0] == asl["StartAt"])
    choice = asl["States"][asl["StartAt"]]
    targets = {rule["Next"] for rule in choice["Choices"]}
    out_edges = [e for e in graph.edges if e.source == validate]
    rule_edges = [e for e in out_edges if e.label != ["otherwise"]]
    assert len(rule_edges) == len(targets), "one edge per target node, not one per rule"
    assert [e for e in out_edges if e.label == ["otherwise"]] == [
        Edge(validate, next(n.id for n in graph.nodes.values() if n.lines[0] == choice["Default"]), ["otherwise"])]
    # JSONata conditions are labelled by their comments, not as raw expressions
    labels = [" ".join(e.label) for e in rule_edges]
    assert set(labels) == {rule["Comment"] for rule in choice["Choices"]}
    assert not [label for label in labels if "{%" in label or "$states" in label]


def test_grouped_rules_are_labelled_with_what_they_share() -> None:
    rules = [
        {"And": [{"Variable": "$.channel", "StringEquals": "email"}, {"Variable": "$.email.to", "IsString": True}]},
        {"And": [{"Variable": "$.channel", "StringEquals": "email"},
                 {"Not": {"Variable": "$.email.to", "IsString": True}}]},
    ]
    assert summarize_rules(rules) == "channel == 'email' · 2 rules"
    assert summarize_rules([{"Not": {"Variable": "$.phoneNumber", "IsPresent": True}}]) == "phoneNumber absent"
    assert summarize_rules([rules[0], {"Variable": "$.message", "IsNull": True}]) == \
        "2 rules on channel, email.*, message"


def test_jsonata_rules_are_labelled_by_their_condition() -> None:
    assert summarize_rules([{"Condition": '{% $states.input.channel = "sms" %}', "Next": "X"}]) == "channel == 'sms'"
    assert summarize_rules([{"Condition": "{% $states.input.count != 3 %}"}]) == "count ≠ 3"
    assert summarize_rules([{"Condition": "{% $exists($states.input.email) %}"}]) == "$exists(email)"
    long = ("{% ($i := $states.input; $not($type($i.message) = 'string') or $not($exists($i.email.to)) "
            "or $states.input.phoneNumber = '') %}")
    assert summarize_rules([{"Condition": long}]) == "rule on message, email.*, phoneNumber"
    assert summarize_rules([{"Condition": long}, {"Condition": '{% $states.input.channel = "fax" %}'}]) == \
        "2 rules on message, email.*, phoneNumber, channel"


# ---- README generated sections --------------------------------------------------------------


def test_readme_api_section_is_current() -> None:
    section = read_section(README_PATH.read_text(), "api")
    assert section == render_api()[0].strip("\n") + "\n", "README api section is stale: run `make docs`"


def test_readme_cost_section_is_priced_from_states_entered_json() -> None:
    section = read_section(README_PATH.read_text(), "cost")
    assert section == render_cost().strip("\n") + "\n", "README cost section is stale: run `make docs`"


def test_replace_section_keeps_the_rest_and_needs_markers() -> None:
    text = "# t\n\n<!-- BEGIN GENERATED: x -->\nold\n<!-- END GENERATED: x -->\ntail\n"
    assert replace_section(text, "x", "new\n") == (
        "# t\n\n<!-- BEGIN GENERATED: x -->\n\nnew\n\n<!-- END GENERATED: x -->\ntail\n"
    )
    with pytest.raises(LookupError, match="BEGIN GENERATED: y"):
        replace_section(text, "y", "new")


def test_param_docs_are_read_with_their_defaults() -> None:
    doc = (":param sender: the From address.\n:param timeout: the whole execution.\n"
           "    Default: 5 minutes.\n:raises ValueError: when wrong.")
    params = parse_params(doc)
    assert params["sender"].default is None
    assert (params["timeout"].description, params["timeout"].default) == ("the whole execution.", "5 minutes")


# ---- cost -----------------------------------------------------------------------------------


def test_prices_follow_the_billing_rules() -> None:
    assert standard_cost(6) * 1_000_000 == pytest.approx(150.0)
    # Express: 64 MB minimum and 100 ms steps, so 250 ms bills as 300 ms.
    assert express_cost(250) == pytest.approx(1e-6 + 0.0625 * 0.3 * 0.00001667)
    assert express_cost(250) == express_cost(300)
    assert lambda_cost(400) == pytest.approx(0.2e-6 + 0.125 * 0.4 * 0.0000166667)


def test_mix_must_name_known_paths_and_add_up_to_one() -> None:
    assert parse_mix("sms=0.5,email=0.3,both=0.2") == DEFAULT_MIX
    with pytest.raises(ValueError, match="unknown path 'fax'"):
        parse_mix("fax=1")
    with pytest.raises(ValueError, match="add up to 0.9"):
        parse_mix("sms=0.5,email=0.4")


def test_states_entered_json_matches_a_fresh_run_on_the_local_engine(synthesized: Any) -> None:
    """One deployment and one execution per path (4); the Parallel's branch states may be
    entered in either order, so names are compared as multisets."""
    recorded = json.loads(STATES_ENTERED_PATH.read_text())["paths"]
    stack_name, template = pick_stack(synthesized.templates)

    measured = measure_states_entered(template, synthesized.outdir, stack_name)

    for path in PATHS:
        assert recorded[path]["count"] == len(measured[path]), f"{path}: run `make cost` then `make docs`"
        assert sorted(recorded[path]["states"]) == sorted(measured[path]), f"{path}: run `make cost`"


def test_states_entered_json_meets_the_path_targets() -> None:
    """The priced paths stay within the states-entered targets ``make bench`` grades."""
    recorded = json.loads(STATES_ENTERED_PATH.read_text())["paths"]
    for path in PATHS:
        assert recorded[path]["count"] == len(recorded[path]["states"]), path
        assert recorded[path]["count"] <= PATH_TARGETS[path], (path, recorded[path]["states"])
