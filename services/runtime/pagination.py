"""AIP-158 pagination: page sizes and opaque, tamper-proof page tokens.

The cursor is a `photomesh.common.v1.PageTokenPayload`; it is serialised into a
`SealedPageToken` with an HMAC-SHA256 under a server key and handed out as unpadded
base64url. A token is accepted only with a valid MAC, for the same list (`scope`) and the
same viewer, before it expires; otherwise INVALID_ARGUMENT / PAGE_TOKEN_INVALID.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from pathlib import Path

from google.protobuf.message import DecodeError
from photomesh.common.v1.page_token_pb2 import PageTokenPayload, SealedPageToken

from services.runtime.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
PAYLOAD_VERSION = 1


def page_size(requested: int, *, default: int = DEFAULT_PAGE_SIZE,
              maximum: int = MAX_PAGE_SIZE) -> int:
    """0 means the default; above the maximum is capped; negative is INVALID_ARGUMENT."""
    if requested < 0:
        raise InvalidArgument(FieldViolation("page_size", f"must be between 0 and {maximum}"),
                              reason="PAGE_SIZE_INVALID")
    return default if requested == 0 else min(requested, maximum)


def _invalid(why: str) -> InvalidArgument:
    return InvalidArgument(FieldViolation("page_token", f"{why}; start again without a "
                                                        "page_token"),
                           reason="PAGE_TOKEN_INVALID")


class PageTokens:
    """Seals and opens page tokens with `secret` (the same on every replica)."""

    def __init__(self, secret: str, *, key_id: str = "k1", ttl_seconds: int = 86400) -> None:
        self._key = hashlib.sha256(b"photomesh-page-token:" + secret.encode()).digest()
        self._key_id = key_id
        self._ttl = ttl_seconds

    def _mac(self, key_id: str, payload: bytes) -> bytes:
        return hmac.new(self._key, key_id.encode() + b"\0" + payload, hashlib.sha256).digest()

    def seal(self, cursor: PageTokenPayload, *, scope: str, viewer: str) -> str:
        """The `next_page_token` for `cursor` on list `scope` as seen by `viewer`."""
        sealed_cursor = PageTokenPayload()
        sealed_cursor.CopyFrom(cursor)
        sealed_cursor.version = PAYLOAD_VERSION
        sealed_cursor.scope = scope
        sealed_cursor.viewer_user_id = viewer
        sealed_cursor.expire_time.FromSeconds(int(time.time()) + self._ttl)
        payload = sealed_cursor.SerializeToString(deterministic=True)
        envelope = SealedPageToken(key_id=self._key_id, payload=payload,
                                   mac=self._mac(self._key_id, payload))
        return base64.urlsafe_b64encode(envelope.SerializeToString()).rstrip(b"=").decode()

    def seal_state(self, paging_state: bytes | None, *, scope: str, viewer: str) -> str:
        """The `next_page_token` resuming a CQL read at `paging_state` ("" at the end)."""
        if not paging_state:
            return ""
        return self.seal(PageTokenPayload(paging_state=paging_state), scope=scope,
                         viewer=viewer)

    def open(self, token: str, *, scope: str, viewer: str) -> PageTokenPayload | None:
        """The cursor of `token`; None for an empty token (the first page)."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            envelope = SealedPageToken.FromString(raw)
        except (ValueError, binascii.Error, DecodeError):
            raise _invalid("not a page token") from None
        if envelope.key_id != self._key_id or not hmac.compare_digest(
                envelope.mac, self._mac(envelope.key_id, envelope.payload)):
            raise _invalid("not a page token issued by this service")
        cursor = PageTokenPayload.FromString(envelope.payload)
        if cursor.scope != scope or cursor.viewer_user_id != viewer:
            raise _invalid("the page token belongs to another list or user")
        if cursor.expire_time.seconds < time.time():
            raise _invalid("the page token has expired")
        return cursor


def mesh_page_tokens(service_key_path: Path | None) -> PageTokens:
    """Page tokens sealed with a key derived from the mesh's service key: the same on every
    replica, never known to clients or the edge, made per install (no default). Scopes name
    the service (``graph.ListFollowers/…``), so a token of one service is refused by
    another."""
    if service_key_path is None:
        from services.runtime.settings import SettingsError

        raise SettingsError("PHOTOMESH_JWT_SERVICE_KEY_PATH is not set: page tokens are "
                            "sealed with a key derived from the mesh's service key")
    secret = hashlib.sha256(b"photomesh-page-token-key:" + service_key_path.read_bytes())
    return PageTokens(secret.hexdigest())
