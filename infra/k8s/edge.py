"""The Envoy edge's files for Kubernetes, rendered for the cluster's Service names.

`render(out)` writes what the edge Deployment mounts from its ConfigMaps
(deploy/base/edge/kustomization.yaml): `envoy.json` (infra/edge.py's bootstrap with every
service at its Service name, resolved by DNS, and MinIO at `minio:9000`), the transcoder's
descriptor set `edge.binpb` (comments dropped), the OpenAPI document and the media route's
Lua. The JWT public key is not in them: Envoy reads it at start from the JWKS file of the
install's `photomesh-jwt-public` ConfigMap (`./photomesh k8s secrets`).

`./photomesh gen` writes them into deploy/base/edge/generated/ and `gen --check` fails when
they are stale. The edge's limits there are EdgeSettings' defaults; a deployment that wants
others renders its own (`PHOTOMESH_EDGE_...=... ./photomesh k8s render-edge --out DIR`)
and swaps the ConfigMap in its overlay.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from infra.contracts import DESCRIPTOR_SET, Contracts
from infra.edge import (
    DEFAULT_MEDIA_BUCKET,
    MEDIA_LUA,
    OPENAPI_DOCUMENT,
    EdgeSettings,
    Upstreams,
    edge_config,
    edge_descriptor,
)
from infra.services import SERVICE_PORTS
from services.processes import INTROSPECTION

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "deploy" / "base" / "edge" / "generated"

#: Where the edge container finds the files (deploy/base/edge/edge.yaml mounts them).
CONFIG_MOUNT = "/etc/envoy"
JWKS_FILE = "/etc/photomesh/jwt-public/jwks.json"
LISTEN_PORT = 8080
ADMIN_PORT = 9901  # loopback only
STATS_PORT = 9464  # /stats/prometheus for the scraper, like every process's metrics port
MINIO = ("minio", 9000)

CONFIG = "envoy.json"
DESCRIPTOR = "edge.binpb"
OPENAPI = "photomesh.openapi.json"
LUA = "media_cache.lua"
FILES = (CONFIG, DESCRIPTOR, OPENAPI, LUA)


class _DefaultEdgeSettings(EdgeSettings):
    """EdgeSettings from its defaults alone: the environment is not read."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings,  # type: ignore[no-untyped-def, override]
                                   **rest):
        return (init_settings,)


def service_name(process: str) -> str:
    """The Kubernetes name of a process (`feed_fanout` -> `feed-fanout`)."""
    return process.replace("_", "-")


def cluster_upstreams(contracts: Contracts) -> Upstreams:
    """Every service with a contract at its Service name and port, MinIO, the bucket, and
    the introspection process (health and reflection of the whole mesh)."""
    names = sorted({s.mesh_name for s in contracts.services})
    return Upstreams({name: [(service_name(name), SERVICE_PORTS[name])] for name in names},
                     MINIO, DEFAULT_MEDIA_BUCKET,
                     [(service_name(INTROSPECTION), SERVICE_PORTS[INTROSPECTION])])


def render(out: Path, *, descriptor_set: Path = DESCRIPTOR_SET,
           openapi: Path = OPENAPI_DOCUMENT, settings: EdgeSettings | None = None,
           mount: str = CONFIG_MOUNT, jwks_file: str = JWKS_FILE) -> list[Path]:
    """Write FILES into `out` (created); returns their paths. `settings` defaults to
    EdgeSettings' defaults, whatever the environment says (the committed files must not
    depend on who generated them); `mount` and `jwks_file` are paths inside the container."""
    out.mkdir(parents=True, exist_ok=True)
    settings = (settings or _DefaultEdgeSettings()).model_copy(update={"stats_port": STATS_PORT})
    contracts = Contracts(descriptor_set)
    edge_descriptor(out / DESCRIPTOR, descriptor_set, source_info=False)
    shutil.copyfile(openapi, out / OPENAPI)
    shutil.copyfile(MEDIA_LUA, out / LUA)
    config = edge_config(
        host="0.0.0.0", port=LISTEN_PORT, admin_host="127.0.0.1", admin_port=ADMIN_PORT,
        upstreams=cluster_upstreams(contracts), jwks_file=jwks_file,
        descriptor=Path(mount) / DESCRIPTOR, openapi=Path(mount) / OPENAPI,
        lua=Path(mount) / LUA, settings=settings, contracts=contracts)
    (out / CONFIG).write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")
    return [out / name for name in FILES]
