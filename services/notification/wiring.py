"""The parts both notification processes share, connected: the inbox (CQL store and Redis
read model) and the social view (with the durable consumers keeping it, shared by the
service and the worker)."""

from __future__ import annotations

from dataclasses import dataclass

from services.notification.cache import InboxCache
from services.notification.inbox import Inbox
from services.notification.settings import NotificationSettings
from services.notification.store import InboxStore
from services.peers.social_view import SocialView
from services.runtime.app import Context
from services.runtime.cache import KeySpace
from services.runtime.events import Consumer

NAME = "notification"


@dataclass(frozen=True)
class Parts:
    inbox: Inbox
    view: SocialView
    view_consumers: list[Consumer]


async def connect(ctx: Context[NotificationSettings]) -> Parts:
    settings, backends = ctx.settings, ctx.backends
    assert backends.cql and backends.redis and backends.redis_settings and backends.events
    assert backends.ids
    await backends.events.ensure_stream("graph")
    view = ctx.peers.social_view(backends.redis, backends.redis_settings, NAME,
                                 ttl_seconds=settings.social_view_ttl_seconds)
    cache = InboxCache(backends.redis, KeySpace(backends.redis_settings, NAME),
                       cap=settings.cached_notifications,
                       active_seconds=settings.cache_active_seconds,
                       refill_seconds=settings.cache_refill_seconds)
    inbox = Inbox(InboxStore(backends.cql, settings.inbox_ttl_seconds), cache, backends.ids,
                  settings.group_window_seconds)
    return Parts(inbox, view, view.consumers(backends.events, NAME))
