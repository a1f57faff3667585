"""`./photomesh seed`: a running mesh filled with a believable community.

    ./photomesh seed [--scale 1.0] [--prefix ""] [--password ...] [--concurrency 24]

The socfb-Reed98 friendship graph becomes people who follow each other (a few private
accounts, some requests left pending), with generated photos (infra/seed/photos.py), posts
with captions, hashtags and mentions, likes, comments, stories and story views
(infra/seed/community.py plans them; infra/seed/apply.py writes them through the public
API). Idempotent: a second run finds everything and adds nothing. It ends with a few
logins to try in the web app.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from infra.seed.apply import Seeder, Tally
from infra.seed.community import DATASET, Community, load_edges, plan

#: The seeded accounts' password: demo data, printed for people to log in with.
DEMO_PASSWORD = "reed98-demo"
SERVICES_USED = ("auth", "graph", "post", "story", "media")


async def seed(targets: Mapping[str, str], community: Community, *,
               password: str = DEMO_PASSWORD, concurrency: int = 24,
               say: Callable[[str], None] = print, sessions: Path | None = None) -> Tally:
    """Write `community` into the mesh at `targets` (service name -> host:port).
    `sessions`: where the seeded people's refresh tokens are kept between runs (a rerun
    then signs them in without checking every password hash again)."""
    return await Seeder(targets, community, password, concurrency, say, sessions).run()


def logins(community: Community) -> list[tuple[str, str]]:
    """A few people worth logging in as, with why."""
    followers = community.followers()
    people = {p.username: p for p in community.people}
    picks: list[tuple[str, str]] = []
    popular = max(people, key=lambda name: len(followers[name]))
    picks.append((popular, f"{len(followers[popular])} followers"))
    waiting = {followee for _, followee in community.pending}
    private = next((p.username for p in community.people if p.username in waiting),
                   next((p.username for p in community.people if p.private), None))
    if private:
        picks.append((private, "private account, with follow requests to review"))
    storyteller = next((s.author for s in community.stories if s.viewers), None)
    if storyteller and storyteller not in {name for name, _ in picks}:
        picks.append((storyteller, "has a story with viewers"))
    return picks


def main(argv: Sequence[str]) -> int:
    from infra.progress import say
    from infra.services import grpc_serving, service_env
    from infra.settings import InfraSettings

    parser = argparse.ArgumentParser(prog="photomesh seed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="share of the graph to seed, 0-1 (a connected part of it)")
    parser.add_argument("--prefix", default="", help="prepended to every username")
    parser.add_argument("--password", default=DEMO_PASSWORD, help="of every seeded account")
    parser.add_argument("--concurrency", type=int, default=24, help="calls in flight")
    parser.add_argument("--dataset", type=Path, default=DATASET, help="socfb-Reed98.edges")
    args = parser.parse_args(list(argv))
    if not 0 < args.scale <= 1:
        parser.error("--scale must be in (0, 1]")

    settings = InfraSettings()
    env = service_env(settings)
    targets = {name: env[f"PHOTOMESH_{name.upper()}_TARGET"] for name in SERVICES_USED}
    down = [name for name, target in targets.items() if not grpc_serving(target)]
    if down:
        say(f"seed: not serving: {', '.join(down)}; start the mesh with `./photomesh up`")
        return 1
    community = plan(load_edges(args.dataset), args.scale, prefix=args.prefix)
    say(f"seeding {len(community.people)} people, {len(community.follows)} follows, "
        f"{len(community.posts)} posts, {len(community.stories)} stories "
        f"(socfb-Reed98, scale {args.scale:g})")
    started = time.monotonic()
    sessions = settings.run_dir / "seed" / f"sessions{args.prefix}.json"
    tally = asyncio.run(seed(targets, community, password=args.password,
                             concurrency=args.concurrency, say=say, sessions=sessions))
    created = sum(tally.created.values())
    print(f"seeded in {time.monotonic() - started:.0f}s: {created} things written, "
          f"{sum(tally.existing.values())} already there")
    print(f"\nOpen the web app at http://{settings.host}:{settings.envoy_port}/ and log in "
          f"(password {args.password!r}) as:")
    for username, why in logins(community):
        print(f"  {username:<24} {why}")
    return 0
