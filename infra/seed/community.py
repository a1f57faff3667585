"""The demo community, planned from socfb-Reed98 (a Facebook friendship graph of Reed
College, 962 people, 18,812 friendships) before anything is sent: pure and deterministic,
so a second run plans exactly the same people, posts, likes, comments and stories and can
tell what already exists.

Each friendship becomes a follow both ways. A few accounts are private: their followers
asked and were approved, except a few requests left pending for the web app's requests
page. People share 0-3 photo posts (captions with hashtags, sometimes a mention), some
share a story; followers like, comment and view. `--scale` keeps a connected part of the
graph (breadth-first from its best-connected person) for quick runs.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Beside the repo (CI: ../shared), as bench/feed.py reads it.
DATASET = REPO.parent / "shared" / "datasets" / "socfb-Reed98" / "socfb-Reed98.edges"

FIRST = ("maya", "liam", "ava", "noah", "zoe", "ezra", "iris", "owen", "luna", "felix",
         "nora", "jude", "ruby", "theo", "cleo", "milo", "hazel", "arlo", "june", "silas",
         "wren", "jonah", "ivy", "caleb", "esme", "gus", "ada", "hugo", "lila", "remy",
         "tess", "otto", "vera", "abel", "rosa", "emil", "nina", "leo", "mae", "sam")
LAST = ("chen", "ortiz", "nakamura", "okafor", "silva", "novak", "haddad", "kowalski",
        "bauer", "rossi", "dubois", "lindqvist", "park", "moreau", "reyes", "adeyemi",
        "fischer", "costa", "ivanova", "murphy", "tanaka", "schmidt", "garcia", "khan",
        "berg", "walsh", "mendes", "kim", "hughes", "lopez")
MOMENTS = (
    "Morning light over the canyon", "Finally finished the thesis draft", "Lake day",
    "The view from the library steps", "Sunday hike, worth every step", "Quiet evening",
    "Caught the last of the sun", "Fog rolling in over the hills", "Road trip, day two",
    "Nothing beats this place", "Study break with a view", "First snow on the ridge",
    "Long walk, short thoughts", "Camping under a full moon", "Back where it started",
    "Somewhere between here and there", "This is what Tuesday looks like",
    "The hills were on fire tonight", "Moon over the reservoir", "Golden hour again",
)
TAGS = ("reed", "portland", "sunset", "hiking", "pnw", "nature", "weekend", "campus",
        "moonlight", "roadtrip", "thesis", "goldenhour", "lake", "mountains", "fog")
COMMENTS = ("Love this!", "Where is this?", "Take me back", "The colours!", "So good",
            "Wow", "Need to go there", "Beautiful shot", "This is unreal", "Jealous",
            "Saving this one", "Perfect light")
STORY_TEXTS = ("On my way!", "Who else is up?", "Thesis mode", "Best coffee in town",
               "Sunset run", "Finals week", "Guess where", "Day off")
BIOS = ("Reed '26. Mostly mountains.", "Chemistry, coffee, cameras.", "Library regular.",
        "Out hiking, back soon.", "Film nerd. Night owl.", "PDX", "Probably reading.")


@dataclass(frozen=True)
class Person:
    node: int
    username: str
    display_name: str
    bio: str
    private: bool


@dataclass(frozen=True)
class PlannedPost:
    author: str
    number: int                        # per author: its posts are 0, 1, ...
    caption: str                       # unique per author: how a rerun finds it
    photos: tuple[int, ...]            # photo seeds (infra/seed/photos.py)
    likers: tuple[str, ...]
    comments: tuple[tuple[str, str], ...]  # (commenter, text), unique per post


@dataclass(frozen=True)
class PlannedStory:
    author: str
    text: str
    photo: int | None
    viewers: tuple[str, ...]


@dataclass(frozen=True)
class Community:
    people: tuple[Person, ...]
    follows: tuple[tuple[str, str], ...]           # (follower, followee)
    pending: frozenset[tuple[str, str]]            # follows left as requests
    posts: tuple[PlannedPost, ...]
    stories: tuple[PlannedStory, ...]

    def followers(self) -> dict[str, list[str]]:
        """Approved followers of each person."""
        found: dict[str, list[str]] = defaultdict(list)
        for follower, followee in self.follows:
            if (follower, followee) not in self.pending:
                found[followee].append(follower)
        return found


def load_edges(path: Path = DATASET) -> list[tuple[int, int]]:
    """Undirected edges of a Network Repository `.edges` file (comments start with %)."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the seed reads socfb-Reed98 from "
                                "../shared/datasets beside the repo (or pass --dataset)")
    edges = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("%"):
            edges.append((int(parts[0]), int(parts[1])))
    return edges


def connected_part(edges: list[tuple[int, int]], count: int) -> list[int]:
    """`count` nodes reached breadth-first from the best-connected node (neighbours in
    order of their degree), so a small scale is still a community."""
    neighbours: dict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    by_degree = sorted(neighbours, key=lambda n: (-len(neighbours[n]), n))
    chosen: list[int] = []
    seen: set[int] = set()
    for start in by_degree:
        if len(chosen) >= count:
            break
        if start in seen:
            continue
        queue = [start]
        seen.add(start)
        while queue and len(chosen) < count:
            node = queue.pop(0)
            chosen.append(node)
            for nxt in sorted(neighbours[node] - seen, key=lambda n: (-len(neighbours[n]), n)):
                seen.add(nxt)
                queue.append(nxt)
    return chosen


def _people(nodes: list[int], rng: random.Random, prefix: str) -> list[Person]:
    taken: set[str] = set()
    people = []
    private = set(rng.sample(nodes, max(1, len(nodes) // 25))) if len(nodes) >= 10 else set()
    for node in sorted(nodes):
        first, last = FIRST[node % len(FIRST)], LAST[(node * 7 + node // len(FIRST)) % len(LAST)]
        username = f"{prefix}{first}.{last}"
        if username in taken:
            username = f"{prefix}{first}.{last}{node}"
        taken.add(username)
        people.append(Person(node, username, f"{first.title()} {last.title()}",
                             BIOS[node % len(BIOS)], node in private))
    return people


def plan(edges: list[tuple[int, int]], scale: float = 1.0, *, prefix: str = "",
         seed: int = 98) -> Community:
    all_nodes = {n for edge in edges for n in edge}
    count = max(2, round(len(all_nodes) * scale))
    nodes = connected_part(edges, count)
    rng = random.Random(seed)
    people = _people(nodes, rng, prefix)
    name = {p.node: p.username for p in people}
    private = {p.username for p in people if p.private}
    follows: list[tuple[str, str]] = []
    for a, b in sorted(edges):
        if a in name and b in name:
            follows += [(name[a], name[b]), (name[b], name[a])]
    # Requests to private accounts are approved, except about one in eight.
    pending = frozenset(f for f in follows if f[1] in private and rng.random() < 0.125)
    planned = Community(tuple(people), tuple(follows), pending, (), ())
    followers = planned.followers()

    posts: list[PlannedPost] = []
    stories: list[PlannedStory] = []
    for person in people:
        fans = sorted(followers[person.username])
        count_posts = rng.choice((0, 0, 1, 1, 1, 2)) + (1 if len(fans) > 80 else 0)
        moments = rng.sample(MOMENTS, count_posts)
        for number, moment in enumerate(moments):
            tags = " ".join(f"#{t}" for t in rng.sample(TAGS, rng.randint(1, 3)))
            caption = f"{moment} {tags}"
            if fans and rng.random() < 0.15:
                caption += f" with @{rng.choice(fans)}"
            photos = tuple(rng.randrange(1 << 30) for _ in range(2 if rng.random() < 0.1 else 1))
            likers = tuple(f for f in fans if rng.random() < 0.12)[:25]
            commenters = rng.sample(fans, min(len(fans), rng.choice((0, 1, 1, 2, 3))))
            comments = tuple((c, text) for c, text in
                             zip(commenters, rng.sample(COMMENTS, len(commenters)), strict=True))
            posts.append(PlannedPost(person.username, number, caption, photos, likers, comments))
        if rng.random() < 0.12:
            photo = rng.randrange(1 << 30) if rng.random() < 0.7 else None
            viewers = tuple(f for f in fans if rng.random() < 0.35)[:20]
            stories.append(PlannedStory(person.username, rng.choice(STORY_TEXTS), photo, viewers))
    return Community(tuple(people), tuple(follows), pending, tuple(posts), tuple(stories))
