"""The post service's CQL storage, one module per subject: `posts.PostRows`,
`comments.CommentRows`, `likes.LikeRows` (shared plumbing in `rows.Rows`)."""
