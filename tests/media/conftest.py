"""Fixtures of the media tests: a stub, signed-in users, direct MinIO URLs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from photomesh.media.v1 import media_service_pb2_grpc as media_grpc

from infra.sandbox import Mesh
from tests.helpers import register


@pytest.fixture
def media(channel_to) -> media_grpc.MediaServiceStub:
    return media_grpc.MediaServiceStub(channel_to("media"))


@pytest.fixture
def media_target(mesh: Mesh) -> str:
    return mesh.target("media")


@pytest.fixture
async def user(channel_to) -> str:
    """An access token of a fresh user."""
    return (await register(channel_to("auth"))).tokens.access_token


@pytest.fixture
async def other_user(channel_to) -> str:
    return (await register(channel_to("auth"))).tokens.access_token


@pytest.fixture
def direct(mesh: Mesh) -> Callable[[str], str]:
    """The MinIO URL of a variant URL (edge URL ``<base>/<bucket>/<key>``): the same
    object fetched without the edge."""
    base = f"{mesh.env['PHOTOMESH_MEDIA_PUBLIC_BASE_URL']}/"
    endpoint = f"http://{mesh.env['PHOTOMESH_MINIO_ENDPOINT']}/"

    def to_minio(url: str) -> str:
        assert url.startswith(base), url
        return endpoint + url[len(base):]
    return to_minio
