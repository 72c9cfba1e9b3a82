"""The only writer of the index: incremental updates by unique id, and atomic rebuilds,
with the engine that the archive's ``search_engine`` setting names.

Records become index fields here, the same for every engine (`document_fields`,
`quote_fields`); the engine modules (`index.whoosh_engine`, `index.tantivy_engine`) write
them. An update goes into the live generation with the engine that wrote it; a rebuild
writes a new generation with the chosen engine and swaps it in (`index.layout`), so
changing engines is a rebuild (`onrecord reindex`).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from types import ModuleType

from archive import config
from archive.store import crash_point
from index import layout

__all__ = ["ENGINES", "DuplicateRecord", "Indexer", "engine_module"]

ENGINES = config.SETTINGS_BY_NAME["search_engine"].choices

# How long an incremental update waits for the index's lock while another process (a
# second scraper writing into the same archive) holds it.
WRITER_WAIT_SECONDS = 60.0

log = logging.getLogger(__name__)

_LEAD_CHARS = 300
_PROGRESS_EVERY = 1000
# Memory per rebuild process for the postings it gathers before writing them as a segment.
# Whoosh's own writer spills what does not fit to disk in sorted runs, each posting
# pickled, read back and heap-merged; ours starts a new segment instead (`index.segments`).
REBUILD_LIMIT_MB = 1024


class DuplicateRecord(ValueError):
    """The same record id was given twice in one batch."""


def engine_module(engine: str) -> ModuleType:
    """The module of an engine (imported when first used: tantivy is a large library)."""
    if engine == "whoosh":
        from index import whoosh_engine

        return whoosh_engine
    if engine == "tantivy":
        from index import tantivy_engine

        return tantivy_engine
    raise ValueError(f"unknown search engine {engine!r}; the engines are {', '.join(ENGINES)}")


def default_engine() -> str:
    """The engine of the ``search_engine`` setting's default and ``ONRECORD_SEARCH_ENGINE``."""
    return config.load(None)["search_engine"]


class Indexer:
    """Writes quote and document records into the index at ``path``.

    ``engine`` is the engine a rebuild (or a new index) uses; None means the
    ``search_engine`` setting's default or ``ONRECORD_SEARCH_ENGINE``. ``procs`` is the
    number of processes (Whoosh) or threads (tantivy) a rebuild uses, with about
    ``limitmb`` of memory each; incremental updates write in this process.
    """

    def __init__(
        self,
        path: Path,
        *,
        procs: int = 2,
        limitmb: int = REBUILD_LIMIT_MB,
        engine: str | None = None,
    ) -> None:
        self._root = Path(path)
        self._procs = procs
        self._limitmb = limitmb
        self._engine = engine or default_engine()
        engine_module(self._engine)  # an unknown engine is refused here
        self._root.mkdir(parents=True, exist_ok=True)

    def update(self, documents: Iterable[dict], quotes: Iterable[dict]) -> int:
        """Add or replace records by id; return how many were written.

        A document given here replaces the indexed one *together with its quotes*: quotes
        of that document that are not among ``quotes`` are dropped, so re-extracted text
        never leaves stale quotes behind. A quote given alone replaces the quote with its id.
        """
        documents = list(documents)
        engine, shards = self._live()
        checked = _Checked()
        if "all" in shards:
            records = chain(checked("document", documents), checked("quote", quotes))
            engine.write(shards["all"][0], records, WRITER_WAIT_SECONDS, ())
        else:
            # a shard with nothing to change is not opened for writing (a commit each)
            if documents:
                engine.write(
                    shards["documents"][0],
                    checked("document", documents),
                    WRITER_WAIT_SECONDS,
                    (),
                )
            quotes = iter(quotes)
            first = next(quotes, None)
            replaced = [record["id"] for record in documents]
            if first is not None or replaced:
                records = checked("quote", chain([] if first is None else [first], quotes))
                engine.write(shards["quotes"][0], records, WRITER_WAIT_SECONDS, replaced)
        log.info("indexed %d records", checked.count)
        return checked.count

    def delete_document(self, document_id: str) -> None:
        """Remove a document and all its quotes."""
        engine, shards = self._live()
        for path, _ in shards.values():
            engine.delete_document(path, document_id, WRITER_WAIT_SECONDS)

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
        generation = layout.new_generation(self._root, self._engine)
        engine = engine_module(self._engine)
        checked = _Checked(progress)
        written: list[Callable[[], None]] = []  # each waits until its shard is written
        try:
            shards = layout.new_shards(generation)
            for (path, _), (kind, records) in zip(
                shards.values(), (("document", documents), ("quote", quotes)), strict=True
            ):
                built = engine.build(path, checked(kind, records), self._procs, self._limitmb)
                written.append(built)
            for wait in written:
                wait()
            checked.finish()
        except BaseException:
            for wait in written:
                with suppress(Exception):  # what failed first is what is raised
                    wait()
            shutil.rmtree(generation, ignore_errors=True)
            raise
        crash_point("index-built")
        layout.publish(self._root, generation)
        log.info(
            "rebuilt the index with %d records in %s (%s)",
            checked.count,
            generation.name,
            self._engine,
        )
        return checked.count

    def _live(self) -> tuple[ModuleType, dict[str, tuple[Path, tuple[str, ...]]]]:
        live = layout.current(self._root)
        if live is None:
            live = layout.new_generation(self._root, self._engine)
            for path, _ in layout.new_shards(live).values():
                engine_module(self._engine).create(path)
            layout.publish(self._root, live)
        return engine_module(layout.engine_of(live)), layout.shards(live)


class _Checked:
    """Records of one batch as (type, record) pairs: a repeated id refused, counted, with
    progress reported."""

    def __init__(self, progress: Callable[[int], None] | None = None) -> None:
        self._progress = progress
        self._seen: set[str] = set()
        self.count = 0

    def __call__(self, kind: str, records: Iterable[dict]) -> Iterator[tuple[str, dict]]:
        for record in records:
            if record["id"] in self._seen:
                raise DuplicateRecord(f"record {record['id']} appears twice in one batch")
            self._seen.add(record["id"])
            self.count += 1
            if self._progress is not None and self.count % _PROGRESS_EVERY == 0:
                self._progress(self.count)
            yield kind, record

    def finish(self) -> None:
        if self._progress is not None and self.count % _PROGRESS_EVERY:
            self._progress(self.count)


def index_fields(kind: str, record: dict) -> dict:
    """The Whoosh index fields of a ``kind`` ("document" or "quote") record."""
    return document_fields(record) if kind == "document" else quote_fields(record)


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
        lead=lead(body),
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
        "domain": " ".join(domain_suffixes(record.get("domain") or "")),
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


def aware(moment: datetime) -> datetime:
    """``moment``, refused when it has no time zone."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: records must carry aware datetimes")
    return moment


def _date_terms(prefix: str, moment: datetime) -> dict[str, str]:
    """``{prefix}_day`` and ``{prefix}_month`` terms of a moment, in UTC."""
    day = aware(moment).astimezone(UTC).strftime("%Y-%m-%d")
    name = prefix + "_" if prefix else ""
    return {name + "day": day, name + "month": day[:7]}


def domain_suffixes(domain: str) -> list[str]:
    """``news.example.gov`` -> the host and each parent domain, so ``domain:example.gov``
    also finds its subdomains."""
    labels = domain.lower().strip(".").split(".")
    return [".".join(labels[i:]) for i in range(len(labels)) if labels[i]]


def lead(body: str) -> str:
    """The start of a document's text, shown when there is nothing to highlight."""
    if len(body) <= _LEAD_CHARS:
        return body.strip()
    cut = body.rfind(" ", 0, _LEAD_CHARS)
    return body[: cut if cut > 0 else _LEAD_CHARS].strip() + "…"
