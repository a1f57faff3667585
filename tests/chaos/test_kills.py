"""The chaos suite (issue 12): under load, kill -9 each backend and each mesh process, one at a
time and a few pairs at once, restart them as an operator would, then count that everything
acknowledged is there exactly once and nothing is left half-written.

Its own stack (tests/chaos/conftest.py, infra/chaos.py): never the shared one. Load: three
authors post (each post with an upload of its own), six fans like and comment, follow four
celebrities and view the authors' stories; every failed call is retried with the same
request until acknowledged (tests/chaos/load.py). Count: tests/chaos/census.py, printed as
a table of kind x kill (acked/present/lost/duplicated). `./photomesh chaos` runs it alone;
`./photomesh test` runs it after the other tests.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.story.v1 import story_service_pb2 as spb

from infra.chaos import BACKENDS, PROCESS_NAMES, ChaosStack
from infra.services import CQL_KEYSPACE
from tests.chaos import census
from tests.chaos.conftest import GRACE_SECONDS
from tests.chaos.load import Cast, Ledger, Load, acked
from tests.chaos.mesh import ChaosClients
from tests.graph_support import Users
from tests.media_support import jpeg_bytes

pytestmark = pytest.mark.chaos

#: One at a time: every backend, then every process of the mesh; then pairs at once.
SINGLES = [*BACKENDS, *PROCESS_NAMES]
PAIRS = [("post", "nats"), ("feed_fanout", "redis"), ("media_worker", "minio")]
DOWN_SECONDS = 0.5  # dead this long (load running) before the restart begins
BETWEEN_SECONDS = 1.0  # load on the whole stack between two kills
SETTLE_TIMEOUT = 120.0  # for the read models and sweepers to catch up after the load


async def _cast(c: ChaosClients, ledger: Ledger) -> Cast:
    authors = await Users.register(c.auth_channel, 3, "chaos_a")
    fans = await Users.register(c.auth_channel, 6, "chaos_f")
    celebs = await Users.register(c.auth_channel, 4, "chaos_c")
    for fan in fans:
        for author in authors:
            await acked(ledger, c.graph.Follow, gpb.FollowRequest(user_id=author.user_id),
                        fan.md, "graph Follow")
    stories = {}
    for author in authors:
        for i in range(3):
            reply = await acked(ledger, c.story.CreateStory, spb.CreateStoryRequest(
                request_id=str(uuid.uuid4()), text=f"story {i}"), author.md,
                "story CreateStory")
            stories[reply.story.story_id] = author
    return Cast(authors, fans, celebs, stories)


async def _kill_and_restart(stack: ChaosStack, ledger: Ledger, names: list[str],
                            timings: dict[str, float], fell: dict[str, list[str]]) -> None:
    """Kill `names` at once, then restart what is down, as `./photomesh up` would. What
    else went down meanwhile (a process exiting when a backend went away) is noted."""
    ledger.enter("+".join(names))
    for name in names:
        stack.kill(name)
    await asyncio.sleep(DOWN_SECONDS)
    started = time.monotonic()
    restarted = await asyncio.to_thread(stack.restart)
    timings[ledger.phase] = time.monotonic() - started
    if others := [n for n in restarted if n not in names]:
        fell[ledger.phase] = others
    await asyncio.sleep(BETWEEN_SECONDS)


@pytest.mark.timeout(900)
async def test_every_kill_loses_and_doubles_nothing_acknowledged(chaos_stack: ChaosStack
                                                                 ) -> None:
    began = time.monotonic()
    c = ChaosClients(chaos_stack)
    ledger = Ledger()
    try:
        cast = await _cast(c, ledger)
        plan = [[name] for name in SINGLES] + [list(pair) for pair in PAIRS]
        load = Load(c, cast, ledger, jpeg_bytes(64, 48, gps=False),
                    spread_seconds=8.0 * len(plan))
        tasks = load.run()
        await asyncio.sleep(BETWEEN_SECONDS * 2)
        restarts: dict[str, float] = {}
        fell: dict[str, list[str]] = {}
        for names in plan:
            await _kill_and_restart(chaos_stack, ledger, names, restarts, fell)
        ledger.enter("after")
        await asyncio.sleep(BETWEEN_SECONDS)
        load.stop.set()
        await asyncio.gather(*tasks)
        load_seconds = time.monotonic() - began

        # Everything is up again; the read models, workers and sweepers catch up.
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            stuck = await asyncio.to_thread(
                census.stuck_rows, chaos_stack.env(), CQL_KEYSPACE, GRACE_SECONDS)
            taken = await census.take(c, cast, ledger, stuck)
            if taken.clean or time.monotonic() > deadline:
                break
            await asyncio.sleep(3.0)
        settled = time.monotonic() - began - load_seconds
    finally:
        await c.close()
    print(f"\nchaos: {len(plan)} kills under load in {load_seconds:.0f} s, settled in "
          f"{settled:.0f} s; restarts: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in restarts.items()))
    print(f"chaos: also down after a kill (restarted with it): {fell or 'nothing'}")
    print(f"chaos: load retries by status {dict(ledger.retries)}; given up "
          f"{dict(ledger.given_up)}; census reads retried {dict(census.read_retries())}")
    if ledger.unclean:
        print("chaos: unclean answers (retried): " + "; ".join(
            f"{k} x{v}" for k, v in ledger.unclean.most_common(10)))
    print("chaos: acked/present/lost/duplicated per kind and kill\n"
          + taken.table(ledger.phases))
    for line in taken.details[:40]:
        print("chaos:", line)
    assert not fell, f"processes that exited when something else was killed: {fell}"
    assert not ledger.given_up, f"writes never acknowledged: {dict(ledger.given_up)}"
    assert taken.clean, "something acknowledged was lost, doubled or left half-written"
