"""The layout of `./photomesh up` (infra/layout.py): every process of services/processes.py,
replicas on their own ports and worker ids, /metrics only when something collects them."""

from __future__ import annotations

from pathlib import Path

from infra import layout as layouts
from infra.services import service_env
from infra.settings import InfraSettings
from services.processes import PROCESSES


def _settings(tmp_path: Path, **update: object) -> InfraSettings:
    return InfraSettings().model_copy(update={"run_dir": tmp_path, **update})


def test_every_declared_process_runs_at_its_declared_port(tmp_path: Path) -> None:
    plan = layouts.planned(_settings(tmp_path))
    assert [(i.service, i.port) for i in plan.instances] == \
        [(p.name, p.port) for p in PROCESSES]


def test_replicas_have_their_own_ports_and_worker_ids(tmp_path: Path) -> None:
    plan = layouts.planned(_settings(tmp_path, replicas=3))
    assert len(plan.instances) == 3 * len(PROCESSES)
    assert len({i.port for i in plan.instances}) == len(plan.instances)
    assert len({i.worker_id for i in plan.instances}) == len(plan.instances)
    post = plan.of("post")
    assert [i.port for i in post] == [50053, 50153, 50253]
    assert plan.target("post") == "ipv4:127.0.0.1:50053,127.0.0.1:50153,127.0.0.1:50253"


def test_no_metrics_endpoint_unless_observability_or_an_offset(tmp_path: Path) -> None:
    plain = _settings(tmp_path)
    assert all(i.metrics_port is None for i in layouts.planned(plain).instances)
    env = service_env(plain, service="post", layout=layouts.planned(plain))
    assert not any(name.endswith("_METRICS_PORT") for name in env)

    observed = layouts.planned(_settings(tmp_path, observability=True, replicas=2))
    second_post = observed.of("post")[1]
    assert second_post.metrics_port == second_post.port + 2000
    env = service_env(_settings(tmp_path, observability=True), service="post",
                      layout=observed, instance=second_post)
    # The process's own server settings: PHOTOMESH_POST_PORT and _METRICS_PORT.
    assert env["PHOTOMESH_POST_PORT"] == str(second_post.port)
    assert env["PHOTOMESH_POST_METRICS_PORT"] == str(second_post.metrics_port)
    assert env["PHOTOMESH_SNOWFLAKE_WORKER_ID"] == str(second_post.worker_id)
    assert "PHOTOMESH_FEED_METRICS_PORT" not in env  # only its own

    offset = layouts.planned(_settings(tmp_path, service_metrics_offset=3000))
    assert offset.first("feed").metrics_port == 50054 + 3000


def test_a_session_with_a_port_block_takes_its_free_ports_only_from_it(monkeypatch) -> None:
    """Sessions started side by side (./photomesh test) each draw from their own block."""
    from infra.layout import PORT_BLOCK_VARIABLE, free_port, free_ports

    monkeypatch.setenv(PORT_BLOCK_VARIABLE, "25900-25919")
    ports = free_ports("127.0.0.1", 20)
    assert sorted(ports) == list(range(25900, 25920))
    assert 25900 <= free_port() <= 25919
