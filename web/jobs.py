"""Scrape work as jobs that workers take from the task queue (:mod:`web.taskqueue`).

A job is recorded in the catalog before its message goes to the broker, so whoever asked
for it can follow it (queued, running, done, or failed with its error); the message
carries only the job's id. The kinds:

    run       a source's run: discovery, then one ``url`` job for each URL it found
    url       one URL of a run
    capture   one URL to archive (the admin's "archive this URL")

Delivery is at least once: a job whose worker died is delivered again, and one that
raised is tried again ``job_retries`` times, after growing pauses, then recorded as failed
with its error (and a failure row). A job whose message the broker lost (a scheduler
stopped between recording the job and sending it, a broker restarted without its data,
retries spent on errors raised before the job started) is sent again by the scheduler
once it has been queued or running for longer than any live job can be
(:func:`resend_lost`). Doing a job twice changes nothing: a finished job is not run
again, and a URL is captured at most once per run, under its lock
(:meth:`scrapers.pipeline.Pipeline.capture_in_run`).
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.catalog import Catalog, Failure, Job
from scrapers.pipeline import Outcome
from scrapers.sources import Source, load_valid_sources
from web.taskqueue import BrokerError, JobTimedOut, TaskQueue
from web.work import Work

log = logging.getLogger(__name__)

# A URL's job whose host is not free for longer than this (seconds: it rests after a
# request, or another worker's request is under way) goes back to the queue until then,
# and its worker thread takes other work: waiting, it would hold up every other host.
DEFER_OVER = 0.05
# Added to the longest a live job can take before its message counts as lost: a dead
# worker's job waits out the broker's heartbeat before it is delivered again, workers'
# clocks (which time a job's start) may be a little off the scheduler's, and a job may
# wait its turn behind others in the queue.
LOST_MARGIN = timedelta(minutes=10)

__all__ = [
    "BrokerError",
    "Performer",
    "SourceGone",
    "connect",
    "enqueue_due",
    "lost_after",
    "new_job",
    "resend_lost",
    "submit",
]


class SourceGone(Exception):
    """A job names a source that is no longer defined: it is not tried again."""


def connect(settings: dict[str, Any]) -> TaskQueue | None:
    """The archive's task queue, checked to answer; None when no broker is configured.
    BrokerError (one sentence) when it is misconfigured or cannot be reached."""
    if not settings["broker"]:
        return None
    queue = TaskQueue(
        settings["broker"],
        namespace=settings["broker_namespace"],
        retries=settings["job_retries"],
        backoff=settings["job_backoff"],
        heartbeat=settings["worker_heartbeat"],
    )
    try:
        queue.check()
    except BrokerError:
        queue.close()
        raise
    return queue


def now() -> datetime:
    return datetime.now(UTC)


def new_job(kind: str, **fields: Any) -> Job:
    """A job to record and queue, with a fresh id."""
    return Job(id=secrets.token_hex(8), kind=kind, state="queued", queued_at=now(), **fields)


def url_job_id(run_id: str, url: str) -> str:
    """The id of the job of one URL of a run: it follows from the two, so a run's URLs
    are recorded once however often the run's job is delivered.

    >>> url_job_id("city-20261130090000-ab12", "https://a.example/1")
    '81db469e8a6c15bb'
    """
    return hashlib.sha256(f"{run_id}\n{url}".encode()).hexdigest()[:16]


def url_job(source: Source, run_id: str, url: str) -> Job:
    return Job(
        id=url_job_id(run_id, url),
        kind="url",
        state="queued",
        queued_at=now(),
        source=source.name,
        url=url,
        run_id=run_id,
        browser=source.render == "browser",
    )


def submit(catalog: Catalog, queue: TaskQueue, job: Job) -> Job:
    """Record a job and queue it; BrokerError (and the job recorded as failed) when the
    broker cannot take it."""
    with catalog.transaction():
        catalog.add_job(job)
    try:
        queue.send(job.id, browser=job.browser)
    except BrokerError as exc:
        with catalog.transaction():
            catalog.finish_job(job.id, now(), error=str(exc))
        raise
    return job


def lost_after(queue: TaskQueue) -> timedelta:
    """How long a job can stay queued or running while its message is still in the
    broker: each of its attempts stopped at the time limit, the longest pause before each
    retry, and :data:`LOST_MARGIN`."""
    attempts = queue.retries + 1
    return (
        attempts * timedelta(seconds=queue.time_limit)
        + queue.retries * timedelta(seconds=queue.max_backoff)
        + LOST_MARGIN
    )


def resend_lost(catalog: Catalog, queue: TaskQueue, when: datetime) -> list[Job]:
    """Send again the jobs neither queued nor started within :func:`lost_after` of
    ``when``: the broker has lost their message, and without one they would stay queued
    or running for ever, and their source would never be queued again. Each counts as
    queued at ``when`` from then on: sent again once, not at every tick."""
    lost = catalog.stale_jobs(when - lost_after(queue))
    for job in lost:
        queue.send(job.id, browser=job.browser)
        with catalog.transaction():
            catalog.requeue_job(job.id, when)
        log.warning(
            "job %s (%s of %s) has been %s since %s, longer than any job the broker still"
            " holds can be: its message was lost; sent it again",
            job.id,
            job.kind,
            job.source or job.url,
            job.state,
            max(job.queued_at, job.started_at or job.queued_at).isoformat(),
        )
    return lost


def enqueue_due(
    catalog: Catalog, queue: TaskQueue, sources: list[Source], when: datetime
) -> list[Job]:
    """Queue a run of every source that is due (by its schedule as declared now) and has
    no job queued or running (a run in progress is not started twice), after sending
    again the jobs whose message was lost (:func:`resend_lost`)."""
    resend_lost(catalog, queue, when)
    queued = []
    for source in sources:
        due = source.due(catalog.last_finished(source.name))
        if (due or when) <= when and catalog.active_jobs(source.name) == 0:
            queued.append(submit(catalog, queue, new_job("run", source=source.name)))
            log.info("queued a run of %s", source.name)
    return queued


class Performer:
    """Runs the jobs a worker takes: each worker thread with a :class:`Work` of its own
    on the archive (its catalog connection, polite sessions and browser), and one
    thread that applies the catalog's change log to this archive folder's index every
    ``index_every`` seconds (and once more at :meth:`close`), whatever the jobs stored
    meanwhile; when a web node on this machine keeps that index folder, it leaves the
    index to the node's follower."""

    def __init__(self, root: Path, queue: TaskQueue, *, index_every: float = 1.0) -> None:
        self.root = root
        self.queue = queue
        self._local = threading.local()
        self._opened: list[Work] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._indexer = threading.Thread(
            target=self._keep_index, args=(index_every,), name="indexer", daemon=True
        )
        self._indexer.start()

    def work(self) -> Work:
        work = getattr(self._local, "work", None)
        if work is None:
            work = self._local.work = Work.open(self.root, index_each=False)
            with self._lock:
                self._opened.append(work)
        return work

    def thread_ended(self) -> None:
        """Close the calling thread's work (its browser belongs to the thread)."""
        work = getattr(self._local, "work", None)
        if work is not None:
            self._local.work = None
            with self._lock:
                self._opened.remove(work)
            work.close()

    def close(self) -> None:
        """Stop indexing, and close what threads that did not end left open."""
        self._stopping.set()
        self._indexer.join()
        with self._lock:
            for work in self._opened:
                work.close()
            self._opened.clear()

    def _keep_index(self, every: float) -> None:
        with Work.open(self.root) as work:
            while not self._stopping.wait(every):
                self._catch_up(work)
            self._catch_up(work)

    def _catch_up(self, work: Work) -> None:
        try:
            work.index()
        except Exception:  # the change log stays in the catalog: the next round applies it
            log.exception("could not bring the index up to date; trying again")

    def __call__(self, job_id: str, last_attempt: bool) -> None:
        work = self.work()
        catalog = work.store.catalog
        job = catalog.job(job_id)
        if job is None:
            log.warning("job %s is not in the catalog %s: dropped", job_id, catalog.name)
            return
        if job.state in ("done", "failed"):
            log.info("job %s is %s already: delivered again, nothing to do", job.id, job.state)
            return
        if job.state == "running" and job.attempts > self.queue.retries:
            # Delivered again while still marked running, that many times: each worker
            # that took it stopped before it ended (killed, or brought down by the job
            # itself), which no raised error counts. The loop ends here.
            self._failed(
                work,
                job,
                f"gave up after {_attempts(job.attempts)}: the worker running it stopped "
                "during each one (killed or crashed) before the job ended",
                job,
            )
            return
        if self._deferred(work, job):
            return
        # Counted in the catalog too: a job put back for its host comes as a new message.
        last_attempt = last_attempt or job.attempts >= self.queue.retries
        with catalog.transaction():
            catalog.start_job(job.id, now())
        try:
            result, error = self._perform(work, job)
        except SourceGone as exc:
            self._failed(work, job, str(exc), None)
            return
        except (Exception, JobTimedOut) as exc:
            reason = self._reason(exc)
            if not last_attempt:
                log.warning("job %s (%s) failed, to be tried again: %s", job.id, job.kind, reason)
                with catalog.transaction():
                    catalog.retry_job(job.id, reason)
                raise
            self._failed(work, job, f"gave up after {_attempts(job.attempts + 1)}: {reason}", job)
            raise
        with catalog.transaction():
            catalog.finish_job(job.id, now(), error=error, result=result)

    def _reason(self, exc: BaseException) -> str:
        """Why an attempt failed, for its job's error and failure row."""
        if isinstance(exc, JobTimedOut):
            return f"the job ran past its time limit of {self.queue.time_limit:g} s"
        return f"{type(exc).__name__}: {exc}"

    def _deferred(self, work: Work, job: Job) -> bool:
        """Whether a URL's job was put back in the queue, to come again about when its
        host's turn is free (with jitter, so that a host's jobs do not all come at once)."""
        if job.kind not in ("url", "capture") or not isinstance(job.url, str):
            return False
        try:
            source = self._source(work, job.source) if job.kind == "url" else None
            wait = work.turn_in(job.url, source)
        except (SourceGone, KeyError, ValueError):
            return False  # no such source, a URL no fetch takes: the job fails when performed
        if wait <= DEFER_OVER:
            return False
        self.queue.send(job.id, browser=job.browser, delay=wait * random.uniform(1.0, 1.25))
        log.debug("job %s: %s is not free for %.2f s, put back", job.id, job.url, wait)
        return True

    def _perform(self, work: Work, job: Job) -> tuple[dict, str | None]:
        if job.kind == "capture":
            outcome = work.capture(job.url, browser=job.browser)
            return summary(outcome), _failed_fetch(outcome)
        source = self._source(work, job.source)
        if job.kind == "url":
            outcome = work.capture_in_run(source, job.run_id, job.url)
            return summary(outcome), _failed_fetch(outcome)
        run_id, outcome = work.open_run(source)
        if run_id is None:
            return summary(outcome), outcome.failures[0].reason
        catalog = work.store.catalog
        # Delivered again (its worker died while queueing): queue its URLs' jobs again
        # too; the copies find their URLs captured already.
        again = catalog.job(job.id).attempts > 1
        urls = work.pending(source, run_id)
        for url in urls:
            found = url_job(source, run_id, url)
            with catalog.transaction():
                added = catalog.add_job(found)
            if added or again:
                self.queue.send(found.id, browser=found.browser)
        return {**summary(outcome), "run": run_id, "queued": len(urls)}, None

    def _source(self, work: Work, name: str) -> Source:
        """The source ``name`` as its file declares it now. Another file that does not
        load is no concern of this job's (as the scheduler skips it, so do workers)."""
        folder = self.root / work.settings["sources"]
        sources, problems = load_valid_sources([folder]) if folder.is_dir() else ([], [])
        found = next((s for s in sources if s.name == name), None)
        if found is None and problems:
            raise SourceGone(
                f"no source named {name!r} in the files of {folder} that can be read; "
                f"{len(problems)} cannot, the first: {problems[0]}"
            )
        if found is None:
            raise SourceGone(
                f"no source named {name!r} in {folder} any more (its file was deleted or "
                "renamed after the job was queued)"
            )
        return found

    def _failed(self, work: Work, job: Job, error: str, tried: Job | None) -> None:
        """Record a job as failed, with a failure row; a URL of a run is given up so that
        the run finishes without it (``tried``: the job was attempted)."""
        catalog = work.store.catalog
        source = None
        if tried is not None and job.kind == "url":
            try:
                source = self._source(work, job.source)
            except SourceGone as exc:
                # The run cannot be closed without its source; the job ends all the same,
                # or it would stay running for ever.
                log.warning("job %s: %s; its run %s stays open", job.id, exc, job.run_id)
        if source is not None:
            work.give_up(source, job.run_id, job.url, error)
        else:
            failure = Failure(
                url=job.url or job.source or job.id,
                source=job.source,
                at=now(),
                reason=f"job {job.id} ({job.kind}): {error}",
                status=None,
                run_id=job.run_id,
            )
            with catalog.transaction():
                catalog.add_failure(failure)
        with catalog.transaction():
            catalog.finish_job(job.id, now(), error=error)
        log.error("job %s (%s) failed: %s", job.id, job.kind, error)


def _attempts(count: int) -> str:
    return f"{count} attempt" if count == 1 else f"{count} attempts"


def summary(outcome: Outcome) -> dict:
    """What a job did, as its result."""
    return {
        "captures": len(outcome.captures),
        "new_versions": outcome.new_versions,
        "documents": sorted(outcome.changed_documents),
        "events": len(outcome.events),
        "failures": [{"url": f.url, "reason": f.reason} for f in outcome.failures],
    }


def _failed_fetch(outcome: Outcome) -> str | None:
    """A capture whose fetch failed (what it received is kept all the same); the reason
    is its job's error."""
    if outcome.failures:
        return outcome.failures[0].reason
    return None
