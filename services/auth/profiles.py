"""The graph service's profile of each account, created when the account is.

Register stores the account, then asks the graph service (as the auth service itself) to
create the profile. If the graph service is unavailable, Register fails UNAVAILABLE and
its retry with the same request_id completes the profile; Login ensures it again, so an
account never stays without a profile. CreateProfile is idempotent.
"""

from __future__ import annotations

import grpc
from grpc import aio
from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as graph_grpc

from services.runtime.auth import ServiceCredentials
from services.runtime.errors import Unavailable

_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
TIMEOUT_SECONDS = 5.0


class ProfileDirectory:
    def __init__(self, channel: aio.Channel, credentials: ServiceCredentials) -> None:
        self._graph = graph_grpc.SocialGraphServiceStub(channel)
        self._credentials = credentials

    async def ensure(self, user_id: str, username: str, display_name: str) -> None:
        request = graph_pb.CreateProfileRequest(user_id=user_id, username=username,
                                                display_name=display_name)
        try:
            with self._credentials.acting():
                await self._graph.CreateProfile(request, timeout=TIMEOUT_SECONDS)
        except aio.AioRpcError as exc:
            if exc.code() in _RETRYABLE:
                raise Unavailable("the profile service is unavailable; retry with the same "
                                  "request", reason="BACKEND_UNAVAILABLE") from None
            raise
