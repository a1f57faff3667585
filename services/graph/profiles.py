"""Profile rules: creation (for the auth service), reads, updates and username search.

Usernames are unique twice over: the auth service claims them with a lightweight
transaction, and `create` claims them again in `graph_username_owners`, so two profiles can
never share one even if two creations race. A profile is visible to everyone except users
it blocks (they get NOT_FOUND); private accounts show their profile and counts, not their
lists or content.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from photomesh.common.v1.page_token_pb2 import PageTokenPayload

from services.graph import validation
from services.graph.avatars import Avatars
from services.graph.events import GraphEvents
from services.graph.listing import Listing
from services.graph.relations import Relations, Status, status_of, user_not_found
from services.graph.store import GraphStore, ProfileRow, Relation, now_ms
from services.runtime.errors import (
    AlreadyExists,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from services.runtime.pagination import PageTokens, page_size
from services.runtime.pending import PendingChanges
from services.runtime.text import fold
from services.runtime.validation import (
    check,
    require_uuid,
    username_violation,
    uuid_batch,
    uuid_violation,
)

MUTABLE_PATHS = ("display_name", "bio", "avatar_media_id", "private")
BATCH_PROFILES_MAX = 100
BATCH_SUMMARIES_MAX = 500
UPDATE_ATTEMPTS = 5


@dataclass(frozen=True)
class ProfileView:
    """A profile as one viewer sees it; counts and relation only in the full view."""

    row: ProfileRow
    follower_count: int = 0
    following_count: int = 0
    status: Status | None = None
    follows_viewer: bool = False


PROFILE = "graph.profile"  # the pending kind of a profile change (subject: the user id)


class Profiles:
    def __init__(self, store: GraphStore, listing: Listing, relations: Relations,
                 events: GraphEvents, tokens: PageTokens, avatars: Avatars,
                 pending: PendingChanges) -> None:
        self._pending = pending
        self._store = store
        self._listing = listing
        self._relations = relations
        self._events = events
        self._tokens = tokens
        self._avatars = avatars

    # --- creation ------------------------------------------------------------------------

    async def create(self, user_id: str, username: str, display_name: str) -> ProfileRow:
        violations = [v for v in (uuid_violation("user_id", user_id),
                                  username_violation(username)) if v is not None]
        if len(display_name.strip()) > validation.DISPLAY_NAME_MAX:  # auth's own rule
            violations.append(FieldViolation(
                "display_name", f"at most {validation.DISPLAY_NAME_MAX} characters"))
        if violations:
            raise InvalidArgument(violations)
        user_id = user_id.lower()
        owner = await self._store.claim_username(username, user_id)
        if owner != user_id:
            raise AlreadyExists(f"the username '{username}' is taken", reason="USERNAME_TAKEN",
                                metadata={"username": username})
        await self._store.index_username(username, user_id)
        profile = await self._store.insert_profile(user_id, username, display_name.strip(),
                                                   now_ms())
        await self._store.index_display_name(user_id, "", profile.display_name)
        if profile.username != username:
            raise AlreadyExists(f"user {user_id} already has the profile "
                                f"'{profile.username}'", reason="PROFILE_EXISTS",
                                metadata={"user_id": user_id, "username": profile.username})
        return profile

    # --- reads ---------------------------------------------------------------------------

    async def _full(self, viewer: str, rows: Sequence[ProfileRow],
                    relations: Mapping[str, Relation]) -> list[ProfileView]:
        counts = await self._listing.counts([r.user_id for r in rows])
        return [ProfileView(r, *counts[r.user_id], status=status_of(relations[r.user_id]),
                            follows_viewer=relations[r.user_id].followed_by_since is not None)
                for r in rows]

    async def get(self, viewer: str, user_id: str) -> ProfileView:
        row, relation = await self._listing.visible(viewer, require_uuid("user_id", user_id))
        return (await self._full(viewer, [row], {row.user_id: relation}))[0]

    async def get_by_username(self, viewer: str, username: str) -> ProfileView:
        name = username.strip().lower()
        check([username_violation(name)])
        user_id = await self._store.user_id_of(name)
        if user_id is None:
            raise NotFound(f"no user is called '{name}'", reason="USER_NOT_FOUND",
                           metadata={"username": name})
        return await self.get(viewer, user_id)

    async def batch_get(self, viewer: str, user_ids: Sequence[str], full: bool
                        ) -> tuple[list[ProfileView], list[str]]:
        ids = uuid_batch("user_ids", user_ids, BATCH_PROFILES_MAX)
        rows = await self._store.profiles(ids)
        relations = await self._store.relations(viewer, ids)
        shown = [rows[i] for i in ids
                 if i in rows and relations[i].blocked_by_since is None]
        missing = [i for i in ids if i not in rows or relations[i].blocked_by_since is not None]
        if full:
            return await self._full(viewer, shown, relations), missing
        return [ProfileView(r) for r in shown], missing

    async def summaries(self, viewer: str | None, user_ids: Sequence[str]
                        ) -> tuple[list[ProfileRow], list[str]]:
        """For mesh services (viewer None: no filtering) or a user (users blocking them are
        reported missing)."""
        ids = uuid_batch("user_ids", user_ids, BATCH_SUMMARIES_MAX)
        if viewer is None:
            rows = await self._store.profiles(ids)
        else:  # the profiles and the viewer's relations to them are independent reads
            rows, relations = await asyncio.gather(self._store.profiles(ids),
                                                   self._store.relations(viewer, ids))
            rows = {i: r for i, r in rows.items() if relations[i].blocked_by_since is None}
        return [rows[i] for i in ids if i in rows], [i for i in ids if i not in rows]

    # --- update --------------------------------------------------------------------------

    async def update(self, viewer: str, paths: Sequence[str], values: Mapping[str, object]
                     ) -> ProfileView:
        changes = self._validated(paths, values)
        async with self._pending.around(PROFILE, viewer):
            return await self._update(viewer, changes)

    async def settle(self, user_id: str) -> None:
        """The sweeper's finisher of a profile change: its current version announced (the
        same event id) and, for a public account, the requests that waited approved."""
        row = await self._store.profile(user_id)
        if row is None or row.version <= 1:
            return
        if not row.private:
            await self._relations.approve_all(user_id)
        await self._events.profile_updated(row)

    async def _update(self, viewer: str, changes: dict[str, object]) -> ProfileView:
        avatar_urls: dict[str, str] = {"": ""}  # media id -> avatar URL, asked once per call
        for _ in range(UPDATE_ATTEMPTS):
            row = await self._store.profile(viewer)
            if row is None:
                raise user_not_found(viewer)
            avatar = changes.get("avatar_media_id")
            if isinstance(avatar, str):
                if avatar == row.avatar_media_id and (row.avatar_url or not avatar):
                    avatar_urls[avatar] = row.avatar_url
                elif avatar not in avatar_urls:
                    avatar_urls[avatar] = await self._avatars.url_of(viewer, avatar)
                changes["avatar_url"] = avatar_urls[avatar]
            changed = {c: v for c, v in changes.items() if getattr(row, c) != v}
            if changed:
                changed_paths = sorted({"avatar_media_id" if c == "avatar_url" else c
                                        for c in changed})
                if not await self._store.update_profile(viewer, row.version, changed,
                                                        changed_paths):
                    continue
                if "display_name" in changed:
                    await self._store.index_display_name(viewer, row.display_name,
                                                         str(changed["display_name"]))
                row = dataclasses.replace(row, **changed, version=row.version + 1,
                                          changed_paths=tuple(changed_paths))
            # else nothing new: a retry, or a no-op; republish the current version's event
            if "private" in changes and not changes["private"]:
                await self._relations.approve_all(viewer)
            if row.version > 1:
                await self._events.profile_updated(row)
            return await self.get(viewer, viewer)
        raise Unavailable("the profile changed concurrently; retry", reason="BACKEND_UNAVAILABLE")

    @staticmethod
    def _validated(paths: Sequence[str], values: Mapping[str, object]) -> dict[str, object]:
        if not paths:
            raise InvalidArgument(FieldViolation(
                "update_mask", f"required: name the paths to update ({', '.join(MUTABLE_PATHS)})"))
        violations = [FieldViolation("update_mask", f"'{p}' cannot be updated; mutable paths: "
                                                    f"{', '.join(MUTABLE_PATHS)}")
                      for p in paths if p not in MUTABLE_PATHS]
        changes: dict[str, object] = {}
        for path in dict.fromkeys(paths):
            if path not in MUTABLE_PATHS:
                continue
            value = values[path]
            field = f"profile.{path}"
            if path == "display_name":
                value = str(value).strip()
                violations += validation.display_name(value, field)
            elif path == "bio":
                value = str(value).strip()
                violations += validation.bio(value, field)
            elif path == "avatar_media_id":
                value = str(value).lower()
                violations += validation.media_id(value, field)
            changes[path] = value
        if violations:
            raise InvalidArgument(violations)
        return changes

    # --- search --------------------------------------------------------------------------

    async def search_query(self, viewer: str, query: str, username_prefix: str,
                           requested_size: int, token: str) -> tuple[list[ProfileRow], str]:
        """Users whose username starts with the folded `query` (username order), then users
        with a display-name key starting with it (key order; 2+ characters), users of the
        first part left out of the second. The token's key says where it stopped:
        ``u<username>`` or ``d<name key>\x00<user id>``."""
        if username_prefix:
            raise InvalidArgument(FieldViolation(
                "query", "give either username_prefix or query, not both"))
        folded = " ".join(fold(query).split())
        if not 1 <= len(folded) <= validation.DISPLAY_NAME_MAX:
            raise InvalidArgument(FieldViolation(
                "query", f"required: 1-{validation.DISPLAY_NAME_MAX} characters of a "
                         "username or display name"))
        size = page_size(requested_size)
        scope = f"graph.SearchProfiles/q/{folded}"
        cursor = self._tokens.open(token, scope=scope, viewer=viewer)
        key = cursor.last_key if cursor else ""
        as_username = validation.USERNAME_PREFIX.match(folded) is not None
        found: list[str] = []  # user ids, in order
        last = ""
        if as_username and not key.startswith("d"):
            rows, more = await self._username_range(folded, key[1:] or None, size + 1)
            found = [u for _, u in rows][:size]
            if more or len(rows) > size:
                last = "u" + rows[size - 1][0]
            key = ""
        if not last and len(folded) >= 2 and len(found) < size:
            after = None
            if key.startswith("d"):
                name, _, user = key[1:].partition("\x00")
                after = (name, user)
            below = folded[:-1] + chr(ord(folded[-1]) + 1)
            while len(found) < size:
                want = size - len(found) + 1
                rows = await self._store.display_names_in_range(folded, after, below, want)
                if not rows:
                    break
                ids = [u for _, u in rows]
                owners, relations = await asyncio.gather(self._store.profiles(ids),
                                                         self._store.relations(viewer, ids))
                for name, user in rows[:size - len(found)]:
                    after = (name, user)
                    row = owners.get(user)
                    if row is None or user in found or (
                            as_username and row.username.startswith(folded)) or (
                            relations[user].blocked_by_since is not None):
                        continue
                    found.append(user)
                if len(rows) < want:
                    after = None
                    break
                if len(found) >= size:
                    break
            if after is not None:
                last = "d" + after[0] + "\x00" + after[1]
        rows_by_id = await self._store.profiles(found)
        relations = await self._store.relations(viewer, found)
        shown = [rows_by_id[u] for u in found
                 if u in rows_by_id and relations[u].blocked_by_since is None]
        next_token = (self._tokens.seal(PageTokenPayload(last_key=last), scope=scope,
                                        viewer=viewer) if last else "")
        return shown, next_token

    async def _username_range(self, prefix: str, after: str | None, limit: int
                              ) -> tuple[list[tuple[str, str]], bool]:
        """Up to `limit` (username, user_id) starting with `prefix`, after `after`."""
        start, inclusive = (after, False) if after else (prefix, True)
        if len(prefix) >= 2:
            partitions = [prefix[:2]]
        else:
            partitions = [prefix + c for c in validation.USERNAME_ALPHABET
                          if not after or prefix + c >= after[:2]]
        below = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        found: list[tuple[str, str]] = []
        for partition in partitions:
            found += await self._store.usernames_in_range(partition, start, inclusive, below,
                                                          limit - len(found))
            if len(found) >= limit:
                break
        return found, len(found) >= limit

    async def search(self, viewer: str, prefix: str, requested_size: int, token: str
                     ) -> tuple[list[ProfileRow], str]:
        """Usernames starting with `prefix`, in username order. A prefix of two or more
        characters is one partition's range; a one-character prefix walks the partitions
        prefix+c in alphabet order (the order of CQL text)."""
        prefix = validation.username_prefix(prefix)
        size = page_size(requested_size)
        scope = f"graph.SearchProfiles/{prefix}"
        cursor = self._tokens.open(token, scope=scope, viewer=viewer)
        after, inclusive = (cursor.last_key, False) if cursor else (prefix, True)
        if len(prefix) >= 2:
            partitions = [prefix[:2]]
        else:
            partitions = [prefix + c for c in validation.USERNAME_ALPHABET
                          if not cursor or prefix + c >= cursor.last_key[:2]]
        below = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        found: list[tuple[str, str]] = []
        for partition in partitions:
            found += await self._store.usernames_in_range(partition, after, inclusive, below,
                                                          size + 1 - len(found))
            if len(found) > size:
                break
        more = len(found) > size
        found = found[:size]
        rows = await self._store.profiles([user_id for _, user_id in found])
        relations = await self._store.relations(viewer, list(rows))
        shown = [rows[u] for _, u in found
                 if u in rows and relations[u].blocked_by_since is None]
        next_token = (self._tokens.seal(PageTokenPayload(last_key=found[-1][0]), scope=scope,
                                        viewer=viewer) if more else "")
        return shown, next_token
