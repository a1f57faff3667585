"""Schema migrations against the real CQL store."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from services.runtime import migrations
from services.runtime.cql import CqlStore
from services.runtime.settings import CqlSettings, load


@pytest.fixture
async def fresh_store(run_env) -> CqlStore:
    """A store on a keyspace of its own, dropped after the test."""
    base = load(CqlSettings)
    settings = base.model_copy(update={"keyspace": f"pmmig_{uuid.uuid4().hex[:10]}"})
    store = await CqlStore.connect(settings)
    yield store
    await store.execute_raw(f"DROP KEYSPACE IF EXISTS {settings.keyspace}")
    await store.close()


def _write(root: Path, service: str, files: dict[str, str]) -> None:
    folder = root / service / "migrations"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


async def _tables(store: CqlStore) -> set[str]:
    rows = await store.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", (store.keyspace,))
    return {r["table_name"] for r in rows}


async def test_every_service_migration_applies_once_then_is_a_no_op(fresh_store) -> None:
    services = migrations.services_with_migrations()
    assert "auth" in services
    first = await migrations.apply(fresh_store, services)
    assert {(m.service, m.version) for m in first} == {
        (s, m.version) for s in services for m in migrations.discover(s)}
    assert {"auth_usernames", "auth_users", "schema_migrations"} <= await _tables(fresh_store)
    second = await migrations.apply(fresh_store, services)
    assert second == []


async def test_new_migration_applies_on_an_existing_store(fresh_store, tmp_path,
                                                          monkeypatch) -> None:
    monkeypatch.setattr(migrations, "SERVICES_DIR", tmp_path)
    monkeypatch.setattr(migrations.discover, "__defaults__", (tmp_path,))
    _write(tmp_path, "demo", {"0001_first.cql": "CREATE TABLE IF NOT EXISTS demo_a (k int "
                                                "PRIMARY KEY);"})
    assert len(await migrations.apply(fresh_store, ["demo"])) == 1
    _write(tmp_path, "demo", {"0002_second.cql": "CREATE TABLE IF NOT EXISTS demo_b (k int "
                                                 "PRIMARY KEY);\nALTER TABLE demo_a ADD v text;"})
    applied = await migrations.apply(fresh_store, ["demo"])
    assert [(m.version, m.name) for m in applied] == [(2, "second")]
    assert {"demo_a", "demo_b"} <= await _tables(fresh_store)
    rows = await fresh_store.execute(
        "SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? "
        "AND table_name = 'demo_a'", (fresh_store.keyspace,))
    assert {"k", "v"} == {r["column_name"] for r in rows}


async def test_a_migration_edited_after_it_was_applied_is_refused(fresh_store, tmp_path,
                                                                  monkeypatch) -> None:
    monkeypatch.setattr(migrations.discover, "__defaults__", (tmp_path,))
    _write(tmp_path, "demo", {"0001_first.cql": "CREATE TABLE IF NOT EXISTS demo_a (k int "
                                                "PRIMARY KEY);"})
    await migrations.apply(fresh_store, ["demo"])
    _write(tmp_path, "demo", {"0001_first.cql": "CREATE TABLE IF NOT EXISTS demo_z (k int "
                                                "PRIMARY KEY);"})
    with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
        await migrations.apply(fresh_store, ["demo"])


async def test_wait_returns_once_another_process_has_applied_every_migration(
        fresh_store) -> None:
    """What each pod's init container does in Kubernetes while the migrate Job runs."""
    settings = fresh_store.settings
    assert not await migrations.wait_current(settings, timeout=0.5, interval=0.2)
    waiting = asyncio.ensure_future(migrations.wait_current(settings, timeout=100,
                                                            interval=0.2))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    await migrations.apply(fresh_store, migrations.services_with_migrations())
    assert await asyncio.wait_for(waiting, 110)
    assert migrations.RUNTIME in migrations.services_with_migrations()
