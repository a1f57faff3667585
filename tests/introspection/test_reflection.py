"""The reflection index of the mesh's descriptors (pure: no server)."""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2 as pb

from infra.contracts import DESCRIPTOR_SET, Contracts
from services.introspection.descriptors import MeshDescriptors
from services.introspection.reflection import MeshReflection


def test_every_contract_service_and_the_runtime_services_are_listed() -> None:
    index = MeshDescriptors.load(DESCRIPTOR_SET)
    assert set(index.services) == {s.full_name for s in Contracts().services} | {
        "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection"}


def test_symbols_point_at_their_files() -> None:
    index = MeshDescriptors.load(DESCRIPTOR_SET)
    assert index.symbols["photomesh.post.v1.PostService.LikePost"] == \
        "photomesh/post/v1/post_service.proto"
    assert index.symbols["photomesh.common.v1.ERROR_REASON_TOKEN_EXPIRED"] == \
        "photomesh/common/v1/errors.proto"
    assert index.symbols["photomesh.post.v1.Post.like_count"] == \
        "photomesh/post/v1/post_service.proto"
    assert index.symbols["google.rpc.ErrorInfo"] == "google/rpc/error_details.proto"
    assert index.symbols["grpc.reflection.v1.ServerReflection"] == \
        "grpc/reflection/v1/reflection.proto"
    # google.api.http extends MethodOptions: found by (extendee, number) too.
    assert index.extensions[("google.protobuf.MethodOptions", 72295728)] == \
        "google/api/annotations.proto"


def test_v1_is_v1alpha_under_its_own_package() -> None:
    index = MeshDescriptors.load(DESCRIPTOR_SET)
    v1 = descriptor_pb2.FileDescriptorProto.FromString(
        index.files["grpc/reflection/v1/reflection.proto"])
    assert v1.package == "grpc.reflection.v1"
    method = v1.service[0].method[0]
    assert method.input_type == ".grpc.reflection.v1.ServerReflectionRequest"
    types = {f.type_name for m in v1.message_type for f in m.field if f.type_name}
    assert types and all(t.startswith(".grpc.reflection.v1.") for t in types)


def test_answers_with_dependencies_once_per_stream() -> None:
    reflection = MeshReflection(MeshDescriptors.load(DESCRIPTOR_SET))
    sent: set[str] = set()
    first = reflection.answer(pb.ServerReflectionRequest(
        file_containing_symbol="photomesh.feed.v1.FeedService"), sent)
    names = [descriptor_pb2.FileDescriptorProto.FromString(b).name
             for b in first.file_descriptor_response.file_descriptor_proto]
    assert names[0] == "photomesh/feed/v1/feed_service.proto"
    assert "photomesh/common/v1/media.proto" in names  # via post_service.proto
    second = reflection.answer(pb.ServerReflectionRequest(
        file_by_filename="photomesh/post/v1/post_service.proto"), sent)
    (only,) = second.file_descriptor_response.file_descriptor_proto  # asked for: sent again
    assert descriptor_pb2.FileDescriptorProto.FromString(only).name == \
        "photomesh/post/v1/post_service.proto"
    numbers = reflection.answer(pb.ServerReflectionRequest(
        all_extension_numbers_of_type="google.protobuf.MethodOptions"), sent)
    assert 72295728 in numbers.all_extension_numbers_response.extension_number
    missing = reflection.answer(pb.ServerReflectionRequest(file_by_filename="nope.proto"), sent)
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
