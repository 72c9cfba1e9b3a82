"""How many records a query matches, and their facets, from a sample spread over the index.

Listing every match of a common word takes a step through Whoosh's matchers per match,
tens of milliseconds per 100,000. So, like web search engines, a relevance search counts
from a sample: the document numbers are cut into ``STRATA`` equal ranges, and in each only
the first ``PER_STRATUM`` matches are read. A range whose matches all fit is counted
exactly; otherwise its count is the density of matches in the part read times its length.
Records are numbered in the order they were indexed, so every range is a slice of the
archive's history and the months facet is not skewed towards the oldest.

When every range fits (up to ``STRATA * PER_STRATUM`` matches, and often more when they
bunch), the total and the facets are exact.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from dataclasses import dataclass

from whoosh import query as wq
from whoosh.searching import Searcher as WhooshSearcher

__all__ = ["PER_STRATUM", "STRATA", "Sample", "sample", "sample_listed"]

STRATA = 16
PER_STRATUM = 128


@dataclass(frozen=True)
class Sample:
    """Matches read: ``docnums``, cut into ``parts`` of (start, end, weight), where each
    record in ``docnums[start:end]`` stands for ``weight`` matches (1.0 when counted)."""

    docnums: array
    parts: tuple[tuple[int, int, float], ...]
    estimate: int
    exact: bool


def sample(
    searcher: WhooshSearcher,
    query: wq.Query,
    *,
    strata: int = STRATA,
    per_stratum: int = PER_STRATUM,
) -> Sample:
    """Read up to ``per_stratum`` matches of ``query`` in each of ``strata`` ranges."""
    size = searcher.doc_count_all()
    context = searcher.boolean_context()
    leaves = [_Leaf(leaf, offset, query, context) for leaf, offset in searcher.leaf_searchers()]
    docnums = array("i")
    parts = []
    estimate = 0.0
    exact = True
    for stratum in range(strata):
        low, high = size * stratum // strata, size * (stratum + 1) // strata
        if low == high:
            continue
        start = len(docnums)
        full = False
        for leaf in leaves:
            if leaf.end <= low or leaf.offset >= high:
                continue
            full = leaf.read(low, high, per_stratum - (len(docnums) - start), docnums)
            if full:
                break
        read = len(docnums) - start
        cut = full and read > 0 and any(leaf.has_unread(low, high) for leaf in leaves)
        weight = _weight(cut, low, high, docnums[-1] if read else low)
        exact = exact and not cut
        estimate += read * weight
        if read:
            parts.append((start, len(docnums), weight))
    return Sample(docnums, tuple(parts), round(estimate), exact)


def sample_listed(
    docnums: array,
    size: int,
    *,
    strata: int = STRATA,
    per_stratum: int = PER_STRATUM,
) -> Sample:
    """The sample `sample` would read, taken from ``docnums``, every match of the query in
    ascending order over an index of ``size`` records (for when a pass that had to visit
    every match anyway has listed them)."""
    picked = array("i")
    parts = []
    estimate = 0.0
    exact = True
    for stratum in range(strata):
        low, high = size * stratum // strata, size * (stratum + 1) // strata
        if low == high:
            continue
        first = bisect_left(docnums, low)
        last = bisect_left(docnums, high, first)
        read = min(last - first, per_stratum)
        start = len(picked)
        picked.extend(docnums[first : first + read])
        cut = last - first > per_stratum
        weight = _weight(cut, low, high, picked[-1] if read else low)
        exact = exact and not cut
        estimate += read * weight
        if read:
            parts.append((start, len(picked), weight))
    return Sample(picked, tuple(parts), round(estimate), exact)


def _weight(cut: bool, low: int, high: int, last: int) -> float:
    """How many records of ``[low, high)`` each one read stands for, when reading stopped
    (``cut``) at record ``last``.

    >>> _weight(False, 0, 100, 9), _weight(True, 0, 100, 9)
    (1.0, 10.0)
    """
    return (high - low) / (last - low + 1) if cut else 1.0


class _Leaf:
    """One segment's matcher, read forward from range to range."""

    def __init__(self, searcher: WhooshSearcher, offset: int, query: wq.Query, context) -> None:
        self.offset = offset
        self.end = offset + searcher.doc_count_all()
        self._searcher = searcher
        self._query = query
        self._context = context
        self._matcher = None

    def _active(self):
        if self._matcher is None:
            self._matcher = self._query.matcher(self._searcher, self._context)
        return self._matcher if self._matcher.is_active() else None

    def read(self, low: int, high: int, room: int, out: array) -> bool:
        """Append this leaf's matches in ``[low, high)`` to ``out``, at most ``room`` of
        them; return whether ``room`` ran out."""
        matcher = self._active()
        if matcher is None or room <= 0:
            return room <= 0
        offset = self.offset
        if matcher.id() + offset < low:
            matcher.skip_to(low - offset)
        while matcher.is_active():
            docnum = matcher.id() + offset
            if docnum >= high:
                return False
            if room == 0:
                return True
            out.append(docnum)
            room -= 1
            matcher.next()
        return room == 0

    def has_unread(self, low: int, high: int) -> bool:
        """Whether this leaf has a match in ``[low, high)`` not yet read."""
        if self.end <= low or self.offset >= high:
            return False
        matcher = self._active()
        return matcher is not None and low <= matcher.id() + self.offset < high
