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

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from index import layout
from index import plan as p
from index.build import engine_module
from index.hits import Hit, Records
from index.query import And, Node, Not, Or, QueryError, Word, parse
from index.textmatch import TextMatch

__all__ = ["Hit", "IndexStatus", "QueryError", "SearchResults", "Searcher"]

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


@dataclass(frozen=True)
class IndexStatus:
    """What `Searcher.status` reports: the live generation, its engine and its size."""

    engine: str | None  # None: no index yet
    generation: str | None
    records: int
    segments: int


class Searcher:
    """Read-only access to the index at ``path``.

    ``text_loader(document_id)`` returns a document's body text; bodies are not stored in
    the index, so without it document snippets come from the title and lead, and phrase
    candidates among documents are checked against their titles only.

    ``warm``: load what the first searches would otherwise load (a long-lived searcher,
    as in the web server).
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
        self._engine = None
        self.refresh()

    def refresh(self) -> None:
        """Pick up a rebuilt or updated index; cheap when nothing changed."""
        live = layout.current(self._root)
        if live != self._live:
            self.close()
            if live is not None:
                self._engine = _open(live, self._records, self._warm)
                self._live = live
                log.debug("opened index generation %s (%s)", live.name, self._engine.engine)
        elif self._engine is not None:
            self._engine.refresh()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
        self._engine = self._live = None

    def status(self) -> IndexStatus:
        self.refresh()
        if self._engine is None:
            return IndexStatus(None, None, 0, 0)
        return IndexStatus(
            self._engine.engine, self._live.name, self._engine.records, self._engine.segments
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
        node, plan = self._plan(query, type, sort)
        if self._engine is None or plan is p.NOTHING:
            return SearchResults(query, 0, page, page_size, (), _empty_facets(facets))
        self._check_prefixes(node, type)
        total, exact, hits, counted = self._engine.search(
            plan,
            TextMatch(node),
            sort=sort,
            start=(page - 1) * page_size,
            count=page_size,
            facets=facets,
            highlight=highlight,
        )
        return SearchResults(
            query, total, page, page_size, tuple(hits), counted, total_is_exact=exact
        )

    def every_hit(
        self, query: str, *, type: str | None = None, sort: str = "relevance"
    ) -> Iterator[Hit]:
        """Every result of a search, in order, one at a time and without highlights (an
        export: no page size, no verification budget; hits are made as they are read)."""
        node, plan = self._plan(query, type, sort)
        if self._engine is None or plan is p.NOTHING:
            return
        self._check_prefixes(node, type)
        yield from self._engine.every_hit(plan, TextMatch(node), sort)

    def _plan(self, query: str, type: str | None, sort: str) -> tuple[Node | None, p.Plan]:
        if type is not None and type not in TYPES:
            raise ValueError(f"type must be one of {TYPES} or None, not {type!r}")
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {SORTS}, not {sort!r}")
        node = parse(query)
        plan = p.plan_query(node, TYPES if type is None else (type,))
        self.refresh()
        return node, plan

    def _check_prefixes(self, node: Node | None, type: str | None) -> None:
        types = TYPES if type is None else (type,)
        prefix = self._engine.check_prefixes(list(_prefixes(node)), types)
        if prefix is not None:
            raise QueryError(f"'{prefix}*' matches too many words; type a few more letters")


def _open(generation: Path, records: Records, warm: bool):
    engine = layout.engine_of(generation)
    module = engine_module(engine)
    if engine == "whoosh":
        return module.WhooshSearch(generation, records, warm=warm)
    return module.TantivySearch(generation, records)


def _prefixes(node: Node | None) -> Iterator[str]:
    match node:
        case Word(text=text, prefix=True):
            yield text
        case And(children=children) | Or(children=children):
            for child in children:
                yield from _prefixes(child)
        case Not(child=child):
            yield from _prefixes(child)


def _empty_facets(facets: bool) -> dict[str, list[tuple[str, int]]]:
    return {"speaker": [], "publisher": [], "kind": [], "month": []} if facets else {}
