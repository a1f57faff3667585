"""CQL storage of the social graph (schema: migrations/0001_graph.cql).

Layout: every table is partitioned by one user. A user's followers are one partition of
`graph_followers`, one CQL row per edge clustered by (followed_at DESC, follower_id), so
"newest followers first" is a forward slice of one partition, read page by page with the
driver's paging state; nothing ever loads a whole partition. `graph_relations` holds the
pairwise state (follow, request, block, both directions) so every "what is A to B1..Bn"
question is one single-partition ``IN`` read.

Partition sizes, and why there is no bucketing: an edge row is ~40 bytes on disk, so a
user with a million followers has a ~40 MB `graph_followers` partition (and a similar
`graph_relations` one). That is within what Cassandra and ScyllaDB serve well when read in
pages, which is all we do (counts are kept in Redis and rebuilt by paging, never by one
huge read). Bucketing the partition (e.g. ``(user_id, bucket)`` with a per-user bucket
index) would bound partitions at the cost of a multi-partition merge on every read; it
becomes worth it around tens of millions of followers and is left for then. Time buckets
alone would not help: celebrity growth is bursty, so one month can hold millions of rows.

Timestamps cross this module's boundary as integer milliseconds since the epoch (what CQL
stores), so values read can be compared with and written back into LWT conditions exactly.

Write discipline: the columns a user controls in their own `graph_relations` row
(following_since, requested_at, blocking_since) change only through lightweight
transactions conditioned on the values read (`compare_and_set`), which is the commit point
of each change; list rows and mirror columns are derived, written idempotently in logged
batches (all or nothing) so a retry repairs any step a failure interrupted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cassandra.query import BatchStatement, BatchType

from services.runtime.cql import CqlStore, Row, applied
from services.runtime.text import fold

# Columns of graph_relations a user owns (LWT only) and the mirrors of the other user's.
OWN_COLUMNS = ("following_since", "requested_at", "blocking_since")
RELATION_COLUMNS = ("following_since", "requested_at", "blocking_since", "followed_by_since",
                    "blocked_by_since", "ended_following_since", "ended_blocking_since")

# List tables: (table, clustering time column, other-user column).
FOLLOWERS = ("graph_followers", "followed_at", "follower_id")
FOLLOWING = ("graph_following", "followed_at", "followee_id")
REQUESTS = ("graph_follow_requests", "requested_at", "requester_id")
BLOCKS = ("graph_blocks", "blocked_at", "blocked_id")
ListTable = tuple[str, str, str]


def to_ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def to_dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def put_stamp(at_ms: int) -> int:
    """The write timestamp (µs) of a derived row or value put for a change at `at_ms`."""
    return at_ms * 1000 + 999


def drop_stamp(at_ms: int) -> int:
    """The write timestamp (µs) of removing what was put for `at_ms`: right after that
    put, whatever the clocks say (both come from `at_ms`), and before the put of any later
    change of the pair (a new change's time is always later: `fresh_ms`)."""
    return at_ms * 1000 + 1000


def fresh_ms(*earlier_ms: int | None) -> int:
    """The time of a new change: now, and later than every earlier change of the same kind
    on the pair (so its derived writes never share a timestamp with their removal)."""
    return max([now_ms(), *((e + 1) for e in earlier_ms if e is not None)])


@dataclass(frozen=True)
class ProfileRow:
    user_id: str
    username: str
    display_name: str
    bio: str
    avatar_media_id: str
    private: bool
    version: int
    changed_paths: tuple[str, ...]
    created_ms: int
    avatar_url: str = ""


@dataclass(frozen=True)
class Relation:
    """What `user_id` is to `other_id` (times in ms; None = not so)."""

    user_id: str
    other_id: str
    following_since: int | None = None
    requested_at: int | None = None
    blocking_since: int | None = None
    followed_by_since: int | None = None
    blocked_by_since: int | None = None
    ended_following_since: int | None = None
    ended_blocking_since: int | None = None

    def own(self) -> dict[str, int | None]:
        return {c: getattr(self, c) for c in OWN_COLUMNS}

    def as_read(self) -> dict[str, int | None]:
        """The condition of a commit decided on this read: the user's own columns, the
        other user's block guard, and the ends of earlier follows and blocks. A new follow
        or block takes its time from those ends (`fresh_ms`), so a change decided before a
        concurrent follow ended must not commit: its time could equal the ended one, whose
        list rows are already removed with a later write timestamp."""
        return {**self.own(), "blocked_by_since": self.blocked_by_since,
                "ended_following_since": self.ended_following_since,
                "ended_blocking_since": self.ended_blocking_since}


@dataclass(frozen=True)
class ListEntry:
    other_id: str
    at_ms: int


_PROFILE_COLUMNS = ("user_id, username, display_name, bio, avatar_media_id, private, version, "
                    "changed_paths, created_at, avatar_url")


def _profile(row: Row) -> ProfileRow:
    return ProfileRow(str(row["user_id"]), row["username"] or "", row["display_name"] or "",
                      row["bio"] or "", row["avatar_media_id"] or "", bool(row["private"]),
                      int(row["version"] or 0), tuple(row["changed_paths"] or ()),
                      to_ms(row["created_at"]) or 0, row.get("avatar_url") or "")


def _relation(user_id: str, other_id: str, row: Row | None) -> Relation:
    if row is None:
        return Relation(user_id, other_id)
    return Relation(user_id, other_id, **{c: to_ms(row.get(c)) for c in RELATION_COLUMNS})


class GraphStore:
    def __init__(self, cql: CqlStore) -> None:
        self._cql = cql

    # --- profiles ------------------------------------------------------------------------

    async def claim_username(self, username: str, user_id: str) -> str:
        """Take `username` for `user_id` unless taken; returns the owner's id."""
        rows = await self._cql.execute(
            "INSERT INTO graph_username_owners (username, user_id) VALUES (?, ?) IF NOT EXISTS",
            (username, uuid.UUID(user_id)))
        return user_id if applied(rows) else str(rows[0]["user_id"])

    async def index_username(self, username: str, user_id: str) -> None:
        await self._cql.execute(
            "INSERT INTO graph_usernames (prefix, username, user_id) VALUES (?, ?, ?)",
            (username[:2], username, uuid.UUID(user_id)))

    async def insert_profile(self, user_id: str, username: str, display_name: str,
                             created_ms: int) -> ProfileRow:
        """Create the profile unless it exists; returns the stored one either way."""
        rows = await self._cql.execute(
            "INSERT INTO graph_profiles (user_id, username, display_name, bio, avatar_media_id, "
            "private, version, changed_paths, created_at) VALUES (?, ?, ?, '', '', false, 1, "
            "[], ?) IF NOT EXISTS",
            (uuid.UUID(user_id), username, display_name, to_dt(created_ms)))
        if applied(rows):
            return ProfileRow(user_id, username, display_name, "", "", False, 1, (), created_ms)
        return _profile(rows[0])

    async def profile(self, user_id: str) -> ProfileRow | None:
        rows = await self._cql.execute(
            f"SELECT {_PROFILE_COLUMNS} FROM graph_profiles WHERE user_id = ?",
            (uuid.UUID(user_id),))
        return _profile(rows[0]) if rows else None

    async def profiles(self, user_ids: Sequence[str]) -> dict[str, ProfileRow]:
        if not user_ids:
            return {}
        rows = await self._cql.execute(
            f"SELECT {_PROFILE_COLUMNS} FROM graph_profiles WHERE user_id IN ?",
            ([uuid.UUID(u) for u in user_ids],))
        return {str(r["user_id"]): _profile(r) for r in rows if r["username"] is not None}

    async def index_display_name(self, user_id: str, old: str, new: str) -> None:
        """Move a user's display-name search rows from `old` to `new` (one logged batch)."""
        gone = [k for k in display_name_keys(old) if k not in display_name_keys(new)]
        added = display_name_keys(new)
        if not gone and not added:
            return
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        user = uuid.UUID(user_id)
        drop = await self._cql.prepare(
            "DELETE FROM graph_display_names WHERE prefix = ? AND name = ? AND user_id = ?")
        put = await self._cql.prepare(
            "INSERT INTO graph_display_names (prefix, name, user_id) VALUES (?, ?, ?)")
        for key in gone:
            batch.add(drop, (key[:2], key, user))
        for key in added:
            batch.add(put, (key[:2], key, user))
        await self._cql.execute(batch)

    async def display_names_in_range(self, prefix: str, after: tuple[str, str] | None,
                                     below: str, limit: int) -> list[tuple[str, str]]:
        """(name key, user_id) of partition prefix[:2] from `prefix` (or after `after`,
        a (name, user_id) pair) up to `below`."""
        if after is None:
            rows = await self._cql.execute(
                "SELECT name, user_id FROM graph_display_names WHERE prefix = ? AND name >= ? "
                "AND name < ? LIMIT ?", (prefix[:2], prefix, below, limit))
        else:
            rows = await self._cql.execute(
                "SELECT name, user_id FROM graph_display_names WHERE prefix = ? "
                "AND (name, user_id) > (?, ?) AND name < ? LIMIT ?",
                (prefix[:2], after[0], uuid.UUID(after[1]), below, limit))
        return [(r["name"], str(r["user_id"])) for r in rows]

    async def user_id_of(self, username: str) -> str | None:
        rows = await self._cql.execute(
            "SELECT user_id FROM graph_usernames WHERE prefix = ? AND username = ?",
            (username[:2], username))
        return str(rows[0]["user_id"]) if rows else None

    async def update_profile(self, user_id: str, version: int, values: Mapping[str, Any],
                             changed_paths: Sequence[str]) -> bool:
        """Write `values` (column -> value) as version+1 if the row is still at `version`."""
        sets = ", ".join(f"{column} = ?" for column in values)
        rows = await self._cql.execute(
            f"UPDATE graph_profiles SET {sets}, version = ?, changed_paths = ? "
            "WHERE user_id = ? IF version = ?",
            (*values.values(), version + 1, list(changed_paths), uuid.UUID(user_id), version))
        return applied(rows)

    async def usernames_in_range(self, prefix2: str, after: str, inclusive: bool, below: str,
                                 limit: int) -> list[tuple[str, str]]:
        """(username, user_id) of partition `prefix2` with after <(=) username < below."""
        op = ">=" if inclusive else ">"
        rows = await self._cql.execute(
            f"SELECT username, user_id FROM graph_usernames WHERE prefix = ? AND username {op} ? "
            "AND username < ? LIMIT ?", (prefix2, after, below, limit))
        return [(r["username"], str(r["user_id"])) for r in rows]

    # --- relations -----------------------------------------------------------------------

    async def relation(self, user_id: str, other_id: str) -> Relation:
        rows = await self._cql.execute(
            f"SELECT {', '.join(RELATION_COLUMNS)} FROM graph_relations "
            "WHERE user_id = ? AND other_id = ?", (uuid.UUID(user_id), uuid.UUID(other_id)))
        return _relation(user_id, other_id, rows[0] if rows else None)

    async def relations(self, user_id: str, other_ids: Sequence[str]) -> dict[str, Relation]:
        """`user_id`'s relation to each of `other_ids` (one partition, one query)."""
        if not other_ids:
            return {}
        rows = await self._cql.execute(
            f"SELECT other_id, {', '.join(RELATION_COLUMNS)} FROM graph_relations "
            "WHERE user_id = ? AND other_id IN ?",
            (uuid.UUID(user_id), [uuid.UUID(o) for o in other_ids]))
        found = {str(r["other_id"]): _relation(user_id, str(r["other_id"]), r) for r in rows}
        return {o: found.get(o) or Relation(user_id, o) for o in other_ids}

    async def compare_and_set(self, user_id: str, other_id: str,
                              expect: Mapping[str, int | None],
                              values: Mapping[str, int | None]) -> bool:
        """The commit point of a change: set `values` on (user_id, other_id) if the columns
        in `expect` still hold the values read (lightweight transaction)."""
        sets = ", ".join(f"{c} = ?" for c in values)
        conditions = " AND ".join(f"{c} = ?" for c in expect)
        rows = await self._cql.execute(
            f"UPDATE graph_relations SET {sets} WHERE user_id = ? AND other_id = ? "
            f"IF {conditions}",
            (*(to_dt(v) for v in values.values()), uuid.UUID(user_id), uuid.UUID(other_id),
             *(to_dt(v) for v in expect.values())))
        return applied(rows)

    async def write(self, *steps: tuple[str, Sequence[Any]]) -> None:
        """Several derived writes as one logged batch: all of them happen or none."""
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        for cql, params in steps:
            batch.add(await self._cql.prepare(cql), params)
        await self._cql.execute(batch)

    # Derived writes, combined by the domain into one `write(...)` call. Their write
    # timestamps come from the change they derive from, not from when they arrive: a row or
    # mirror value put for a change made at `at_ms` carries the last microsecond of that
    # millisecond, and removing it the microsecond after. So a put that arrives late —
    # after a concurrent unfollow already removed its row — loses to that removal instead of
    # bringing the row back, and a later follow's put wins over both.

    @staticmethod
    def put_entry(table: ListTable, user_id: str, at_ms: int, other_id: str
                  ) -> tuple[str, Sequence[Any]]:
        name, at, other = table
        return (f"INSERT INTO {name} (user_id, {at}, {other}) VALUES (?, ?, ?) "
                "USING TIMESTAMP ?",
                (uuid.UUID(user_id), to_dt(at_ms), uuid.UUID(other_id), put_stamp(at_ms)))

    @staticmethod
    def drop_entry(table: ListTable, user_id: str, at_ms: int, other_id: str
                   ) -> tuple[str, Sequence[Any]]:
        name, at, other = table
        return (f"DELETE FROM {name} USING TIMESTAMP ? WHERE user_id = ? AND {at} = ? "
                f"AND {other} = ?",
                (drop_stamp(at_ms), uuid.UUID(user_id), to_dt(at_ms), uuid.UUID(other_id)))

    @staticmethod
    def mirror(user_id: str, other_id: str, column: str, value_ms: int | None, *,
               replacing_ms: int | None = None) -> tuple[str, Sequence[Any]]:
        """Set a mirror column (followed_by_since, blocked_by_since) to `value_ms`, or clear
        it (None) of the value `replacing_ms` it held."""
        assert column not in OWN_COLUMNS
        if value_ms is not None:
            stamp = put_stamp(value_ms)
        else:
            assert replacing_ms is not None, "a cleared mirror names the value it clears"
            stamp = drop_stamp(replacing_ms)
        return (f"UPDATE graph_relations USING TIMESTAMP ? SET {column} = ? "
                "WHERE user_id = ? AND other_id = ?",
                (stamp, to_dt(value_ms), uuid.UUID(user_id), uuid.UUID(other_id)))

    # --- lists ---------------------------------------------------------------------------

    async def list_page(self, table: ListTable, user_id: str, page_size: int,
                        paging_state: bytes | None) -> tuple[list[ListEntry], bytes | None]:
        name, at, other = table
        rows, state = await self._cql.execute_page(
            f"SELECT {at}, {other} FROM {name} WHERE user_id = ?", (uuid.UUID(user_id),),
            page_size=page_size, paging_state=paging_state)
        return [ListEntry(str(r[other]), to_ms(r[at]) or 0) for r in rows], state

    async def count(self, table: ListTable, user_id: str, page_size: int = 5000) -> int:
        """Rows in a user's list partition, paged (never one huge read)."""
        name, at, _ = table
        total, state = 0, None
        while True:
            rows, state = await self._cql.execute_page(
                f"SELECT {at} FROM {name} WHERE user_id = ?", (uuid.UUID(user_id),),
                page_size=page_size, paging_state=state)
            total += len(rows)
            if not state:
                return total


def display_name_keys(display_name: str) -> list[str]:
    """The searchable keys of a display name: the folded name and each of its later words
    (at most 4 keys, each 1-64 characters)."""
    folded = " ".join(fold(display_name).split())[:64]
    if not folded:
        return []
    words = folded.split(" ")
    keys = [folded] + [" ".join(words[i:]) for i in range(1, min(len(words), 4))]
    return list(dict.fromkeys(keys))
