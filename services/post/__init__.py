"""PostService (photomesh.post.v1)."""
