"""The caller's token: a provider the client asks before every call.

A `TokenProvider` is any callable returning the current access token (or None for no
token), plain or async: ``lambda: token`` for a fixed one, a mesh service's "token of the
user being served", or a `Session`, which signs a user in and refreshes the access token
before it expires (AuthService.Refresh; refresh tokens rotate, so refreshes are serialised).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from photomesh.auth.v1 import auth_service_pb2 as auth_pb

if TYPE_CHECKING:
    from photomesh.auth.v1.auth_service_pb2_grpc import AuthServiceAsyncStub

TokenProvider = Callable[[], str | None | Awaitable[str | None]]

#: Refresh this long before the access token expires, so a call never leaves with a token
#: that expires on the way.
REFRESH_MARGIN_SECONDS = 30.0


async def current_token(provider: TokenProvider | None) -> str | None:
    """What `provider` says now (awaited if it is async)."""
    if provider is None:
        return None
    token = provider()
    if inspect.isawaitable(token):
        return await token
    return token


class Session:
    """A signed-in user: a token provider that refreshes itself.

    Refresh and sign-out go through `auth`, a stub on a client *without* this session's
    token (they are public RPCs): ``Session.sign_in(anonymous.auth, …)``, then
    ``anonymous.with_token(session)`` for the user's calls."""

    def __init__(self, auth: AuthServiceAsyncStub, user_id: str, tokens: auth_pb.AuthTokens,
                 *, refresh_margin: float = REFRESH_MARGIN_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self._auth = auth
        self._user_id = user_id
        self._tokens = tokens
        self._margin = refresh_margin
        self._clock = clock
        self._lock = asyncio.Lock()

    @classmethod
    async def sign_in(cls, auth: AuthServiceAsyncStub, username: str, password: str,
                      *, refresh_margin: float = REFRESH_MARGIN_SECONDS) -> Session:
        """Log in with a username and password (AuthService.Login)."""
        reply = await auth.Login(auth_pb.LoginRequest(username=username, password=password))
        return cls(auth, reply.user_id, reply.tokens, refresh_margin=refresh_margin)

    @property
    def user_id(self) -> str:
        """The signed-in user's id."""
        return self._user_id

    @property
    def expires_at(self) -> float:
        """When the current access token expires (Unix seconds)."""
        return self._tokens.access_token_expire_time.ToNanoseconds() / 1e9

    def _fresh(self) -> bool:
        return self._clock() + self._margin < self.expires_at

    async def __call__(self) -> str:
        """The access token, refreshed first if it expires within the margin."""
        if not self._fresh():
            async with self._lock:
                if not self._fresh():  # another call may have refreshed meanwhile
                    await self._refresh()
        return self._tokens.access_token

    async def refresh(self) -> None:
        """Refresh now, whatever the expiry (e.g. after the user's rights changed)."""
        async with self._lock:
            await self._refresh()

    async def _refresh(self) -> None:
        reply = await self._auth.Refresh(
            auth_pb.RefreshRequest(refresh_token=self._tokens.refresh_token))
        self._user_id = reply.user_id
        self._tokens = reply.tokens

    async def sign_out(self) -> None:
        """Revoke the refresh token (AuthService.Logout); the access token lapses on its own."""
        async with self._lock:
            await self._auth.Logout(
                auth_pb.LogoutRequest(refresh_token=self._tokens.refresh_token))
