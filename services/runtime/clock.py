"""Time in the forms the mesh stores and sends it: epoch milliseconds (Snowflake ids, CQL
bigints), aware UTC datetimes (CQL timestamps) and protobuf Timestamps (the contracts).
One name per conversion, used everywhere."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

EPOCH = datetime.fromtimestamp(0, UTC)


def now_ms() -> int:
    return int(time.time() * 1000)


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def datetime_to_ms(value: datetime) -> int:
    return int(utc(value).timestamp() * 1000)


def utc(value: datetime | None) -> datetime:
    """An aware UTC datetime (the CQL driver returns naive UTC ones); the epoch for None."""
    if value is None:
        return EPOCH
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def timestamp_from_ms(ms: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


def timestamp_from_datetime(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(utc(value))
    return stamp
