"""FeedService (photomesh.feed.v1)."""
