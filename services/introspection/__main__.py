"""Run the introspection process: ``python -m services.introspection``.

It serves what the edge sends every health and reflection call to: reflection of every
photomesh service (v1 and v1alpha) from the contracts' descriptor set, and
grpc.health.v1 for the whole mesh ("" is SERVING only while every process is), for each
process (``feed_fanout``) and for each gRPC service (``photomesh.feed.v1.FeedService``).
Its own health is under the reflection service names (the edge's health check).
"""

from __future__ import annotations

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.introspection.descriptors import (
    HEALTH,
    REFLECTION_V1,
    REFLECTION_V1ALPHA,
    MeshDescriptors,
)
from services.introspection.mesh_health import MeshHealth, Topology
from services.introspection.reflection import MeshReflection
from services.introspection.settings import IntrospectionSettings
from services.processes import INTROSPECTION
from services.runtime.app import Built, Context, Needs, main
from services.runtime.health import DrainingHealthServicer
from services.runtime.server import ServiceDefinition

NAME = INTROSPECTION
OWN_NAMES = (REFLECTION_V1, REFLECTION_V1ALPHA)


async def build(ctx: Context[IntrospectionSettings]) -> Built:
    settings = ctx.settings
    descriptors = MeshDescriptors.load(settings.descriptor_set)
    servicer = DrainingHealthServicer()
    for name in OWN_NAMES:
        await servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    topology = Topology.of(settings.targets, descriptors.services)
    mesh = MeshHealth(topology, servicer, resolve_interval=settings.resolve_interval_seconds,
                      retry_max=settings.retry_max_seconds)
    await mesh.publish()  # not SERVING before the first replica has answered

    def register(server: aio.Server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        server.add_generic_rpc_handlers(MeshReflection(descriptors).handlers())

    definition = ServiceDefinition(NAME, (HEALTH, *OWN_NAMES), register,
                                   health=servicer)
    return Built(definition, background=[mesh.run()])


if __name__ == "__main__":
    main(NAME, IntrospectionSettings, Needs(), build)
