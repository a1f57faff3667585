"""The overlays of deploy/, rendered once per session with the pinned kustomize."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from infra.k8s import manifests
from infra.settings import InfraSettings

OVERLAYS = manifests.overlays()


@dataclass(frozen=True)
class Rendered:
    """One overlay's objects."""

    name: str
    stream: str
    docs: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [d for d in self.of_kind(kind) if d["metadata"]["name"] == name]
        assert found, f"{self.name}: no {kind} {name}"
        return found[0]

    @property
    def configmaps(self) -> dict[str, Mapping[str, str]]:
        return {d["metadata"]["name"]: d.get("data", {}) for d in self.of_kind("ConfigMap")}

    def workloads(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(object, pod spec) of every Deployment, StatefulSet and Job."""
        for doc in self.docs:
            if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
                yield doc, doc["spec"]["template"]["spec"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "overlay" in metafunc.fixturenames:
        metafunc.parametrize("overlay", OVERLAYS, indirect=True)


@pytest.fixture(scope="session")
def k8s_tools(infra_settings: InfraSettings) -> InfraSettings:
    """kustomize and kubeconform, built before any test times out waiting for them."""
    from infra.install import ensure_kubeconform, ensure_kustomize

    ensure_kustomize(infra_settings)
    ensure_kubeconform(infra_settings)
    return infra_settings


@pytest.fixture(scope="session")
def rendered_overlays(k8s_tools: InfraSettings) -> dict[str, Rendered]:
    out = {}
    for name in OVERLAYS:
        stream = manifests.build(k8s_tools, name)
        out[name] = Rendered(name, stream, manifests.documents(stream))
    return out


@pytest.fixture
def overlay(request: pytest.FixtureRequest, rendered_overlays: dict[str, Rendered]) -> Rendered:
    return rendered_overlays[request.param]
