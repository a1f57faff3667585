"""The client reads the contracts the way the edge does: the same RPCs are retried, every
service has its stub on the Client, every list can be paged."""

from __future__ import annotations

from google.protobuf import descriptor_pool, symbol_database
from photomesh_client import Client, Targets, is_read, service_of
from photomesh_client.contracts import mesh_name
from photomesh_client.pages import listed_field

from infra.contracts import Contracts


def _method(path_service: str, name: str):  # type: ignore[no-untyped-def]
    return descriptor_pool.Default().FindMethodByName(f"{path_service}.{name}")


def _attribute(contracts: Contracts, service) -> str:  # type: ignore[no-untyped-def]
    """The Client's property of a service: its process's name, or, when that process serves
    several services (discovery: SearchService, ExploreService), the service's own name."""
    shared = sum(s.mesh_name == service.mesh_name for s in contracts.services) > 1
    short = service.full_name.rsplit(".", 1)[1].removesuffix("Service").lower()
    return short if shared else service.mesh_name


async def test_every_service_has_its_stub_on_the_client() -> None:
    contracts = Contracts()
    async with Client(Targets(edge="127.0.0.1:1")) as mesh:
        for service in contracts.services:
            stub = getattr(mesh, _attribute(contracts, service))
            assert service_of(type(stub)).full_name == service.full_name
            assert mesh_name(service_of(type(stub))) == service.mesh_name


async def test_the_client_retries_exactly_the_reads_the_edge_retries() -> None:
    contracts = Contracts()
    async with Client(Targets(edge="127.0.0.1:1")) as mesh:
        for service in contracts.services:
            getattr(mesh, _attribute(contracts, service))  # imports its generated modules
    edge = {rpc.path for rpc in contracts.rpcs()
            if rpc.read_only and not (rpc.server_streaming or rpc.client_streaming)}
    client = {rpc.path for rpc in contracts.rpcs() if is_read(_method(rpc.service, rpc.name))}
    assert client == edge
    assert {"/photomesh.post.v1.PostService/GetPost",
            "/photomesh.graph.v1.SocialGraphService/BatchCheckFollowing",
            "/photomesh.graph.v1.SocialGraphService/SearchProfiles"} <= client
    assert "/photomesh.post.v1.PostService/CreatePost" not in client


def test_contracts_use_only_kinds_the_client_intercepts() -> None:
    """The client's interceptors cover unary and server-streaming RPCs."""
    assert not [rpc.path for rpc in Contracts().rpcs() if rpc.client_streaming]


def test_every_list_can_be_paged_item_by_item() -> None:
    database = symbol_database.Default()
    lists = [rpc for rpc in Contracts().rpcs() if rpc.name.startswith("List")]
    assert lists
    for rpc in lists:
        request = database.GetSymbol(rpc.input_type)()
        response = database.GetSymbol(rpc.output_type)()
        fields = request.DESCRIPTOR.fields_by_name
        assert "page_token" in fields and "page_size" in fields, rpc.path
        assert "next_page_token" in response.DESCRIPTOR.fields_by_name, rpc.path
        assert listed_field(response), rpc.path
