"""Account rules: registration, sign-in and refresh-token rotation (no gRPC types here)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.auth.passwords import Passwords
from services.auth.store import AccountStore
from services.auth.throttle import LoginThrottle
from services.auth.tokens import TokenIssuer
from services.peers.graph import GraphPeer
from services.runtime.errors import AlreadyExists, FieldViolation, InvalidArgument, Unauthenticated
from services.runtime.validation import request_id_violation, username_violation

PASSWORD_MIN, PASSWORD_MAX = 8, 128
DISPLAY_NAME_MAX = 64


@dataclass(frozen=True)
class Session:
    user_id: str
    access_token: str
    access_expires_at: int
    refresh_token: str
    refresh_expires_at: datetime


def _hash_refresh(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def validate_registration(request_id: str, username: str, password: str,
                          display_name: str) -> str:
    """Checks the request; returns the normalised (lower-case) username."""
    normalised = username.strip().lower()
    violations = [v for v in (request_id_violation(request_id),
                              username_violation(normalised)) if v is not None]
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        violations.append(FieldViolation(
            "password", f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters"))
    if len(display_name) > DISPLAY_NAME_MAX:
        violations.append(FieldViolation("display_name",
                                         f"at most {DISPLAY_NAME_MAX} characters"))
    if violations:
        raise InvalidArgument(violations)
    return normalised


class Accounts:
    def __init__(self, store: AccountStore, passwords: Passwords, issuer: TokenIssuer,
                 throttle: LoginThrottle, refresh_ttl_seconds: int,
                 profiles: GraphPeer) -> None:
        self._store = store
        self._profiles = profiles
        self._passwords = passwords
        self._issuer = issuer
        self._throttle = throttle
        self._refresh_ttl = refresh_ttl_seconds

    async def register(self, request_id: str, username: str, password: str,
                       display_name: str) -> Session:
        username = validate_registration(request_id, username, password, display_name)
        user_id, claimed_name = await self._store.claim_request(
            request_id, str(uuid.uuid4()), username)
        if claimed_name != username:
            raise AlreadyExists("this request_id was already used for another username",
                                reason="REQUEST_ID_REUSED", metadata={"request_id": request_id})
        existing = await self._store.credentials(username)
        if existing is None:
            password_hash = await self._passwords.hash(password)
            owner = await self._store.claim_username(username, user_id, password_hash)
        else:
            owner = existing.user_id
            # A retry of our own registration must still prove the password.
            if owner == user_id and not await self._passwords.verify(existing.password_hash,
                                                                     password):
                raise Unauthenticated("wrong password for this registration retry",
                                      reason="INVALID_CREDENTIALS")
        if owner != user_id:
            raise AlreadyExists(f"the username '{username}' is taken", reason="USERNAME_TAKEN",
                                metadata={"username": username})
        await self._store.save_user(user_id, username, display_name.strip())
        await self._profiles.create_profile(user_id, username, display_name.strip())
        return await self._new_session(user_id, username, uuid.uuid4())

    async def login(self, username: str, password: str) -> Session:
        normalised = username.strip().lower()
        if not normalised or not password:
            raise InvalidArgument([FieldViolation(f, "required") for f, v in
                                   (("username", normalised), ("password", password)) if not v])
        wrong = Unauthenticated("wrong username or password", reason="INVALID_CREDENTIALS")
        if username_violation(normalised) or len(password) > PASSWORD_MAX:
            raise wrong
        await self._throttle.attempt(normalised)
        creds = await self._store.credentials(normalised)
        ok = await self._passwords.verify(creds.password_hash if creds else None, password)
        if not ok or creds is None:
            raise wrong
        await self._throttle.clear(normalised)
        await self._profiles.create_profile(creds.user_id, normalised,
                                    await self._store.display_name_of(creds.user_id) or "")
        return await self._new_session(creds.user_id, normalised, uuid.uuid4())

    async def refresh(self, refresh_token: str) -> Session:
        if not refresh_token:
            raise InvalidArgument(FieldViolation("refresh_token", "required"))
        token_hash = _hash_refresh(refresh_token)
        record = await self._store.refresh_record(token_hash)
        invalid = Unauthenticated("the refresh token is not valid; sign in again",
                                  reason="REFRESH_TOKEN_INVALID")
        if record is None or record.expires_at <= datetime.now(UTC):
            raise invalid
        if await self._store.family_revoked(record.family_id):
            raise invalid
        left = int((record.expires_at - datetime.now(UTC)).total_seconds())
        if record.spent or not await self._store.spend_refresh(token_hash, left):
            # A spent token presented again: someone holds a copy. Revoke the whole family.
            await self._store.revoke_family(record.family_id, self._refresh_ttl)
            raise invalid
        username = await self._store.username_of(record.user_id) or ""
        return await self._new_session(record.user_id, username, record.family_id)

    async def logout(self, refresh_token: str) -> None:
        if not refresh_token:
            raise InvalidArgument(FieldViolation("refresh_token", "required"))
        record = await self._store.refresh_record(_hash_refresh(refresh_token))
        if record is not None:
            await self._store.revoke_family(record.family_id, self._refresh_ttl)

    async def _new_session(self, user_id: str, username: str, family: uuid.UUID) -> Session:
        access = self._issuer.issue(user_id, username)
        refresh = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + timedelta(seconds=self._refresh_ttl)
        await self._store.save_refresh(_hash_refresh(refresh), user_id, family, expires,
                                       self._refresh_ttl)
        return Session(user_id, access.token, access.expires_at, refresh, expires)
