"""GetPost and BatchGetPosts answer a warm read from what the post service keeps (post
bodies, counts, the viewer's likes, its social view): a post process whose graph and CQL
connections are cut after warm-up answers the same."""

from __future__ import annotations

from pathlib import Path

import grpc
from photomesh.post.v1 import post_service_pb2 as pb
from photomesh.post.v1 import post_service_pb2_grpc as pb_grpc

from infra.sandbox import Mesh
from tests.graph_support import follow
from tests.private_service import private_service
from tests.tcp_proxy import proxied


async def test_warm_post_reads_ask_no_peer_and_no_cql(mesh: Mesh, post, graph, new_user,
                                                      create_post, tmp_path: Path) -> None:
    author, viewer = await new_user(), await new_user()
    await follow(graph, viewer, author.user_id)
    made = [await create_post(author, f"warm {i}") for i in range(3)]
    await post.LikePost(pb.LikePostRequest(post_id=made[0].post_id), metadata=viewer.md)
    ids = [p.post_id for p in made]
    cql = f"{mesh.settings.host}:{mesh.env['PHOTOMESH_CQL_PORT']}"
    with proxied(mesh.target("graph")) as graph_proxy, proxied(cql) as store, \
            private_service(mesh, "post", tmp_path, {
                "PHOTOMESH_GRAPH_TARGET": graph_proxy.address,
                "PHOTOMESH_CQL_PORT": str(store.port), "PHOTOMESH_OTEL_ENDPOINT": "",
                "PHOTOMESH_SNOWFLAKE_WORKER_ID": "1002"}) as target:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb_grpc.PostServiceStub(channel)
            get = pb.GetPostRequest(post_id=ids[0])
            batch = pb.BatchGetPostsRequest(post_ids=ids)
            await stub.GetPost(get, metadata=viewer.md)
            await stub.BatchGetPosts(batch, metadata=viewer.md)
            warm_get = await stub.GetPost(get, metadata=viewer.md)
            warm_batch = await stub.BatchGetPosts(batch, metadata=viewer.md)
            assert warm_get.post.liked_by_caller and warm_get.post.like_count == 1
            assert warm_get.post.author.username == author.username
            assert sorted(p.post_id for p in warm_batch.posts) == sorted(ids)
            graph_proxy.cut()
            store.cut()
            for _ in range(3):
                assert await stub.GetPost(get, metadata=viewer.md, timeout=5) == warm_get
                assert await stub.BatchGetPosts(batch, metadata=viewer.md,
                                                timeout=5) == warm_batch
