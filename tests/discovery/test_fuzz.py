"""Random and malformed requests at every SearchService and ExploreService RPC, from
users, nobody and a mesh service: the only answers allowed are a success or a clean gRPC
error with an ErrorInfo (tests/fuzzing.py) — never UNKNOWN or INTERNAL."""

from __future__ import annotations

import pytest

from tests.fuzzing import fuzz_rpc, service

PROCESS = "discovery"
EXAMPLES_PER_RPC = 12
RPCS = [(name, rpc) for name in ("search", "explore") for rpc in service(name).methods_by_name]


@pytest.mark.parametrize(("name", "rpc"), RPCS)
async def test_every_rpc_answers_cleanly(name: str, rpc: str, fuzz_world, fuzz_callers,
                                         mesh) -> None:
    await fuzz_rpc(name, rpc, mesh.target(PROCESS), fuzz_world, fuzz_callers,
                   EXAMPLES_PER_RPC)
