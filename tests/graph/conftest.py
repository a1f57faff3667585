"""Fixtures of the graph tests: the graph service's stub and new registered users."""

from __future__ import annotations

import pytest

from tests.graph_support import Users, graph_stub


@pytest.fixture
def graph(channel_to):
    return graph_stub(channel_to("graph"))


@pytest.fixture
def users(channel_to):
    async def make(count: int):
        return await Users.register(channel_to("auth"), count)
    return make
