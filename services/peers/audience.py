"""Who may see whose content: the one visibility rule of the mesh.

A viewer sees an author's posts, stories and profile content when the author is the
viewer, or when neither blocks the other and the author is public or followed by the
viewer (an approved follow). Every service applies this rule through `may_see`; none
writes its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from photomesh.common.v1.user_pb2 import UserSummary


@dataclass(frozen=True, slots=True)
class Relation:
    """One user's relation to another, as far as visibility and notifications need it."""

    following: bool = False  # the user follows the other (approved)
    followed_by: bool = False  # the other follows the user
    blocked: bool = False  # either blocks the other

    def encode(self) -> bytes:
        return b"%d%d%d" % (self.following, self.followed_by, self.blocked)

    @classmethod
    def decode(cls, raw: bytes) -> Relation:
        return cls(raw[0:1] == b"1", raw[1:2] == b"1", raw[2:3] == b"1")


def may_see(viewer_id: str, author_id: str, relation: Relation | None, private: bool) -> bool:
    """The visibility rule. `relation` is the viewer's to the author (None: no relation
    known, only valid when the viewer is the author)."""
    if viewer_id == author_id:
        return True
    if relation is None or relation.blocked:
        return False
    return not private or relation.following


@dataclass(frozen=True)
class Audience:
    """How a viewer relates to a set of authors: who is visible, and their summaries."""

    summaries: dict[str, UserSummary] = field(default_factory=dict)
    visible: frozenset[str] = frozenset()
    private: frozenset[str] = frozenset()  # visible or not, the accounts that are private
    blocked: frozenset[str] = frozenset()  # either side blocks the other


def audience_of(viewer_id: str, summaries: dict[str, UserSummary],
                relations: dict[str, Relation]) -> Audience:
    """The audience of the authors in `summaries` (unknown users are absent and so not
    visible) given the viewer's `relations` to them."""
    visible = {a for a, s in summaries.items()
               if may_see(viewer_id, a, relations.get(a), s.private)}
    return Audience(summaries, frozenset(visible),
                    frozenset(a for a, s in summaries.items() if s.private),
                    frozenset(a for a, r in relations.items() if r.blocked))
