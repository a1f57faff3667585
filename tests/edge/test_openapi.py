"""The OpenAPI document: generated from the contracts by `./photomesh gen`, served by the
edge, listing every REST route."""

from __future__ import annotations

from infra.backends.envoy import EnvoyBackend
from infra.contracts import Contracts
from infra.edge import OPENAPI_DOCUMENT
from tests.edge.http import request


def test_served_and_lists_every_rest_route(edge: EnvoyBackend) -> None:
    reply = request(edge.settings.envoy_port, "GET", "/openapi.json")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.body == OPENAPI_DOCUMENT.read_bytes()
    document = reply.json()
    assert document["openapi"].startswith("3.")
    routes = {(rpc.http.verb, rpc.http.template) for rpc in Contracts().rpcs() if rpc.http}
    assert len(routes) >= 40
    listed = {(verb, path) for path, ops in document["paths"].items() for verb in ops}
    assert listed == routes


def test_operations_describe_parameters_bodies_and_auth() -> None:
    import json

    document = json.loads(OPENAPI_DOCUMENT.read_text())
    feed = document["paths"]["/v1/feed"]["get"]
    assert {p["name"] for p in feed["parameters"]} >= {"pageSize", "pageToken"}
    assert feed["security"] == [{"bearer": []}]
    login = document["paths"]["/v1/auth:login"]["post"]
    assert login["security"] == []
    assert login["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "photomesh.auth.v1.LoginRequest")
    post = document["paths"]["/v1/posts/{post_id}"]["get"]
    assert post["parameters"][0] == {**post["parameters"][0], "name": "post_id",
                                     "in": "path", "required": True}
    schemas = document["components"]["schemas"]
    tokens = schemas["photomesh.auth.v1.AuthTokens"]["properties"]
    assert tokens["accessTokenExpireTime"]["format"] == "date-time"
