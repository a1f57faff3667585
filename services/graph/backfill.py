"""Fill the display-name search rows (graph_display_names, migration 0002) of profiles
made before they existed: ``python -m services.graph.backfill``. Pages through every
profile once; idempotent (rows are keyed by name and user), so it may be rerun or stopped.
New and updated profiles keep their rows themselves (services/graph/profiles.py)."""

from __future__ import annotations

import asyncio
import sys

from services.graph.store import GraphStore
from services.runtime.cql import CqlStore
from services.runtime.settings import CqlSettings, load

PAGE = 500


async def backfill(cql: CqlStore) -> int:
    store = GraphStore(cql)
    done, state = 0, None
    while True:
        rows, state = await cql.execute_page(
            "SELECT user_id, display_name FROM graph_profiles", (), page_size=PAGE,
            paging_state=state)
        await asyncio.gather(*(store.index_display_name(str(r["user_id"]), "",
                                                        r["display_name"] or "")
                               for r in rows if r["display_name"]))
        done += len(rows)
        if not state:
            return done


async def main() -> int:
    cql = await CqlStore.connect(load(CqlSettings))
    await cql.use_keyspace()
    try:
        print(f"display names indexed for {await backfill(cql)} profiles")
    finally:
        await cql.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
