"""What the generated stubs say about the services: read from their descriptors, never
listed by hand.

A stub class (``PostServiceStub``) lives in ``photomesh.post.v1.post_service_pb2_grpc``; its
service descriptor is in the sibling ``post_service_pb2``. The mesh name of a service
(``post``) is the second part of its package, as in the edge (infra/contracts.py).
"""

from __future__ import annotations

import importlib
from functools import cache

from google.api import annotations_pb2
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

#: Method names that only read: idempotent, safe to retry. The edge retries the same set
#: (infra/contracts.py READ_PREFIXES; tests/client/test_contracts.py checks they agree).
READ_PREFIXES = ("Get", "List", "BatchGet", "BatchCheck", "Search")

_GRPC_SUFFIX = "_pb2_grpc"
_STUB_SUFFIX = "Stub"


@cache
def service_of(stub_class: type) -> ServiceDescriptor:
    """The service a generated stub class calls."""
    module = stub_class.__module__
    name = stub_class.__name__
    if not (module.endswith(_GRPC_SUFFIX) and name.endswith(_STUB_SUFFIX)):
        raise TypeError(f"{module}.{name} is not a generated gRPC stub class")
    messages = importlib.import_module(module.removesuffix("_grpc"))
    services = messages.DESCRIPTOR.services_by_name
    service: ServiceDescriptor | None = services.get(name.removesuffix(_STUB_SUFFIX))
    if service is None:
        raise TypeError(f"{module}.{name}: no such service in {messages.__name__}")
    return service


def mesh_name(service: ServiceDescriptor) -> str:
    """The service's name in the mesh: ``photomesh.post.v1.PostService`` -> ``post``."""
    parts = service.full_name.split(".")
    if len(parts) < 4 or parts[0] != "photomesh":
        raise ValueError(f"{service.full_name} is not a photomesh service")
    return parts[1]


def _http_verb(method: MethodDescriptor) -> str | None:
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return None
    verb: str | None = options.Extensions[annotations_pb2.http].WhichOneof("pattern")
    return verb


def is_read(method: MethodDescriptor) -> bool:
    """A unary RPC that only reads: named Get*/List*/BatchGet*/BatchCheck*/Search*, or
    served as HTTP GET. Streams are never retried (their first message commits them)."""
    if method.client_streaming or method.server_streaming:
        return False
    return method.name.startswith(READ_PREFIXES) or _http_verb(method) == "get"


def read_methods(service: ServiceDescriptor) -> tuple[str, ...]:
    """Names of the service's read RPCs, in declaration order."""
    return tuple(m.name for m in service.methods if is_read(m))
