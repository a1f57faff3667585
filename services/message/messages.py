"""Threads and messages as contract messages (photomesh.message.v1), from domain types.

A stored message body is the serialized `Message` as every member sees it (the shared
post as it was shared); `for_viewer` drops what the viewer may not see of it."""

from __future__ import annotations

from collections.abc import Mapping

from photomesh.common.v1.user_pb2 import UserSummary
from photomesh.message.v1 import message_service_pb2 as pb

from services.message.model import Folder, InboxEntry, MessageRecord, ThreadRecord
from services.runtime.clock import timestamp_from_datetime


def message_of(record: MessageRecord) -> pb.Message:
    return pb.Message.FromString(record.body)


def for_viewer(message: pb.Message, post_visible: bool) -> pb.Message:
    """The message as a viewer sees it: a shared post they may not see keeps its id only."""
    if message.HasField("shared_post") and not post_visible:
        message.shared_post.ClearField("post")
    return message


def thread_of(t: ThreadRecord, viewer_id: str, summaries: Mapping[str, UserSummary],
              entry: InboxEntry | None = None, last: pb.Message | None = None) -> pb.Thread:
    members = [pb.ThreadMember(user=summaries.get(m) or UserSummary(user_id=m),
                               role=int(role),  # type: ignore[arg-type]
                               read_up_to_message_id=t.read_marks.get(m, 0))
               for m, role in sorted(t.members.items(), key=lambda kv: (-kv[1], kv[0]))]
    folder = Folder.INBOX if viewer_id in t.accepted else Folder.REQUESTS
    if entry is not None:
        folder = entry.folder
    thread = pb.Thread(thread_id=t.thread_id, kind=int(t.kind),  # type: ignore[arg-type]
                       name=t.name, members=members,
                       folder=int(folder),  # type: ignore[arg-type]
                       unread_count=entry.unread if entry else 0,
                       create_time=timestamp_from_datetime(t.create_time))
    if last is not None:
        thread.last_message.CopyFrom(last)
    return thread
