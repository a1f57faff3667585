"""The bulk path: a graph written as SSTables of the graph service's tables by Cassandra's
own CQLSSTableWriter (java/GraphSSTables.java), then handed to the node.

1. `tool()` compiles GraphSSTables.java once against the jars of the Cassandra the project
   installs (cached under ``<cache>/tools/graph-sstables-<source hash>``).
2. `write()` runs it: the graph made in memory, SSTables of graph_profiles,
   graph_following, graph_followers and graph_relations (both sides) for the mesh's
   keyspace, with the CREATE TABLE statements read from the graph's own migration, and
   ``manifest.json`` (what was made; rows/s).
3. `hand_over()` stops the node (cleanly: its commit log is flushed), moves the SSTables
   into the tables' directories under fresh generation numbers, and starts it again: a
   node opens every SSTable in its table directories at start, which is what
   ``nodetool refresh``/``import`` do on a live node (the local node has no JMX, so no
   nodetool). The node must be this stack's own, never a shared one.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.backends.cassandra import CassandraBackend
from infra.settings import InfraSettings

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SOURCE = HERE / "java" / "GraphSSTables.java"
MIGRATION = REPO / "services" / "graph" / "migrations" / "0001_graph.cql"
JVM_OPTIONS = REPO / "infra" / "cassandra" / "jvm17-server.options"
TABLES = ("graph_profiles", "graph_following", "graph_followers", "graph_relations")
#: SSTable component files: <version>-<generation>-<format>-<Component>
COMPONENT = re.compile(r"^(?P<version>[a-z]{2})-(?P<generation>[^-]+)-(?P<format>big|bti)-"
                       r"(?P<component>.+)$")


def _classpath(settings: InfraSettings) -> str:
    lib = CassandraBackend(settings).lib_dir
    return ":".join(str(j) for j in sorted(lib.glob("*.jar")))


def tool(settings: InfraSettings) -> Path:
    """The compiled writer's class directory (built once per source version)."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    classes = settings.cache_dir / "tools" / f"graph-sstables-{digest}"
    if not (classes / "GraphSSTables.class").exists():
        classes.mkdir(parents=True, exist_ok=True)
        subprocess.run(["javac", "-nowarn", "-d", str(classes), "-cp", _classpath(settings),
                        str(SOURCE)], check=True, capture_output=True)
    return classes


def schemas(keyspace: str, into: Path) -> Path:
    """The CREATE TABLE statements of TABLES, from the graph's migration, for `keyspace`."""
    into.mkdir(parents=True, exist_ok=True)
    text = "\n".join(line for line in MIGRATION.read_text().splitlines()
                     if not line.lstrip().startswith("--"))
    for statement in text.split(";"):
        found = re.search(r"CREATE TABLE IF NOT EXISTS (\w+)", statement)
        if found and found.group(1) in TABLES:
            table = found.group(1)
            (into / f"{table}.cql").write_text(
                statement.replace(f"IF NOT EXISTS {table}", f"{keyspace}.{table}").strip() + "\n")
    return into


def write(settings: InfraSettings, keyspace: str, out: Path, graph: dict[str, Any], *,
          heap_mb: int = 4096, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the writer for `graph` (GraphSSTables' key=value arguments); its manifest.
    It reads the node's cassandra.yaml, so its SSTables are of the version the node writes."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    opens = [line.strip() for line in JVM_OPTIONS.read_text().splitlines()
             if line.startswith(("--add-opens", "--add-exports"))]
    argv = ["java", f"-Xmx{heap_mb}m", "-XX:+UseParallelGC", *opens,
            "-Dlogback.configurationFile=" + str(HERE / "java" / "logback-quiet.xml"),
            "-cp", f"{tool(settings)}:{_classpath(settings)}", "GraphSSTables",
            f"keyspace={keyspace}", f"out={out}", f"schemas={schemas(keyspace, out / 'schemas')}",
            f"node_config={CassandraBackend(settings).conf_dir.joinpath('cassandra.yaml').as_uri()}",
            *(f"{k}={v}" for k, v in graph.items())]
    started = time.monotonic()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        assert proc.stdout is not None
        tail: list[str] = []
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-30:]
            if line.startswith(("graph:", "sstables:")):
                say("  " + line.rstrip())
        if proc.wait():
            raise RuntimeError("GraphSSTables failed:\n" + "\n".join(tail))
    manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    manifest["tool_seconds"] = round(time.monotonic() - started, 1)
    manifest["sstable_bytes"] = sum(p.stat().st_size for p in out.rglob("*-Data.db"))
    manifest["disk_bytes"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return manifest


def _table_dir(node: CassandraBackend, keyspace: str, table: str) -> Path:
    found = sorted((node.data_dir / "data" / keyspace).glob(f"{table}-*"))
    if len(found) != 1:
        raise RuntimeError(f"{keyspace}.{table}: expected one table directory, found {found}")
    return found[0]


def _next_generation(directory: Path) -> int:
    numbers = [int(m.group("generation")) for p in directory.iterdir()
               if (m := COMPONENT.match(p.name)) and m.group("generation").isdigit()]
    return max(numbers, default=0) + 1


def hand_over(node: CassandraBackend, keyspace: str, out: Path,
              say: Callable[[str], None] = print) -> dict[str, float]:
    """Stop `node`, move the SSTables under `out` into its table directories, start it."""
    if node.external:
        raise RuntimeError("the bulk path needs the stack's own Cassandra node, not an "
                           "external one")
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    node.stop()
    timings["stop_seconds"] = round(time.monotonic() - t0, 1)
    moved = 0
    for written in sorted(p for p in out.iterdir() if p.is_dir() and p.name != "schemas"):
        table = written.name.rsplit("-", 1)[0]
        target = _table_dir(node, keyspace, table)
        generation = _next_generation(target)
        by_generation: dict[str, list[Path]] = {}
        for f in written.iterdir():
            if (m := COMPONENT.match(f.name)):
                by_generation.setdefault(m.group("generation"), []).append(f)
        for files in by_generation.values():
            for f in files:
                m = COMPONENT.match(f.name)
                assert m is not None
                f.rename(target / f"{m.group('version')}-{generation}-{m.group('format')}-"
                                  f"{m.group('component')}")
                moved += 1
            generation += 1
    t1 = time.monotonic()
    node.start()
    node.wait_healthy(600.0)
    timings["start_seconds"] = round(time.monotonic() - t1, 1)
    say(f"  node restarted on {moved} SSTable files ({timings['stop_seconds']} s to stop, "
        f"{timings['start_seconds']} s to start)")
    return timings


__all__ = ["hand_over", "schemas", "tool", "write"]
