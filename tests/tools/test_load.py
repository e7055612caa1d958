"""tools/load.py's own parts: the provider-call recorder (throttling injected at the given share),
which request a call belongs to, and the benchmarks section it rewrites."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import load


def test_the_recorder_throttles_the_share_it_is_given() -> None:
    never, always, some = load.ProviderCalls(throttle=0.0), load.ProviderCalls(throttle=1.0), load.ProviderCalls(0.2)
    assert [never.record("sms", "x") for _ in range(50)] == [False] * 50
    assert [always.record("sms", "x") for _ in range(50)] == [True] * 50
    throttled = sum(some.record("email", "x") for _ in range(2000))
    assert 300 < throttled < 500
    assert len(some.calls) == 2000 and {c[1] for c in some.calls} == {"email"}


def test_a_call_belongs_to_the_request_whose_text_it_carries() -> None:
    assert load._text_key((0.0, "sms", "load message 12", False)) == "load message 12"
    assert load._text_key((0.0, "email", "<p>timed message 7</p>", False)) == "timed message 7"
    one, twelve = (load._text_key((0.0, "sms", f"load message {n}", False)) for n in (1, 12))
    assert one != twelve


def test_the_load_section_of_the_benchmarks_is_replaced_not_appended(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nkept\n")
    monkeypatch.setattr(load, "DOC", doc)
    figures = {"requests": 10, "lost": [], "sent_twice": ["x"], "executions_per_second": 2.5}

    load.write_doc(figures, ok=False)
    load.write_doc({**figures, "requests": 20}, ok=True)

    text = doc.read_text()
    assert text.count(load.BEGIN) == 1 and "kept" in text
    assert "| requests | 20 |" in text and "**PASS**" in text and "| sent twice | 1 (x...) |" in text
