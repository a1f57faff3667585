"""Signing access tokens (EdDSA JWT) and publishing the key that verifies them."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.runtime.auth import ALGORITHM


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: int


class TokenIssuer:
    def __init__(self, private_key_pem: bytes, issuer: str, audience: str, ttl_seconds: int):
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the token signing key must be an Ed25519 private key")
        self._key = key
        public = key.public_key()
        self.public_raw = public.public_bytes(serialization.Encoding.Raw,
                                              serialization.PublicFormat.Raw)
        self.public_pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.kid = _b64url(hashlib.sha256(self.public_raw).digest()[:16])
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl_seconds

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    def issue(self, user_id: str, username: str, session_id: str = "") -> IssuedToken:
        """An access token; `session_id` (the refresh-token family) names its sign-in, so
        services can end its streams when the session is signed out."""
        now = int(time.time())
        expires = now + self._ttl
        claims = {"sub": user_id, "name": username, "iss": self._issuer, "aud": self._audience,
                  "iat": now, "nbf": now, "exp": expires, "jti": uuid.uuid4().hex,
                  "typ": "access"}
        if session_id:
            claims["sid"] = session_id
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})
        return IssuedToken(token, expires)
