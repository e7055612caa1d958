"""NotificationTemplates (issue 14, item 1): the SES templates and the catalogue read from files,
the SES names, the send grant (evaluated by the IAM simulator), each bad prop, cdk-nag, and the
JSONata renderers evaluated by the embedded evaluator and by npm jsonata alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from constructs_lib import NotificationTemplates, PropError
from constructs_lib.templates import catalogue_literal, missing_variables, render_sms, resolve_locale
from local_aws.jsonata import evaluate
from tests.support.asl import DEPLOYED_VALUES, resources_of_type
from tests.support.nag import REPORT_WITHOUT_FAILING, add_all_packs, add_nag_canary, beyond_the_canary
from tools.jsonata_conformance import evaluate_reference

SAMPLES = Path(__file__).resolve().parents[2] / "notification_stack" / "templates"
ACCOUNT, REGION = DEPLOYED_VALUES["AWS::AccountId"], DEPLOYED_VALUES["AWS::Region"]
UNDEFINED = object()


def _stack(name: str = "NotificationStack", app: cdk.App | None = None) -> cdk.Stack:
    return cdk.Stack(app or cdk.App(analytics_reporting=False), name,
                     synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))


@pytest.fixture(scope="module")
def samples() -> tuple[cdk.Stack, NotificationTemplates, dict[str, Any]]:
    stack = _stack()
    templates = NotificationTemplates(stack, "Templates", directory=SAMPLES)
    return stack, templates, dict(Template.from_stack(stack).to_json())


def _write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def _deployed(value: Any) -> Any:
    """A resolved template value with its pseudo parameters as a deployment in us-east-1 gives them."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in DEPLOYED_VALUES:
        return DEPLOYED_VALUES[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        delimiter, parts = value["Fn::Join"]
        return str(delimiter).join(str(_deployed(part)) for part in parts)
    if isinstance(value, dict):
        return {key: _deployed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_deployed(item) for item in value]
    return value


def _sample(relative: str) -> str:
    return (SAMPLES / relative).read_text(encoding="utf-8")


# ---- what is synthesized -----------------------------------------------------------------------


def test_each_locale_with_an_email_becomes_an_ses_template_holding_the_files(samples: Any) -> None:
    _, templates, template = samples
    by_name = {r["Properties"]["Template"]["TemplateName"]: r
               for r in resources_of_type(template, "AWS::SES::Template").values()}
    prefix = templates.name_prefix
    assert set(by_name) == {f"{prefix}-order-shipped-en", f"{prefix}-order-shipped-fr"}
    for locale in ("en", "fr"):
        resource = by_name[f"{prefix}-order-shipped-{locale}"]
        assert resource["Properties"]["Template"] == {
            "TemplateName": f"{prefix}-order-shipped-{locale}",
            "SubjectPart": _sample(f"order-shipped/{locale}/subject.txt").rstrip("\n"),
            "HtmlPart": _sample(f"order-shipped/{locale}/body.html"),
            "TextPart": _sample(f"order-shipped/{locale}/body.txt"),
        }
        assert resource["DeletionPolicy"] == "Delete"
    assert "é" in by_name[f"{prefix}-order-shipped-fr"]["Properties"]["Template"]["SubjectPart"]


def test_the_catalogue_holds_sms_bodies_ses_names_and_each_part_s_variables(samples: Any) -> None:
    _, templates, _ = samples
    prefix = templates.name_prefix
    assert templates.catalogue["verification-code"] == {"default": "en", "locales": {"en": {
        "sms": "Your verification code is {{code}}. It expires in {{minutes}} minutes.",
        "vars": {"sms": ["code", "minutes"]}}}}
    shipped = templates.catalogue["order-shipped"]
    assert shipped["default"] == "en" and set(shipped["locales"]) == {"en", "fr"}
    assert shipped["locales"]["fr"] == {
        "sms": _sample("order-shipped/fr/sms.txt").rstrip("\n"),
        "emailTemplate": f"{prefix}-order-shipped-fr",
        "vars": {"sms": ["firstName", "orderId", "trackingUrl"], "email": ["orderId", "firstName", "trackingUrl"]},
    }
    assert json.loads(json.dumps(templates.catalogue)) == templates.catalogue


def test_ses_names_are_stable_and_apart_for_each_stack_and_construct() -> None:
    def prefix(stack_name: str, construct_id: str = "Templates", **props: Any) -> str:
        return NotificationTemplates(_stack(stack_name), construct_id, directory=SAMPLES, **props).name_prefix

    first = prefix("NotificationStack")
    assert first == prefix("NotificationStack")
    assert len({first, prefix("NotificationStack-staging"), prefix("NotificationStack", "Other")}) == 3
    assert first.startswith("NotificationSt-") and len(first) <= 23
    stack_named = cdk.Stack(cdk.App(analytics_reporting=False), "Id", stack_name="prod-notify")
    named = NotificationTemplates(stack_named, "Templates", directory=SAMPLES)
    assert named.name_prefix.startswith("prod-notify-")
    given = NotificationTemplates(_stack(), "Templates", directory=SAMPLES, name_prefix="acme_v2")
    assert sorted(given.ses_templates) == ["acme_v2-order-shipped-en", "acme_v2-order-shipped-fr"]


def test_grant_send_allows_sending_with_these_templates_only() -> None:
    from local_aws.access.simulator import IamSimulator

    stack = _stack()
    templates = NotificationTemplates(stack, "Templates", directory=SAMPLES, name_prefix="acme")
    role = iam.Role(stack, "Sender", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
    templates.grant_send(role)
    policies = resources_of_type(dict(Template.from_stack(stack).to_json()), "AWS::IAM::Policy")
    (policy,) = policies.values()
    document = _deployed(policy["Properties"]["PolicyDocument"])
    assert document["Statement"] == [{"Action": "ses:SendEmail", "Effect": "Allow", "Resource": [
        f"arn:aws:ses:{REGION}:{ACCOUNT}:template/acme-order-shipped-en",
        f"arn:aws:ses:{REGION}:{ACCOUNT}:template/acme-order-shipped-fr"]}]

    simulator = IamSimulator()
    try:
        def decision(action: str, template_name: str) -> str:
            return str(simulator.simulate({
                "request": {"principal": f"arn:aws:iam::{ACCOUNT}:role/sender", "action": action,
                            "resource": {"resource": f"arn:aws:ses:{REGION}:{ACCOUNT}:template/{template_name}",
                                         "accountId": ACCOUNT},
                            "contextVariables": {}},
                "identityPolicies": [{"name": "grant", "policy": document}],
            })["decision"])

        assert decision("ses:SendEmail", "acme-order-shipped-fr") == "Allowed"
        assert decision("ses:SendEmail", "someone-elses-template") == "ImplicitlyDenied"
        assert decision("ses:CreateEmailTemplate", "acme-order-shipped-fr") == "ImplicitlyDenied"
    finally:
        simulator.close()


def test_grant_send_adds_nothing_when_no_template_has_an_email(tmp_path: Path) -> None:
    stack = _stack()
    templates = NotificationTemplates(stack, "Templates", directory=_write(tmp_path, {"code/en/sms.txt": "{{c}}"}))
    role = iam.Role(stack, "Sender", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
    templates.grant_send(role)
    template = dict(Template.from_stack(stack).to_json())
    assert templates.template_arns == [] and resources_of_type(template, "AWS::IAM::Policy") == {}
    assert resources_of_type(template, "AWS::SES::Template") == {}


def test_the_three_packs_find_nothing_in_the_templates(tmp_path: Path) -> None:
    app = cdk.App(context=REPORT_WITHOUT_FAILING, outdir=str(tmp_path / "out"), analytics_reporting=False)
    stack = cdk.Stack(app, "Templates")
    NotificationTemplates(stack, "Templates", directory=SAMPLES)
    add_all_packs(app)
    add_nag_canary(app)
    app.synth()
    assert beyond_the_canary(tmp_path / "out") == {}


# ---- bad props ---------------------------------------------------------------------------------

_EMAIL = {"subject.txt": "Hello {{name}}\n", "body.txt": "Hi {{name}}"}


def _locale(root: str, files: dict[str, str]) -> dict[str, str | bytes]:
    return {f"{root}/{name}": text for name, text in files.items()}


BAD_LAYOUTS: dict[str, tuple[dict[str, str | bytes], str, str]] = {
    # case: (files, the prop named, words of the fix)
    "a locale without sms or email": ({"welcome/en/.keep": ""}, "directory", "needs an SMS body"),
    "a template without locales": ({"welcome/.keep": "", "other/en/sms.txt": "x"}, "directory",
                                   "neither SMS nor email"),
    "no templates at all": ({".keep": ""}, "directory", "holds no templates"),
    "the default locale missing": ({"welcome/fr/sms.txt": "Salut"}, "default_locale", "has no 'en' locale"),
    "a subject without a body": ({"welcome/en/subject.txt": "Hi"}, "directory", "needs a body"),
    "a body without a subject": ({"welcome/en/body.html": "<p>Hi</p>"}, "directory", "needs a subject"),
    "a block helper": (_locale("w/en", {"sms.txt": "{{#if vip}}VIP {{/if}}hi"}), "directory", "Unsupported"),
    "triple braces": (_locale("w/en", {**_EMAIL, "body.html": "{{{name}}}"}), "directory", "Unsupported"),
    "a path": (_locale("w/en", {"sms.txt": "Hi {{user.name}}"}), "directory", "Unsupported"),
    "a helper's name": (_locale("w/en", {"sms.txt": "{{ lookup }}"}), "directory", "Unsupported"),
    "an escaped placeholder": (_locale("w/en", {"sms.txt": "\\{{name}}"}), "directory", "Unsupported"),
    "a tab inside the braces": (_locale("w/en", {"sms.txt": "{{\tname}}"}), "directory", "Unsupported"),
    "a name with a hyphen": (_locale("w/en", {"sms.txt": "{{first-name}}"}), "directory", "Unsupported"),
    "an unclosed placeholder": (_locale("w/en", {"sms.txt": "Hi {{name"}), "directory", "Unsupported"),
    # The default prefix is 23 characters: <prefix>-<36 characters>-en is 63, -pt-BR 66.
    "an SES name too long": ({**_locale("order-shipped-with-a-long-suffix-xyz/en", _EMAIL),
                              **_locale("order-shipped-with-a-long-suffix-xyz/pt-BR", _EMAIL)},
                             "directory", "is 66 characters, over SES's 64"),
    "a template name in capitals": ({"Welcome/en/sms.txt": "x"}, "directory", "a-z, 0-9 and inner '-'"),
    "a file beside the templates": ({"README.md": "x", "w/en/sms.txt": "x"}, "directory", "template's directory"),
    "a locale in the wrong case": ({"w/en/sms.txt": "x", "w/pt-br/sms.txt": "x"}, "directory", "'pt-BR'"),
    "an unknown file": (_locale("w/en", {"sms.txt": "x", "body.htm": "x"}), "directory", "holds only"),
    "an empty file": (_locale("w/en", {"sms.txt": "\n"}), "directory", "is empty"),
    "a subject of two lines": (_locale("w/en", {**_EMAIL, "subject.txt": "Hello\nthere\n"}), "directory",
                               "one line"),
    "a file that is not UTF-8": ({"w/en/sms.txt": "Ol\xe1".encode("latin-1")}, "directory", "UTF-8"),
    "a part the default lacks": ({"w/en/sms.txt": "x", **_locale("w/fr", _EMAIL)}, "directory",
                                 "has no email body"),
}


@pytest.mark.parametrize("case", sorted(BAD_LAYOUTS))
def test_fails_when_the_directory_holds(case: str, tmp_path: Path) -> None:
    files, prop, fix = BAD_LAYOUTS[case]
    with pytest.raises(PropError) as raised:
        NotificationTemplates(_stack(), "Templates", directory=_write(tmp_path, files))
    assert raised.value.construct == "NotificationTemplates" and raised.value.prop == prop
    assert fix in raised.value.fix, str(raised.value)


@pytest.mark.parametrize(("props", "prop", "fix"), [
    ({"directory": "/nonexistent/templates"}, "directory", "existing directory"),
    ({"directory": SAMPLES, "default_locale": "english"}, "default_locale", "'pt-BR'"),
    ({"directory": SAMPLES, "default_locale": "fr"}, "default_locale", "has no 'fr' locale"),
    ({"directory": SAMPLES, "name_prefix": "acme corp"}, "name_prefix", "1 to 48 characters"),
    ({"directory": SAMPLES, "name_prefix": "x" * 49}, "name_prefix", "1 to 48 characters"),
], ids=["missing directory", "malformed default locale", "a default some template lacks", "prefix with a space",
        "prefix too long"])
def test_fails_when_a_prop_is(props: dict[str, Any], prop: str, fix: str) -> None:
    with pytest.raises(PropError) as raised:
        NotificationTemplates(_stack(), "Templates", **props)
    assert raised.value.prop == prop and raised.value.value == props[prop]
    assert fix in raised.value.fix, str(raised.value)


def test_an_unsupported_placeholder_is_named_with_its_file(tmp_path: Path) -> None:
    files = {"w/en/sms.txt": "ok {{a}}", **_locale("w/fr", {"sms.txt": "x", **_EMAIL, "body.html": "<p>{{#each x}}"})}
    with pytest.raises(PropError) as raised:
        NotificationTemplates(_stack(), "Templates", directory=_write(tmp_path, files))
    assert raised.value.value == "w/fr/body.html" and "'{{#each x}}" in raised.value.fix


# ---- the JSONata pieces, in both engines -------------------------------------------------------


def _python(expression: str, bindings: dict[str, Any]) -> Any:
    value = evaluate(expression, bindings)
    return UNDEFINED if value is None and not evaluate(f"$exists({expression})", bindings) else value


def _agree(cases: list[tuple[str, dict[str, Any], Any]]) -> None:
    """Each expression gives the expected result in the embedded evaluator and in npm jsonata."""
    reference = evaluate_reference([(expression, bindings) for expression, bindings, _ in cases])
    wrong = []
    for (expression, bindings, expected), npm in zip(cases, reference, strict=True):
        python = _python(expression, bindings)
        npm_value = UNDEFINED if npm["kind"] == "undefined" else npm.get("value", npm)
        if python != expected or npm_value != expected:
            shown = {k: v for k, v in bindings.items() if k != "c"}
            wrong.append(f"{shown}: expected {expected!r}, python {python!r}, npm {npm_value!r}")
    assert wrong == []


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The samples and a template with pt, pt-BR and an SMS-only fr, from files."""
    root = tmp_path_factory.mktemp("templates")
    copies = {str(p.relative_to(SAMPLES)): p.read_text(encoding="utf-8") for p in SAMPLES.rglob("*") if p.is_file()}
    _write(root, {**copies, **_locale("greeting/en", {"sms.txt": "Hello", **_EMAIL}),
                  **_locale("greeting/pt", {"sms.txt": "Olá", **_EMAIL}), "greeting/pt-BR/sms.txt": "Oi",
                  "greeting/fr/sms.txt": "Salut"})
    found: dict[str, Any] = NotificationTemplates(_stack(), "Templates", directory=root).catalogue
    return found


def test_resolve_locale_falls_back_to_the_language_then_the_default(catalogue: dict[str, Any]) -> None:
    def case(name: Any, locale: Any, expected: Any, part: str | None = None) -> tuple[str, dict[str, Any], Any]:
        bindings = {"c": catalogue, "n": name, **({} if locale is UNDEFINED else {"q": locale})}
        return resolve_locale("$c", "$n", "$q", part), bindings, expected

    _agree([
        case("order-shipped", "fr", "fr"),
        case("order-shipped", "fr-CA", "fr"),
        case("order-shipped", "FR_ca", "fr"),
        case("order-shipped", "de", "en"),
        case("order-shipped", UNDEFINED, "en"),
        case("order-shipped", None, "en"),
        case("order-shipped", 7, "en"),
        case("order-shipped", "fr\n", "en"),
        case("order-shipped", "fr-", "en"),
        case("greeting", "pt-BR", "pt-BR"),
        case("greeting", "pt-PT", "pt"),
        case("greeting", "pt-BR", "pt", part="email"),
        case("greeting", "fr", "fr", part="sms"),
        case("greeting", "fr", "en", part="email"),
        case("verification-code", "fr", "en", part="sms"),
        case("verification-code", "en", UNDEFINED, part="email"),
        case("no-such-template", "en", UNDEFINED),
        case("constructor", "en", UNDEFINED),
        case(None, "en", UNDEFINED),
        case(["order-shipped"], "en", UNDEFINED),
    ])


def test_missing_variables_names_missing_and_null_values_in_order(catalogue: dict[str, Any]) -> None:
    vars_of = "$lookup($c, $n).locales.en.vars.sms"

    def case(data: Any, expected: list[str], name: str = "order-shipped") -> tuple[str, dict[str, Any], Any]:
        return missing_variables(vars_of, "$d"), {"c": catalogue, "n": name, "d": data}, expected

    _agree([
        case({"firstName": "Ada", "orderId": 42, "trackingUrl": "https://t.example/42"}, []),
        case({"firstName": "", "orderId": 0, "trackingUrl": False}, []),
        case({"firstName": "Ada", "orderId": None}, ["orderId", "trackingUrl"]),
        case({"firstName": {"given": "Ada"}, "orderId": [1], "trackingUrl": "u"}, ["firstName", "orderId"]),
        case("Ada", ["firstName", "orderId", "trackingUrl"]),
        case([{"firstName": "Ada", "orderId": 1, "trackingUrl": "u"}], ["firstName", "orderId", "trackingUrl"]),
        case(None, ["firstName", "orderId", "trackingUrl"]),
        case({}, [], name="no-such-template"),
    ])


def test_render_sms_inserts_values_once_as_text(catalogue: dict[str, Any]) -> None:
    def case(name: str, locale: str, data: Any, expected: Any) -> tuple[str, dict[str, Any], Any]:
        chosen = resolve_locale("$c", "$n", "$q", "sms")
        text = f"$lookup($lookup($c, $n).locales, {chosen}).sms"
        return render_sms(text, "$d"), {"c": catalogue, "n": name, "q": locale, "d": data}, expected

    shipped = {"firstName": "Ada", "orderId": "A-42", "trackingUrl": "https://t.example/A-42"}
    _agree([
        case("order-shipped", "en", shipped,
             "Hi Ada, your order A-42 has shipped. Track it: https://t.example/A-42"),
        case("order-shipped", "fr-BE", shipped,
             "Bonjour Ada, votre commande A-42 a été expédiée. Suivi : https://t.example/A-42"),
        case("verification-code", "de", {"code": 123456, "minutes": 10},
             "Your verification code is 123456. It expires in 10 minutes."),
        case("verification-code", "en", {"code": "004711", "minutes": 1.5},
             "Your verification code is 004711. It expires in 1.5 minutes."),
        case("verification-code", "en", {"code": True, "minutes": 0.1 + 0.2},
             "Your verification code is true. It expires in 0.3 minutes."),
        # Values are not expanded again, and replacement patterns and backslashes are text.
        case("verification-code", "en", {"code": "{{minutes}}", "minutes": "$1 $& $$ \\1 \\\\"},
             "Your verification code is {{minutes}}. It expires in $1 $& $$ \\1 \\\\ minutes."),
        case("verification-code", "en", {"code": None, "minutes": {"m": 1}},
             "Your verification code is . It expires in  minutes."),
        case("verification-code", "en", "not an object", "Your verification code is . It expires in  minutes."),
        case("no-such-template", "en", shipped, UNDEFINED),
    ])


def test_render_sms_reads_spaced_placeholders_and_keeps_other_text() -> None:
    expression = render_sms("$t", "$d")
    _agree([
        (expression, {"t": "{{ a }}-{{b }}-{{  c}} {b} {{}} }} {{", "d": {"a": 1, "b": "é😀", "c": -2}},
         "1-é😀--2 {b} {{}} }} {{"),
        (expression, {"t": 42, "d": {}}, UNDEFINED),
    ])


def test_the_catalogue_literal_is_the_catalogue_in_both_engines(catalogue: dict[str, Any]) -> None:
    with_emoji = {**catalogue, "x": {"default": "en", "locales": {"en": {"sms": "😀 \"q\" \\ \n\t", "vars": {}}}}}
    literal = catalogue_literal(with_emoji)
    _agree([(literal, {}, with_emoji), (f"{literal}.x.locales.en.sms", {}, "😀 \"q\" \\ \n\t")])


def test_the_expressions_bind_their_arguments_before_their_own_names() -> None:
    # The caller's $t, $d, $v... are evaluated in the caller's scope, whatever names we use inside.
    def outer(body: str) -> str:
        return f'($t := "{{{{d}}}}"; $d := {{"d": "x"}}; {body})'

    _agree([
        (outer(render_sms("$t", "$d")), {}, "x"),
        (outer(render_sms('"{{t}}"', '{"t": $t}')), {}, "{{d}}"),
        (outer(missing_variables('["d", "t"]', "$d")), {}, ["t"]),
    ])
