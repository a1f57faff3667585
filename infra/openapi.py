"""OpenAPI 3.1 document of the edge's REST routes, generated from the descriptor set.

Every RPC with a `google.api.http` annotation is a REST route (the edge transcodes it with
Envoy's gRPC-JSON transcoder); its request and response bodies follow the proto3 JSON
mapping (lowerCamelCase names, 64-bit integers as strings, enums as names, Timestamp as
RFC 3339, FieldMask as a comma-separated string). Written by `./photomesh gen` into
clients/openapi/photomesh.openapi.json and served by the edge at `GET /openapi.json`.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import descriptor_pb2

from infra.contracts import Contracts, Rpc

F = descriptor_pb2.FieldDescriptorProto
TITLE = "photomesh REST API"
VERSION = "v1"

_SCALARS: dict[int, dict[str, Any]] = {
    F.TYPE_DOUBLE: {"type": "number", "format": "double"},
    F.TYPE_FLOAT: {"type": "number", "format": "float"},
    F.TYPE_INT64: {"type": "string", "format": "int64"},
    F.TYPE_UINT64: {"type": "string", "format": "uint64"},
    F.TYPE_SINT64: {"type": "string", "format": "int64"},
    F.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    F.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    F.TYPE_INT32: {"type": "integer", "format": "int32"},
    F.TYPE_SINT32: {"type": "integer", "format": "int32"},
    F.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    F.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    F.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    F.TYPE_BOOL: {"type": "boolean"},
    F.TYPE_STRING: {"type": "string"},
    F.TYPE_BYTES: {"type": "string", "format": "byte"},
}
#: Well-known types have their own JSON forms.
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?\d+(\.\d+)?s$"},
    "google.protobuf.FieldMask": {"type": "string",
                                  "description": "comma-separated lowerCamelCase paths"},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {"type": "object", "properties": {"@type": {"type": "string"}},
                            "additionalProperties": True},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.StringValue": {"type": ["string", "null"]},
    "google.protobuf.Int64Value": {"type": ["string", "null"], "format": "int64"},
    "google.protobuf.BoolValue": {"type": ["boolean", "null"]},
}

_STATUS_SCHEMA = {
    "type": "object",
    "description": "google.rpc.Status: `code` is the gRPC code, `details` hold one "
                   "google.rpc.ErrorInfo (reason, domain, metadata) and, for invalid "
                   "arguments, a google.rpc.BadRequest with field violations.",
    "properties": {"code": {"type": "integer"}, "message": {"type": "string"},
                   "details": {"type": "array", "items": _WELL_KNOWN["google.protobuf.Any"]}},
}


class _Builder:
    def __init__(self, contracts: Contracts) -> None:
        self.contracts = contracts
        self.schemas: dict[str, Any] = {"google.rpc.Status": _STATUS_SCHEMA}

    def ref(self, type_name: str) -> dict[str, Any]:
        if type_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[type_name])
        if type_name in self.contracts.enums:
            self.enum(type_name)
        else:
            self.message(type_name)
        return {"$ref": f"#/components/schemas/{type_name}"}

    def enum(self, name: str) -> None:
        if name not in self.schemas:
            values = [v.name for v in self.contracts.enums[name].value]
            self.schemas[name] = {"type": "string", "enum": values}

    def message(self, name: str) -> None:
        if name in self.schemas:
            return
        msg, comment = self.contracts.messages[name]
        self.schemas[name] = {}  # placeholder: recursion stops here
        comments = self.contracts.field_comments(name)
        properties = {f.json_name: self.field(f, comments.get(f.name, ""))
                      for f in msg.field}
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if comment:
            schema["description"] = comment
        self.schemas[name] = schema

    def field(self, f: descriptor_pb2.FieldDescriptorProto, comment: str) -> dict[str, Any]:
        type_name = f.type_name.lstrip(".")
        entry = self._map_entry(type_name) if f.type == F.TYPE_MESSAGE else None
        if entry is not None:
            schema: dict[str, Any] = {"type": "object",
                                      "additionalProperties": self.field(entry, "")}
        else:
            single = (self.ref(type_name) if f.type in (F.TYPE_MESSAGE, F.TYPE_ENUM)
                      else dict(_SCALARS[f.type]))
            schema = ({"type": "array", "items": single} if f.label == F.LABEL_REPEATED
                      else single)
        if comment:
            schema = ({"allOf": [schema], "description": comment} if "$ref" in schema
                      else {**schema, "description": comment})
        return schema

    def _map_entry(self, type_name: str) -> descriptor_pb2.FieldDescriptorProto | None:
        found = self.contracts.messages.get(type_name)
        if found is None or not found[0].options.map_entry:
            return None
        return found[0].field[1]

    def operation(self, rpc: Rpc) -> dict[str, Any]:
        assert rpc.http is not None
        request, _ = self.contracts.messages[rpc.input_type]
        comments = self.contracts.field_comments(rpc.input_type)
        path_params = set(rpc.http.path_params)
        parameters = [{"name": p, "in": "path", "required": True,
                       "schema": self._param_schema(request, p),
                       **({"description": comments[p]} if comments.get(p) else {})}
                      for p in rpc.http.path_params]
        if rpc.http.body == "":
            for f in request.field:
                if f.name in path_params or f.type == F.TYPE_MESSAGE and \
                        f.type_name.lstrip(".") not in _WELL_KNOWN:
                    continue
                parameters.append({
                    "name": f.json_name, "in": "query", "required": False,
                    "schema": self.field(f, ""),
                    **({"description": comments[f.name]} if comments.get(f.name) else {})})
        op: dict[str, Any] = {
            "operationId": f"{rpc.service.split('.')[-1]}_{rpc.name}",
            "summary": rpc.comment,
            "tags": [rpc.service],
            "x-grpc-method": rpc.path,
            "parameters": parameters,
            "responses": {
                "200": {"description": "OK" + (" (a JSON array of messages, one per "
                                               "streamed response)" if rpc.server_streaming
                                               else ""),
                        "content": {"application/json": {"schema": (
                            {"type": "array", "items": self.ref(rpc.output_type)}
                            if rpc.server_streaming else self.ref(rpc.output_type))}}},
                "default": {"description": "An error: HTTP status mapped from the gRPC code",
                            "content": {"application/json": {"schema": {
                                "$ref": "#/components/schemas/google.rpc.Status"}}}},
            },
        }
        if rpc.http.body:
            body_type = rpc.input_type
            if rpc.http.body != "*":
                body_field = next(f for f in request.field if f.name == rpc.http.body)
                body_type = body_field.type_name.lstrip(".")
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": self.ref(body_type)}}}
        if not rpc.public:
            op["security"] = [{"bearer": []}]
        else:
            op["security"] = []
        return op

    def _param_schema(self, request: descriptor_pb2.DescriptorProto, name: str
                      ) -> dict[str, Any]:
        f = next((f for f in request.field if f.name == name), None)
        return dict(_SCALARS.get(f.type, {"type": "string"})) if f else {"type": "string"}


def openapi_document(contracts: Contracts) -> dict[str, Any]:
    """The OpenAPI 3.1 document for every annotated RPC of `contracts`."""
    builder = _Builder(contracts)
    paths: dict[str, dict[str, Any]] = {}
    for rpc in contracts.rpcs():
        if rpc.http is None:
            continue
        path = rpc.http.template.replace("=**}", "}")
        paths.setdefault(path, {})[rpc.http.verb] = builder.operation(rpc)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION,
                 "description": "REST/JSON routes of the photomesh edge, transcoded to the "
                                "gRPC services. Send `Authorization: Bearer <access token>` "
                                "(from /v1/auth:login) except where security is empty."},
        "tags": [{"name": s.full_name, "description": s.comment} for s in contracts.services],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(builder.schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT (EdDSA)"}},
        },
    }


def render(contracts: Contracts) -> str:
    return json.dumps(openapi_document(contracts), indent=1, sort_keys=False) + "\n"
