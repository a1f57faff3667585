"""Fixtures of the client tests: a scripted gRPC server to call (probe.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.client.probe import Script, start_probe


@pytest.fixture
async def probe() -> AsyncIterator[tuple[Script, str]]:
    """(script, target) of a fresh probe server, stopped after the test."""
    script = Script()
    server, target = await start_probe(script)
    yield script, target
    await server.stop(None)
