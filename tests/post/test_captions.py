"""Hashtag and @mention parsing (pure text rules)."""

from __future__ import annotations

from services.post.captions import parse, text_violations


def test_hashtags_are_lower_case_unique_in_order_and_not_inside_words() -> None:
    parsed = parse("#Sun and #sun, #été #2026 mail#not &#38; ##double #x_y.")
    assert parsed.hashtags == ("sun", "été", "2026", "x_y")


def test_mentions_are_usernames_not_emails() -> None:
    parsed = parse("hi @Alice.B. and @bob_1, @alice.b again; me@example.com @ab @" + "x" * 31)
    assert parsed.usernames == ("alice.b", "bob_1")


def test_limits_are_field_violations() -> None:
    tags = " ".join(f"#t{i}" for i in range(31))
    violations, _ = text_violations("caption", tags, required=False)
    assert [v.field for v in violations] == ["caption"]
    assert "30 hashtags" in violations[0].description
    violations, _ = text_violations("text", "   ", required=True)
    assert violations and violations[0].field == "text"
    violations, _ = text_violations("caption", "x" * 2201, required=False)
    assert "2200" in violations[0].description
    assert text_violations("caption", "", required=False)[0] == []
