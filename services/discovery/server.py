"""gRPC transport of SearchService and ExploreService: proto in, domain call, proto out."""

from __future__ import annotations

import time

from grpc import aio
from photomesh.discovery.v1 import explore_service_pb2 as explore_pb
from photomesh.discovery.v1 import explore_service_pb2_grpc as explore_grpc
from photomesh.discovery.v1 import search_service_pb2 as search_pb
from photomesh.discovery.v1 import search_service_pb2_grpc as search_grpc

from services.discovery.explore import Explore
from services.discovery.search import Search
from services.runtime.auth import current_principal


class SearchServicer(search_grpc.SearchServiceServicer):
    def __init__(self, search: Search) -> None:
        self._search = search

    async def ListHashtagPosts(self, request: search_pb.ListHashtagPostsRequest,
                               context: aio.ServicerContext
                               ) -> search_pb.ListHashtagPostsResponse:
        caller = current_principal()
        top = request.order == search_pb.HASHTAG_POST_ORDER_TOP
        page = await self._search.hashtag_posts(caller.user_id, request.hashtag, top,
                                                request.page_size, request.page_token)
        return search_pb.ListHashtagPostsResponse(posts=page.posts,
                                                  next_page_token=page.next_page_token)

    async def SearchHashtags(self, request: search_pb.SearchHashtagsRequest,
                             context: aio.ServicerContext) -> search_pb.SearchHashtagsResponse:
        current_principal()
        found = await self._search.hashtags(request.prefix, request.page_size)
        return search_pb.SearchHashtagsResponse(hashtags=[
            search_pb.HashtagCount(hashtag=t, post_count=n) for t, n in found])

    async def SearchPosts(self, request: search_pb.SearchPostsRequest,
                          context: aio.ServicerContext) -> search_pb.SearchPostsResponse:
        caller = current_principal()
        page = await self._search.posts(caller.user_id, request.query, request.page_size,
                                        request.page_token)
        return search_pb.SearchPostsResponse(posts=page.posts,
                                             next_page_token=page.next_page_token)


class ExploreServicer(explore_grpc.ExploreServiceServicer):
    def __init__(self, explore: Explore) -> None:
        self._explore = explore

    async def ListTrendingHashtags(self, request: explore_pb.ListTrendingHashtagsRequest,
                                   context: aio.ServicerContext
                                   ) -> explore_pb.ListTrendingHashtagsResponse:
        caller = current_principal()
        page = await self._explore.trending_hashtags(caller.user_id, request.page_size,
                                                     request.page_token)
        return explore_pb.ListTrendingHashtagsResponse(
            hashtags=[explore_pb.TrendingHashtag(hashtag=t, score=s, post_count=n)
                      for t, s, n in page.hashtags],
            next_page_token=page.next_page_token)

    async def ListTrendingPosts(self, request: explore_pb.ListTrendingPostsRequest,
                                context: aio.ServicerContext
                                ) -> explore_pb.ListTrendingPostsResponse:
        caller = current_principal()
        page = await self._explore.trending_posts(caller.user_id, request.page_size,
                                                  request.page_token)
        return explore_pb.ListTrendingPostsResponse(
            items=[explore_pb.ExploreItem(post=p, score=s) for p, s in page.items],
            next_page_token=page.next_page_token)

    async def GetExplorePage(self, request: explore_pb.GetExplorePageRequest,
                             context: aio.ServicerContext
                             ) -> explore_pb.GetExplorePageResponse:
        caller = current_principal()
        page = await self._explore.explore_page(caller.user_id, request.page_size,
                                                request.page_token)
        return explore_pb.GetExplorePageResponse(
            items=[explore_pb.ExploreItem(post=p, score=s) for p, s in page.items],
            next_page_token=page.next_page_token)

    async def RecordPostView(self, request: explore_pb.RecordPostViewRequest,
                             context: aio.ServicerContext
                             ) -> explore_pb.RecordPostViewResponse:
        caller = current_principal()
        counted = await self._explore.record_view(caller.user_id, request.post_id, time.time())
        return explore_pb.RecordPostViewResponse(counted=counted)
