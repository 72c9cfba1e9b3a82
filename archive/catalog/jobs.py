"""Jobs handed to workers, as whoever enqueued them follows them (queued, running, done,
failed with its error), and the locks that keep work from being done twice: one
scheduler at a time, one capture of a URL at a time.

A lock is the engine's own: a PostgreSQL advisory lock on the catalog's connection, or,
for an SQLite catalog (whose workers share one machine), an ``flock`` on a file beside
it. Either goes with the process that holds it, however it ends, and either can also go
while the process runs on: the connection closed under it (a PostgreSQL restart,
``idle_session_timeout``, a pooler or firewall dropping idle connections), the lock file
deleted or replaced (its folder cleaned up, the archive restored). A holder that keeps a
lock for long asks :meth:`Held.held` now and then.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archive.catalog.base import Queries
from archive.catalog.engine import DISCONNECTED
from archive.catalog.rows import from_text, to_text

JOB_STATES = ("queued", "running", "done", "failed")
# An SQLite catalog's locks of one kind (the part of a name before ":"): this many files,
# each name hashed onto one of them (two names may share one and wait for each other).
LOCK_FILES = 256


@dataclass(frozen=True)
class Job:
    """One piece of work: a source's run (``run``), one URL of a run (``url``), or one
    URL to archive (``capture``)."""

    id: str
    kind: str
    state: str
    queued_at: datetime
    source: str | None = None
    url: str | None = None
    run_id: str | None = None
    browser: bool = False
    attempts: int = 0
    error: str | None = None
    result: dict | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


def lock_key(name: str) -> int:
    """A lock's name as a signed 64-bit number (PostgreSQL's advisory lock keys).

    >>> lock_key("scheduler")
    -6905248152981328462
    """
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


class Held:
    """A lock as :meth:`JobQueries.lock` yields it: true when it was taken."""

    def __init__(self, taken: bool, check: Callable[[], bool]) -> None:
        self.taken = taken
        self._check = check

    def __bool__(self) -> bool:
        return self.taken

    def held(self) -> bool:
        """Whether the lock is still held, asked of the engine now: False once it went
        behind the holder's back (see the module's docstring)."""
        return self.taken and self._check()


class JobQueries(Queries):
    def add_job(self, job: Job) -> bool:
        """Record a job as queued; False when a job with its id exists already."""
        found = self._run(
            "INSERT INTO jobs (id, kind, source, url, run_id, browser, state, attempts,"
            " queued_at) VALUES (:id, :kind, :source, :url, :run_id, :browser, 'queued', 0,"
            " :at) ON CONFLICT DO NOTHING",
            id=job.id,
            kind=job.kind,
            source=job.source,
            url=job.url,
            run_id=job.run_id,
            browser=job.browser,
            at=to_text(job.queued_at),
        )
        return found.rowcount == 1

    def job(self, job_id: str) -> Job | None:
        row = self._one("SELECT * FROM jobs WHERE id = :id", id=job_id)
        return None if row is None else _job(row)

    def start_job(self, job_id: str, at: datetime) -> None:
        """A worker took the job (again, after a retry or a worker that died)."""
        self._run(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = :at,"
            " error = NULL WHERE id = :id",
            id=job_id,
            at=to_text(at),
        )

    def retry_job(self, job_id: str, error: str) -> None:
        """The attempt failed and the job waits to be tried again."""
        self._run(
            "UPDATE jobs SET state = 'queued', error = :error WHERE id = :id",
            id=job_id,
            error=error,
        )

    def finish_job(
        self,
        job_id: str,
        at: datetime,
        *,
        error: str | None = None,
        result: dict | None = None,
    ) -> None:
        """Done, or failed with ``error``; ``result`` says what the job did."""
        self._run(
            "UPDATE jobs SET state = :state, finished_at = :at, error = :error,"
            " result = :result WHERE id = :id",
            id=job_id,
            state="failed" if error else "done",
            at=to_text(at),
            error=error,
            result=json.dumps(result, sort_keys=True) if result is not None else None,
        )

    def stale_jobs(self, before: datetime) -> list[Job]:
        """Jobs still queued or running that were neither queued nor started since
        ``before``, oldest first."""
        rows = self._rows(
            "SELECT * FROM jobs WHERE state IN ('queued', 'running') AND queued_at < :before"
            " AND (started_at IS NULL OR started_at < :before) ORDER BY queued_at, id",
            before=to_text(before),
        )
        return [_job(row) for row in rows]

    def requeue_job(self, job_id: str, at: datetime) -> None:
        """The job's message was sent again (the broker had lost it): it counts as
        queued from ``at``, whatever its state."""
        self._run("UPDATE jobs SET queued_at = :at WHERE id = :id", id=job_id, at=to_text(at))

    def active_jobs(self, source: str) -> int:
        """Jobs of a source still queued or running."""
        return self._value(
            "SELECT COUNT(*) FROM jobs WHERE source = :source AND state IN ('queued', 'running')",
            source=source,
        )

    def job_counts(self) -> dict[str, int]:
        rows = self._run("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        return {state: 0 for state in JOB_STATES} | {row[0]: row[1] for row in rows}

    # -- locks --------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, name: str, *, wait: bool = True) -> Iterator[Held]:
        """Hold the lock ``name`` (``kind:what``) for the block: true once held; with
        ``wait=False``, false at once when another process (or connection) holds it."""
        if self.sqlite:
            with _file_lock(Path(self.url.database), name, wait) as held:
                yield held
            return
        key = lock_key(name)
        if wait:
            self._run("SELECT pg_advisory_lock(:key)", key=key)
            taken = True
        else:
            taken = bool(self._value("SELECT pg_try_advisory_lock(:key)", key=key))
        try:
            yield Held(taken, functools.partial(self._holds, key))
        finally:
            if taken:
                self._unlock(key)

    def _holds(self, key: int) -> bool:
        """Whether this connection's server process holds the advisory lock ``key``
        (PostgreSQL lists a bigint key as its high and low halves); False when the
        connection is gone, for the lock went with it."""
        unsigned = key % 2**64
        try:  # through SQLAlchemy, which notices a lost connection and drops it
            found = self._run(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND objsubid = 1"
                " AND classid::bigint = :high AND objid::bigint = :low",
                high=unsigned >> 32,
                low=unsigned & 0xFFFFFFFF,
            ).scalar()
        except DISCONNECTED:
            return False
        return bool(found)

    def _unlock(self, key: int) -> None:
        # A connection that is gone took the lock with it: nothing is left to release.
        if self._conn.invalidated:  # found gone already
            return
        with contextlib.suppress(*DISCONNECTED):
            self._run("SELECT pg_advisory_unlock(:key)", key=key)


def _job(row) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        state=row["state"],
        queued_at=from_text(row["queued_at"]),
        source=row["source"],
        url=row["url"],
        run_id=row["run_id"],
        browser=bool(row["browser"]),
        attempts=row["attempts"],
        error=row["error"],
        result=json.loads(row["result"]) if row["result"] else None,
        started_at=from_text(row["started_at"]),
        finished_at=from_text(row["finished_at"]),
    )


@contextlib.contextmanager
def _file_lock(catalog: Path, name: str, wait: bool) -> Iterator[Held]:
    # flock belongs to the open file, so two threads of one process exclude each other too.
    folder = catalog.with_name(catalog.name + ".locks")
    kind = name.split(":", 1)[0]
    path = folder / f"{kind}-{lock_key(name) % LOCK_FILES:03d}.lock"
    descriptor = _locked_file(path, wait)
    if descriptor is None:
        yield Held(False, bool)  # not taken: there is nothing to check
        return
    try:
        yield Held(True, functools.partial(_same_file, descriptor, path))
    finally:
        os.close(descriptor)


def _locked_file(path: Path, wait: bool) -> int | None:
    """``path`` open and locked; None when another process holds it and not ``wait``.
    A file deleted or replaced while this process waited for its lock is locked again
    as it is now: the old one's lock would exclude nobody."""
    while True:
        path.parent.mkdir(exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        kept = False
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            kept = _same_file(descriptor, path)
        except BlockingIOError:
            return None
        finally:
            if not kept:
                os.close(descriptor)
        if kept:
            return descriptor


def _same_file(descriptor: int, path: Path) -> bool:
    """Whether ``path`` is still the file open as ``descriptor``. The flock of a lock file
    deleted or replaced is on a file that a process opening ``path`` no longer finds: the
    next one to lock ``path`` makes a new file there and takes its lock at once."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (found.st_dev, found.st_ino) == (held.st_dev, held.st_ino)
