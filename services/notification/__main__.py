"""Run the notification service: ``python -m services.notification``.

The inbox is written by the worker (``python -m services.notification.worker``); this
process serves reads, read marks and the live stream.
"""

from __future__ import annotations

from photomesh.notification.v1 import notification_service_pb2 as pb
from photomesh.notification.v1 import notification_service_pb2_grpc as pb_grpc

from services.notification.cache import NotificationCache
from services.notification.inbox import Inbox
from services.notification.peers import GraphPeer
from services.notification.server import NotificationServicer
from services.notification.settings import NotificationSettings
from services.notification.store import InboxStore
from services.notification.stream import StreamHub
from services.runtime.app import Built, Needs, definition, main, service_credentials
from services.runtime.backends import Backends
from services.runtime.cache import KeySpace
from services.runtime.grpc_clients import peer_channel
from services.runtime.pagination import mesh_page_tokens
from services.runtime.settings import PeerSettings, load


async def build(settings: NotificationSettings, backends: Backends) -> Built:
    assert backends.cql and backends.redis and backends.redis_settings and backends.ids
    channel = peer_channel(load(PeerSettings).graph_target)
    cache = NotificationCache(backends.redis, KeySpace(backends.redis_settings, "notification"))
    inbox = Inbox(InboxStore(backends.cql), cache, backends.ids)
    hub = StreamHub(backends.redis, cache, settings.stream_queue_size)
    servicer = NotificationServicer(inbox, GraphPeer(channel, service_credentials("notification")),
                                    hub, mesh_page_tokens(settings.page_token_secret))

    async def close_channel() -> None:
        await channel.close()

    return Built(definition("notification", pb, pb_grpc, "NotificationService", servicer),
                 background=[hub.run()], on_stop=[close_channel])


if __name__ == "__main__":
    main("notification", NotificationSettings, Needs(cql=True, redis=True, ids=True), build)
