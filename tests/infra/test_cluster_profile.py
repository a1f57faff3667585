"""The cluster profile's layout (infra/cluster.py), without starting it: what each node is
told, and that none of it lands on the shared single-node backends. The profile itself runs
in `./photomesh test-cluster` (tests/cluster)."""

from __future__ import annotations

import json
from pathlib import Path

from infra.cluster import ClusterSettings, LocalCluster
from infra.settings import InfraSettings
from services.runtime.events import server_urls
from services.runtime.settings import CqlSettings, NatsSettings

RUN = Path("/nonexistent/photomesh-cluster")


def profile() -> LocalCluster:
    return LocalCluster(ClusterSettings(run_dir=RUN), InfraSettings())


def test_services_get_the_cluster_form_as_settings_only() -> None:
    env = profile().backend_env()
    cql = CqlSettings.model_validate({
        "contact_points": json.loads(env["PHOTOMESH_CQL_CONTACT_POINTS"]),
        "consistency": env["PHOTOMESH_CQL_CONSISTENCY"],
        "serial_consistency": env["PHOTOMESH_CQL_SERIAL_CONSISTENCY"],
        "replication": env["PHOTOMESH_CQL_REPLICATION"],
        "local_dc": env["PHOTOMESH_CQL_LOCAL_DC"]})
    assert len(cql.contact_points) == 3 and cql.consistency == "QUORUM"
    assert cql.serial_consistency == "SERIAL"
    assert "'datacenter1': 3" in cql.replication
    nats = NatsSettings(url=env["PHOTOMESH_NATS_URL"],
                        replicas=int(env["PHOTOMESH_NATS_REPLICAS"]))
    assert nats.replicas == 3 and len(server_urls(nats.url)) == 3


def test_the_profile_is_apart_from_the_single_node_backends() -> None:
    single, cluster = InfraSettings(), profile()
    env = cluster.backend_env()
    assert "127.0.0.1" not in env["PHOTOMESH_CQL_CONTACT_POINTS"]  # own loopback addresses
    elsewhere = env["PHOTOMESH_NATS_URL"] + env["PHOTOMESH_REDIS_URL"] + \
        env["PHOTOMESH_MINIO_ENDPOINT"]
    for port in (single.nats_port, single.redis_port, single.minio_port):
        assert f":{port}" not in elsewhere
    assert env["PHOTOMESH_MEDIA_PUBLIC_BASE_URL"].endswith(
        f":{cluster.settings.envoy_port}/media") and cluster.settings.envoy_port != \
        single.envoy_port
    for node in cluster.nodes:
        assert node.backend.settings.run_dir.is_relative_to(RUN), node.label
    profile_settings = cluster.infra_settings()
    assert profile_settings.run_dir == RUN and profile_settings.envoy_port != single.envoy_port
    assert profile_settings.service_port_offset > 0


def test_three_cql_nodes_split_the_ring_and_seed_each_other() -> None:
    cql = [n.backend for n in profile().nodes if n.kind == "cql"]
    assert len(cql) == 3 and len({b.settings.host for b in cql}) == 3
    assert len({b.initial_token for b in cql}) == 3
    assert {b.ring.seeds for b in cql} == {tuple(f"{b.settings.host}:17000" for b in cql)}


def test_three_nats_servers_route_to_each_other() -> None:
    nats = [n.backend for n in profile().nodes if n.kind == "nats"]
    argvs = [b.argv() for b in nats]
    assert len({a[a.index("--server_name") + 1] for a in argvs}) == 3
    routes = {a[a.index("--routes") + 1] for a in argvs}
    assert len(routes) == 1 and len(routes.pop().split(",")) == 3
    assert all("--jetstream" in a for a in argvs)


def test_one_minio_server_over_four_drives() -> None:
    cluster = profile()
    minio = [n.backend for n in cluster.nodes if n.kind == "minio"]
    assert len(minio) == 1
    argv = minio[0].argv()
    drives = argv[argv.index("server") + 1:argv.index("--address")]
    assert drives == [str(p) for p in minio[0].drive_paths] and len(set(drives)) == 4
    # the drives share the root filesystem here: MinIO must be told to use them anyway
    assert minio[0].server_env()["MINIO_ROOTDRIVE_THRESHOLD_SIZE"] == "1B"
