"""Password hashing with Argon2id, off the event loop (it is slow on purpose).

Each hash takes `memory_kib` of memory and a core for a while, so at most
`max_concurrent` run at once; up to `max_waiting` more wait their turn, and beyond that a
call is refused at once (RESOURCE_EXHAUSTED, retry after a second) instead of piling up
memory and latency for everyone: a flood of sign-ups or sign-ins cannot take the process
down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.runtime.errors import ResourceExhausted

T = TypeVar("T")

# Verified against when the username does not exist, so both paths cost the same time.
_DUMMY_PASSWORD = "photomesh-timing-equaliser"


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int, max_concurrent: int = 2,
                 max_waiting: int = 32) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        self._dummy_hash = self._hasher.hash(_DUMMY_PASSWORD)
        self._slots = asyncio.Semaphore(max_concurrent)
        self._max_waiting = max_waiting
        self._waiting = 0

    @property
    def waiting(self) -> int:
        return self._waiting

    async def _run(self, work: Callable[[], T]) -> T:
        if self._slots.locked() and self._waiting >= self._max_waiting:
            raise ResourceExhausted("too many sign-ins at once; retry in a second",
                                    reason="RATE_LIMITED",
                                    metadata={"retry_after_seconds": "1"})
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return await asyncio.to_thread(work)
        finally:
            self._slots.release()

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self._hasher.hash(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(password_hash or self._dummy_hash, password) and (
                    password_hash is not None)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False
        return await self._run(check)
