"""The Whoosh engine: write records into a Whoosh index, and search it.

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

Records that tie where a page ends are ordered by id (`WhooshSearch.tied`), read from the
tied records' stored fields, as long as the tied group is small (`index.search.MAX_TIED`).
"""

from __future__ import annotations

import heapq
import logging
import time
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import islice
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.index import Index
from whoosh.writing import IndexWriter

from index import plan as p
from index.build import index_fields
from index.codec import Codec
from index.compile import whoosh_query
from index.facets import CachedResult, ColumnCache, Columns, ResultCache
from index.hits import Pending, Records
from index.sample import sample, sample_listed
from index.schema import build_schema
from index.segments import write_segments
from index.text import fold
from index.textmatch import TextMatch

__all__ = [
    "ENGINE",
    "WhooshSearch",
    "build",
    "compile_plan",
    "create",
    "delete_document",
    "ids",
    "write",
]

log = logging.getLogger(__name__)

ENGINE = "whoosh"
MAX_PREFIX_EXPANSION = p.MAX_PREFIX_EXPANSION
VERIFY_ALL = 200  # phrase candidate sets up to this size are checked in full
VERIFY_BUDGET = 400  # candidates checked per search beyond that
SCORE_KNOWN = 5000  # up to this many known candidates are scored one by one
OPEN_ATTEMPTS = 5  # opening the index while other processes commit to it


def compile_plan(plan: p.Plan) -> wq.Query:
    """The Whoosh query of ``plan`` (for an index without word pairs): needs no index, so a
    plan it cannot compile is told from a shard that cannot be read."""
    return whoosh_query(plan)


def create(generation: Path) -> None:
    """Make an empty index in the empty folder ``generation``."""
    whoosh_index.create_in(str(generation), build_schema())


def _open(generation: Path) -> Index:
    attempt = 1
    while True:
        try:
            return whoosh_index.open_dir(str(generation))
        except FileNotFoundError:
            # Another process committed between our finding the latest table of contents
            # and reading it, and removed it: read the new one.
            if attempt == OPEN_ATTEMPTS:
                raise
            time.sleep(0.01 * attempt)
            attempt += 1


def write(
    generation: Path, records: Iterable[tuple[str, dict]], wait: float, drop: Iterable[str]
) -> int:
    """Add or replace records by id (see `index.build.Indexer.update`), after removing
    every record of the documents ``drop`` names; return how many were written."""
    writer = _open(generation).writer(codec=Codec(), timeout=wait)
    try:
        count = _write(writer, records, drop)
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    return count


def delete_document(generation: Path, document_id: str, wait: float) -> None:
    """Remove a document and all its quotes.

    A document that was never indexed (every new page a scrape finds) costs a term
    lookup, not a writer: opening one takes the lock and commits a new generation.
    """
    ix = _open(generation)
    with ix.reader() as reader:
        if ("document_id", document_id) not in reader:
            return
    writer = ix.writer(codec=Codec(), timeout=wait)
    try:
        writer.delete_by_term("document_id", document_id)
    except BaseException:
        writer.cancel()
        raise
    writer.commit()


def build(
    generation: Path, records: Iterable[tuple[str, dict]], procs: int, memory_mb: int
) -> Callable[[], None]:
    """Write ``records`` as a new index in the empty folder ``generation`` (`index.segments`);
    return the function that waits until they are written (at once: they are)."""
    ix = whoosh_index.create_in(str(generation), build_schema())
    write_segments(ix, (index_fields(kind, record) for kind, record in records), procs, memory_mb)
    return _written


def _written() -> None:
    """Nothing to wait for: `write_segments` published the segments before returning."""


def ids(generation: Path) -> Iterator[str]:
    """Every record id in the index (with repeats, if a record is there twice)."""
    reader = _open(generation).reader()
    try:
        for fields in reader.all_stored_fields():
            yield fields["id"]
    finally:
        reader.close()


def _write(writer: IndexWriter, records: Iterable[tuple[str, dict]], drop: Iterable[str]) -> int:
    """Add or replace records by id (see `Indexer.update`); return how many."""
    replaced: set[str] = set(drop)  # documents whose quotes were all deleted in this batch
    for document_id in replaced:
        writer.delete_by_term("document_id", document_id)
    # an index built before word pairs existed keeps working without them until rebuilt
    pairs = "text_pairs" in writer.schema
    count = 0
    for kind, record in records:
        fields = index_fields(kind, record)
        if not pairs:
            fields.pop("text_pairs", None)
        if fields["type"] == "document":
            writer.delete_by_term("document_id", fields["id"])
            replaced.add(fields["id"])
            writer.add_document(**fields)
        elif fields["document_id"] in replaced:
            # quote ids belong to one document, whose old quotes are already deleted:
            # no need for update_document's per-record term lookup
            writer.add_document(**fields)
        else:
            writer.update_document(**fields)
        count += 1
    return count


class WhooshSearch:
    """Searches one index generation; reopens it when a writer committed.

    ``warm``: read every segment's stored fields in when the index is opened (a long-lived
    searcher, as in the web server), rather than in the first search that shows a hit
    from it (0.2 s at 100,000 documents).
    """

    engine = ENGINE

    def __init__(self, generation: Path, records: Records, *, warm: bool = False) -> None:
        self._generation = generation
        self._records = records
        self._warm = warm
        self._column_cache = ColumnCache()
        self._results = ResultCache()
        self._searcher = _open(generation).searcher()
        self._opened()

    def refresh(self) -> bool:
        """Pick up a commit; return whether there was one."""
        if self._searcher.up_to_date():
            return False
        # Opened afresh, not Whoosh's refresh(): that reuses the reader of a segment
        # whose deletions changed since, and the replaced records were found twice.
        self._searcher.close()
        self._searcher = _open(self._generation).searcher()
        self._opened()
        return True

    def _opened(self) -> None:
        self._results.clear()
        reader = self._searcher.reader()
        self._column_cache.keep_only(reader)
        self._columns = Columns(reader, self._column_cache)
        for leaf, _ in reader.leaf_readers():
            # Whoosh copies a segment's stored fields into memory the first time one
            # is read: here, not in somebody's search
            if self._warm and leaf.doc_count_all():
                leaf.stored_fields(0)

    def close(self) -> None:
        self._searcher.close()
        self._results.clear()

    @property
    def records(self) -> int:
        return self._searcher.doc_count()

    @property
    def segments(self) -> int:
        return len(self._searcher.reader().leaf_readers())

    def prefix_count(self, field: str, prefix: str) -> int:
        """How many words of ``field`` begin with ``prefix``, up to one more than
        `MAX_PREFIX_EXPANSION`."""
        words = self._searcher.reader().expand_prefix(field, fold(prefix))
        return sum(1 for _ in islice(words, MAX_PREFIX_EXPANSION + 1))

    def _compiled(self, plan: p.Plan) -> wq.Query:
        return whoosh_query(plan, pairs="text_pairs" in self._searcher.schema)

    def search(
        self, plan: p.Plan, match: TextMatch, *, sort: str, count: int, facets: bool
    ) -> tuple[int, bool, list[tuple[float, Pending]], dict[str, Counter] | None]:
        """(total, total_is_exact, the first ``count`` (score, `Pending` stored fields),
        facet counts or None)."""
        compiled = self._compiled(plan)
        result = self._candidates(plan, compiled, match, complete=sort != "relevance")
        if facets and result.facets is None:
            result.facets = self._columns.facets(result.docnums, result.parts)
        ranked = self._ranked(compiled, sort, result, match, need=count)
        found = [self._pending(docnum, score, sort) for docnum, score in islice(ranked, count)]
        if result.complete:
            total = len(result.docnums) - len(result.rejected)
        else:
            total = max(result.estimate - len(result.rejected), len(found))
        exact = result.complete and result.exact
        return total, exact, found, result.facets if facets else None

    def tied(
        self,
        plan: p.Plan,
        match: TextMatch,
        *,
        sort: str,
        value: float,
        after: int,
        count: int,
        most: int,
    ) -> list[tuple[float, Pending]] | None:
        """Of the results whose sort value is ``value`` (a score, or a date in seconds),
        which ``after`` results rank before, the first ``count`` in order of id: the ones
        a page shows of a group of tied records (`index.search`); None when the group holds
        more than ``most`` records (each is read to be ordered). Phrases are checked, at
        most VERIFY_BUDGET beyond the page."""
        compiled = self._compiled(plan)
        result = self._candidates(plan, compiled, match, complete=sort != "relevance")
        group = self._group(compiled, sort, result, value, after + most + 1)
        if group is None or len(group) > most:
            return None
        read = self._searcher.stored_fields
        ordered = sorted(group, key=lambda docnum: read(docnum)["id"])
        score = value if sort == "relevance" else 0.0
        found = []
        for docnum in ordered[: count + (0 if result.exact else VERIFY_BUDGET)]:
            if result.exact or self._accepts(docnum, match):
                found.append(self._pending(docnum, score, sort))
                if len(found) == count:
                    break
            else:
                result.rejected.add(docnum)
        return found

    def _group(
        self, compiled: wq.Query, sort: str, result: CachedResult, value: float, ask: int
    ) -> list[int] | None:
        """The candidates whose sort value is ``value``, refuted ones left out: those of
        that date; or those of that score among the first ``ask`` ranked, None when the
        group goes on beyond them."""
        rejected = result.rejected
        if sort != "relevance":
            dates = self._columns.column("sort_date")
            return [d for d in result.docnums if dates[d] == value and d not in rejected]
        scored = self._top(compiled, sort, result, ask)
        if len(scored) == ask and scored[-1][1] == value:
            return None
        return [d for d, score in scored if score == value and d not in rejected]

    def _pending(self, docnum: int, score: float, sort: str) -> tuple[float, Pending]:
        """A result, its stored fields read when needed (its date is the sort column's)."""
        date = None if sort == "relevance" else self._columns.column("sort_date")[docnum]
        return score, Pending(partial(self._searcher.stored_fields, docnum), date)

    def every_hit(self, plan: p.Plan, match: TextMatch, sort: str) -> Iterator[tuple[float, dict]]:
        """Every result as (score, stored fields), in order, phrases checked."""
        compiled = self._compiled(plan)
        result = self._candidates(plan, compiled, match, complete=True)
        for docnum, score in self._top(compiled, sort, result, max(len(result.docnums), 1)):
            if docnum in result.rejected:
                continue
            if not result.exact and not self._accepts(docnum, match):
                continue
            yield score, self._searcher.stored_fields(docnum)

    def _candidates(
        self, plan: p.Plan, compiled: wq.Query, match: TextMatch, *, complete: bool
    ) -> CachedResult:
        """The candidates of a query: all of them if ``complete``, else a sample."""
        key = plan  # not the query: phrases that differ only in stop words share one
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
        return self._records.accepts(self._searcher.stored_fields(docnum), match)
