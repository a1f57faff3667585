"""Profiles: creation through registration, reads, updates, username search."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from photomesh.auth.v1 import auth_service_pb2 as apb
from photomesh.auth.v1 import auth_service_pb2_grpc as agrpc
from photomesh.graph.v1 import social_graph_service_pb2 as gpb

from tests.graph_support import Users, block, service_metadata
from tests.helpers import error_info, field_violations, new_username, register

PASSWORD = "correct horse battery"


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



async def test_unknown_and_malformed_users(graph, channel_to) -> None:
    [alice] = await Users.register(channel_to("auth"), 1)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await graph.GetProfile(gpb.GetProfileRequest(user_id=str(uuid.uuid4())),
                               metadata=alice.md)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert (error_info(err.value).reason, error_info(err.value).domain) == (
        "USER_NOT_FOUND", "graph.photomesh")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await graph.GetProfile(gpb.GetProfileRequest(user_id="not-a-uuid"), metadata=alice.md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "user_id" in field_violations(err.value)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await graph.GetProfileByUsername(gpb.GetProfileByUsernameRequest(username="nobody_" +
                                                                         uuid.uuid4().hex[:8]),
                                         metadata=alice.md)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await graph.GetProfileByUsername(gpb.GetProfileByUsernameRequest(username="a b"),
                                         metadata=alice.md)
    assert "username" in field_violations(err.value)


async def test_concurrent_registrations_of_one_username_make_one_profile(graph, channel_to
                                                                         ) -> None:
    auth = agrpc.AuthServiceStub(channel_to("auth"))
    username = new_username("race")
    results = await asyncio.gather(*(auth.Register(apb.RegisterRequest(
        request_id=str(uuid.uuid4()), username=username, password=PASSWORD))
        for _ in range(6)), return_exceptions=True)
    winners = [r for r in results if isinstance(r, apb.RegisterResponse)]
    assert len(winners) == 1, results
    [viewer] = await Users.register(channel_to("auth"), 1)
    found = await graph.GetProfileByUsername(gpb.GetProfileByUsernameRequest(username=username),
                                             metadata=viewer.md)
    assert found.profile.user_id == winners[0].user_id
    search = await graph.SearchProfiles(gpb.SearchProfilesRequest(username_prefix=username),
                                        metadata=viewer.md)
    assert [u.user_id for u in search.users] == [winners[0].user_id]


async def test_create_profile_is_idempotent_unique_and_for_auth_only(graph, channel_to,
                                                                     mesh) -> None:
    auth_md = service_metadata(mesh, "auth")
    username = new_username("cp")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    results = await asyncio.gather(*(graph.CreateProfile(gpb.CreateProfileRequest(
        user_id=u, username=username, display_name="X"), metadata=auth_md)
        for u in (first, second)), return_exceptions=True)
    created = [r for r in results if isinstance(r, gpb.CreateProfileResponse)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(created) == 1 and len(refused) == 1, results
    assert refused[0].code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(refused[0]).reason == "USERNAME_TAKEN"
    winner = created[0].profile.user_id
    again = await graph.CreateProfile(gpb.CreateProfileRequest(
        user_id=winner, username=username, display_name="Changed"), metadata=auth_md)
    assert (again.profile.user_id, again.profile.display_name) == (winner, "X")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await graph.CreateProfile(gpb.CreateProfileRequest(
            user_id=winner, username=new_username("cp"), display_name=""), metadata=auth_md)
    assert error_info(err.value).reason == "PROFILE_EXISTS"
    [user] = await Users.register(channel_to("auth"), 1)
    for md in (user.md, service_metadata(mesh, "post")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await graph.CreateProfile(gpb.CreateProfileRequest(
                user_id=str(uuid.uuid4()), username=new_username(), display_name=""),
                metadata=md)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await graph.CreateProfile(gpb.CreateProfileRequest(
            user_id="x", username="NO", display_name="y" * 65), metadata=auth_md)
    assert set(field_violations(err.value)) == {"user_id", "username", "display_name"}


async def test_login_recreates_a_missing_profile(graph, channel_to, mesh) -> None:
    """Login ensures the profile (here: a profile row deleted behind the service's back)."""
    from cassandra.cluster import Cluster

    from infra.sandbox import cql_auth

    [alice, bob] = await Users.register(channel_to("auth"), 2)
    cluster = Cluster(["127.0.0.1"], port=int(mesh.env["PHOTOMESH_CQL_PORT"]),
                      protocol_version=4, auth_provider=cql_auth(mesh.env))
    session = cluster.connect(mesh.env["PHOTOMESH_CQL_KEYSPACE"])
    session.execute("DELETE FROM graph_profiles WHERE user_id = %s", (uuid.UUID(bob.user_id),))
    cluster.shutdown()
    with pytest.raises(grpc.aio.AioRpcError):
        await graph.GetProfile(gpb.GetProfileRequest(user_id=bob.user_id), metadata=alice.md)
    await agrpc.AuthServiceStub(channel_to("auth")).Login(
        apb.LoginRequest(username=bob.username, password=PASSWORD))
    reply = await graph.GetProfile(gpb.GetProfileRequest(user_id=bob.user_id),
                                   metadata=alice.md)
    assert reply.profile.username == bob.username


async def test_update_profile_with_a_field_mask(graph, channel_to) -> None:
    [alice, bob] = await Users.register(channel_to("auth"), 2)
    reply = await graph.UpdateProfile(gpb.UpdateProfileRequest(
        profile=gpb.Profile(display_name=" Alice ", bio="hello\nworld", username="ignored"),
        update_mask=FieldMask(paths=["display_name", "bio"])), metadata=alice.md)
    assert (reply.profile.display_name, reply.profile.bio, reply.profile.username) == (
        "Alice", "hello\nworld", alice.username)
    seen = await graph.GetProfile(gpb.GetProfileRequest(user_id=alice.user_id), metadata=bob.md)
    assert seen.profile.display_name == "Alice" and not seen.profile.private
    # Paths not in the mask stay as they are.
    reply = await graph.UpdateProfile(gpb.UpdateProfileRequest(
        profile=gpb.Profile(bio="new"), update_mask=FieldMask(paths=["bio"])), metadata=alice.md)
    assert (reply.profile.display_name, reply.profile.bio) == ("Alice", "new")


@pytest.mark.parametrize(("paths", "profile", "field"), [
    ([], gpb.Profile(), "update_mask"),
    (["username"], gpb.Profile(username="x"), "update_mask"),
    (["bio"], gpb.Profile(bio="b" * 151), "profile.bio"),
    (["display_name"], gpb.Profile(display_name="d" * 65), "profile.display_name"),
    (["display_name"], gpb.Profile(display_name="bell\x07"), "profile.display_name"),
    (["avatar_media_id"], gpb.Profile(avatar_media_id="../etc"), "profile.avatar_media_id"),
])
async def test_update_profile_rejects_bad_input(graph, channel_to, paths, profile, field
                                                ) -> None:
    [alice] = await Users.register(channel_to("auth"), 1)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await graph.UpdateProfile(gpb.UpdateProfileRequest(
            profile=profile, update_mask=FieldMask(paths=paths)), metadata=alice.md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(err.value)


async def test_batch_get_profiles_reports_missing_and_hidden_users(graph, channel_to) -> None:
    [alice, bob, carol] = await Users.register(channel_to("auth"), 3)
    await block(graph, carol, alice.user_id)
    unknown = str(uuid.uuid4())
    ids = [bob.user_id, unknown, carol.user_id, bob.user_id]
    full = await graph.BatchGetProfiles(gpb.BatchGetProfilesRequest(user_ids=ids),
                                        metadata=alice.md)
    assert [p.user_id for p in full.profiles] == [bob.user_id]
    assert full.profiles[0].relationship == gpb.RELATIONSHIP_STATUS_NONE
    assert list(full.missing_user_ids) == [unknown, carol.user_id]
    basic = await graph.BatchGetProfiles(gpb.BatchGetProfilesRequest(
        user_ids=[bob.user_id], view=gpb.PROFILE_VIEW_BASIC), metadata=alice.md)
    assert basic.profiles[0].relationship == gpb.RELATIONSHIP_STATUS_UNSPECIFIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await graph.BatchGetProfiles(gpb.BatchGetProfilesRequest(
            user_ids=[str(uuid.uuid4()) for _ in range(101)]), metadata=alice.md)
    assert error_info(err.value).reason == "BATCH_TOO_LARGE"


async def test_user_summaries_for_services_and_users(graph, channel_to, mesh) -> None:
    [alice, bob] = await Users.register(channel_to("auth"), 2)
    await block(graph, bob, alice.user_id)
    ids = [alice.user_id, bob.user_id]
    as_service = await graph.BatchGetUserSummaries(
        gpb.BatchGetUserSummariesRequest(user_ids=ids), metadata=service_metadata(mesh, "post"))
    assert [(u.user_id, u.username) for u in as_service.users] == [
        (alice.user_id, alice.username), (bob.user_id, bob.username)]
    as_alice = await graph.BatchGetUserSummaries(
        gpb.BatchGetUserSummariesRequest(user_ids=ids), metadata=alice.md)
    assert [u.user_id for u in as_alice.users] == [alice.user_id]
    assert list(as_alice.missing_user_ids) == [bob.user_id]


async def test_username_prefix_search_pages_in_username_order(graph, channel_to) -> None:
    auth = channel_to("auth")
    base = new_username("s")[:10]
    names = sorted(f"{base}{i}" for i in range(5))
    await asyncio.gather(*(register(auth, n) for n in names))
    [viewer] = await Users.register(auth, 1)
    seen, token, pages = [], "", 0
    while True:
        reply = await graph.SearchProfiles(gpb.SearchProfilesRequest(
            username_prefix=base.upper(), page_size=2, page_token=token), metadata=viewer.md)
        seen += [u.username for u in reply.users]
        pages += 1
        token = reply.next_page_token
        if not token:
            break
    assert seen == names and pages == 3
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await graph.SearchProfiles(gpb.SearchProfilesRequest(
            username_prefix="other", page_token=reply.next_page_token or "garbage"),
            metadata=viewer.md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for bad in ("", "a" * 31, "no spaces"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await graph.SearchProfiles(gpb.SearchProfilesRequest(username_prefix=bad),
                                       metadata=viewer.md)
        assert "username_prefix" in field_violations(err.value)


async def test_one_character_prefix_walks_partitions_in_order(graph, channel_to) -> None:
    auth = channel_to("auth")
    tail = uuid.uuid4().hex[:8]
    names = [f"q.{tail}", f"q0{tail}", f"q_{tail}", f"qz{tail}"]
    await asyncio.gather(*(register(auth, n) for n in names))
    [viewer] = await Users.register(auth, 1)
    seen, token = [], ""
    while True:
        reply = await graph.SearchProfiles(gpb.SearchProfilesRequest(
            username_prefix="q", page_size=3, page_token=token), metadata=viewer.md)
        seen += [u.username for u in reply.users]
        token = reply.next_page_token
        if not token:
            break
    assert seen == sorted(seen)
    assert [n for n in seen if n.endswith(tail)] == sorted(names)


async def test_search_leaves_out_users_who_block_the_caller(graph, channel_to) -> None:
    [alice, bob] = await Users.register(channel_to("auth"), 2, prefix="blk")
    await block(graph, bob, alice.user_id)
    reply = await graph.SearchProfiles(gpb.SearchProfilesRequest(username_prefix=bob.username),
                                       metadata=alice.md)
    assert list(reply.users) == []
    reply = await graph.SearchProfiles(gpb.SearchProfilesRequest(
        username_prefix=alice.username), metadata=bob.md)
    assert [u.user_id for u in reply.users] == [alice.user_id]
