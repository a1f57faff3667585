"""Prometheus metrics of one process, served on ``http://<host>:<metrics_port>/metrics`` when
its server settings set ``PHOTOMESH_<PROCESS>_METRICS_PORT`` (`ServerSettings.metrics_port`,
beside the gRPC port of the same process).

* **RED of every RPC** the process serves (`server_interceptors`, installed by the server
  bootstrap): ``grpc_server_started_total``, ``grpc_server_handled_total`` by ``grpc_code``
  and the ``grpc_server_handling_seconds`` histogram, by service, method and type. These are
  go-grpc-prometheus's names, so stock gRPC dashboards and alerts work unchanged.
* **Events** (services/runtime/events.py), per durable consumer: messages not yet delivered
  to it (``photomesh_jetstream_consumer_pending_messages``: its lag), a message's age when
  its handler starts, handling time and outcome (acked, retried, dropped); publish latency.
* **Fan-out**: timeline rows written (their rate is rows/s) and the lag from a post's
  creation to its rows. **Media jobs** by kind and outcome, with their duration.
* **Caches**: lookups by cache and result (hit ratio = hits / all lookups).
* **Backends**: CQL statement latency by operation and table (services/runtime/cql.py),
  Redis command latency by command (services/runtime/cache.py), and their errors.
* The client library's own process collectors: CPU seconds, resident memory, open files.

Nothing is measured while no port is set (`enabled()` is False): no interceptor is
installed, the backend clients are not wrapped, and every helper returns at once. With a
port, an RPC pays two clock reads and three label-bound updates (its cost on the benchmarks
is not measured yet: benchmark meshes run without metrics).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import grpc
from grpc import aio
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from services.runtime.ids import id_time_ms
from services.runtime.interceptors import WrappingInterceptor, _within

log = logging.getLogger(__name__)

#: Seconds: a loopback call (sub-millisecond) up to a deadline (tens of seconds).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0, 30.0)
#: Seconds an event waits or a job takes: milliseconds up to a backlog of minutes.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
               120.0, 300.0, 600.0)

RPC_LABELS = ("grpc_service", "grpc_method", "grpc_type")
RPC_STARTED = Counter("grpc_server_started", "RPCs started on the server", RPC_LABELS)
RPC_HANDLED = Counter("grpc_server_handled", "RPCs completed on the server, by status code",
                      (*RPC_LABELS, "grpc_code"))
RPC_SECONDS = Histogram("grpc_server_handling_seconds", "Time from an RPC's start to its "
                        "status (a stream: its whole life)", RPC_LABELS,
                        buckets=LATENCY_BUCKETS)

EVENTS_PENDING = Gauge("photomesh_jetstream_consumer_pending_messages",
                       "Messages of the stream not yet delivered to the durable consumer "
                       "(its lag), as of its last fetch", ("stream", "durable"))
EVENTS_HANDLED = Counter("photomesh_jetstream_messages", "Messages handled, by outcome: "
                         "acked, retried (nak with backoff) or dropped (undecodable)",
                         ("stream", "durable", "outcome"))
EVENTS_AGE = Histogram("photomesh_jetstream_message_age_seconds", "Time from a message's "
                       "storage in the stream to the start of its handling",
                       ("stream", "durable"), buckets=LAG_BUCKETS)
EVENTS_SECONDS = Histogram("photomesh_jetstream_handle_seconds", "Handler time per message",
                           ("stream", "durable"), buckets=LATENCY_BUCKETS)
PUBLISH_SECONDS = Histogram("photomesh_jetstream_publish_seconds", "Time until JetStream "
                            "acknowledged a published event (stored)", ("stream",),
                            buckets=LATENCY_BUCKETS)

FANOUT_ROWS = Counter("photomesh_fanout_rows", "Home timeline rows written by fan-out")
FANOUT_LAG = Histogram("photomesh_fanout_lag_seconds", "Time from a post's creation to a "
                       "batch of its timeline rows being written", buckets=LAG_BUCKETS)

MEDIA_JOBS = Counter("photomesh_media_jobs", "Media processing jobs by kind and outcome: "
                     "ready, failed (with its reason) or retried", ("kind", "outcome", "reason"))
MEDIA_SECONDS = Histogram("photomesh_media_job_seconds", "Processing time of a finished job",
                          ("kind",), buckets=LAG_BUCKETS)

CACHE_LOOKUPS = Counter("photomesh_cache_lookups", "Cache lookups by cache and result (hit "
                        "or miss)", ("cache", "result"))

CQL_SECONDS = Histogram("photomesh_cql_request_seconds", "CQL statement latency as the "
                        "client sees it", ("operation", "table"), buckets=LATENCY_BUCKETS)
CQL_ERRORS = Counter("photomesh_cql_errors", "CQL statements that failed",
                     ("operation", "table", "error"))
REDIS_SECONDS = Histogram("photomesh_redis_command_seconds", "Redis command (or pipeline) "
                          "latency as the client sees it", ("command",),
                          buckets=LATENCY_BUCKETS)
REDIS_ERRORS = Counter("photomesh_redis_errors", "Redis commands that failed",
                       ("command", "error"))


class _State:
    enabled = False


def enabled() -> bool:
    """True once `serve` started the endpoint: only then is anything measured."""
    return _State.enabled


def serve(host: str, port: int | None) -> Callable[[], None] | None:
    """Start the /metrics endpoint (a thread of its own) when a port is set; returns what
    stops it, or None when metrics are off."""
    if port is None:
        return None
    server, thread = start_http_server(port, addr=host)
    _State.enabled = True
    log.info("metrics on http://%s:%d/metrics", host, port)

    def stop() -> None:
        _State.enabled = False
        server.shutdown()
        thread.join(timeout=5)
    return stop


# --- RPCs ----------------------------------------------------------------------------------

def _code_name(code: Any) -> str:
    if code is None:
        return "OK"
    if isinstance(code, grpc.StatusCode):
        return code.name
    for known in grpc.StatusCode:
        if known.value[0] == code:
            return known.name
    return "UNKNOWN"


def _rpc_type(handler: grpc.RpcMethodHandler) -> str:
    if handler.request_streaming and handler.response_streaming:
        return "bidi_stream"
    if handler.request_streaming:
        return "client_stream"
    return "server_stream" if handler.response_streaming else "unary"


class RedInterceptor(WrappingInterceptor):
    """Rate, errors (by final gRPC code) and duration of every RPC. Installed outside the
    error interceptor, so it sees the status a caller gets."""

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        service, _, name = method.lstrip("/").rpartition("/")
        labels = (service, name, _rpc_type(handler))
        started = RPC_STARTED.labels(*labels)
        seconds = RPC_SECONDS.labels(*labels)
        by_code: dict[str, Any] = {}

        def handled(code: str) -> Any:
            child = by_code.get(code)
            if child is None:
                child = by_code[code] = RPC_HANDLED.labels(*labels, code)
            return child

        @asynccontextmanager
        async def measured(context: aio.ServicerContext) -> AsyncIterator[None]:
            started.inc()
            t0 = time.perf_counter()
            code = "OK"
            try:
                yield
                code = _code_name(context.code())
            except BaseException as exc:
                set_code = context.code()
                if set_code is not None:
                    code = _code_name(set_code)
                elif isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
                    code = "CANCELLED"
                else:
                    code = "UNKNOWN"
                raise
            finally:
                seconds.observe(time.perf_counter() - t0)
                handled(code).inc()

        return _within(handler, measured)


def server_interceptors() -> list[aio.ServerInterceptor]:
    """The RED interceptor when metrics are on (else none)."""
    return [RedInterceptor()] if enabled() else []


# --- events --------------------------------------------------------------------------------

class ConsumerMetrics:
    """The series of one durable consumer, label-bound once."""

    def __init__(self, stream: str, durable: str) -> None:
        self._pending = EVENTS_PENDING.labels(stream, durable)
        self._age = EVENTS_AGE.labels(stream, durable)
        self._seconds = EVENTS_SECONDS.labels(stream, durable)
        self._outcomes = {o: EVENTS_HANDLED.labels(stream, durable, o)
                          for o in ("acked", "retried", "dropped")}

    def pending(self, count: int) -> None:
        self._pending.set(count)

    def started(self, stored_at: datetime.datetime | None) -> None:
        if stored_at is not None:
            self._age.observe(max(0.0, time.time() - stored_at.timestamp()))

    def handled(self, outcome: str, seconds: float | None = None) -> None:
        self._outcomes[outcome].inc()
        if seconds is not None:
            self._seconds.observe(seconds)


class _NoConsumerMetrics(ConsumerMetrics):
    def __init__(self) -> None:
        pass

    def pending(self, count: int) -> None:
        pass

    def started(self, stored_at: datetime.datetime | None) -> None:
        pass

    def handled(self, outcome: str, seconds: float | None = None) -> None:
        pass


def consumer(stream: str, durable: str) -> ConsumerMetrics:
    return ConsumerMetrics(stream, durable) if enabled() else _NoConsumerMetrics()


def published(stream: str, seconds: float) -> None:
    if _State.enabled:
        PUBLISH_SECONDS.labels(stream).observe(seconds)


# --- domain hooks --------------------------------------------------------------------------

def fanout_rows(rows: int, post_id: int) -> None:
    """`rows` timeline rows of post `post_id` were written just now (its Snowflake id
    carries its creation time: the lag)."""
    if _State.enabled and rows:
        FANOUT_ROWS.inc(rows)
        FANOUT_LAG.observe(max(0.0, time.time() - id_time_ms(post_id) / 1000))


def media_job(kind: str, outcome: str, reason: str = "", seconds: float | None = None) -> None:
    """A media job ended: ``ready``, ``failed`` (with its reason) or ``retried``."""
    if _State.enabled:
        MEDIA_JOBS.labels(kind, outcome, reason).inc()
        if seconds is not None:
            MEDIA_SECONDS.labels(kind).observe(seconds)


def cache_lookups(cache: str, hits: int, misses: int) -> None:
    if _State.enabled:
        if hits:
            CACHE_LOOKUPS.labels(cache, "hit").inc(hits)
        if misses:
            CACHE_LOOKUPS.labels(cache, "miss").inc(misses)


# --- backends ------------------------------------------------------------------------------

_CQL = re.compile(r"^\s*(?:(select)\b.*?\bfrom|(insert)\s+into|(update)|(delete)\b.*?\bfrom)"
                  r"\s+(?:\w+\.)?\"?(\w+)", re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=1024)
def cql_labels(text: str) -> tuple[str, str]:
    """(operation, table) of a CQL statement: ``("select", "feed_timelines")``."""
    found = _CQL.match(text)
    if found is None:
        return (text.split(None, 1)[0].lower() if text.strip() else "other"), ""
    operation = next(g for g in found.groups()[:4] if g)
    return operation.lower(), found.group(5)


def cql_statement_text(statement: Any) -> str | None:
    """The CQL text of a driver statement (prepared, bound or simple); None for a batch."""
    prepared = getattr(statement, "prepared_statement", None)
    if prepared is not None:
        return str(prepared.query_string)
    text = getattr(statement, "query_string", None)
    return str(text) if text is not None else None


def cql_observe(statement: Any, seconds: float, error: BaseException | None = None) -> None:
    text = statement if isinstance(statement, str) else cql_statement_text(statement)
    operation, table = cql_labels(text) if text is not None else ("batch", "")
    CQL_SECONDS.labels(operation, table).observe(seconds)
    if error is not None:
        CQL_ERRORS.labels(operation, table, type(error).__name__).inc()


def redis_observe(command: str, seconds: float, error: BaseException | None = None) -> None:
    REDIS_SECONDS.labels(command).observe(seconds)
    if error is not None:
        REDIS_ERRORS.labels(command, type(error).__name__).inc()
