"""What every workload of the overlays promises: probes on grpc.health.v1, requests and
limits, non-root read-only containers, a termination grace that covers the runtime's drain,
peers and backends addressed by Service names, and the backends in their cluster forms."""

from __future__ import annotations

import json

import yaml

from infra.edge import INTROSPECTION_HEALTH_NAME
from infra.k8s import env_contract
from infra.k8s.edge import service_name
from infra.k8s.env_contract import container_env, process_of
from infra.k8s.manifests import REPO
from infra.services import SERVICE_PORTS
from services.processes import BY_NAME, INTROSPECTION, PROCESSES
from tests.deploy.conftest import Rendered

#: Seconds between the runtime's drain and the end of the grace period (closing backends,
#: flushing spans); the grace period must be exactly preStop + drain + this.
SHUTDOWN_SLACK = 5
PROCESS_COMPONENTS = ("service", "worker")


def _processes(overlay: Rendered):  # type: ignore[no-untyped-def]
    """(Deployment, its pod spec, main container, process) of every service and worker."""
    for doc in overlay.of_kind("Deployment"):
        pod = doc["spec"]["template"]["spec"]
        main = pod["containers"][0]
        process = process_of(main)
        if process is not None:
            yield doc, pod, main, process


def test_every_service_and_worker_is_a_deployment(overlay: Rendered) -> None:
    names = {doc["metadata"]["name"]: process for doc, _, _, process in _processes(overlay)}
    assert names == {p.replace("_", "-"): p for p in SERVICE_PORTS}
    for doc, _, _, process in _processes(overlay):
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        assert component == ("worker" if BY_NAME[process].worker else "service"), process


def test_probes_are_grpc_health_checks_on_the_serving_port(overlay: Rendered) -> None:
    for doc, _, main, process in _processes(overlay):
        env = container_env(main, overlay.configmaps)
        own, _ = env_contract.classes_read(process)
        assert own is not None
        port = int(env[env_contract.env_name(own, "port", own.model_fields["port"])].value or 0)
        assert port == SERVICE_PORTS[process]
        assert main["ports"][0] == {"name": "grpc", "containerPort": port}
        # The introspection process's "" is the whole mesh's health: it is probed for its own.
        own_health = ({"service": INTROSPECTION_HEALTH_NAME} if process == INTROSPECTION
                      else {})
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert main[probe]["grpc"] == {"port": port, **own_health}, \
                (doc["metadata"]["name"], probe)
        # Liveness must not kill a pod that is draining (NOT_SERVING) within its grace.
        live = main["livenessProbe"]
        assert live["periodSeconds"] * live["failureThreshold"] >= \
            doc["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]


def test_every_process_is_scraped_on_the_port_it_serves_metrics_on(overlay: Rendered) -> None:
    for doc, _, main, process in _processes(overlay):
        name = doc["metadata"]["name"]
        env = container_env(main, overlay.configmaps)
        own, _ = env_contract.classes_read(process)
        assert own is not None
        # The process's own server settings: /metrics beside gRPC, on the same host.
        port = int(env[env_contract.env_name(own, "metrics_port",
                                             own.model_fields["metrics_port"])].value or 0)
        assert port > 0, name
        assert env[env_contract.env_name(own, "host", own.model_fields["host"])].value == \
            "0.0.0.0", name
        assert {"name": "metrics", "containerPort": port} in main["ports"], name
        annotations = doc["spec"]["template"]["metadata"]["annotations"]
        assert annotations == {"prometheus.io/scrape": "true",
                               "prometheus.io/port": str(port),
                               "prometheus.io/path": "/metrics"}, name
        assert env["PHOTOMESH_LOG_FORMAT"].value == "json", name


def test_grace_period_is_the_prestop_wait_plus_the_runtime_drain(overlay: Rendered) -> None:
    for doc, pod, main, process in _processes(overlay):
        own, _ = env_contract.classes_read(process)
        assert own is not None
        grace_env = env_contract.env_name(own, "grace_seconds",
                                          own.model_fields["grace_seconds"])
        drain = float(container_env(main, overlay.configmaps)[grace_env].value or 0)
        pre_stop = main["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert drain > 0 and pre_stop > 0
        assert pod["terminationGracePeriodSeconds"] == pre_stop + drain + SHUTDOWN_SLACK, \
            doc["metadata"]["name"]
    edge = overlay.get("Deployment", "edge")["spec"]["template"]["spec"]
    assert edge["terminationGracePeriodSeconds"] == \
        edge["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"] + SHUTDOWN_SLACK


def test_every_container_has_requests_limits_and_runs_locked_down(overlay: Rendered) -> None:
    for doc, pod in overlay.workloads():
        name = doc["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in pod.get("initContainers", []) + pod["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), name
            assert {"cpu", "memory"} <= resources["limits"].keys(), name
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name


def test_services_wait_for_the_schema_the_migrate_job_applies(overlay: Rendered) -> None:
    job = overlay.get("Job", "migrate")["spec"]["template"]["spec"]["containers"][0]
    assert job["command"] == ["python", "-m", "services.runtime.migrations"]
    for doc, pod, _, _ in _processes(overlay):
        init = pod["initContainers"]
        assert [c["name"] for c in init] == ["wait-for-schema"], doc["metadata"]["name"]
        assert init[0]["command"][:4] == ["python", "-m", "services.runtime.migrations",
                                          "--wait"]
        assert init[0]["image"] == job["image"]


def test_peers_and_backends_are_addressed_by_service_names(overlay: Rendered) -> None:
    services = {s["metadata"]["name"]: {p["port"] for p in s["spec"]["ports"]}
                for s in overlay.of_kind("Service")}
    scylla = overlay.of_kind("ScyllaCluster")[0]
    services[f"{scylla['metadata']['name']}-client"] = {9042}  # made by the operator
    for doc, _, main, _ in _processes(overlay):
        env = container_env(main, overlay.configmaps)
        addresses = [env[n].value for n in env if n.endswith("_TARGET")]
        if "PHOTOMESH_MINIO_ENDPOINT" in env:
            addresses.append(env["PHOTOMESH_MINIO_ENDPOINT"].value)
        for url in ("PHOTOMESH_REDIS_URL", "PHOTOMESH_NATS_URL"):
            if url in env:
                addresses.append((env[url].value or "").rsplit("@", 1)[1].split("/")[0])
        for contact in json.loads(env["PHOTOMESH_CQL_CONTACT_POINTS"].value or "[]"):
            addresses.append(f"{contact}:{env['PHOTOMESH_CQL_PORT'].value}")
        for address in addresses:
            host, _, port = (address or "").rpartition(":")
            assert host in services and int(port) in services[host], \
                f"{doc['metadata']['name']}: {address} is not a Service of the overlay"
    for name in (p.replace("_", "-") for p in SERVICE_PORTS if "worker" not in p
                 and p != "feed_fanout"):
        service = overlay.get("Service", name)
        assert service["spec"]["clusterIP"] == "None"  # every pod is an endpoint


def test_introspection_watches_every_other_process_through_its_headless_service(
        overlay: Rendered) -> None:
    """The mesh's health at the edge is only whole if every process of
    services/processes.py is watched, each through a Service naming every ready pod."""
    doc = overlay.get("Deployment", service_name(INTROSPECTION))
    env = container_env(doc["spec"]["template"]["spec"]["containers"][0], overlay.configmaps)
    targets = json.loads(env["PHOTOMESH_INTROSPECTION_TARGETS"].value or "{}")
    assert targets == {p.name: [f"{service_name(p.name)}:{p.port}"] for p in PROCESSES
                       if p.name != INTROSPECTION}
    for p in PROCESSES:
        service = overlay.get("Service", service_name(p.name))
        assert service["spec"]["clusterIP"] == "None", p.name
        assert [port["port"] for port in service["spec"]["ports"]] == [p.port], p.name


def test_the_backends_are_clusters_with_replicated_data(rendered_overlays) -> None:
    prod = rendered_overlays["prod"]
    scylla = prod.of_kind("ScyllaCluster")[0]["spec"]
    cql = prod.configmaps[next(n for n in prod.configmaps if n.startswith("settings-cql-"))]
    dc = scylla["datacenter"]["name"]
    assert sum(r["members"] for r in scylla["datacenter"]["racks"]) == 3
    assert cql["PHOTOMESH_CQL_LOCAL_DC"] == dc
    assert cql["PHOTOMESH_CQL_REPLICATION"] == f"{{'class': 'NetworkTopologyStrategy', '{dc}': 3}}"
    assert cql["PHOTOMESH_CQL_CONSISTENCY"] in ("QUORUM", "LOCAL_QUORUM")
    nats = prod.get("StatefulSet", "nats")
    nats_settings = prod.configmaps[next(n for n in prod.configmaps
                                         if n.startswith("settings-nats-"))]
    assert nats["spec"]["replicas"] == 3 and nats_settings["PHOTOMESH_NATS_REPLICAS"] == "3"
    conf = prod.configmaps[next(n for n in prod.configmaps if n.startswith("nats-config-"))]
    assert "jetstream" in conf["nats.conf"]
    assert all(f"nats-{i}.nats-cluster:6222" in conf["nats.conf"] for i in range(3))
    minio = prod.get("StatefulSet", "minio")
    assert minio["spec"]["replicas"] == 4
    assert "http://minio-{0...3}.minio-cluster/export/data" in \
        minio["spec"]["template"]["spec"]["containers"][0]["args"]
    assert prod.get("StatefulSet", "redis")["spec"]["replicas"] == 1


def test_dev_runs_everything_once(rendered_overlays) -> None:
    dev = rendered_overlays["dev"]
    for doc in dev.of_kind("Deployment") + dev.of_kind("StatefulSet"):
        assert doc["spec"].get("replicas") == 1, doc["metadata"]["name"]
    scylla = dev.of_kind("ScyllaCluster")[0]["spec"]
    assert [r["members"] for r in scylla["datacenter"]["racks"]] == [1]
    nats = dev.configmaps[next(n for n in dev.configmaps if n.startswith("settings-nats-"))]
    assert nats["PHOTOMESH_NATS_REPLICAS"] == "1"
    assert not dev.of_kind("HorizontalPodAutoscaler")


def test_prod_scales_and_keeps_every_deployment_available(rendered_overlays) -> None:
    prod = rendered_overlays["prod"]
    deployments = {d["metadata"]["name"]: d for d in prod.of_kind("Deployment")}
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in prod.of_kind("HorizontalPodAutoscaler")}
    assert set(hpas) == set(deployments)
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"], name
        # The autoscaler owns the count: an apply must not reset it.
        assert "replicas" not in deployments[name]["spec"], name
    budgets = {p["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/name"): p
               for p in prod.of_kind("PodDisruptionBudget")}
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == name and name in budgets, name
        assert budgets[name]["spec"]["maxUnavailable"] == 1
        assert deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]


def test_the_scrape_config_finds_pods_by_the_annotations_they_carry(overlay: Rendered) -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "photomesh-pods")
    sources = {tuple(r.get("source_labels", ())): r for r in job["relabel_configs"]}
    keep = sources[("__meta_kubernetes_pod_annotation_prometheus_io_scrape",)]
    assert (keep["action"], keep["regex"]) == ("keep", "true")
    assert sources[("__meta_kubernetes_pod_annotation_prometheus_io_path",)][
        "target_label"] == "__metrics_path__"
    assert sources[("__meta_kubernetes_pod_ip",
                    "__meta_kubernetes_pod_annotation_prometheus_io_port")][
        "target_label"] == "__address__"
    namespaces = {doc["metadata"]["namespace"] for doc in overlay.of_kind("Deployment")}
    assert namespaces <= set(job["kubernetes_sd_configs"][0]["namespaces"]["names"])
    edge = overlay.get("Deployment", "edge")["spec"]["template"]["metadata"]["annotations"]
    assert edge["prometheus.io/scrape"] == "true"
