"""Property tests of "nothing ends as UNKNOWN": requests built from the contracts.

`requests_for(descriptor, known)` is a Hypothesis strategy for any request message: every
field gets values of its type — real ids of a small world made through the mesh (`Known`),
and the edges (empty, malformed, huge, negative, unknown enum values, long lists). The
answers allowed are a success or a clean error: over gRPC a client-side status (never
UNKNOWN, INTERNAL, UNAVAILABLE …) with an ErrorInfo; over REST a 2xx or 4xx, never a 5xx.

Examples are bounded and derandomized (no example database), so CI runs the same requests
every time.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from photomesh.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from photomesh.discovery.v1 import (
    explore_service_pb2,
    explore_service_pb2_grpc,
    search_service_pb2,
    search_service_pb2_grpc,
)
from photomesh.feed.v1 import feed_service_pb2, feed_service_pb2_grpc
from photomesh.graph.v1 import social_graph_service_pb2, social_graph_service_pb2_grpc
from photomesh.media.v1 import media_service_pb2, media_service_pb2_grpc
from photomesh.message.v1 import message_service_pb2, message_service_pb2_grpc
from photomesh.notification.v1 import notification_service_pb2, notification_service_pb2_grpc
from photomesh.post.v1 import post_service_pb2, post_service_pb2_grpc
from photomesh.story.v1 import story_service_pb2, story_service_pb2_grpc

from tests.graph_support import User

#: mesh name -> (messages module, stubs module, service name)
SERVICES: dict[str, tuple[Any, Any, str]] = {
    "auth": (auth_service_pb2, auth_service_pb2_grpc, "AuthService"),
    "explore": (explore_service_pb2, explore_service_pb2_grpc, "ExploreService"),
    "search": (search_service_pb2, search_service_pb2_grpc, "SearchService"),
    "feed": (feed_service_pb2, feed_service_pb2_grpc, "FeedService"),
    "graph": (social_graph_service_pb2, social_graph_service_pb2_grpc, "SocialGraphService"),
    "media": (media_service_pb2, media_service_pb2_grpc, "MediaService"),
    "message": (message_service_pb2, message_service_pb2_grpc, "MessageService"),
    "notification": (notification_service_pb2, notification_service_pb2_grpc,
                     "NotificationService"),
    "post": (post_service_pb2, post_service_pb2_grpc, "PostService"),
    "story": (story_service_pb2, story_service_pb2_grpc, "StoryService"),
}

#: Statuses a caller's mistake may get; anything else (UNKNOWN, INTERNAL, UNAVAILABLE,
#: DEADLINE_EXCEEDED, DATA_LOSS …) is the service's failure.
CLEAN = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
         grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION,
         grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.UNAUTHENTICATED,
         grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE}

#: Bounded, reproducible runs.
FUZZ_SETTINGS = settings(deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))

STREAM_SECONDS = 1.0  # an accepted server stream stays open: it is cut after this


@contextmanager
def other_threads_may_use_random() -> Iterator[None]:
    """Hypothesis warns (an error here) when the global `random` state changes while it
    draws an example. These strategies never touch `random`, but other threads of the test
    process do (the OpenTelemetry exporter's retry jitter, drivers' backoff) while a fuzz
    runs in its worker thread: that warning would be a false alarm, and the replay it
    breaks a FlakyStrategyDefinition."""
    from hypothesis.errors import HypothesisDeprecationWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Do not use the `random` module",
                                category=HypothesisDeprecationWarning)
        yield


@dataclass(frozen=True)
class Known:
    """Values that exist in the mesh, so requests reach past "not found"."""

    users: list[User]
    strings: list[str]  # user ids, usernames, media ids
    numbers: list[int]  # post, comment, story and notification ids


def service(name: str) -> Any:
    """The ServiceDescriptor of a mesh service."""
    module, _, service_name = SERVICES[name]
    return module.DESCRIPTOR.services_by_name[service_name]


def stub(name: str, channel: aio.Channel | grpc.Channel) -> Any:
    _, grpc_module, service_name = SERVICES[name]
    return getattr(grpc_module, f"{service_name}Stub")(channel)


def message_class(full_name: str) -> type[Message]:
    return message_factory.GetMessageClass(
        descriptor_pool.Default().FindMessageTypeByName(full_name))


# --- strategies ------------------------------------------------------------------------------

def _strings(known: Known, name: str) -> st.SearchStrategy[str]:
    if name == "page_token":
        return st.one_of(st.just(""), st.text(max_size=60), st.binary(max_size=40).map(
            lambda b: b.hex()))
    edges = st.sampled_from(["", " ", "\x00", "../../etc/passwd", "ünïcödé #tag @x",
                             "a" * 300, "DROP TABLE x;--", "%2F%2E%2E"])
    pool = st.sampled_from(known.strings) if known.strings else st.nothing()
    return st.one_of(pool, pool, st.uuids().map(str), edges, st.text(max_size=40),
                     st.text(min_size=2000, max_size=2100))


def _numbers(known: Known, unsigned: bool) -> st.SearchStrategy[int]:
    pool = st.sampled_from(known.numbers) if known.numbers else st.nothing()
    low = 0 if unsigned else -(2**31)
    high = 2**64 - 1 if unsigned else 2**31 - 1
    edges = st.sampled_from([0, 1, 2**31 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1]
                            if unsigned else [-1, 0, 1, 2**31 - 1, -(2**31)])
    return st.one_of(pool, pool, edges, st.integers(-2 if not unsigned else 0, 120),
                     st.integers(low, high))


def _scalar(field: FieldDescriptor, known: Known) -> st.SearchStrategy[Any] | None:
    t = field.type
    if t == FieldDescriptor.TYPE_STRING:
        return _strings(known, field.name)
    if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_UINT32,
             FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_FIXED32):
        unsigned = _numbers(known, True)
        return unsigned if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64) \
            else unsigned.filter(lambda n: n < 2**32)
    if t in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64,
             FieldDescriptor.TYPE_SFIXED64):
        return _numbers(known, False) | st.integers(-(2**63), 2**63 - 1)
    if t in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32,
             FieldDescriptor.TYPE_SFIXED32):
        return _numbers(known, False).filter(lambda n: -(2**31) <= n < 2**31)
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t == FieldDescriptor.TYPE_ENUM:
        top = max(v.number for v in field.enum_type.values)
        return st.integers(0, top + 2)  # unknown values too
    if t == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    return None


def _nested(field: FieldDescriptor, owner: Descriptor, known: Known, depth: int
            ) -> st.SearchStrategy[Any] | None:
    name = field.message_type.full_name
    if name == "google.protobuf.FieldMask":
        paths = ["", "x.y", "no_such_field"]
        for f in owner.fields:
            paths.append(f.name)
            if f.message_type is not None:
                paths += [inner.name for inner in f.message_type.fields]
        return st.lists(st.sampled_from(paths), max_size=5).map(lambda p: FieldMask(paths=p))
    if name == "google.protobuf.Timestamp":
        return st.builds(Timestamp, seconds=st.integers(0, 4_102_444_800),
                         nanos=st.integers(0, 999_999_999))
    if name.startswith("photomesh.") and depth < 2:
        return requests_for(field.message_type, known, depth + 1)
    return None


def requests_for(descriptor: Descriptor, known: Known, depth: int = 0
                 ) -> st.SearchStrategy[Message]:
    """Messages of `descriptor` with any subset of its fields set."""
    cls = message_class(descriptor.full_name)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        if field.message_type is not None:
            value = _nested(field, descriptor, known, depth)
        else:
            value = _scalar(field, known)
        if value is None:
            continue
        if field.is_repeated:
            many = st.lists(st.uuids().map(str), min_size=1001, max_size=1001) \
                if field.type == FieldDescriptor.TYPE_STRING else st.lists(value, max_size=8)
            value = st.lists(value, max_size=8) | many
        fields[field.name] = value
    return st.fixed_dictionaries({}, optional=fields).map(lambda kw: cls(**kw))


# --- calling ---------------------------------------------------------------------------------

def call_cleanly(channel: grpc.Channel, name: str, method: MethodDescriptor,
                 request: Message, metadata: tuple[tuple[str, str], ...]) -> None:
    """One call over gRPC; fails unless it succeeds or ends in a clean, explained error."""
    from tests.helpers import error_info

    rpc = getattr(stub(name, channel), method.name)
    try:
        if method.server_streaming:
            for _ in rpc(request, metadata=metadata, timeout=STREAM_SECONDS):
                pass
        else:
            rpc(request, metadata=metadata, timeout=30)
    except grpc.RpcError as err:
        code = err.code()  # type: ignore[attr-defined]
        if method.server_streaming and code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return  # accepted: the stream stayed open until we cut it
        assert code in CLEAN, (name, method.name, request, code,
                               err.details())  # type: ignore[attr-defined]
        info = error_info(err)
        assert info.reason and info.domain.endswith(".photomesh"), (method.name, info)


async def fuzz_rpc(name: str, rpc: str, target: str, known: Known,
                   callers: list[tuple[tuple[str, str], ...]], examples: int) -> None:
    """`examples` requests of `rpc` (service `name` at `target`), each by one of `callers`,
    all answered cleanly (run in a thread: the gRPC calls block)."""
    import asyncio

    method = service(name).methods_by_name[rpc]
    if method.server_streaming:
        examples = min(examples, 3)  # an accepted stream costs STREAM_SECONDS

    def run() -> None:
        with grpc.insecure_channel(target) as channel, other_threads_may_use_random():
            @settings(FUZZ_SETTINGS, max_examples=examples)
            @given(request=requests_for(method.input_type, known),
                   caller=st.sampled_from(callers))
            def check(request: Message, caller: tuple[tuple[str, str], ...]) -> None:
                call_cleanly(channel, name, method, request, caller)

            check()

    await asyncio.to_thread(run)


# --- the world the requests refer to ----------------------------------------------------------

async def build_world(mesh: Any) -> Known:
    """Three users (b follows a; c is private and a asked to follow c), a READY image and a
    post of a's with b's like and comment, a story of a's, a's notifications, and a's
    one-to-one thread with b holding one message."""
    import asyncio
    import time

    from photomesh.notification.v1 import notification_service_pb2 as npb
    from photomesh.post.v1 import post_service_pb2 as ppb
    from photomesh.story.v1 import story_service_pb2 as spb

    from tests.graph_support import Users, follow, graph_stub, make_private
    from tests.media_support import ready_media

    async with aio.insecure_channel(mesh.target("auth")) as auth, \
            aio.insecure_channel(mesh.target("graph")) as graph_channel, \
            aio.insecure_channel(mesh.target("post")) as post_channel, \
            aio.insecure_channel(mesh.target("story")) as story_channel, \
            aio.insecure_channel(mesh.target("notification")) as notification_channel, \
            aio.insecure_channel(mesh.target("message")) as message_channel:
        a, b, c = await Users.register(auth, 3, prefix="fz")
        graph = graph_stub(graph_channel)
        await follow(graph, b, a.user_id)
        await make_private(graph, c)
        await follow(graph, a, c.user_id)
        media = await ready_media(mesh.target("media"), a.token)
        posts = stub("post", post_channel)
        post = (await posts.CreatePost(ppb.CreatePostRequest(
            request_id=new_id(), caption="fuzz #world @x", media_ids=[media.media_id]),
            metadata=a.md)).post
        await posts.LikePost(ppb.LikePostRequest(post_id=post.post_id), metadata=b.md)
        comment = (await posts.CreateComment(ppb.CreateCommentRequest(
            post_id=post.post_id, text="nice", request_id=new_id()), metadata=b.md)).comment
        story = (await stub("story", story_channel).CreateStory(spb.CreateStoryRequest(
            request_id=new_id(), text="fuzz"), metadata=a.md)).story
        messages = stub("message", message_channel)
        thread = (await messages.OpenDirectThread(message_service_pb2.OpenDirectThreadRequest(
            user_id=b.user_id), metadata=a.md)).thread
        message = (await messages.SendMessage(message_service_pb2.SendMessageRequest(
            thread_id=thread.thread_id, request_id=new_id(), text="fuzz"),
            metadata=a.md)).message
        notifications: list[int] = []
        deadline = time.monotonic() + 20
        while not notifications and time.monotonic() < deadline:
            listed = await stub("notification", notification_channel).ListNotifications(
                npb.ListNotificationsRequest(), metadata=a.md)
            notifications = [n.notification_id for n in listed.notifications]
            await asyncio.sleep(0.2)
    users = [a, b, c]
    return Known(users=users,
                 strings=[u.user_id for u in users] + [u.username for u in users]
                 + [media.media_id, thread.thread_id],
                 numbers=[post.post_id, comment.comment_id, story.story_id,
                          message.message_id, *notifications])


def new_id() -> str:
    return str(uuid.uuid4())
