"""Callers without a token are limited per client address at the edge: a flood of sign-ins
from one address gets 429 while the account's owner, elsewhere, still signs in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.backends.envoy import EnvoyBackend, private_edge
from infra.edge import EdgeSettings
from infra.sandbox import Mesh
from infra.settings import InfraSettings
from tests.edge.conftest import PASSWORD, Account, make_account
from tests.edge.http import request

BURST = 5
STRANGER, OWNER = "127.0.0.7", "127.0.0.8"


@pytest.fixture(scope="module")
def small_edge(mesh: Mesh, backends: InfraSettings, test_run_dir: Path
               ) -> Iterator[EnvoyBackend]:
    """An edge of its own whose anonymous bucket is small (and refills slowly)."""
    settings = backends.model_copy(update={"run_dir": test_run_dir / "small-edge"})
    limits = EdgeSettings(anonymous_rate_limit_requests=BURST, anonymous_rate_limit_burst=BURST,
                          anonymous_rate_limit_interval_seconds=60,
                          media_rate_limit_requests=BURST, media_rate_limit_burst=BURST)
    with private_edge(settings, mesh.env, limits) as envoy:
        yield envoy


def _login(edge: EnvoyBackend, username: str, password: str, source: str) -> int:
    return request(edge.settings.envoy_port, "POST", "/v1/auth:login",
                   {"username": username, "password": password}, source=source).status


def test_a_flood_of_anonymous_logins_is_limited_without_locking_out_the_owner(
        small_edge: EnvoyBackend, edge: EnvoyBackend) -> None:
    owner: Account = make_account(edge)
    statuses = [_login(small_edge, owner.username, f"guess-{i}-wrong", STRANGER)
                for i in range(BURST * 3)]
    assert statuses[:BURST] == [401] * BURST  # wrong passwords, answered by auth
    assert set(statuses[BURST:]) == {429}     # then the stranger's address is cut off
    reply = request(small_edge.settings.envoy_port, "POST", "/v1/auth:login",
                    {"username": owner.username, "password": "x" * 9}, source=STRANGER)
    assert reply.status == 429 and reply.headers["retry-after"] == "60"
    # The owner, at another address, signs in at once.
    assert _login(small_edge, owner.username, PASSWORD, OWNER) == 200
    # Sign-ups and refreshes from the flooding address are limited the same way.
    assert request(small_edge.settings.envoy_port, "POST", "/v1/auth:register",
                   {"requestId": "flood-register-1", "username": "flooder",
                    "password": PASSWORD}, source=STRANGER).status == 429


def test_media_reads_are_limited_per_address(small_edge: EnvoyBackend, mesh: Mesh) -> None:
    path = f"/media/{mesh.env['PHOTOMESH_MINIO_BUCKET']}/m/missing/v1/small.webp"
    statuses = [request(small_edge.settings.envoy_port, "GET", path, source=STRANGER).status
                for _ in range(BURST + 2)]
    assert 429 not in statuses[:BURST] and statuses[-1] == 429
    assert request(small_edge.settings.envoy_port, "GET", path, source=OWNER).status != 429


def test_admin_listens_on_loopback_only(small_edge: EnvoyBackend) -> None:
    import json

    config = json.loads(small_edge.config_path.read_text())
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
