"""Stubs of the chaos stack's services, one channel each (reconnecting on their own after a
process is killed and started again)."""

from __future__ import annotations

from grpc import aio
from photomesh.auth.v1 import auth_service_pb2_grpc as agrpc
from photomesh.feed.v1 import feed_service_pb2_grpc as fgrpc
from photomesh.graph.v1 import social_graph_service_pb2_grpc as ggrpc
from photomesh.media.v1 import media_service_pb2_grpc as mgrpc
from photomesh.notification.v1 import notification_service_pb2_grpc as ngrpc
from photomesh.post.v1 import post_service_pb2_grpc as pgrpc
from photomesh.story.v1 import story_service_pb2_grpc as sgrpc

from infra.chaos import ChaosStack

SERVICES = ("auth", "graph", "post", "feed", "story", "media", "notification")


class ChaosClients:
    def __init__(self, stack: ChaosStack) -> None:
        self.channels = {name: aio.insecure_channel(stack.target(name)) for name in SERVICES}
        self.auth_channel = self.channels["auth"]
        self.auth = agrpc.AuthServiceStub(self.channels["auth"])
        self.graph = ggrpc.SocialGraphServiceStub(self.channels["graph"])
        self.post = pgrpc.PostServiceStub(self.channels["post"])
        self.feed = fgrpc.FeedServiceStub(self.channels["feed"])
        self.story = sgrpc.StoryServiceStub(self.channels["story"])
        self.media = mgrpc.MediaServiceStub(self.channels["media"])
        self.notification = ngrpc.NotificationServiceStub(self.channels["notification"])

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
