"""The RPCs of the contracts, read from the descriptor set `./photomesh gen` writes.

One reading of `clients/descriptors/photomesh.binpb` for everything generated from the
contracts outside Python: the Envoy edge (routes, retries, timeouts, which RPCs need a
token) and the OpenAPI document (REST routes from the `google.api.http` annotations).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

REPO = Path(__file__).resolve().parents[1]
DESCRIPTOR_SET = REPO / "clients" / "descriptors" / "photomesh.binpb"

#: RPCs callable without an access token, by service. The services declare the same set
#: (services/auth/server.py PUBLIC_RPCS); tests/edge/test_config.py checks they agree.
PUBLIC_RPCS: dict[str, frozenset[str]] = {
    "photomesh.auth.v1.AuthService": frozenset(
        {"Register", "Login", "Refresh", "Logout", "GetPublicKeys"}),
}
#: gRPC services every process serves, public everywhere (path prefixes).
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
#: Names of RPCs that only read: safe to retry (with GET-annotated ones).
READ_PREFIXES = ("Get", "List", "BatchGet", "BatchCheck", "Search")


@dataclass(frozen=True)
class HttpRoute:
    """One `google.api.http` binding: `verb` lower case, `template` as written
    (``/v1/posts/{post_id}:like``), `body` ("" none, "*" all, or a field name)."""

    verb: str
    template: str
    body: str

    @property
    def path_params(self) -> list[str]:
        return [m.split("=")[0] for m in re.findall(r"\{([^}]+)\}", self.template)]


@dataclass(frozen=True)
class Rpc:
    service: str            # full name, e.g. photomesh.auth.v1.AuthService
    name: str               # Login
    input_type: str         # full name without the leading dot
    output_type: str
    server_streaming: bool
    client_streaming: bool
    http: HttpRoute | None
    comment: str

    @property
    def path(self) -> str:
        """The gRPC (and gRPC-Web) request path."""
        return f"/{self.service}/{self.name}"

    @property
    def public(self) -> bool:
        return self.name in PUBLIC_RPCS.get(self.service, frozenset())

    @property
    def read_only(self) -> bool:
        """Reads are idempotent: the edge may retry them."""
        return (self.http is not None and self.http.verb == "get") or \
            self.name.startswith(READ_PREFIXES)


@dataclass(frozen=True)
class Service:
    full_name: str          # photomesh.post.v1.PostService
    mesh_name: str          # post (the process in infra/services.py)
    rpcs: tuple[Rpc, ...]
    comment: str

    @property
    def prefix(self) -> str:
        return f"/{self.full_name}/"


class Contracts:
    """Services and messages of a descriptor set."""

    def __init__(self, descriptor_set: Path = DESCRIPTOR_SET) -> None:
        self.path = descriptor_set
        self.files = descriptor_pb2.FileDescriptorSet.FromString(
            descriptor_set.read_bytes()).file

    @cached_property
    def services(self) -> tuple[Service, ...]:
        found = []
        for file in self.files:
            if not file.package.startswith("photomesh."):
                continue
            comments = _comments(file)
            for s_index, service in enumerate(file.service):
                full = f"{file.package}.{service.name}"
                rpcs = tuple(
                    Rpc(full, m.name, m.input_type.lstrip("."), m.output_type.lstrip("."),
                        m.server_streaming, m.client_streaming, _http(m),
                        comments.get((6, s_index, 2, m_index), ""))
                    for m_index, m in enumerate(service.method))
                found.append(Service(full, file.package.split(".")[1], rpcs,
                                     comments.get((6, s_index), "")))
        return tuple(sorted(found, key=lambda s: s.full_name))

    @cached_property
    def messages(self) -> dict[str, tuple[descriptor_pb2.DescriptorProto, str]]:
        """Every message (nested too) by full name, with its leading comment."""
        found: dict[str, tuple[descriptor_pb2.DescriptorProto, str]] = {}

        def walk(msg: descriptor_pb2.DescriptorProto, scope: str, path: tuple[int, ...],
                 comments: dict[tuple[int, ...], str]) -> None:
            name = f"{scope}.{msg.name}"
            found[name] = (msg, comments.get(path, ""))
            for i, nested in enumerate(msg.nested_type):
                walk(nested, name, (*path, 3, i), comments)

        for file in self.files:
            comments = _comments(file)
            for i, msg in enumerate(file.message_type):
                walk(msg, file.package, (4, i), comments)
        return found

    @cached_property
    def enums(self) -> dict[str, descriptor_pb2.EnumDescriptorProto]:
        found: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        for file in self.files:
            def walk(msg: descriptor_pb2.DescriptorProto, scope: str) -> None:
                for e in msg.enum_type:
                    found[f"{scope}.{msg.name}.{e.name}"] = e
                for nested in msg.nested_type:
                    walk(nested, f"{scope}.{msg.name}")

            for e in file.enum_type:
                found[f"{file.package}.{e.name}"] = e
            for msg in file.message_type:
                walk(msg, file.package)
        return found

    def field_comments(self, message: str) -> dict[str, str]:
        """Leading comments of a message's fields, by field name."""
        for file in self.files:
            comments = _comments(file)
            for i, msg in enumerate(file.message_type):
                if f"{file.package}.{msg.name}" == message:
                    return {f.name: comments.get((4, i, 2, j), "")
                            for j, f in enumerate(msg.field)}
        return {}

    def rpcs(self) -> list[Rpc]:
        return [rpc for service in self.services for rpc in service.rpcs]


def _http(method: descriptor_pb2.MethodDescriptorProto) -> HttpRoute | None:
    if not method.options.HasExtension(annotations_pb2.http):
        return None
    rule: http_pb2.HttpRule = method.options.Extensions[annotations_pb2.http]
    verb = rule.WhichOneof("pattern")
    if verb is None or verb == "custom":
        return None
    return HttpRoute(verb, getattr(rule, verb), rule.body)


def _comments(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    return {tuple(loc.path): " ".join(loc.leading_comments.split())
            for loc in file.source_code_info.location if loc.leading_comments}
