"""gRPC server reflection of the whole mesh, in both versions (v1 and v1alpha).

The two versions differ only in their package name: the same messages, field for field, so
one handler serves both with grpc_reflection's v1alpha message classes. Answers come from
`MeshDescriptors` (the contracts' descriptor set), never from this process's own imports,
so `list` shows every photomesh service and `describe` keeps the contracts' comments.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from grpc import aio
from grpc_reflection.v1alpha import reflection_pb2 as pb

from services.introspection.descriptors import REFLECTION_V1, REFLECTION_V1ALPHA, MeshDescriptors

METHOD = "ServerReflectionInfo"


class MeshReflection:
    """One reflection stream per call; files already sent on a stream are not sent again."""

    def __init__(self, descriptors: MeshDescriptors) -> None:
        self._descriptors = descriptors

    async def info(self, requests: AsyncIterator[pb.ServerReflectionRequest],
                   context: aio.ServicerContext) -> AsyncIterator[pb.ServerReflectionResponse]:
        sent: set[str] = set()
        async for request in requests:
            response = self.answer(request, sent)
            response.valid_host = request.host
            response.original_request.CopyFrom(request)
            yield response

    def answer(self, request: pb.ServerReflectionRequest, sent: set[str]
               ) -> pb.ServerReflectionResponse:
        d = self._descriptors
        kind = request.WhichOneof("message_request")
        if kind == "list_services":
            return pb.ServerReflectionResponse(list_services_response=pb.ListServiceResponse(
                service=[pb.ServiceResponse(name=name) for name in d.services]))
        if kind == "file_by_filename":
            return self._files(request.file_by_filename, sent,
                               f"no file named {request.file_by_filename!r}")
        if kind == "file_containing_symbol":
            symbol = request.file_containing_symbol.lstrip(".")
            return self._files(d.symbols.get(symbol), sent, f"symbol not found: {symbol}")
        if kind == "file_containing_extension":
            ext = request.file_containing_extension
            extendee = ext.containing_type.lstrip(".")
            return self._files(d.extensions.get((extendee, ext.extension_number)), sent,
                               f"no extension {ext.extension_number} of {extendee}")
        if kind == "all_extension_numbers_of_type":
            extendee = request.all_extension_numbers_of_type.lstrip(".")
            if extendee not in d.symbols:
                return _error(grpc.StatusCode.NOT_FOUND, f"type not found: {extendee}")
            return pb.ServerReflectionResponse(
                all_extension_numbers_response=pb.ExtensionNumberResponse(
                    base_type_name=extendee, extension_number=d.extension_numbers(extendee)))
        return _error(grpc.StatusCode.INVALID_ARGUMENT, "empty reflection request")

    def _files(self, name: str | None, sent: set[str], missing: str
               ) -> pb.ServerReflectionResponse:
        if name is None or name not in self._descriptors.files:
            return _error(grpc.StatusCode.NOT_FOUND, missing)
        # A file asked for again is sent again (the client asked); its dependencies only
        # when this stream has not sent them yet.
        sent.discard(name)
        return pb.ServerReflectionResponse(file_descriptor_response=pb.FileDescriptorResponse(
            file_descriptor_proto=self._descriptors.with_dependencies(name, sent)))

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        """Generic handlers for both service names, to add to a server."""
        method = grpc.stream_stream_rpc_method_handler(
            self.info, request_deserializer=pb.ServerReflectionRequest.FromString,
            response_serializer=pb.ServerReflectionResponse.SerializeToString)
        return [grpc.method_handlers_generic_handler(name, {METHOD: method})
                for name in (REFLECTION_V1, REFLECTION_V1ALPHA)]


def _error(code: grpc.StatusCode, message: str) -> pb.ServerReflectionResponse:
    return pb.ServerReflectionResponse(error_response=pb.ErrorResponse(
        error_code=code.value[0], error_message=message))
