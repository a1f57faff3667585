"""Input rules of the graph service's own fields: username prefixes, profile fields (ids,
usernames and batches follow the mesh's rules, services/runtime/validation.py)."""

from __future__ import annotations

import re

from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.validation import canonical_uuid

USERNAME_PREFIX = re.compile(r"^[a-z0-9._]{1,30}$")
USERNAME_ALPHABET = "".join(sorted("._0123456789abcdefghijklmnopqrstuvwxyz"))  # CQL text order
DISPLAY_NAME_MAX = 64
BIO_MAX = 150


def username_prefix(value: str) -> str:
    normalised = value.strip().lower()
    if not USERNAME_PREFIX.match(normalised):
        raise InvalidArgument(FieldViolation(
            "username_prefix", "1-30 characters of a-z, 0-9, '.' and '_'"))
    return normalised


def display_name(value: str, field: str = "display_name") -> list[FieldViolation]:
    if len(value) > DISPLAY_NAME_MAX:
        return [FieldViolation(field, f"at most {DISPLAY_NAME_MAX} characters")]
    if any(ord(c) < 32 for c in value):
        return [FieldViolation(field, "must not contain control characters")]
    return []


def bio(value: str, field: str = "bio") -> list[FieldViolation]:
    if len(value) > BIO_MAX:
        return [FieldViolation(field, f"at most {BIO_MAX} characters")]
    if any(ord(c) < 32 and c != "\n" for c in value):
        return [FieldViolation(field, "must not contain control characters other than "
                                      "line breaks")]
    return []


def media_id(value: str, field: str) -> list[FieldViolation]:
    """Empty (no avatar) or a media id (UUID text)."""
    if value and canonical_uuid(value) is None:
        return [FieldViolation(field, "must be empty or the id (UUID text) of a READY image "
                                      "you uploaded")]
    return []
