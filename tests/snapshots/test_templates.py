"""One JSON snapshot per stack template: guards against drift, never replaces an assertion."""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension


def mask_asset_keys(data: Any, path: Any) -> Any:
    """Lambda code is addressed by a hash of its files; the handler has its own tests, so the
    snapshot keeps the shape and not the hash."""
    names = [str(part[0]) for part in path]
    if names[-2:] == ["Code", "S3Key"] and isinstance(data, str):
        return "<asset hash>.zip"
    return data


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    # extension first, then matcher: the other order drops the matcher
    return snapshot.use_extension(JSONSnapshotExtension)(matcher=mask_asset_keys)


def test_every_stack_template_matches_its_snapshot(synthesized: Any, snapshot_json: SnapshotAssertion) -> None:
    assert sorted(synthesized.templates) == ["NotifyCdk-dev"]
    for name, template in sorted(synthesized.templates.items()):
        assert template == snapshot_json(name=name)
