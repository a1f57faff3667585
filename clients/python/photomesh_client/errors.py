"""Typed errors from a failed call's `google.rpc.Status` (AIP-193).

photomesh answers every error with a gRPC status and, in the ``grpc-status-details-bin``
trailer, a `google.rpc.Status` holding one `ErrorInfo` (an UPPER_SNAKE `reason`, a `domain`
such as ``post.photomesh``, `metadata`), for bad input a `BadRequest` (one violation per
field) and, when waiting helps, a `RetryInfo`. `error_from` reads them into a
`PhotomeshError` of the subclass of its gRPC code, so a caller acts on `reason` or catches
`NotFound`, without parsing text. The Client raises these itself.

`PhotomeshError` is an `grpc.aio.AioRpcError`: code that catches that keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc import aio

DETAILS_KEY = "grpc-status-details-bin"
RETRY_AFTER_KEY = "retry-after"  # the edge's rate limit (seconds), when no RetryInfo

MetadataLike = Sequence[tuple[str, str | bytes]] | aio.Metadata | None


@dataclass(frozen=True)
class FieldViolation:
    """One bad request field: `field` is its path (``caption``, ``media_ids[3]``)."""

    field: str
    description: str
    reason: str = ""


class PhotomeshError(aio.AioRpcError):
    """A failed photomesh call, with what its `google.rpc.Status` details say.

    `code()` and `details()` are the gRPC status; `message` is the same text;
    `reason`, `domain`, `metadata` come from the ErrorInfo ("" and {} without one);
    `field_violations` from BadRequest; `retry_after` (seconds) from RetryInfo or the
    edge's ``retry-after``; `status` is the whole `google.rpc.Status`, if sent."""

    def __init__(self, code: grpc.StatusCode, message: str, *,
                 initial_metadata: aio.Metadata | None = None,
                 trailing_metadata: aio.Metadata | None = None,
                 status: status_pb2.Status | None = None,
                 debug_error_string: str | None = None) -> None:
        super().__init__(code, initial_metadata or aio.Metadata(),
                         trailing_metadata or aio.Metadata(), message, debug_error_string)
        self.message = message
        self.status = status
        info, bad, retry = _details(status)
        self.reason = info.reason if info else ""
        self.domain = info.domain if info else ""
        self.metadata: Mapping[str, str] = MappingProxyType(dict(info.metadata) if info else {})
        self.field_violations: tuple[FieldViolation, ...] = tuple(
            FieldViolation(v.field, v.description, v.reason)
            for v in (bad.field_violations if bad else ()))
        self.retry_after: float | None = (
            retry.retry_delay.ToNanoseconds() / 1e9 if retry is not None
            else _retry_after_header(initial_metadata, trailing_metadata))

    def __str__(self) -> str:
        where = f" ({self.domain})" if self.domain else ""
        reason = f" {self.reason}" if self.reason else ""
        return f"{self.code().name}{reason}{where}: {self.message}"

    __repr__ = __str__


class Cancelled(PhotomeshError):
    """CANCELLED: the call was cancelled, usually by the caller."""


class Unknown(PhotomeshError):
    """UNKNOWN: photomesh never answers this on purpose; a proxy or a bug did."""


class InvalidArgument(PhotomeshError):
    """INVALID_ARGUMENT: see `field_violations`; do not retry unchanged."""


class DeadlineExceeded(PhotomeshError):
    """DEADLINE_EXCEEDED: the call's deadline passed."""


class NotFound(PhotomeshError):
    """NOT_FOUND: the resource does not exist (or is hidden from the caller)."""


class AlreadyExists(PhotomeshError):
    """ALREADY_EXISTS: e.g. REQUEST_ID_REUSED, USERNAME_TAKEN."""


class PermissionDenied(PhotomeshError):
    """PERMISSION_DENIED: the caller may not do this."""


class ResourceExhausted(PhotomeshError):
    """RESOURCE_EXHAUSTED: rate limited; wait `retry_after` seconds."""


class FailedPrecondition(PhotomeshError):
    """FAILED_PRECONDITION: the resource is not in a state that allows this yet."""


class Aborted(PhotomeshError):
    """ABORTED: a concurrent change won; retry the whole operation."""


class OutOfRange(PhotomeshError):
    """OUT_OF_RANGE."""


class Unimplemented(PhotomeshError):
    """UNIMPLEMENTED: the server does not offer this RPC."""


class Internal(PhotomeshError):
    """INTERNAL: a bug on the server side (it is logged there)."""


class Unavailable(PhotomeshError):
    """UNAVAILABLE: transient; reads were already retried, retry writes with their
    request_id."""


class DataLoss(PhotomeshError):
    """DATA_LOSS."""


class Unauthenticated(PhotomeshError):
    """UNAUTHENTICATED: no, a bad or an expired token (reason TOKEN_*)."""


ERROR_TYPES: Mapping[grpc.StatusCode, type[PhotomeshError]] = MappingProxyType({
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.UNKNOWN: Unknown,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRange,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.INTERNAL: Internal,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DATA_LOSS: DataLoss,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
})


class FailedCall(Protocol):
    """What both `grpc.aio.AioRpcError` and a failed sync `grpc.Call` offer."""

    def code(self) -> grpc.StatusCode: ...
    def details(self) -> str | None: ...
    def initial_metadata(self) -> MetadataLike: ...
    def trailing_metadata(self) -> MetadataLike: ...


def error_from(error: FailedCall) -> PhotomeshError:
    """The typed error for a failed call (an `AioRpcError`, or a sync `grpc.RpcError`)."""
    if isinstance(error, PhotomeshError):
        return error
    initial = _metadata(error.initial_metadata())
    trailing = _metadata(error.trailing_metadata())
    code = error.code()
    kind = ERROR_TYPES.get(code, PhotomeshError)
    debug = getattr(error, "debug_error_string", None)
    return kind(code, error.details() or "", initial_metadata=initial,
                trailing_metadata=trailing, status=_status(trailing),
                debug_error_string=debug() if callable(debug) else None)


def _metadata(metadata: MetadataLike) -> aio.Metadata:
    if isinstance(metadata, aio.Metadata):
        return metadata
    return aio.Metadata(*(metadata or ()))


def _status(trailing: aio.Metadata) -> status_pb2.Status | None:
    """The `google.rpc.Status` of the trailer; None if absent or unreadable (a proxy's
    own error has none, and a bad one must not hide the gRPC status)."""
    raw = trailing.get(DETAILS_KEY)
    if not isinstance(raw, bytes):
        return None
    try:
        return status_pb2.Status.FromString(raw)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError; keep the plain status
        return None


def _details(status: status_pb2.Status | None
             ) -> tuple[error_details_pb2.ErrorInfo | None, error_details_pb2.BadRequest | None,
                        error_details_pb2.RetryInfo | None]:
    info = bad = retry = None
    for detail in status.details if status is not None else ():
        if info is None and detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif bad is None and detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
        elif retry is None and detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
    return info, bad, retry


def _retry_after_header(*metadata: aio.Metadata | None) -> float | None:
    for entries in metadata:
        value = entries.get(RETRY_AFTER_KEY) if entries is not None else None
        if value is None:
            continue
        try:
            return float(value.decode() if isinstance(value, bytes) else value)
        except ValueError:
            return None
    return None
