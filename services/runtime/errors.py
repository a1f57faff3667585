"""Domain errors and their gRPC form.

Domain code raises these (never grpc types); the error interceptor turns each into a
`google.rpc.Status` with one `ErrorInfo` (UPPER_SNAKE reason, ``<service>.photomesh``
domain, metadata) plus, for bad input, a `BadRequest` listing each field violation.
Failures of a backend (CQL, Redis, NATS, MinIO) become UNAVAILABLE, so clients retry;
anything else is INTERNAL, logged with its trace — never UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: `field` is its path in the request (``caption``, ``media_ids[3]``)."""

    field: str
    description: str


@dataclass
class DomainError(Exception):
    """Base of every error a service reports to its caller on purpose."""

    message: str
    reason: str = "ERROR"
    metadata: Mapping[str, str] = field(default_factory=dict)
    domain: str | None = None  # filled in by the interceptor from the service name

    code = grpc.StatusCode.INTERNAL

    def __post_init__(self) -> None:
        super().__init__(self.message)


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, violations: Sequence[FieldViolation] | FieldViolation,
                 message: str | None = None, reason: str = "INVALID_ARGUMENT") -> None:
        self.violations = [violations] if isinstance(violations, FieldViolation) else list(
            violations)
        text = message or "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(text, reason)


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(DomainError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE


class Unimplemented(DomainError):
    code = grpc.StatusCode.UNIMPLEMENTED


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def to_status(error: DomainError, domain: str) -> status_pb2.Status:
    """The `google.rpc.Status` for a domain error."""
    info = error_details_pb2.ErrorInfo(
        reason=error.reason, domain=error.domain or domain,
        metadata={k: str(v) for k, v in error.metadata.items()},
    )
    details = [_pack(info)]
    if isinstance(error, InvalidArgument) and error.violations:
        bad = error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in error.violations
        ])
        details.append(_pack(bad))
    retry_after = error.metadata.get("retry_after_seconds")
    if retry_after is not None:
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromMilliseconds(int(float(retry_after) * 1000))
        details.append(_pack(retry))
    return status_pb2.Status(code=error.code.value[0], message=error.message, details=details)


def backend_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean a backend is down or overloaded: answered as UNAVAILABLE."""
    import asyncio

    from cassandra import OperationTimedOut, ReadTimeout, WriteTimeout
    from cassandra import Unavailable as CqlUnavailable
    from cassandra.cluster import NoHostAvailable
    from minio.error import ServerError as MinioServerError
    from nats.errors import Error as NatsError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from urllib3.exceptions import MaxRetryError, ProtocolError
    from urllib3.exceptions import TimeoutError as HttpTimeoutError

    return (NoHostAvailable, OperationTimedOut, ReadTimeout, WriteTimeout, CqlUnavailable,
            RedisConnectionError, RedisTimeoutError, NatsError,
            # MinIO (its SDK speaks HTTP through urllib3, which retries before giving up)
            MaxRetryError, ProtocolError, HttpTimeoutError, MinioServerError,
            asyncio.TimeoutError, ConnectionError)

