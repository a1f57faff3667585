"""The client's own interceptors: the caller's token and a default deadline on every call,
typed errors out of every failure.

Metadata, not gRPC call credentials, carries the token: gRPC refuses call credentials on
a plaintext channel, and inside a cluster (and to the edge on a private network) photomesh
speaks plaintext HTTP/2. On a TLS channel the same interceptor works unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from grpc import aio

from photomesh_client.errors import error_from
from photomesh_client.tokens import TokenProvider, current_token

AUTHORIZATION = "authorization"


@dataclass(frozen=True)
class CallDefaults:
    """What every call gets unless it says otherwise: `timeout` (seconds) for unary calls,
    `stream_timeout` for server streams (None: no deadline, a live stream may run for
    hours), and the token of `token`."""

    timeout: float | None
    stream_timeout: float | None
    token: TokenProvider | None


async def _prepared(details: aio.ClientCallDetails, defaults: CallDefaults, streaming: bool
                    ) -> aio.ClientCallDetails:
    timeout = details.timeout
    if timeout is None:
        timeout = defaults.stream_timeout if streaming else defaults.timeout
    metadata = aio.Metadata(*(details.metadata or ()))
    if metadata.get(AUTHORIZATION) is None:  # a call may carry its own token
        token = await current_token(defaults.token)
        if token:
            metadata[AUTHORIZATION] = f"Bearer {token}"
    return aio.ClientCallDetails(details.method, timeout, metadata, details.credentials,
                                 details.wait_for_ready)


Continuation = Callable[[aio.ClientCallDetails, Any], Any]


class _UnaryUnary(aio.UnaryUnaryClientInterceptor):
    def __init__(self, defaults: CallDefaults) -> None:
        self._defaults = defaults

    async def intercept_unary_unary(self, continuation: Continuation,
                                    client_call_details: aio.ClientCallDetails,
                                    request: Any) -> Any:
        call = await continuation(await _prepared(client_call_details, self._defaults, False),
                                  request)
        try:
            await call
        except aio.AioRpcError as error:
            raise error_from(error) from None
        return call  # the call itself, so its metadata stays readable


class _UnaryStream(aio.UnaryStreamClientInterceptor):
    def __init__(self, defaults: CallDefaults) -> None:
        self._defaults = defaults

    async def intercept_unary_stream(self, continuation: Continuation,
                                     client_call_details: aio.ClientCallDetails,
                                     request: Any) -> Any:
        call = await continuation(await _prepared(client_call_details, self._defaults, True),
                                  request)

        async def responses() -> AsyncIterator[Any]:
            try:
                async for response in call:
                    yield response
            except aio.AioRpcError as error:
                raise error_from(error) from None

        return responses()


def client_interceptors(defaults: CallDefaults) -> list[aio.ClientInterceptor]:
    """Token, deadline and typed errors for unary and server-streaming calls (the only
    kinds the contracts use; tests/client/test_contracts.py checks that)."""
    return [_UnaryUnary(defaults), _UnaryStream(defaults)]
