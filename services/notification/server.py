"""gRPC transport of NotificationService.

The RPCs are specified in protos/photomesh/notification/v1/ and land with issue #6; until
then the generated base class answers each with UNIMPLEMENTED.
"""

from __future__ import annotations

from photomesh.notification.v1 import notification_service_pb2_grpc as pb_grpc


class NotificationServicer(pb_grpc.NotificationServiceServicer):
    pass
