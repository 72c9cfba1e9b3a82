"""Phrases whose words stand at known distances from each other.

Whoosh's `Phrase` allows any gap up to its slop between neighbouring words and checks
positions by building span objects for every position of every word in every record
that has them all: most of the time of a phrase search. Ours knows each word's exact
place in the phrase (a dropped stop word leaves a gap of known size) and checks a record
with one set intersection: the phrase starts where every word's positions, less its
place in the phrase, meet. The records found are ranked exactly as Whoosh ranks its
phrases (by the sum of the words' scores).
"""

from __future__ import annotations

from itertools import pairwise

from whoosh import query as wq
from whoosh.matching import IntersectionMatcher, Matcher, NullMatcher, WrappingMatcher
from whoosh.util import make_binary_tree

__all__ = ["Sequence"]


class Sequence(wq.Phrase):
    """``words`` of ``fieldname`` at ``places`` (the first at 0) from each other.

    >>> Sequence("body", ["elect", "count"], [0, 2])
    Sequence('body', ['elect', 'count'], [0, 2])
    """

    def __init__(
        self, fieldname: str, words: list[str], places: list[int], boost: float = 1.0
    ) -> None:
        if len(words) != len(places) or places[0] != 0 or places != sorted(places):
            raise ValueError(f"bad places {places} for words {words}")
        gaps = [b - a for a, b in pairwise(places)]
        super().__init__(fieldname, words, slop=max(gaps, default=1), boost=boost)
        self.places = tuple(places)

    def __repr__(self) -> str:
        return f"Sequence({self.fieldname!r}, {self.words!r}, {list(self.places)!r})"

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and self.places == getattr(other, "places", None)

    def __hash__(self) -> int:
        return hash((super().__hash__(), self.places))

    def normalize(self) -> Sequence:
        return self

    def _and_query(self) -> wq.Query:
        return wq.And([wq.Term(self.fieldname, word) for word in self.words])

    def matcher(self, searcher, context=None) -> Matcher:
        reader = searcher.reader()
        field = searcher.schema[self.fieldname]
        for word in self.words:
            if (self.fieldname, field.to_bytes(word)) not in reader:
                return NullMatcher()
        leaves = [wq.Term(self.fieldname, word).matcher(searcher, context) for word in self.words]
        found = _InPlace(make_binary_tree(IntersectionMatcher, leaves), leaves, self.places)
        return WrappingMatcher(found, boost=self.boost) if self.boost != 1.0 else found


class _InPlace(WrappingMatcher):
    """The records of ``child`` (all the words) where the words (``leaves``) stand at
    ``places``; scored as ``child`` is, by the sum of the words' scores."""

    def __init__(self, child: Matcher, leaves: list[Matcher], places: tuple[int, ...]) -> None:
        super().__init__(child)
        self._leaves = leaves
        self._places = places
        self._settle()

    def _in_place(self) -> bool:
        first, *rest = self._leaves
        starts = set(first.value_as("positions"))
        for leaf, place in zip(rest, self._places[1:], strict=True):
            starts.intersection_update([p - place for p in leaf.value_as("positions")])
            if not starts:
                return False
        return True

    def _settle(self) -> None:
        child = self.child
        while child.is_active() and not self._in_place():
            child.next()

    def next(self) -> bool:
        self.child.next()
        self._settle()
        return False

    def skip_to(self, id: int) -> bool:
        self.child.skip_to(id)
        self._settle()
        return False

    def all_ids(self):
        while self.is_active():
            yield self.id()
            self.next()

    def copy(self) -> _InPlace:
        leaves = [leaf.copy() for leaf in self._leaves]
        return _InPlace(make_binary_tree(IntersectionMatcher, leaves), leaves, self._places)

    def replace(self, minquality: float = 0) -> Matcher:
        return self if self.is_active() else NullMatcher()

    def supports_block_quality(self) -> bool:
        return False  # skipping by quality would skip the position check
