"""Discovery test fixtures: the mesh's stubs for one test (the discovery processes run
with the mesh's settings; trending snapshots are rebuilt every second, tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.discovery.support import Discovery


@pytest.fixture
def discovery(channel_to) -> Discovery:  # type: ignore[no-untyped-def]
    return Discovery(channel_to)
