"""API Gateway's mapping-template engine, as far as our templates need it: Velocity 1.7 (airspeed
renders it) with ``$input``, ``$util`` and ``$context`` as API Gateway defines them.

``render(template, body, path=..., querystring=..., header=..., identity=...)`` gives the text and
the ``$context.responseOverride.status`` the template set. Two Velocity 1.7 habits are kept where
airspeed differs: backslashes in string literals reach Java's regex untouched, and String methods
have Java's meaning (``replaceAll``'s ``$1``, ``matches`` on the whole string).
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

import airspeed

#: The request id ``render`` uses unless given one (the shape of API Gateway's).
EXAMPLE_REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

_MISSING = object()
_PATH_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['([^']*)'\]")


def _jsonpath(document: Any, expression: str) -> Any:
    """The JSONPath subset mapping templates use: $, $.a.b, $.a[0], $['a']."""
    if not expression.startswith("$"):
        raise ValueError(f"not a JSONPath: {expression!r}")
    value, position = document, 1
    while position < len(expression):
        token = _PATH_TOKEN.match(expression, position)
        if token is None:
            raise ValueError(f"unsupported JSONPath: {expression!r}")
        name, index, quoted = token.groups()
        key: Any = int(index) if index is not None else (name if name is not None else quoted)
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return _MISSING
        position = token.end()
    return value


class FakeInput:
    """``$input`` over a JSON body: ``path`` gives values, ``json`` gives JSON text, ``params``
    looks in path, query string, then headers (as API Gateway does)."""

    def __init__(self, body: str, *, path: dict[str, str] | None = None,
                 querystring: dict[str, str] | None = None, header: dict[str, str] | None = None,
                 raw_root: bool = False) -> None:
        self.body = body
        self._raw_root = raw_root  # json('$') returns the body as sent rather than re-serialized
        self._params = {"path": path or {}, "querystring": querystring or {}, "header": header or {}}

    def _document(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None

    def path(self, expression: str) -> Any:
        value = _jsonpath(self._document(), expression)
        return None if value is _MISSING else value

    def json(self, expression: str) -> str:
        if self._raw_root and expression == "$":
            return self.body
        value = _jsonpath(self._document(), expression)
        # What API Gateway writes for an absent path is not something a template should rely on.
        assert value is not _MISSING, f"template used $input.json on an absent path {expression!r}"
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return self._params
        for location in ("path", "querystring", "header"):
            if name in self._params[location]:
                return self._params[location][name]
        return ""


def escape_javascript(text: Any) -> str:
    """commons-lang ``StringEscapeUtils.escapeJavaScript``, which ``$util.escapeJavaScript`` is:
    quotes (both), backslash and slash escaped, control and non-ASCII characters as \\uXXXX of
    their UTF-16 code units."""
    out = []
    units = str(text).encode("utf-16-be")
    for i in range(0, len(units), 2):
        code = int.from_bytes(units[i:i + 2], "big")
        char = chr(code) if code < 0xD800 or code > 0xDFFF else ""
        if code > 0x7F:
            out.append(f"\\u{code:04X}")
        elif code < 32:
            out.append({8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}.get(code, f"\\u{code:04X}"))
        else:
            out.append({"'": "\\'", '"': '\\"', "\\": "\\\\", "/": "\\/"}.get(char, char))
    return "".join(out)


class FakeUtil:
    def escapeJavaScript(self, text: Any) -> str:  # noqa: N802 - API Gateway's names
        return escape_javascript(text)

    def parseJson(self, text: str) -> Any:  # noqa: N802
        return json.loads(text)

    def urlEncode(self, text: str) -> str:  # noqa: N802
        return urllib.parse.quote_plus(text)

    def urlDecode(self, text: str) -> str:  # noqa: N802
        return urllib.parse.unquote_plus(text)

    def base64Encode(self, text: str) -> str:  # noqa: N802
        return base64.b64encode(text.encode()).decode()

    def base64Decode(self, text: str) -> str:  # noqa: N802
        return base64.b64decode(text).decode()


def _java_replace_all(text: str, pattern: str, replacement: str) -> str:
    """Java's String.replaceAll: ``$n`` in the replacement is a group, ``\\x`` a literal x."""
    def expand(match: re.Match[str]) -> str:
        out, i = [], 0
        while i < len(replacement):
            char = replacement[i]
            if char == "\\" and i + 1 < len(replacement):
                out.append(replacement[i + 1])
                i += 2
            elif char == "$":
                digits = re.match(r"\d+", replacement[i + 1:])
                if not digits:
                    raise ValueError(f"bad group reference in {replacement!r}")
                out.append(match.group(int(digits.group())) or "")
                i += 1 + len(digits.group())
            else:
                out.append(char)
                i += 1
        return "".join(out)
    return re.sub(pattern, expand, text)


# Java String methods the templates may call (airspeed knows a few, with Python semantics).
_JAVA_STRING = {
    "replaceAll": _java_replace_all,
    "matches": lambda s, pattern: re.fullmatch(pattern, s) is not None,
    "contains": lambda s, part: part in s,
    "substring": lambda s, begin, end=None: s[begin:end],
    "indexOf": lambda s, part: s.find(part),
    "lastIndexOf": lambda s, part: s.rfind(part),
    "length": lambda s: len(s),
    "isEmpty": lambda s: not s,
    "equals": lambda s, other: s == other,
    "split": lambda s, pattern: re.split(pattern, s),
    "toLowerCase": lambda s: s.lower(),
    "trim": lambda s: s.strip(),
}
_NEVER = re.compile(r"(?!)")


@contextmanager
def _velocity_1_7() -> Iterator[None]:
    """Velocity 1.7 (API Gateway's) keeps backslashes in string literals, so "\\\\'" reaches
    Java's regex as \\\\' ; airspeed would unescape it. Java string methods replace airspeed's."""
    methods = airspeed.__additional_methods__
    with mock.patch.object(airspeed.StringLiteral, "ESCAPED_CHAR", _NEVER), \
            mock.patch.object(airspeed.InterpolatedStringLiteral, "ESCAPED_CHAR", _NEVER), \
            mock.patch.dict(methods[str], _JAVA_STRING):
        yield


@dataclass(frozen=True)
class CallerIdentity:
    """``$context.identity`` of an IAM-authorized request: who signed it.

    For an IAM user ``user_arn`` is ``arn:aws:iam::<account>:user/<name>`` and ``user`` and
    ``caller`` are its unique id (AIDA...); for assumed-role credentials ``user_arn`` is
    ``arn:aws:sts::<account>:assumed-role/<role>/<session>`` and ``user``/``caller`` are
    ``<role id>:<session>`` (AROA...:session), as API Gateway fills them."""

    user_arn: str
    account_id: str
    caller: str
    user: str
    access_key: str = ""
    source_ip: str = "127.0.0.1"

    def as_context(self) -> dict[str, Any]:
        return {"userArn": self.user_arn, "accountId": self.account_id, "caller": self.caller,
                "user": self.user, "accessKey": self.access_key, "sourceIp": self.source_ip}


# Without a caller (unit tests, or authorization NONE): what an unauthenticated request has.
_ANONYMOUS = {"sourceIp": "192.0.2.1", "caller": "AROAEXAMPLE:ci"}


class Rendered:
    def __init__(self, text: str, context: dict[str, Any]) -> None:
        self.text = text
        self.status_override = context["responseOverride"]["status"]
        self.header_overrides: dict[str, str] = dict(context["responseOverride"]["header"])

    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError as exc:
            raise AssertionError(f"not JSON: {exc}\n{self.text}") from exc


def render(template: str, body: str = "", *, request_id: str = EXAMPLE_REQUEST_ID, raw_root: bool = False,
           identity: CallerIdentity | None = None, context: dict[str, Any] | None = None,
           **params: dict[str, str]) -> Rendered:
    """Renders ``template`` for a request with ``body`` and ``path``/``querystring``/``header``
    parameters; ``identity`` fills ``$context.identity``, ``context`` adds other ``$context``
    fields (``httpMethod``, ``resourcePath``, ...)."""
    merged: dict[str, Any] = {
        "stage": "v1",
        **(context or {}),
        "requestId": request_id,
        "responseOverride": {"status": None, "header": {}},
        "identity": identity.as_context() if identity is not None else dict(_ANONYMOUS),
    }
    with _velocity_1_7():
        text = airspeed.Template(template).merge(
            {"input": FakeInput(body, raw_root=raw_root, **params), "util": FakeUtil(), "context": merged}
        )
    return Rendered(text, merged)
