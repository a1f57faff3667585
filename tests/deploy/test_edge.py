"""The edge in the cluster: Envoy's generated config routes to the overlay's Services,
reads the files its Deployment mounts, and Envoy itself accepts it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from infra.edge import DEFAULT_MEDIA_BUCKET
from infra.k8s import edge as k8s_edge
from infra.k8s.secrets import install_objects
from tests.deploy.conftest import Rendered


def _config(overlay: Rendered) -> dict:
    name = next(n for n in overlay.configmaps if n.startswith("edge-config-"))
    return json.loads(overlay.configmaps[name][k8s_edge.CONFIG])


def test_every_upstream_is_a_service_of_the_overlay(overlay: Rendered) -> None:
    services = {s["metadata"]["name"]: {p["port"] for p in s["spec"]["ports"]}
                for s in overlay.of_kind("Service")}
    clusters = _config(overlay)["static_resources"]["clusters"]
    # Every upstream but the admin listener on the pod's own loopback (stats for the scraper).
    upstreams = [c for c in clusters if c["load_assignment"]["endpoints"]
                 and c["name"] != "envoy_admin"]
    assert {c["name"] for c in upstreams} >= {"svc_auth", "svc_post", "svc_feed", "minio"}
    for cluster in upstreams:
        assert cluster["type"] == "STRICT_DNS"
        for endpoint in cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]:
            address = endpoint["endpoint"]["address"]["socket_address"]
            assert address["port_value"] in services.get(address["address"], set()), address


def test_the_edge_reads_what_its_deployment_mounts(overlay: Rendered) -> None:
    config = _config(overlay)
    pod = overlay.get("Deployment", "edge")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert container["args"][:2] == ["--config-path", f"{mounts['envoy']}/{k8s_edge.CONFIG}"]
    text = json.dumps(config)
    for name in (k8s_edge.DESCRIPTOR, k8s_edge.OPENAPI, k8s_edge.LUA):
        assert f"{k8s_edge.CONFIG_MOUNT}/{name}" in text
    assert mounts["envoy"] == k8s_edge.CONFIG_MOUNT
    assert k8s_edge.JWKS_FILE.startswith(mounts["jwt-public"] + "/")
    assert f'"filename": "{k8s_edge.JWKS_FILE}"' in text
    jwt_public = next(v for v in pod["volumes"] if v["name"] == "jwt-public")
    made = {o["metadata"]["name"]: o for o in install_objects()}
    assert Path(k8s_edge.JWKS_FILE).name in made[jwt_public["configMap"]["name"]]["data"]
    # Both ConfigMaps it needs are projected into one directory.
    sources = {s["configMap"]["name"].rsplit("-", 1)[0]
               for v in pod["volumes"] if v["name"] == "envoy"
               for s in v["projected"]["sources"]}
    assert sources == {"edge-config", "edge-contracts"}
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"


def test_the_media_route_serves_the_bucket_the_services_use(overlay: Rendered) -> None:
    minio = overlay.configmaps[next(n for n in overlay.configmaps
                                    if n.startswith("settings-minio-"))]
    assert minio["PHOTOMESH_MINIO_BUCKET"] == DEFAULT_MEDIA_BUCKET
    config = _config(overlay)
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    routes = hcm["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    media = next(r for r in routes if r.get("name") == "media")
    regex = media["match"]["safe_regex"]["regex"]
    assert re.fullmatch(regex, f"/media/{DEFAULT_MEDIA_BUCKET}/m/id/v1/small.webp")
    assert not re.fullmatch(regex, f"/media/{DEFAULT_MEDIA_BUCKET}/uploads/id")


def test_envoy_accepts_the_cluster_config(tmp_path: Path) -> None:
    """The same rendering with the mounts pointed at a local directory, checked by
    `envoy --mode validate` (every filter's config; names are not resolved)."""
    objects = {o["metadata"]["name"]: o for o in install_objects()}
    (tmp_path / "jwks.json").write_text(objects["photomesh-jwt-public"]["data"]["jwks.json"])
    k8s_edge.render(tmp_path, mount=str(tmp_path), jwks_file=str(tmp_path / "jwks.json"))
    envoy = Path(sys.executable).parent / "envoy"
    done = subprocess.run([str(envoy), "--mode", "validate", "--config-path",
                           str(tmp_path / k8s_edge.CONFIG), "--disable-hot-restart",
                           "--log-level", "error"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((tmp_path / "jwks.json").read_text())["keys"][0]["crv"] == "Ed25519"


def test_the_committed_files_are_what_render_makes(tmp_path: Path) -> None:
    k8s_edge.render(tmp_path)
    for name in k8s_edge.FILES:
        assert (tmp_path / name).read_bytes() == (k8s_edge.GENERATED / name).read_bytes(), \
            f"deploy/base/edge/generated/{name} is stale: run `./photomesh gen`"


def test_envoy_stats_are_served_where_the_pod_says(overlay: Rendered) -> None:
    config = _config(overlay)
    pod = overlay.get("Deployment", "edge")["spec"]["template"]
    annotations = pod["metadata"]["annotations"]
    stats = next(listener for listener in config["static_resources"]["listeners"]
                 if listener["name"] == "stats")
    port = stats["address"]["socket_address"]["port_value"]
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/stats/prometheus"
    assert {"name": "metrics", "containerPort": port} in pod["spec"]["containers"][0]["ports"]
