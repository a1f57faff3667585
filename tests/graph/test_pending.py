"""A graph change whose client gives up while NATS is away is still announced: the graph
service's sweeper publishes its event once NATS is back (a private graph process with a
NATS server of its own; the run's store, Redis and peers)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from photomesh.graph.v1 import events_pb2 as gev
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as ggrpc

from infra.backends.nats import NatsBackend
from infra.sandbox import Mesh, free_port
from infra.settings import InfraSettings
from tests.graph_support import Users
from tests.helpers import stream_messages
from tests.private_backend import PrivateServer
from tests.private_service import private_service


@dataclass
class Isolated:
    nats: PrivateServer
    target: str = ""
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def isolated(mesh: Mesh, backends: InfraSettings, tmp_path: Path) -> Iterator[Isolated]:
    settings = backends.model_copy(update={"run_dir": tmp_path, "nats_port": free_port(),
                                           "nats_monitor_port": free_port()})
    box = Isolated(PrivateServer(NatsBackend(settings), tmp_path / "nats.log"))
    box.nats.start()
    # 1-second slots: its pending rows are its own (the run's graph sweeps 5-second slots).
    env = {"PHOTOMESH_NATS_URL": box.nats.backend.url(),
           "PHOTOMESH_GRAPH_OUTBOX_SLOT_SECONDS": "1",
           "PHOTOMESH_GRAPH_OUTBOX_GRACE_SECONDS": "2",
           "PHOTOMESH_GRAPH_OUTBOX_SWEEP_SECONDS": "0.5"}
    try:
        with private_service(mesh, "graph", tmp_path, env) as target:
            box.target, box.env = target, {**mesh.env, **env}
            yield box
    finally:
        box.nats.stop()


async def _unavailable(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE, err.value


async def test_abandoned_follow_and_profile_change_are_announced(isolated, channel_to) -> None:
    fan, star = await Users.register(channel_to("auth"), 2, "pend")
    async with grpc.aio.insecure_channel(isolated.target) as channel:
        graph = ggrpc.SocialGraphServiceStub(channel)
        await graph.GetProfile(gpb.GetProfileRequest(user_id=star.user_id), metadata=fan.md)
        isolated.nats.stop()
        await _unavailable(graph.Follow(gpb.FollowRequest(user_id=star.user_id),
                                        metadata=fan.md, timeout=30))
        await _unavailable(graph.UpdateProfile(gpb.UpdateProfileRequest(
            profile=gpb.Profile(bio="away"), update_mask=FieldMask(paths=["bio"])),
            metadata=star.md, timeout=30))
        isolated.nats.start()  # the same store dir: the streams are still there
    followed = await stream_messages(
        isolated.env, "graph", "followed",
        lambda m: gev.FollowedEvent.FromString(m.data).follower_user_id == fan.user_id,
        want=1, timeout=60)
    updated = await stream_messages(
        isolated.env, "graph", "profile_updated",
        lambda m: gev.ProfileUpdatedEvent.FromString(m.data).user_id == star.user_id,
        want=1, timeout=60)
    assert [gev.FollowedEvent.FromString(m.data).followee_user_id
            for m in followed] == [star.user_id]
    assert [list(gev.ProfileUpdatedEvent.FromString(m.data).changed_paths)
            for m in updated] == [["bio"]]
    await asyncio.sleep(2)  # more sweeps: nothing is published twice
    again = await stream_messages(
        isolated.env, "graph", "followed",
        lambda m: gev.FollowedEvent.FromString(m.data).follower_user_id == fan.user_id)
    assert len(again) == 1
