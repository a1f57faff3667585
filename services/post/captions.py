"""Hashtags and @mentions in captions and comments (pure text rules, no I/O).

A hashtag is ``#`` followed by letters, digits or ``_`` (any script), at the start of the
text or after a character that is not part of a word; it is kept lower case without the
``#``. A mention is ``@`` followed by a username (``[a-z0-9._]``, 1-30 characters, a
trailing ``.`` is punctuation, not part of the name), likewise not inside a word or an
e-mail address. Both are listed once each, in order of first appearance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.runtime.errors import FieldViolation
from services.runtime.validation import USERNAME

MAX_TEXT = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
MAX_HASHTAG_LENGTH = 100

_HASHTAG = re.compile(r"(?<![\w#&])#(\w+)", re.UNICODE)
_MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9._]{1,30})(?![A-Za-z0-9_])")


@dataclass(frozen=True)
class ParsedText:
    """What a caption or comment refers to."""

    hashtags: tuple[str, ...]
    usernames: tuple[str, ...]  # @mentioned names, lower case, not yet resolved to users


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def parse(text: str) -> ParsedText:
    """The hashtags and mentioned usernames of `text`, each once, in order."""
    tags = [m.lower() for m in _HASHTAG.findall(text) if len(m) <= MAX_HASHTAG_LENGTH]
    names = []
    for raw in _MENTION.findall(text):
        name = raw.rstrip(".").lower()
        if USERNAME.match(name):
            names.append(name)
    return ParsedText(_unique(tags), _unique(names))


def text_violations(field: str, text: str, *, required: bool) -> tuple[list[FieldViolation],
                                                                          ParsedText]:
    """Checks length and the hashtag/mention limits of a caption or comment text."""
    violations = []
    if required and not text.strip():
        violations.append(FieldViolation(field, "required: 1 to 2200 characters"))
    if len(text) > MAX_TEXT:
        violations.append(FieldViolation(field, f"at most {MAX_TEXT} characters "
                                                f"(got {len(text)})"))
    if "\x00" in text:
        violations.append(FieldViolation(field, "must not contain NUL characters"))
    parsed = parse(text[: MAX_TEXT + 1])
    if len(parsed.hashtags) > MAX_HASHTAGS:
        violations.append(FieldViolation(field, f"at most {MAX_HASHTAGS} hashtags "
                                                f"(got {len(parsed.hashtags)})"))
    if len(parsed.usernames) > MAX_MENTIONS:
        violations.append(FieldViolation(field, f"at most {MAX_MENTIONS} @mentions "
                                                f"(got {len(parsed.usernames)})"))
    return violations, parsed


def preview(text: str, limit: int = 100) -> str:
    return text[:limit]

