"""The request checks every service shares: request ids, UUID and Snowflake ids, batches,
usernames. Domain modules call them (validation lives in the domain, not the transport) and
raise `InvalidArgument` with one `FieldViolation` per bad field."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.ids import MAX_ID

REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
USERNAME = re.compile(r"^[a-z0-9._]{3,30}$")
USERNAME_RULE = "3-30 characters of a-z, 0-9, '.' and '_'"


def check(violations: Sequence[FieldViolation | None]) -> None:
    """INVALID_ARGUMENT with every violation, if there is any."""
    found = [v for v in violations if v is not None]
    if found:
        raise InvalidArgument(found)


# --- request ids (AIP-155) -------------------------------------------------------------------

def request_id_violation(value: str, field: str = "request_id") -> FieldViolation | None:
    if REQUEST_ID.match(value):
        return None
    return FieldViolation(field, "required: 8-64 characters of [A-Za-z0-9_-] (a UUID works)")


# --- UUID ids (users, media) -----------------------------------------------------------------

def canonical_uuid(value: str) -> str | None:
    """The canonical (lower-case 8-4-4-4-12) text of a UUID, or None if `value` is not one."""
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None
    text = str(parsed)
    return text if text == value.lower() else None


def uuid_violation(field: str, value: str, what: str = "a user id") -> FieldViolation | None:
    if not value:
        return FieldViolation(field, f"required: {what} (UUID text)")
    if canonical_uuid(value) is None:
        return FieldViolation(field, f"must be {what} in UUID text form, such as "
                                     "0b6f6c4e-3c1e-4d0e-9a57-2d4b5c0e9f11")
    return None


def require_uuid(field: str, value: str, what: str = "a user id") -> str:
    """The canonical text of `value`; INVALID_ARGUMENT if it is not a UUID."""
    check([uuid_violation(field, value, what)])
    return value.lower()


def uuid_batch(field: str, values: Sequence[str], maximum: int, what: str = "a user id"
               ) -> list[str]:
    """Distinct canonical ids in request order, at most `maximum`."""
    if len(values) > maximum:
        raise InvalidArgument(FieldViolation(field, f"at most {maximum} ids per call "
                                                    f"(got {len(values)})"),
                              reason="BATCH_TOO_LARGE")
    check([uuid_violation(f"{field}[{i}]", v, what) for i, v in enumerate(values)])
    return list(dict.fromkeys(v.lower() for v in values))


# --- Snowflake ids (posts, comments, stories, notifications) ------------------------------

def id_violation(field: str, value: int, what: str = "an id", *, optional: bool = False
                 ) -> FieldViolation | None:
    """Snowflake ids are positive 63-bit numbers; 0 means "none" where `optional`."""
    if (optional and value == 0) or 0 < value <= MAX_ID:
        return None
    return FieldViolation(field, f"required: {what} (a positive 63-bit number)")


def require_id(field: str, value: int, what: str = "an id") -> int:
    check([id_violation(field, value, what)])
    return value


def id_batch(field: str, values: Sequence[int], maximum: int, what: str = "an id"
             ) -> list[int]:
    """Distinct ids in request order, at most `maximum`, each a valid Snowflake id."""
    if len(values) > maximum:
        raise InvalidArgument(FieldViolation(field, f"at most {maximum} ids "
                                                    f"(got {len(values)})"),
                              reason="BATCH_TOO_LARGE")
    check([id_violation(f"{field}[{i}]", v, what) for i, v in enumerate(values)])
    return list(dict.fromkeys(values))


# --- usernames ---------------------------------------------------------------------------

def username_violation(value: str, field: str = "username") -> FieldViolation | None:
    """`value` must already be normalised (stripped, lower case)."""
    return None if USERNAME.match(value) else FieldViolation(field, USERNAME_RULE)
