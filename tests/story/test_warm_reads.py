"""The story tray answers a warm read from what the story service keeps (story sets and
bodies, seen marks, its social view): a story process whose graph and CQL connections are
cut after warm-up answers the same."""

from __future__ import annotations

from pathlib import Path

import grpc
from photomesh.story.v1 import story_service_pb2 as pb
from photomesh.story.v1 import story_service_pb2_grpc as pb_grpc

from infra.sandbox import Mesh
from tests.graph_support import Users, follow, graph_stub
from tests.private_service import private_service
from tests.story.test_stories import post_story
from tests.tcp_proxy import proxied


async def test_a_warm_tray_asks_no_peer_and_no_cql(mesh: Mesh, stories, channel_to,
                                                   tmp_path: Path) -> None:
    authors = await Users.register(channel_to("auth"), 3)
    viewer = (await Users.register(channel_to("auth"), 1))[0]
    graph = graph_stub(channel_to("graph"))
    for author in authors:
        await follow(graph, viewer, author.user_id)
        await post_story(stories, author, f"story of {author.username}")
    cql = f"{mesh.settings.host}:{mesh.env['PHOTOMESH_CQL_PORT']}"
    with proxied(mesh.target("graph")) as graph_proxy, proxied(cql) as store, \
            private_service(mesh, "story", tmp_path, {
                "PHOTOMESH_GRAPH_TARGET": graph_proxy.address,
                "PHOTOMESH_CQL_PORT": str(store.port), "PHOTOMESH_OTEL_ENDPOINT": "",
                "PHOTOMESH_SNOWFLAKE_WORKER_ID": "1003"}) as target:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb_grpc.StoryServiceStub(channel)
            request = pb.GetStoryTrayRequest(page_size=10)
            await stub.GetStoryTray(request, metadata=viewer.md)
            warm = await stub.GetStoryTray(request, metadata=viewer.md)
            assert {e.author.user_id for e in warm.entries} == {a.user_id for a in authors}
            assert all(e.author.username for e in warm.entries)
            graph_proxy.cut()
            store.cut()
            for _ in range(3):
                assert await stub.GetStoryTray(request, metadata=viewer.md, timeout=5) == warm
