"""Request ids of what the seed creates: uuid5 of what is created, so a retry or a rerun
presents the same id (AIP-155 idempotency) and never makes a second one."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("6f1d3c2e-9b8a-4f7e-8d21-5e0c7a9b4d10")


def request_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))
