"""Profiles: creation through registration, reads, updates, username search."""

from __future__ import annotations

import pytest
from photomesh.graph.v1 import social_graph_service_pb2 as gpb

from tests.graph_support import Users, graph_stub

PASSWORD = "correct horse battery"


@pytest.fixture
def graph(channel_to):
    return graph_stub(channel_to("graph"))


async def test_registration_creates_the_profile(graph, channel_to) -> None:
    [alice, bob] = await Users.register(channel_to("auth"), 2)
    reply = await graph.GetProfile(gpb.GetProfileRequest(user_id=alice.user_id),
                                   metadata=bob.md)
    profile = reply.profile
    assert (profile.user_id, profile.username, profile.display_name) == (
        alice.user_id, alice.username, "Test User")
    assert profile.relationship == gpb.RELATIONSHIP_STATUS_NONE
    assert (profile.follower_count, profile.following_count) == (0, 0)
    assert profile.create_time.seconds > 0
    mine = await graph.GetProfile(gpb.GetProfileRequest(user_id=alice.user_id),
                                  metadata=alice.md)
    assert mine.profile.relationship == gpb.RELATIONSHIP_STATUS_SELF
    by_name = await graph.GetProfileByUsername(
        gpb.GetProfileByUsernameRequest(username=alice.username.upper()), metadata=bob.md)
    assert by_name.profile.user_id == alice.user_id

