"""photomesh's Python client: the generated stubs (`photomesh.<service>.v1`) called through
channels that carry the caller's token, a default deadline and retries of reads, with
typed errors and page iterators. See docs/client.md.

This package is hand-written and lives beside the generated `photomesh` package (which
`./photomesh gen` owns whole), so regenerating never touches it and no proto package
(`photomesh.<name>.v1`) can ever collide with it.
"""

from photomesh_client.client import Client, StubFactory
from photomesh_client.contracts import is_read, read_methods, service_of
from photomesh_client.errors import (
    Aborted,
    AlreadyExists,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    PhotomeshError,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
    error_from,
)
from photomesh_client.pages import items, pages
from photomesh_client.service_config import RetryPolicy, service_config
from photomesh_client.targets import Targets
from photomesh_client.tokens import Session, TokenProvider

__all__ = [
    "Aborted", "AlreadyExists", "Cancelled", "Client", "DataLoss", "DeadlineExceeded",
    "FailedPrecondition", "FieldViolation", "Internal", "InvalidArgument", "NotFound",
    "OutOfRange", "PermissionDenied", "PhotomeshError", "ResourceExhausted", "RetryPolicy",
    "Session", "StubFactory", "Targets", "TokenProvider", "Unauthenticated", "Unavailable",
    "Unimplemented", "Unknown", "error_from", "is_read", "items", "pages", "read_methods",
    "service_config", "service_of",
]
