"""Page iterators over AIP-158 lists: follow `next_page_token` until it is empty.

    async for page in pages(mesh.graph.ListFollowers, ListFollowersRequest(user_id=u)):
        ...
    async for edge in items(mesh.graph.ListFollowers, ListFollowersRequest(user_id=u)):
        ...

Any List* RPC fits: its request has `page_token` (and `page_size`), its response
`next_page_token` and the listed items in one repeated field. Each page is its own call,
with the client's deadline and retries; the caller's request is not modified.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)

PAGE_TOKEN = "page_token"
NEXT_PAGE_TOKEN = "next_page_token"


def _require_field(message: Message, name: str, role: str) -> None:
    if name not in message.DESCRIPTOR.fields_by_name:
        raise TypeError(f"{message.DESCRIPTOR.full_name} has no {name!r}: "
                        f"not an AIP-158 list {role}")


async def pages(method: Callable[[Req], Awaitable[Resp]], request: Req) -> AsyncIterator[Resp]:
    """Every page of a list, the first one for `request` as it is."""
    _require_field(request, PAGE_TOKEN, "request")
    current = type(request)()
    current.CopyFrom(request)
    seen: set[str] = set()
    while True:
        page = await method(current)
        _require_field(page, NEXT_PAGE_TOKEN, "response")
        yield page
        token: str = getattr(page, NEXT_PAGE_TOKEN)
        if not token:
            return
        if token in seen:
            raise RuntimeError(f"{type(page).__name__}: the server repeated a page token; "
                               "stopping instead of looping")
        seen.add(token)
        next_request = type(request)()
        next_request.CopyFrom(current)
        setattr(next_request, PAGE_TOKEN, token)
        current = next_request


def listed_field(response: Message) -> str:
    """The name of a list response's repeated field of items (the only repeated field)."""
    repeated = [f.name for f in response.DESCRIPTOR.fields if f.is_repeated]
    if len(repeated) != 1:
        raise TypeError(f"{response.DESCRIPTOR.full_name} has {len(repeated)} repeated fields "
                        f"({', '.join(repeated)}): say which with field=")
    return repeated[0]


async def items(method: Callable[[Req], Awaitable[Resp]], request: Req,
                field: str | None = None) -> AsyncIterator[Any]:
    """Every item of a list across its pages: the elements of `field`, by default the
    response's one repeated field (``followers``, ``posts`` …)."""
    async for page in pages(method, request):
        name = field or listed_field(page)
        for item in getattr(page, name):
            yield item
