"""Each process signs service tokens with a key of its own, and verifiers hold only public
keys: a token signed with the media worker's key cannot act as the auth service."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from grpc import aio
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as ggrpc

from infra import services as mesh_services
from infra.sandbox import Mesh
from services.runtime.auth import ServiceCredentials
from tests.helpers import bearer, error_info, new_username


def _credentials(mesh: Mesh, key_of: str, name: str) -> ServiceCredentials:
    return ServiceCredentials.load(name, mesh_services.service_key_path(mesh.settings, key_of))


async def test_a_worker_key_cannot_act_as_the_auth_service(mesh: Mesh, channel_to) -> None:
    graph = ggrpc.SocialGraphServiceStub(channel_to("graph"))

    def create(credentials: ServiceCredentials):  # type: ignore[no-untyped-def]
        return graph.CreateProfile(gpb.CreateProfileRequest(
            user_id=str(uuid.uuid4()), username=new_username("forge"), display_name="x"),
            metadata=bearer(credentials.principal().token), timeout=10)

    # The media worker's own key, claiming to be auth: refused (checked with auth's key).
    with pytest.raises(aio.AioRpcError) as forged:
        await create(_credentials(mesh, "media_worker", "auth"))
    assert forged.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(forged.value).reason == "TOKEN_INVALID"
    # As itself it is a known service, but CreateProfile is for auth only.
    with pytest.raises(aio.AioRpcError) as itself:
        await create(_credentials(mesh, "media_worker", "media_worker"))
    assert itself.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # The auth service's own key works.
    await create(_credentials(mesh, "auth", "auth"))


def test_each_process_gets_only_its_own_private_key(mesh: Mesh) -> None:
    env = {name: mesh_services.service_env(mesh.settings, service=name)
           for name in mesh_services.SERVICES}
    keys = {name: e["PHOTOMESH_JWT_SERVICE_KEY_PATH"] for name, e in env.items()}
    assert len(set(keys.values())) == len(keys)  # one key per process, none shared
    for name, path in keys.items():
        assert path == str(mesh_services.service_key_path(mesh.settings, name))
        assert "PHOTOMESH_AUTH_PRIVATE_KEY_PATH" not in env[name] or name == "auth"
    # The verifiers' file holds public keys only.
    text = Path(env["post"]["PHOTOMESH_JWT_SERVICE_PUBLIC_KEYS_PATH"]).read_text()
    assert "PRIVATE" not in text and "PUBLIC KEY" in text
    publics = json.loads(text)
    for name, path in keys.items():
        key = serialization.load_pem_private_key(Path(path).read_bytes(), None)
        public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        assert publics[name] == public.decode(), name
    # The edge's environment (what a client-facing process sees) holds no service key.
    assert "PHOTOMESH_JWT_SERVICE_KEY_PATH" not in mesh.env
