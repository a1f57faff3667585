"""Rendering the overlays of deploy/ with kustomize and validating them with kubeconform.

Both tools are pinned and built once with `go install` into the cache
(infra/install.py). kubeconform runs with ``-strict`` against the schemas vendored in
deploy/schemas (infra/k8s/schemas.py) and never fetches any: a kind without a vendored
schema is an error, not a skip.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.k8s import schemas
from infra.settings import InfraSettings

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = REPO / "deploy" / "overlays"


def overlays() -> list[str]:
    """The overlay names (directories of deploy/overlays with a kustomization.yaml)."""
    return sorted(p.parent.name for p in OVERLAYS.glob("*/kustomization.yaml"))


def build(settings: InfraSettings, overlay: str) -> str:
    """`kustomize build` of one overlay: the manifests as one YAML stream."""
    from infra.install import ensure_kustomize

    done = subprocess.run([str(ensure_kustomize(settings)), "build", str(OVERLAYS / overlay)],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"kustomize build {overlay} failed:\n{done.stderr}")
    return done.stdout


def documents(stream: str) -> list[dict[str, Any]]:
    import yaml

    return [doc for doc in yaml.safe_load_all(stream) if doc]


def kinds(docs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(doc["apiVersion"], doc["kind"]) for doc in docs}


@dataclass(frozen=True)
class Validation:
    ok: bool
    output: str


def validate(settings: InfraSettings, stream: str, name: str) -> Validation:
    """kubeconform -strict of one YAML stream, against the vendored schemas only."""
    from infra.install import ensure_kubeconform

    version = schemas.KUBERNETES_VERSION.removeprefix("v")
    with tempfile.TemporaryDirectory(prefix="photomesh-k8s-") as tmp:
        path = Path(tmp) / f"{name}.yaml"
        path.write_text(stream)
        argv = [str(ensure_kubeconform(settings)), "-strict", "-summary", "-output", "text",
                "-kubernetes-version", version]
        for location in schemas.schema_locations():
            argv += ["-schema-location", location]
        done = subprocess.run([*argv, str(path)], capture_output=True, text=True, timeout=300)
    return Validation(done.returncode == 0, (done.stdout + done.stderr).strip())


def secrets_stream() -> str:
    """What `./photomesh k8s secrets` prints (fresh values; only their shape matters here)."""
    from infra.k8s.secrets import render

    return render("photomesh")


def used_kinds(settings: InfraSettings) -> set[tuple[str, str]]:
    """Every (apiVersion, kind) the overlays and the secrets produce."""
    found = kinds(documents(secrets_stream()))
    for overlay in overlays():
        found |= kinds(documents(build(settings, overlay)))
    return found
