"""Graph events on the JetStream stream of the ``graph`` domain, and the epochs.

Every change is announced twice, in this order: the epochs of the users it involves are
bumped in Redis (services/peers/epochs.py: every service's social view checks them before
it trusts a cached answer, so a read after this call returns sees the change), then the
event is published. Each event is published after its change is committed in CQL; the
publish waits for JetStream's acknowledgement. If it fails, the RPC fails UNAVAILABLE and
the client's retry finds the change already committed and publishes again. The message
id (``Nats-Msg-Id``) and the event_id are derived from the change itself (who, whom, and
the stored time or version of the change), so a republish is de-duplicated by JetStream
within its duplicate window and carries the same event_id after it: consumers
de-duplicate on event_id. Trace context travels in the headers
(services/runtime/events.py).
"""

from __future__ import annotations

import uuid

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from photomesh.graph.v1 import events_pb2 as ev

from services.graph.messages import summary_pb
from services.graph.store import ProfileRow, now_ms
from services.peers.epochs import Epochs
from services.runtime.events import EventBus

DOMAIN = "graph"
_NAMESPACE = uuid.UUID("5b0c5c1e-7a4f-4c55-9a3e-6f1f2d4b8a10")


def _time(ms: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


class GraphEvents:
    def __init__(self, bus: EventBus, epochs: Epochs) -> None:
        self._bus = bus
        self._epochs = epochs

    async def _publish(self, event: str, msg_id: str, message: Message, *users: str) -> None:
        await self._epochs.bump(*users)
        await self._bus.publish(DOMAIN, event, message, msg_id=msg_id)

    @staticmethod
    def _ids(msg_id: str) -> tuple[str, str]:
        return msg_id, str(uuid.uuid5(_NAMESPACE, msg_id))

    async def followed(self, follower: str, followee: str, since_ms: int) -> None:
        msg_id, event_id = self._ids(f"followed:{follower}:{followee}:{since_ms}")
        await self._publish("followed", msg_id, ev.FollowedEvent(
            event_id=event_id, event_time=_time(since_ms), follower_user_id=follower,
            followee_user_id=followee), follower, followee)

    async def unfollowed(self, follower: str, followee: str, since_ms: int) -> None:
        """`since_ms` is when the ended follow began (it names the edge)."""
        msg_id, event_id = self._ids(f"unfollowed:{follower}:{followee}:{since_ms}")
        await self._publish("unfollowed", msg_id, ev.UnfollowedEvent(
            event_id=event_id, event_time=_time(now_ms()), follower_user_id=follower,
            followee_user_id=followee), follower, followee)

    async def follow_requested(self, requester: str, target: str, at_ms: int) -> None:
        msg_id, event_id = self._ids(f"follow_requested:{requester}:{target}:{at_ms}")
        await self._publish("follow_requested", msg_id, ev.FollowRequestedEvent(
            event_id=event_id, event_time=_time(at_ms), requester_user_id=requester,
            target_user_id=target), requester, target)

    async def follow_approved(self, requester: str, approver: str, since_ms: int) -> None:
        msg_id, event_id = self._ids(f"follow_approved:{requester}:{approver}:{since_ms}")
        await self._publish("follow_approved", msg_id, ev.FollowApprovedEvent(
            event_id=event_id, event_time=_time(since_ms), requester_user_id=requester,
            approver_user_id=approver), requester, approver)

    async def blocked(self, blocker: str, blocked: str, at_ms: int, removed_following: bool,
                      removed_follower: bool) -> None:
        msg_id, event_id = self._ids(f"blocked:{blocker}:{blocked}:{at_ms}")
        await self._publish("blocked", msg_id, ev.BlockedEvent(
            event_id=event_id, event_time=_time(at_ms), blocker_user_id=blocker,
            blocked_user_id=blocked, removed_following=removed_following,
            removed_follower=removed_follower), blocker, blocked)

    async def unblocked(self, blocker: str, blocked: str, block_ms: int) -> None:
        """`block_ms` is when the lifted block began (it names the block)."""
        msg_id, event_id = self._ids(f"unblocked:{blocker}:{blocked}:{block_ms}")
        await self._publish("unblocked", msg_id, ev.UnblockedEvent(
            event_id=event_id, event_time=_time(now_ms()), blocker_user_id=blocker,
            blocked_user_id=blocked), blocker, blocked)

    async def profile_updated(self, profile: ProfileRow) -> None:
        """`profile` as its change left it (version and changed paths included): the event
        carries the summary after the change, so every copy is replaced from it."""
        user_id, version = profile.user_id, profile.version
        msg_id, event_id = self._ids(f"profile_updated:{user_id}:{version}")
        await self._publish("profile_updated", msg_id, ev.ProfileUpdatedEvent(
            event_id=event_id, event_time=_time(now_ms()), user_id=user_id,
            changed_paths=list(profile.changed_paths), version=version,
            user=summary_pb(profile), avatar_media_id=profile.avatar_media_id), user_id)
