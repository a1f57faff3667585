"""The CQL store client (scylla-driver): one session per process, asyncio-friendly.

Runs unchanged against Cassandra (local, CI) and ScyllaDB (production): protocol v4,
token-aware routing over DC-aware round robin, consistency levels from settings. On
ScyllaDB the driver is also shard-aware without any change here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import (
    EXEC_PROFILE_DEFAULT,
    Cluster,
    ExecutionProfile,
    ResponseFuture,
    Session,
)
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    TokenAwarePolicy,
)
from cassandra.query import PreparedStatement, Statement, dict_factory

from services.runtime import metrics
from services.runtime.settings import CqlSettings

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 4  # the common ground of Cassandra 5 and ScyllaDB

Row = dict[str, Any]
Params = Sequence[Any] | Mapping[str, Any] | None


def _await_response(future: ResponseFuture) -> asyncio.Future[Any]:
    loop = asyncio.get_running_loop()
    result: asyncio.Future[Any] = loop.create_future()

    def done(rows: Any) -> None:
        loop.call_soon_threadsafe(lambda: result.done() or result.set_result(future))

    def failed(exc: BaseException) -> None:
        loop.call_soon_threadsafe(lambda: result.done() or result.set_exception(exc))

    future.add_callbacks(done, failed)
    return result


class CqlStore:
    """A connected session with prepared-statement caching and async execution."""

    def __init__(self, cluster: Cluster, session: Session, settings: CqlSettings) -> None:
        self.cluster = cluster
        self.session = session
        self.settings = settings
        self._prepared: dict[str, PreparedStatement] = {}
        self._metered = metrics.enabled()  # statement latency, when metrics are on

    async def _result(self, statement: Any, future: ResponseFuture) -> Any:
        """The future's result once it is in (timed by statement when metered)."""
        if not self._metered:
            await _await_response(future)
            return future.result()
        started = time.perf_counter()
        try:
            await _await_response(future)
        except Exception as exc:
            metrics.cql_observe(statement, time.perf_counter() - started, exc)
            raise
        metrics.cql_observe(statement, time.perf_counter() - started)
        return future.result()

    @classmethod
    async def connect(cls, settings: CqlSettings, *, keyspace: str | None = None) -> CqlStore:
        """Connect (blocking driver work happens in a thread)."""
        profile = ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(
                DCAwareRoundRobinPolicy(local_dc=settings.local_dc)),
            consistency_level=ConsistencyLevel.name_to_value[settings.consistency],
            serial_consistency_level=ConsistencyLevel.name_to_value[
                settings.serial_consistency],
            request_timeout=settings.request_timeout_seconds,
            row_factory=dict_factory,
        )
        auth = None
        if settings.username:
            auth = PlainTextAuthProvider(settings.username, settings.password or "")
        cluster = Cluster(
            contact_points=settings.contact_points,
            port=settings.port,
            protocol_version=PROTOCOL_VERSION,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            auth_provider=auth,
            connect_timeout=settings.connect_timeout_seconds,
            control_connection_timeout=settings.connect_timeout_seconds,
            reconnection_policy=ExponentialReconnectionPolicy(
                base_delay=min(0.5, settings.reconnect_max_seconds),
                max_delay=settings.reconnect_max_seconds, max_attempts=None),
        )
        session = await asyncio.to_thread(cluster.connect, keyspace)
        return cls(cluster, session, settings)

    @property
    def keyspace(self) -> str:
        return self.settings.keyspace

    async def prepare(self, cql: str) -> PreparedStatement:
        """Prepare once per process; later calls hit the cache."""
        stmt = self._prepared.get(cql)
        if stmt is None:
            stmt = await asyncio.to_thread(self.session.prepare, cql)
            self._prepared[cql] = stmt
        return stmt

    async def execute(self, query: str | Statement | PreparedStatement, params: Params = None,
                      *, timeout: float | None = None) -> list[Row]:
        """Run one statement; a plain string is prepared first (cached)."""
        if isinstance(query, str):
            query = await self.prepare(query)
        future = self.session.execute_async(query, params, timeout=timeout or
                                            self.settings.request_timeout_seconds)
        return list((await self._result(query, future)).current_rows)

    async def execute_page(self, query: str | PreparedStatement, params: Params, *,
                           page_size: int, paging_state: bytes | None
                           ) -> tuple[list[Row], bytes | None]:
        """One page of a query and the driver's paging state for the next (None at the end)."""
        stmt = await self.prepare(query) if isinstance(query, str) else query
        bound = stmt.bind(params or ())
        bound.fetch_size = page_size
        future = self.session.execute_async(bound, paging_state=paging_state,
                                            timeout=self.settings.request_timeout_seconds)
        result = await self._result(stmt, future)
        return list(result.current_rows), result.paging_state

    async def execute_raw(self, cql: str) -> list[Row]:
        """Run unprepared CQL (schema changes)."""
        future = self.session.execute_async(cql, timeout=max(
            60.0, self.settings.request_timeout_seconds))
        await _await_response(future)
        return list(future.result().current_rows)

    async def use_keyspace(self) -> None:
        await asyncio.to_thread(self.session.set_keyspace, self.keyspace)

    async def close(self) -> None:
        await asyncio.to_thread(self.cluster.shutdown)


def applied(rows: Sequence[Row]) -> bool:
    """Whether a lightweight transaction (``IF …``) was applied."""
    return bool(rows and rows[0].get("[applied]", False))
