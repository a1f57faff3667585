"""grpc.aio interceptors every service installs.

Server side, outermost first: OpenTelemetry (from telemetry.py), `ErrorInterceptor`
(domain errors -> rich status), `AuthInterceptor` (verifies the bearer token, sets the
principal and the call's deadline for outgoing calls). Client side: `deadline_interceptors`
pass the remaining deadline on to the services we call; `caller_token` is the token they
carry (services/peers/mesh.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import grpc
from grpc import aio

from services.runtime import auth
from services.runtime.errors import (
    DomainError,
    Unavailable,
    Unimplemented,
    backend_error_types,
    to_status,
)

log = logging.getLogger(__name__)

ALWAYS_PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "photomesh_deadline", default=None)

Behavior = Callable[..., Any]
Wrapper = Callable[[Behavior, bool], Behavior]


def _rewrap(handler: grpc.RpcMethodHandler, wrap: Wrapper) -> grpc.RpcMethodHandler:
    """A copy of `handler` whose behaviour is `wrap(behaviour, response_streaming)`."""
    kinds = (
        ("unary_unary", grpc.unary_unary_rpc_method_handler, False),
        ("unary_stream", grpc.unary_stream_rpc_method_handler, True),
        ("stream_unary", grpc.stream_unary_rpc_method_handler, False),
        ("stream_stream", grpc.stream_stream_rpc_method_handler, True),
    )
    for attr, factory, streaming in kinds:
        behavior = getattr(handler, attr)
        if behavior is not None:
            return factory(wrap(behavior, streaming),
                           request_deserializer=handler.request_deserializer,
                           response_serializer=handler.response_serializer)
    return handler


Scope = Callable[[aio.ServicerContext], AbstractAsyncContextManager[None]]


def _within(handler: grpc.RpcMethodHandler, scope: Scope) -> grpc.RpcMethodHandler:
    """`handler` run inside `scope(context)`, for unary and streaming responses alike.
    Streaming handlers that write with `context.write` become async generators first."""
    def wrap(behavior: Behavior, streaming: bool) -> Behavior:
        if streaming:
            if not inspect.isasyncgenfunction(behavior):
                behavior = _writes_as_generator(behavior)

            async def stream(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
                async with scope(context):
                    async for item in behavior(request, context):
                        yield item
            return stream

        async def unary(request: Any, context: aio.ServicerContext) -> Any:
            async with scope(context):
                result = behavior(request, context)
                return await result if inspect.isawaitable(result) else result
        return unary

    return _rewrap(handler, wrap)


class _Writes:
    """A servicer context whose `write` hands messages to a queue (else the real context)."""

    def __init__(self, context: aio.ServicerContext, queue: asyncio.Queue[Any]) -> None:
        self._context = context
        self._queue = queue

    async def write(self, message: Any) -> None:
        await self._queue.put(message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def _writes_as_generator(behavior: Behavior) -> Behavior:
    """A response-streaming handler written as a coroutine calling `context.write` (grpc's
    own HealthServicer.Watch) as an async generator, the one form every interceptor
    (ours, OpenTelemetry's) can wrap."""
    async def stream(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)
        task = asyncio.ensure_future(behavior(request, _Writes(context, queue)))
        getter: asyncio.Future[Any] | None = None
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait((getter, task), return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    yield getter.result()
                    continue
                while not queue.empty():
                    yield queue.get_nowait()
                task.result()  # raises what the handler raised
                return
        finally:
            for pending in (getter, task):
                if pending is not None and not pending.done():
                    pending.cancel()

    return stream


class WrappingInterceptor(aio.ServerInterceptor):
    """A server interceptor that wraps each method's handler once (not per call): its
    subclass says how, in `_wrap(method, handler)`."""

    def __init__(self) -> None:
        self._by_method: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        raise NotImplementedError

    async def intercept_service(self, continuation: Callable[..., Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None:
            return None
        known = self._by_method.get(details.method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = self._wrap(details.method, handler)
        self._by_method[details.method] = (handler, wrapped)
        return wrapped


class ErrorInterceptor(WrappingInterceptor):
    """Turns exceptions into gRPC status: DomainError with ErrorInfo, backend failures as
    UNAVAILABLE, anything else INTERNAL (logged). Never lets UNKNOWN escape."""

    def __init__(self, domain: str) -> None:
        self._domain = domain
        self._backend_errors = backend_error_types()
        super().__init__()

    def _translate(self, exc: BaseException, method: str) -> DomainError:
        if isinstance(exc, DomainError):
            return exc
        if isinstance(exc, NotImplementedError):
            return Unimplemented(f"{method} is not implemented yet", reason="NOT_IMPLEMENTED")
        if isinstance(exc, self._backend_errors):
            log.warning("backend failure in %s: %r", method, exc)
            return Unavailable("a backend is unavailable; retry with backoff",
                               reason="BACKEND_UNAVAILABLE",
                               metadata={"error": type(exc).__name__})
        log.exception("unexpected error in %s", method)
        return DomainError("internal error", reason="INTERNAL")

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        @asynccontextmanager
        async def translated(context: aio.ServicerContext) -> AsyncIterator[None]:
            try:
                yield
            except aio.AbortError:
                raise
            except aio.AioRpcError as exc:
                # A peer's answer (NOT_FOUND, PERMISSION_DENIED …) is passed on as it came.
                rich = tuple((k, v) for k, v in (exc.trailing_metadata() or ())
                             if k == "grpc-status-details-bin")
                await context.abort(exc.code(), exc.details() or "", trailing_metadata=rich)
            except Exception as exc:  # noqa: BLE001 - every error becomes a status
                error = self._translate(exc, method)
                status = to_status(error, self._domain)
                await context.abort(error.code, error.message, trailing_metadata=(
                    ("grpc-status-details-bin", status.SerializeToString()),))

        return _within(handler, translated)


class AuthInterceptor(WrappingInterceptor):
    """Verifies the bearer token of every non-public method and sets the principal.

    The principal and the call's deadline live in context variables while the handler runs,
    so domain code and outgoing calls can read them without threading them through."""

    def __init__(self, verifier: auth.TokenVerifier, public_methods: Collection[str] = ()) -> None:
        self._verifier = verifier
        self._public = frozenset(public_methods)
        super().__init__()

    def _is_public(self, method: str) -> bool:
        return method in self._public or method.startswith(ALWAYS_PUBLIC_PREFIXES)

    def _authenticate(self, context: aio.ServicerContext, public: bool) -> auth.Principal | None:
        token = auth.bearer_token(tuple(context.invocation_metadata() or ()))
        if token is None:
            if public:
                return None
            raise auth.Unauthenticated(
                "missing credentials: send 'authorization: Bearer <access token>'",
                reason="TOKEN_MISSING")
        try:
            return self._verifier.verify(token)
        except auth.Unauthenticated:
            if public:
                return None
            raise

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        public = self._is_public(method)

        @asynccontextmanager
        async def authenticated(context: aio.ServicerContext) -> AsyncIterator[None]:
            principal = self._authenticate(context, public)
            remaining = context.time_remaining()
            deadline = time.monotonic() + remaining if remaining is not None else None
            principal_token = auth.set_principal(principal)
            deadline_token = _deadline.set(deadline)
            try:
                yield
            finally:
                _deadline.reset(deadline_token)
                auth.reset_principal(principal_token)

        return _within(handler, authenticated)


def remaining_deadline() -> float | None:
    """Seconds left of the call being served, or None if it has no deadline."""
    deadline = _deadline.get()
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def caller_token() -> str | None:
    """The token of the caller being served (a user's, or this service's own inside
    `ServiceCredentials.acting()`): what peer calls made now carry."""
    principal = auth.caller_or_none()
    return principal.token if principal is not None else None


def _forwarded(details: aio.ClientCallDetails) -> aio.ClientCallDetails:
    timeout = details.timeout
    remaining = remaining_deadline()
    if remaining is None:
        return details
    timeout = remaining if timeout is None else min(timeout, remaining)
    return aio.ClientCallDetails(details.method, timeout, details.metadata, details.credentials,
                                 details.wait_for_ready)


class _ForwardUnaryUnary(aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_forwarded(details), request)


class _ForwardUnaryStream(aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_forwarded(details), request)


def deadline_interceptors() -> list[aio.ClientInterceptor]:
    """Client interceptors passing the remaining deadline of the call being served on to
    the peers it calls (the token comes from `caller_token`)."""
    return [_ForwardUnaryUnary(), _ForwardUnaryStream()]
