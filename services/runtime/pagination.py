"""AIP-158 pagination: page sizes and opaque, tamper-proof page tokens.

A page token is an internal cursor (any JSON-able value) sealed with AES-GCM under a
service secret and bound to the query it continues (method + filter), so a client can
neither read nor forge it, nor replay it against another query.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.runtime.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def page_size(requested: int, *, default: int = DEFAULT_PAGE_SIZE,
              maximum: int = MAX_PAGE_SIZE) -> int:
    """0 means the default; above the maximum is capped; negative is INVALID_ARGUMENT."""
    if requested < 0:
        raise InvalidArgument(FieldViolation("page_size", f"must be between 0 and {maximum}"),
                              reason="INVALID_PAGE_SIZE")
    return default if requested == 0 else min(requested, maximum)


class PageTokens:
    """Seals and opens page tokens with a key derived from `secret`."""

    def __init__(self, secret: str) -> None:
        self._aead = AESGCM(hashlib.sha256(b"photomesh-page-token:" + secret.encode()).digest())

    def seal(self, query: str, cursor: Any) -> str:
        nonce = os.urandom(12)
        plain = json.dumps(cursor, separators=(",", ":")).encode()
        sealed = self._aead.encrypt(nonce, plain, query.encode())
        return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()

    def open(self, query: str, token: str) -> Any | None:
        """The cursor of `token` (None for an empty token = first page)."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            plain = self._aead.decrypt(raw[:12], raw[12:], query.encode())
            return json.loads(plain)
        except (ValueError, InvalidTag, json.JSONDecodeError):
            raise InvalidArgument(
                FieldViolation("page_token", "not a page token of this query; "
                                             "start again without a page_token"),
                reason="INVALID_PAGE_TOKEN") from None
