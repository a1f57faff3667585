"""The operations the cost benchmark measures, and the calls each run makes.

An operation names the RPC, how it is sent (gRPC through the edge with ghz, or REST
through the edge with wrk) and `plan(population, n)`: the requests of a run of `n` calls
with the token of each. Reads cycle through a few requests (call i as reader
``i % readers``); writes draw every call from a pool, so each like, follow and create is
a new one (bench/cost/population.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.cost.population import Pool, Population

FEED_PAGE = 20
HASHTAG = "photomesh"  # in every benchmark post's caption (bench/cost/population.py)


@dataclass(frozen=True)
class Plan:
    tokens: list[str]
    messages: list[dict[str, object]]  # gRPC requests as protojson
    cycle: bool  # reads: repeat the messages; writes: one call per message, no more
    rest: list[tuple[str, str, str]] = field(default_factory=list)  # (METHOD, path, token)

    @property
    def calls(self) -> int | None:
        """The most calls this plan allows (None: as many as wanted)."""
        return None if self.cycle else len(self.messages)


@dataclass(frozen=True)
class Operation:
    key: str
    title: str
    method: str  # package.Service/Method
    plan: Callable[[Population, int], Plan]
    transport: str = "grpc"  # or "rest"
    concurrency: int | None = None  # None: the run's default
    writes: bool = False

    @property
    def path(self) -> str:
        return f"/{self.method}"


def _reads(tokens: list[str], messages: list[dict[str, object]]) -> Plan:
    return Plan(tokens, messages, cycle=True)


def _feed(pop: Population, n: int) -> Plan:
    return _reads([r.token for r in pop.readers], [{"page_size": FEED_PAGE}])


def _feed_rest(pop: Population, n: int) -> Plan:
    return Plan([r.token for r in pop.readers], [{"page_size": FEED_PAGE}], cycle=True,
                rest=[("GET", f"/v1/feed?pageSize={FEED_PAGE}", r.token) for r in pop.readers])


def _get_post(pop: Population, n: int) -> Plan:
    return _reads([r.token for r in pop.readers],
                  [{"post_id": str(p)} for p in pop.post_ids])


def _batch_get_posts(pop: Population, n: int) -> Plan:
    ids = pop.post_ids
    windows = [[str(ids[(start + k) % len(ids)]) for k in range(20)]
               for start in range(0, len(ids), 3)]
    return _reads([r.token for r in pop.readers], [{"post_ids": w} for w in windows])


def _story_tray(pop: Population, n: int) -> Plan:
    return _reads([r.token for r in pop.readers], [{"page_size": 20}])


def _notifications(pop: Population, n: int) -> Plan:
    return _reads([a.token for a in pop.authors], [{"page_size": 20}])


def _inbox(pop: Population, n: int) -> Plan:
    return _reads([r.token for r in pop.readers], [{"page_size": 20}])


def _send_message(pop: Population, n: int) -> Plan:
    """Call i by reader ``i % readers``, into one of that reader's threads, each a new
    message (its own request_id)."""
    readers = pop.readers
    tokens, messages = [], []
    for i in range(n):
        reader = readers[i % len(readers)]
        threads = pop.threads[reader]
        tokens.append(reader.token)
        messages.append({"thread_id": threads[(i // len(readers)) % len(threads)],
                         "request_id": uuid.uuid4().hex, "text": "cost benchmark message"})
    return Plan(tokens, messages, cycle=False)


def _hashtag_search(pop: Population, n: int) -> Plan:
    """The newest page of the hashtag every benchmark post carries."""
    return _reads([r.token for r in pop.readers],
                  [{"hashtag": HASHTAG, "page_size": FEED_PAGE}])


def _explore(pop: Population, n: int) -> Plan:
    """An author's explore page (a first page: candidates, rules, snapshot, hydration).
    Readers follow every author, so authors are the viewers with something to explore:
    the other authors' posts."""
    return _reads([a.token for a in pop.authors], [{"page_size": FEED_PAGE}])


def _drawn(pool: Pool, n: int, message: Callable[[object], dict[str, object]]) -> Plan:  # type: ignore[type-arg]
    tokens, targets = pool.take(n)
    return Plan(tokens, [message(t) for t in targets], cycle=False)


def _create_post(pop: Population, n: int) -> Plan:
    return _drawn(pop.spare_media, n, lambda media: {
        "request_id": str(uuid.uuid4()), "caption": "cost benchmark #photomesh",
        "media_ids": [media]})


def _like(pop: Population, n: int) -> Plan:
    return _drawn(pop.likes, n, lambda post: {"post_id": str(post)})


def _follow(pop: Population, n: int) -> Plan:
    return _drawn(pop.follows, n, lambda user: {"user_id": user})


FEED = "photomesh.feed.v1.FeedService/GetHomeFeed"
POST = "photomesh.post.v1.PostService"

FEED_GRPC = Operation("feed_grpc", "GetHomeFeed, gRPC via edge", FEED, _feed)
FEED_REST = Operation("feed_rest", "GetHomeFeed, REST via edge", FEED, _feed_rest,
                      transport="rest")
GET_POST = Operation("get_post", "GetPost", f"{POST}/GetPost", _get_post)
BATCH_GET_POSTS = Operation("batch_get_posts", "BatchGetPosts (20)", f"{POST}/BatchGetPosts",
                            _batch_get_posts)
STORY_TRAY = Operation("story_tray", "GetStoryTray (warm)",
                       "photomesh.story.v1.StoryService/GetStoryTray", _story_tray)
CREATE_POST_C1 = Operation("create_post_c1", "CreatePost, concurrency 1",
                           f"{POST}/CreatePost", _create_post, concurrency=1, writes=True)
CREATE_POST = Operation("create_post", "CreatePost", f"{POST}/CreatePost", _create_post,
                        writes=True)
LIKE_POST = Operation("like_post", "LikePost (new likes)", f"{POST}/LikePost", _like,
                      writes=True)
FOLLOW = Operation("follow", "Follow (new follows)",
                   "photomesh.graph.v1.SocialGraphService/Follow", _follow, writes=True)
HASHTAG_SEARCH = Operation("hashtag_search", "ListHashtagPosts (hashtag search)",
                           "photomesh.discovery.v1.SearchService/ListHashtagPosts",
                           _hashtag_search)
EXPLORE_PAGE = Operation("explore_page", "GetExplorePage (first page)",
                         "photomesh.discovery.v1.ExploreService/GetExplorePage", _explore)
LIST_NOTIFICATIONS = Operation("list_notifications", "ListNotifications",
                               "photomesh.notification.v1.NotificationService/"
                               "ListNotifications", _notifications)

MESSAGES = "photomesh.message.v1.MessageService"
LIST_INBOX = Operation("list_inbox", "ListThreads (inbox of 5)", f"{MESSAGES}/ListThreads",
                       _inbox)
SEND_MESSAGE = Operation("send_message", "SendMessage", f"{MESSAGES}/SendMessage",
                         _send_message, writes=True)

#: In the order they run: reads first, then writes (which change what reads see),
#: notifications last (the likes and follows before them fill the lists).
OPERATIONS: tuple[Operation, ...] = (FEED_GRPC, FEED_REST, GET_POST, BATCH_GET_POSTS,
                                     STORY_TRAY, LIST_INBOX, HASHTAG_SEARCH, EXPLORE_PAGE,
                                     CREATE_POST_C1, CREATE_POST, LIKE_POST, FOLLOW,
                                     SEND_MESSAGE, LIST_NOTIFICATIONS)
BY_KEY = {op.key: op for op in OPERATIONS}


__all__ = ["BY_KEY", "FEED_GRPC", "FEED_REST", "OPERATIONS", "Operation", "Plan"]
