"""gRPC transport of PostService.

The RPCs are specified in protos/photomesh/post/v1/ and land with issue #4; until
then the generated base class answers each with UNIMPLEMENTED.
"""

from __future__ import annotations

from photomesh.post.v1 import post_service_pb2_grpc as pb_grpc


class PostServicer(pb_grpc.PostServiceServicer):
    pass
