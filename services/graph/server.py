"""gRPC transport of SocialGraphService: proto in, domain call, proto out.

Who may call what: public RPCs act for the signed-in user (service tokens refused).
Internal RPCs: CreateProfile only for the auth service; BatchGetUserSummaries for mesh
services and users (users get block filtering); BatchCheckFollowing, ListFollowerIds and
ListFollowingIds for mesh services and for a user asking about themself.
"""

from __future__ import annotations

from grpc import aio
from photomesh.graph.v1 import social_graph_service_pb2 as pb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as pb_grpc

from services.graph.listing import Listing, Page
from services.graph.messages import summary_pb as _summary
from services.graph.profiles import Profiles, ProfileView
from services.graph.relations import Relations, Status
from services.graph.suggestions import Suggestions
from services.runtime.auth import caller_name, current_caller, current_principal, require_service
from services.runtime.clock import timestamp_from_ms

_STATUS = {s: pb.RelationshipStatus.Value(f"RELATIONSHIP_STATUS_{s.value}") for s in Status}


def _profile(view: ProfileView) -> pb.Profile:
    row = view.row
    profile = pb.Profile(user_id=row.user_id, username=row.username,
                         display_name=row.display_name, bio=row.bio,
                         avatar_media_id=row.avatar_media_id, avatar_url=row.avatar_url,
                         private=row.private,
                         follower_count=view.follower_count,
                         following_count=view.following_count,
                         create_time=timestamp_from_ms(row.created_ms),
                         follows_caller=view.follows_viewer)
    if view.status is not None:
        profile.relationship = _STATUS[view.status]
    return profile


def _edges(page: Page) -> list[pb.FollowEdge]:
    return [pb.FollowEdge(user=_summary(e.profile), follow_time=timestamp_from_ms(e.at_ms),
                          relationship=_STATUS[e.status]) for e in page.entries]


class SocialGraphServicer(pb_grpc.SocialGraphServiceServicer):
    def __init__(self, profiles: Profiles, relations: Relations, listing: Listing,
                 suggestions: Suggestions) -> None:
        self._profiles = profiles
        self._relations = relations
        self._listing = listing
        self._suggestions = suggestions

    # --- profiles ------------------------------------------------------------------------

    async def CreateProfile(self, request: pb.CreateProfileRequest,
                            context: aio.ServicerContext) -> pb.CreateProfileResponse:
        require_service("auth")
        row = await self._profiles.create(request.user_id, request.username,
                                          request.display_name)
        return pb.CreateProfileResponse(profile=_profile(ProfileView(row, status=Status.SELF)))

    async def GetProfile(self, request: pb.GetProfileRequest, context: aio.ServicerContext
                         ) -> pb.GetProfileResponse:
        viewer = current_principal().user_id
        return pb.GetProfileResponse(
            profile=_profile(await self._profiles.get(viewer, request.user_id)))

    async def GetProfileByUsername(self, request: pb.GetProfileByUsernameRequest,
                                   context: aio.ServicerContext
                                   ) -> pb.GetProfileByUsernameResponse:
        viewer = current_principal().user_id
        return pb.GetProfileByUsernameResponse(
            profile=_profile(await self._profiles.get_by_username(viewer, request.username)))

    async def BatchGetProfiles(self, request: pb.BatchGetProfilesRequest,
                               context: aio.ServicerContext) -> pb.BatchGetProfilesResponse:
        viewer = current_principal().user_id
        views, missing = await self._profiles.batch_get(
            viewer, request.user_ids, full=request.view != pb.PROFILE_VIEW_BASIC)
        return pb.BatchGetProfilesResponse(profiles=[_profile(v) for v in views],
                                           missing_user_ids=missing)

    async def BatchGetUserSummaries(self, request: pb.BatchGetUserSummariesRequest,
                                    context: aio.ServicerContext
                                    ) -> pb.BatchGetUserSummariesResponse:
        caller = current_caller()
        rows, missing = await self._profiles.summaries(
            None if caller.is_service else caller.user_id, request.user_ids)
        return pb.BatchGetUserSummariesResponse(users=[_summary(r) for r in rows],
                                                missing_user_ids=missing)

    async def UpdateProfile(self, request: pb.UpdateProfileRequest,
                            context: aio.ServicerContext) -> pb.UpdateProfileResponse:
        viewer = current_principal().user_id
        given = request.profile
        values = {"display_name": given.display_name, "bio": given.bio,
                  "avatar_media_id": given.avatar_media_id, "private": given.private}
        view = await self._profiles.update(viewer, list(request.update_mask.paths), values)
        return pb.UpdateProfileResponse(profile=_profile(view))

    async def SearchProfiles(self, request: pb.SearchProfilesRequest,
                             context: aio.ServicerContext) -> pb.SearchProfilesResponse:
        viewer = current_principal().user_id
        if request.query:
            rows, token = await self._profiles.search_query(
                viewer, request.query, request.username_prefix, request.page_size,
                request.page_token)
        else:
            rows, token = await self._profiles.search(viewer, request.username_prefix,
                                                      request.page_size, request.page_token)
        return pb.SearchProfilesResponse(users=[_summary(r) for r in rows],
                                         next_page_token=token)

    async def ListSuggestedUsers(self, request: pb.ListSuggestedUsersRequest,
                                 context: aio.ServicerContext) -> pb.ListSuggestedUsersResponse:
        viewer = current_principal().user_id
        found, token = await self._suggestions.page(viewer, request.page_size,
                                                    request.page_token)
        return pb.ListSuggestedUsersResponse(users=[
            pb.SuggestedUser(user=_summary(s.profile), mutual_count=s.mutual_count,
                             follower_count=s.follower_count) for s in found],
            next_page_token=token)

    # --- follows and blocks --------------------------------------------------------------

    async def Follow(self, request: pb.FollowRequest, context: aio.ServicerContext
                     ) -> pb.FollowResponse:
        viewer = current_principal().user_id
        status = await self._relations.follow(viewer, request.user_id)
        return pb.FollowResponse(relationship=_STATUS[status])

    async def Unfollow(self, request: pb.UnfollowRequest, context: aio.ServicerContext
                       ) -> pb.UnfollowResponse:
        viewer = current_principal().user_id
        status = await self._relations.unfollow(viewer, request.user_id)
        return pb.UnfollowResponse(relationship=_STATUS[status])

    async def ListFollowRequests(self, request: pb.ListFollowRequestsRequest,
                                 context: aio.ServicerContext) -> pb.ListFollowRequestsResponse:
        owner = current_principal().user_id
        page = await self._listing.requests(owner, request.page_size, request.page_token)
        return pb.ListFollowRequestsResponse(
            follow_requests=[pb.FollowRequestEntry(requester=_summary(e.profile),
                                                   request_time=timestamp_from_ms(e.at_ms))
                             for e in page.entries],
            next_page_token=page.next_page_token)

    async def ApproveFollowRequest(self, request: pb.ApproveFollowRequestRequest,
                                   context: aio.ServicerContext
                                   ) -> pb.ApproveFollowRequestResponse:
        owner = current_principal().user_id
        await self._relations.approve(
            owner, request.requester_user_id)
        return pb.ApproveFollowRequestResponse()

    async def RejectFollowRequest(self, request: pb.RejectFollowRequestRequest,
                                  context: aio.ServicerContext
                                  ) -> pb.RejectFollowRequestResponse:
        owner = current_principal().user_id
        await self._relations.reject(
            owner, request.requester_user_id)
        return pb.RejectFollowRequestResponse()

    async def Block(self, request: pb.BlockRequest, context: aio.ServicerContext
                    ) -> pb.BlockResponse:
        viewer = current_principal().user_id
        await self._relations.block(viewer, request.user_id)
        return pb.BlockResponse()

    async def Unblock(self, request: pb.UnblockRequest, context: aio.ServicerContext
                      ) -> pb.UnblockResponse:
        viewer = current_principal().user_id
        await self._relations.unblock(viewer, request.user_id)
        return pb.UnblockResponse()

    async def ListBlockedUsers(self, request: pb.ListBlockedUsersRequest,
                               context: aio.ServicerContext) -> pb.ListBlockedUsersResponse:
        owner = current_principal().user_id
        page = await self._listing.blocked(owner, request.page_size, request.page_token)
        return pb.ListBlockedUsersResponse(
            blocked_users=[pb.BlockedUser(user=_summary(e.profile),
                                          block_time=timestamp_from_ms(e.at_ms))
                           for e in page.entries],
            next_page_token=page.next_page_token)

    # --- lists and counts ----------------------------------------------------------------

    async def ListFollowers(self, request: pb.ListFollowersRequest,
                            context: aio.ServicerContext) -> pb.ListFollowersResponse:
        viewer = current_principal().user_id
        page = await self._listing.followers(viewer, request.user_id,
                                             request.page_size, request.page_token)
        return pb.ListFollowersResponse(followers=_edges(page),
                                        next_page_token=page.next_page_token)

    async def ListFollowing(self, request: pb.ListFollowingRequest,
                            context: aio.ServicerContext) -> pb.ListFollowingResponse:
        viewer = current_principal().user_id
        page = await self._listing.following(viewer, request.user_id,
                                             request.page_size, request.page_token)
        return pb.ListFollowingResponse(followings=_edges(page),
                                        next_page_token=page.next_page_token)

    async def GetFollowCounts(self, request: pb.GetFollowCountsRequest,
                              context: aio.ServicerContext) -> pb.GetFollowCountsResponse:
        viewer = current_principal().user_id
        followers, following = await self._listing.visible_counts(
            viewer, request.user_id)
        return pb.GetFollowCountsResponse(follower_count=followers, following_count=following)

    async def BatchCheckFollowing(self, request: pb.BatchCheckFollowingRequest,
                                  context: aio.ServicerContext
                                  ) -> pb.BatchCheckFollowingResponse:
        checks = await self._listing.check(caller_name(), request.user_id,
                                           request.target_user_ids)
        return pb.BatchCheckFollowingResponse(checks=[
            pb.FollowCheck(target_user_id=c.target_user_id, status=_STATUS[c.status],
                           followed_by=c.followed_by, blocked=c.blocked,
                           target_private=c.target_private) for c in checks])

    async def ListFollowerIds(self, request: pb.ListFollowerIdsRequest,
                              context: aio.ServicerContext) -> pb.ListFollowerIdsResponse:
        page = await self._listing.ids(caller_name(), request.user_id, True,
                                       request.page_size, request.page_token)
        return pb.ListFollowerIdsResponse(user_ids=page.user_ids,
                                          next_page_token=page.next_page_token,
                                          total_count=page.total_count)

    async def ListFollowingIds(self, request: pb.ListFollowingIdsRequest,
                               context: aio.ServicerContext) -> pb.ListFollowingIdsResponse:
        page = await self._listing.ids(caller_name(), request.user_id, False,
                                       request.page_size, request.page_token)
        return pb.ListFollowingIdsResponse(user_ids=page.user_ids,
                                           next_page_token=page.next_page_token,
                                           total_count=page.total_count)
