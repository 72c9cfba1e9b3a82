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
    broken: tuple[tuple[str, str], ...] = ()  # (shard, why it cannot be read)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.repeated or self.broken)


def indexed_ids(path: Path) -> tuple[Counter[str], tuple[tuple[str, str], ...]]:
    """Every record id in the live index at ``path``, with how often it appears, and the
    shards that could not be read (their ids are then missing)."""
    live = layout.current(Path(path))
    if live is None:
        return Counter(), ()
    engine = engine_module(layout.engine_of(live))
    found: Counter[str] = Counter()
    broken = []
    for shard, (folder, _) in layout.shards(live).items():
        try:
            found.update(engine.ids(folder))
        except Exception as exc:  # a damaged shard is reported, and the others read
            broken.append((shard, f"{type(exc).__name__}: {exc}"))
    return found, tuple(broken)


def compare(path: Path, documents: set[str], quotes: set[str]) -> IndexDiff:
    """The difference between the index at ``path`` and the catalog's document and quote
    ids (those it yields for indexing)."""
    found, broken = indexed_ids(path)
    live = layout.current(Path(path))
    shards = layout.shards(live) if live is not None else {}
    unread = {kind for shard, _ in broken for kind in shards[shard][1]}
    # the records of a shard that cannot be read are reported as the shard, not one by one
    expected = (set() if "document" in unread else documents) | (
        set() if "quote" in unread else quotes
    )
    return IndexDiff(
        indexed=sum(found.values()),
        missing=tuple(sorted(expected - found.keys())),
        extra=tuple(sorted(found.keys() - documents - quotes)),
        repeated=tuple(sorted(record for record, count in found.items() if count > 1)),
        broken=broken,
    )
