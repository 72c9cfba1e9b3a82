"""What the scheduler keeps of each source: runs, failed fetches, the queue of a run's
URLs, when each source is next due; and the documents the index is behind on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from archive.catalog.base import Queries
from archive.catalog.rows import from_text, to_text

RUN_COUNTERS = ("discovered", "fetched", "new_versions", "failed")


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
    run_id: str | None = None  # the source's run that met it, if one did


class SourceQueries(Queries):
    def add_failure(self, failure: Failure) -> None:
        self._run(
            "INSERT INTO failures (url, source, at, reason, status, run_id)"
            " VALUES (:url, :source, :at, :reason, :status, :run_id)",
            url=failure.url,
            source=failure.source,
            at=to_text(failure.at),
            reason=failure.reason,
            status=failure.status,
            run_id=failure.run_id,
        )

    def failures(self, source: str | None = None, *, limit: int = 50) -> list[Failure]:
        where = "" if source is None else "WHERE source = :source "
        rows = self._rows(
            f"SELECT * FROM failures {where}ORDER BY at DESC, id DESC LIMIT :n",
            source=source,
            n=limit,
        )
        return [
            Failure(
                url=r["url"],
                source=r["source"],
                at=from_text(r["at"]),
                reason=r["reason"],
                status=r["status"],
                run_id=r["run_id"],
            )
            for r in rows
        ]

    # -- runs -------------------------------------------------------------------------

    def start_run(self, run_id: str, source: str, started_at: datetime) -> None:
        self._run(
            "INSERT INTO runs (id, source, started_at) VALUES (:id, :source, :at)"
            " ON CONFLICT DO NOTHING",
            id=run_id,
            source=source,
            at=to_text(started_at),
        )

    def unfinished_run(self, source: str) -> str | None:
        return self._value(
            "SELECT id FROM runs WHERE source = :source AND finished_at IS NULL"
            " ORDER BY started_at DESC LIMIT 1",
            source=source,
        )

    def count_run(self, run_id: str, **increments: int) -> None:
        for column, amount in increments.items():
            if column not in RUN_COUNTERS:
                raise ValueError(f"no run counter {column!r}")
            self._run(
                f"UPDATE runs SET {column} = {column} + :amount WHERE id = :id",
                amount=amount,
                id=run_id,
            )

    def finish_run(self, run_id: str, finished_at: datetime, error: str | None = None) -> bool:
        """Mark a run finished; False when it was finished already."""
        done = self._run(
            "UPDATE runs SET finished_at = :at, error = :error"
            " WHERE id = :id AND finished_at IS NULL",
            at=to_text(finished_at),
            error=error,
            id=run_id,
        )
        return done.rowcount == 1

    def last_run(self, source: str) -> RunStats | None:
        row = self._one(
            "SELECT * FROM runs WHERE source = :source ORDER BY started_at DESC LIMIT 1",
            source=source,
        )
        return _run_stats(row) if row else None

    def run(self, run_id: str) -> RunStats | None:
        row = self._one("SELECT * FROM runs WHERE id = :id", id=run_id)
        return _run_stats(row) if row else None

    # -- a run's queue and the schedule -----------------------------------------------

    def enqueue(self, source: str, run_id: str, urls: Iterable[str], at: datetime) -> None:
        self._many(
            "INSERT INTO queue (source, url, run_id, queued_at)"
            " VALUES (:source, :url, :run_id, :at) ON CONFLICT DO NOTHING",
            [{"source": source, "url": u, "run_id": run_id, "at": to_text(at)} for u in urls],
        )

    def pending(self, source: str, run_id: str) -> list[str]:
        rows = self._run(
            "SELECT url FROM queue WHERE source = :source AND run_id = :run_id"
            " AND done_at IS NULL ORDER BY queued_at, url",
            source=source,
            run_id=run_id,
        )
        return list(rows.scalars())

    def url_done(self, source: str, run_id: str, url: str) -> bool:
        """Whether a URL of a run's queue is done (or not in it)."""
        pending = self._value(
            "SELECT COUNT(*) FROM queue WHERE source = :source AND run_id = :run_id"
            " AND url = :url AND done_at IS NULL",
            source=source,
            run_id=run_id,
            url=url,
        )
        return pending == 0

    def mark_done(self, source: str, run_id: str, url: str, at: datetime) -> None:
        self._run(
            "UPDATE queue SET done_at = :at WHERE source = :source AND run_id = :run_id"
            " AND url = :url",
            at=to_text(at),
            source=source,
            run_id=run_id,
            url=url,
        )

    def last_finished(self, source: str) -> datetime | None:
        """When the source's last finished run (done or failed) ended: what its next due
        time follows from, by the schedule its file declares now (``Source.due``)."""
        return from_text(
            self._value("SELECT MAX(finished_at) FROM runs WHERE source = :source", source=source)
        )

    def next_due(self, source: str) -> datetime | None:
        """The next due time set when the source's last run ended, by the schedule
        declared then: the scheduler goes by :meth:`last_finished` and the schedule
        declared now, so that an edited schedule applies at once."""
        return from_text(
            self._value("SELECT next_due FROM schedule WHERE source = :source", source=source)
        )

    def set_next_due(self, source: str, when: datetime) -> None:
        self._run(
            "INSERT INTO schedule (source, next_due) VALUES (:source, :when)"
            " ON CONFLICT (source) DO UPDATE SET next_due = excluded.next_due",
            source=source,
            when=to_text(when),
        )


def _run_stats(row) -> RunStats:
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
