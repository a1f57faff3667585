"""The parts both message processes share, connected: the CQL stores, the Redis cache and
channels, and the social view (with the durable consumers keeping it, shared by the
service and the worker)."""

from __future__ import annotations

from dataclasses import dataclass

from services.message.access import Access
from services.message.cache import MessageCache
from services.message.settings import MessageSettings
from services.message.store.inbox import InboxRows
from services.message.store.messages import MessageRows
from services.message.store.threads import ThreadRows
from services.peers.social_view import SocialView
from services.runtime.app import Context
from services.runtime.cache import KeySpace
from services.runtime.events import Consumer

NAME = "message"


@dataclass(frozen=True)
class Parts:
    access: Access
    messages: MessageRows
    inbox: InboxRows
    cache: MessageCache
    view: SocialView
    view_consumers: list[Consumer]


async def connect(ctx: Context[MessageSettings]) -> Parts:
    settings, backends = ctx.settings, ctx.backends
    assert backends.cql and backends.redis and backends.redis_settings and backends.events
    await backends.events.ensure_stream("graph")
    await backends.events.ensure_stream(NAME)
    view = ctx.peers.social_view(backends.redis, backends.redis_settings, NAME,
                                 ttl_seconds=settings.social_view_ttl_seconds)
    cache = MessageCache(backends.redis, KeySpace(backends.redis_settings, NAME),
                         settings.unread_ttl_seconds)
    return Parts(Access(ThreadRows(backends.cql), view),
                 MessageRows(backends.cql, settings.bucket_days), InboxRows(backends.cql),
                 cache, view, view.consumers(backends.events, NAME))
