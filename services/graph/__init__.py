"""SocialGraphService (photomesh.graph.v1)."""
