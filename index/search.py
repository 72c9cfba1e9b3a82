"""Search the index: parse, plan, then let the live generation's engine find, rank, count,
facet and highlight.

What is the same for every engine lives here and beside it: the query language
(`index.query`), the plan of what a query looks for (`index.plan`), the word-for-word check
of phrases and the highlights (`index.textmatch`), hits made from stored fields and the
facet model (`index.hits`). The engine (`index.whoosh_engine`, `index.tantivy_engine`) is
the one that wrote the live generation (`index.layout`); a rebuild with another engine is
picked up like any other.
"""

from __future__ import annotations

import heapq
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from index import layout
from index import plan as p
from index.build import engine_module
from index.hits import Hit, Pending, Records, dated, top_facets
from index.query import Node, QueryError, parse, prefixes
from index.textmatch import TextMatch

__all__ = [
    "Hit",
    "IndexStatus",
    "QueryError",
    "SearchResults",
    "Searcher",
    "ShardStatus",
    "ShardUnavailable",
]

log = logging.getLogger(__name__)

SORTS = ("relevance", "date", "date_asc")
MAX_PAGE_SIZE = 200
TYPES = p.TYPES


@dataclass(frozen=True)
class SearchResults:
    """One page of results; ``facets`` maps speaker, publisher, kind and month ("2026-11")
    to (value, count) pairs over all results (empty when facets were not asked for).

    ``total`` and the facet counts are estimates when ``total_is_exact`` is false (a big
    result set, counted from a sample, or phrase candidates not all checked)."""

    query: str
    total: int
    page: int
    page_size: int
    hits: tuple[Hit, ...]
    facets: dict[str, list[tuple[str, int]]]
    total_is_exact: bool = True
    unavailable: tuple[str, ...] = ()  # shards that could not be searched (see status)


@dataclass(frozen=True)
class ShardStatus:
    """One shard of the live index: its records and segments, or why it cannot be read."""

    name: str
    records: int
    segments: int
    error: str | None = None


@dataclass(frozen=True)
class IndexStatus:
    """What `Searcher.status` reports: the live generation, its engine and its shards."""

    engine: str | None  # None: no index yet
    generation: str | None
    shards: tuple[ShardStatus, ...] = ()

    @property
    def records(self) -> int:
        return sum(shard.records for shard in self.shards)

    @property
    def broken(self) -> tuple[ShardStatus, ...]:
        return tuple(shard for shard in self.shards if shard.error is not None)


class Searcher:
    """Read-only access to the index at ``path``.

    ``text_loader(document_id)`` returns a document's body text; bodies are not stored in
    the index, so without it document snippets come from the title and lead, and phrase
    candidates among documents are checked against their titles only.

    ``warm``: load what the first searches would otherwise load (a long-lived searcher,
    as in the web server).

    A shard that cannot be opened or searched is left out (and logged): searches of the
    other shards go on, their totals marked inexact, and `status` names what is wrong.
    """

    def __init__(
        self,
        path: Path,
        text_loader: Callable[[str], str | None] | None = None,
        *,
        warm: bool = False,
    ) -> None:
        self._root = Path(path)
        self._records = Records(text_loader)
        self._warm = warm
        self._live: Path | None = None
        self._engine: str | None = None
        self._shards: dict[str, _Shard] = {}
        self.refresh()

    def refresh(self) -> None:
        """Pick up a rebuilt or updated index; cheap when nothing changed."""
        live = layout.current(self._root)
        if live != self._live:
            self.close()
            if live is not None:
                self._engine = layout.engine_of(live)
                self._shards = {
                    name: _Shard(name, path, types)
                    for name, (path, types) in layout.shards(live).items()
                }
                self._live = live
                log.debug("opened index generation %s (%s)", live.name, self._engine)
        for shard in self._shards.values():
            shard.refresh(self._engine, self._records, self._warm)

    def close(self) -> None:
        for shard in self._shards.values():
            shard.close()
        self._shards = {}
        self._engine = self._live = None

    def status(self) -> IndexStatus:
        self.refresh()
        if self._live is None:
            return IndexStatus(None, None)
        return IndexStatus(
            self._engine,
            self._live.name,
            tuple(shard.status() for shard in self._shards.values()),
        )

    def search(
        self,
        query: str,
        *,
        type: str | None = None,
        sort: str = "relevance",
        page: int = 1,
        page_size: int = 20,
        facets: bool = True,
        highlight: bool = True,
    ) -> SearchResults:
        """Search quotes and documents (or one ``type``); raise QueryError for bad queries."""
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"bad page {page} or page size {page_size}")
        node, types = self._parse(query, type, sort)
        plans = self._plans(node, types)
        if not plans:
            return SearchResults(query, 0, page, page_size, (), _empty_facets(facets))
        self._check_prefixes(node, types, plans)
        with self._records.remembering():
            return self._search(query, node, plans, sort, page, page_size, facets, highlight)

    def _search(
        self,
        query: str,
        node: Node | None,
        plans: list[tuple[_Shard, p.Plan]],
        sort: str,
        page: int,
        page_size: int,
        facets: bool,
        highlight: bool,
    ) -> SearchResults:
        match = TextMatch(node)
        need = page * page_size
        total, exact, found, counts, unavailable = 0, True, [], {}, []
        for shard, plan in plans:
            try:
                answer = _first(shard, plan, match, sort, need, facets)
            except _Unreadable:
                exact = False
                unavailable.append(shard.name)
                continue
            total += answer[0]
            exact = exact and answer[1]
            found += answer[2]
            for facet, counted in (answer[3] or {}).items():
                counts[facet] = counts.get(facet, Counter()) + counted
        found = _page(found, sort, (page - 1) * page_size, need)
        shown = match if highlight else TextMatch(None)
        hits = tuple(self._records.hit(record.stored, score, shown) for score, record in found)
        return SearchResults(
            query,
            total,
            page,
            page_size,
            hits,
            top_facets(counts) if facets else {},
            total_is_exact=exact,
            unavailable=tuple(unavailable),
        )

    def every_hit(
        self, query: str, *, type: str | None = None, sort: str = "relevance"
    ) -> Iterator[Hit]:
        """Every result of a search, in order, one at a time and without highlights (an
        export: no page size, no verification budget; hits are made as they are read).
        Raises `ShardUnavailable` when a shard it needs cannot be read: an export is
        complete or refused."""
        node, types = self._parse(query, type, sort)
        plans = self._plans(node, types)
        if not plans:
            return
        self._check_prefixes(node, types, plans)
        match, plain = TextMatch(node), TextMatch(None)
        streams = [shard.every_hit(plan, match, sort) for shard, plan in plans]
        for score, stored in heapq.merge(*streams, key=_sort_key(sort)):
            yield self._records.hit(stored, score, plain)

    def _parse(self, query: str, type: str | None, sort: str) -> tuple[Node | None, tuple]:
        if type is not None and type not in TYPES:
            raise ValueError(f"type must be one of {TYPES} or None, not {type!r}")
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {SORTS}, not {sort!r}")
        node = parse(query)
        types = TYPES if type is None else (type,)
        p.plan_query(node, types)  # refuses a query of stop words, with or without an index
        self.refresh()
        return node, types

    def _plans(self, node: Node | None, types: tuple[str, ...]) -> list[tuple[_Shard, p.Plan]]:
        """Each shard that holds some of ``types``, with its plan (none that cannot match)."""
        plans = []
        for shard in self._shards.values():
            wanted = tuple(t for t in types if t in shard.types)
            if wanted:
                plan = p.plan_query(node, wanted)
                if plan is not p.NOTHING:
                    self._compiles(plan)
                    plans.append((shard, plan))
        return plans

    def _compiles(self, plan: p.Plan) -> None:
        """Refuse a plan the engine cannot compile, before any shard is searched: a shard
        that fails is set aside as damaged, which a query should never cause."""
        try:
            engine_module(self._engine).compile_plan(plan)
        except (ValueError, OverflowError) as exc:
            log.warning("query plan %r cannot be compiled: %s", plan, exc)
            raise QueryError(f"the query cannot be run ({exc})") from None

    def _check_prefixes(
        self, node: Node | None, types: tuple[str, ...], plans: list[tuple[_Shard, p.Plan]]
    ) -> None:
        """Refuse wildcards that expand to too many words, one by one or all together."""
        wanted = list(dict.fromkeys(prefixes(node)))
        if not wanted:
            return
        for shard, _ in plans:
            try:
                counts = shard.prefix_counts(wanted, types)
            except _Unreadable:
                continue
            for prefix, count in zip(wanted, counts, strict=True):
                if count > p.MAX_PREFIX_EXPANSION:
                    raise QueryError(f"'{prefix}*' matches too many words; type a few more letters")
            if sum(counts) > p.MAX_EXPANSIONS:
                wildcards = ", ".join(f"{prefix}*" for prefix in wanted)
                raise QueryError(
                    f"the wildcards {wildcards} match too many words together "
                    f"(more than {p.MAX_EXPANSIONS:,}); type a few more letters or use fewer"
                )


class ShardUnavailable(RuntimeError):
    """A shard of the index cannot be read; ``onrecord reindex`` rebuilds it."""


class _Unreadable(ShardUnavailable):
    pass


class _Shard:
    """One shard's engine, reopened when it changed, and set aside while it cannot be read
    (tried again at each refresh)."""

    def __init__(self, name: str, path: Path, types: tuple[str, ...]) -> None:
        self.name = name
        self.path = path
        self.types = types
        self.engine = None
        self.error: str | None = None

    def refresh(self, engine: str, records: Records, warm: bool) -> None:
        try:
            if self.engine is None:
                self.engine = _open(engine, self.path, records, warm)
            else:
                self.engine.refresh()
            self.error = None
        except Exception as exc:  # a damaged shard: reported, and the others answer
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"
        if message != self.error:
            log.error("index shard %s cannot be read: %s", self.path, message)
        self.error = message
        self.close()

    def close(self) -> None:
        if self.engine is not None:
            try:
                self.engine.close()
            except Exception as exc:  # closing a damaged shard may fail too
                log.debug("closing shard %s: %s", self.name, exc)
        self.engine = None

    def status(self) -> ShardStatus:
        if self.engine is None:
            return ShardStatus(self.name, 0, 0, self.error or "not opened")
        try:
            return ShardStatus(self.name, self.engine.records, self.engine.segments)
        except Exception as exc:  # damaged after it was opened
            self._failed(exc)
            return ShardStatus(self.name, 0, 0, self.error)

    def prefix_counts(self, prefixes: list[str], types: tuple[str, ...]) -> list[int]:
        """How many words each prefix expands to, in the text field of ``types`` where it
        expands to most (counted up to one more than `MAX_PREFIX_EXPANSION`)."""
        fields = [f for t in types if t in self.types for f, _ in p.TEXT_FIELDS[t]]

        def counts(engine) -> list[int]:
            return [
                max((engine.prefix_count(f, prefix) for f in fields), default=0)
                for prefix in prefixes
            ]

        return self._call(counts)

    def search(self, plan: p.Plan, match: TextMatch, **options):
        return self._call(lambda engine: engine.search(plan, match, **options))

    def tied(self, plan: p.Plan, match: TextMatch, **options):
        return self._call(lambda engine: engine.tied(plan, match, **options))

    def every_hit(self, plan: p.Plan, match: TextMatch, sort: str) -> Iterator:
        if self.engine is None:
            raise ShardUnavailable(f"the index shard {self.name} cannot be read: {self.error}")
        return self.engine.every_hit(plan, match, sort)

    def _call(self, run):
        if self.engine is None:
            raise _Unreadable(self.error)
        try:
            return run(self.engine)
        except QueryError:
            raise
        except Exception as exc:  # a damaged segment found while searching
            log.exception("searching index shard %s failed", self.name)
            self._failed(exc)
            raise _Unreadable(self.error) from exc


def _open(engine: str, path: Path, records: Records, warm: bool):
    module = engine_module(engine)
    if engine == "whoosh":
        return module.WhooshSearch(path, records, warm=warm)
    return module.TantivySearch(path, records)


def _sort_key(sort: str) -> Callable[[tuple[float, dict]], float]:
    """The order of (score, stored fields) pairs from several shards (ties keep the order
    of the shards: documents before quotes, as one index numbers them)."""
    if sort == "relevance":
        return lambda found: -found[0]
    sign = 1 if sort == "date_asc" else -1
    return lambda found: sign * dated(found[1])


# The most records of one tied group that are read to be put in order of id. Beyond, the
# engine's own order of them stands: a page cut inside such a group may repeat some of
# them on the next page and leave others out, where putting them in order would cost
# more than the page (many copies of one wire story all score the same).
MAX_TIED = 500


def _first(
    shard: _Shard, plan: p.Plan, match: TextMatch, sort: str, count: int, facets: bool
) -> tuple:
    """The shard's answer (total, exactness, results, facet counts) with its first
    ``count`` results in the order of the pages (`_page`): by sort key, ties by id.

    An engine ranks records that tie by its own record numbers, so when a group of tied
    records straddles the cut, which of them it keeps depends on where the cut is: pages
    cut at different places would show some records twice and others never. The group is
    then asked for again (`tied`): the engine finds the records of that score or date and
    keeps the first by id, ordering a big group by an id it can sort on (`tied` in
    `index.whoosh_engine` and `index.tantivy_engine`), not by reading every record,
    unless it is too big for that (`MAX_TIED`)."""
    total, exact, found, counts = shard.search(
        plan, match, sort=sort, count=count + 1, facets=facets
    )
    key = _key(sort)
    if len(found) > count and key(found[count]) == key(found[count - 1]):
        cut = key(found[count])
        before = [pair for pair in found if key(pair) != cut]  # the engine ranked them first
        value = found[count][0] if sort == "relevance" else found[count][1].date
        more = count - len(before)
        tied = shard.tied(
            plan, match, sort=sort, value=value, after=len(before), count=more, most=MAX_TIED
        )
        if tied is not None:
            found = before + tied
    return total, exact, found[:count], counts


def _page(
    found: list[tuple[float, Pending]], sort: str, start: int, stop: int
) -> list[tuple[float, Pending]]:
    """Results ``start`` to ``stop`` in order, ties going by id: two indexes holding the
    same records (two web nodes, one rebuilt) show the same page, whatever order their
    records were written in, and pages of any size divide the results between them, each
    record on one page (each shard offers its first ``stop`` in this order: `_first`).
    Only records tied with others at the page's edges are read to be ordered."""
    key = _key(sort)
    ranked = sorted(found, key=key)
    ordered, at = [], 0
    while at < min(stop, len(ranked)):
        end = at + 1
        while end < len(ranked) and key(ranked[end]) == key(ranked[at]):
            end += 1
        tied = ranked[at:end]
        if len(tied) > 1 and end > start:
            tied.sort(key=lambda pair: pair[1].stored["id"])
        ordered += tied
        at = end
    return ordered[start:stop]


def _key(sort: str) -> Callable[[tuple[float, Pending]], float]:
    """The sort key of a (score, `Pending`) result (ties then go by id)."""
    return _by_score if sort == "relevance" else partial(_by_date, 1 if sort == "date_asc" else -1)


def _by_score(found: tuple[float, Pending]) -> float:
    return -found[0]


def _by_date(sign: int, found: tuple[float, Pending]) -> int:
    return sign * found[1].date


def _empty_facets(facets: bool) -> dict[str, list[tuple[str, int]]]:
    return {"speaker": [], "publisher": [], "kind": [], "month": []} if facets else {}
