"""Input rules of the graph service: ids, usernames, batch sizes, profile fields."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from services.runtime.errors import FieldViolation, InvalidArgument

USERNAME = re.compile(r"^[a-z0-9._]{3,30}$")
USERNAME_PREFIX = re.compile(r"^[a-z0-9._]{1,30}$")
USERNAME_ALPHABET = "._0123456789abcdefghijklmnopqrstuvwxyz"  # sorted: CQL text order
DISPLAY_NAME_MAX = 64
BIO_MAX = 150


def uuid_problem(value: str) -> str | None:
    """Why `value` is not a canonical UUID text, or None if it is one."""
    if not value:
        return "required: a user id (UUID text)"
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return "must be a UUID such as 0b6f6c4e-3c1e-4d0e-9a57-2d4b5c0e9f11"
    if str(parsed) != value.lower() or len(value) != 36:
        return "must be a UUID in canonical 8-4-4-4-12 form"
    return None


def user_id(value: str, field: str = "user_id") -> str:
    """The canonical (lower-case) form of a user id; INVALID_ARGUMENT if malformed."""
    problem = uuid_problem(value)
    if problem:
        raise InvalidArgument(FieldViolation(field, problem))
    return value.lower()


def user_ids(values: Sequence[str], field: str, maximum: int) -> list[str]:
    """Distinct canonical user ids in request order; at most `maximum`."""
    if len(values) > maximum:
        raise InvalidArgument(FieldViolation(field, f"at most {maximum} ids per call"),
                              reason="BATCH_TOO_LARGE")
    violations = [FieldViolation(f"{field}[{i}]", p) for i, v in enumerate(values)
                  if (p := uuid_problem(v))]
    if violations:
        raise InvalidArgument(violations)
    return list(dict.fromkeys(v.lower() for v in values))


def username(value: str, field: str = "username") -> str:
    normalised = value.strip().lower()
    if not USERNAME.match(normalised):
        raise InvalidArgument(FieldViolation(field, "3-30 characters of a-z, 0-9, '.' and '_'"))
    return normalised


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
    if value and uuid_problem(value):
        return [FieldViolation(field, "must be empty or the id (UUID text) of a READY image "
                                      "you uploaded")]
    return []
