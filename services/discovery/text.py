"""What the index holds for a caption, and what a query looks for (pure text rules).

Normalisation (`fold`, services/runtime/text.py): NFKD, combining marks dropped (accents:
"Café" -> "cafe"), then case-folded. A caption's *words* are its runs of letters, digits
and ``_`` after folding, 2-40 characters, without a few very common English words; each
is kept as its basic stem (`stem`): plural and verb endings are cut, so "sunsets",
"sunset" and "sunsetting" meet. A *hashtag* is folded the same way (the post service
already lower-cases it). The index stores both kinds of term in one table: hashtags as
``#<tag>``, words as their stem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from services.runtime.text import fold

HASHTAG_TERM = "#"
MAX_HASHTAG = 100
MAX_QUERY = 200
MAX_QUERY_WORDS = 5
MAX_WORDS_PER_POST = 64
_WORD = re.compile(r"\w+", re.UNICODE)
_HASHTAG = re.compile(r"^\w{1,100}$", re.UNICODE)
__all__ = ["fold", "hashtag", "hashtag_term", "post_terms", "stem", "valid_hashtag", "words"]
STOPWORDS = frozenset("""a an and are as at be but by for from has have i in is it its my of
on or our so that the this to was we were with you your""".split())


def stem(word: str) -> str:
    """A basic suffix-stripping stem of a folded word: -ies -> -y, -sses -> -ss, -ing,
    -ed and a plural -s are cut (keeping at least three characters); a doubled final
    consonant left by -ing/-ed is undoubled ("running" -> "run")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[:-len(suffix)]
            if len(base) >= 4 and base[-1] == base[-2] and base[-1] not in "aeiouslz":
                base = base[:-1]
            return base
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """The distinct stems of `text`'s words, in order of first appearance."""
    found: dict[str, None] = {}
    for raw in _WORD.findall(fold(text)):
        if 2 <= len(raw) <= 40 and raw not in STOPWORDS and not raw.isdigit():
            found.setdefault(stem(raw), None)
    return list(found)


def hashtag(tag: str) -> str:
    """The folded form of a hashtag (no "#")."""
    return fold(tag.removeprefix("#"))


def hashtag_term(tag: str) -> str:
    return HASHTAG_TERM + hashtag(tag)


def valid_hashtag(folded: str) -> bool:
    return bool(_HASHTAG.match(folded))


def post_terms(caption: str, hashtags: Iterable[str]) -> tuple[list[str], list[str]]:
    """(folded hashtags, word stems) a post is indexed under (words capped)."""
    tags = list(dict.fromkeys(hashtag(t) for t in hashtags if valid_hashtag(hashtag(t))))
    return tags, words(caption)[:MAX_WORDS_PER_POST]
