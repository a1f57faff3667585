"""A service process drains in-flight calls on SIGTERM and then exits cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from photomesh.auth.v1 import auth_service_pb2 as pb
from photomesh.auth.v1 import auth_service_pb2_grpc as pb_grpc

from infra import services as mesh_services
from infra.sandbox import free_port


async def _wait_serving(target: str, proc: asyncio.subprocess.Process,
                        timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while asyncio.get_running_loop().time() < deadline:
            assert proc.returncode is None, "the service exited before SERVING"
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{target} never became SERVING")


async def test_sigterm_drains_in_flight_calls_then_exits_zero(mesh) -> None:
    port = free_port()
    overrides = {k: v for k, v in mesh.env.items() if not k.startswith("PHOTOMESH_AUTH_")}
    # Slow password hashing, so the calls are surely in flight when SIGTERM arrives.
    overrides["PHOTOMESH_AUTH_ARGON2_TIME_COST"] = "12"
    # Grace long enough for them to finish on a loaded machine: what is tested is that
    # they are drained, not how fast.
    overrides["PHOTOMESH_AUTH_GRACE_SECONDS"] = "60"
    env = mesh_services.process_env(mesh.settings, "auth", overrides, ports={"auth": port})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.auth", env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    target = f"127.0.0.1:{port}"
    try:
        await _wait_serving(target, proc)
        async with grpc.aio.insecure_channel(target) as channel:
            await channel.channel_ready()
            stub = pb_grpc.AuthServiceStub(channel)
            # Registrations hash passwords with Argon2: each takes a noticeable while.
            calls = [asyncio.ensure_future(stub.Register(pb.RegisterRequest(
                request_id=str(uuid.uuid4()), username=f"drain_{uuid.uuid4().hex[:10]}",
                password="correct horse battery"), timeout=120)) for _ in range(4)]
            await asyncio.sleep(0.3)
            in_flight = [call for call in calls if not call.done()]
            assert in_flight, "every call finished before SIGTERM: nothing was drained"
            os.kill(proc.pid, signal.SIGTERM)
            replies = await asyncio.gather(*calls)
        assert all(r.user_id for r in replies)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
