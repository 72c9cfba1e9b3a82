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

from bisect import bisect_left
from collections.abc import Iterator
from itertools import pairwise

from whoosh import query as wq
from whoosh.matching import Matcher, NullMatcher, WrappingMatcher

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
        if any((self.fieldname, field.to_bytes(word)) not in reader for word in self.words):
            return NullMatcher()

        def matcher_of(word: str) -> Matcher:
            return wq.Term(self.fieldname, word).matcher(searcher, context)

        found_in = {word: reader.doc_frequency(self.fieldname, word) for word in self.words}
        rarest, *others = sorted(self.words, key=found_in.__getitem__)
        candidates = _ids(matcher_of(rarest))
        for word in others:
            candidates = _having(candidates, matcher_of(word), found_in[word])
            if not candidates:
                return NullMatcher()
        # their positions, record by record as the search asks, from fresh matchers
        leaves = [matcher_of(word) for word in self.words]
        found = _InPlace(candidates, leaves, self.places)
        return WrappingMatcher(found, boost=self.boost) if self.boost != 1.0 else found


# A word found in this many times as many records as there are candidates left is looked
# up record by record (a binary search in a block); a commoner one is read whole.
_PROBE_RATIO = 8


def _having(candidates: list[int], matcher: Matcher, found_in: int) -> list[int]:
    """Those of the sorted ``candidates`` that ``matcher`` (of a word in ``found_in``
    records) matches."""
    if len(candidates) * _PROBE_RATIO >= found_in:
        having = set(_ids(matcher))
        return [docnum for docnum in candidates if docnum in having]
    kept = []
    for docnum in candidates:
        if not matcher.is_active():
            break
        matcher.skip_to(docnum)
        if matcher.is_active() and matcher.id() == docnum:
            kept.append(docnum)
    return kept


def _ids(matcher: Matcher) -> list[int]:
    all_ids = getattr(matcher, "all_block_ids", None)  # `index.codec`'s, a block at a time
    return all_ids() if all_ids is not None else list(matcher.all_ids())


class _InPlace(Matcher):
    """Those of the sorted ``candidates`` where the words (``leaves``) stand at ``places``;
    scored as Whoosh scores its phrases, by the sum of the words' scores."""

    def __init__(
        self, candidates: list[int], leaves: list[Matcher], places: tuple[int, ...]
    ) -> None:
        self._candidates = candidates
        self._i = 0
        self._leaves = leaves
        self._places = places
        self._settle()

    def _in_place(self, docnum: int) -> bool:
        first, *rest = self._leaves
        first.skip_to(docnum)
        starts = set(first.value_as("positions"))
        for leaf, place in zip(rest, self._places[1:], strict=True):
            leaf.skip_to(docnum)
            starts.intersection_update([p - place for p in leaf.value_as("positions")])
            if not starts:
                return False
        return True

    def _settle(self) -> None:
        candidates = self._candidates
        while self._i < len(candidates) and not self._in_place(candidates[self._i]):
            self._i += 1

    def is_active(self) -> bool:
        return self._i < len(self._candidates)

    def id(self) -> int:
        return self._candidates[self._i]

    def next(self) -> bool:
        self._i += 1
        self._settle()
        return False

    def skip_to(self, id: int) -> bool:
        if id > self._candidates[self._i]:
            self._i = bisect_left(self._candidates, id, self._i)
            self._settle()
        return False

    def all_ids(self) -> Iterator[int]:
        while self.is_active():
            yield self.id()
            self.next()

    def score(self) -> float:
        return _tree_sum([leaf.score() for leaf in self._leaves])

    def weight(self) -> float:
        return _tree_sum([leaf.weight() for leaf in self._leaves])

    def supports(self, astype: str) -> bool:
        return False

    def supports_block_quality(self) -> bool:
        return False

    def copy(self) -> _InPlace:
        copied = _InPlace(self._candidates, [leaf.copy() for leaf in self._leaves], self._places)
        copied._i = self._i
        return copied

    def replace(self, minquality: float = 0) -> Matcher:
        return self if self.is_active() else NullMatcher()

    def children(self) -> list[Matcher]:
        return []

    def term_matchers(self) -> Iterator[Matcher]:
        for leaf in self._leaves:
            yield from leaf.term_matchers()


def _tree_sum(values: list[float]) -> float:
    """Add as Whoosh's tree of intersections adds (the same float, to the last bit)."""
    if len(values) == 1:
        return values[0]
    half = len(values) // 2
    return _tree_sum(values[:half]) + _tree_sum(values[half:])
