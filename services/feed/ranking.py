"""The ranked home feed's score (FEED_MODE_RANKED).

    score = recency × affinity × engagement

    recency    = 0.5 ** (age_hours / half_life_hours)         (24 h half-life by default)
    affinity   = 1 + ln(1 + a)   a = the viewer's interactions with the author over the
                                 last `affinity_ttl_days`: 1 per post liked, 2 per comment
                                 (kept in a Redis hash per viewer from PostLiked and
                                 CommentAdded events; each event counted once)
    engagement = 1 + 0.25 × ln(1 + likes + 2 × comments)    (the post's own counts)

So a day-old post of an author the viewer often likes (a = 10: affinity 3.4) outranks a
fresh post of a stranger (affinity 1) unless that one is much more engaging. The mode
scores the newest `ranked_window` candidates of the timeline (celebrities merged), keeps
the ranking as a snapshot for `ranked_snapshot_seconds` and pages through it by offset,
so pages never repeat or skip a post while scores move.
"""

from __future__ import annotations

import math

LIKE_WEIGHT = 1.0
COMMENT_WEIGHT = 2.0
ENGAGEMENT_FACTOR = 0.25


def score(create_time: float, likes: int, comments: int, affinity: float, now: float,
          half_life_hours: float) -> float:
    """The score of a post made at `create_time` (epoch seconds) with these counts."""
    age_hours = max(0.0, now - create_time) / 3600
    recency = 0.5 ** (age_hours / half_life_hours)
    engagement = 1 + ENGAGEMENT_FACTOR * math.log1p(
        likes * LIKE_WEIGHT + comments * COMMENT_WEIGHT)
    return recency * (1 + math.log1p(max(0.0, affinity))) * engagement
