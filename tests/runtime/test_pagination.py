"""Page sizes and page tokens (pure logic: no backend involved)."""

import pytest

from services.runtime.errors import InvalidArgument
from services.runtime.pagination import PageTokens, page_size


def test_page_size_defaults_caps_and_rejects_negative() -> None:
    assert page_size(0) == 20
    assert page_size(7) == 7
    assert page_size(10_000) == 100
    with pytest.raises(InvalidArgument) as err:
        page_size(-1)
    assert err.value.violations[0].field == "page_size"


def test_page_token_round_trips_and_is_opaque() -> None:
    tokens = PageTokens("secret")
    token = tokens.seal("ListFollowers:u1", {"after": "2026-11-21T00:00:00Z", "id": 42})
    assert "42" not in token and "after" not in token
    assert tokens.open("ListFollowers:u1", token) == {"after": "2026-11-21T00:00:00Z", "id": 42}
    assert tokens.open("ListFollowers:u1", "") is None


@pytest.mark.parametrize("mutate", [
    lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],  # flipped bits
    lambda t: t[: len(t) // 2],  # truncated
    lambda t: "not-a-token",  # garbage
])
def test_tampered_token_is_invalid_argument(mutate) -> None:
    tokens = PageTokens("secret")
    token = tokens.seal("q", {"id": 1})
    with pytest.raises(InvalidArgument) as err:
        tokens.open("q", mutate(token))
    assert err.value.reason == "INVALID_PAGE_TOKEN"


def test_token_of_another_query_or_key_is_refused() -> None:
    token = PageTokens("secret").seal("ListFollowers:u1", {"id": 1})
    with pytest.raises(InvalidArgument):
        PageTokens("secret").open("ListFollowers:u2", token)
    with pytest.raises(InvalidArgument):
        PageTokens("other-secret").open("ListFollowers:u1", token)
