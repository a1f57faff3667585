"""gRPC transport of MessageService: proto in, domain call, proto out."""

from __future__ import annotations

from collections.abc import AsyncIterator

from grpc import aio
from photomesh.message.v1 import message_service_pb2 as pb
from photomesh.message.v1 import message_service_pb2_grpc as pb_grpc

from services.message.conversation import Conversation
from services.message.inbox import Inbox
from services.message.live import Live
from services.message.threads import Threads
from services.runtime.auth import current_principal


def _me() -> str:
    return current_principal().user_id


class MessageServicer(pb_grpc.MessageServiceServicer):
    def __init__(self, threads: Threads, conversation: Conversation, inbox: Inbox,
                 live: Live) -> None:
        self._threads = threads
        self._conversation = conversation
        self._inbox = inbox
        self._live = live

    async def OpenDirectThread(self, request: pb.OpenDirectThreadRequest,
                               context: aio.ServicerContext) -> pb.OpenDirectThreadResponse:
        return pb.OpenDirectThreadResponse(
            thread=await self._threads.open_direct(_me(), request.user_id))

    async def CreateGroupThread(self, request: pb.CreateGroupThreadRequest,
                                context: aio.ServicerContext) -> pb.CreateGroupThreadResponse:
        return pb.CreateGroupThreadResponse(thread=await self._threads.create_group(
            _me(), request.request_id, list(request.member_user_ids), request.name))

    async def GetThread(self, request: pb.GetThreadRequest,
                        context: aio.ServicerContext) -> pb.GetThreadResponse:
        return pb.GetThreadResponse(thread=await self._threads.get(_me(), request.thread_id))

    async def UpdateThread(self, request: pb.UpdateThreadRequest,
                           context: aio.ServicerContext) -> pb.UpdateThreadResponse:
        return pb.UpdateThreadResponse(thread=await self._threads.rename(
            _me(), request.thread_id, request.name, list(request.update_mask.paths)))

    async def AddThreadMembers(self, request: pb.AddThreadMembersRequest,
                               context: aio.ServicerContext) -> pb.AddThreadMembersResponse:
        return pb.AddThreadMembersResponse(thread=await self._threads.add_members(
            _me(), request.thread_id, list(request.user_ids)))

    async def RemoveThreadMember(self, request: pb.RemoveThreadMemberRequest,
                                 context: aio.ServicerContext
                                 ) -> pb.RemoveThreadMemberResponse:
        return pb.RemoveThreadMemberResponse(thread=await self._threads.remove_member(
            _me(), request.thread_id, request.user_id))

    async def LeaveThread(self, request: pb.LeaveThreadRequest,
                          context: aio.ServicerContext) -> pb.LeaveThreadResponse:
        await self._threads.leave(_me(), request.thread_id)
        return pb.LeaveThreadResponse()

    async def ListThreads(self, request: pb.ListThreadsRequest,
                          context: aio.ServicerContext) -> pb.ListThreadsResponse:
        return await self._inbox.page(_me(), request.folder, request.page_size,
                                      request.page_token)

    async def GetUnreadCount(self, request: pb.GetUnreadCountRequest,
                             context: aio.ServicerContext) -> pb.GetUnreadCountResponse:
        return await self._inbox.unread(_me())

    async def SendMessage(self, request: pb.SendMessageRequest,
                          context: aio.ServicerContext) -> pb.SendMessageResponse:
        return pb.SendMessageResponse(message=await self._conversation.send(
            _me(), request.thread_id, request.request_id, request.text, request.media_id,
            request.shared_post_id))

    async def ListMessages(self, request: pb.ListMessagesRequest,
                           context: aio.ServicerContext) -> pb.ListMessagesResponse:
        return await self._conversation.page(_me(), request.thread_id, request.page_size,
                                             request.page_token)

    async def UnsendMessage(self, request: pb.UnsendMessageRequest,
                            context: aio.ServicerContext) -> pb.UnsendMessageResponse:
        await self._conversation.unsend(_me(), request.thread_id, request.message_id)
        return pb.UnsendMessageResponse()

    async def DeleteMessageForMe(self, request: pb.DeleteMessageForMeRequest,
                                 context: aio.ServicerContext
                                 ) -> pb.DeleteMessageForMeResponse:
        await self._conversation.delete_for_me(_me(), request.thread_id, request.message_id)
        return pb.DeleteMessageForMeResponse()

    async def MarkThreadRead(self, request: pb.MarkThreadReadRequest,
                             context: aio.ServicerContext) -> pb.MarkThreadReadResponse:
        return await self._inbox.mark_read(_me(), request.thread_id, request.up_to_message_id)

    async def AcceptMessageRequest(self, request: pb.AcceptMessageRequestRequest,
                                   context: aio.ServicerContext
                                   ) -> pb.AcceptMessageRequestResponse:
        return pb.AcceptMessageRequestResponse(
            thread=await self._inbox.accept(_me(), request.thread_id))

    async def DeclineMessageRequest(self, request: pb.DeclineMessageRequestRequest,
                                    context: aio.ServicerContext
                                    ) -> pb.DeclineMessageRequestResponse:
        await self._inbox.decline(_me(), request.thread_id)
        return pb.DeclineMessageRequestResponse()

    async def StreamMessages(self, request: pb.StreamMessagesRequest,  # type: ignore[override]
                             context: aio.ServicerContext
                             ) -> AsyncIterator[pb.StreamMessagesResponse]:
        async for event in self._live.events(_me()):
            yield event
