"""Render the synthesized state machine as a Mermaid flowchart (docs/workflow.md) and, where
graphviz is installed, as an SVG (docs/workflow.svg).

    python -m tools.diagram        # or: make diagram

The renderer is a pure function of the template (``render_markdown``), so the docs test can
check docs/workflow.md against the suite's own synthesis without a second one.

Readability rules: the validation Choice has dozens of rules, so states that a Choice reaches in
the same way (same type, same successors, catches and retries) are drawn as one node listing
their names, and the Choice gets one edge per target node, labelled with the rule or with what
the grouped rules share. Catch edges are dashed and labelled with the errors; retry policies are
written on the task.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools._asl import ROOT, Asl, Template, definition, pick_stack, render_string, synthesize

DOCS = ROOT / "docs"
MARKDOWN_PATH = DOCS / "workflow.md"
SVG_PATH = DOCS / "workflow.svg"

_LABEL_WIDTH = 44  # characters per label line before wrapping
_RULE_LIMIT = 60  # longer single rules are summarised by the fields they test
_NAMES_WIDTH = 64  # characters per line of a group's state names

# Default values of the ASL Retrier fields, used when the definition leaves them out.
_RETRY_DEFAULTS = {"IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0}

_COMPARISON_SYMBOLS = {
    "Equals": "==",
    "LessThan": "<",
    "GreaterThan": ">",
    "LessThanEquals": "≤",
    "GreaterThanEquals": "≥",
}
_NEGATED_SYMBOLS = {"==": "≠", "<": "≥", ">": "≤", "≤": ">", "≥": "<"}
_TYPE_TESTS = {"IsString": "string", "IsNumeric": "number", "IsBoolean": "boolean",
               "IsTimestamp": "timestamp", "IsNull": "null"}


# ---- graph model (shared by the Mermaid and DOT writers) ------------------------------------


@dataclass
class Node:
    id: str
    kind: str  # start, end, choice, task, pass, wait, group, fail, succeed
    lines: list[str]


@dataclass
class Edge:
    source: str
    target: str
    label: list[str] = field(default_factory=list)
    dashed: bool = False


@dataclass
class Cluster:
    """A Parallel (or Map) state, whose branches are nested clusters; or one branch, with the
    node its execution starts at and the nodes that end it."""

    id: str
    title: str
    members: list[str | Cluster] = field(default_factory=list)
    entry: str = ""
    exits: list[str] = field(default_factory=list)

    @property
    def branches(self) -> list[Cluster]:
        return [m for m in self.members if isinstance(m, Cluster)]


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    members: list[str | Cluster] = field(default_factory=list)
    clusters: dict[str, Cluster] = field(default_factory=dict)

    def add_edge(self, edge: Edge) -> None:
        if edge not in self.edges:
            self.edges.append(edge)


# ---- Choice rules in a few words ------------------------------------------------------------


def _field(path: str) -> str:
    return path[2:] if path.startswith("$.") else path


def _value(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    return json.dumps(value)


# A JSONata rule reads the input as ``$states.input.<field>`` (or through a variable bound to it).
_JSONATA_INPUT_FIELD = re.compile(r"\$(?:states\.input|i)\.([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)*)")
_JSONATA_EQUALS = re.compile(r'^\$states\.input\.([A-Za-z_][\w.]*) (=|!=) ("[^"]*"|[\w.]+)$')


def jsonata_text(value: Any) -> str:
    """The expression inside ``{% ... %}``, or the value unchanged when it is no expression."""
    text = str(value)
    if text.startswith("{%") and text.endswith("%}"):
        return text[2:-2].strip()
    return text


def _jsonata_condition(expression: str) -> str:
    """``channel == 'sms'`` for ``{% $states.input.channel = "sms" %}``; other conditions as
    written, without the input prefix."""
    text = jsonata_text(expression)
    match = _JSONATA_EQUALS.match(text)
    if match:
        name, operator, operand = match.groups()
        if operand.startswith('"'):
            operand = f"'{operand[1:-1]}'"
        return f"{name} {'==' if operator == '=' else '≠'} {operand}"
    return text.replace("$states.input.", "")


def _comparison(rule: dict[str, Any], negated: bool = False) -> str:
    operator = next(k for k in rule if k not in ("Variable", "Next"))
    variable, operand = _field(str(rule.get("Variable", "$"))), rule[operator]
    if operator == "IsPresent":
        return f"{variable} {'present' if bool(operand) != negated else 'absent'}"
    if operator in _TYPE_TESTS:
        positive = bool(operand) != negated
        return f"{variable} {'is' if positive else 'not'} {_TYPE_TESTS[operator]}"
    if operator == "StringMatches":
        return f"{variable} {'!~' if negated else '~'} '{operand}'"
    is_path = operator.endswith("Path")
    base = operator[:-4] if is_path else operator
    symbol = next((s for suffix, s in _COMPARISON_SYMBOLS.items() if base.endswith(suffix)), base)
    if negated:
        symbol = _NEGATED_SYMBOLS.get(symbol, f"not {symbol}")
    return f"{variable} {symbol} {_field(str(operand)) if is_path else _value(operand)}"


def conjuncts(rule: dict[str, Any]) -> list[dict[str, Any]]:
    """The rule as a flat list of conditions that must all hold (nested Ands flattened)."""
    if "And" in rule:
        return [c for child in rule["And"] for c in conjuncts(child)]
    return [{k: v for k, v in rule.items() if k not in ("Next", "Assign", "Comment")}]


def render_condition(rule: dict[str, Any]) -> str:
    """A compact text form: ``channel == 'sms'``, ``¬(a ∨ b)``, ``x present ∧ y is string``."""
    if "Condition" in rule:  # JSONata: the rule's comment names it when it has one
        return str(rule.get("Comment") or _jsonata_condition(str(rule["Condition"])))
    if "And" in rule:
        return " ∧ ".join(_operand(c) for c in conjuncts(rule))
    if "Or" in rule:
        return " ∨ ".join(_operand(c) for c in rule["Or"])
    if "Not" in rule:
        inner = rule["Not"]
        if "Not" in inner:
            return render_condition(inner["Not"])
        if any(k in inner for k in ("And", "Or")):
            return f"¬({render_condition(inner)})"
        return _comparison(inner, negated=True)
    return _comparison(rule)


def _operand(rule: dict[str, Any]) -> str:
    text = render_condition(rule)
    return f"({text})" if any(k in rule for k in ("And", "Or")) else text


def _fields(rules: Iterable[dict[str, Any]]) -> list[str]:
    """Top-level request fields a rule tests, in order, deeper paths folded (``email.*``)."""
    found: list[str] = []

    def visit(rule: Any) -> None:
        if isinstance(rule, list):
            for item in rule:
                visit(item)
        elif isinstance(rule, dict):
            paths = [_field(str(rule["Variable"]))] if "Variable" in rule else []
            paths += [m.group(1) + m.group(2) for m in _JSONATA_INPUT_FIELD.finditer(str(rule.get("Condition", "")))]
            for path in paths:
                parts = path.split(".")
                name = parts[0] if len(parts) == 1 else f"{parts[0]}.*"
                if name not in found:
                    found.append(name)
            for key in ("And", "Or", "Not"):
                if key in rule:
                    visit(rule[key])

    for rule in rules:
        visit(rule)
    return found


def summarize_rules(rules: Sequence[dict[str, Any]]) -> str:
    """One edge label for the rules of a Choice that lead to the same node."""
    if len(rules) == 1:
        text = render_condition(rules[0])
        return text if len(text) <= _RULE_LIMIT else "rule on " + ", ".join(_fields(rules))
    keyed = [{json.dumps(c, sort_keys=True): c for c in conjuncts(r)} for r in rules]
    common = [c for key, c in keyed[0].items() if all(key in other for other in keyed[1:])]
    if common:
        text = render_condition(common[0] if len(common) == 1 else {"And": common})
        if len(text) <= _RULE_LIMIT:
            return f"{text} · {len(rules)} rules"
    return f"{len(rules)} rules on " + ", ".join(_fields(rules))


# ---- states in a few words ------------------------------------------------------------------


def resource_name(resource: str) -> str:
    """``sns:publish`` for ``arn:${AWS::Partition}:states:::sns:publish``; aws-sdk kept short."""
    tail = resource.split(":::", 1)[-1] if ":::" in resource else resource.rsplit(":", 1)[-1]
    return tail.removeprefix("aws-sdk:")


def _seconds(value: Any) -> str:
    return f"{value:g}s" if isinstance(value, (int, float)) else str(value)


def retry_lines(retriers: Sequence[dict[str, Any]]) -> list[str]:
    """E.g. ``never retried: 7 errors`` and ``retry any error 3× 2s ×2 ≤20s jitter``."""
    lines = []
    for retrier in retriers:
        errors: list[str] = retrier.get("ErrorEquals", [])
        what = "any error" if errors == ["States.ALL"] else errors[0] if len(errors) == 1 else f"{len(errors)} errors"
        attempts = retrier.get("MaxAttempts", _RETRY_DEFAULTS["MaxAttempts"])
        if attempts == 0:
            lines.append(f"never retried: {what}")
            continue
        text = (f"retry {what} {attempts}× "
                f"{_seconds(retrier.get('IntervalSeconds', _RETRY_DEFAULTS['IntervalSeconds']))} "
                f"×{retrier.get('BackoffRate', _RETRY_DEFAULTS['BackoffRate']):g}")
        if "MaxDelaySeconds" in retrier:
            text += f" ≤{_seconds(retrier['MaxDelaySeconds'])}"
        if retrier.get("JitterStrategy") == "FULL":
            text += " jitter"
        lines.append(text)
    return lines


def _catch_label(errors: Sequence[str]) -> list[str]:
    return [errors[0] if len(errors) == 1 else f"{errors[0]} +{len(errors) - 1}"]


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, _LABEL_WIDTH, break_long_words=False, break_on_hyphens=False) or [text]


# ---- definition -> graph --------------------------------------------------------------------


def _signature(state: dict[str, Any]) -> str:
    """States that look alike from the outside: same type, resource, successors and handlers."""
    return json.dumps({
        "Type": state.get("Type"),
        "Resource": state.get("Resource"),
        "Next": state.get("Next"),
        "End": state.get("End"),
        "Catch": [(c.get("ErrorEquals"), c.get("Next")) for c in state.get("Catch", [])],
        "Retry": state.get("Retry"),
    }, sort_keys=True)


def _predecessors(states: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    preds: dict[str, set[tuple[str, str]]] = {name: set() for name in states}

    def add(target: str | None, source: str, kind: str) -> None:
        if target in preds:
            preds[target].add((source, kind))

    for name, state in states.items():
        for rule in state.get("Choices", []):
            add(rule.get("Next"), name, "rule")
        add(state.get("Default"), name, "default")
        add(state.get("Next"), name, "next")
        for catch in state.get("Catch", []):
            add(catch.get("Next"), name, "catch")
    return preds


def _groups(states: dict[str, Any], start: str) -> dict[str, list[str]]:
    """State name -> the names drawn together with it (only states reached by Choice rules)."""
    preds = _predecessors(states)
    buckets: dict[tuple[frozenset[tuple[str, str]], str], list[str]] = {}
    for name, state in states.items():
        sources = preds[name]
        if state.get("Type") not in ("Task", "Pass") or not sources:
            continue
        if any(kind != "rule" or states[source].get("Type") != "Choice" for source, kind in sources):
            continue
        buckets.setdefault((frozenset(sources), _signature(state)), []).append(name)
    order = _reading_order(states, start)
    return {
        name: sorted(members, key=order.index) for members in buckets.values() if len(members) > 1 for name in members
    }


def _successors(state: dict[str, Any]) -> list[str]:
    found = [rule["Next"] for rule in state.get("Choices", [])]
    found += [state[key] for key in ("Default", "Next") if key in state]
    return found + [catch["Next"] for catch in state.get("Catch", [])]


def _reading_order(states: dict[str, Any], start: str) -> list[str]:
    """Breadth-first from the start state, so the text reads the way an execution flows."""
    order: list[str] = []
    queue = [start]
    while queue:
        name = queue.pop(0)
        if name in states and name not in order:
            order.append(name)
            queue.extend(_successors(states[name]))
    return order + [name for name in states if name not in order]


class _Builder:
    def __init__(self) -> None:
        self.graph = Graph()
        self._ids: set[str] = set()

    def new_id(self, name: str) -> str:
        base = "n_" + "".join(ch if ch.isalnum() else "_" for ch in name)
        candidate, n = base, 1
        while candidate in self._ids:
            n += 1
            candidate = f"{base}_{n}"
        self._ids.add(candidate)
        return candidate

    def scope(self, asl: Asl, end_id: str | None) -> tuple[list[str | Cluster], dict[str, str]]:
        """Nodes for one list of states (the machine or a branch); returns its members and
        the node id of each state name."""
        states: dict[str, Any] = asl["States"]
        groups = _groups(states, asl["StartAt"])
        node_of: dict[str, str] = {}
        members: list[str | Cluster] = []
        order = _reading_order(states, asl["StartAt"])
        for name in order:
            state = states[name]
            group = groups.get(name)
            if group and group[0] != name:
                node_of[name] = node_of[group[0]]
                continue
            if state.get("Type") in ("Parallel", "Map"):
                cluster = self.cluster(name, state)
                node_of[name] = cluster.id
                members.append(cluster)
                continue
            node = Node(self.new_id(name if not group else f"group_{name}"), *self._describe(name, state, group))
            self.graph.nodes[node.id] = node
            node_of[name] = node.id
            members.append(node.id)
        for name in order:
            if groups.get(name, [name])[0] == name:
                self.edges(node_of[name], states[name], node_of, end_id)
        return members, node_of

    def cluster(self, name: str, state: dict[str, Any]) -> Cluster:
        title = " · ".join([name, str(state["Type"]), *retry_lines(state.get("Retry", []))])
        cluster = Cluster(self.new_id(name), title)
        branches = state.get("Branches") or [state.get("ItemProcessor") or state.get("Iterator")]
        for index, branch in enumerate(branches, start=1):
            inner, node_of = self.scope(branch, end_id=None)
            title = f"branch {index}" if state["Type"] == "Parallel" else "each item"
            exits = [node_of[n] for n, s in branch["States"].items() if s.get("End") or s.get("Type") == "Succeed"]
            branch_cluster = Cluster(f"{cluster.id}_b{index}", title, inner, node_of[branch["StartAt"]],
                                     list(dict.fromkeys(exits)))
            cluster.members.append(branch_cluster)
            self.graph.clusters[branch_cluster.id] = branch_cluster
        self.graph.clusters[cluster.id] = cluster
        return cluster

    @staticmethod
    def _describe(name: str, state: dict[str, Any], group: list[str] | None) -> tuple[str, list[str]]:
        kind = str(state.get("Type", "")).lower()
        retries = retry_lines(state.get("Retry", []))
        resource = resource_name(render_string(state["Resource"])) if "Resource" in state else ""
        if group:
            title = f"{len(group)} × {state['Type']}" + (f" {resource}" if resource else "")
            names = textwrap.wrap(", ".join(group), _NAMES_WIDTH, break_long_words=False, break_on_hyphens=False)
            return "group", [title, *names, *retries]
        if kind == "choice":
            rules = len(state.get("Choices", []))
            return kind, [name, f"{rules} rule{'s' if rules != 1 else ''}"]
        if kind == "fail":
            error = jsonata_text(state.get("Error") or state.get("ErrorPath") or "")
            return kind, [name] if error == name else [name, f"Fail: {error}"]
        if kind == "task":
            return kind, [name, resource, *retries]
        return kind, [name]

    def edges(self, source: str, state: dict[str, Any], node_of: dict[str, str], end_id: str | None) -> None:
        graph = self.graph
        if state.get("Type") == "Choice":
            by_target: dict[str, list[dict[str, Any]]] = {}
            for rule in state.get("Choices", []):
                by_target.setdefault(node_of[rule["Next"]], []).append(rule)
            for target, rules in by_target.items():
                graph.add_edge(Edge(source, target, _wrap(summarize_rules(rules))))
            if "Default" in state:
                graph.add_edge(Edge(source, node_of[state["Default"]], ["otherwise"]))
        if "Next" in state:
            graph.add_edge(Edge(source, node_of[state["Next"]]))
        if state.get("End") and end_id is not None:
            graph.add_edge(Edge(source, end_id))
        for catch in state.get("Catch", []):
            graph.add_edge(Edge(source, node_of[catch["Next"]], _catch_label(catch["ErrorEquals"]), dashed=True))


def build_graph(asl: Asl) -> Graph:
    """The drawing of a state machine definition, independent of the output format."""
    builder = _Builder()
    graph = builder.graph
    graph.nodes["sm_start"] = Node("sm_start", "start", ["start"])
    graph.nodes["sm_end"] = Node("sm_end", "end", ["end"])
    members, node_of = builder.scope(asl, end_id="sm_end")
    graph.members = ["sm_start", *members, "sm_end"]
    graph.edges.insert(0, Edge("sm_start", node_of[asl["StartAt"]]))
    return graph


# ---- Mermaid --------------------------------------------------------------------------------

_MERMAID_SHAPES = {
    "start": ("((", "))"), "end": ("(((", ")))"), "choice": ("{", "}"), "task": ("[", "]"),
    "group": ("[", "]"), "pass": ("(", ")"), "wait": ("[/", "/]"), "fail": ("([", "])"),
    "succeed": ("([", "])"),
}
_MERMAID_CLASSES = {
    "choice": "fill:#fff4d6,stroke:#b58900",
    "task": "fill:#e8f0fe,stroke:#3367d6",
    "group": "fill:#e8f0fe,stroke:#3367d6,stroke-dasharray:4 2",
    "pass": "fill:#f1f3f4,stroke:#80868b",
    "fail": "fill:#fce8e6,stroke:#c5221f",
    "succeed": "fill:#e6f4ea,stroke:#137333",
}


def _mermaid_text(lines: Sequence[str]) -> str:
    escaped = [line.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
               for line in lines]
    return '"' + "<br/>".join(escaped) + '"'


def to_mermaid(graph: Graph) -> str:
    out = ["flowchart TD"]

    def declare(members: Sequence[str | Cluster], indent: str) -> None:
        for member in members:
            if isinstance(member, Cluster):
                out.append(f"{indent}subgraph {member.id}[{_mermaid_text([member.title])}]")
                declare(member.members, indent + "    ")
                out.append(f"{indent}end")
                continue
            node = graph.nodes[member]
            opening, closing = _MERMAID_SHAPES.get(node.kind, ("[", "]"))
            out.append(f"{indent}{node.id}{opening}{_mermaid_text(node.lines)}{closing}")

    declare(graph.members, "    ")
    for edge in graph.edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f"|{_mermaid_text(edge.label)}|" if edge.label else ""
        out.append(f"    {edge.source} {arrow}{label} {edge.target}")
    for kind, style in _MERMAID_CLASSES.items():
        ids = [n.id for n in graph.nodes.values() if n.kind == kind]
        if ids:
            out.append(f"    classDef {kind} {style}")
            out.append(f"    class {','.join(ids)} {kind}")
    return "\n".join(out) + "\n"


# ---- DOT (graphviz) -------------------------------------------------------------------------

_DOT_SHAPES = {
    "start": 'shape=circle, style=filled, fillcolor="#202124", fontcolor=white',
    "end": 'shape=doublecircle, style=filled, fillcolor="#202124", fontcolor=white',
    "choice": 'shape=diamond, style=filled, fillcolor="#fff4d6"',
    "task": 'shape=box, style=filled, fillcolor="#e8f0fe"',
    "group": 'shape=box, style="filled,dashed", fillcolor="#e8f0fe"',
    "pass": 'shape=box, style="rounded,filled", fillcolor="#f1f3f4"',
    "fail": 'shape=box, style="rounded,filled,bold", fillcolor="#fce8e6"',
    "succeed": 'shape=box, style="rounded,filled,bold", fillcolor="#e6f4ea"',
}


def _dot_text(lines: Sequence[str]) -> str:
    return '"' + "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines) + '"'


def to_dot(graph: Graph) -> str:
    out = ["digraph workflow {", "    rankdir=TB;",
           '    node [fontname="Helvetica", fontsize=10]; edge [fontname="Helvetica", fontsize=9];']

    def declare(members: Sequence[str | Cluster], indent: str) -> None:
        for member in members:
            if isinstance(member, Cluster):
                out.append(f"{indent}subgraph cluster_{member.id} {{")
                out.append(f"{indent}    label={_dot_text([member.title])}; style=rounded;")
                if member.branches:
                    # Fork and join points keep the branches side by side between them.
                    out.append(f"{indent}    {member.id}_fork [shape=point]; {member.id}_join [shape=point];")
                    for branch in member.branches:
                        out.append(f"{indent}    {member.id}_fork -> {branch.entry};")
                        out.extend(f"{indent}    {exit_id} -> {member.id}_join;" for exit_id in branch.exits)
                declare(member.members, indent + "    ")
                out.append(f"{indent}}}")
                continue
            node = graph.nodes[member]
            out.append(f"{indent}{node.id} [label={_dot_text(node.lines)}, {_DOT_SHAPES.get(node.kind, 'shape=box')}];")

    declare(graph.members, "    ")
    for edge in graph.edges:
        attributes = []
        # Edges to or from a Parallel meet its fork and join points.
        source = f"{edge.source}_join" if edge.source in graph.clusters else edge.source
        target = f"{edge.target}_fork" if edge.target in graph.clusters else edge.target
        if edge.label:
            attributes.append(f"label={_dot_text(edge.label)}")
        if edge.dashed:
            attributes.append("style=dashed")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        out.append(f"    {source} -> {target}{suffix};")
    out.append("}")
    return "\n".join(out) + "\n"


# ---- documents ------------------------------------------------------------------------------


def render_readme_section(templates: dict[str, Template]) -> str:
    """The README's ``diagram`` section: the same Mermaid graph as docs/workflow.md."""
    _, template = pick_stack(templates)
    return "```mermaid\n" + to_mermaid(build_graph(definition(template))) + "```\n"


def render_markdown(templates: dict[str, Template]) -> str:
    """docs/workflow.md for these synthesized templates (pure: same templates, same text)."""
    stack_name, template = pick_stack(templates)
    mermaid = to_mermaid(build_graph(definition(template)))
    return (
        "# The notification state machine\n\n"
        "<!-- Generated by `make diagram` (python -m tools.diagram): do not edit by hand. -->\n\n"
        f"Generated by `make diagram` from the synthesized definition of stack `{stack_name}`.\n"
        "States a Choice reaches alike are drawn as one node listing their names; each Choice edge is\n"
        "labelled with its rule, or with what its rules share and how many there are (the first\n"
        "matching rule wins). Dashed edges are `Catch` handlers, labelled with the errors they catch;\n"
        "retry policies are written on the tasks (`×2` is the backoff rate, `≤20s` the delay cap).\n\n"
        "```mermaid\n" + mermaid + "```\n"
    )


def render_dot(templates: dict[str, Template]) -> str:
    _, template = pick_stack(templates)
    return to_dot(build_graph(definition(template)))


def write_svg(dot_source: str, path: Path) -> bool:
    """Writes the SVG when graphviz is installed; the project does not require it."""
    dot = shutil.which("dot")
    if dot is None:
        return False
    svg = subprocess.run([dot, "-Tsvg"], input=dot_source, capture_output=True, text=True, check=True).stdout
    path.write_text(svg)
    return True


def write_docs(templates: dict[str, Template]) -> None:
    DOCS.mkdir(exist_ok=True)
    MARKDOWN_PATH.write_text(render_markdown(templates))
    print(f"wrote {MARKDOWN_PATH.relative_to(ROOT)}")
    if write_svg(render_dot(templates), SVG_PATH):
        print(f"wrote {SVG_PATH.relative_to(ROOT)}")
    else:
        print("skipped docs/workflow.svg: graphviz `dot` is not installed (optional)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--print", action="store_true", help="print the Mermaid text instead of writing docs/")
    args = parser.parse_args(argv)
    templates = synthesize()
    if args.print:
        _, template = pick_stack(templates)
        sys.stdout.write(to_mermaid(build_graph(definition(template))))
        return 0
    write_docs(templates)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
