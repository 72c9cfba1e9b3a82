"""Compare the index with the catalog: the same document and quote ids, each once.

The index is derived and disposable, so a difference is always mended by rebuilding it
from the catalog; this module only tells what differs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from index import layout
from index.build import engine_module

__all__ = ["IndexDiff", "compare", "indexed_ids"]


@dataclass(frozen=True)
class IndexDiff:
    """How the index differs from what the catalog says it should hold."""

    indexed: int  # records in the index
    missing: tuple[str, ...]  # ids the catalog has and the index lacks
    extra: tuple[str, ...]  # ids the index has and the catalog does not
    repeated: tuple[str, ...]  # ids the index holds more than once

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.repeated)


def indexed_ids(path: Path) -> Counter[str]:
    """Every record id in the live index at ``path``, with how often it appears."""
    live = layout.current(Path(path))
    if live is None:
        return Counter()
    return Counter(engine_module(layout.engine_of(live)).ids(live))


def compare(path: Path, documents: set[str], quotes: set[str]) -> IndexDiff:
    """The difference between the index at ``path`` and the catalog's document and quote
    ids (those it yields for indexing)."""
    found = indexed_ids(path)
    expected = documents | quotes
    return IndexDiff(
        indexed=sum(found.values()),
        missing=tuple(sorted(expected - found.keys())),
        extra=tuple(sorted(found.keys() - expected)),
        repeated=tuple(sorted(record for record, count in found.items() if count > 1)),
    )
