"""Checks of request fields shared by the post domain modules (no I/O)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from services.runtime.errors import FieldViolation, InvalidArgument

REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MEDIA_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_SNOWFLAKE = (1 << 63) - 1
MAX_BATCH = 500


def check(violations: Sequence[FieldViolation]) -> None:
    if violations:
        raise InvalidArgument(list(violations))


def request_id_violation(request_id: str) -> FieldViolation | None:
    if REQUEST_ID.match(request_id):
        return None
    return FieldViolation("request_id", "required: 8-64 characters of [A-Za-z0-9_-] "
                                        "(a UUID works)")


def id_violation(field: str, value: int, *, optional: bool = False) -> FieldViolation | None:
    """Snowflake ids are positive 63-bit numbers; 0 means "none" where `optional`."""
    if optional and value == 0:
        return None
    if 0 < value <= MAX_SNOWFLAKE:
        return None
    return FieldViolation(field, "required: a post or comment id (a positive 63-bit number)")


def require_id(field: str, value: int) -> int:
    violation = id_violation(field, value)
    check([violation] if violation else [])
    return value


def require_user_id(field: str, value: str) -> str:
    """The canonical text of a UUID user id; INVALID_ARGUMENT otherwise."""
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise InvalidArgument(FieldViolation(field, "required: a user id (UUID text)")) from None
    if str(parsed) != value.lower():
        raise InvalidArgument(FieldViolation(field, "a user id in canonical UUID text form"))
    return str(parsed)


def batch_ids(field: str, values: Sequence[int]) -> list[int]:
    """Distinct ids in request order, at most MAX_BATCH, each a valid Snowflake id."""
    if len(values) > MAX_BATCH:
        raise InvalidArgument(FieldViolation(field, f"at most {MAX_BATCH} ids "
                                                    f"(got {len(values)})"),
                              reason="BATCH_TOO_LARGE")
    violations = [v for i, value in enumerate(values)
                  if (v := id_violation(f"{field}[{i}]", value)) is not None]
    check(violations)
    return list(dict.fromkeys(values))
