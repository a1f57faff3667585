"""The mesh's descriptors, indexed for server reflection.

`MeshDescriptors.load(path)` reads the descriptor set `./photomesh gen` writes
(clients/descriptors/photomesh.binpb, the file the edge routes and transcodes from) and adds
what a reflection client needs beside the contracts: grpc.health.v1, both reflection
versions and google.rpc.Status with its error details (so grpcurl prints an ErrorInfo by
name). Files are kept as their serialized `FileDescriptorProto`, comments included, and
every symbol (message, enum, enum value, field, service, method, extension) points at the
file that declares it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor

#: The reflection service names, both versions (same messages, same wire format).
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
REFLECTION_V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"
HEALTH = "grpc.health.v1.Health"


def _runtime_files() -> list[descriptor_pb2.FileDescriptorProto]:
    """Health, reflection (v1alpha as shipped, v1 derived from it) and google.rpc errors,
    from the Python modules this process already imports."""
    from google.rpc import error_details_pb2, status_pb2
    from grpc_health.v1 import health_pb2
    from grpc_reflection.v1alpha import reflection_pb2

    modules: list[ModuleType] = [health_pb2, reflection_pb2, status_pb2, error_details_pb2]
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def add(file: FileDescriptor) -> None:
        for dependency in file.dependencies:
            add(dependency)
        if file.name not in files:
            proto = descriptor_pb2.FileDescriptorProto()
            file.CopyToProto(proto)
            files[file.name] = proto

    for module in modules:
        add(module.DESCRIPTOR)
    files["grpc/reflection/v1/reflection.proto"] = _reflection_v1(
        files[reflection_pb2.DESCRIPTOR.name])
    return list(files.values())


def _reflection_v1(alpha: descriptor_pb2.FileDescriptorProto
                   ) -> descriptor_pb2.FileDescriptorProto:
    """grpc.reflection.v1 is v1alpha under another package name (field for field)."""
    v1 = descriptor_pb2.FileDescriptorProto()
    v1.CopyFrom(alpha)
    v1.name = "grpc/reflection/v1/reflection.proto"
    v1.package = "grpc.reflection.v1"
    old, new = ".grpc.reflection.v1alpha.", ".grpc.reflection.v1."
    for message in v1.message_type:
        for f in message.field:
            if f.type_name.startswith(old):
                f.type_name = new + f.type_name[len(old):]
    for service in v1.service:
        for method in service.method:
            method.input_type = new + method.input_type[len(old):]
            method.output_type = new + method.output_type[len(old):]
    return v1


@dataclass
class MeshDescriptors:
    """Serialized files by name, and which file declares each symbol and extension."""

    files: dict[str, bytes] = field(default_factory=dict)
    dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    symbols: dict[str, str] = field(default_factory=dict)
    extensions: dict[tuple[str, int], str] = field(default_factory=dict)
    services: tuple[str, ...] = ()

    @classmethod
    def load(cls, descriptor_set: Path) -> MeshDescriptors:
        contracts = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
        return cls.of([*contracts.file, *_runtime_files()])

    @classmethod
    def of(cls, files: Iterable[descriptor_pb2.FileDescriptorProto]) -> MeshDescriptors:
        index = cls()
        services = []
        for file in files:
            if file.name in index.files:
                continue  # the contracts' copy (with comments) wins
            index.files[file.name] = file.SerializeToString()
            index.dependencies[file.name] = tuple(file.dependency)
            for symbol in _symbols(file):
                index.symbols.setdefault(symbol, file.name)
            for extendee, number in _extensions(file):
                index.extensions[(extendee, number)] = file.name
            services += [_join(file.package, s.name) for s in file.service]
        index.services = tuple(sorted(set(services)))
        return index

    def with_dependencies(self, name: str, already_sent: set[str]) -> list[bytes]:
        """The file `name` first, then its transitive dependencies, leaving out what this
        stream already sent (grpc-go does the same); marks all of them sent."""
        out: list[bytes] = []
        pending = [name]
        while pending:
            current = pending.pop(0)
            if current in already_sent or current not in self.files:
                continue
            already_sent.add(current)
            out.append(self.files[current])
            pending.extend(self.dependencies[current])
        return out

    def extension_numbers(self, extendee: str) -> list[int]:
        return sorted(number for (owner, number) in self.extensions if owner == extendee)


def _join(scope: str, name: str) -> str:
    return f"{scope}.{name}" if scope else name


def _symbols(file: descriptor_pb2.FileDescriptorProto) -> Iterator[str]:
    scope = file.package

    def message(m: descriptor_pb2.DescriptorProto, outer: str) -> Iterator[str]:
        name = _join(outer, m.name)
        yield name
        for f in (*m.field, *m.extension):
            yield _join(name, f.name)
        for oneof in m.oneof_decl:
            yield _join(name, oneof.name)
        for e in m.enum_type:
            yield from enum(e, name)
        for nested in m.nested_type:
            yield from message(nested, name)

    def enum(e: descriptor_pb2.EnumDescriptorProto, outer: str) -> Iterator[str]:
        yield _join(outer, e.name)
        for value in e.value:  # enum values live in the enum's enclosing scope
            yield _join(outer, value.name)

    for m in file.message_type:
        yield from message(m, scope)
    for e in file.enum_type:
        yield from enum(e, scope)
    for ext in file.extension:
        yield _join(scope, ext.name)
    for service in file.service:
        name = _join(scope, service.name)
        yield name
        for method in service.method:
            yield _join(name, method.name)


def _extensions(file: descriptor_pb2.FileDescriptorProto) -> Iterator[tuple[str, int]]:
    def nested(m: descriptor_pb2.DescriptorProto) -> Iterator[descriptor_pb2.FieldDescriptorProto]:
        yield from m.extension
        for inner in m.nested_type:
            yield from nested(inner)

    fields = [*file.extension, *(f for m in file.message_type for f in nested(m))]
    for f in fields:
        yield f.extendee.lstrip("."), f.number
