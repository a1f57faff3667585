"""gRPC transport of SocialGraphService.

The RPCs are specified in protos/photomesh/graph/v1/ and land with issue #4; until
then the generated base class answers each with UNIMPLEMENTED.
"""

from __future__ import annotations

from photomesh.graph.v1 import social_graph_service_pb2_grpc as pb_grpc


class SocialGraphServicer(pb_grpc.SocialGraphServiceServicer):
    pass
