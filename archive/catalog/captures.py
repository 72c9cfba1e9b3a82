"""Captures (one row per WARC record) and the capture log, the hash chain over them.

The capture log commits each capture to every one before it: entry n holds the hash of
entry n-1 and its own. Appends are serialised by the database (SQLite's write lock;
on PostgreSQL a transaction-scoped advisory lock), so that several processes writing
into one catalog still make one chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy.engine import RowMapping

from archive.catalog.base import Queries
from archive.catalog.rows import batches, from_text, to_text
from archive.models import CAPTURE_KINDS, Capture

GENESIS_HASH = "0" * 64
# The advisory lock that serialises appends to the capture log on PostgreSQL
# (the ASCII of "onrecord" as a 64-bit number).
LOG_LOCK = 0x6F6E7265636F7264

# What a capture row takes from its WARC record (relocate_capture rewrites these).
RECORD_COLUMNS = (
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
    "kind",
    "run_id",
)
CAPTURE_COLUMNS = ("id", *RECORD_COLUMNS, "refers_to", "etag", "last_modified", "location")


def log_entry_bytes(
    prev_hash: str, capture_id: str, captured_at: datetime | str, digest: str
) -> bytes:
    """The exact bytes one entry of the capture log hashes, whatever the engine.

    Four fields, UTF-8, joined by a line feed (none at the end): the previous entry's
    hash (64 lower-case hex digits; :data:`GENESIS_HASH` for the first), the capture id,
    the capture time in UTC as ``YYYY-MM-DDThh:mm:ss.ffffffZ`` (always six digits of
    microseconds, as :func:`~archive.catalog.rows.to_text` writes it) and the payload
    digest (``sha256:`` and hex). The log stores the time as that very text, never as an
    engine's timestamp type, so re-hashing a stored entry (given as text, taken as it is)
    gives the same bytes on SQLite and PostgreSQL, and the bytes logs made before this
    definition hashed.

    >>> from datetime import UTC, timedelta, timezone
    >>> moment = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    >>> log_entry_bytes("0" * 4, "c-1", moment, "sha256:ab")
    b'0000\\nc-1\\n2026-11-03T09:00:00.000000Z\\nsha256:ab'
    >>> log_entry_bytes("0" * 4, "c-1", moment.astimezone(timezone(timedelta(hours=-5))),
    ...                 "sha256:ab") == log_entry_bytes("0" * 4, "c-1", moment, "sha256:ab")
    True
    >>> log_entry_bytes("0" * 4, "c-1", "2026-11-03T09:00:00.000000Z", "sha256:ab")
    b'0000\\nc-1\\n2026-11-03T09:00:00.000000Z\\nsha256:ab'
    """
    when = to_text(captured_at) if isinstance(captured_at, datetime) else captured_at
    return "\n".join((prev_hash, capture_id, when, digest)).encode("utf-8")


def log_entry_hash(
    prev_hash: str, capture_id: str, captured_at: datetime | str, digest: str
) -> str:
    """One link of the capture log's hash chain: the SHA-256, in hex, of
    :func:`log_entry_bytes`.

    >>> log_entry_hash(GENESIS_HASH, "c-1", "2026-11-03T09:00:00.000000Z", "sha256:ab")[:16]
    '322f824d68e0662b'
    """
    return hashlib.sha256(log_entry_bytes(prev_hash, capture_id, captured_at, digest)).hexdigest()


def capture_values(capture: Capture) -> dict[str, object]:
    """A capture as the columns of its row."""
    values = {name: getattr(capture, name) for name in (*CAPTURE_COLUMNS, "source")}
    values["captured_at"] = to_text(capture.captured_at)
    return values


def capture_row(row: RowMapping) -> Capture:
    values = {name: row[name] for name in (*CAPTURE_COLUMNS, "source")}
    values["captured_at"] = from_text(row["captured_at"])
    return Capture(**values)


# The capture list's filters: each kind of fetch (what answered it as asked), and the
# redirects and failures of every kind. They partition the captures.
CAPTURE_FILTERS = (*CAPTURE_KINDS, "redirect", "failed")
_ANSWERED = "(status < 300 OR status = 304)"


def kind_filter(kind: str | None) -> tuple[str, dict[str, str]]:
    """The WHERE clause (and its parameters) of one of :data:`CAPTURE_FILTERS`: a kind
    of fetch (``feed``: the feeds' answers, less their redirects and failures),
    ``redirect`` (every 3xx but 304) or ``failed`` (every 4xx and 5xx); ValueError for
    another name.

    >>> kind_filter("failed")
    ('WHERE status >= 400 ', {})
    >>> kind_filter("robots")[1]
    {'kind': 'robots'}
    """
    if kind is None:
        return "", {}
    if kind == "redirect":
        return "WHERE status >= 300 AND status < 400 AND status != 304 ", {}
    if kind == "failed":
        return "WHERE status >= 400 ", {}
    if kind not in CAPTURE_KINDS:
        raise ValueError(f"no capture kind {kind!r}: one of {', '.join(CAPTURE_FILTERS)}")
    return f"WHERE kind = :kind AND {_ANSWERED} ", {"kind": kind}


class CaptureQueries(Queries):
    def add_capture(self, capture: Capture) -> bool:
        """Record a capture; False when it was already there (same id)."""
        values = capture_values(capture)
        result = self._run(
            f"INSERT INTO captures ({', '.join(values)})"
            f" VALUES ({', '.join(':' + name for name in values)}) ON CONFLICT DO NOTHING",
            values,
        )
        return result.rowcount == 1

    def capture(self, capture_id: str) -> Capture | None:
        row = self._one("SELECT * FROM captures WHERE id = :id", id=capture_id)
        return capture_row(row) if row else None

    def capture_of_record(self, warc_record_id: str) -> Capture | None:
        """The capture whose WARC record has this WARC-Record-ID (``<urn:uuid:…>``)."""
        row = self._one("SELECT * FROM captures WHERE warc_record_id = :rid", rid=warc_record_id)
        return capture_row(row) if row else None

    def captures(
        self, *, limit: int = 100, offset: int = 0, kind: str | None = None
    ) -> list[Capture]:
        """Captures, newest first; of one :func:`kind_filter` when ``kind`` is given."""
        where, named = kind_filter(kind)
        rows = self._rows(
            f"SELECT * FROM captures {where}ORDER BY captured_at DESC, id"
            " LIMIT :limit OFFSET :offset",
            limit=limit,
            offset=offset,
            **named,
        )
        return [capture_row(row) for row in rows]

    def all_captures(self) -> Iterator[Capture]:
        """Every capture in WARC order (file, offset)."""
        for row in self._run("SELECT * FROM captures ORDER BY warc_file, warc_offset").mappings():
            yield capture_row(row)

    def count_captures(self, kind: str | None = None) -> int:
        where, named = kind_filter(kind)
        return self._value(f"SELECT COUNT(*) FROM captures {where}", **named)

    def captures_of_url(self, canonical_url: str) -> list[Capture]:
        """Every capture of a canonical URL, oldest first."""
        rows = self._rows(
            "SELECT * FROM captures WHERE canonical_url = :url ORDER BY captured_at, id",
            url=canonical_url,
        )
        return [capture_row(row) for row in rows]

    def captures_of_source(self, source: str) -> list[Capture]:
        """Captures made for a source, and every capture of the documents it owns."""
        rows = self._rows(
            "SELECT * FROM captures WHERE source = :source OR canonical_url IN"
            " (SELECT canonical_url FROM documents WHERE source = :source)"
            " ORDER BY warc_file, warc_offset",
            source=source,
        )
        return [capture_row(row) for row in rows]

    def captures_of_documents(self, document_ids: Iterable[str]) -> list[Capture]:
        """Every capture of the given documents' URLs (in WARC order within each batch of
        500 documents)."""
        found: list[Capture] = []
        for batch in batches(document_ids):
            rows = self._rows(
                "SELECT c.* FROM captures c JOIN documents d ON d.canonical_url = c.canonical_url"
                " WHERE d.id IN :ids ORDER BY c.warc_file, c.warc_offset",
                ids=batch,
            )
            found += [capture_row(row) for row in rows]
        return found

    def unprocessed_captures(self) -> list[Capture]:
        """Captures stored but not yet turned into documents (oldest first)."""
        rows = self._rows("SELECT * FROM captures WHERE processed = 0 ORDER BY captured_at, id")
        return [capture_row(row) for row in rows]

    def claim_capture(self, capture_id: str) -> bool:
        """Inside a transaction: take an unprocessed capture for processing. False when
        it was processed already, or (PostgreSQL) another transaction is processing it;
        on SQLite the transaction's write lock keeps others out already."""
        lock = "" if self.sqlite else " FOR UPDATE SKIP LOCKED"
        processed = self._value(
            f"SELECT processed FROM captures WHERE id = :id{lock}", id=capture_id
        )
        return processed == 0

    def mark_processed(self, capture_id: str) -> None:
        self._run("UPDATE captures SET processed = 1 WHERE id = :id", id=capture_id)

    # -- where records are ------------------------------------------------------------

    def last_records(self) -> dict[str, tuple[int, str]]:
        """For each WARC file, the offset and record id of the last capture cataloged in it."""
        rows = self._run(
            "SELECT c.warc_file, c.warc_offset, c.warc_record_id FROM captures c"
            " JOIN (SELECT warc_file, MAX(warc_offset) AS last FROM captures"
            " GROUP BY warc_file) m ON m.warc_file = c.warc_file AND m.last = c.warc_offset"
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    def captures_in_file(self, warc_file: str) -> dict[int, Capture]:
        """The captures the catalog places in one WARC file, by offset."""
        rows = self._rows(
            "SELECT * FROM captures WHERE warc_file = :file ORDER BY warc_offset", file=warc_file
        )
        return {row["warc_offset"]: capture_row(row) for row in rows}

    def warc_files(self) -> set[str]:
        """The WARC files the catalog refers to."""
        return set(self._run("SELECT DISTINCT warc_file FROM captures").scalars())

    def relocate_capture(self, capture: Capture) -> None:
        """Rewrite what a capture row says of its record (where it is, its digest and
        headers) from the WARC record itself, keeping the id and what was made of it."""
        values = capture_values(capture)
        self._run(
            f"UPDATE captures SET {', '.join(f'{c} = :{c}' for c in RECORD_COLUMNS)}"
            " WHERE id = :id",
            {c: values[c] for c in ("id", *RECORD_COLUMNS)},
        )

    # -- the capture log --------------------------------------------------------------

    def log_head(self) -> tuple[int, str]:
        """The last entry of the capture log: (sequence number, entry hash)."""
        row = self._run("SELECT seq, entry_hash FROM capture_log ORDER BY seq DESC LIMIT 1").first()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def append_log(self, capture: Capture) -> int:
        """Append a capture to the hash chain (once); return its position. Call it inside
        a transaction: the head it reads stays the head until that transaction ends."""
        if not self.sqlite:
            self._run("SELECT pg_advisory_xact_lock(:key)", key=LOG_LOCK)
        known = self.log_position(capture.id)
        if known is not None:
            return known
        seq, prev = self.log_head()
        when = to_text(capture.captured_at)
        self._run(
            "INSERT INTO capture_log (seq, capture_id, captured_at, payload_digest, prev_hash,"
            " entry_hash) VALUES (:seq, :capture_id, :captured_at, :digest, :prev, :entry)",
            seq=seq + 1,
            capture_id=capture.id,
            captured_at=when,
            digest=capture.payload_digest,
            prev=prev,
            entry=log_entry_hash(prev, capture.id, when, capture.payload_digest),
        )
        return seq + 1

    def unlogged_captures(self) -> list[Capture]:
        rows = self._rows(
            "SELECT c.* FROM captures c LEFT JOIN capture_log l ON l.capture_id = c.id"
            " WHERE l.seq IS NULL ORDER BY c.captured_at, c.warc_file, c.warc_offset"
        )
        return [capture_row(row) for row in rows]

    def log_entries(self) -> Iterator[dict]:
        for row in self._run("SELECT * FROM capture_log ORDER BY seq").mappings():
            yield dict(row)

    def log_position(self, capture_id: str) -> int | None:
        return self._value("SELECT seq FROM capture_log WHERE capture_id = :id", id=capture_id)

    def log_entry(self, capture_id: str) -> dict | None:
        """A capture's entry in the capture log (seq, capture_id, captured_at,
        payload_digest, prev_hash, entry_hash)."""
        row = self._one("SELECT * FROM capture_log WHERE capture_id = :id", id=capture_id)
        return dict(row) if row else None

    def log_segment(self, start: int, end: int | None = None) -> Iterator[dict]:
        """The capture log's entries from position ``start`` to ``end`` (both included;
        to the head when ``end`` is None), in order: what a reader re-hashes to check
        that a published head still follows from an entry."""
        if end is None:
            rows = self._run(
                "SELECT * FROM capture_log WHERE seq >= :start ORDER BY seq", start=start
            )
        else:
            rows = self._run(
                "SELECT * FROM capture_log WHERE seq >= :start AND seq <= :end ORDER BY seq",
                start=start,
                end=end,
            )
        for row in rows.mappings():
            yield dict(row)
