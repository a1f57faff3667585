"""Every process of the mesh, declared once: its name, the service it belongs to, the module
it runs (`python -m <module>`) and its default gRPC port. infra/ starts them from this list,
each process's server settings take their default port from it, and the Kubernetes
manifests are checked against it.

A service's workers (event consumers, scaled by running more of them) are processes of that
service, under ``services/<service>/workers/``; they serve only gRPC health on their port.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The process the edge sends every health and reflection call to: it serves reflection of
#: every photomesh service and watches every other process's health (services/introspection).
INTROSPECTION = "introspection"


@dataclass(frozen=True)
class Process:
    name: str
    service: str
    module: str
    port: int

    @property
    def worker(self) -> bool:
        return self.name != self.service


PROCESSES: tuple[Process, ...] = (
    Process("auth", "auth", "services.auth", 50051),
    Process("graph", "graph", "services.graph", 50052),
    Process("post", "post", "services.post", 50053),
    Process("feed", "feed", "services.feed", 50054),
    Process("story", "story", "services.story", 50055),
    Process("media", "media", "services.media", 50056),
    Process("notification", "notification", "services.notification", 50057),
    Process(INTROSPECTION, INTROSPECTION, "services.introspection", 50058),
    Process("message", "message", "services.message", 50059),
    Process("discovery", "discovery", "services.discovery", 50060),
    Process("media_worker", "media", "services.media.workers.transcoder", 50061),
    Process("feed_fanout", "feed", "services.feed.workers.fanout", 50062),
    Process("notification_worker", "notification", "services.notification.workers.delivery",
            50063),
    Process("message_worker", "message", "services.message.workers.inbox", 50064),
    Process("discovery_indexer", "discovery", "services.discovery.workers.indexer", 50066),
)

BY_NAME: dict[str, Process] = {p.name: p for p in PROCESSES}


def process(name: str) -> Process:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no process {name!r} (known: {', '.join(BY_NAME)})") from None
