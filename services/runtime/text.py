"""Text folding shared by every service that matches what people type (search)."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Case and accents removed: NFKD, combining marks dropped, case-folded
    ("Café" -> "cafe", "Straße" -> "strasse")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
