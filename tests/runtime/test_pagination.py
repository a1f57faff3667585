"""Page sizes and page tokens (pure logic: no backend involved)."""

import base64

import pytest
from photomesh.common.v1.page_token_pb2 import PageTokenPayload

from services.runtime.errors import InvalidArgument
from services.runtime.pagination import PageTokens, page_size

SCOPE = "graph.ListFollowers/u1"


def test_page_size_defaults_caps_and_rejects_negative() -> None:
    assert page_size(0) == 20
    assert page_size(7) == 7
    assert page_size(10_000) == 100
    with pytest.raises(InvalidArgument) as err:
        page_size(-1)
    assert err.value.violations[0].field == "page_size"


def test_page_token_round_trips() -> None:
    tokens = PageTokens("secret")
    token = tokens.seal(PageTokenPayload(last_id=42, last_key="bob"), scope=SCOPE, viewer="v")
    cursor = tokens.open(token, scope=SCOPE, viewer="v")
    assert (cursor.last_id, cursor.last_key, cursor.version) == (42, "bob", 1)
    assert tokens.open("", scope=SCOPE, viewer="v") is None


def _flip_payload_byte(token: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[12] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@pytest.mark.parametrize("mutate", [
    _flip_payload_byte,
    lambda t: t[: len(t) // 2],  # truncated
    lambda t: "not-a-token",  # garbage
])
def test_tampered_token_is_invalid_argument(mutate) -> None:
    tokens = PageTokens("secret")
    token = tokens.seal(PageTokenPayload(last_id=1), scope=SCOPE, viewer="v")
    with pytest.raises(InvalidArgument) as err:
        tokens.open(mutate(token), scope=SCOPE, viewer="v")
    assert err.value.reason == "PAGE_TOKEN_INVALID"


def test_token_of_another_list_viewer_or_key_is_refused() -> None:
    token = PageTokens("secret").seal(PageTokenPayload(last_id=1), scope=SCOPE, viewer="v")
    for tokens, scope, viewer in ((PageTokens("secret"), "graph.ListFollowers/u2", "v"),
                                  (PageTokens("secret"), SCOPE, "someone-else"),
                                  (PageTokens("other-secret"), SCOPE, "v")):
        with pytest.raises(InvalidArgument):
            tokens.open(token, scope=scope, viewer=viewer)


def test_an_expired_token_is_refused() -> None:
    tokens = PageTokens("secret", ttl_seconds=-1)
    token = tokens.seal(PageTokenPayload(last_id=1), scope=SCOPE, viewer="v")
    with pytest.raises(InvalidArgument, match="expired"):
        tokens.open(token, scope=SCOPE, viewer="v")
