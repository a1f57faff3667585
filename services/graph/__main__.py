"""Run the graph service: ``python -m services.graph``."""

from __future__ import annotations

from photomesh.graph.v1 import social_graph_service_pb2 as pb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as pb_grpc

from services.graph.server import SocialGraphServicer
from services.graph.settings import GraphSettings
from services.runtime.app import Built, Needs, definition, main
from services.runtime.backends import Backends


async def build(settings: GraphSettings, backends: Backends) -> Built:
    assert backends.events is not None
    await backends.events.ensure_stream("graph")
    return Built(definition("graph", pb, pb_grpc, "SocialGraphService", SocialGraphServicer()))


if __name__ == "__main__":
    main("graph", GraphSettings, Needs(cql=True, redis=True, nats=True), build)
