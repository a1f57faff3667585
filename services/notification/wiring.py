"""The parts both notification processes share, connected: the inbox (CQL store and Redis
read model) and the social view (with the durable consumers keeping it)."""

from __future__ import annotations

from dataclasses import dataclass

from grpc import aio

from services.notification.cache import InboxCache
from services.notification.inbox import Inbox
from services.notification.settings import NotificationSettings, NotificationWorkerSettings
from services.notification.store import InboxStore
from services.peers.graph import GraphPeer
from services.peers.social_view import SocialView, social_view
from services.runtime.app import service_credentials
from services.runtime.backends import Backends
from services.runtime.cache import KeySpace
from services.runtime.events import Consumer
from services.runtime.grpc_clients import peer_channel
from services.runtime.settings import PeerSettings, load

VIEW_OWNER = "notification"  # both processes share the view's keys and its consumers


@dataclass(frozen=True)
class Parts:
    inbox: Inbox
    view: SocialView
    view_consumers: list[Consumer]
    graph_channel: aio.Channel


async def connect(backends: Backends, name: str,
                  settings: NotificationSettings | NotificationWorkerSettings) -> Parts:
    """The parts of process `name` (its identity for graph calls)."""
    assert backends.cql and backends.redis and backends.redis_settings and backends.events
    assert backends.ids
    await backends.events.ensure_stream("graph")
    keys = KeySpace(backends.redis_settings, "notification")
    channel = peer_channel(load(PeerSettings).graph_target)
    view = social_view(backends.redis, backends.redis_settings, VIEW_OWNER,
                       GraphPeer(channel, service_credentials(name)),
                       ttl_seconds=settings.social_view_ttl_seconds)
    if isinstance(settings, NotificationWorkerSettings):
        store = InboxStore(backends.cql, settings.inbox_ttl_seconds)
        cache = InboxCache(backends.redis, keys, cap=settings.cached_notifications)
        window = settings.group_window_seconds
    else:
        store = InboxStore(backends.cql)  # the service only reads
        cache = InboxCache(backends.redis, keys, cap=settings.cached_notifications,
                           active_seconds=settings.cache_active_seconds,
                           refill_seconds=settings.cache_refill_seconds)
        window = 0
    inbox = Inbox(store, cache, backends.ids, window)
    return Parts(inbox, view, view.consumers(backends.events, VIEW_OWNER), channel)
