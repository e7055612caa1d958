"""One JSON snapshot per stack template: guards against drift, never replaces an assertion."""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


def test_every_stack_template_matches_its_snapshot(synthesized: Any, snapshot_json: SnapshotAssertion) -> None:
    assert sorted(synthesized.templates) == ["NotifyCdk-dev"]
    for name, template in sorted(synthesized.templates.items()):
        assert template == snapshot_json(name=name)
