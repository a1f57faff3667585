"""gRPC transport of StoryService.

The RPCs are specified in protos/photomesh/story/v1/ and land with issue #6; until
then the generated base class answers each with UNIMPLEMENTED.
"""

from __future__ import annotations

from photomesh.story.v1 import story_service_pb2_grpc as pb_grpc


class StoryServicer(pb_grpc.StoryServiceServicer):
    pass
