"""Profile rows as the contract's messages, shared by the transport and the events."""

from __future__ import annotations

from photomesh.common.v1 import user_pb2

from services.graph.store import ProfileRow


def summary_pb(row: ProfileRow) -> user_pb2.UserSummary:
    return user_pb2.UserSummary(user_id=row.user_id, username=row.username,
                                display_name=row.display_name, avatar_url=row.avatar_url,
                                private=row.private)
