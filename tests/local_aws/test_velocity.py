"""The Velocity stand-in for API Gateway's mapping templates (``local_aws.apigateway.velocity``)."""

from __future__ import annotations

import json

from local_aws.apigateway.velocity import EXAMPLE_REQUEST_ID, CallerIdentity, escape_javascript, render

USER = CallerIdentity(user_arn="arn:aws:iam::123456789012:user/sender", account_id="123456789012",
                      caller="AIDAEXAMPLESENDER", user="AIDAEXAMPLESENDER", access_key="AKIAEXAMPLE")


def test_the_stand_in_escapes_like_commons_lang() -> None:
    assert escape_javascript("""a"b'c\\d/e\nf\tg""") == """a\\"b\\'c\\\\d\\/e\\nf\\tg"""
    assert escape_javascript("é😀\x01") == "\\u00E9\\uD83D\\uDE00\\u0001"


def test_the_stand_in_keeps_backslashes_of_string_literals() -> None:
    assert render("""$input.body.replaceAll("\\\\'", "'")""", "x\\'y").text == "x'y"


def test_replace_all_has_javas_group_references() -> None:
    assert render("#set($a = 'k-1:v')$a.replaceAll('^([^:]+):.*$', '$1')").text == "k-1"


def test_the_caller_identity_fills_context_identity() -> None:
    text = render("$context.identity.userArn|$context.identity.accountId|$context.identity.caller|"
                  "$context.identity.user|$context.identity.accessKey", identity=USER).text
    assert text == "arn:aws:iam::123456789012:user/sender|123456789012|AIDAEXAMPLESENDER|AIDAEXAMPLESENDER|AKIAEXAMPLE"


def test_without_a_caller_identity_the_user_arn_is_empty() -> None:
    assert render("[$!context.identity.userArn]").text == "[]"


def test_an_assumed_role_session_reads_as_its_role() -> None:
    session = CallerIdentity(user_arn="arn:aws:sts::123456789012:assumed-role/Sender/job-7",
                             account_id="123456789012", caller="AROAEXAMPLE:job-7", user="AROAEXAMPLE:job-7")
    template = ("#set($c = \"$!context.identity.userArn\")"
                "$c.replaceAll('^(arn:[^:]+:sts::[0-9]+:assumed-role/[^/]+)/.*$', '$1')")
    assert render(template, identity=session).text == "arn:aws:sts::123456789012:assumed-role/Sender"


def test_input_reads_the_body_and_the_parameters() -> None:
    rendered = render("$input.path('$.a[1]') $input.json('$.b') $input.params('id') $input.params('q') "
                      "$context.requestId $context.httpMethod",
                      json.dumps({"a": [1, 2], "b": {"c": "d"}}), path={"id": "n-1"}, querystring={"q": "x"},
                      context={"httpMethod": "POST"})
    assert rendered.text == f'2 {{"c":"d"}} n-1 x {EXAMPLE_REQUEST_ID} POST'


def test_a_template_overrides_the_status() -> None:
    rendered = render("#set($context.responseOverride.status = 404){}")
    assert rendered.status_override == 404 and rendered.json() == {}
