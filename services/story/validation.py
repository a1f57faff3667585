"""Request checks shared by the story RPCs (no I/O)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.ids import MAX_ID

REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MEDIA_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TEXT_MAX = 500


def canonical_uuid(value: str) -> str | None:
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError):
        return None
    return value if str(parsed) == value else None


def check_user_ids(field: str, values: Sequence[str], limit: int) -> list[FieldViolation]:
    if len(values) > limit:
        return [FieldViolation(field, f"at most {limit} users per call")]
    return [FieldViolation(f"{field}[{i}]", "must be a user id (UUID text)")
            for i, v in enumerate(values) if canonical_uuid(v) is None]


def check_story_id(story_id: int) -> None:
    if story_id == 0:
        raise InvalidArgument(FieldViolation("story_id", "required: the story's id"))
    if not 0 < story_id <= MAX_ID:
        raise InvalidArgument(FieldViolation("story_id", "not a story id (ids are positive "
                                                         "63-bit numbers)"))
