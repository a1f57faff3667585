"""The upload key: the MinIO user whose keys sign the upload URLs clients are given.

A URL shows its access key to whoever holds it, and a leaked signing key signs anything
its user may do: so this user may do one thing only, PutObject under ``uploads/``. It can
neither read, stat, list nor delete, nor write renditions (``m/``). The media service makes
(or brings back) the user and its policy at start-up with the services' MinIO user,
through MinIO's admin API; idempotent, so every replica and every test run may do it.

The policy names the uploads prefix of every bucket (``*/uploads/*``), not one bucket: one
MinIO serves one install, whose test runs and benchmarks each use a bucket of their own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from services.media.objects import UPLOAD_PREFIX
from services.runtime.settings import MinioSettings

POLICY_NAME = "photomesh-upload"


def upload_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject"],
                       "Resource": [f"arn:aws:s3:::*/{UPLOAD_PREFIX}*"]}],
    }


def _ensure(settings: MinioSettings) -> None:
    from minio import MinioAdmin
    from minio.credentials import StaticProvider

    admin = MinioAdmin(endpoint=settings.endpoint, secure=settings.secure,
                       credentials=StaticProvider(settings.access_key, settings.secret_key))
    admin.policy_add(POLICY_NAME, policy=upload_policy())
    admin.user_add(settings.upload_access_key, settings.upload_secret_key)
    admin.policy_set(POLICY_NAME, user=settings.upload_access_key)


async def ensure_upload_key(settings: MinioSettings) -> None:
    """The upload user with the key of `settings`, allowed PutObject under uploads/ only."""
    if settings.upload_access_key == settings.access_key:
        raise ValueError("PHOTOMESH_MINIO_UPLOAD_ACCESS_KEY must be a user of its own, not "
                         "the services' (PHOTOMESH_MINIO_ACCESS_KEY)")
    await asyncio.to_thread(_ensure, settings)
