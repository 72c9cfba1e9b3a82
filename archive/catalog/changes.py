"""The change log: what search must see, in the order it committed.

Whatever changes what a document or its quotes look like in search (a capture that made
a version, an edit, a takedown or restoration, a re-extraction, a correction, a merge or
split of speakers) adds one row per document it touches, in the transaction that makes
the change. A row is a notice, not the change itself: an index applies it by reading the
document's current state from the catalog, so applying a row twice, or several rows for
one document at once, gives the same index as applying each once in order.

Each index keeps the number of the last row it applied and reads the rows after it. For
that to be safe the numbers must become visible in the order they were issued: a reader
that has seen row 12 must never later see a row 11 committed by a slower transaction
(PostgreSQL issues BIGSERIAL numbers when rows are inserted, not when they commit). So a
transaction takes a transaction-scoped advisory lock before its first row and keeps it
until it commits; a later transaction can only be issued a number once the earlier one
has committed (or rolled back, leaving a gap that nothing will fill). On SQLite, writers
hold the database's write lock from ``BEGIN IMMEDIATE`` to their commit already.

On PostgreSQL a transaction that adds changes also sends a notification on
:data:`CHANNEL` (delivered when it commits), so that followers waiting with a
:class:`ChangeListener` look at the log at once instead of at their next poll.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL

from archive.catalog.base import Queries
from archive.catalog.engine import is_sqlite
from archive.catalog.rows import from_text, to_text

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

# The advisory lock held from a transaction's first change to its commit, on PostgreSQL
# (the capture log's lock, "onrecord" in ASCII, plus one).
CHANGE_LOCK = 0x6F6E7265636F7265
# The PostgreSQL channel on which committed changes are announced.
CHANNEL = "onrecord_changes"

# What made a document change, as the log and /status show it.
CHANGE_KINDS = (
    "captured",  # a new document, or a new version of one
    "recaptured",  # captured again, unchanged
    "edited",
    "taken_down",
    "restored",
    "reextracted",
    "corrected",  # an editor's correction of one of its quotes
    "merged",  # a speaker of its quotes merged into another
    "queued",  # an index-queue entry carried over when the log began
)


@dataclass(frozen=True)
class Change:
    seq: int
    kind: str
    document_id: str
    subject: str | None  # what caused it: a capture, correction or speaker id
    at: datetime  # when it was recorded (the writer's clock)


@dataclass(frozen=True)
class Backlog:
    """The log beyond a position: how many changes, and when the oldest was made."""

    head: int  # the last change's number (0 for an empty log)
    count: int
    oldest_at: datetime | None


class ChangeQueries(Queries):
    def note_change(
        self, kind: str, document_ids: Iterable[str], subject: str | None = None
    ) -> None:
        """Add a change for each document (in the transaction under way, or in one of
        its own)."""
        if kind not in CHANGE_KINDS:
            raise ValueError(f"unknown kind of change {kind!r}")
        chosen = sorted(set(document_ids))
        if not chosen:
            return
        with self.transaction():
            if not self.sqlite:
                self._run("SELECT pg_advisory_xact_lock(:key)", key=CHANGE_LOCK)
                self._run("SELECT pg_notify(:channel, '')", channel=CHANNEL)
            at = to_text(datetime.now(UTC))
            self._many(
                "INSERT INTO changes (kind, document_id, subject, at)"
                " VALUES (:kind, :document_id, :subject, :at)",
                [{"kind": kind, "document_id": d, "subject": subject, "at": at} for d in chosen],
            )

    def changes_after(self, seq: int, *, limit: int = 1000) -> list[Change]:
        """Up to ``limit`` changes after position ``seq``, in order."""
        rows = self._rows(
            "SELECT seq, kind, document_id, subject, at FROM changes WHERE seq > :seq"
            " ORDER BY seq LIMIT :limit",
            seq=seq,
            limit=limit,
        )
        return [
            Change(r["seq"], r["kind"], r["document_id"], r["subject"], from_text(r["at"]))
            for r in rows
        ]

    def change_head(self) -> int:
        """The number of the last change (0 when there is none)."""
        return self._value("SELECT COALESCE(MAX(seq), 0) FROM changes")

    def backlog(self, seq: int) -> Backlog:
        """What the log holds beyond position ``seq``."""
        row = self._one(
            "SELECT COUNT(*) AS n, MIN(at) AS oldest,"
            " (SELECT COALESCE(MAX(seq), 0) FROM changes) AS head"
            " FROM changes WHERE seq > :seq",
            seq=seq,
        )
        return Backlog(row["head"], row["n"], from_text(row["oldest"]))

    def documents_of_speaker(self, speaker_id: str) -> set[str]:
        """Documents with a current quote attributed (by the machine or an editor) to
        the speaker or to one merged into it."""
        speakers = self.merged_speaker_ids(speaker_id)
        found = set(
            self._run(
                "SELECT DISTINCT document_id FROM quotes WHERE speaker_id IN :ids", ids=speakers
            ).scalars()
        )
        for quote_id in self._run(
            "SELECT DISTINCT quote_id FROM corrections WHERE kind = 'speaker'"
        ).scalars():
            quote = self.quote(quote_id)
            if quote is not None and self.corrected(quote).quote.speaker_id in speakers:
                found.add(quote.document_id)
        return found


class ChangeListener:
    """Waits for changes to be committed: on PostgreSQL until a notification on
    :data:`CHANNEL` arrives or the timeout passes (LISTEN on a connection of its own,
    made again after it is lost); on SQLite, which has no notifications, the timeout."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self._connection: psycopg.Connection | None = None

    def wait(self, timeout: float) -> None:
        if is_sqlite(self.url):
            time.sleep(timeout)
            return
        import psycopg  # (a fifth of a second: only followers of PostgreSQL need it)

        began = time.monotonic()
        try:
            if self._connection is None:
                self._connection = psycopg.connect(
                    self.url.set(drivername="postgresql").render_as_string(hide_password=False),
                    autocommit=True,
                    connect_timeout=max(1, round(timeout)),
                )
                self._connection.execute(f"LISTEN {CHANNEL}")
            for _ in self._connection.notifies(timeout=timeout, stop_after=1):
                return
        except psycopg.Error as exc:
            log.info("not listening for changes (%s): polling", exc)
            self.close()
            time.sleep(max(0.0, timeout - (time.monotonic() - began)))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
