"""CQL storage of accounts and refresh tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from services.runtime.cql import CqlStore, applied


@dataclass(frozen=True)
class Credentials:
    user_id: str
    username: str
    password_hash: str


@dataclass(frozen=True)
class RefreshRecord:
    user_id: str
    family_id: uuid.UUID
    spent: bool
    expires_at: datetime


class AccountStore:
    def __init__(self, cql: CqlStore) -> None:
        self._cql = cql

    async def claim_request(self, request_id: str, user_id: str, username: str
                            ) -> tuple[str, str]:
        """Record which account `request_id` creates; returns the (user_id, username) that
        owns it — ours if first, the earlier attempt's on a retry."""
        rows = await self._cql.execute(
            "INSERT INTO auth_register_requests (request_id, user_id, username) "
            "VALUES (?, ?, ?) IF NOT EXISTS", (request_id, uuid.UUID(user_id), username))
        if applied(rows):
            return user_id, username
        return str(rows[0]["user_id"]), rows[0]["username"]

    async def claim_username(self, username: str, user_id: str, password_hash: str) -> str:
        """Take `username` for `user_id` unless taken; returns the owner's user id."""
        rows = await self._cql.execute(
            "INSERT INTO auth_usernames (username, user_id, password_hash, created_at) "
            "VALUES (?, ?, ?, ?) IF NOT EXISTS",
            (username, uuid.UUID(user_id), password_hash, datetime.now(UTC)))
        return user_id if applied(rows) else str(rows[0]["user_id"])

    async def save_user(self, user_id: str, username: str, display_name: str) -> None:
        await self._cql.execute(
            "INSERT INTO auth_users (user_id, username, display_name, created_at) "
            "VALUES (?, ?, ?, ?)", (uuid.UUID(user_id), username, display_name, datetime.now(UTC)))

    async def credentials(self, username: str) -> Credentials | None:
        rows = await self._cql.execute(
            "SELECT user_id, password_hash FROM auth_usernames WHERE username = ?", (username,))
        if not rows:
            return None
        return Credentials(str(rows[0]["user_id"]), username, rows[0]["password_hash"])

    async def display_name_of(self, user_id: str) -> str | None:
        rows = await self._cql.execute(
            "SELECT display_name FROM auth_users WHERE user_id = ?", (uuid.UUID(user_id),))
        return rows[0]["display_name"] if rows else None

    async def username_of(self, user_id: str) -> str | None:
        rows = await self._cql.execute(
            "SELECT username FROM auth_users WHERE user_id = ?", (uuid.UUID(user_id),))
        return rows[0]["username"] if rows else None

    async def save_refresh(self, token_hash: str, user_id: str, family_id: uuid.UUID,
                           expires_at: datetime, ttl_seconds: int) -> None:
        # Written with a lightweight transaction like every later change of the row, so
        # Paxos orders them (mixing plain writes with LWTs on one row is unsafe).
        await self._cql.execute(
            "INSERT INTO auth_refresh_tokens (token_hash, user_id, family_id, spent, expires_at) "
            "VALUES (?, ?, ?, false, ?) IF NOT EXISTS USING TTL ?",
            (token_hash, uuid.UUID(user_id), family_id, expires_at, ttl_seconds))

    async def refresh_record(self, token_hash: str) -> RefreshRecord | None:
        rows = await self._cql.execute(
            "SELECT user_id, family_id, spent, expires_at FROM auth_refresh_tokens "
            "WHERE token_hash = ?", (token_hash,))
        if not rows or rows[0]["expires_at"] is None or rows[0]["family_id"] is None:
            return None
        row = rows[0]
        return RefreshRecord(str(row["user_id"]), row["family_id"], bool(row["spent"]),
                             row["expires_at"].replace(tzinfo=UTC))

    async def spend_refresh(self, token_hash: str, ttl_seconds: int) -> bool:
        """Mark a refresh token spent (the flag expires with the token); False if it
        already was (a replay)."""
        rows = await self._cql.execute(
            "UPDATE auth_refresh_tokens USING TTL ? SET spent = true WHERE token_hash = ? "
            "IF spent = false", (max(ttl_seconds, 1), token_hash))
        return applied(rows)

    async def revoke_family(self, family_id: uuid.UUID, ttl_seconds: int) -> None:
        await self._cql.execute(
            "INSERT INTO auth_refresh_families (family_id, revoked) VALUES (?, true) "
            "USING TTL ?", (family_id, ttl_seconds))

    async def family_revoked(self, family_id: uuid.UUID) -> bool:
        rows = await self._cql.execute(
            "SELECT revoked FROM auth_refresh_families WHERE family_id = ?", (family_id,))
        return bool(rows and rows[0]["revoked"])
