"""MediaService (photomesh.media.v1)."""
