"""Facet counts and date sorting from per-document columns held in memory.

Whoosh reads a column one document at a time; counting facets that way over 100,000 hits
takes seconds. Instead each segment's columns are copied once into plain lists (segments
never change, so the copy is kept until the segment is merged away) and joined into one
list per column indexed by global document number; counting is then a ``Counter`` over a
``map``, which runs at C speed.
"""

from __future__ import annotations

import heapq
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from whoosh.columns import ColumnReader, NumericColumn, RefBytesColumn
from whoosh.reading import IndexReader

__all__ = ["FACETS", "CachedResult", "ColumnCache", "Columns", "ResultCache"]

# facet name -> column holding it
FACETS = {
    "speaker": "facet_speaker",
    "publisher": "facet_publisher",
    "kind": "facet_kind",
    "month": "facet_month",
}
_SORT_COLUMN = "sort_date"


class Columns:
    """The sort and facet columns of one reader, as lists indexed by document number."""

    def __init__(self, reader: IndexReader, cache: ColumnCache) -> None:
        self._reader = reader
        self._cache = cache
        self._lists: dict[str, list] = {}

    def column(self, name: str) -> list:
        if name not in self._lists:
            joined: list = []
            for leaf, _offset in self._reader.leaf_readers():
                joined.extend(self._cache.segment_column(leaf, name))
            self._lists[name] = joined
        return self._lists[name]

    def facets(
        self, docnums: Sequence[int], parts: Sequence[tuple[int, int, float]] | None = None
    ) -> dict[str, Counter]:
        """Counts of each facet value over ``docnums``. With ``parts`` (from
        `index.sample`), each record of ``docnums[start:end]`` counts ``weight`` times, and
        the counts are estimates."""
        counted = {}
        for facet, name in FACETS.items():
            value = self.column(name).__getitem__
            if parts is None or all(weight == 1.0 for _, _, weight in parts):
                counts = Counter(map(value, docnums))
            else:
                counts = Counter()
                for start, end, weight in parts:
                    for key, count in Counter(map(value, docnums[start:end])).items():
                        counts[key] += count * weight
                counts = Counter({key: max(1, round(count)) for key, count in counts.items()})
            counts.pop("", None)
            counted[facet] = counts
        return counted

    def newest(self, docnums: Sequence[int], count: int, *, oldest: bool = False) -> list[int]:
        """The ``count`` most recent (or oldest) of ``docnums``, in that order."""
        dates = self.column(_SORT_COLUMN)
        pick = heapq.nsmallest if oldest else heapq.nlargest
        return pick(count, docnums, key=dates.__getitem__)


class ColumnCache:
    """Column copies per segment, shared by successive readers of one index."""

    def __init__(self) -> None:
        self._segments: dict[tuple[str, str], list] = {}

    def segment_column(self, leaf: IndexReader, name: str) -> list:
        if leaf.segment() is None:  # an index with no segment yet
            return []
        key = (leaf.segment().segment_id(), name)
        if key not in self._segments:
            count = leaf.doc_count_all()
            if not leaf.has_column(name):
                values = [0 if name == _SORT_COLUMN else ""] * count
            else:
                values = _read_column(leaf.column_reader(name, translate=False), count)
            self._segments[key] = values
        return self._segments[key]

    def keep_only(self, reader: IndexReader) -> None:
        """Forget segments that ``reader`` no longer has."""
        live = {
            leaf.segment().segment_id()
            for leaf, _ in reader.leaf_readers()
            if leaf.segment() is not None  # an index with no segment yet
        }
        for key in [k for k in self._segments if k[0] not in live]:
            del self._segments[key]


def _read_column(reader: ColumnReader, count: int) -> list:
    """A segment's column as a list, read as whole arrays.

    Whoosh's readers go through a column a record at a time (a file read and an unpack
    each): most of the time of the first search with facets in a big index, which is
    when a web node starts answering. The files hold arrays: the number column's values,
    and the reference column's one small number per record into its list of values.
    """
    dbfile = reader._dbfile
    if isinstance(reader, NumericColumn.Reader):
        values = list(dbfile.get_array(reader._basepos, reader._typecode, reader._count))
        return values + [reader._default] * (count - len(values))
    if isinstance(reader, RefBytesColumn.Reader):
        names = [raw.decode("utf-8") for raw in reader._uniques]
        refs = dbfile.get_array(reader._basepos, reader._typecode, reader._doccount)
        return list(map(names.__getitem__, refs))
    raise TypeError(f"not a sort or facet column: {reader!r}")


@dataclass
class CachedResult:
    """What one query matched: its candidates, the ones refuted so far, and their facets."""

    docnums: Sequence[int]
    rejected: set[int] = field(default_factory=set)
    exact: bool = True  # every candidate was checked against its text
    complete: bool = True  # docnums holds every candidate, not a sample
    estimate: int | None = None  # the estimated number of candidates, when not complete
    parts: tuple[tuple[int, int, float], ...] | None = None  # sample weights (index.sample)
    facets: dict[str, Counter] | None = None
    # Every candidate with its score, in document order, when one scoring pass listed them
    # all (then ranking needs no second pass over the index).
    scored: list[tuple[int, float]] | None = None


class ResultCache:
    """The last few queries' candidate sets, so turning a page does not search again."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._entries: OrderedDict[object, CachedResult] = OrderedDict()

    def get(self, key: object) -> CachedResult | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: object, entry: CachedResult) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
