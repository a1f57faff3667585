"""A service process drains in-flight calls on SIGTERM and then exits cleanly.

The call in flight is a server stream (StreamNotifications) on a private notification
process: it stays open for as long as the test keeps it, so nothing depends on how fast
the machine is. After SIGTERM the process must refuse new calls, still deliver on the open
stream, and exit 0 once that stream ends.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid

import grpc
from photomesh.notification.v1 import notification_service_pb2 as pb
from photomesh.notification.v1 import notification_service_pb2_grpc as pb_grpc
from photomesh.post.v1 import events_pb2 as post_events

from infra import services as mesh_services
from infra.sandbox import free_port
from services.runtime.events import EventBus
from services.runtime.settings import NatsSettings, load
from tests.graph_support import Users
from tests.helpers import wait_serving

WAIT = 30.0  # bound on each wait below; the test never relies on anything being quick


async def _refused(target: str, me) -> bool:
    """Whether a new call on a fresh connection is turned away (UNAVAILABLE)."""
    async with grpc.aio.insecure_channel(target) as channel:
        try:
            await pb_grpc.NotificationServiceStub(channel).GetUnreadCount(
                pb.GetUnreadCountRequest(), metadata=me.md, timeout=5)
        except grpc.aio.AioRpcError as err:
            return err.code() == grpc.StatusCode.UNAVAILABLE
    return False


async def test_sigterm_drains_an_open_stream_then_exits_zero(mesh, channel_to) -> None:
    me, fan = await Users.register(channel_to("auth"), 2)
    bus = await EventBus.connect(load(NatsSettings), "lifecycle-test")
    await bus.ensure_stream("post")
    post_ids = iter(range(7000, 8000))

    async def like() -> int:
        """A like by `fan` of another of my posts: one more notification on my stream."""
        post_id = next(post_ids)
        event_id = str(uuid.uuid4())
        await bus.publish("post", "liked", post_events.PostLikedEvent(
            event_id=event_id, post_id=post_id, post_author_user_id=me.user_id,
            liker_user_id=fan.user_id), msg_id=event_id)
        return post_id

    port = free_port()
    overrides = {k: v for k, v in mesh.env.items() if not k.startswith("PHOTOMESH_NOTIFICATION_")}
    # Grace far beyond the test: the stream ends when the test ends it, not by a timer.
    overrides["PHOTOMESH_NOTIFICATION_GRACE_SECONDS"] = "120"
    env = mesh_services.process_env(mesh.settings, "notification", overrides,
                                    ports={"notification": port})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.notification", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    target = f"127.0.0.1:{port}"
    try:
        await wait_serving(target, proc)
        async with grpc.aio.insecure_channel(target) as channel:
            stream = pb_grpc.NotificationServiceStub(channel).StreamNotifications(
                pb.StreamNotificationsRequest(), metadata=me.md)
            # The stream registers a moment after the call starts: like (another post each
            # time) until something arrives; then the call is surely in flight.
            first = asyncio.ensure_future(stream.read())
            deadline = time.monotonic() + WAIT
            while not first.done() and time.monotonic() < deadline:
                await like()
                await asyncio.wait({first}, timeout=1.0)
            assert first.done(), "the stream never delivered"
            assert first.result().notification.type == pb.NOTIFICATION_TYPE_POST_LIKED

            os.kill(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + WAIT
            while not await _refused(target, me):
                assert time.monotonic() < deadline, "still taking new calls after SIGTERM"
                await asyncio.sleep(0.2)
            # Shutting down, yet the open stream is served to the end.
            liked = await like()
            while True:
                message = await asyncio.wait_for(stream.read(), WAIT)
                assert message is not grpc.aio.EOF, "the stream ended during the drain"
                if message.notification.post_id == liked:
                    break
            assert proc.returncode is None  # still draining while the stream is open
            stream.cancel()
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        await bus.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_health_watch_ends_at_drain_instead_of_holding_it(mesh) -> None:
    """A health watcher (the introspection process watches every process) is told
    NOT_SERVING and its stream ends with OK when the process drains: a subscription is not
    work in flight, and an open one used to hold every process for its whole grace."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    port = free_port()
    overrides = {k: v for k, v in mesh.env.items() if not k.startswith("PHOTOMESH_GRAPH_")}
    # A grace far beyond the test: only the watch ending lets the process exit before it.
    overrides["PHOTOMESH_GRAPH_GRACE_SECONDS"] = "600"
    env = mesh_services.process_env(mesh.settings, "graph", overrides, ports={"graph": port})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.graph", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    target = f"127.0.0.1:{port}"
    try:
        await wait_serving(target, proc)
        async with grpc.aio.insecure_channel(target) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=""))
            first = await asyncio.wait_for(watch.read(), WAIT)
            assert first.status == health_pb2.HealthCheckResponse.SERVING
            os.kill(proc.pid, signal.SIGTERM)
            seen = []
            while (message := await asyncio.wait_for(watch.read(), WAIT)) is not grpc.aio.EOF:
                seen.append(message.status)
            assert seen and seen[-1] == health_pb2.HealthCheckResponse.NOT_SERVING
            assert await watch.code() == grpc.StatusCode.OK
        assert await asyncio.wait_for(proc.wait(), WAIT) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
