"""Random and malformed requests at every PostService RPC: the only answers allowed are a
success or a clean gRPC error with an ErrorInfo — never UNKNOWN or INTERNAL."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from photomesh.auth.v1 import auth_service_pb2 as auth_pb
from photomesh.auth.v1 import auth_service_pb2_grpc as auth_grpc
from photomesh.post.v1 import post_service_pb2 as pb
from photomesh.post.v1 import post_service_pb2_grpc as pb_grpc

from tests.helpers import bearer, error_info, new_username

SERVICE = pb.DESCRIPTOR.services_by_name["PostService"]
ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
           grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION,
           grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.UNAUTHENTICATED}

_ids = st.one_of(st.just(0), st.integers(1, 2**20), st.integers(2**62, 2**64 - 1),
                 st.integers(1 << 40, 1 << 60))
_texts = st.one_of(st.text(max_size=40), st.just(""), st.text(min_size=2190, max_size=2300),
                   st.builds(lambda: str(uuid.uuid4())), st.sampled_from(
                       ["#tag @someone", "\x00", "ünïcödé #ok", "a" * 65, "../../etc"]))


def _field(field: FieldDescriptor) -> st.SearchStrategy:
    if field.type == FieldDescriptor.TYPE_UINT64:
        single: st.SearchStrategy = _ids
    elif field.type == FieldDescriptor.TYPE_INT32:
        single = st.one_of(st.integers(-5, 120), st.integers(-2**31, 2**31 - 1))
    elif field.type == FieldDescriptor.TYPE_STRING:
        single = _texts
    else:
        raise AssertionError(f"no strategy for {field.full_name}")
    if field.is_repeated:
        return st.one_of(st.lists(single, max_size=12), st.lists(single, min_size=501,
                                                                 max_size=520))
    return single


def request_of(method_name: str) -> st.SearchStrategy:
    message = SERVICE.methods_by_name[method_name].input_type
    cls = getattr(pb, message.name)
    return st.fixed_dictionaries({f.name: _field(f) for f in message.fields}).map(
        lambda kwargs: cls(**kwargs))


@pytest.fixture(scope="module")
def caller(mesh) -> tuple[pb_grpc.PostServiceStub, tuple]:
    auth_channel = grpc.insecure_channel(mesh.target("auth"))
    post_channel = grpc.insecure_channel(mesh.target("post"))
    reply = auth_grpc.AuthServiceStub(auth_channel).Register(auth_pb.RegisterRequest(
        request_id=str(uuid.uuid4()), username=new_username("fz"),
        password="correct horse battery"))
    yield pb_grpc.PostServiceStub(post_channel), bearer(reply.tokens.access_token)
    post_channel.close()
    auth_channel.close()


@pytest.mark.parametrize("method", list(SERVICE.methods_by_name))
def test_every_rpc_answers_cleanly(caller, method: str) -> None:
    stub, metadata = caller

    @settings(max_examples=8, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(request=request_of(method), signed_in=st.sampled_from([True, True, True, False]))
    def check(request, signed_in) -> None:
        call = getattr(stub, method)
        try:
            call(request, metadata=metadata if signed_in else (), timeout=20)
        except grpc.RpcError as err:
            assert err.code() in ALLOWED, (method, request, err.code(), err.details())
            assert error_info(err).domain in ("post.photomesh", "graph.photomesh",
                                              "media.photomesh")

    check()
