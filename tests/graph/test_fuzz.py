"""Property test: random and malformed requests at every SocialGraphService RPC get a
success or a clean gRPC error (never UNKNOWN, INTERNAL or a crash)."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.field_mask_pb2 import FieldMask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as ggrpc

from tests.graph_support import Users, follow, service_metadata

CLEAN = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
         grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION,
         grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.UNAUTHENTICATED}
RPCS = list(gpb.DESCRIPTOR.services_by_name["SocialGraphService"].methods_by_name)
EXAMPLES_PER_RPC = 30


def _strings(known: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(known), st.uuids().map(str), st.just(""),
                     st.text(max_size=40), st.uuids().map(lambda u: str(u).upper()),
                     st.text(alphabet="abcxyz._09", min_size=1, max_size=31))


def _message(descriptor, known: list[str], depth: int = 0) -> st.SearchStrategy:
    cls = {"Profile": gpb.Profile, "FieldMask": FieldMask}.get(descriptor.name) or getattr(
        gpb, descriptor.name)
    fields = {}
    for field in descriptor.fields:
        if field.message_type is not None:
            if field.message_type.name == "FieldMask":
                value = st.lists(st.sampled_from(["display_name", "bio", "avatar_media_id",
                                                  "private", "username", "", "x.y"]),
                                 max_size=5).map(lambda p: FieldMask(paths=p))
            elif field.message_type.name == "Profile" and depth == 0:
                value = _message(field.message_type, known, depth + 1)
            else:
                continue
        elif field.type == FieldDescriptor.TYPE_STRING:
            value = _strings(known)
            if field.name == "page_token":
                value = st.one_of(st.just(""), st.text(max_size=60))
        elif field.type == FieldDescriptor.TYPE_BOOL:
            value = st.booleans()
        elif field.type == FieldDescriptor.TYPE_ENUM:
            value = st.integers(0, 3)
        elif field.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64):
            value = st.integers(-(2**31), 2**31 - 1) | st.integers(-2, 6000)
        else:
            continue
        if field.is_repeated:
            value = st.lists(value, max_size=8) | st.just(
                [str(uuid.uuid4()) for _ in range(1001)])
        fields[field.name] = value
    return st.fixed_dictionaries({}, optional=fields).map(lambda kw: cls(**kw))


@pytest.fixture(scope="module")
async def setup(mesh):
    async with grpc.aio.insecure_channel(mesh.target("auth")) as auth, \
            grpc.aio.insecure_channel(mesh.target("graph")) as graph:
        users = await Users.register(auth, 3, prefix="fz")
        await follow(ggrpc.SocialGraphServiceStub(graph), users[1], users[0].user_id)
    return users


@pytest.mark.parametrize("rpc", RPCS)
async def test_every_rpc_answers_cleanly(rpc: str, setup, mesh) -> None:
    users = setup
    known = [u.user_id for u in users] + [u.username for u in users]
    method = gpb.DESCRIPTOR.services_by_name["SocialGraphService"].methods_by_name[rpc]
    callers = [users[0].md, service_metadata(mesh, "auth"), service_metadata(mesh, "feed")]

    @settings(max_examples=EXAMPLES_PER_RPC, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(request=_message(method.input_type, known), caller=st.sampled_from(callers))
    def check(request, caller) -> None:
        with grpc.insecure_channel(mesh.target("graph")) as channel:
            call = getattr(ggrpc.SocialGraphServiceStub(channel), rpc)
            try:
                call(request, metadata=caller, timeout=20)
            except grpc.RpcError as err:
                assert err.code() in CLEAN, (rpc, request, err.code(), err.details())

    await asyncio.to_thread(check)
