"""The settings the services read are exactly those the manifests set.

What a process reads is worked out from the code (infra/k8s/env_contract.py: its settings
classes, its Needs, every `load(...)` in the modules it imports); what a container is given
is read from the rendered overlay (its `env` and the keys of the ConfigMaps it takes). A
setting added to the code fails here until the manifests set it, with the place to set it
in the message; a variable the code no longer reads fails until it is removed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from infra.k8s import env_contract
from infra.k8s.env_contract import Given, Setting, container_env, process_of, reads
from tests.deploy.conftest import Rendered

REPO = Path(__file__).resolve().parents[2]
SECRET_VAR = re.compile(r"\$\(([A-Z_][A-Z0-9_]*)\)")


def _containers(overlay: Rendered):  # type: ignore[no-untyped-def]
    """(workload name, container, process) of every container that runs a process."""
    for doc, pod in overlay.workloads():
        for container in pod.get("initContainers", []) + pod["containers"]:
            process = process_of(container)
            if process is not None:
                yield doc["metadata"]["name"], container, process


def _origin(given: Given, workload: str) -> str:
    """Where in deploy/ a variable a container is given comes from."""
    if given.source.startswith("configmap:settings-"):
        stem = given.source.removeprefix("configmap:settings-").rsplit("-", 1)[0]
        return f"deploy/base/settings/{stem}.env (or an overlay's configMapGenerator)"
    return f"the `env` of {workload}'s container in deploy/"


def _photomesh(given: dict[str, Given]) -> dict[str, Given]:
    return {k: v for k, v in given.items() if k.startswith("PHOTOMESH_")}


def test_every_process_runs_somewhere(overlay: Rendered) -> None:
    running = {process for _, _, process in _containers(overlay)}
    assert running == set(env_contract.PROCESSES)


def test_each_container_is_given_exactly_what_its_process_reads(overlay: Rendered) -> None:
    problems = []
    for workload, container, process in _containers(overlay):
        read = reads(process)
        given = _photomesh(container_env(container, overlay.configmaps))
        where = f"{overlay.name}: {workload}/{container['name']} (python -m " \
                f"{env_contract.PROCESSES[process]})"
        for name in sorted(read.keys() - given.keys()):
            problems.append(f"{where} reads {name} ({read[name].cls.__name__}."
                            f"{read[name].field}) but is not given it: set it "
                            f"{env_contract.where_to_set(read[name], process)}")
        for name in sorted(given.keys() - read.keys()):
            problems.append(f"{where} is given {name} but its code never reads it: remove "
                            f"it from {_origin(given[name], workload)}")
    assert not problems, "\n".join(problems)


def test_secrets_come_from_secrets(overlay: Rendered) -> None:
    problems = []
    for workload, container, process in _containers(overlay):
        given = container_env(container, overlay.configmaps)
        for setting in reads(process).values():
            source = given[setting.env]
            if setting.secret and not source.source.startswith("secret:"):
                problems.append(f"{workload}: {setting.env} is a secret but comes from "
                                f"{source.source}")
            # A URL with a password takes it from a variable that comes from a Secret.
            for var in SECRET_VAR.findall(source.value or ""):
                if not given[var].source.startswith("secret:"):
                    problems.append(f"{workload}: {setting.env} uses $({var}), which is not "
                                    f"from a Secret")
        for name in ("PHOTOMESH_REDIS_URL", "PHOTOMESH_NATS_URL"):
            if name in given:
                assert SECRET_VAR.search(given[name].value or ""), \
                    f"{workload}: {name} carries no password from a Secret"
    assert not problems, "\n".join(problems)


def _env_for_validation(container: dict, overlay: Rendered) -> dict[str, str]:
    """The container's variables with stand-ins for what Kubernetes fills in."""
    given = container_env(container, overlay.configmaps)
    values = {k: (g.value if g.value is not None else "stand-in-secret-value-0123456789")
              for k, g in given.items()}
    return {k: SECRET_VAR.sub(lambda m: values[m.group(1)], v) for k, v in values.items()}


def test_every_value_is_valid_for_its_settings_class(overlay: Rendered,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for workload, container, process in _containers(overlay):
        env = _env_for_validation(container, overlay)
        with monkeypatch.context() as patch:
            for key in list(__import__("os").environ):
                if key.startswith("PHOTOMESH_"):
                    patch.delenv(key)
            for key, value in env.items():
                patch.setenv(key, value)
            own, classes = env_contract.classes_read(process)
            for cls in classes:
                try:
                    cls()
                except Exception as exc:  # pydantic names each bad variable
                    pytest.fail(f"{overlay.name} {workload}/{container['name']}: "
                                f"{cls.__name__}: {exc}")


def test_paths_in_settings_are_mounted(overlay: Rendered) -> None:
    for workload, container, _ in _containers(overlay):
        mounts = [m["mountPath"] for m in container.get("volumeMounts", [])]
        for name, given in container_env(container, overlay.configmaps).items():
            if name.endswith("_PATH") and given.value:
                assert any(given.value.startswith(m + "/") for m in mounts), \
                    f"{workload}: {name}={given.value} is not under a volume mount"


def test_the_code_analysis_sees_what_each_process_loads() -> None:
    """Guards the analysis itself against finding nothing."""
    post, graph, fanout = reads("post"), reads("graph"), reads("feed_fanout")
    assert {"PHOTOMESH_SNOWFLAKE_WORKER_ID", "PHOTOMESH_GRAPH_TARGET", "PHOTOMESH_POST_PORT",
            "PHOTOMESH_NATS_URL", "PHOTOMESH_JWT_PUBLIC_KEY_PATH"} <= post.keys()
    assert "PHOTOMESH_MINIO_ENDPOINT" not in post and "PHOTOMESH_MINIO_ENDPOINT" not in graph
    assert "PHOTOMESH_FEED_CELEBRITY_THRESHOLD" in fanout  # loads FeedSettings ...
    assert "PHOTOMESH_FEED_PORT" not in fanout  # ... but not the feed server's own fields
    assert "PHOTOMESH_FEED_FANOUT_PORT" in fanout
    worker = reads("media_worker")
    assert {"PHOTOMESH_MEDIA_WORKER_PORT", "PHOTOMESH_MEDIA_FFMPEG_THREADS"} <= worker.keys()
    assert "PHOTOMESH_MEDIA_PORT" not in worker
    assert set(reads("migrations")) == {n for n in post if n.startswith("PHOTOMESH_CQL_")}
    assert isinstance(post["PHOTOMESH_JWT_SERVICE_KEY_PATH"], Setting)
    assert not post["PHOTOMESH_JWT_SERVICE_KEY_PATH"].secret  # a path to a mounted Secret


def test_services_read_the_environment_only_through_settings_classes() -> None:
    """No `os.environ[...]`/`os.getenv(...)` in services/: what they read is all in the
    settings classes, which is what the comparison above relies on."""
    offenders = []
    for path in (REPO / "services").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") \
                    and isinstance(node.value, ast.Name) and node.value.id == "os":
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, f"read settings through a settings class instead: {offenders}"
