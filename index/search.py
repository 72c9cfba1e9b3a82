"""Search the index: parse, find candidates, check phrases, rank, facet and highlight.

One Whoosh searcher is opened and reused; each search first makes the cheap check of
whether the index changed (a published rebuild, or a commit) and reopens only then.

A search runs in two passes. The first finds the candidates without scoring them, for the
total and the facets: for relevance order a sample spread over the index (`index.sample`),
exact for up to a few thousand matches and estimated beyond (``total_is_exact`` says
which), for date order every candidate. The second ranks: Whoosh's top-N collector for
relevance, or the in-memory date column for date order. Phrase candidates are checked
against their exact words: all of them when there are few, otherwise as the page is filled
(the total then counts candidates).

Queries with phrases are the exception for relevance order: Whoosh's collector would visit
and score every one of their matches anyway (comparing positions leaves no block to skip),
so one scoring pass lists them all, the sample is taken from that list
(`index.sample.sample_listed`, the same sample as read from the index) and the ranking is
taken from the scores already computed.
"""

from __future__ import annotations

import heapq
import html
import logging
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.searching import Searcher as WhooshSearcher

from index import layout
from index.compile import TYPES, compile_query
from index.facets import CachedResult, ColumnCache, Columns, ResultCache
from index.query import And, Node, Not, Or, QueryError, Word, parse
from index.sample import sample, sample_listed
from index.schema import fold
from index.textmatch import TextMatch

__all__ = ["Hit", "QueryError", "SearchResults", "Searcher"]

log = logging.getLogger(__name__)

SORTS = ("relevance", "date", "date_asc")
MAX_PAGE_SIZE = 200
MAX_PREFIX_EXPANSION = 1000
VERIFY_ALL = 200  # phrase candidate sets up to this size are checked in full
VERIFY_BUDGET = 400  # candidates checked per search beyond that
SCORE_KNOWN = 5000  # up to this many known candidates are scored one by one
_PREFIX_FIELDS = {"quote": ("text", "speaker"), "document": ("title", "body")}


@dataclass(frozen=True)
class Hit:
    """One quote or document found; ``snippet`` is safe HTML with matches in ``<mark>``."""

    type: str
    id: str
    score: float
    text: str
    snippet: str
    speaker: str | None
    role: str | None
    anonymous: bool
    publisher: str | None
    via: str | None
    kind: str | None
    published: datetime | None
    captured: datetime
    url: str
    document_id: str
    title: str | None


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


class Searcher:
    """Read-only access to the index at ``path``.

    ``text_loader(document_id)`` returns a document's body text; bodies are not stored in
    the index, so without it document snippets come from the title and lead, and phrase
    candidates among documents are checked against their titles only.

    ``warm``: read every segment's stored fields in when the index is opened (a long-lived
    searcher, as in the web server), rather than in the first search that shows a hit
    from it (0.2 s at 100,000 documents).
    """

    def __init__(
        self,
        path: Path,
        text_loader: Callable[[str], str | None] | None = None,
        *,
        warm: bool = False,
    ) -> None:
        self._root = Path(path)
        self._text_loader = text_loader
        self._warm = warm
        self._live: Path | None = None
        self._searcher: WhooshSearcher | None = None
        self._column_cache = ColumnCache()
        self._columns: Columns | None = None
        self._results = ResultCache()
        self.refresh()

    def refresh(self) -> None:
        """Pick up a rebuilt or updated index; cheap when nothing changed."""
        live = layout.current(self._root)
        if live != self._live:
            self.close()
            if live is not None:
                self._searcher = whoosh_index.open_dir(str(live)).searcher()
                self._live = live
                log.debug("opened index generation %s", live.name)
        elif self._searcher is not None and not self._searcher.up_to_date():
            # Opened afresh, not Whoosh's refresh(): that reuses the reader of a segment
            # whose deletions changed since, and the replaced records were found twice.
            self._searcher.close()
            self._searcher = whoosh_index.open_dir(str(live)).searcher()
        else:
            return
        self._results.clear()
        if self._searcher is not None:
            reader = self._searcher.reader()
            self._column_cache.keep_only(reader)
            self._columns = Columns(reader, self._column_cache)
            for leaf, _ in reader.leaf_readers():
                # Whoosh copies a segment's stored fields into memory the first time one
                # is read: here, not in somebody's search
                if self._warm and leaf.doc_count_all():
                    leaf.stored_fields(0)

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
        self._searcher = self._columns = self._live = None
        self._results.clear()

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
        if type is not None and type not in TYPES:
            raise ValueError(f"type must be one of {TYPES} or None, not {type!r}")
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {SORTS}, not {sort!r}")
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"bad page {page} or page size {page_size}")
        node = parse(query)
        types = TYPES if type is None else (type,)
        self.refresh()
        pairs = self._searcher is not None and "text_pairs" in self._searcher.schema
        compiled = compile_query(node, types, pairs=pairs)
        if self._searcher is None or compiled is wq.NullQuery:
            return SearchResults(query, 0, page, page_size, (), _empty_facets(facets))
        self._check_prefixes(node, types)
        match = TextMatch(node)
        result = self._candidates(compiled, types, match, complete=sort != "relevance")
        if facets and result.facets is None:
            result.facets = self._columns.facets(result.docnums, result.parts)
        start = (page - 1) * page_size
        ranked = self._ranked(compiled, sort, result, match, need=start + page_size)
        hits = tuple(
            self._hit(docnum, score, match if highlight else TextMatch(None))
            for docnum, score in islice(ranked, start, start + page_size)
        )
        if result.complete:
            total = len(result.docnums) - len(result.rejected)
        else:
            total = max(result.estimate - len(result.rejected), start + len(hits))
        return SearchResults(
            query,
            total,
            page,
            page_size,
            hits,
            result.facets if facets else {},
            total_is_exact=result.complete and result.exact,
        )

    def every_hit(
        self, query: str, *, type: str | None = None, sort: str = "relevance"
    ) -> Iterator[Hit]:
        """Every result of a search, in order, one at a time and without highlights (an
        export: no page size, no verification budget; hits are made as they are read)."""
        if type is not None and type not in TYPES:
            raise ValueError(f"type must be one of {TYPES} or None, not {type!r}")
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {SORTS}, not {sort!r}")
        node = parse(query)
        types = TYPES if type is None else (type,)
        self.refresh()
        if self._searcher is None:
            return
        pairs = "text_pairs" in self._searcher.schema
        compiled = compile_query(node, types, pairs=pairs)
        if compiled is wq.NullQuery:
            return
        self._check_prefixes(node, types)
        match = TextMatch(node)
        result = self._candidates(compiled, types, match, complete=True)
        plain = TextMatch(None)
        for docnum, score in self._top(compiled, sort, result, max(len(result.docnums), 1)):
            if docnum in result.rejected:
                continue
            if not result.exact and not self._accepts(docnum, match):
                continue
            yield self._hit(docnum, score, plain)

    def _candidates(
        self, compiled: wq.Query, types: tuple[str, ...], match: TextMatch, *, complete: bool
    ) -> CachedResult:
        """The candidates of a query: all of them if ``complete``, else a sample."""
        key = (compiled, types)
        cached = self._results.get(key)
        if cached is not None and (cached.complete or not complete):
            return cached
        if complete:
            result = CachedResult(array("i", self._searcher.docs_for_query(compiled)))
        else:
            scored = self._score_all(compiled) if match.has_phrases else None
            if scored is None:
                found = sample(self._searcher, compiled)
            else:
                listed = array("i", (docnum for docnum, _ in scored))
                found = sample_listed(listed, self._searcher.doc_count_all())
            result = CachedResult(found.docnums, complete=found.exact, estimate=found.estimate)
            result.parts = None if found.exact else found.parts
            result.scored = scored  # ranked from these scores: no second pass
        result.exact = not match.has_phrases
        if match.has_phrases and result.complete and len(result.docnums) <= VERIFY_ALL:
            result.docnums = array("i", (d for d in result.docnums if self._accepts(d, match)))
            result.exact = True
            if result.scored is not None:
                kept = set(result.docnums)
                result.scored = [pair for pair in result.scored if pair[0] in kept]
        self._results.put(key, result)
        return result

    def _ranked(
        self, compiled: wq.Query, sort: str, result: CachedResult, match: TextMatch, need: int
    ) -> Iterator[tuple[int, float]]:
        """Yield (docnum, score) in the requested order, refuting phrase candidates on the
        way; asks the index for more whenever refuted candidates leave the page short.

        At most VERIFY_BUDGET candidates are checked per search: a phrase of mostly stop
        words can have thousands of candidates, and a short page beats a slow one."""
        # Unchecked candidates: ask once for as many as could be checked, since each ask
        # runs the whole query again (with phrases, comparing positions in every record
        # that has their words).
        limit = need if result.exact else need + len(result.rejected) + VERIFY_BUDGET
        seen: set[int] = set()
        budget = VERIFY_BUDGET
        while True:
            top = self._top(compiled, sort, result, limit)
            for docnum, score in top:
                if docnum in seen or docnum in result.rejected:
                    continue
                seen.add(docnum)
                if result.exact:
                    yield docnum, score
                    continue
                if budget == 0:
                    return
                budget -= 1
                if self._accepts(docnum, match):
                    yield docnum, score
                else:
                    result.rejected.add(docnum)
            if len(top) < limit:
                return  # every candidate was seen
            limit *= 4

    def _top(
        self, compiled: wq.Query, sort: str, result: CachedResult, limit: int
    ) -> list[tuple[int, float]]:
        if sort == "relevance":
            if result.scored is not None:
                rejected = result.rejected
                best = heapq.nsmallest(
                    limit, ((-score, d) for d, score in result.scored if d not in rejected)
                )
                return [(docnum, -score) for score, docnum in best]
            if result.complete and len(result.docnums) <= SCORE_KNOWN:
                return self._score_known(compiled, result, limit)
            mask = result.rejected or None
            top = self._searcher.search(compiled, limit=limit, mask=mask).top_n
            return [(docnum, score) for score, docnum in top]
        newest = self._columns.newest(result.docnums, limit, oldest=sort == "date_asc")
        return [(docnum, 0.0) for docnum in newest]

    def _score_known(
        self, compiled: wq.Query, result: CachedResult, limit: int
    ) -> list[tuple[int, float]]:
        """The top ``limit`` of candidates already listed, scored by jumping straight to
        each: for a phrase, positions are then compared in those records only, not in
        every record that has all its words. Same scores and order as Whoosh's collector
        (ties go to the lower document number)."""
        searcher = self._searcher
        context = searcher.context()
        docnums = sorted(set(result.docnums) - result.rejected)
        scored = []
        for leaf, offset in searcher.leaf_searchers():
            low = bisect_left(docnums, offset)
            high = bisect_left(docnums, offset + leaf.doc_count_all(), low)
            if low == high:
                continue
            matcher = compiled.matcher(leaf, context)
            for docnum in islice(docnums, low, high):
                if not matcher.is_active():
                    break
                if matcher.id() < docnum - offset:
                    matcher.skip_to(docnum - offset)
                if matcher.is_active() and matcher.id() == docnum - offset:
                    scored.append((-matcher.score(), docnum))
        return [(docnum, -score) for score, docnum in heapq.nsmallest(limit, scored)]

    def _score_all(self, compiled: wq.Query) -> list[tuple[int, float]]:
        """Every match of ``compiled`` with its score, in document order: one pass that
        serves both the count (`sample_listed`) and the ranking. For queries whose matches
        Whoosh's collector would visit one by one anyway (phrases compare positions in
        every record with their words; no block can be skipped). Same scores as the
        collector's."""
        searcher = self._searcher
        context = searcher.context()
        scored = []
        append = scored.append
        for leaf, offset in searcher.leaf_searchers():
            matcher = compiled.matcher(leaf, context)
            while matcher.is_active():
                append((matcher.id() + offset, matcher.score()))
                matcher.next()
        return scored

    def _accepts(self, docnum: int, match: TextMatch) -> bool:
        stored = self._searcher.stored_fields(docnum)
        if stored["type"] == "quote":
            return match.accepts([stored.get("text"), stored.get("speaker")])
        body = self._text_loader(stored["id"]) if self._text_loader else None
        return match.accepts([stored.get("title"), body])

    def _hit(self, docnum: int, score: float, match: TextMatch) -> Hit:
        stored = self._searcher.stored_fields(docnum)
        published = stored.get("published")
        if stored["type"] == "quote":
            text = stored["text"]
            snippet = match.snippet(text)
        else:
            text = stored.get("title") or stored.get("lead") or ""
            snippet = self._document_snippet(stored, match)
        return Hit(
            type=stored["type"],
            id=stored["id"],
            score=score,
            text=text,
            snippet=snippet,
            speaker=stored.get("speaker") or None,
            role=stored.get("role") or None,
            anonymous=bool(stored.get("anonymous")),
            publisher=stored.get("publisher") or None,
            via=stored.get("via") or None,
            kind=stored.get("kind") or None,
            published=datetime.fromisoformat(published) if published else None,
            captured=datetime.fromisoformat(stored["captured"]),
            url=stored["url"],
            document_id=stored["document_id"],
            title=stored.get("title") or stored.get("document_title") or None,
        )

    def _document_snippet(self, stored: dict, match: TextMatch) -> str:
        body = self._text_loader(stored["id"]) if self._text_loader else None
        body = body or stored.get("lead") or ""
        snippet = match.snippet(body)
        title = stored.get("title") or ""
        if "<mark>" not in snippet and title:
            titled = match.snippet(title)
            if "<mark>" in titled:
                return titled
        return snippet or html.escape(title)

    def _check_prefixes(self, node: Node | None, types: tuple[str, ...]) -> None:
        reader = self._searcher.reader()
        for prefix in _prefixes(node):
            for record_type in types:
                for field in _PREFIX_FIELDS[record_type]:
                    words = reader.expand_prefix(field, fold(prefix))
                    if sum(1 for _ in islice(words, MAX_PREFIX_EXPANSION + 1)) > (
                        MAX_PREFIX_EXPANSION
                    ):
                        raise QueryError(
                            f"'{prefix}*' matches too many words; type a few more letters"
                        )


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
