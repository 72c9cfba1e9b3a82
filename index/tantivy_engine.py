"""The tantivy engine: the same records, query plans, checks and answers as the Whoosh one,
for archives of millions of records. The only module that imports tantivy.

Text is analysed inside tantivy, as close to `index.text` as its filters allow: words are
split at anything but letters and digits (tantivy's fastest tokenizer), once the
apostrophes inside words are settled as `index.text.words` settles them (`_joined`: a
possessive dropped, ``don't`` one word); they are lower-cased and folded to ASCII, and
the text fields stemmed by Snowball's English stemmer (Whoosh uses Porter's: the two agree
on most words; each engine stems queries as it stemmed its text). Unlike Whoosh's, these
fields keep the stop words: a word is never looked up alone if it is one (`index.plan`),
but a phrase looks for all its words in their places, so that "the party is" finds few
candidates to check word for word rather than every record that has "party".

Records are stored as one JSON blob each (the fields a hit shows, `index.hits`); the facet
values are fast columns that tantivy counts itself; dates are day numbers for ranges and a
fast ``sort_date`` for date order; the id is a fast column too, the order of records that
tie (`TantivySearch.tied`). Totals and facets are exact: tantivy counts every match.
Phrase candidates are checked word for word as with Whoosh: all of them up to
``VERIFY_ALL`` (the total is then exact), else only as the page fills (and the total
counts the candidates not checked, ``total_is_exact`` false).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache, partial
from itertools import pairwise
from pathlib import Path

import tantivy
from tantivy import Filter, Occur, Order, Query, TextAnalyzerBuilder, Tokenizer

from index import plan as p
from index.build import aware, domain_suffixes, lead
from index.hits import Pending, Records, stored_facets
from index.text import APOSTROPHES, STOP_WORDS
from index.textmatch import TextMatch

__all__ = [
    "ENGINE",
    "TantivySearch",
    "build",
    "compile_plan",
    "create",
    "delete_document",
    "ids",
    "write",
]

log = logging.getLogger(__name__)

ENGINE = "tantivy"
_WORDS, _NAMES = "onrecord_words_2", "onrecord_names_2"
# The analyzers of generations written before `_joined` (their tokenizer a regular
# expression, `index.text.FOLDED_WORD` with the apostrophes `index.text.fold` straightens),
# registered under their names so that updates to such a generation still analyse text as
# it was analysed (`onrecord reindex` brings it up to date).
_FORMER_PATTERN = r"\w+(?:[" + re.escape("'" + "".join(sorted(APOSTROPHES))) + r"]\w+)*"
_APOSTROPHES = tuple(sorted(APOSTROPHES))
_JOINER = "\u02bc"  # MODIFIER LETTER APOSTROPHE: a letter, for tantivy's tokenizer
_RAW = ("id", "type", "document_id", "kind", "lang", "anonymous")
_STEMMED = ("text", "title", "body")
_NAMED = ("speaker", "role", "via", "publisher", "author")
_DAYS = ("day", "published_day", "captured_day")
_FACETS = {
    "speaker": "facet_speaker",
    "publisher": "facet_publisher",
    "kind": "facet_kind",
    "month": "facet_month",
}
_TITLE_BOOST = 2.0  # as the Whoosh schema's title field
# Memory for a writer's buffers (tantivy asks for at least 15 MB per thread).
_WRITER_HEAP = 64_000_000
# Values counted per facet and shard before the shown ones are chosen: counts are exact
# up to this many values (months: 83 years), and estimated beyond.
_FACET_BUCKETS = 1000

WALK_COST = 4  # a record listed in the order of the id column costs about four reads of one
VERIFY_ALL = 20  # phrase candidate sets up to this size (a page) are checked in full
VERIFY_BUDGET = 200  # beyond that, candidates checked per search beyond the page's
MAX_PREFIX_EXPANSION = p.MAX_PREFIX_EXPANSION


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for name in _RAW:
        fast = name == "id"  # tied records are ordered by it
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic", fast=fast)
    builder.add_text_field("domain", tokenizer_name="raw", index_option="basic")
    for name in _STEMMED:
        builder.add_text_field(name, tokenizer_name=_WORDS, index_option="position")
    for name in _NAMED:
        builder.add_text_field(name, tokenizer_name=_NAMES, index_option="position")
    for name in _DAYS:
        builder.add_integer_field(name, indexed=True)
    builder.add_integer_field("sort_date", fast=True)
    for name in _FACETS.values():
        builder.add_text_field(name, fast=True, tokenizer_name="raw", index_option="basic")
    builder.add_bytes_field("stored", stored=True)
    return builder.build()


def _analyzers() -> dict[str, tantivy.TextAnalyzer]:
    def names(tokenizer: Tokenizer) -> TextAnalyzerBuilder:
        return TextAnalyzerBuilder(tokenizer).filter(Filter.lowercase()).filter(Filter.ascii_fold())

    former = Tokenizer.regex(_FORMER_PATTERN)
    return {
        _WORDS: names(Tokenizer.simple()).filter(Filter.stemmer("english")).build(),
        _NAMES: names(Tokenizer.simple()).build(),
        "onrecord_words": (
            names(former)
            .filter(Filter.custom_stopword(sorted(STOP_WORDS)))
            .filter(Filter.stemmer("english"))
            .build()
        ),
        "onrecord_names": names(former).build(),
    }


_SCHEMA = _schema()
_ANALYZERS = _analyzers()


def _open(generation: Path) -> tantivy.Index:
    index = tantivy.Index.open(str(generation))
    for name, analyzer in _ANALYZERS.items():
        index.register_tokenizer(name, analyzer)
    return index


def create(generation: Path) -> None:
    """Make an empty index in the empty folder ``generation``."""
    index = tantivy.Index(_SCHEMA, path=str(generation), reuse=False)
    for name, analyzer in _ANALYZERS.items():
        index.register_tokenizer(name, analyzer)
    writer = index.writer(heap_size=_WRITER_HEAP, num_threads=1)
    writer.commit()
    writer.wait_merging_threads()


def _writer(index: tantivy.Index, wait: float, **options) -> tantivy.IndexWriter:
    """A writer, waiting up to ``wait`` seconds while another process holds the lock."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return index.writer(**options)
        except ValueError as exc:  # "Failed to acquire lockfile" while another writes
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def _committing(writer: tantivy.IndexWriter) -> Iterator[tantivy.IndexWriter]:
    """Commit what the block wrote, or roll all of it back when the block fails."""
    with _rolling_back(writer):
        yield writer
    _commit(writer)


@contextmanager
def _rolling_back(writer: tantivy.IndexWriter) -> Iterator[tantivy.IndexWriter]:
    """Roll back all that the block wrote when it fails."""
    try:
        yield writer
    except BaseException:
        writer.rollback()
        writer.wait_merging_threads()
        raise


def _commit(writer: tantivy.IndexWriter) -> None:
    writer.commit()
    writer.wait_merging_threads()


def write(
    generation: Path, records: Iterable[tuple[str, dict]], wait: float, drop: Iterable[str]
) -> int:
    """Add or replace records by id (see `index.build.Indexer.update`), after removing
    every record of the documents ``drop`` names; return how many were written."""
    index = _open(generation)
    writer = _writer(index, wait, heap_size=_WRITER_HEAP, num_threads=1)
    replaced: set[str] = set(drop)
    count = 0
    with _committing(writer):
        for document_id in replaced:
            writer.delete_documents_by_term("document_id", document_id)
        for kind, record in records:
            if kind == "document":
                writer.delete_documents_by_term("document_id", record["id"])
                replaced.add(record["id"])
            elif record["document_id"] not in replaced:
                writer.delete_documents_by_term("id", record["id"])
            writer.add_document(_document(kind, record))
            count += 1
    return count


def delete_document(generation: Path, document_id: str, wait: float) -> None:
    """Remove a document and its quotes (a lookup only, when it was never indexed)."""
    index = _open(generation)
    if not index.searcher().doc_freq("document_id", document_id):
        return
    with _committing(_writer(index, wait, heap_size=_WRITER_HEAP, num_threads=1)) as writer:
        writer.delete_documents_by_term("document_id", document_id)


def build(
    generation: Path, records: Iterable[tuple[str, dict]], procs: int, memory_mb: int
) -> Callable[[], None]:
    """Write ``records`` into a new index in the empty folder ``generation``, with
    ``procs`` indexing threads sharing about ``memory_mb`` of buffers; return the function
    that waits until they are committed, raising what the commit raised.

    The commit goes on in a thread (tantivy lets go of the interpreter meanwhile): its
    indexing threads still have the records queued for them to index, and the last
    segments to write, while the next shard's records are read and prepared."""
    index = tantivy.Index(_SCHEMA, path=str(generation), reuse=False)
    for name, analyzer in _ANALYZERS.items():
        index.register_tokenizer(name, analyzer)
    heap = max(memory_mb * 2**20, 20_000_000 * procs)
    with _rolling_back(index.writer(heap_size=heap, num_threads=procs)) as writer:
        for kind, record in records:
            writer.add_document(_document(kind, record))
    committing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tantivy-commit")
    committed = committing.submit(_commit, writer)
    committing.shutdown(wait=False)
    return committed.result


def ids(generation: Path) -> Iterator[str]:
    """Every record id in the index (with repeats, if a record is there twice)."""
    searcher = _open(generation).searcher()
    total = searcher.num_docs
    if not total:
        return
    for _, address in searcher.search(Query.all_query(), limit=total, count=False).hits:
        yield json.loads(searcher.doc(address).get_first("stored"))["id"]


_SECONDS_PER_DAY = 86_400
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _document(kind: str, record: dict) -> tantivy.Document:
    """The tantivy document of a ``kind`` ("document" or "quote") record (its fields
    without empty values, which tantivy would index as values)."""
    shared_fields, shared_stored = _metadata(
        record.get("published"),
        record["captured"],
        record.get("publisher") or "",
        record.get("kind") or "",
        record.get("language") or "",
        record.get("domain") or "",
        record["url"],
    )
    record_id = record["id"]
    if kind == "document":
        stored = {"id": record_id, "type": kind, "document_id": record_id, **shared_stored}
        fields = {"id": record_id, "type": kind, "document_id": record_id, **shared_fields}
        body = _text("body", record.get("text") or "")
        title = _text("title", record.get("title") or "")
        author = _text("author", " ; ".join(record.get("authors") or ()))
        if title:
            stored["title"] = title
            fields["title"] = _joined(title)
        if body:
            stored["lead"] = lead(body)
            fields["body"] = _joined(body)
        if author:
            fields["author"] = _joined(author)
    else:
        document_id = record["document_id"]
        stored = {"id": record_id, "type": kind, "document_id": document_id, **shared_stored}
        fields = {"id": record_id, "type": kind, "document_id": document_id, **shared_fields}
        text = _text("text", record["text"] or "")
        if text:
            stored["text"] = text
            fields["text"] = _joined(text)
        for name in ("speaker", "role", "via"):
            value = _text(name, record.get(name) or "")
            if value:
                stored[name] = value
                fields[name] = _joined(value)
        if stored.get("speaker"):
            fields["facet_speaker"] = stored["speaker"]
        stored["anonymous"] = bool(record.get("anonymous"))
        fields["anonymous"] = "t" if stored["anonymous"] else "f"
        if record.get("title"):
            stored["document_title"] = record["title"]
    fields["stored"] = _ENCODE(stored).encode("utf-8")
    return tantivy.Document.from_dict(fields, _SCHEMA)


@lru_cache(maxsize=256)
def _metadata(
    published: datetime | None,
    captured: datetime,
    publisher: str,
    kind: str,
    language: str,
    domain: str,
    url: str,
) -> tuple[dict, dict]:
    """The index fields and stored fields that a document shares with its quotes (worked
    out once for them all: its quotes follow it, carrying the same values), without the
    empty ones."""
    captured = aware(captured)
    dated = aware(published) if published else captured
    sort_date = int(dated.timestamp())
    month = dated.astimezone(UTC).strftime("%Y-%m")
    stored = {
        "publisher": publisher,
        "kind": kind,
        "lang": language.lower(),
        "url": url,
        "published": published.isoformat() if published else None,
        "captured": captured.isoformat(),
        "month": month,
    }
    fields = {
        "day": sort_date // _SECONDS_PER_DAY,
        "captured_day": int(captured.timestamp()) // _SECONDS_PER_DAY,
        "sort_date": sort_date,
        "facet_month": month,
        "facet_publisher": publisher,
        "facet_kind": kind,
        "domain": domain_suffixes(domain),
        "kind": kind,
        "lang": stored["lang"],
        "publisher": _joined(_text("publisher", publisher)),
    }
    if published:
        fields["published_day"] = sort_date // _SECONDS_PER_DAY
    return (
        {name: value for name, value in fields.items() if value or value == 0},
        {name: value for name, value in stored.items() if value},
    )


def _text(name: str, value: object) -> str:
    """``value``, refused when it is not text (as Whoosh refuses it)."""
    if not isinstance(value, str):
        raise ValueError(f"{name} value {value!r} is not unicode text")
    return value


def _joined(text: str) -> str:
    """``text`` with the apostrophes inside words settled for tantivy's tokenizer, as
    `index.text.words` settles them: a possessive ``'s`` dropped (``country's`` is the
    word ``country``), any other joining its word (``don't``, ``O'Brien``: one word).

    tantivy splits words at anything that is not a letter or digit (its fastest
    tokenizer; a regular expression that kept apostrophes took most of the build time),
    so the apostrophe that joins is written as a letter, MODIFIER LETTER APOSTROPHE.

    >>> _joined("Don’t say the country’s O'Brien 'quoted' it")
    "Donʼt say the country OʼBrien 'quoted' it"
    """
    if not text.isascii() or "`" in text:
        for apostrophe in _APOSTROPHES:
            if apostrophe in text:
                text = text.replace(apostrophe, "'")
    if "'" not in text:
        return text
    pieces = text.split("'")
    out = [pieces[0]]
    for before, piece in pairwise(pieces):
        last, first = before[-1:], piece[:1]  # "" at either end of the text
        if (last.isalnum() or last == "_") and (first.isalnum() or first == "_"):
            after = piece[1:2]
            if first in "sS" and not (after.isalnum() or after == "_"):
                piece = piece[1:]  # a possessive
            else:
                out.append(_JOINER)
        else:
            out.append("'")
        out.append(piece)
    return "".join(out)


class TantivySearch:
    """Searches one index generation; reopens its reader when a writer committed."""

    engine = ENGINE

    def __init__(self, generation: Path, records: Records) -> None:
        self._generation = generation
        self._records = records
        self._index = _open(generation)
        self._meta = self._stamp()
        self._searcher = self._index.searcher()
        self._ids_sorted = _fast_ids(generation)

    def _stamp(self) -> int:
        return (self._generation / "meta.json").stat().st_mtime_ns

    def refresh(self) -> bool:
        """Pick up a commit; return whether there was one."""
        stamp = self._stamp()
        if stamp == self._meta:
            return False
        self._index.reload()
        self._searcher = self._index.searcher()
        self._meta = stamp
        return True

    def close(self) -> None:
        self._searcher = None

    @property
    def records(self) -> int:
        return self._searcher.num_docs

    @property
    def segments(self) -> int:
        return self._searcher.num_segments

    def prefix_count(self, field: str, prefix: str) -> int:
        """How many words of ``field`` begin with ``prefix``, up to one more than
        `MAX_PREFIX_EXPANSION`."""
        limit = MAX_PREFIX_EXPANSION + 1
        return len(self._searcher.terms_with_prefix(field, _fold_name(prefix), limit=limit))

    def search(
        self, plan: p.Plan, match: TextMatch, *, sort: str, count: int, facets: bool
    ) -> tuple[int, bool, list[tuple[float, Pending]], dict[str, Counter] | None]:
        """(total, total_is_exact, the first ``count`` (score, `Pending` stored fields),
        facet counts or None)."""
        query = _query(plan)
        if not match.has_phrases:
            found = self._search(query, sort, count, count=True)
            page = [
                (_score(key, sort), self._pending(key, address, sort))
                for key, address in found.hits
            ]
            return found.count, True, page, self._facets(query) if facets else None
        # Phrases: the index finds their candidates (stems in place); each is checked word
        # for word, in order, until the page is full: all of them when they are few (the
        # total is then exact), else at most VERIFY_BUDGET more than the page, the total
        # then counting the candidates not checked (the facets too: `total_is_exact` false).
        # (As many as could be checked are asked for at once: each ask runs the whole
        # query again, comparing positions in every record that has its words.)
        found = self._search(query, sort, max(count, VERIFY_ALL) + VERIFY_BUDGET, count=True)
        check_all = found.count <= VERIFY_ALL
        accepted, rejected = [], 0
        for key, address in found.hits:
            if len(accepted) == count and not check_all:
                break
            pending = self._pending(key, address, sort)
            if self._records.accepts(pending.stored, match):
                accepted.append((_score(key, sort), pending))
            else:
                rejected += 1
        if len(accepted) + rejected == found.count:
            counted = stored_facets(found.stored for _, found in accepted) if facets else None
            return len(accepted), True, accepted[:count], counted
        total = max(found.count - rejected, len(accepted))
        return total, False, accepted, self._facets(query) if facets else None

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
        a page shows of a group of tied records (`index.search`); None when the group
        holds more than ``most`` records: of equal scores (found among the first
        ``after`` + ``most`` ranked), or of a date when the ids are no column. Phrases are
        checked, at most VERIFY_BUDGET beyond the page."""
        query = _query(plan)
        wanted = count + VERIFY_BUDGET if match.has_phrases else count
        if sort == "relevance":
            group = self._scoring(query, value, after + most + 1)
            if group is None or len(group) > most:
                return None
            ordered = self._by_id(query, group, wanted)
        else:
            query = _dated(query, value)
            if self._ids_sorted:  # the query finds the group itself: first by id
                ordered = [address for _, address in self._id_order(query, wanted)]
            elif self._count(query) > most:
                return None
            else:
                ordered = self._by_id(query, self._everything(query), wanted)
        found = []
        for address in ordered:
            pending = self._pending(value, address, sort)
            if not match.has_phrases or self._records.accepts(pending.stored, match):
                found.append((_score(value, sort), pending))
                if len(found) == count:
                    break
        return found

    def _scoring(self, query: Query, score: float, limit: int) -> list | None:
        """The records ``query`` finds with that ``score``, among the first ``limit``
        ranked; None when they go on beyond."""
        hits = self._searcher.search(query, limit=limit, count=False).hits
        if len(hits) == limit and hits[-1][0] == score:
            return None
        return [address for found, address in hits if found == score]

    def _everything(self, query: Query) -> list:
        return [
            address
            for _, address in self._search(query, "relevance", self._count(query), count=False).hits
        ]

    def _count(self, query: Query) -> int:
        return self._searcher.search(query, limit=1, count=True).count

    def _by_id(self, query: Query, group: list, limit: int) -> list:
        """The first ``limit`` of ``group`` (records that ``query`` finds) in order of id.

        Their ids are read from the records; but when the group is most of what ``query``
        finds (everything a filter finds ties), the first of it are picked out of the
        results in the order of the id column, passing over fewer others than would be
        read (each record in that order costs about WALK_COST reads)."""
        if self._ids_sorted and group:
            total = self._count(query)
            walk = 2 * limit * total // len(group)  # holding about twice the limit of it
            if walk * WALK_COST < len(group):
                places = {_place(address) for address in group}
                while True:
                    hits = self._id_order(query, walk)
                    kept = [address for _, address in hits if _place(address) in places]
                    if len(kept) >= limit or len(hits) < walk:
                        return kept[:limit]
                    walk *= 4
        return sorted(group, key=lambda address: self._stored(address)["id"])[:limit]

    def _id_order(self, query: Query, limit: int) -> list:
        """The first ``limit`` records that ``query`` finds, in order of id: (id, address)."""
        return self._searcher.search(
            query, limit=max(limit, 1), count=False, order_by_field="id", order=Order.Asc
        ).hits

    def every_hit(self, plan: p.Plan, match: TextMatch, sort: str) -> Iterator[tuple[float, dict]]:
        """Every result as (score, stored fields), in order, phrases checked."""
        query = _query(plan)
        total = self._search(query, sort, 1, count=True).count
        if not total:
            return
        for key, address in self._search(query, sort, total, count=False).hits:
            stored = self._stored(address)
            if match.has_phrases and not self._records.accepts(stored, match):
                continue
            yield _score(key, sort), stored

    def _search(self, query: Query, sort: str, limit: int, *, count: bool):
        if sort == "relevance":
            return self._searcher.search(query, limit=max(limit, 1), count=count)
        order = Order.Asc if sort == "date_asc" else Order.Desc
        return self._searcher.search(
            query, limit=max(limit, 1), count=count, order_by_field="sort_date", order=order
        )

    def _pending(self, key, address, sort: str) -> Pending:
        """A record found, its stored fields read when needed (its date is the key of a
        search in date order)."""
        date = None if sort == "relevance" else key
        return Pending(partial(self._stored, address), date)

    def _stored(self, address) -> dict:
        return json.loads(self._searcher.doc(address).get_first("stored"))

    def _facets(self, query: Query) -> dict[str, Counter]:
        aggregations = {
            facet: {
                "terms": {
                    "field": column,
                    "size": _FACET_BUCKETS,
                    **({"order": {"_key": "desc"}} if facet == "month" else {}),
                }
            }
            for facet, column in _FACETS.items()
        }
        found = self._searcher.aggregate(query, aggregations)
        return {
            facet: Counter(
                {bucket["key"]: bucket["doc_count"] for bucket in found[facet]["buckets"]}
            )
            for facet in _FACETS
        }


def _fast_ids(generation: Path) -> bool:
    """Whether the generation's ids are a fast column (generations written before it was
    order ties by the ids read from the records, until `onrecord reindex`)."""
    schema = json.loads((generation / "meta.json").read_text())["schema"]
    return any(field["name"] == "id" and field["options"].get("fast") for field in schema)


def _dated(query: Query, date: int) -> Query:
    """``query``, limited to the records of that date (in seconds: `sort_date`)."""
    dated = Query.range_query(_SCHEMA, "sort_date", tantivy.FieldType.Integer, date, date)
    return Query.boolean_query([(Occur.Must, query), (Occur.Must, dated)])


def _place(address: tantivy.DocAddress) -> tuple[int, int]:
    return address.segment_ord, address.doc


def _score(key, sort: str) -> float:
    return float(key) if sort == "relevance" else 0.0


def _fold_name(word: str) -> str:
    tokens = _ANALYZERS[_NAMES].analyze(_joined(word))
    return tokens[0] if tokens else word


def _analysed(field: str, word: str) -> list[str]:
    analyzer = _ANALYZERS[_WORDS if field in p.STEMMED_FIELDS else _NAMES]
    return analyzer.analyze(_joined(word))


def compile_plan(plan: p.Plan) -> Query:
    """The tantivy query of a plan."""
    return _query(plan)


def _query(plan: p.Plan) -> Query:
    """The tantivy query of a plan."""
    match plan:
        case p.Term(field=field, value=value):
            if field in p.STEMMED_FIELDS and value in STOP_WORDS:
                return Query.empty_query()  # a word too common to look up (`index.plan`)
            if field in p.STEMMED_FIELDS or field in _NAMED:
                tokens = _analysed(field, value)
                if not tokens:
                    return Query.empty_query()
                if len(tokens) == 1:
                    query = Query.term_query(_SCHEMA, field, tokens[0])
                else:
                    query = Query.phrase_query(_SCHEMA, field, tokens)
                return Query.boost_query(query, _TITLE_BOOST) if field == "title" else query
            return Query.term_query(_SCHEMA, field, value)
        case p.Sequence(field=field, folded=folded):
            # every word of the phrase, stop words too: they are indexed in their places
            placed = []
            for word in folded:
                placed += [(len(placed), token) for token in _analysed(field, word)]
            if not placed:
                return Query.empty_query()
            if len(placed) == 1:
                query = Query.term_query(_SCHEMA, field, placed[0][1])
            else:
                query = Query.phrase_query(_SCHEMA, field, placed)
            return Query.boost_query(query, _TITLE_BOOST) if field == "title" else query
        case p.Prefix(field=field, text=text):
            return Query.regex_query(_SCHEMA, field, _fold_name(text) + ".*")
        case p.DayRange(field=field, start=start, end=end):
            if start is not None and end is not None and start >= end:
                return Query.empty_query()
            return Query.range_query(
                _SCHEMA,
                field,
                tantivy.FieldType.Integer,
                lower_bound=start,
                upper_bound=None if end is None else end - 1,
            )
        case p.And(children=children):
            return Query.boolean_query([(Occur.Must, _query(child)) for child in children])
        case p.Or(children=children):
            return Query.boolean_query([(Occur.Should, _query(child)) for child in children])
        case p.AndNot(positive=positive, negative=negative):
            return Query.boolean_query(
                [(Occur.Must, _query(positive)), (Occur.MustNot, _query(negative))]
            )
    if plan is p.NOTHING:
        return Query.empty_query()
    raise TypeError(f"not a query plan: {plan!r}")
