"""StoryService (photomesh.story.v1)."""
