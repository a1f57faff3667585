"""Random and malformed requests at every REST route of the edge (every RPC with a
`google.api.http` annotation, server streams aside), as two users or nobody: the answer is
a 2xx or a 4xx, never a 5xx (tests/fuzzing.py makes the requests from the contracts).

The edge here is one of its own, whose rate limit is out of reach, so every request gets
through to the services instead of stopping at 429.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.backends.envoy import EnvoyBackend
from infra.contracts import Contracts, HttpRoute, Rpc
from infra.edge import EdgeSettings
from infra.sandbox import Mesh
from infra.settings import InfraSettings
from tests.edge.conftest import another_edge
from tests.edge.http import request
from tests.fuzzing import (
    FUZZ_SETTINGS,
    Known,
    message_class,
    other_threads_may_use_random,
    requests_for,
)

EXAMPLES_PER_ROUTE = 8
ROUTES = [rpc for rpc in Contracts().rpcs() if rpc.http is not None and not rpc.server_streaming]


@pytest.fixture(scope="module")
def fuzz_edge(mesh: Mesh, backends: InfraSettings, test_run_dir) -> Iterator[EnvoyBackend]:
    unlimited = EdgeSettings(rate_limit_requests=1_000_000, rate_limit_burst=1_000_000)
    with another_edge(backends.model_copy(update={"run_dir": test_run_dir}), "fuzz",
                      mesh.env, unlimited) as envoy:
        yield envoy


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _field_text(message: Message, path: str) -> str:
    value: Any = message
    for part in path.split("."):
        value = getattr(value, part)
    return str(value)


def rest_request(route: HttpRoute, message: Message) -> tuple[str, bytes | None]:
    """The path (with query) and JSON body a REST client sends for `message`."""
    data = json_format.MessageToDict(message)
    path = route.template
    for param in route.path_params:
        data.pop(_camel(param.split(".")[0]), None)
        text = urllib.parse.quote(_field_text(message, param), safe="")
        path = re.sub(r"\{" + re.escape(param) + r"(=[^}]*)?\}", lambda _, text=text: text, path)
    body: Any = None
    if route.body == "*":
        body, data = data, {}
    elif route.body:
        body = data.pop(_camel(route.body), {})
    query = [(k, v if not isinstance(v, bool) else str(v).lower())
             for k, value in data.items() if not isinstance(value, dict)
             for v in (value if isinstance(value, list) else [value])]
    if query:
        path += "?" + urllib.parse.urlencode(query)
    return path, None if body is None else json.dumps(body).encode()


@pytest.mark.parametrize("rpc", ROUTES, ids=lambda rpc: f"{rpc.service.split('.')[1]}."
                         f"{rpc.name}")
async def test_every_route_answers_without_a_server_error(rpc: Rpc, fuzz_edge: EnvoyBackend,
                                                         fuzz_world: Known) -> None:
    assert rpc.http is not None
    route = rpc.http
    a, b, _ = fuzz_world.users
    descriptor = message_class(rpc.input_type).DESCRIPTOR

    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES_PER_ROUTE)
    @given(message=requests_for(descriptor, fuzz_world),
           token=st.sampled_from([a.token, a.token, b.token, None]))
    def check(message: Message, token: str | None) -> None:
        path, body = rest_request(route, message)
        reply = request(fuzz_edge.settings.envoy_port, route.verb.upper(), path, body,
                        token=token)
        assert 200 <= reply.status < 500, (rpc.name, path, body, reply.status,
                                           reply.body[:300])

    def run() -> None:
        with other_threads_may_use_random():
            check()

    await asyncio.to_thread(run)
