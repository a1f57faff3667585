"""REST/JSON through the edge's gRPC-JSON transcoder, with plain HTTP."""

from __future__ import annotations

import uuid

from infra.backends.envoy import EnvoyBackend
from tests.edge.conftest import PASSWORD, Account
from tests.edge.http import request
from tests.helpers import new_username


def _port(edge: EnvoyBackend) -> int:
    return edge.settings.envoy_port


def test_register_login_and_an_authenticated_get(edge: EnvoyBackend) -> None:
    username = new_username()
    registered = request(_port(edge), "POST", "/v1/auth:register", {
        "requestId": str(uuid.uuid4()), "username": username, "password": PASSWORD,
        "displayName": "Rest User"})
    assert registered.status == 200, registered.body
    assert registered.headers["content-type"] == "application/json"
    logged_in = request(_port(edge), "POST", "/v1/auth:login",
                        {"username": username, "password": PASSWORD})
    assert logged_in.status == 200, logged_in.body
    body = logged_in.json()
    assert body["userId"] == registered.json()["userId"]
    assert body["tokens"]["tokenType"] == "Bearer"

    # A public GET (the JWK Set) and GETs that need the token (path parameters).
    jwks = request(_port(edge), "GET", "/v1/auth/jwks")
    assert jwks.status == 200 and jwks.json()["keys"][0]["kty"] == "OKP"
    path = f"/v1/users/{body['userId']}"
    unauthenticated = request(_port(edge), "GET", path)
    assert unauthenticated.status == 401
    profile = request(_port(edge), "GET", path, token=body["tokens"]["accessToken"])
    assert profile.status == 200, profile.body
    assert profile.json()["profile"]["username"] == username
    by_name = request(_port(edge), "GET", f"/v1/usernames/{username}",
                      token=body["tokens"]["accessToken"])
    assert by_name.json()["profile"]["userId"] == body["userId"]
    unknown = request(_port(edge), "GET", f"/v1/users/{uuid.uuid4()}",
                      token=body["tokens"]["accessToken"])
    assert unknown.status == 404 and unknown.json()["code"] == 5


def test_invalid_argument_is_400_with_field_violations(edge: EnvoyBackend) -> None:
    reply = request(_port(edge), "POST", "/v1/auth:register", {
        "requestId": str(uuid.uuid4()), "username": "No Spaces!", "password": PASSWORD})
    assert reply.status == 400
    status = reply.json()
    assert status["code"] == 3
    details = {d["@type"].rsplit("/", 1)[1]: d for d in status["details"]}
    assert details["google.rpc.ErrorInfo"]["domain"] == "auth.photomesh"
    fields = [v["field"] for v in details["google.rpc.BadRequest"]["fieldViolations"]]
    assert fields == ["username"]


def test_wrong_password_is_401(edge: EnvoyBackend, account: Account) -> None:
    reply = request(_port(edge), "POST", "/v1/auth:login",
                    {"username": account.username, "password": "not the password"})
    assert reply.status == 401
    assert reply.json()["details"][0]["reason"] == "INVALID_CREDENTIALS"


def test_unknown_route_is_404(edge: EnvoyBackend, account: Account) -> None:
    assert request(_port(edge), "GET", "/v1/nothing-here", token=account.access_token
                   ).status == 404


def test_query_parameters_are_typed(edge: EnvoyBackend, account: Account) -> None:
    """`page_size` is parsed into the int32 field by the transcoder: not a number, 400."""
    path = f"/v1/users/{account.user_id}/followers"
    bad = request(_port(edge), "GET", f"{path}?page_size=lots", token=account.access_token)
    assert bad.status == 400, bad.body
    negative = request(_port(edge), "GET", f"{path}?page_size=-1", token=account.access_token)
    assert negative.status == 400 and negative.json()["code"] == 3  # the service's verdict
    good = request(_port(edge), "GET", f"{path}?pageSize=5", token=account.access_token)
    assert good.status == 200, good.body


def test_cors_preflight_and_exposed_headers(edge: EnvoyBackend) -> None:
    origin = "https://app.photomesh.example"
    preflight = request(_port(edge), "OPTIONS", "/photomesh.auth.v1.AuthService/Login",
                        headers={"origin": origin, "access-control-request-method": "POST",
                                 "access-control-request-headers":
                                     "content-type,x-grpc-web,authorization"})
    assert preflight.status == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    allowed = preflight.headers["access-control-allow-headers"]
    assert "x-grpc-web" in allowed and "authorization" in allowed
    exposed = preflight.headers["access-control-expose-headers"]
    for header in ("grpc-status", "grpc-message", "grpc-status-details-bin"):
        assert header in exposed
    actual = request(_port(edge), "GET", "/v1/auth/jwks", headers={"origin": origin})
    assert actual.headers["access-control-allow-origin"] == origin


def test_oversized_body_is_413(edge: EnvoyBackend) -> None:
    limit = 64 * 1024  # tests/conftest.py TEST_EDGE
    reply = request(_port(edge), "POST", "/v1/auth:login",
                    {"username": "x" * (limit + 1), "password": PASSWORD})
    assert reply.status == 413
    small = request(_port(edge), "POST", "/v1/auth:login",
                    {"username": "x" * 100, "password": PASSWORD})
    assert small.status != 413
