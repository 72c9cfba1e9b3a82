"""The only writer of the index: incremental updates by unique id, and atomic rebuilds."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.index import Index
from whoosh.writing import IndexWriter

from index import layout
from index.codec import Codec
from index.schema import build_schema
from index.segments import write_segments

__all__ = ["DuplicateRecord", "Indexer"]

# How long an incremental update waits for the index's lock while another process (a
# second scraper writing into the same archive) holds it.
WRITER_WAIT_SECONDS = 60.0
# Opening the index while other processes commit to it: tries before giving up.
OPEN_ATTEMPTS = 5

log = logging.getLogger(__name__)

_LEAD_CHARS = 300
_PROGRESS_EVERY = 1000
# Memory per rebuild process for the postings it gathers before writing them as a segment.
# Whoosh's own writer spills what does not fit to disk in sorted runs, each posting
# pickled, read back and heap-merged; ours starts a new segment instead (`index.segments`).
REBUILD_LIMIT_MB = 1024


class DuplicateRecord(ValueError):
    """The same record id was given twice in one batch."""


class Indexer:
    """Writes quote and document records into the index at ``path``.

    ``procs`` is the number of processes a rebuild uses, each gathering up to about
    ``limitmb`` of postings before it writes them as a segment (`index.segments`);
    incremental updates use Whoosh's own writer, in this process.
    """

    def __init__(self, path: Path, *, procs: int = 2, limitmb: int = REBUILD_LIMIT_MB) -> None:
        self._root = Path(path)
        self._procs = procs
        self._limitmb = limitmb
        self._root.mkdir(parents=True, exist_ok=True)

    def update(self, documents: Iterable[dict], quotes: Iterable[dict]) -> int:
        """Add or replace records by id; return how many were written.

        A document given here replaces the indexed one *together with its quotes*: quotes
        of that document that are not among ``quotes`` are dropped, so re-extracted text
        never leaves stale quotes behind. A quote given alone replaces the quote with its id.
        """
        writer = self._open().writer(codec=Codec(), timeout=WRITER_WAIT_SECONDS)
        try:
            count = _write(writer, documents, quotes)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        log.info("indexed %d records", count)
        return count

    def delete_document(self, document_id: str) -> None:
        """Remove a document and all its quotes.

        A document that was never indexed (every new page a scrape finds) costs a term
        lookup, not a writer: opening one takes the lock and commits a new generation.
        """
        ix = self._open()
        with ix.reader() as reader:
            if ("document_id", document_id) not in reader:
                return
        writer = ix.writer(codec=Codec(), timeout=WRITER_WAIT_SECONDS)
        try:
            writer.delete_by_term("document_id", document_id)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    def rebuild(
        self,
        documents: Iterable[dict],
        quotes: Iterable[dict],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Build a fresh index from all records, then swap it in atomically.

        ``progress`` is called with the number of records written so far. If anything
        fails, the half-built generation is removed and the live index is left as it was.
        """
        layout.discard_stale(self._root)
        generation = layout.new_generation(self._root)
        records = _Records(_all_fields(documents, quotes), progress)
        try:
            ix = whoosh_index.create_in(str(generation), build_schema())
            write_segments(ix, records, self._procs, self._limitmb)
        except BaseException:
            shutil.rmtree(generation, ignore_errors=True)
            raise
        count = records.count
        layout.publish(self._root, generation)
        log.info("rebuilt the index with %d records in %s", count, generation.name)
        return count

    def _open(self) -> Index:
        attempt = 1
        while True:
            live = layout.current(self._root)
            if live is None:
                live = layout.new_generation(self._root)
                whoosh_index.create_in(str(live), build_schema())
                layout.publish(self._root, live)
            try:
                return whoosh_index.open_dir(str(live))
            except FileNotFoundError:
                # Another process committed between our finding the latest table of
                # contents and reading it, and removed it: read the new one.
                if attempt == OPEN_ATTEMPTS:
                    raise
                time.sleep(0.01 * attempt)
                attempt += 1


def _write(writer: IndexWriter, documents: Iterable[dict], quotes: Iterable[dict]) -> int:
    """Add or replace records by id (see `Indexer.update`); return how many."""
    replaced: set[str] = set()  # documents whose quotes were all deleted in this batch
    # an index built before word pairs existed keeps working without them until rebuilt
    pairs = "text_pairs" in writer.schema
    count = 0
    for fields in _Records(_all_fields(documents, quotes)):
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


class _Records:
    """Index fields, a repeated id refused, counted, with progress reported."""

    def __init__(
        self, records: Iterator[dict], progress: Callable[[int], None] | None = None
    ) -> None:
        self._progress = progress
        self._checked = self._check(records)
        self.count = 0

    def __iter__(self) -> Iterator[dict]:
        return self._checked

    def _check(self, records: Iterator[dict]) -> Iterator[dict]:
        seen: set[str] = set()
        for fields in records:
            if fields["id"] in seen:
                raise DuplicateRecord(f"record {fields['id']} appears twice in one batch")
            seen.add(fields["id"])
            self.count += 1
            if self._progress is not None and self.count % _PROGRESS_EVERY == 0:
                self._progress(self.count)
            yield fields
        if self._progress is not None and self.count % _PROGRESS_EVERY:
            self._progress(self.count)


def _all_fields(documents: Iterable[dict], quotes: Iterable[dict]) -> Iterator[dict]:
    for record in documents:
        yield document_fields(record)
    for record in quotes:
        yield quote_fields(record)


def document_fields(record: dict) -> dict:
    """The index fields of a document record."""
    body = record.get("text") or ""
    fields = _shared_fields(record)
    fields.update(
        id=record["id"],
        type="document",
        document_id=record["id"],
        title=record.get("title") or "",
        body=body,
        lead=_lead(body),
        author=" ; ".join(record.get("authors") or ()),
    )
    return fields


def quote_fields(record: dict) -> dict:
    """The index fields of a quote record (it carries its document's metadata)."""
    fields = _shared_fields(record)
    speaker = record.get("speaker")
    fields.update(
        id=record["id"],
        type="quote",
        document_id=record["document_id"],
        text=record["text"],
        text_pairs=record["text"],
        speaker=speaker or "",
        role=record.get("role") or "",
        via=record.get("via") or "",
        anonymous=bool(record.get("anonymous")),
        document_title=record.get("title"),
    )
    if speaker:
        fields["facet_speaker"] = speaker.encode("utf-8")
    return fields


def _shared_fields(record: dict) -> dict:
    published: datetime | None = record.get("published")
    captured: datetime = record["captured"]
    dated = published or captured
    fields = {
        "publisher": record.get("publisher") or "",
        "kind": record.get("kind") or "",
        "lang": (record.get("language") or "").lower(),
        "domain": " ".join(_domain_suffixes(record.get("domain") or "")),
        "url": record["url"],
        "published": published.isoformat() if published else None,
        "captured": captured.isoformat(),
        **_date_terms("captured", captured),
        **_date_terms("", dated),
        "sort_date": int(dated.timestamp()),
        "facet_month": dated.astimezone(UTC).strftime("%Y-%m").encode("ascii"),
    }
    if published:
        fields.update(_date_terms("published", published))
    if record.get("publisher"):
        fields["facet_publisher"] = record["publisher"].encode("utf-8")
    if record.get("kind"):
        fields["facet_kind"] = record["kind"].encode("utf-8")
    return fields


def _date_terms(prefix: str, moment: datetime) -> dict[str, str]:
    """``{prefix}_day`` and ``{prefix}_month`` terms of a moment, in UTC."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: records must carry aware datetimes")
    day = moment.astimezone(UTC).strftime("%Y-%m-%d")
    name = prefix + "_" if prefix else ""
    return {name + "day": day, name + "month": day[:7]}


def _domain_suffixes(domain: str) -> list[str]:
    """``news.example.gov`` -> the host and each parent domain, so ``domain:example.gov``
    also finds its subdomains."""
    labels = domain.lower().strip(".").split(".")
    return [".".join(labels[i:]) for i in range(len(labels)) if labels[i]]


def _lead(body: str) -> str:
    if len(body) <= _LEAD_CHARS:
        return body.strip()
    cut = body.rfind(" ", 0, _LEAD_CHARS)
    return body[: cut if cut > 0 else _LEAD_CHARS].strip() + "…"
