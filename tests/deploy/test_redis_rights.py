"""The Kubernetes Redis gives the services' login the same rights as the local one
(infra/backends/redis.py SERVICE_RIGHTS), in the base and in every overlay that sets its
arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.backends.redis import SERVICE_RIGHTS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _redis_args(path: Path) -> list[list[str]]:
    found = []
    for doc in yaml.safe_load_all(path.read_text()):
        spec = (doc or {}).get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []):
            if container.get("name") == "redis" and "args" in container:
                found.append([str(a) for a in container["args"]])
    return found


def _user_rule(args: list[str]) -> str:
    start = args.index("--user") + 1
    end = next((i for i in range(start, len(args)) if args[i].startswith("--")), len(args))
    return " ".join(args[start:end])


@pytest.mark.parametrize("path", [DEPLOY / "base" / "backends" / "redis.yaml",
                                  DEPLOY / "overlays" / "dev" / "backends.yaml"],
                         ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_the_redis_login_has_the_service_rights(path: Path) -> None:
    [args] = _redis_args(path)
    assert "--requirepass" not in args
    assert _user_rule(args) == f"default on >$(REDIS_PASSWORD) {SERVICE_RIGHTS}"
