"""gRPC transport of FeedService.

The RPCs are specified in protos/photomesh/feed/v1/ and land with issue #5; until
then the generated base class answers each with UNIMPLEMENTED.
"""

from __future__ import annotations

from photomesh.feed.v1 import feed_service_pb2_grpc as pb_grpc


class FeedServicer(pb_grpc.FeedServiceServicer):
    pass
