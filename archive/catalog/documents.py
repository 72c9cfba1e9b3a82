"""Documents, their versions, the extractions of each version, and their events; what
the index and the lists of quotes read of them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import RowMapping

from archive.catalog.base import Queries
from archive.catalog.captures import capture_row
from archive.catalog.rows import (
    CURRENT_QUOTES,
    CURRENT_TEXT,
    batches,
    domain,
    from_text,
    to_text,
    to_zoned_text,
)
from archive.models import Capture, Document, Event, Extraction, Paragraph, Version


@dataclass(frozen=True)
class DocumentSummary:
    """What a list of quotes shows of each quote's document (a web query's row)."""

    id: str
    url: str
    first_captured: datetime
    kind: str | None
    publisher: str | None
    title: str | None
    published: datetime | None
    authors: tuple[str, ...]


def document_row(row: RowMapping) -> Document:
    return Document(
        id=row["id"],
        canonical_url=row["canonical_url"],
        url=row["url"],
        first_captured=from_text(row["first_captured"]),
        last_captured=from_text(row["last_captured"]),
        source=row["source"],
        publisher=row["publisher"],
        kind=row["kind"],
        state=row["state"],
        latest_version_id=row["latest_version_id"],
    )


def version_row(row: RowMapping) -> Version:
    return Version(
        id=row["id"],
        document_id=row["document_id"],
        capture_id=row["capture_id"],
        seq=row["seq"],
        created_at=from_text(row["created_at"]),
    )


def extraction_row(row: RowMapping) -> Extraction:
    return Extraction(
        id=row["id"],
        version_id=row["version_id"],
        extractor=row["extractor"],
        created_at=from_text(row["created_at"]),
        text=row["text"],
        paragraphs=tuple(Paragraph(*span) for span in json.loads(row["paragraphs"])),
        title=row["title"],
        authors=tuple(json.loads(row["authors"])),
        publisher=row["publisher"],
        published=from_text(row["published"]),
        modified=from_text(row["modified"]),
        language=row["language"],
        canonical_url=row["canonical_url"],
        problems=tuple(json.loads(row["problems"])),
    )


def event_row(row: RowMapping) -> Event:
    return Event(
        type=row["type"],
        document_id=row["document_id"],
        url=row["url"],
        at=from_text(row["at"]),
        capture_id=row["capture_id"],
    )


class DocumentQueries(Queries):
    def document(self, document_id: str) -> Document | None:
        row = self._one("SELECT * FROM documents WHERE id = :id", id=document_id)
        return document_row(row) if row else None

    def document_by_url(self, canonical_url: str) -> Document | None:
        row = self._one("SELECT * FROM documents WHERE canonical_url = :url", url=canonical_url)
        return document_row(row) if row else None

    def documents(self, *, limit: int = 100, offset: int = 0) -> list[Document]:
        rows = self._rows(
            "SELECT * FROM documents ORDER BY last_captured DESC, id LIMIT :limit OFFSET :offset",
            limit=limit,
            offset=offset,
        )
        return [document_row(row) for row in rows]

    def all_documents(self) -> Iterator[Document]:
        for row in self._run("SELECT * FROM documents ORDER BY id").mappings():
            yield document_row(row)

    def save_document(self, document: Document) -> None:
        """Insert a document or update its mutable fields."""
        self._run(
            "INSERT INTO documents (id, canonical_url, url, first_captured, last_captured,"
            " source, publisher, kind, state, latest_version_id)"
            " VALUES (:id, :canonical_url, :url, :first_captured, :last_captured, :source,"
            " :publisher, :kind, :state, :latest_version_id)"
            " ON CONFLICT (id) DO UPDATE SET last_captured = excluded.last_captured,"
            " source = COALESCE(excluded.source, documents.source),"
            " publisher = COALESCE(excluded.publisher, documents.publisher),"
            " kind = COALESCE(excluded.kind, documents.kind),"
            " state = excluded.state, latest_version_id = excluded.latest_version_id",
            id=document.id,
            canonical_url=document.canonical_url,
            url=document.url,
            first_captured=to_text(document.first_captured),
            last_captured=to_text(document.last_captured),
            source=document.source,
            publisher=document.publisher,
            kind=document.kind,
            state=document.state,
            latest_version_id=document.latest_version_id,
        )

    # -- versions ---------------------------------------------------------------------

    def versions(self, document_id: str) -> list[Version]:
        rows = self._rows(
            "SELECT * FROM versions WHERE document_id = :id ORDER BY seq", id=document_id
        )
        return [version_row(row) for row in rows]

    def version(self, version_id: str) -> Version | None:
        row = self._one("SELECT * FROM versions WHERE id = :id", id=version_id)
        return version_row(row) if row else None

    def add_version(self, version: Version) -> None:
        self._run(
            "INSERT INTO versions (id, document_id, capture_id, seq, created_at)"
            " VALUES (:id, :document_id, :capture_id, :seq, :created_at) ON CONFLICT DO NOTHING",
            id=version.id,
            document_id=version.document_id,
            capture_id=version.capture_id,
            seq=version.seq,
            created_at=to_text(version.created_at),
        )

    def link_capture(self, capture_id: str, version_id: str) -> None:
        self._run(
            "INSERT INTO capture_versions (capture_id, version_id) VALUES (:capture, :version)"
            " ON CONFLICT (capture_id) DO UPDATE SET version_id = excluded.version_id",
            capture=capture_id,
            version=version_id,
        )

    def captures_of_version(self, version_id: str) -> list[Capture]:
        rows = self._rows(
            "SELECT c.* FROM captures c JOIN capture_versions cv ON cv.capture_id = c.id"
            " WHERE cv.version_id = :id ORDER BY c.captured_at, c.id",
            id=version_id,
        )
        return [capture_row(row) for row in rows]

    def latest_captures(self, document_ids: Iterable[str]) -> dict[str, Capture]:
        """The capture that made each document's latest version (the text the index
        holds), by document id: not its last capture, which may be a takedown's 410 or a
        recapture of the same text."""
        found: dict[str, Capture] = {}
        for batch in batches(document_ids):
            rows = self._rows(
                "SELECT d.id AS document_id, c.* FROM documents d"
                " JOIN versions v ON v.id = d.latest_version_id"
                " JOIN captures c ON c.id = v.capture_id WHERE d.id IN :ids",
                ids=batch,
            )
            found.update((row["document_id"], capture_row(row)) for row in rows)
        return found

    def capture_titles(self, capture_ids: Iterable[str]) -> dict[str, str | None]:
        """For captures that show a version of a document: the title of that version's
        current text, by capture id."""
        found: dict[str, str | None] = {}
        for batch in batches(capture_ids):
            rows = self._run(
                "SELECT cv.capture_id, e.title FROM capture_versions cv"
                " LEFT JOIN extractions e ON e.version_id = cv.version_id AND e.is_current = 1"
                " WHERE cv.capture_id IN :ids",
                ids=batch,
            )
            found.update({row[0]: row[1] for row in rows})
        return found

    # -- extractions ------------------------------------------------------------------

    def add_extraction(self, extraction: Extraction, text_digest: str) -> None:
        """Store an extraction and make it the version's current one."""
        self._run(
            "UPDATE extractions SET is_current = 0 WHERE version_id = :id",
            id=extraction.version_id,
        )
        self._run(
            "INSERT INTO extractions (id, version_id, extractor, created_at, text, text_digest,"
            " paragraphs, title, authors, publisher, published, modified, language,"
            " canonical_url, problems, is_current)"
            " VALUES (:id, :version_id, :extractor, :created_at, :text, :text_digest,"
            " :paragraphs, :title, :authors, :publisher, :published, :modified, :language,"
            " :canonical_url, :problems, 1)"
            " ON CONFLICT (id) DO UPDATE SET is_current = 1",
            id=extraction.id,
            version_id=extraction.version_id,
            extractor=extraction.extractor,
            created_at=to_text(extraction.created_at),
            text=extraction.text,
            text_digest=text_digest,
            paragraphs=json.dumps(
                [[p.start, p.end, *([p.page] if p.page else [])] for p in extraction.paragraphs]
            ),
            title=extraction.title,
            authors=json.dumps(list(extraction.authors)),
            publisher=extraction.publisher,
            published=to_zoned_text(extraction.published),
            modified=to_text(extraction.modified),
            language=extraction.language,
            canonical_url=extraction.canonical_url,
            problems=json.dumps(list(extraction.problems)),
        )

    def extraction(self, extraction_id: str) -> Extraction | None:
        row = self._one("SELECT * FROM extractions WHERE id = :id", id=extraction_id)
        return extraction_row(row) if row else None

    def current_extraction(self, version_id: str) -> Extraction | None:
        row = self._one(
            "SELECT * FROM extractions WHERE version_id = :id AND is_current = 1", id=version_id
        )
        return extraction_row(row) if row else None

    def extractions(self, version_id: str) -> list[Extraction]:
        rows = self._rows(
            "SELECT * FROM extractions WHERE version_id = :id ORDER BY created_at, id",
            id=version_id,
        )
        return [extraction_row(row) for row in rows]

    def document_text(self, document_id: str) -> str | None:
        return self._value(f"SELECT e.text FROM {CURRENT_TEXT} WHERE d.id = :id", id=document_id)

    # -- events -----------------------------------------------------------------------

    def add_event(self, event: Event) -> None:
        self._run(
            "INSERT INTO events (type, document_id, url, at, capture_id)"
            " VALUES (:type, :document_id, :url, :at, :capture_id) ON CONFLICT DO NOTHING",
            type=event.type,
            document_id=event.document_id,
            url=event.url,
            at=to_text(event.at),
            capture_id=event.capture_id,
        )

    def events(self, document_id: str | None = None) -> list[Event]:
        if document_id is None:
            rows = self._rows("SELECT * FROM events ORDER BY at, id")
        else:
            rows = self._rows(
                "SELECT * FROM events WHERE document_id = :id ORDER BY at, id", id=document_id
            )
        return [event_row(r) for r in rows]

    def latest_events(self, limit: int = 10) -> list[Event]:
        rows = self._rows("SELECT * FROM events ORDER BY at DESC, id DESC LIMIT :n", n=limit)
        return [event_row(row) for row in rows]

    # -- what the index and the lists read --------------------------------------------

    def document_records(self, document_ids: Iterable[str] | None = None) -> Iterator[dict]:
        """Index records for the current extraction of each document's latest version."""
        sql = (
            "SELECT d.*, e.id AS extraction_id, e.title, e.text, e.authors, e.language,"
            f" e.published, e.publisher AS page_publisher FROM {CURRENT_TEXT}"
        )
        for row in self._per_document(sql, "d.id", document_ids):
            yield {
                "id": row["id"],
                "url": row["url"],
                "title": row["title"],
                "text": row["text"],
                "publisher": row["publisher"] or row["page_publisher"],
                "authors": json.loads(row["authors"]),
                "kind": row["kind"],
                "language": row["language"],
                "published": from_text(row["published"]),
                "captured": from_text(row["last_captured"]),
                "domain": domain(row["canonical_url"]),
                "source": row["source"],
            }

    def document_summaries(self, document_ids: Iterable[str]) -> dict[str, DocumentSummary]:
        """The title, publisher and dates of each document's current text, by document id."""
        found: dict[str, DocumentSummary] = {}
        for batch in batches(document_ids):
            rows = self._rows(
                "SELECT d.id, d.url, d.first_captured, d.kind,"
                " COALESCE(d.publisher, e.publisher) AS publisher, e.title, e.published,"
                " e.authors FROM documents d LEFT JOIN extractions e"
                " ON e.version_id = d.latest_version_id AND e.is_current = 1"
                " WHERE d.id IN :ids",
                ids=batch,
            )
            for row in rows:
                found[row["id"]] = DocumentSummary(
                    id=row["id"],
                    url=row["url"],
                    first_captured=from_text(row["first_captured"]),
                    kind=row["kind"],
                    publisher=row["publisher"],
                    title=row["title"],
                    published=from_text(row["published"]),
                    authors=tuple(json.loads(row["authors"] or "[]")),
                )
        return found

    def indexable_ids(self) -> tuple[set[str], set[str]]:
        """The ids of the documents and quotes the index should hold (those
        :meth:`document_records` and ``quote_records`` yield), without their text."""
        documents = set(self._run(f"SELECT d.id FROM {CURRENT_TEXT}").scalars())
        quotes = set(self._run(f"SELECT q.id FROM {CURRENT_QUOTES}").scalars())
        return documents, quotes
