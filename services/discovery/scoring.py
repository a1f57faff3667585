"""How engagement counts towards trending (pure functions).

Each event adds its weight to the hourly window it happens in: a like 1, a comment 2, a
page view 0.2 (counted once per viewer, post and hour), and for a hashtag, a new post using
it 1. A trending score sums the windows of the last `window_hours` hours, each decayed by
its age:

    score = sum over windows h of  count_h * 0.5 ** (age_h / half_life)

where age_h is the time from the middle of window h to now, in hours. The sum is a Redis
ZUNIONSTORE with these weights over at most `window_hours` sorted sets, each capped.
"""

from __future__ import annotations

LIKE = 1.0
COMMENT = 2.0
VIEW = 0.2
NEW_POST = 1.0
TOP_LIKE = 1.0  # engagement of a post (top posts of a hashtag): likes + 2 comments + views/5
TOP_COMMENT = 2.0
TOP_VIEW = 0.2
HOUR = 3600


def hour_of(unix_seconds: float) -> int:
    return int(unix_seconds // HOUR)


def window_weights(now: float, window_hours: int, half_life_hours: float
                   ) -> list[tuple[int, float]]:
    """(hour, weight) of each window counted at `now`, newest first."""
    current = hour_of(now)
    weights = []
    for hour in range(current, current - window_hours, -1):
        age_hours = max(0.0, (now - (hour + 0.5) * HOUR) / HOUR)
        weights.append((hour, 0.5 ** (age_hours / half_life_hours)))
    return weights


def engagement(likes: int, comments: int, views: int) -> float:
    """A post's all-time engagement (the order of a hashtag's top posts)."""
    return TOP_LIKE * max(0, likes) + TOP_COMMENT * max(0, comments) + TOP_VIEW * max(0, views)
