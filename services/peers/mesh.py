"""The mesh as one process reaches it: `Peers`, made once per process by the runtime
(services/runtime/app.py) from `PeerSettings` and the process's own credentials, and handed
to its build.

It is the photomesh client package (clients/python, `photomesh_client.Client`) with the
mesh's own plumbing: calls carry the token of the caller being served (a user's, or this
service's inside ``peers.credentials.acting()``) and the remaining deadline of the call
being served, are traced when tracing is on, retry idempotent reads on UNAVAILABLE through
the gRPC service config, and fail with typed errors. Timeouts, retries and credentials
live here and nowhere else.
"""

from __future__ import annotations

from grpc import aio
from photomesh_client import Client, RetryPolicy, Targets
from photomesh_client.interceptors import CallDefaults, client_interceptors
from redis.asyncio import Redis

from services.peers.graph import GraphPeer
from services.peers.media import MediaPeer
from services.peers.post import PostPeer
from services.peers.social_view import SocialView, social_view
from services.runtime import telemetry
from services.runtime.auth import ServiceCredentials
from services.runtime.interceptors import caller_token, deadline_interceptors
from services.runtime.settings import PeerSettings, RedisSettings

TIMEOUT_SECONDS = 5.0
RETRY = RetryPolicy(max_attempts=3, initial_backoff=0.05, max_backoff=0.5)
CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 30_000),
    # Calls spread round-robin over every address a name resolves to (a headless Service
    # in Kubernetes; servers with max_connection_age make clients re-resolve now and then).
    ("grpc.lb_policy_name", "round_robin"),
)


def mesh_interceptors() -> list[aio.ClientInterceptor]:
    """What every peer call of this process passes through before the client's own
    interceptors: tracing (when on) and the remaining deadline of the call being served."""
    return [*telemetry.client_interceptors(), *deadline_interceptors()]  # type: ignore[list-item]


def peer_channel(target: str) -> aio.Channel:
    """A bare channel to `target` with the peer layer's plumbing (the caller's token, its
    remaining deadline, tracing, typed errors), for a peer that is not a photomesh service
    (a test's demo server); photomesh services are reached through `Peers`."""
    return aio.insecure_channel(target, options=list(CHANNEL_OPTIONS), interceptors=[
        *mesh_interceptors(),
        *client_interceptors(CallDefaults(TIMEOUT_SECONDS, None, caller_token))])


class Peers:
    def __init__(self, settings: PeerSettings, credentials: ServiceCredentials) -> None:
        self.credentials = credentials
        self.client = Client(
            Targets(services=settings.targets()), token=caller_token, timeout=TIMEOUT_SECONDS,
            retry=RETRY, interceptors=mesh_interceptors(), options=CHANNEL_OPTIONS)
        self.graph = GraphPeer(self.client.graph, credentials)
        self.media = MediaPeer(self.client.media, credentials)
        self.post = PostPeer(self.client.post)

    def social_view(self, redis: Redis, redis_settings: RedisSettings, owner: str, *,
                    ttl_seconds: int = 3600) -> SocialView:
        """Service `owner`'s social view (its own Redis keys), asking the graph as this
        process."""
        return social_view(redis, redis_settings, owner, self.graph, ttl_seconds=ttl_seconds)

    async def close(self) -> None:
        await self.client.close()
