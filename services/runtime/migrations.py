"""Versioned CQL schema migrations, applied idempotently.

Each service keeps its own in ``services/<service>/migrations/NNNN_<name>.cql`` (statements
separated by ``;``); tables of the shared runtime (worker-id leases) are in
``services/runtime/schema/`` under the name ``runtime``. Applied versions are recorded per
service in ``schema_migrations`` with a checksum, so a fresh store and an existing one both
end at the current schema, and a migration edited after it was applied is refused rather
than silently skipped.
Run all of them with ``python -m services.runtime.migrations``; ``--wait`` only waits until
someone else has (a Kubernetes pod's init container waits so for the migration Job).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from services.runtime.cql import CqlStore
from services.runtime.settings import CqlSettings, load

log = logging.getLogger(__name__)

SERVICES_DIR = Path(__file__).resolve().parent.parent
RUNTIME = "runtime"  # the runtime's own tables: services/runtime/schema
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.cql$")


class MigrationError(RuntimeError):
    """The store's recorded schema history disagrees with the migration files."""


@dataclass(frozen=True)
class Migration:
    service: str
    version: int
    name: str
    statements: tuple[str, ...]
    checksum: str


def _split(text: str) -> tuple[str, ...]:
    body = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    return tuple(s.strip() for s in body.split(";") if s.strip())


def folder_of(service: str, root: Path = SERVICES_DIR) -> Path:
    """Where a service's migrations are (``services/runtime/migrations.py`` is this module,
    so the runtime's are in ``schema/``)."""
    return root / service / ("schema" if service == RUNTIME else "migrations")


def discover(service: str, root: Path = SERVICES_DIR) -> list[Migration]:
    """The migrations of one service, in version order."""
    folder = folder_of(service, root)
    found = []
    for path in sorted(folder.glob("*.cql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path}: name must look like 0001_create_users.cql")
        text = path.read_text()
        found.append(Migration(service, int(match[1]), match[2], _split(text),
                               hashlib.sha256(text.encode()).hexdigest()[:16]))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{service}: two migrations share a version")
    return found


def services_with_migrations(root: Path = SERVICES_DIR) -> list[str]:
    found = sorted(p.parent.name for p in root.glob("*/migrations") if p.is_dir())
    return ([RUNTIME] if folder_of(RUNTIME, root).is_dir() else []) + found


async def _ensure_bookkeeping(store: CqlStore) -> None:
    ks = store.keyspace
    existing = await store.execute(
        "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?", (ks,))
    if not existing:
        await store.execute_raw(
            f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = "
            f"{store.settings.replication} AND durable_writes = true "
            f"{store.settings.keyspace_options}")
    tables = await store.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? "
        "AND table_name = 'schema_migrations'", (ks,))
    if not tables:
        await store.execute_raw(
            f"CREATE TABLE IF NOT EXISTS {ks}.schema_migrations ("
            " service text, version int, name text, checksum text, applied_at timestamp,"
            " PRIMARY KEY (service, version))")
    await store.use_keyspace()


async def applied_versions(store: CqlStore, service: str) -> dict[int, str]:
    rows = await store.execute(
        f"SELECT version, checksum FROM {store.keyspace}.schema_migrations WHERE service = ?",
        (service,))
    return {row["version"]: row["checksum"] for row in rows}


async def pending(store: CqlStore, service: str) -> list[Migration]:
    """The migrations of `service` the store has not applied (or applied differently)."""
    recorded = await applied_versions(store, service)
    return [m for m in discover(service) if recorded.get(m.version) != m.checksum]


async def require_current(store: CqlStore, service: str) -> None:
    """Start-up check of a service: its schema must be current (DDL is never raced by
    replicas; `./photomesh migrate` applies it once)."""
    await store.use_keyspace()
    behind = await pending(store, service)
    if behind:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in behind)
        raise MigrationError(f"the {service} schema in keyspace {store.keyspace} is not "
                             f"current (pending: {names}); run `./photomesh migrate`")


async def apply(store: CqlStore, services: list[str]) -> list[Migration]:
    """Apply every pending migration of `services`; returns the ones applied now."""
    await _ensure_bookkeeping(store)
    done: list[Migration] = []
    for service in services:
        recorded = await applied_versions(store, service)
        for migration in discover(service):
            checksum = recorded.get(migration.version)
            if checksum == migration.checksum:
                continue
            if checksum is not None:
                raise MigrationError(
                    f"{service} migration {migration.version:04d}_{migration.name} was changed "
                    "after it was applied; add a new migration instead")
            log.info("applying %s %04d_%s", service, migration.version, migration.name)
            for statement in migration.statements:
                await store.execute_raw(statement.replace("{keyspace}", store.keyspace))
            await store.execute(
                f"INSERT INTO {store.keyspace}.schema_migrations "
                "(service, version, name, checksum, applied_at) "
                "VALUES (?, ?, ?, ?, toTimestamp(now()))",
                (service, migration.version, migration.name, migration.checksum))
            done.append(migration)
    return done


async def wait_current(settings: CqlSettings, timeout: float, interval: float = 2.0) -> bool:
    """Until every migration of this code is applied (by another process), or `timeout`
    seconds; the store may not even be reachable yet. True when current."""
    from cassandra import InvalidRequest

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    store: CqlStore | None = None
    try:
        while True:
            try:
                store = store or await CqlStore.connect(settings)
                behind = [f"{m.service} {m.version:04d}_{m.name}"
                          for service in services_with_migrations()
                          for m in await pending(store, service)]
            except InvalidRequest as exc:  # no keyspace or table yet
                behind = [f"(no schema yet: {exc})"]
            except Exception as exc:  # the store is not reachable (yet): connect again
                behind = [f"(store not reachable: {exc!r:.200})"]
                if store is not None:
                    await store.close()
                    store = None
            if not behind:
                return True
            if loop.time() >= deadline:
                print(f"schema of keyspace {settings.keyspace} still not current after "
                      f"{timeout:.0f}s; pending: {', '.join(behind)}", file=sys.stderr)
                return False
            log.info("waiting for migrations: %s", ", ".join(behind))
            await asyncio.sleep(interval)
    finally:
        if store is not None:
            await store.close()


async def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m services.runtime.migrations",
                                     description="apply pending CQL migrations")
    parser.add_argument("--wait", action="store_true",
                        help="apply nothing: wait until the schema is current")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="with --wait: give up (exit 1) after this many seconds")
    args = parser.parse_args(argv)
    settings = load(CqlSettings)
    if args.wait:
        if not await wait_current(settings, args.timeout):
            return 1
        print(f"schema of keyspace {settings.keyspace} is current")
        return 0
    store = await CqlStore.connect(settings)
    try:
        applied_now = await apply(store, services_with_migrations())
    finally:
        await store.close()
    for m in applied_now:
        print(f"applied {m.service} {m.version:04d}_{m.name}")
    print(f"schema of keyspace {settings.keyspace} is current "
          f"({len(applied_now)} migration(s) applied now)")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(asyncio.run(_main(sys.argv[1:])))
