"""A backend that fails in the middle of a call is UNAVAILABLE (ErrorInfo
BACKEND_UNAVAILABLE), never UNKNOWN or INTERNAL, and the service recovers when it is back.

A private service process reaches the real CQL store (graph) or MinIO (media) through a
TCP proxy of the test's (tests/tcp_proxy.py): the proxy holds the service's next request,
and once it is waiting there the backend is cut (connections closed, new ones refused). The
shared backends are never touched. (NATS and Redis failing mid-call: tests/post/
test_failures.py, on private servers.)
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from photomesh.common.v1 import media_pb2 as media_common
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as ggrpc
from photomesh.media.v1 import media_service_pb2 as mpb
from photomesh.media.v1 import media_service_pb2_grpc as mgrpc

from infra.sandbox import Mesh
from tests.graph_support import Users
from tests.helpers import error_info
from tests.private_service import private_service
from tests.tcp_proxy import TcpProxy, proxied


async def fails_unavailable_mid_call(proxy: TcpProxy, call: Callable[[], Awaitable[object]]
                                     ) -> grpc.aio.AioRpcError:
    """Start `call` with the proxy holding requests; cut the backend once a request is
    waiting in the proxy; return the error the call ended with."""
    proxy.hold()
    running = asyncio.ensure_future(call())
    await asyncio.to_thread(proxy.held)
    proxy.cut()
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


async def test_the_cql_store_failing_mid_call_is_unavailable(mesh: Mesh, channel_to,
                                                              tmp_path: Path) -> None:
    (user,) = await Users.register(channel_to("auth"), 1)
    cql = f"{mesh.settings.host}:{mesh.env['PHOTOMESH_CQL_PORT']}"
    with proxied(cql) as store, private_service(mesh, "graph", tmp_path, {
            "PHOTOMESH_CQL_PORT": str(store.port), "PHOTOMESH_OTEL_ENDPOINT": "",
            "PHOTOMESH_SNOWFLAKE_WORKER_ID": "1003"}) as target:
        async with grpc.aio.insecure_channel(target) as channel:
            graph = ggrpc.SocialGraphServiceStub(channel)
            names = iter(range(1000))

            def rename() -> Awaitable[object]:  # a profile write: CQL every time
                return graph.UpdateProfile(gpb.UpdateProfileRequest(
                    profile=gpb.Profile(display_name=f"name {next(names)}"),
                    update_mask=FieldMask(paths=["display_name"])), metadata=user.md,
                    timeout=60)

            await rename()  # through the proxy while the store is there
            assert_unavailable(await fails_unavailable_mid_call(store, rename),
                               "graph.photomesh")
            with_store_gone = None
            try:
                await rename()
            except grpc.aio.AioRpcError as err:
                with_store_gone = err
            assert with_store_gone is not None, "a write succeeded with the store gone"
            assert_unavailable(with_store_gone, "graph.photomesh")
            store.restore()
            await recovered(rename)


async def test_object_storage_failing_mid_call_is_unavailable(mesh: Mesh, channel_to,
                                                              tmp_path: Path) -> None:
    (user,) = await Users.register(channel_to("auth"), 1)
    with proxied(mesh.env["PHOTOMESH_MINIO_ENDPOINT"]) as minio, private_service(
            mesh, "media", tmp_path, {"PHOTOMESH_MINIO_ENDPOINT": minio.address,
                                      "PHOTOMESH_OTEL_ENDPOINT": "",
                                      "PHOTOMESH_SNOWFLAKE_WORKER_ID": "1004"}) as target:
        async with grpc.aio.insecure_channel(target) as channel:
            media = mgrpc.MediaServiceStub(channel)
            created = await media.CreateUpload(mpb.CreateUploadRequest(
                request_id=str(uuid.uuid4()), content_type="image/jpeg", size_bytes=1000,
                kind=media_common.MEDIA_KIND_IMAGE), metadata=user.md)

            def complete() -> Awaitable[object]:  # looks for the upload in the bucket
                return media.CompleteUpload(mpb.CompleteUploadRequest(
                    media_id=created.media_id), metadata=user.md, timeout=60)

            try:  # through the proxy while MinIO is there: no bytes were uploaded
                await complete()
                raise AssertionError("CompleteUpload succeeded without an upload")
            except grpc.aio.AioRpcError as err:
                assert error_info(err).reason == "UPLOAD_MISSING", err
            assert_unavailable(await fails_unavailable_mid_call(minio, complete),
                               "media.photomesh")
            minio.restore()

            async def missing_again() -> None:
                try:
                    await complete()
                except grpc.aio.AioRpcError as err:
                    if error_info(err).reason != "UPLOAD_MISSING":
                        raise
            await recovered(missing_again)
