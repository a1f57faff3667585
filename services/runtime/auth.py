"""Who is calling: JWT verification with the auth service's public key (zero trust).

Every service verifies the bearer token itself and takes the acting user from it, never
from a request field. The verified caller is held in a context variable for the duration
of the call; outgoing calls made while serving it forward the same token.

Two kinds of caller exist:

* a **user**, with an access token the auth service signed (``typ: access``);
* a **mesh service** acting as itself (an event consumer has no user token to forward),
  with a short-lived service token signed by the mesh's service key (``typ: service``,
  audience ``photomesh-internal``). The edge does not know that key, so service tokens
  never work from outside. `current_principal` and `require_self` refuse them: a service
  can call only the RPCs that opt in with `require_service`.
"""

from __future__ import annotations

import contextvars
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.runtime.errors import PermissionDenied, Unauthenticated

ALGORITHM = "EdDSA"
SERVICE_ISSUER = "photomesh-mesh"
SERVICE_AUDIENCE = "photomesh-internal"
SERVICE_TOKEN_TTL_SECONDS = 300
VERIFIED_CACHE_SIZE = 10_000  # verified tokens remembered per process, until they expire


@dataclass(frozen=True)
class Principal:
    """The verified caller: a user acting through a token, or (`service` set) a mesh
    service acting as itself, with an empty `user_id`."""

    user_id: str
    username: str
    token: str
    expires_at: int
    service: str | None = None

    @property
    def is_service(self) -> bool:
        return self.service is not None


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "photomesh_principal", default=None)


def current_caller() -> Principal:
    """The caller of the RPC being served, user or service; UNAUTHENTICATED if none."""
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("this call needs a signed-in user", reason="TOKEN_MISSING")
    return principal


def current_principal() -> Principal:
    """The signed-in user calling the RPC being served. A service token is refused:
    RPCs that act as a user never run with service credentials."""
    principal = current_caller()
    if principal.is_service:
        raise PermissionDenied(f"service {principal.service!r} cannot act as a user here",
                               reason="PERMISSION_DENIED")
    return principal


SERVICE_CALLER = "service:"  # how a mesh service acting as itself is named to domain code


def caller_name() -> str:
    """The caller of the RPC being served, as domain code names it: a user's id, or
    ``service:<name>`` for a mesh service acting as itself (for the RPCs that serve both)."""
    caller = current_caller()
    return f"{SERVICE_CALLER}{caller.service}" if caller.is_service else caller.user_id


def is_service_caller(name: str) -> bool:
    return name.startswith(SERVICE_CALLER)


def caller_or_none() -> Principal | None:
    """The caller, user or service, if any (what outgoing calls forward)."""
    return _current.get()


def optional_principal() -> Principal | None:
    """The caller if any (public methods may run without one); users only."""
    principal = _current.get()
    return None if principal is None or principal.is_service else principal


def require_service(*allowed: str) -> Principal:
    """The caller, if it is a mesh service (one of `allowed`, when given); internal RPCs
    start with this. Users get PERMISSION_DENIED."""
    principal = current_caller()
    if not principal.is_service or (allowed and principal.service not in allowed):
        raise PermissionDenied("this RPC is internal to the mesh", reason="PERMISSION_DENIED")
    return principal


def set_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    return _current.set(principal)


def reset_principal(token: contextvars.Token[Principal | None]) -> None:
    _current.reset(token)


def require_self(user_id: str, action: str = "act") -> Principal:
    """The caller, if it is `user_id`; PERMISSION_DENIED otherwise."""
    principal = current_principal()
    if principal.user_id != user_id:
        raise PermissionDenied(f"you may not {action} on behalf of another user",
                               reason="NOT_RESOURCE_OWNER", metadata={"user_id": user_id})
    return principal


class TokenVerifier:
    """Checks signature, expiry, issuer and audience of access tokens and, when the mesh's
    service key is given, of service tokens."""

    def __init__(self, public_key_pem: bytes, issuer: str, audience: str,
                 leeway_seconds: float = 5.0, service_public_key_pem: bytes | None = None
                 ) -> None:
        self._key = public_key_pem
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._service_key = service_public_key_pem
        self._verified: dict[str, Principal] = {}

    @classmethod
    def from_file(cls, path: Path, issuer: str, audience: str,
                  leeway_seconds: float = 5.0, service_key_path: Path | None = None
                  ) -> TokenVerifier:
        service_key = (ServiceCredentials.load("verifier", service_key_path).public_pem
                       if service_key_path is not None else None)
        return cls(path.read_bytes(), issuer, audience, leeway_seconds, service_key)

    def _decode(self, token: str, key: bytes, issuer: str, audience: str) -> dict:
        try:
            return dict(jwt.decode(
                token, key, algorithms=[ALGORITHM], audience=audience, issuer=issuer,
                leeway=self._leeway, options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            ))
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the access token has expired; refresh it and retry",
                                  reason="TOKEN_EXPIRED") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the access token is not valid: {exc}",
                                  reason="TOKEN_INVALID") from None

    def verify(self, token: str) -> Principal:
        """The caller of `token`. A token verified before is answered from a small cache
        (Ed25519 verification is a large share of a cheap call) until it expires."""
        cached = self._verified.get(token)
        if cached is not None:
            if cached.expires_at + self._leeway > time.time():
                return cached
            del self._verified[token]
        principal = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))  # oldest first
        self._verified[token] = principal
        return principal

    def _verify(self, token: str) -> Principal:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the access token is not valid: {exc}",
                                  reason="TOKEN_INVALID") from None
        if unverified.get("typ") == "service" and self._service_key is not None:
            claims = self._decode(token, self._service_key, SERVICE_ISSUER, SERVICE_AUDIENCE)
            return Principal(user_id="", username="", token=token,
                             expires_at=int(claims["exp"]),
                             service=str(claims["sub"]).removeprefix("service:"))
        claims = self._decode(token, self._key, self._issuer, self._audience)
        if claims.get("typ") != "access":
            raise Unauthenticated("not an access token", reason="TOKEN_INVALID")
        return Principal(user_id=str(claims["sub"]), username=str(claims.get("name", "")),
                         token=token, expires_at=int(claims["exp"]))


class ServiceCredentials:
    """A mesh service's own identity: mints short-lived service tokens with the mesh's
    service key, for calls made outside any user's request (event consumers, jobs)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self.name = name
        self._key = private_key
        self._token: str | None = None
        self._expires_at = 0

    @classmethod
    def load(cls, name: str, private_key_path: Path) -> ServiceCredentials:
        key = serialization.load_pem_private_key(private_key_path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{private_key_path}: not an Ed25519 private key")
        return cls(name, key)

    @property
    def public_pem(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def principal(self) -> Principal:
        """The service as a caller, with a token valid for at least another minute."""
        now = int(time.time())
        if self._token is None or self._expires_at - now < 60:
            self._expires_at = now + SERVICE_TOKEN_TTL_SECONDS
            self._token = jwt.encode(
                {"iss": SERVICE_ISSUER, "aud": SERVICE_AUDIENCE, "sub": f"service:{self.name}",
                 "iat": now, "exp": self._expires_at, "jti": uuid.uuid4().hex,
                 "typ": "service"},
                self._key, algorithm=ALGORITHM)
        return Principal(user_id="", username="", token=self._token,
                         expires_at=self._expires_at, service=self.name)

    @contextmanager
    def acting(self) -> Iterator[Principal]:
        """Within this block, peer calls carry this service's token (not a user's)."""
        token = _current.set(self.principal())
        try:
            yield _current.get()  # type: ignore[misc]
        finally:
            _current.reset(token)


def bearer_token(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str | None:
    """The token of an ``authorization: Bearer …`` metadata entry, if any."""
    for key, value in metadata or ():
        if key == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token:
                return token.strip()
            raise Unauthenticated("authorization metadata must be 'Bearer <token>'",
                                  reason="TOKEN_INVALID")
    return None
