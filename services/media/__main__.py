"""Run the media service: ``python -m services.media``."""

from __future__ import annotations

from photomesh.media.v1 import media_service_pb2 as pb
from photomesh.media.v1 import media_service_pb2_grpc as pb_grpc

from services.media.audience import MediaAudience
from services.media.server import MediaServicer
from services.media.settings import MediaSettings
from services.media.wiring import assemble
from services.peers.graph import GraphPeer
from services.peers.social_view import social_view
from services.runtime.app import Built, Needs, definition, main, service_credentials
from services.runtime.backends import Backends
from services.runtime.grpc_clients import peer_channel
from services.runtime.settings import PeerSettings, load


async def build(settings: MediaSettings, backends: Backends) -> Built:
    assert backends.redis and backends.redis_settings and backends.events
    await backends.events.ensure_stream("graph")
    graph_channel = peer_channel(load(PeerSettings).graph_target)
    view = social_view(backends.redis, backends.redis_settings, "media",
                       GraphPeer(graph_channel, service_credentials("media")),
                       ttl_seconds=settings.social_view_ttl_seconds)
    parts = await assemble(settings, backends, MediaAudience(view, graph_channel))
    return Built(definition("media", pb, pb_grpc, "MediaService",
                            MediaServicer(parts.library, parts.urls)),
                 background=[c.run() for c in view.consumers(backends.events, "media")],
                 on_stop=[graph_channel.close])


if __name__ == "__main__":
    main("media", MediaSettings, Needs(cql=True, redis=True, nats=True, minio=True), build)
