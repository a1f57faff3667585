"""Every overlay renders with kustomize and passes kubeconform -strict against the vendored
schemas (Kubernetes' kinds and the CRDs used), as does the output of `k8s secrets`."""

from __future__ import annotations

import copy

import yaml

from infra.k8s import manifests, schemas
from infra.k8s.secrets import OPTIONAL_SECRET_KEYS, SECRET_KEYS, install_objects
from tests.deploy.conftest import OVERLAYS, Rendered


def test_there_are_dev_and_prod_overlays() -> None:
    assert {"dev", "prod"} <= set(OVERLAYS)


def test_the_overlay_is_valid_for_kubeconform_strict(overlay: Rendered, k8s_tools) -> None:
    result = manifests.validate(k8s_tools, overlay.stream, overlay.name)
    assert result.ok, result.output
    assert "Invalid: 0, Errors: 0, Skipped: 0" in result.output


def test_the_secrets_of_an_install_are_valid(k8s_tools) -> None:
    result = manifests.validate(k8s_tools, manifests.secrets_stream(), "secrets")
    assert result.ok, result.output


def test_validation_rejects_unknown_fields_and_wrong_types(rendered_overlays,
                                                           k8s_tools) -> None:
    """The schemas are strict for built-in kinds and for the ScyllaCluster CRD alike."""
    base = rendered_overlays["prod"].docs

    def invalid(mutate) -> str:  # type: ignore[no-untyped-def]
        docs = copy.deepcopy(base)
        for doc in docs:
            mutate(doc)
        result = manifests.validate(k8s_tools, yaml.safe_dump_all(docs), "mutated")
        assert not result.ok
        return result.output

    def container_typo(doc: dict) -> None:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "post":
            doc["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}

    def rack_typo(doc: dict) -> None:
        if doc["kind"] == "ScyllaCluster":
            doc["spec"]["datacenter"]["racks"][0]["memberz"] = 3

    def rack_type(doc: dict) -> None:
        if doc["kind"] == "ScyllaCluster":
            doc["spec"]["datacenter"]["racks"][0]["members"] = "three"

    assert "'livenesProbe' not allowed" in invalid(container_typo)
    assert "'memberz' not allowed" in invalid(rack_typo)
    assert "want integer" in invalid(rack_type)


def test_vendored_schemas_are_exactly_the_kinds_in_use(rendered_overlays) -> None:
    used = set(manifests.kinds(manifests.documents(manifests.secrets_stream())))
    for rendered in rendered_overlays.values():
        used |= manifests.kinds(rendered.docs)
    expected = {schemas.kind_file(*kind) for kind in used}
    vendored = set(schemas.SCHEMAS.rglob("*.json"))
    assert vendored == expected, (
        f"missing: {sorted(map(str, expected - vendored))}, unused: "
        f"{sorted(map(str, vendored - expected))}; run `./photomesh k8s schemas`")
    assert ("scylla.scylladb.com/v1", "ScyllaCluster") in used


def test_the_secrets_command_makes_every_secret_the_manifests_refer_to(overlay) -> None:
    made = {o["metadata"]["name"]: set(o.get("data", {})) for o in install_objects()}
    assert set(SECRET_KEYS) | {"photomesh-jwt-public"} == set(made)
    referred: set[tuple[str, str, bool]] = set()
    for _, pod in overlay.workloads():
        for container in pod.get("initContainers", []) + pod["containers"]:
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referred.add((ref["name"], ref["key"], bool(ref.get("optional"))))
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                referred.add((volume["secret"]["secretName"], "*", False))
            if "configMap" in volume and not volume["configMap"]["name"].startswith(
                    ("settings-", "edge-", "nats-config")):
                assert volume["configMap"]["name"] in made
    for name, key, optional in referred:
        if optional:
            assert key in OPTIONAL_SECRET_KEYS[name], (name, key)
        else:
            assert name in made and (key == "*" or key in made[name]), (name, key)


def test_each_install_gets_new_secret_values() -> None:
    first, second = install_objects(), install_objects()
    for a, b in zip(first, second, strict=True):
        assert a["metadata"]["name"] == b["metadata"]["name"]
        for key in a.get("data", {}):
            assert a["data"][key] != b["data"][key], (a["metadata"]["name"], key)


def test_every_object_fits_in_the_api_server(overlay: Rendered) -> None:
    """etcd keeps objects up to 1.5 MiB; ConfigMaps are limited to 1 MiB of data."""
    for doc in overlay.docs:
        size = len(yaml.safe_dump(doc))
        assert size < 900 * 1024, f"{doc['kind']} {doc['metadata']['name']}: {size} bytes"
