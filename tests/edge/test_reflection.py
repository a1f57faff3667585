"""Reflection and health of the whole mesh at the one address clients are given: grpcurl
lists and describes every photomesh service with no proto files, in both reflection
versions, from the descriptor set the edge routes with; health answers for the mesh, each
process and each gRPC service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from infra.backends.envoy import EnvoyBackend
from infra.contracts import DESCRIPTOR_SET, Contracts
from infra.services import SERVICES
from tests.edge.conftest import Grpcurl

VERSIONS = ("grpc.reflection.v1", "grpc.reflection.v1alpha")
RUNTIME_SERVICES = {"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                    "grpc.reflection.v1alpha.ServerReflection"}


@pytest.fixture
async def edge_channel(edge: EnvoyBackend) -> AsyncIterator[aio.Channel]:
    async with aio.insecure_channel(f"{edge.settings.host}:{edge.settings.envoy_port}") as ch:
        yield ch


async def reflect(channel: aio.Channel, version: str,
                  *requests: reflection_pb2.ServerReflectionRequest
                  ) -> list[reflection_pb2.ServerReflectionResponse]:
    """One reflection stream of `version` (v1 and v1alpha share their messages)."""
    call = channel.stream_stream(
        f"/{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
    return [r async for r in call(iter(requests), timeout=10)]


def test_grpcurl_lists_and_describes_every_service(grpcurl: Grpcurl) -> None:
    listed = grpcurl("list")
    assert listed.returncode == 0, listed.stderr
    contracts = Contracts()
    expected = {s.full_name for s in contracts.services} | RUNTIME_SERVICES
    assert set(listed.stdout.split()) == expected
    for service in contracts.services:
        described = grpcurl("describe", service.full_name)
        assert described.returncode == 0, described.stderr
        assert f"{service.full_name} is a service:" in described.stdout
        for rpc in service.rpcs:
            assert f"rpc {rpc.name} (" in described.stdout, (service.full_name, rpc.name)
        # The contracts' comments come along: describe is documentation.
        assert service.comment[:60] in " ".join(described.stdout.replace("//", " ").split())
    message = grpcurl("describe", "photomesh.feed.v1.GetHomeFeedRequest")
    assert "int32 page_size = 1;" in message.stdout, message.stderr


def test_grpcurl_calls_by_name(grpcurl: Grpcurl) -> None:
    """With reflection only (no protos), grpcurl encodes requests of any service."""
    health = grpcurl("grpc.health.v1.Health/Check",
                     data={"service": "photomesh.story.v1.StoryService"})
    assert health.returncode == 0, health.stderr
    assert '"status": "SERVING"' in health.stdout
    anonymous = grpcurl("photomesh.post.v1.PostService/GetPost", data={"post_id": "1"})
    out = anonymous.stdout + anonymous.stderr
    assert "Code: Unauthenticated" in out and "Jwt is missing" in out, out


@pytest.mark.parametrize("version", VERSIONS)
async def test_each_version_lists_and_serves_the_contract_files(edge_channel: aio.Channel,
                                                                version: str) -> None:
    contracts = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes())
    ours = {f.name: f for f in contracts.file}
    (listing, by_symbol, by_name, missing) = await reflect(
        edge_channel, version,
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="photomesh.feed.v1.FeedService.StreamHomeFeed"),
        reflection_pb2.ServerReflectionRequest(
            file_by_filename="photomesh/notification/v1/notification_service.proto"),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="photomesh.nope.v1.X"))
    names = {s.name for s in listing.list_services_response.service}
    assert names == {s.full_name for s in Contracts().services} | RUNTIME_SERVICES
    served = [descriptor_pb2.FileDescriptorProto.FromString(b)
              for b in by_symbol.file_descriptor_response.file_descriptor_proto]
    assert served[0].name == "photomesh/feed/v1/feed_service.proto"
    # Byte for byte the descriptor set the edge routes and transcodes from (comments too).
    assert served[0] == ours[served[0].name]
    assert {"photomesh/post/v1/post_service.proto", "google/api/annotations.proto"} <= {
        f.name for f in served}
    # Files this stream already sent are not sent again as dependencies.
    again = [descriptor_pb2.FileDescriptorProto.FromString(b).name
             for b in by_name.file_descriptor_response.file_descriptor_proto]
    assert again[0] == "photomesh/notification/v1/notification_service.proto"
    assert set(again[1:]).isdisjoint({f.name for f in served}), again
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


async def test_health_of_the_mesh_each_process_and_each_service(edge_channel: aio.Channel
                                                                ) -> None:
    stub = health_pb2_grpc.HealthStub(edge_channel)
    names = ["", *SERVICES, *(s.full_name for s in Contracts().services)]
    names.remove("introspection")  # it answers; its own state is under its service names
    for name in names:
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, name
    with pytest.raises(aio.AioRpcError) as unknown:
        await stub.Check(health_pb2.HealthCheckRequest(service="photomesh.nope.v1.Nope"),
                         timeout=5)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    watch = stub.Watch(health_pb2.HealthCheckRequest(service="feed_fanout"), timeout=10)
    assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()
