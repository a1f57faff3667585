"""Direct messages through the edge: REST (the transcoder, from the contracts'
`google.api.http` routes) and the message stream over gRPC-Web (connect-web)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from infra.backends.envoy import EnvoyBackend
from tests.edge.conftest import Account
from tests.edge.http import request

MESSAGES = "photomesh.message.v1.MessageService"


def _send(edge: EnvoyBackend, who: Account, thread_id: str, text: str):  # type: ignore[no-untyped-def]
    return request(edge.settings.envoy_port, "POST", f"/v1/threads/{thread_id}/messages",
                   {"requestId": uuid.uuid4().hex, "text": text}, token=who.access_token)


def _open(edge: EnvoyBackend, who: Account, other: Account) -> str:
    opened = request(edge.settings.envoy_port, "POST", "/v1/threads:openDirect",
                     {"userId": other.user_id}, token=who.access_token)
    assert opened.status == 200, opened.body
    return str(opened.json()["thread"]["threadId"])


def test_threads_and_messages_over_rest(edge: EnvoyBackend, account: Account,
                                        request_account: Account) -> None:
    port = edge.settings.envoy_port
    thread_id = _open(edge, account, request_account)
    assert _open(edge, request_account, account) == thread_id  # one thread per pair
    sent = _send(edge, account, thread_id, "over REST")
    assert sent.status == 200, sent.body
    listed = request(port, "GET", f"/v1/threads/{thread_id}/messages?pageSize=5",
                     token=request_account.access_token)
    assert listed.status == 200, listed.body
    (message,) = listed.json()["messages"]
    assert message["text"] == "over REST" and message["senderUserId"] == account.user_id

    too_long = _send(edge, account, thread_id, "x" * 1001)
    assert too_long.status == 400
    details = {d["@type"].rsplit("/", 1)[1]: d for d in too_long.json()["details"]}
    assert details["google.rpc.ErrorInfo"]["domain"] == "message.photomesh"
    assert [v["field"] for v in details["google.rpc.BadRequest"]["fieldViolations"]] == [
        "text"]
    assert request(port, "GET", f"/v1/threads/{thread_id}").status == 401
    unread = request(port, "GET", "/v1/threads:unreadCount", token=account.access_token)
    assert unread.status == 200, unread.body


async def test_message_stream_over_grpc_web(web: Callable[..., dict[str, Any]],
                                            edge: EnvoyBackend, account: Account,
                                            request_account: Account) -> None:
    """The recipient listens through the edge with the browser client; the sender's
    message is pushed to it."""
    thread_id = await asyncio.to_thread(_open, edge, account, request_account)
    listening = asyncio.ensure_future(asyncio.to_thread(
        web, "stream", MESSAGES, "StreamMessages", {}, token=request_account.access_token,
        count=1))
    for attempt in range(8):  # until the client has subscribed, a message may pass it by
        reply = await asyncio.to_thread(_send, edge, account, thread_id, f"live {attempt}")
        assert reply.status == 200, reply.body
        done, _ = await asyncio.wait({listening}, timeout=2.0)
        if done:
            break
    result = await listening
    assert result["ok"], result
    (event,) = result["messages"]
    assert event["message"]["threadId"] == thread_id
    assert event["message"]["text"].startswith("live")
