"""gRPC transport of MediaService.

The RPCs are specified in protos/photomesh/media/v1/ and land with issue #3; until
then the generated base class answers each with UNIMPLEMENTED.
"""

from __future__ import annotations

from photomesh.media.v1 import media_service_pb2_grpc as pb_grpc


class MediaServicer(pb_grpc.MediaServiceServicer):
    pass
