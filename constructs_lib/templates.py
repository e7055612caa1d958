"""NotificationTemplates: message templates read from files at synth time (issue 14, item 1), and
the JSONata pieces a workflow embeds to choose a locale, name missing variables and render SMS text.

No Lambda renders anything: email bodies become SES stored templates (``AWS::SES::Template``),
which SES renders with the request's data; SMS text goes into the state machine definition (the
``catalogue``) and is rendered there by ``render_sms``.

Layout of ``directory``::

    <template-name>/<locale>/sms.txt        the SMS body
    <template-name>/<locale>/subject.txt    the email subject (one line), with
    <template-name>/<locale>/body.html      the email's HTML body and/or
    <template-name>/<locale>/body.txt       its text body

Template names are ``a-z``, ``0-9`` and inner ``-``; locales are a language (``en``), optionally
with a region (``pt-BR``, ``es-419``). Files and directories starting with ``.`` are ignored.

Placeholders are ``{{name}}``: an identifier (``A-Z a-z 0-9 _``, not starting with a digit),
spaces allowed inside the braces. Nothing else of Handlebars (the language of SES templates) is
accepted, so that SES and the SMS renderer give the same text and every variable a body uses can
be checked before sending (SES does not send an email whose template lacks data, and says so only
in a rendering-failure event):

- blocks and comments (``{{#if}}``, ``{{/if}}``, ``{{else}}``, ``{{! }}``, ``{{> partial}}``);
- unescaped output (``{{{x}}}``, ``{{& x}}``) and escaped braces (``\\{{x}}``);
- paths (``{{a.b}}``, ``{{a/b}}``, ``{{this}}``, ``{{../x}}``): give the data flat;
- the names of Handlebars' built-in helpers (``if``, ``unless``, ``each``, ``with``, ``lookup``,
  ``log``), which Handlebars would call instead of reading the data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ses as ses
from constructs import Construct

from ._props import PropError, is_token
from .contract import compact

__all__ = [
    "EMAIL",
    "SMS",
    "NotificationTemplates",
    "catalogue_literal",
    "missing_variables",
    "placeholders",
    "render_sms",
    "resolve_locale",
]

_NAME = "NotificationTemplates"
#: The channel parts of a locale, as keys of its ``vars`` in the catalogue.
SMS, EMAIL = "sms", "email"
#: SES template names are at most this long (letters, digits, ``_`` and ``-``).
MAX_SES_TEMPLATE_NAME = 64
TEMPLATE_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
#: A language, optionally with a region: ``en``, ``pt-BR``, ``es-419``.
LOCALE = re.compile(r"^[a-z]{2,3}(-([A-Z]{2}|[0-9]{3}))?$")
_PLACEHOLDER = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*) *\}\}")
_HELPERS = frozenset({"if", "unless", "each", "with", "lookup", "log", "else", "this"})
_SMS_FILE, _SUBJECT_FILE, _HTML_FILE, _TEXT_FILE = "sms.txt", "subject.txt", "body.html", "body.txt"
_FILES = (_SMS_FILE, _SUBJECT_FILE, _HTML_FILE, _TEXT_FILE)
#: The default prefix: this much of the stack name, then a hash of the stack name and the path.
_PREFIX_STACK_CHARS = 14


# ---- JSONata -----------------------------------------------------------------------------------
#
# Each function takes JSONata expressions (text, no ``{% %}``) and returns one, to be embedded in
# a state's field. The arguments are passed to a lambda called in place, so they are evaluated in
# the caller's scope before any name of ours is bound: the caller may use any variable names.

_SCALAR_TYPES = '["string", "number", "boolean"]'
# The request's locale as the catalogue spells it (pt_br -> pt-BR), or undefined when it is not a
# language with an optional region. Python's "$" also matches before a final newline, JavaScript's
# does not: a newline is refused outright, so both engines agree.
_CANONICAL_LOCALE = (
    '$type($q) = "string" and $contains($q, /^[A-Za-z]{2,3}([-_]([A-Za-z]{2}|[0-9]{3}))?$/) '
    'and $not($contains($q, "\\n")) ? ($p := $split($q, /[-_]/); '
    '$lowercase($p[0]) & ($count($p) > 1 ? "-" & $uppercase($p[1]) : ""))'
)


def _call(function: str, *arguments: str) -> str:
    return compact(f"(function{function})({', '.join(arguments)})")


def resolve_locale(catalogue_expr: str, name_expr: str, locale_expr: str, part: str | None = None) -> str:
    """JSONata: the locale of template ``name_expr`` to use for the requested ``locale_expr``.

    The first of these the template has: the requested locale (case and ``_`` forgiven:
    ``pt_br`` is ``pt-BR``); its language (``pt-BR`` falls back to ``pt``); the template's default.
    With ``part`` (``"sms"`` or ``"email"``), a locale counts only when it has that channel's body.
    Undefined when ``name_expr`` is not a template of the catalogue (or, with ``part``, when even
    the default has no such body); an absent or malformed locale gives the default.
    """
    if part not in (None, SMS, EMAIL):
        raise PropError("resolve_locale", "part", part, f"Use None, {SMS!r} or {EMAIL!r}.")
    has_part = {None: "", SMS: ' and $type($lookup($l, $k).sms) = "string"',
                EMAIL: ' and $type($lookup($l, $k).emailTemplate) = "string"'}[part]
    body = (
        '($c, $n, $q){('
        '$t := $type($c) = "object" and $type($n) = "string" and $n in $keys($c) ? $lookup($c, $n); '
        '$l := $t.locales; '
        f'$ok := function($k){{$type($k) = "string" and $k in $keys($l){has_part}}}; '
        f'$r := {_CANONICAL_LOCALE}; '
        '$g := $substringBefore($r, "-"); '
        '$ok($r) ? $r : $ok($g) ? $g : $ok($t.default) ? $t.default'
        ')}'
    )
    return _call(body, catalogue_expr, name_expr, locale_expr)


def missing_variables(vars_expr: str, data_expr: str) -> str:
    """JSONata: the names in ``vars_expr`` (an array of strings) that ``data_expr`` does not give
    a usable value for, in order; always an array (``[]`` when none is missing).

    A variable is given when the data is an object whose key holds a string, a number or a
    boolean. An empty string counts as given (it renders as nothing, as SES renders it). A missing
    key, ``null``, an object or an array does not (neither SES nor an SMS can show it), and data
    that is not an object gives nothing.
    """
    body = (
        '($v, $d){('
        '$o := $type($d) = "object" ? $d : {}; '
        '[$filter($v, function($x){$type($x) = "string" and '
        f'$not($type($lookup($o, $x)) in {_SCALAR_TYPES})}})]'
        ')}'
    )
    return _call(body, vars_expr, data_expr)


def render_sms(text_expr: str, data_expr: str) -> str:
    """JSONata: ``text_expr`` with each ``{{name}}`` replaced by the data's value as text: a string
    as it is, a number as JSON writes it (``2``, ``1.5``), a boolean as ``true``/``false``; a
    variable without a usable value (see ``missing_variables``) as nothing. Values are inserted
    once: a value holding ``{{x}}``, ``$1`` or a backslash appears as it is. Undefined when the
    text is not a string.

    The variable's name is read from the whole match, not from a regex group: jsonata-python
    0.7.1 passes the whole match as ``groups[0]`` where the reference passes the first group.
    The spaces inside the braces are ``\\x20`` in the regex: ``compact`` drops a space after ``{``.
    """
    body = (
        '($t, $d){$type($t) = "string" ? $replace($t, /\\{\\{\\x20*[A-Za-z_][A-Za-z0-9_]*\\x20*\\}\\}/, function($m){('
        '$v := $type($d) = "object" ? $lookup($d, $trim($substring($m.match, 2, $length($m.match) - 4))); '
        f'$type($v) in {_SCALAR_TYPES} ? $string($v) : ""'
        ')})}'
    )
    return _call(body, text_expr, data_expr)


def catalogue_literal(catalogue: dict[str, Any]) -> str:
    """The catalogue as a JSONata literal (a JSON object is one): compact, non-ASCII text as it is."""
    return json.dumps(catalogue, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


# ---- reading the files -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Locale:
    sms: str | None
    subject: str | None
    html: str | None
    text: str | None

    @property
    def has_email(self) -> bool:
        return self.subject is not None

    @property
    def parts(self) -> set[str]:
        return ({SMS} if self.sms is not None else set()) | ({EMAIL} if self.has_email else set())


def placeholders(text: str, where: str) -> list[str]:
    """The variables ``text`` uses, in order of first use; ``PropError`` naming ``where`` for
    anything that looks like Handlebars but is not a plain ``{{name}}``."""
    names: list[str] = []
    position = 0
    while (start := text.find("{{", position)) >= 0:
        match = _PLACEHOLDER.match(text, start)
        if match is None or (start > 0 and text[start - 1] in "\\{") or match.group(1) in _HELPERS:
            snippet = text[start:start + 30].split("\n")[0]
            raise PropError(_NAME, "directory", where,
                            f"Unsupported placeholder {snippet!r}: use {{{{name}}}} with name of A-Z, a-z, 0-9 and _ "
                            "(not a Handlebars helper); blocks, paths such as {{a.b}}, {{{triple}}} braces and "
                            "escapes are not supported.")
        if match.group(1) not in names:
            names.append(match.group(1))
        position = match.end()
    return names


def _read(path: Path, shown: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise PropError(_NAME, "directory", shown, f"Save the file as UTF-8 ({error.reason}).") from error
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _one_line(text: str) -> str:
    """A file's text without its final newline (editors add one)."""
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text


def _read_locale(path: Path, shown: str) -> _Locale:
    files = {entry.name for entry in path.iterdir() if not entry.name.startswith(".")}
    unknown = sorted(files - set(_FILES))
    if unknown:
        raise PropError(_NAME, "directory", f"{shown}/{unknown[0]}",
                        f"A locale directory holds only {', '.join(_FILES)}; rename or remove the file.")
    found: dict[str, str] = {}
    for name in sorted(files):
        if not (path / name).is_file():
            raise PropError(_NAME, "directory", f"{shown}/{name}", "This must be a file, not a directory.")
        text = _read(path / name, f"{shown}/{name}")
        if name in (_SMS_FILE, _SUBJECT_FILE):
            text = _one_line(text)
        if not text.strip():
            raise PropError(_NAME, "directory", f"{shown}/{name}", "The file is empty: write the text, or remove it.")
        placeholders(text, f"{shown}/{name}")
        found[name] = text
    subject, bodies = found.get(_SUBJECT_FILE), [f for f in (_HTML_FILE, _TEXT_FILE) if f in found]
    if subject is not None and "\n" in subject.replace("\r\n", "\n"):
        raise PropError(_NAME, "directory", f"{shown}/{_SUBJECT_FILE}", "A subject is one line: remove the line "
                        "breaks.")
    if subject is not None and not bodies:
        raise PropError(_NAME, "directory", f"{shown}/{_SUBJECT_FILE}",
                        f"An email needs a body: add {_HTML_FILE} and/or {_TEXT_FILE} beside the subject.")
    if subject is None and bodies:
        raise PropError(_NAME, "directory", f"{shown}/{bodies[0]}",
                        f"An email needs a subject: add {_SUBJECT_FILE} (one line) beside the body.")
    if _SMS_FILE not in found and subject is None:
        raise PropError(_NAME, "directory", shown,
                        f"A locale needs an SMS body ({_SMS_FILE}) or an email ({_SUBJECT_FILE} with {_HTML_FILE} "
                        f"and/or {_TEXT_FILE}), or both.")
    return _Locale(found.get(_SMS_FILE), subject, found.get(_HTML_FILE), found.get(_TEXT_FILE))


def _subdirectories(path: Path) -> list[Path]:
    return sorted(entry for entry in path.iterdir() if not entry.name.startswith("."))


def _read_templates(directory: Path, default_locale: str) -> dict[str, dict[str, _Locale]]:
    templates: dict[str, dict[str, _Locale]] = {}
    for template in _subdirectories(directory):
        if not template.is_dir() or not TEMPLATE_NAME.match(template.name):
            raise PropError(_NAME, "directory", str(template),
                            "Each entry is a template's directory named with a-z, 0-9 and inner '-', "
                            "such as 'order-shipped'.")
        locales: dict[str, _Locale] = {}
        for locale in _subdirectories(template):
            shown = f"{template.name}/{locale.name}"
            if not locale.is_dir() or not LOCALE.match(locale.name):
                raise PropError(_NAME, "directory", shown, "Each entry of a template is a locale's directory: a "
                                "language such as 'en', optionally with a region such as 'pt-BR' or 'es-419'.")
            locales[locale.name] = _read_locale(locale, shown)
        if not locales:
            raise PropError(_NAME, "directory", template.name,
                            f"The template has neither SMS nor email parts: add {template.name}/{default_locale}/ "
                            f"with {_SMS_FILE} and/or {_SUBJECT_FILE} and a body.")
        if default_locale not in locales:
            raise PropError(_NAME, "default_locale", default_locale,
                            f"Template {template.name!r} has no {default_locale!r} locale (it has "
                            f"{', '.join(locales)}): add {template.name}/{default_locale}/, or give another "
                            "default_locale.")
        default_parts = locales[default_locale].parts
        for name, found in locales.items():
            lacking = sorted(found.parts - default_parts)
            if lacking:
                raise PropError(_NAME, "directory", f"{template.name}/{name}",
                                f"The default locale {default_locale!r} has no {lacking[0]} body, so other locales "
                                f"could not fall back to it: add the {lacking[0]} files to "
                                f"{template.name}/{default_locale}/.")
        templates[template.name] = locales
    if not templates:
        raise PropError(_NAME, "directory", str(directory),
                        "The directory holds no templates: add <template-name>/<locale>/sms.txt (or an email's "
                        "subject.txt and body).")
    return templates


# ---- the construct -----------------------------------------------------------------------------


class NotificationTemplates(Construct):
    """Message templates from files: an SES stored template per (template, locale) with an email
    part, and a ``catalogue`` of the SMS bodies and each part's variables for the workflow to embed.

    The files are read when the app is synthesized: change a file, synthesize and deploy again.
    See the module docstring for the layout and the placeholders.

    :param directory: the templates' directory (``<template-name>/<locale>/<files>``).
    :param default_locale: the locale every template must have, used when a request gives none or
        one the template lacks. Default: ``"en"``.
    :param name_prefix: the start of the SES template names (``<prefix>-<template>-<locale>``, at
        most 64 characters; SES names templates per account and region). Default: up to 14
        characters of the stack name and a hash of the stack name and this construct's path, so
        two stacks (or two of these constructs) in one account do not collide.

    Attributes: :attr:`catalogue`, :attr:`template_arns`, :attr:`ses_templates`,
    :attr:`default_locale`, :attr:`name_prefix`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        directory: str | os.PathLike[str],
        default_locale: str = "en",
        name_prefix: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not isinstance(default_locale, str) or not LOCALE.match(default_locale):
            raise PropError(_NAME, "default_locale", default_locale,
                            "Give a language such as 'en', optionally with a region such as 'pt-BR'.")
        if name_prefix is not None and (is_token(name_prefix) or not isinstance(name_prefix, str)
                                        or not re.match(r"^[A-Za-z0-9_-]{1,48}$", name_prefix)):
            raise PropError(_NAME, "name_prefix", name_prefix,
                            "Give 1 to 48 characters of A-Z, a-z, 0-9, _ and - (known at synth time), or leave it "
                            "out for one derived from the stack.")
        path = Path(directory)
        if not path.is_dir():
            raise PropError(_NAME, "directory", str(directory),
                            f"Give an existing directory (relative paths are from {Path.cwd()}); e.g. "
                            "Path(__file__).parent / 'templates'.")
        templates = _read_templates(path, default_locale)

        #: The locale every template has.
        self.default_locale = default_locale
        #: The start of every SES template name.
        self.name_prefix = name_prefix if name_prefix is not None else self._default_prefix()
        #: The SES templates by SES template name.
        self.ses_templates: dict[str, ses.CfnTemplate] = {}
        #: For the workflow (JSON; ``catalogue_literal`` writes it as JSONata):
        #: ``{template: {"default": locale, "locales": {locale: {"sms": text, "emailTemplate": ses
        #: name, "vars": {"sms": [...], "email": [...]}}}}}``, a part's keys only when it has that part.
        self.catalogue: dict[str, Any] = {}
        taken: dict[str, str] = {}
        for name, locales in templates.items():
            entries: dict[str, Any] = {}
            for locale_name, locale in locales.items():
                entry: dict[str, Any] = {"vars": {}}
                if locale.sms is not None:
                    entry["sms"] = locale.sms
                    entry["vars"][SMS] = placeholders(locale.sms, "")
                if locale.has_email:
                    ses_name = self._ses_name(name, locale_name, taken)
                    self.ses_templates[ses_name] = self._ses_template(name, locale_name, ses_name, locale)
                    entry["emailTemplate"] = ses_name
                    entry["vars"][EMAIL] = placeholders(
                        "\n".join(t for t in (locale.subject, locale.html, locale.text) if t is not None), "")
                entries[locale_name] = entry
            self.catalogue[name] = {"default": default_locale, "locales": entries}

    @property
    def template_arns(self) -> list[str]:
        """The ARNs of the SES templates (``arn:<partition>:ses:<region>:<account>:template/<name>``),
        for IAM: SES authorizes a templated ``SendEmail`` on the template too."""
        stack = cdk.Stack.of(self)
        return [stack.format_arn(service="ses", resource="template", resource_name=name,
                                 arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME) for name in self.ses_templates]

    def grant_send(self, grantee: iam.IGrantable) -> iam.Grant:
        """``ses:SendEmail`` on these templates (the sender identity and any configuration set are
        granted where they are: the action needs them too). A grant without effect when no template
        has an email part."""
        arns = self.template_arns
        if not arns:
            return iam.Grant.drop(grantee, "no template has an email part")
        return iam.Grant.add_to_principal(grantee=grantee, actions=["ses:SendEmail"], resource_arns=arns)

    def _default_prefix(self) -> str:
        stack = cdk.Stack.of(self)
        stack_name = "" if is_token(stack.stack_name) else stack.stack_name
        digest = hashlib.sha256(f"{stack_name}/{self.node.path}".encode()).hexdigest()[:8]
        readable = re.sub(r"[^A-Za-z0-9-]", "", stack_name)[:_PREFIX_STACK_CHARS].strip("-")
        return f"{readable}-{digest}" if readable else digest

    def _ses_name(self, name: str, locale: str, taken: dict[str, str]) -> str:
        ses_name = f"{self.name_prefix}-{name}-{locale}"
        if len(ses_name) > MAX_SES_TEMPLATE_NAME:
            raise PropError(_NAME, "directory", f"{name}/{locale}",
                            f"Its SES template name {ses_name!r} is {len(ses_name)} characters, over SES's "
                            f"{MAX_SES_TEMPLATE_NAME}: shorten the template's directory name or give a shorter "
                            "name_prefix.")
        other = taken.setdefault(ses_name.lower(), f"{name}/{locale}")
        if other != f"{name}/{locale}":
            raise PropError(_NAME, "directory", f"{name}/{locale}",
                            f"Its SES template name {ses_name!r} is also {other}'s (SES may not tell case apart): "
                            "rename one of the templates.")
        return ses_name

    def _ses_template(self, name: str, locale_name: str, ses_name: str, locale: _Locale) -> ses.CfnTemplate:
        assert locale.subject is not None  # only locales with an email part have one
        template = ses.CfnTemplate(self, _construct_id(name, locale_name), template=ses.CfnTemplate.TemplateProperty(
            template_name=ses_name, subject_part=locale.subject, html_part=locale.html, text_part=locale.text))
        # The content lives in the app's files: nothing is lost when a template is removed.
        template.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
        return template


def _construct_id(name: str, locale: str) -> str:
    """``order-shipped`` in ``pt-BR`` -> ``OrderShippedPtBR``; a ``-`` before a digit is kept
    (``a-1`` and ``a1`` stay apart)."""
    words = re.split(r"-(?=[A-Za-z])", f"{name}-{locale}")
    return "".join(word[:1].upper() + word[1:] for word in words)
