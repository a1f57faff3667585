"""The scale benchmarks' pieces that need no stack: the bulk path's schemas and SSTable file
names, the ids both sides of it agree on, and the published document matching the saved
results. Running them is `./photomesh bench large-graph` / `bench topology` (minutes)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from bench.cost import publish as cost_publish
from bench.large_graph import bulk
from bench.large_graph.phase import user_id
from bench.topology import publish as topology

REPO = Path(__file__).resolve().parents[2]


def test_schemas_are_the_graph_migrations_tables_in_the_runs_keyspace(tmp_path: Path) -> None:
    bulk.schemas("pmbench_x", tmp_path)
    made = sorted(p.stem for p in tmp_path.glob("*.cql"))
    assert made == sorted(bulk.TABLES)
    followers = (tmp_path / "graph_followers.cql").read_text()
    assert followers.startswith("CREATE TABLE pmbench_x.graph_followers (")
    assert "CLUSTERING ORDER BY (followed_at DESC, follower_id ASC)" in followers
    assert "--" not in followers and ";" not in followers


def test_sstable_components_are_renamed_to_free_generations(tmp_path: Path) -> None:
    (tmp_path / "nb-3-big-Data.db").write_bytes(b"")
    (tmp_path / "nb-3gk1_0abc_2x9-big-Data.db").write_bytes(b"")  # a UUID identifier
    assert bulk._next_generation(tmp_path) == 4
    found = bulk.COMPONENT.match("nb-12-big-Digest.crc32")
    assert found and found.group("generation") == "12" and found.group("component") == \
        "Digest.crc32"


def test_bulk_user_ids_are_distinct_version_4_uuids() -> None:
    ids = {user_id(2, i) for i in range(1000)}
    assert len(ids) == 1000
    assert all(uuid.UUID(i).version == 4 for i in ids)
    assert user_id(2, 5) != user_id(98, 5)


def test_docs_benchmarks_is_what_the_saved_results_give(tmp_path: Path) -> None:
    written = cost_publish.publish_all(doc=tmp_path / "benchmarks.md")
    assert written[0].read_text() == (REPO / "docs" / "benchmarks.md").read_text(), \
        "docs/benchmarks.md is stale: run ./photomesh bench cost --report"
    for svg in written[1:]:
        assert svg.read_text() == (REPO / "docs" / "benchmarks" / svg.name).read_text()


def test_a_topology_section_shows_each_layout_and_operation() -> None:
    saved = REPO / "bench" / "results" / "topology-replicas.json"
    results = json.loads(saved.read_text())
    text = "\n".join(topology.section(results, "plots"))
    for layout in results["layouts"]:
        assert f"| GetHomeFeed | {layout['label']} |" in text
        assert f"| Follow | {layout['label']} |" in text
    assert "(A, B, A, B)" in text
