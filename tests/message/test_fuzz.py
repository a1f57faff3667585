"""Random and malformed requests at every MessageService RPC, from users, nobody and a mesh
service: the only answers allowed are a success or a clean gRPC error with an ErrorInfo
(tests/fuzzing.py) — never UNKNOWN or INTERNAL."""

from __future__ import annotations

import pytest

from tests.fuzzing import fuzz_rpc, service

NAME = "message"
EXAMPLES_PER_RPC = 12


@pytest.mark.parametrize("rpc", list(service(NAME).methods_by_name))
async def test_every_rpc_answers_cleanly(rpc: str, fuzz_world, fuzz_callers, mesh) -> None:
    await fuzz_rpc(NAME, rpc, mesh.target(NAME), fuzz_world, fuzz_callers, EXAMPLES_PER_RPC)
