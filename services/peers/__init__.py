"""The mesh's one peer layer: how a process asks its peers, and what it keeps of their
answers. `mesh.Peers` is made once per process by the runtime and handed to its build.

* `graph.GraphPeer`, `media.MediaPeer`, `post.PostPeer` — each peer's RPCs answered as
  small domain types (an item with its ownership and readiness, paged ids, relations);
* `audience` — the one visibility rule of the mesh and the types it reads;
* `social_view.SocialView` — a service's own copy of the graph answers it reads on hot
  paths, kept in Redis, checked against the graph's epochs (`epochs`) and invalidated by
  its events, so a warm read asks no peer.
"""
