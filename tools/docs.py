"""Regenerate the generated documentation: docs/workflow.md (and .svg), and the README's
``api``, ``cost`` and ``capacity`` sections.

    python -m tools.docs            # or: make docs
    python -m tools.docs --check    # exit 1 when something generated is stale; writes nothing
    python -m tools.docs --gaps     # list props whose docstring gives no default

The cost table is priced from docs/states_entered.json (``make cost`` measures it), for
1,000,000 notifications a month and the default mix. Only the text between a section's
``<!-- BEGIN GENERATED: name -->`` and ``<!-- END GENERATED: name -->`` markers is replaced.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import enum
import importlib
import inspect
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tools._asl import ROOT

README_PATH = ROOT / "README.md"
API_MODULE = "constructs_lib"
_MARKERS = ("<!-- BEGIN GENERATED: {name} -->", "<!-- END GENERATED: {name} -->")
_DEFAULT_RE = re.compile(r"\bDefault:\s*(?P<default>.*)$", re.DOTALL)


# ---- README sections ------------------------------------------------------------------------


def section_pattern(name: str) -> re.Pattern[str]:
    begin, end = (m.format(name=name) for m in _MARKERS)
    return re.compile(re.escape(begin) + r"\n(?P<body>.*?)" + re.escape(end), re.DOTALL)


def read_section(text: str, name: str) -> str:
    """The body between a section's markers (without the blank lines that pad it)."""
    match = section_pattern(name).search(text)
    if match is None:
        raise LookupError(f"README has no generated section {name!r}: add the markers "
                          f"{_MARKERS[0].format(name=name)} and {_MARKERS[1].format(name=name)}")
    return match.group("body").strip("\n") + "\n"


def replace_section(text: str, name: str, body: str) -> str:
    read_section(text, name)  # raises with the markers to add when they are missing
    begin, end = (m.format(name=name) for m in _MARKERS)
    return section_pattern(name).sub(lambda _: f"{begin}\n\n{body.strip(chr(10))}\n\n{end}", text, count=1)


# ---- API reference from constructs_lib ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ParamDoc:
    description: str
    default: str | None  # the text after "Default:", when the docstring gives one


def _markdown(text: str) -> str:
    """reST inline markup as Markdown: ``x`` and :role:`x` become `x`."""
    text = re.sub(r":[a-z]+:`([^`]+)`", r"`\1`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def parse_params(doc: str) -> dict[str, ParamDoc]:
    """``:param name: text`` fields of a docstring, continuation lines included."""
    params: dict[str, ParamDoc] = {}
    current: str | None = None
    parts: list[str] = []

    def flush() -> None:
        if current is not None:
            text = " ".join(parts).strip()
            match = _DEFAULT_RE.search(text)
            default = match.group("default").strip().rstrip(".") if match else None
            description = text[: match.start()].strip() if match else text
            params[current] = ParamDoc(description, default)

    for line in doc.splitlines():
        field = re.match(r"^:param\s+(?P<name>\w+):\s*(?P<text>.*)$", line)
        if field:
            flush()
            current, parts = field.group("name"), [field.group("text")]
        elif current is not None and line.startswith((" ", "\t")) and line.strip():
            parts.append(line.strip())
        else:
            flush()
            current, parts = None, []
    flush()
    return params


def summary(doc: str) -> str:
    """The docstring up to its first field list (``:param`` ...), as Markdown paragraphs."""
    kept: list[str] = []
    for line in doc.splitlines():
        if line.startswith(":"):
            break
        kept.append(line)
    return _markdown("\n".join(kept).strip())


def render_default(value: Any) -> str:
    """A stable text for a default value (never an object address)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, (tuple, list)) and all(isinstance(v, (bool, int, float, str)) for v in value):
        return repr(value)
    human = getattr(value, "to_human_string", None)
    if callable(human):  # cdk.Duration: "5 minutes" -> Duration.minutes(5)
        match = re.fullmatch(r"(\d+) (second|minute|hour|day)s?", str(human()))
        return f"Duration.{match.group(2)}s({match.group(1)})" if match else f"Duration({human()!r})"
    return type(value).__name__


def _signature_defaults(obj: Callable[..., Any]) -> tuple[inspect.Signature, dict[str, str]]:
    """The signature without ``self``, and each defaulted parameter's default as text."""
    signature = inspect.signature(obj)
    field_factories: dict[str, Callable[[], Any]] = {}
    if dataclasses.is_dataclass(obj):
        field_factories = {
            f.name: f.default_factory for f in dataclasses.fields(obj) if f.default_factory is not dataclasses.MISSING
        }
    defaults: dict[str, str] = {}
    for name, parameter in signature.parameters.items():
        if name in field_factories:
            defaults[name] = render_default(field_factories[name]())
        elif parameter.default is not inspect.Parameter.empty:
            defaults[name] = render_default(parameter.default)
    return signature, defaults


def _signature_text(name: str, signature: inspect.Signature, defaults: dict[str, str]) -> str:
    parts: list[str] = []
    star_seen = False
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and not star_seen:
            parts.append("*")
        star_seen = star_seen or parameter.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_POSITIONAL)
        text = _bare(parameter)
        annotation = parameter.annotation
        if annotation is not inspect.Parameter.empty:
            # Annotations are strings under `from __future__ import annotations`; types otherwise.
            text += f": {annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)}"
        if parameter.name in defaults:
            text += f" = {defaults[parameter.name]}"
        parts.append(text)
    returns = signature.return_annotation
    suffix = f" -> {returns}" if returns not in (inspect.Signature.empty, "None", None) else ""
    if len(parts) <= 2 and sum(len(p) for p in parts) < 60:
        return f"{name}({', '.join(parts)}){suffix}"
    return f"{name}(\n" + "".join(f"    {p},\n" for p in parts) + f"){suffix}"


def _bare(parameter: inspect.Parameter) -> str:
    if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
        return f"*{parameter.name}"
    if parameter.kind is inspect.Parameter.VAR_KEYWORD:
        return f"**{parameter.name}"
    return parameter.name


def _attributes(cls: type) -> list[tuple[str, str]]:
    """Public attributes set in ``__init__`` (``self.x = ...``), with their ``#:`` comment."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return []
    lines = source.splitlines()
    found: dict[str, str] = {}
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.FunctionDef) and node.name == "__init__"):
            continue
        for statement in ast.walk(node):
            if isinstance(statement, ast.Assign):
                targets = statement.targets
            elif isinstance(statement, ast.AnnAssign):
                targets = [statement.target]
            else:
                continue
            for target in targets:
                if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                        and target.value.id == "self" and not target.attr.startswith("_")
                        and target.attr not in found):
                    comment: list[str] = []
                    index = statement.lineno - 2
                    while index >= 0 and lines[index].strip().startswith("#:"):
                        comment.insert(0, lines[index].strip()[2:].strip())
                        index -= 1
                    found[target.attr] = " ".join(comment)
    return sorted(found.items(), key=lambda item: source.find(f"self.{item[0]}"))


def _members(cls: type) -> list[tuple[str, Any]]:
    """Public methods and properties defined by the class itself, in source order."""
    members = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if inspect.isfunction(member) or isinstance(member, (property, staticmethod, classmethod)):
            members.append((name, member))
    return members


def _first_paragraph(doc: str | None) -> str:
    return _markdown(" ".join((doc or "").strip().split("\n\n")[0].split())) if doc else ""


def _document_class(name: str, cls: type, gaps: list[str]) -> list[str]:
    doc = inspect.getdoc(cls) or ""
    params = parse_params(doc)
    target: Callable[..., Any] = cls if dataclasses.is_dataclass(cls) else cls.__init__  # type: ignore[misc]
    signature, defaults = _signature_defaults(target)
    parameters = [p for p in signature.parameters.values() if p.name != "self"]
    signature = signature.replace(parameters=parameters)
    out = [f"### `{name}`", "", "```python", _signature_text(name, signature, defaults), "```", ""]
    if summary(doc):
        out += [summary(doc), ""]
    else:
        gaps.append(f"{name}: no docstring")
    rows = []
    for parameter in parameters:
        if parameter.name in ("scope", "construct_id"):
            continue
        documented = params.get(parameter.name)
        if parameter.name in defaults:
            if documented and documented.default:
                default = _markdown(documented.default)
            else:
                default = f"`{defaults[parameter.name]}`"
                gaps.append(f"{name}.{parameter.name}: no documented default (signature: {defaults[parameter.name]})")
        else:
            default = "required"
        if documented is None:
            gaps.append(f"{name}.{parameter.name}: not in the docstring's :param list")
        description = _markdown(documented.description) if documented else ""
        rows.append(f"| `{parameter.name}` | {_cell(default)} | {_cell(description)} |")
    if rows:
        out += ["| prop | default | description |", "|---|---|---|", *rows, ""]
    attributes = _attributes(cls)
    methods = _members(cls)
    if attributes or methods:
        out += ["Attributes and methods:", ""]
    for attribute, comment in attributes:
        out.append(f"- `{attribute}`" + (f": {_markdown(comment)}" if comment else ""))
        if not comment:
            gaps.append(f"{name}.{attribute}: attribute without a `#:` comment")
    for member_name, member in methods:
        # Properties are documented by their getter, static and class methods by their function.
        function: Callable[..., Any] = getattr(member, "fget", None) or getattr(member, "__func__", member)
        if isinstance(member, property):
            text = f"`{member_name}` (property)"
        else:
            member_signature, member_defaults = _signature_defaults(function)
            kept = [p for p in member_signature.parameters.values() if p.name != "self"]
            text = f"`{_signature_text(member_name, member_signature.replace(parameters=kept), member_defaults)}`"
            if "\n" in text:  # a long signature reads better as names only
                text = f"`{member_name}({', '.join(_bare(p) for p in kept)})`"
        first = _first_paragraph(inspect.getdoc(function))
        out.append(f"- {text}" + (f": {first}" if first else ""))
        if not first:
            gaps.append(f"{name}.{member_name}: no docstring")
    if attributes or methods:
        out.append("")
    return out


def _document_function(name: str, function: Callable[..., Any], gaps: list[str]) -> list[str]:
    signature, defaults = _signature_defaults(function)
    first = _first_paragraph(inspect.getdoc(function))
    if not first:
        gaps.append(f"{name}: no docstring")
    return [f"### `{name}`", "", "```python", _signature_text(name, signature, defaults), "```", "",
            *([first, ""] if first else [])]


def render_api(module_name: str = API_MODULE) -> tuple[str, list[str]]:
    """The Markdown API reference of every name in ``module.__all__``, and the docstring gaps."""
    module = importlib.import_module(module_name)
    gaps: list[str] = []
    out = [f"Generated by `make docs` from the docstrings of every name in `{module_name}.__all__`; "
           "construct props are keyword-only.", ""]
    constants = []
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value):
            out += _document_class(name, value, gaps)
        elif inspect.isfunction(value):
            out += _document_function(name, value, gaps)
        else:
            constants.append(f"- `{name} = {render_default(value)}`")
    if constants:
        out += ["### Constants", "", *constants, ""]
    return "\n".join(out).strip("\n") + "\n", gaps


# ---- cost section ---------------------------------------------------------------------------


def render_cost() -> str:
    from tools.cost import DEFAULT_MIX, README_VOLUME, cost_table, load_states_entered

    return cost_table(load_states_entered(), README_VOLUME, DEFAULT_MIX)


def render_capacity() -> str:
    """The capacity tables (tools/capacity.py) for the same states entered."""
    from tools.capacity import readme_section
    from tools.cost import load_states_entered

    return readme_section(load_states_entered())


# ---- command --------------------------------------------------------------------------------


def expected_files(templates: dict[str, Any]) -> dict[Path, str]:
    """Every generated text file (README included) as it should read now."""
    from tools.diagram import MARKDOWN_PATH, render_markdown, render_readme_section

    readme = README_PATH.read_text()
    readme = replace_section(readme, "diagram", render_readme_section(templates))
    readme = replace_section(readme, "api", render_api()[0])
    readme = replace_section(readme, "cost", render_cost())
    readme = replace_section(readme, "capacity", render_capacity())
    return {MARKDOWN_PATH: render_markdown(templates), README_PATH: readme}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate docs/workflow.md and the README's generated sections.")
    parser.add_argument("--check", action="store_true", help="report stale files and exit 1; write nothing")
    parser.add_argument("--gaps", action="store_true", help="list docstring gaps in the public API and exit")
    args = parser.parse_args(argv)
    if args.gaps:
        for gap in render_api()[1]:
            print(gap)
        return 0

    from tools._asl import synthesize
    from tools.diagram import write_docs

    templates = synthesize()
    stale = [path for path, text in expected_files(templates).items()
             if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run `make docs`)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in expected_files(templates).items():
        if path.name == "README.md" and path.read_text() != text:
            path.write_text(text)
            print(f"updated {path.relative_to(ROOT)}: generated sections diagram, api, cost, capacity")
    write_docs(templates)
    gaps = render_api()[1]
    if gaps:
        print(f"{len(gaps)} docstring gaps in the public API (python -m tools.docs --gaps)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
