"""Who is calling: JWT verification with the auth service's public key (zero trust).

Every service verifies the bearer token itself and takes the acting user from it, never
from a request field. The verified caller is held in a context variable for the duration
of the call; outgoing calls made while serving it forward the same token.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from pathlib import Path

import jwt

from services.runtime.errors import PermissionDenied, Unauthenticated

ALGORITHM = "EdDSA"


@dataclass(frozen=True)
class Principal:
    """The verified caller: a user acting through a token."""

    user_id: str
    username: str
    token: str
    expires_at: int


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "photomesh_principal", default=None)


def current_principal() -> Principal:
    """The caller of the RPC being served; UNAUTHENTICATED if the method is public."""
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("this call needs a signed-in user", reason="TOKEN_MISSING")
    return principal


def optional_principal() -> Principal | None:
    return _current.get()


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
    """Checks signature, expiry, issuer and audience of access tokens."""

    def __init__(self, public_key_pem: bytes, issuer: str, audience: str,
                 leeway_seconds: float = 5.0) -> None:
        self._key = public_key_pem
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds

    @classmethod
    def from_file(cls, path: Path, issuer: str, audience: str,
                  leeway_seconds: float = 5.0) -> TokenVerifier:
        return cls(path.read_bytes(), issuer, audience, leeway_seconds)

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], audience=self._audience,
                issuer=self._issuer, leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the access token has expired; refresh it and retry",
                                  reason="TOKEN_EXPIRED") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the access token is not valid: {exc}",
                                  reason="TOKEN_INVALID") from None
        if claims.get("typ") != "access":
            raise Unauthenticated("not an access token", reason="TOKEN_INVALID")
        return Principal(user_id=str(claims["sub"]), username=str(claims.get("name", "")),
                         token=token, expires_at=int(claims["exp"]))


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
