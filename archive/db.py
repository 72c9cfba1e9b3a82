"""The catalog: the only module that imports sqlite3, and the home of all SQL.

The catalog is derived from the WARC files (see :mod:`archive.store`) and holds what was
made of them: documents, versions, extractions, quotes, speakers, events, and the
scheduler's state. Its schema version lives in the database (``schema_migrations``);
migrations are the numbered ``.sql`` files in ``archive/migrations``. The SQL keeps to
what SQLite and PostgreSQL share, so a catalog can move to a server later.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from archive.ids import normalize_quote_text
from archive.models import Capture, Document, Event, Extraction, Paragraph, Quote, Speaker, Version

log = logging.getLogger(__name__)

_MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class CatalogError(Exception):
    """The catalog cannot be used: missing, unreadable, or of an unknown schema."""


def to_text(moment: datetime | None) -> str | None:
    """A moment as the catalog stores it: ISO 8601 in UTC with microseconds.

    >>> to_text(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    '2026-11-03T09:00:00.000000Z'
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("the catalog stores timezone-aware datetimes only")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def from_text(value: str | None) -> datetime | None:
    """The inverse of :func:`to_text` (also reads other ISO 8601 forms with a zone)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def migrations() -> list[tuple[int, str, str]]:
    """The known migrations as (version, name, sql), in order."""
    found = []
    for entry in resources.files("archive.migrations").iterdir():
        match = _MIGRATION_RE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def latest_version() -> int:
    return migrations()[-1][0]


@dataclass(frozen=True)
class RunStats:
    id: str
    source: str
    started_at: datetime
    finished_at: datetime | None
    discovered: int
    fetched: int
    new_versions: int
    failed: int
    error: str | None


@dataclass(frozen=True)
class Failure:
    url: str
    source: str | None
    at: datetime
    reason: str
    status: int | None


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


class Catalog:
    """A connection to one catalog file. Not shared between threads."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    # -- opening and migrating -------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, create: bool = False, migrate: bool = True) -> Catalog:
        """Open (or with ``create``, make) a catalog and bring its schema up to date."""
        if not create and not path.exists():
            raise CatalogError(f"no catalog at {path}")
        try:
            connection = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise CatalogError(f"cannot open the catalog {path}: {exc}") from None
        connection.row_factory = sqlite3.Row
        catalog = cls(connection, path)
        try:
            connection.execute("PRAGMA busy_timeout = 30000")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            version = catalog.schema_version()
            if version > latest_version():
                raise CatalogError(
                    f"the catalog {path} has schema version {version}, newer than this "
                    f"onrecord knows ({latest_version()}): upgrade onrecord to use it"
                )
            if migrate:
                catalog.migrate()
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise CatalogError(f"{path} is not a usable catalog: {exc}") from None
        except CatalogError:
            connection.close()
            raise
        return catalog

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def schema_version(self) -> int:
        exists = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        if not exists:
            return 0
        row = self._db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return row[0] or 0

    def migrate(self, up_to: int | None = None) -> list[int]:
        """Apply the migrations the catalog lacks (up to ``up_to``), each in its own
        transaction."""
        applied = []
        current = self.schema_version()
        for version, name, sql in migrations():
            if version <= current or (up_to is not None and version > up_to):
                continue
            with self.transaction():
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
                for statement in _statements(sql):
                    self._db.execute(statement)
                self._db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, to_text(datetime.now(UTC))),
                )
            log.info("catalog %s migrated to version %d (%s)", self.path, version, name)
            applied.append(version)
        return applied

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; nested uses join the outer one."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- captures --------------------------------------------------------------------

    def add_capture(self, capture: Capture) -> bool:
        """Record a capture; False when it was already there (same id)."""
        values = _capture_values(capture)
        cursor = self._db.execute(
            f"INSERT INTO captures ({', '.join(values)})"
            f" VALUES ({', '.join('?' * len(values))}) ON CONFLICT DO NOTHING",
            tuple(values.values()),
        )
        return cursor.rowcount == 1

    def capture(self, capture_id: str) -> Capture | None:
        row = self._db.execute("SELECT * FROM captures WHERE id = ?", (capture_id,)).fetchone()
        return _capture(row) if row else None

    def captures(self, *, limit: int = 100, offset: int = 0) -> list[Capture]:
        rows = self._db.execute(
            "SELECT * FROM captures ORDER BY captured_at DESC, id LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_capture(row) for row in rows]

    def all_captures(self) -> Iterator[Capture]:
        """Every capture in WARC order (file, offset)."""
        rows = self._db.execute("SELECT * FROM captures ORDER BY warc_file, warc_offset")
        for row in rows:
            yield _capture(row)

    def count_captures(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM captures").fetchone()[0]

    def captures_of_url(self, canonical_url: str) -> list[Capture]:
        """Every capture of a canonical URL, oldest first."""
        rows = self._db.execute(
            "SELECT * FROM captures WHERE canonical_url = ? ORDER BY captured_at, id",
            (canonical_url,),
        )
        return [_capture(row) for row in rows]

    def last_records(self) -> dict[str, tuple[int, str]]:
        """For each WARC file, the offset and record id of the last capture cataloged in it."""
        rows = self._db.execute(
            "SELECT c.warc_file, c.warc_offset, c.warc_record_id FROM captures c"
            " JOIN (SELECT warc_file, MAX(warc_offset) AS last FROM captures"
            " GROUP BY warc_file) m ON m.warc_file = c.warc_file AND m.last = c.warc_offset"
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    def unprocessed_captures(self) -> list[Capture]:
        """Captures stored but not yet turned into documents (oldest first)."""
        rows = self._db.execute(
            "SELECT * FROM captures WHERE processed = 0 ORDER BY captured_at, id"
        )
        return [_capture(row) for row in rows]

    def mark_processed(self, capture_id: str) -> None:
        self._db.execute("UPDATE captures SET processed = 1 WHERE id = ?", (capture_id,))

    def log_head(self) -> tuple[int, str]:
        """The last entry of the capture log: (sequence number, entry hash)."""
        row = self._db.execute(
            "SELECT seq, entry_hash FROM capture_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def append_log(self, capture: Capture) -> int:
        """Append a capture to the hash chain (once); return its position."""
        row = self._db.execute(
            "SELECT seq FROM capture_log WHERE capture_id = ?", (capture.id,)
        ).fetchone()
        if row:
            return row[0]
        seq, prev = self.log_head()
        when = to_text(capture.captured_at)
        entry = log_entry_hash(prev, capture.id, when, capture.payload_digest)
        self._db.execute(
            "INSERT INTO capture_log (seq, capture_id, captured_at, payload_digest, prev_hash,"
            " entry_hash) VALUES (?, ?, ?, ?, ?, ?)",
            (seq + 1, capture.id, when, capture.payload_digest, prev, entry),
        )
        return seq + 1

    def unlogged_captures(self) -> list[Capture]:
        rows = self._db.execute(
            "SELECT c.* FROM captures c LEFT JOIN capture_log l ON l.capture_id = c.id"
            " WHERE l.seq IS NULL ORDER BY c.captured_at, c.warc_file, c.warc_offset"
        )
        return [_capture(row) for row in rows]

    def log_entries(self) -> Iterator[dict]:
        for row in self._db.execute("SELECT * FROM capture_log ORDER BY seq"):
            yield dict(row)

    def log_position(self, capture_id: str) -> int | None:
        row = self._db.execute(
            "SELECT seq FROM capture_log WHERE capture_id = ?", (capture_id,)
        ).fetchone()
        return row[0] if row else None

    # -- documents and versions --------------------------------------------------------

    def document(self, document_id: str) -> Document | None:
        row = self._db.execute("SELECT * FROM documents WHERE id = ?", (document_id,)).fetchone()
        return _document(row) if row else None

    def document_by_url(self, canonical_url: str) -> Document | None:
        row = self._db.execute(
            "SELECT * FROM documents WHERE canonical_url = ?", (canonical_url,)
        ).fetchone()
        return _document(row) if row else None

    def documents(self, *, limit: int = 100, offset: int = 0) -> list[Document]:
        rows = self._db.execute(
            "SELECT * FROM documents ORDER BY last_captured DESC, id LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_document(row) for row in rows]

    def all_documents(self) -> Iterator[Document]:
        for row in self._db.execute("SELECT * FROM documents ORDER BY id"):
            yield _document(row)

    def save_document(self, document: Document) -> None:
        """Insert a document or update its mutable fields."""
        self._db.execute(
            "INSERT INTO documents (id, canonical_url, url, first_captured, last_captured,"
            " source, publisher, kind, state, latest_version_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET last_captured = excluded.last_captured,"
            " source = COALESCE(excluded.source, documents.source),"
            " publisher = COALESCE(excluded.publisher, documents.publisher),"
            " kind = COALESCE(excluded.kind, documents.kind),"
            " state = excluded.state, latest_version_id = excluded.latest_version_id",
            (
                document.id,
                document.canonical_url,
                document.url,
                to_text(document.first_captured),
                to_text(document.last_captured),
                document.source,
                document.publisher,
                document.kind,
                document.state,
                document.latest_version_id,
            ),
        )

    def versions(self, document_id: str) -> list[Version]:
        rows = self._db.execute(
            "SELECT * FROM versions WHERE document_id = ? ORDER BY seq", (document_id,)
        )
        return [_version(row) for row in rows]

    def version(self, version_id: str) -> Version | None:
        row = self._db.execute("SELECT * FROM versions WHERE id = ?", (version_id,)).fetchone()
        return _version(row) if row else None

    def add_version(self, version: Version) -> None:
        self._db.execute(
            "INSERT INTO versions (id, document_id, capture_id, seq, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                version.id,
                version.document_id,
                version.capture_id,
                version.seq,
                to_text(version.created_at),
            ),
        )

    def link_capture(self, capture_id: str, version_id: str) -> None:
        self._db.execute(
            "INSERT INTO capture_versions (capture_id, version_id) VALUES (?, ?)"
            " ON CONFLICT (capture_id) DO UPDATE SET version_id = excluded.version_id",
            (capture_id, version_id),
        )

    def captures_of_version(self, version_id: str) -> list[Capture]:
        rows = self._db.execute(
            "SELECT c.* FROM captures c JOIN capture_versions cv ON cv.capture_id = c.id"
            " WHERE cv.version_id = ? ORDER BY c.captured_at",
            (version_id,),
        )
        return [_capture(row) for row in rows]

    # -- extractions -------------------------------------------------------------------

    def add_extraction(self, extraction: Extraction, text_digest: str) -> None:
        """Store an extraction and make it the version's current one."""
        self._db.execute(
            "UPDATE extractions SET is_current = 0 WHERE version_id = ?",
            (extraction.version_id,),
        )
        self._db.execute(
            "INSERT INTO extractions (id, version_id, extractor, created_at, text, text_digest,"
            " paragraphs, title, authors, publisher, published, modified, language,"
            " canonical_url, problems, is_current)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
            " ON CONFLICT (id) DO UPDATE SET is_current = 1",
            (
                extraction.id,
                extraction.version_id,
                extraction.extractor,
                to_text(extraction.created_at),
                extraction.text,
                text_digest,
                json.dumps([[p.start, p.end] for p in extraction.paragraphs]),
                extraction.title,
                json.dumps(list(extraction.authors)),
                extraction.publisher,
                to_text(extraction.published),
                to_text(extraction.modified),
                extraction.language,
                extraction.canonical_url,
                json.dumps(list(extraction.problems)),
            ),
        )

    def extraction(self, extraction_id: str) -> Extraction | None:
        row = self._db.execute(
            "SELECT * FROM extractions WHERE id = ?", (extraction_id,)
        ).fetchone()
        return _extraction(row) if row else None

    def current_extraction(self, version_id: str) -> Extraction | None:
        row = self._db.execute(
            "SELECT * FROM extractions WHERE version_id = ? AND is_current = 1",
            (version_id,),
        ).fetchone()
        return _extraction(row) if row else None

    def extractions(self, version_id: str) -> list[Extraction]:
        rows = self._db.execute(
            "SELECT * FROM extractions WHERE version_id = ? ORDER BY created_at", (version_id,)
        )
        return [_extraction(row) for row in rows]

    def save_speaker(self, speaker: Speaker) -> None:
        self._db.execute(
            "INSERT INTO speakers (id, name, anonymous, document_id) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO NOTHING",
            (speaker.id, speaker.name, int(speaker.anonymous), speaker.document_id),
        )

    def speaker(self, speaker_id: str) -> Speaker | None:
        row = self._db.execute("SELECT * FROM speakers WHERE id = ?", (speaker_id,)).fetchone()
        if not row:
            return None
        roles = self._db.execute(
            "SELECT role, MIN(e.created_at) AS first FROM quotes q"
            " JOIN extractions e ON e.id = q.extraction_id"
            " WHERE q.speaker_id = ? AND q.role IS NOT NULL GROUP BY role ORDER BY first",
            (speaker_id,),
        )
        return Speaker(
            id=row["id"],
            name=row["name"],
            anonymous=bool(row["anonymous"]),
            document_id=row["document_id"],
            roles=tuple(r["role"] for r in roles),
        )

    def replace_quotes(self, extraction_id: str, quotes: Iterable[Quote]) -> None:
        """Set the quotes of one extraction (idempotent)."""
        self._db.execute("DELETE FROM quotes WHERE extraction_id = ?", (extraction_id,))
        self._db.executemany(
            "INSERT INTO quotes (id, extraction_id, document_id, start_offset, end_offset, text,"
            " normalized, speaker_id, speaker, speaker_mention, speaker_start, speaker_end, role,"
            " cue, via, anonymous, unclosed, method, confidence, lead, tail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [
                (
                    q.id,
                    extraction_id,
                    q.document_id,
                    q.start,
                    q.end,
                    q.text,
                    normalize_quote_text(q.text),
                    q.speaker_id,
                    q.speaker,
                    q.speaker_mention,
                    q.speaker_start,
                    q.speaker_end,
                    q.role,
                    q.cue,
                    q.via,
                    int(q.anonymous),
                    int(q.unclosed),
                    q.method,
                    q.confidence,
                    *quote_keys(normalize_quote_text(q.text)),
                )
                for q in quotes
            ],
        )

    def quotes_of_extraction(self, extraction_id: str) -> list[Quote]:
        rows = self._db.execute(
            "SELECT * FROM quotes WHERE extraction_id = ? ORDER BY start_offset",
            (extraction_id,),
        )
        return [_quote(row) for row in rows]

    def quote(self, quote_id: str) -> Quote | None:
        """A quote by id, as it stands in the newest extraction that has it."""
        row = self._db.execute(
            "SELECT q.* FROM quotes q JOIN extractions e ON e.id = q.extraction_id"
            " WHERE q.id = ? ORDER BY e.is_current DESC, e.created_at DESC LIMIT 1",
            (quote_id,),
        ).fetchone()
        return _quote(row) if row else None

    def resolve_quote_id(self, quote_id: str) -> str | None:
        """The id a quote link should show now: the id itself while a current extraction
        has it, else its successor (following aliases), else the id as an older
        extraction issued it; None for an id never issued."""
        seen: list[str] = []
        current = quote_id
        while current not in seen:
            seen.append(current)
            live = self._db.execute(
                "SELECT 1 FROM quotes q JOIN extractions e ON e.id = q.extraction_id"
                " WHERE q.id = ? AND e.is_current = 1",
                (current,),
            ).fetchone()
            if live:
                return current
            row = self._db.execute(
                "SELECT new_id FROM quote_aliases WHERE old_id = ?", (current,)
            ).fetchone()
            if not row:
                break
            current = row[0]
        for candidate in seen:
            if self._db.execute("SELECT 1 FROM quotes WHERE id = ?", (candidate,)).fetchone():
                return candidate
        return None

    def quote_aliases(self) -> list[tuple[str, str]]:
        """Every (old id, successor id) pair, to carry them with an exported archive."""
        return [(r[0], r[1]) for r in self._db.execute("SELECT * FROM quote_aliases ORDER BY 1")]

    def add_quote_alias(self, old_id: str, new_id: str) -> None:
        self._db.execute(
            "INSERT INTO quote_aliases (old_id, new_id) VALUES (?, ?)"
            " ON CONFLICT (old_id) DO UPDATE SET new_id = excluded.new_id",
            (old_id, new_id),
        )

    def quotes_by_speaker(self, speaker_id: str, *, limit: int = 200) -> list[Quote]:
        rows = self._db.execute(
            "SELECT q.* FROM quotes q JOIN extractions e ON e.id = q.extraction_id"
            " JOIN documents d ON d.id = q.document_id AND d.latest_version_id = e.version_id"
            " WHERE q.speaker_id = ? AND e.is_current = 1 ORDER BY e.created_at DESC LIMIT ?",
            (speaker_id, limit),
        )
        return [_quote(row) for row in rows]

    def appearances(self, normalized: str) -> list[tuple[Quote, datetime]]:
        """Current quotes with the same normalised text, or the same first or last words
        (the same quote cut longer or shorter, or a variant with a word changed or
        dropped), with their document's first capture time, first appearance first."""
        lead, tail = quote_keys(normalized)
        rows = self._db.execute(
            "SELECT q.*, d.first_captured AS seen FROM quotes q"
            " JOIN extractions e ON e.id = q.extraction_id AND e.is_current = 1"
            " JOIN documents d ON d.id = q.document_id AND d.latest_version_id = e.version_id"
            " WHERE q.normalized = ? OR q.lead = ? OR q.tail = ?"
            " ORDER BY d.first_captured, q.id LIMIT 500",
            (normalized, lead, tail),
        )
        return [(_quote(row), from_text(row["seen"])) for row in rows]

    def quotes_with_ids(self, quote_ids: Iterable[str]) -> list[tuple[Quote, datetime]]:
        """Current quotes by id (as the index found them), with their document's first
        capture time, first appearance first."""
        found = []
        for quote_id in dict.fromkeys(quote_ids):
            row = self._db.execute(
                "SELECT q.*, d.first_captured AS seen FROM quotes q"
                " JOIN extractions e ON e.id = q.extraction_id AND e.is_current = 1"
                " JOIN documents d ON d.id = q.document_id AND d.latest_version_id = e.version_id"
                " WHERE q.id = ? LIMIT 1",
                (quote_id,),
            ).fetchone()
            if row:
                found.append((_quote(row), from_text(row["seen"])))
        return sorted(found, key=_first_seen)

    def fill_quote_keys(self) -> int:
        """Compute the lead and tail words of quotes stored before they were kept."""
        rows = self._db.execute(
            "SELECT id, extraction_id, normalized FROM quotes WHERE lead IS NULL"
        ).fetchall()
        with self.transaction():
            self._db.executemany(
                "UPDATE quotes SET lead = ?, tail = ? WHERE id = ? AND extraction_id = ?",
                [(*quote_keys(row[2]), row[0], row[1]) for row in rows],
            )
        return len(rows)

    def latest_quotes(self, limit: int = 10) -> list[Quote]:
        """Quotes of the documents captured most recently (their current text)."""
        rows = self._db.execute(
            "SELECT q.* FROM quotes q JOIN extractions e ON e.id = q.extraction_id"
            " JOIN documents d ON d.id = q.document_id AND d.latest_version_id = e.version_id"
            " WHERE e.is_current = 1 ORDER BY d.last_captured DESC, q.start_offset LIMIT ?",
            (limit,),
        )
        return [_quote(row) for row in rows]

    def latest_events(self, limit: int = 10) -> list[Event]:
        rows = self._db.execute("SELECT * FROM events ORDER BY at DESC, id DESC LIMIT ?", (limit,))
        return [_event(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many captures, documents, quotes (current) and speakers the archive holds."""
        one = self._db.execute
        return {
            "captures": one("SELECT COUNT(*) FROM captures").fetchone()[0],
            "documents": one("SELECT COUNT(*) FROM documents").fetchone()[0],
            "quotes": one(
                "SELECT COUNT(*) FROM quotes q JOIN extractions e ON e.id = q.extraction_id"
                " JOIN documents d ON d.id = q.document_id"
                " AND d.latest_version_id = e.version_id WHERE e.is_current = 1"
            ).fetchone()[0],
            "speakers": one("SELECT COUNT(*) FROM speakers").fetchone()[0],
        }

    def current_quotes(self) -> Iterator[Quote]:
        rows = self._db.execute(
            "SELECT q.* FROM quotes q JOIN extractions e ON e.id = q.extraction_id"
            " JOIN documents d ON d.id = q.document_id AND d.latest_version_id = e.version_id"
            " WHERE e.is_current = 1 ORDER BY q.document_id, q.start_offset"
        )
        for row in rows:
            yield _quote(row)

    def add_event(self, event: Event) -> None:
        self._db.execute(
            "INSERT INTO events (type, document_id, url, at, capture_id) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (event.type, event.document_id, event.url, to_text(event.at), event.capture_id),
        )

    def events(self, document_id: str | None = None) -> list[Event]:
        if document_id is None:
            rows = self._db.execute("SELECT * FROM events ORDER BY at, id")
        else:
            rows = self._db.execute(
                "SELECT * FROM events WHERE document_id = ? ORDER BY at, id", (document_id,)
            )
        return [_event(r) for r in rows]

    def add_failure(self, failure: Failure) -> None:
        self._db.execute(
            "INSERT INTO failures (url, source, at, reason, status) VALUES (?, ?, ?, ?, ?)",
            (failure.url, failure.source, to_text(failure.at), failure.reason, failure.status),
        )

    def failures(self, source: str | None = None, *, limit: int = 50) -> list[Failure]:
        rows = self._db.execute(
            "SELECT * FROM failures WHERE (? IS NULL OR source = ?) ORDER BY at DESC LIMIT ?",
            (source, source, limit),
        )
        return [
            Failure(
                url=r["url"],
                source=r["source"],
                at=from_text(r["at"]),
                reason=r["reason"],
                status=r["status"],
            )
            for r in rows
        ]

    def start_run(self, run_id: str, source: str, started_at: datetime) -> None:
        self._db.execute(
            "INSERT INTO runs (id, source, started_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (run_id, source, to_text(started_at)),
        )

    def unfinished_run(self, source: str) -> str | None:
        row = self._db.execute(
            "SELECT id FROM runs WHERE source = ? AND finished_at IS NULL"
            " ORDER BY started_at DESC LIMIT 1",
            (source,),
        ).fetchone()
        return row[0] if row else None

    def count_run(self, run_id: str, **increments: int) -> None:
        for column, amount in increments.items():
            if column not in ("discovered", "fetched", "new_versions", "failed"):
                raise ValueError(f"no run counter {column!r}")
            self._db.execute(
                f"UPDATE runs SET {column} = {column} + ? WHERE id = ?", (amount, run_id)
            )

    def finish_run(self, run_id: str, finished_at: datetime, error: str | None = None) -> None:
        self._db.execute(
            "UPDATE runs SET finished_at = ?, error = ? WHERE id = ?",
            (to_text(finished_at), error, run_id),
        )

    def last_run(self, source: str) -> RunStats | None:
        row = self._db.execute(
            "SELECT * FROM runs WHERE source = ? ORDER BY started_at DESC LIMIT 1", (source,)
        ).fetchone()
        if not row:
            return None
        return RunStats(
            id=row["id"],
            source=row["source"],
            started_at=from_text(row["started_at"]),
            finished_at=from_text(row["finished_at"]),
            discovered=row["discovered"],
            fetched=row["fetched"],
            new_versions=row["new_versions"],
            failed=row["failed"],
            error=row["error"],
        )

    def enqueue(self, source: str, run_id: str, urls: Iterable[str], at: datetime) -> None:
        self._db.executemany(
            "INSERT INTO queue (source, url, run_id, queued_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [(source, url, run_id, to_text(at)) for url in urls],
        )

    def pending(self, source: str, run_id: str) -> list[str]:
        rows = self._db.execute(
            "SELECT url FROM queue WHERE source = ? AND run_id = ? AND done_at IS NULL"
            " ORDER BY queued_at, url",
            (source, run_id),
        )
        return [row[0] for row in rows]

    def mark_done(self, source: str, run_id: str, url: str, at: datetime) -> None:
        self._db.execute(
            "UPDATE queue SET done_at = ? WHERE source = ? AND run_id = ? AND url = ?",
            (to_text(at), source, run_id, url),
        )

    def next_due(self, source: str) -> datetime | None:
        row = self._db.execute(
            "SELECT next_due FROM schedule WHERE source = ?", (source,)
        ).fetchone()
        return from_text(row[0]) if row else None

    def set_next_due(self, source: str, when: datetime) -> None:
        self._db.execute(
            "INSERT INTO schedule (source, next_due) VALUES (?, ?)"
            " ON CONFLICT (source) DO UPDATE SET next_due = excluded.next_due",
            (source, to_text(when)),
        )

    # -- the index backlog -------------------------------------------------------------

    def queue_for_index(self, document_id: str, at: datetime) -> None:
        self._db.execute(
            "INSERT INTO index_queue (document_id, queued_at) VALUES (?, ?)"
            " ON CONFLICT (document_id) DO UPDATE SET queued_at = excluded.queued_at",
            (document_id, to_text(at)),
        )

    def index_backlog(self) -> list[tuple[str, str]]:
        """(document id, queued at) of every document the index is behind on."""
        rows = self._db.execute("SELECT document_id, queued_at FROM index_queue ORDER BY 1")
        return [(row[0], row[1]) for row in rows]

    def indexed(self, backlog: Iterable[tuple[str, str]]) -> None:
        """Take documents off the queue, unless they were queued again meanwhile."""
        with self.transaction():
            self._db.executemany(
                "DELETE FROM index_queue WHERE document_id = ? AND queued_at = ?", list(backlog)
            )

    # -- records for the index ---------------------------------------------------------

    def document_records(self, document_ids: Iterable[str] | None = None) -> Iterator[dict]:
        """Index records for the current extraction of each document's latest version."""
        for row in self._index_rows(
            "SELECT d.*, e.id AS extraction_id, e.title, e.text, e.authors, e.language,"
            " e.published, e.publisher AS page_publisher"
            " FROM documents d JOIN extractions e"
            " ON e.version_id = d.latest_version_id AND e.is_current = 1",
            "d.id",
            document_ids,
        ):
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
                "domain": _domain(row["canonical_url"]),
                "source": row["source"],
            }

    def quote_records(self, document_ids: Iterable[str] | None = None) -> Iterator[dict]:
        """Index records for the quotes of each document's current text."""
        for row in self._index_rows(
            "SELECT q.*, d.url, d.canonical_url, d.kind, d.last_captured,"
            " COALESCE(d.publisher, e.publisher) AS doc_publisher, e.title, e.language,"
            " e.published FROM quotes q"
            " JOIN documents d ON d.id = q.document_id"
            " JOIN extractions e ON e.id = q.extraction_id AND e.is_current = 1"
            " AND e.version_id = d.latest_version_id",
            "q.document_id",
            document_ids,
        ):
            yield {
                "id": row["id"],
                "document_id": row["document_id"],
                "text": row["text"],
                "speaker": row["speaker"],
                "speaker_mention": row["speaker_mention"],
                "speaker_id": row["speaker_id"],
                "role": row["role"],
                "anonymous": bool(row["anonymous"]),
                "cue": row["cue"],
                "via": row["via"],
                "publisher": row["doc_publisher"],
                "kind": row["kind"],
                "language": row["language"],
                "published": from_text(row["published"]),
                "captured": from_text(row["last_captured"]),
                "domain": _domain(row["canonical_url"]),
                "url": row["url"],
                "title": row["title"],
            }

    def _index_rows(self, sql: str, key: str, ids: Iterable[str] | None) -> Iterator[sqlite3.Row]:
        if ids is None:
            yield from self._db.execute(f"{sql} ORDER BY {key}")
            return
        for document_id in ids:
            yield from self._db.execute(f"{sql} WHERE {key} = ?", (document_id,))

    def document_text(self, document_id: str) -> str | None:
        row = self._db.execute(
            "SELECT e.text FROM documents d JOIN extractions e"
            " ON e.version_id = d.latest_version_id AND e.is_current = 1 WHERE d.id = ?",
            (document_id,),
        ).fetchone()
        return row[0] if row else None

    # -- web queries -------------------------------------------------------------------

    def document_summaries(self, document_ids: Iterable[str]) -> dict[str, DocumentSummary]:
        """The title, publisher and dates of each document's current text, by document id."""
        chosen = sorted(set(document_ids))
        found: dict[str, DocumentSummary] = {}
        for start in range(0, len(chosen), 500):
            batch = chosen[start : start + 500]
            rows = self._db.execute(
                "SELECT d.id, d.url, d.first_captured, d.kind,"
                " COALESCE(d.publisher, e.publisher) AS publisher, e.title, e.published,"
                " e.authors FROM documents d LEFT JOIN extractions e"
                " ON e.version_id = d.latest_version_id AND e.is_current = 1"
                f" WHERE d.id IN ({', '.join('?' * len(batch))})",
                batch,
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

    # -- integrity ---------------------------------------------------------------------

    def captures_in_file(self, warc_file: str) -> dict[int, Capture]:
        """The captures the catalog places in one WARC file, by offset."""
        rows = self._db.execute(
            "SELECT * FROM captures WHERE warc_file = ? ORDER BY warc_offset", (warc_file,)
        )
        return {row["warc_offset"]: _capture(row) for row in rows}

    def warc_files(self) -> set[str]:
        """The WARC files the catalog refers to."""
        return {row[0] for row in self._db.execute("SELECT DISTINCT warc_file FROM captures")}

    def relocate_capture(self, capture: Capture) -> None:
        """Rewrite what a capture row says of its record (where it is, its digest and
        headers) from the WARC record itself, keeping the id and what was made of it."""
        values = _capture_values(capture)
        columns = _RECORD_COLUMNS
        self._db.execute(
            f"UPDATE captures SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?",
            (*(values[c] for c in columns), capture.id),
        )

    def log_entry(self, capture_id: str) -> dict | None:
        """A capture's entry in the capture log (seq, capture_id, captured_at,
        payload_digest, prev_hash, entry_hash)."""
        row = self._db.execute(
            "SELECT * FROM capture_log WHERE capture_id = ?", (capture_id,)
        ).fetchone()
        return dict(row) if row else None

    def log_segment(self, start: int, end: int | None = None) -> Iterator[dict]:
        """The capture log's entries from position ``start`` to ``end`` (both included;
        to the head when ``end`` is None), in order: what a reader re-hashes to check
        that a published head still follows from an entry."""
        rows = self._db.execute(
            "SELECT * FROM capture_log WHERE seq >= ? AND (? IS NULL OR seq <= ?) ORDER BY seq",
            (start, end, end),
        )
        for row in rows:
            yield dict(row)

    def indexable_ids(self) -> tuple[set[str], set[str]]:
        """The ids of the documents and quotes the index should hold (those
        :meth:`document_records` and :meth:`quote_records` yield), without their text."""
        documents = {
            row[0]
            for row in self._db.execute(
                "SELECT d.id FROM documents d JOIN extractions e"
                " ON e.version_id = d.latest_version_id AND e.is_current = 1"
            )
        }
        quotes = {
            row[0]
            for row in self._db.execute(
                "SELECT q.id FROM quotes q JOIN documents d ON d.id = q.document_id"
                " JOIN extractions e ON e.id = q.extraction_id AND e.is_current = 1"
                " AND e.version_id = d.latest_version_id"
            )
        }
        return documents, quotes

    def captures_of_source(self, source: str) -> list[Capture]:
        """Captures made for a source, and every capture of the documents it owns."""
        rows = self._db.execute(
            "SELECT * FROM captures WHERE source = ? OR canonical_url IN"
            " (SELECT canonical_url FROM documents WHERE source = ?)"
            " ORDER BY warc_file, warc_offset",
            (source, source),
        )
        return [_capture(row) for row in rows]

    def captures_of_documents(self, document_ids: Iterable[str]) -> list[Capture]:
        """Every capture of the given documents' URLs (in WARC order within each batch of
        500 documents)."""
        chosen = sorted(set(document_ids))
        found: list[Capture] = []
        for start in range(0, len(chosen), 500):
            batch = chosen[start : start + 500]
            rows = self._db.execute(
                "SELECT c.* FROM captures c JOIN documents d ON d.canonical_url = c.canonical_url"
                f" WHERE d.id IN ({', '.join('?' * len(batch))})"
                " ORDER BY c.warc_file, c.warc_offset",
                batch,
            )
            found += [_capture(row) for row in rows]
        return found

    def capture_titles(self, capture_ids: Iterable[str]) -> dict[str, str | None]:
        """For captures that show a version of a document: the title of that version's
        current text, by capture id."""
        chosen = sorted(set(capture_ids))
        found: dict[str, str | None] = {}
        for start in range(0, len(chosen), 500):
            batch = chosen[start : start + 500]
            rows = self._db.execute(
                "SELECT cv.capture_id, e.title FROM capture_versions cv"
                " LEFT JOIN extractions e ON e.version_id = cv.version_id AND e.is_current = 1"
                f" WHERE cv.capture_id IN ({', '.join('?' * len(batch))})",
                batch,
            )
            found.update({row[0]: row[1] for row in rows})
        return found

    # -- speaker aliases (h14: a speaker id an earlier release issued keeps resolving) ---

    def speaker_has_current_quotes(self, speaker_id: str) -> bool:
        return bool(
            self._db.execute(
                "SELECT 1 FROM quotes q JOIN extractions e ON e.id = q.extraction_id"
                " WHERE q.speaker_id = ? AND e.is_current = 1 LIMIT 1",
                (speaker_id,),
            ).fetchone()
        )

    def add_speaker_alias(self, old_id: str, new_id: str) -> None:
        self._db.execute(
            "INSERT INTO speaker_aliases (old_id, new_id) VALUES (?, ?)"
            " ON CONFLICT (old_id) DO UPDATE SET new_id = excluded.new_id",
            (old_id, new_id),
        )

    def resolve_speaker_id(self, speaker_id: str) -> str | None:
        """The id a speaker link should show now: the id itself while current quotes carry
        it, else its successor (following aliases), else the id as issued; None for an id
        never issued."""
        seen: list[str] = []
        current = speaker_id
        while current not in seen:
            seen.append(current)
            if self.speaker_has_current_quotes(current):
                return current
            row = self._db.execute(
                "SELECT new_id FROM speaker_aliases WHERE old_id = ?", (current,)
            ).fetchone()
            if not row:
                break
            current = row[0]
        for candidate in seen:
            if self._db.execute("SELECT 1 FROM speakers WHERE id = ?", (candidate,)).fetchone():
                return candidate
        return None


GENESIS_HASH = "0" * 64
QUOTE_KEY_WORDS = 4


def quote_keys(normalized: str) -> tuple[str, str]:
    """The first and last words of a normalised quote, the keys its relatives share.

    >>> quote_keys("we will count every ballot cast in this county")
    ('we will count every', 'cast in this county')
    """
    words = normalized.split()
    return " ".join(words[:QUOTE_KEY_WORDS]), " ".join(words[-QUOTE_KEY_WORDS:])


def _first_seen(pair: tuple[Quote, datetime]) -> tuple[datetime, str]:
    return pair[1], pair[0].id


def log_entry_hash(prev_hash: str, capture_id: str, captured_at: str, digest: str) -> str:
    """One link of the capture log's hash chain.

    >>> log_entry_hash(GENESIS_HASH, "c-1", "2026-11-03T09:00:00.000000Z", "sha256:ab")[:16]
    '322f824d68e0662b'
    """
    material = "\n".join((prev_hash, capture_id, captured_at, digest)).encode("utf-8")
    return hashlib.sha256(material).hexdigest()


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def _domain(canonical_url: str) -> str:
    return canonical_url.split("://", 1)[-1].split("/", 1)[0]


# What a capture row takes from its WARC record (relocate_capture rewrites these).
_RECORD_COLUMNS = (
    "url",
    "canonical_url",
    "captured_at",
    "status",
    "content_type",
    "payload_digest",
    "payload_length",
    "warc_file",
    "warc_offset",
    "warc_length",
    "warc_record_id",
    "record_type",
)


def _capture_values(capture: Capture) -> dict[str, object]:
    """A capture as the columns of its row (the catalog stores times as text)."""
    values = {name: getattr(capture, name) for name in ("id", *_RECORD_COLUMNS)}
    values["captured_at"] = to_text(capture.captured_at)
    for name in ("refers_to", "etag", "last_modified", "location", "source"):
        values[name] = getattr(capture, name)
    return values


def _capture(row: sqlite3.Row) -> Capture:
    return Capture(
        id=row["id"],
        url=row["url"],
        canonical_url=row["canonical_url"],
        captured_at=from_text(row["captured_at"]),
        status=row["status"],
        content_type=row["content_type"],
        payload_digest=row["payload_digest"],
        payload_length=row["payload_length"],
        warc_file=row["warc_file"],
        warc_offset=row["warc_offset"],
        warc_length=row["warc_length"],
        warc_record_id=row["warc_record_id"],
        record_type=row["record_type"],
        refers_to=row["refers_to"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        location=row["location"],
        source=row["source"],
    )


def _document(row: sqlite3.Row) -> Document:
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


def _event(row: sqlite3.Row) -> Event:
    return Event(
        type=row["type"],
        document_id=row["document_id"],
        url=row["url"],
        at=from_text(row["at"]),
        capture_id=row["capture_id"],
    )


def _version(row: sqlite3.Row) -> Version:
    return Version(
        id=row["id"],
        document_id=row["document_id"],
        capture_id=row["capture_id"],
        seq=row["seq"],
        created_at=from_text(row["created_at"]),
    )


def _extraction(row: sqlite3.Row) -> Extraction:
    return Extraction(
        id=row["id"],
        version_id=row["version_id"],
        extractor=row["extractor"],
        created_at=from_text(row["created_at"]),
        text=row["text"],
        paragraphs=tuple(Paragraph(s, e) for s, e in json.loads(row["paragraphs"])),
        title=row["title"],
        authors=tuple(json.loads(row["authors"])),
        publisher=row["publisher"],
        published=from_text(row["published"]),
        modified=from_text(row["modified"]),
        language=row["language"],
        canonical_url=row["canonical_url"],
        problems=tuple(json.loads(row["problems"])),
    )


def _quote(row: sqlite3.Row) -> Quote:
    return Quote(
        id=row["id"],
        document_id=row["document_id"],
        extraction_id=row["extraction_id"],
        start=row["start_offset"],
        end=row["end_offset"],
        text=row["text"],
        speaker_id=row["speaker_id"],
        speaker=row["speaker"],
        speaker_mention=row["speaker_mention"],
        speaker_start=row["speaker_start"],
        speaker_end=row["speaker_end"],
        role=row["role"],
        cue=row["cue"],
        via=row["via"],
        anonymous=bool(row["anonymous"]),
        unclosed=bool(row["unclosed"]),
        method=row["method"],
        confidence=row["confidence"],
    )
