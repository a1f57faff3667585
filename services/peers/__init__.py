"""The mesh's one peer layer: how a service asks its peers, and what it keeps of their
answers.

* `graph.GraphPeer` — the social graph's RPCs (summaries, relations, follower and
  following ids, @username lookups) returning small domain types;
* `audience` — the one visibility rule of the mesh and the types it reads;
* `social_view.SocialView` — a service's own copy of the graph answers it reads on hot
  paths (relations, user summaries, following ids), kept in Redis and invalidated by the
  graph's events, so a warm read asks no peer.
"""
