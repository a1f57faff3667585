"""A backend that fails in the middle of a call is UNAVAILABLE (ErrorInfo
BACKEND_UNAVAILABLE), never UNKNOWN or INTERNAL, and the service recovers when it is back.

A private service process reaches the real CQL store (graph) or MinIO (media) through a
TCP proxy of the test's (tests/tcp_proxy.py): the proxy holds the service's next request,
and once it is waiting there the backend is cut (connections reset, new ones refused). The
shared backends are never touched. (NATS and Redis failing mid-call: tests/post/
test_failures.py, on private servers.)
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from photomesh.common.v1 import media_pb2 as media_common
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as ggrpc
from photomesh.media.v1 import media_service_pb2 as mpb
from photomesh.media.v1 import media_service_pb2_grpc as mgrpc

from infra import services as mesh_services
from infra.sandbox import Mesh, free_port
from tests.graph_support import Users
from tests.helpers import error_info, wait_serving
from tests.tcp_proxy import TcpProxy

WORKER_IDS = {"graph": 1001, "media": 1002}  # Snowflake ids of their own


@asynccontextmanager
async def private_service(mesh: Mesh, name: str, env: dict[str, str]) -> AsyncIterator[str]:
    """`name` as a process of its own on a free port, with `env` over the mesh's."""
    port = free_port()
    prefix = f"PHOTOMESH_{name.upper()}_"
    overrides = {k: v for k, v in mesh.env.items() if not k.startswith(prefix)}
    overrides.update(env, PHOTOMESH_SNOWFLAKE_WORKER_ID=str(WORKER_IDS[name]))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", mesh_services.service_module(name),
        env=mesh_services.process_env(mesh.settings, name, overrides, ports={name: port}),
        cwd=mesh_services.REPO, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    target = f"{mesh.settings.host}:{port}"
    try:
        await wait_serving(target, proc)
        yield target
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def fails_unavailable_mid_call(proxy: TcpProxy, call: Callable[[], Awaitable[object]]
                                     ) -> grpc.aio.AioRpcError:
    """Start `call` with the proxy holding requests; cut the backend once a request is
    waiting in the proxy; return the error the call ended with."""
    proxy.hold()
    running = asyncio.ensure_future(call())
    await proxy.held()
    await proxy.cut()
    try:
        await running
    except grpc.aio.AioRpcError as err:
        return err
    raise AssertionError("the call succeeded with its backend gone")


def assert_unavailable(err: grpc.aio.AioRpcError, domain: str) -> None:
    assert err.code() == grpc.StatusCode.UNAVAILABLE, (err.code(), err.details())
    info = error_info(err)
    assert (info.reason, info.domain) == ("BACKEND_UNAVAILABLE", domain)


async def recovered(call: Callable[[], Awaitable[object]], timeout: float = 60.0) -> None:
    """`call` succeeds again once the backend is back (retried while UNAVAILABLE)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await call()
            return
        except grpc.aio.AioRpcError as err:
            assert err.code() == grpc.StatusCode.UNAVAILABLE, (err.code(), err.details())
            assert asyncio.get_running_loop().time() < deadline, "never recovered"
            await asyncio.sleep(0.5)


async def test_the_cql_store_failing_mid_call_is_unavailable(mesh: Mesh, channel_to) -> None:
    (user,) = await Users.register(channel_to("auth"), 1)
    cql_host = json.loads(mesh.env["PHOTOMESH_CQL_CONTACT_POINTS"])[0]
    proxy = await TcpProxy.start(cql_host, int(mesh.env["PHOTOMESH_CQL_PORT"]))
    try:
        async with private_service(mesh, "graph", {"PHOTOMESH_CQL_PORT": str(proxy.port)}
                                   ) as target, grpc.aio.insecure_channel(target) as channel:
            graph = ggrpc.SocialGraphServiceStub(channel)
            names = iter(range(1000))

            def rename() -> Awaitable[object]:  # a profile write: CQL every time
                return graph.UpdateProfile(gpb.UpdateProfileRequest(
                    profile=gpb.Profile(display_name=f"name {next(names)}"),
                    update_mask=FieldMask(paths=["display_name"])), metadata=user.md,
                    timeout=60)

            await rename()  # through the proxy while the store is there
            assert_unavailable(await fails_unavailable_mid_call(proxy, rename),
                               "graph.photomesh")
            with_store_gone = None
            try:
                await rename()
            except grpc.aio.AioRpcError as err:
                with_store_gone = err
            assert with_store_gone is not None, "a write succeeded with the store gone"
            assert_unavailable(with_store_gone, "graph.photomesh")
            await proxy.restore()
            await recovered(rename)
    finally:
        await proxy.close()


async def test_object_storage_failing_mid_call_is_unavailable(mesh: Mesh, channel_to) -> None:
    (user,) = await Users.register(channel_to("auth"), 1)
    minio_host, minio_port = mesh.env["PHOTOMESH_MINIO_ENDPOINT"].rsplit(":", 1)
    proxy = await TcpProxy.start(minio_host, int(minio_port))
    try:
        async with private_service(
                mesh, "media", {"PHOTOMESH_MINIO_ENDPOINT": f"{proxy.host}:{proxy.port}"}
        ) as target, grpc.aio.insecure_channel(target) as channel:
            media = mgrpc.MediaServiceStub(channel)
            created = await media.CreateUpload(mpb.CreateUploadRequest(
                request_id=str(uuid.uuid4()), content_type="image/jpeg", size_bytes=1000,
                kind=media_common.MEDIA_KIND_IMAGE),
                metadata=user.md)

            def complete() -> Awaitable[object]:  # looks for the upload in the bucket
                return media.CompleteUpload(mpb.CompleteUploadRequest(
                    media_id=created.media_id), metadata=user.md, timeout=60)

            try:  # through the proxy while MinIO is there: no bytes were uploaded
                await complete()
                raise AssertionError("CompleteUpload succeeded without an upload")
            except grpc.aio.AioRpcError as err:
                assert error_info(err).reason == "UPLOAD_MISSING", err
            assert_unavailable(await fails_unavailable_mid_call(proxy, complete),
                               "media.photomesh")
            await proxy.restore()

            async def missing_again() -> None:
                try:
                    await complete()
                except grpc.aio.AioRpcError as err:
                    if error_info(err).reason != "UPLOAD_MISSING":
                        raise
            await recovered(missing_again)
    finally:
        await proxy.close()
