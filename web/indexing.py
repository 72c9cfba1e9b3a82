"""The catalog feeding the search index: each index follows the catalog's change log
(:mod:`archive.catalog.changes`) from its own position; rebuilds; and searches whose
document snippets are cut from the catalog's text (bodies are not stored in the index).

An index folder holds, beside the index itself, ``position.json`` (the number of the last
change applied to it) and ``node.lock``. A web node (``onrecord serve``) holds that lock
for its whole life, so that two nodes cannot keep one folder, and follows the log in a
background thread (:class:`Follower`). A command that changed the catalog (a capture, a
scrape) calls :func:`catch_up`, which applies the log at once unless a node keeps the
folder: the node's follower applies it within a second instead.

An index found without a position was built before the log began (everything but the
queued documents carried into the log is in it): it starts at position 0. No index at all
(a build killed before it published is none) is built from the catalog, at the log's head
as it was before the catalog was read; then the changes committed meanwhile are applied,
as after every rebuild.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from archive.catalog import (
    DISCONNECTED,
    Catalog,
    CatalogError,
    Catalogs,
    Change,
    ChangeListener,
    connection_error,
)
from archive.store import Paths, crash_point
from index import layout
from index.build import Indexer
from index.search import QueryError, Searcher, SearchResults
from web import links

__all__ = [
    "Follower",
    "IndexBusy",
    "IndexKeeper",
    "QueryError",
    "catch_up",
    "rebuild",
    "results_json",
    "search",
    "searching",
]

log = logging.getLogger(__name__)

POSITION_FILE = "position.json"
LOCK_FILE = "node.lock"
BATCH = 500  # changes read and applied at a time
CATCH_UP_WAIT = 60.0  # seconds a command waits for another command applying the log
MAX_RETRY_SECONDS = 10.0  # the longest pause between two attempts at a failing change
NODE = "onrecord serve"


class IndexBusy(Exception):
    """Another process keeps this index folder."""


class ChangeFailed(Exception):
    """A change of the log that cannot be applied (yet): retried, never skipped."""


def read_position(folder: Path) -> int | None:
    """The number of the last change applied to the index in ``folder``: None when it
    has none (a new folder, or an index built before the log)."""
    try:
        return int(json.loads((folder / POSITION_FILE).read_text(encoding="utf-8"))["position"])
    except FileNotFoundError:
        return None


def write_position(folder: Path, position: int) -> None:
    """Record the index's position, atomically (after the index committed: a crash in
    between applies a few changes again, which changes nothing)."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".position-")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"position": position, "at": datetime.now(UTC).isoformat()}, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, folder / POSITION_FILE)


@contextmanager
def _folder_lock(folder: Path, holder: str, wait: float) -> Iterator[str | None]:
    """Hold ``folder``'s lock file as ``holder`` (yield None), waiting up to ``wait``
    seconds while another command holds it; yield who holds it when that is a node, or
    when the wait ran out."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                other = os.pread(fd, 400, 0).decode("utf-8", "replace").strip()
                if other.startswith(NODE) or time.monotonic() >= deadline:
                    yield other or "another process"
                    return
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.pwrite(fd, f"{holder} (pid {os.getpid()}, since {since})".encode(), 0)
        try:
            yield None
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@dataclass
class Failure:
    """The last attempt that failed: the position the index could not get beyond (None
    while it was being built), why, and how many times in a row."""

    position: int | None
    message: str
    at: datetime
    attempts: int


class IndexKeeper:
    """The one writer of an index folder in this process: applies the change log to it,
    one caller at a time, and remembers where it stands and what last went wrong."""

    def __init__(self, folder: Path, engine: str | None = None) -> None:
        self.folder = folder
        self.engine = engine  # the search engine a build uses (None: the default)
        self._mutex = threading.Lock()
        self._held: ExitStack | None = None  # the node lock, while this process keeps it
        self.failure: Failure | None = None
        self.applied_at: datetime | None = None  # the last time changes were applied
        self.building = False
        self._kept_by: str | None = None  # who kept the folder at the last look, if not us

    # -- keeping the folder ------------------------------------------------------------

    def claim(self) -> None:
        """Keep the folder for this process's life (a node), once a command applying the
        log to it is done; IndexBusy, naming the node, when another node keeps it."""
        held = ExitStack()
        other = held.enter_context(
            _folder_lock(self.folder, f"{NODE} of {self.folder}", CATCH_UP_WAIT)
        )
        if other is not None:
            held.close()
            raise IndexBusy(
                f"the index folder {self.folder} is in use by {other}: give each web node "
                "its own index folder (the index setting, or ONRECORD_INDEX)"
            )
        self._held = held

    def release(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None

    @property
    def position(self) -> int | None:
        return read_position(self.folder)

    # -- applying the log --------------------------------------------------------------

    def catch_up(self, catalog: Catalog) -> int:
        """Apply the changes after the index's position; return how many documents were
        reindexed. A change that fails is logged and remembered (:attr:`failure`), and
        stays next in line: the next call tries it again."""
        with self._mutex:
            if self._held is not None:
                return self._apply(catalog)
            with _folder_lock(self.folder, "onrecord catch-up", CATCH_UP_WAIT) as other:
                if other != self._kept_by and other is not None:
                    # Said once, not at each look (a worker's indexing thread looks often).
                    log.info(
                        "the index %s is kept by %s, which %s",
                        self.folder,
                        other,
                        "follows the log"
                        if other.startswith(NODE)
                        else "applies the log's newest changes when it is done",
                    )
                self._kept_by = other
                if other is not None:
                    return 0
                return self._apply(catalog)

    def rebuild(self, catalog: Catalog) -> int:
        """Build the index anew from the catalog (swapped in when complete; searches use
        the old one until then); return the records written. From another process than
        the node that keeps the folder, IndexBusy: a rebuild beside the node's follower
        could lose the changes it applies meanwhile."""
        with self._mutex:
            if self._held is not None:
                return self._build(catalog)
            with _folder_lock(self.folder, "onrecord reindex", CATCH_UP_WAIT) as other:
                if other is not None:
                    raise IndexBusy(
                        f"the index folder {self.folder} is kept by {other}: rebuild it "
                        "through that node (POST /admin/reindex), or stop the node, delete "
                        "the folder and start it again"
                    )
                return self._build(catalog)

    def _build(self, catalog: Catalog) -> int:
        """Build the index, then apply the changes committed while it was built: the
        commands that made them waited for the folder, gave up, and left them to whoever
        keeps it. The records written."""
        count = build(self.folder, catalog, engine=self.engine)
        self._apply(catalog)
        return count

    def _apply(self, catalog: Catalog) -> int:
        crash_point("before-index")
        position = self.position
        try:
            count = 0
            if position is None and not _holds_an_index(self.folder):
                self.building = True
                try:
                    count = build(self.folder, catalog, engine=self.engine)
                finally:
                    self.building = False
                self.applied_at = datetime.now(UTC)
                position = self.position  # then the changes committed meanwhile
            elif (position or 0) > catalog.change_head():
                # A log that ends before this index: the catalog was made anew (rebuilt
                # from the WARC files, or another archive's); so is the index.
                log.warning(
                    "the index %s is at change %d, beyond the catalog's log: rebuilding it",
                    self.folder,
                    position,
                )
                count = build(self.folder, catalog, engine=self.engine)
                self.applied_at = datetime.now(UTC)
                position = self.position
            position = position or 0
            while changes := catalog.changes_after(position, limit=BATCH):
                count += apply_changes(self.folder, catalog, changes, engine=self.engine)
                position = changes[-1].seq
                write_position(self.folder, position)
                self.applied_at = datetime.now(UTC)
            self._recovered()
            return count
        except DISCONNECTED as exc:  # the database went away mid-way: say so plainly
            self._failed(position, connection_error(catalog.url, exc))
            return 0
        except Exception as exc:  # logged, shown on /status, and tried again: never skipped
            self._failed(position, exc)
            return 0

    def _recovered(self) -> None:
        """A pass over the log that went through: whatever failed before is over."""
        if self.failure is not None:
            log.warning("the index %s applies the change log again", self.folder)
        self.failure = None

    def _failed(self, position: int | None, exc: BaseException) -> None:
        message = str(exc) or type(exc).__name__
        attempts = self.failure.attempts + 1 if self.failure else 1
        self.failure = Failure(position, message, datetime.now(UTC), attempts)
        log.error(
            "the index %s could not apply the change log after position %s (attempt %d): %s",
            self.folder,
            position,
            attempts,
            message,
        )

    def failed_to_reach(self, exc: CatalogError) -> None:
        """Remember that the catalog could not be opened to follow the log."""
        with self._mutex:
            self._failed(self.position, exc)

    def retry_delay(self, interval: float) -> float:
        """How long to wait before the next look at the log: the interval, doubled with
        each failure in a row up to :data:`MAX_RETRY_SECONDS`."""
        if self.failure is None:
            return interval
        return min(interval * 2 ** min(self.failure.attempts, 16), max(interval, MAX_RETRY_SECONDS))

    # -- in view -----------------------------------------------------------------------

    def status(self, catalog: Catalog, behind_after: float) -> dict:
        """Where this index stands against the log (the JSON of /status)."""
        position = self.position
        backlog = catalog.backlog(position or 0)
        now = datetime.now(UTC)
        seconds = (now - backlog.oldest_at).total_seconds() if backlog.oldest_at else 0.0
        failure = self.failure
        return {
            "folder": str(self.folder),
            "position": position,
            "head": backlog.head,
            "building": self.building or position is None,
            "lag": {"changes": backlog.count, "seconds": round(max(seconds, 0.0), 1)},
            "behind": position is None or seconds > behind_after,
            "applied_at": _iso(self.applied_at),
            "last_error": None
            if failure is None
            else {
                "after": failure.position,
                "message": failure.message,
                "at": _iso(failure.at),
                "attempts": failure.attempts,
            },
        }


def _holds_an_index(folder: Path) -> bool:
    """Whether ``folder`` holds a published index: a build killed before it published
    leaves its generation's folder behind, and that is no index."""
    return layout.current(folder) is not None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


class Follower(threading.Thread):
    """A node's background thread: applies the change log to its index every
    ``interval`` seconds, at once when PostgreSQL announces a commit of changes, and
    less often while a change keeps failing, until stopped (within ``interval``)."""

    def __init__(self, keeper: IndexKeeper, catalogs: Catalogs, interval: float) -> None:
        super().__init__(name="onrecord-follower", daemon=True)
        self.keeper = keeper
        self.catalogs = catalogs
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        listener = ChangeListener(self.catalogs.url)
        try:
            while not self.stopping.is_set():
                try:
                    catalog = self.catalogs.open()
                except CatalogError as exc:
                    self.keeper.failed_to_reach(exc)
                else:
                    with catalog:
                        self.keeper.catch_up(catalog)
                if self.keeper.failure is None:
                    listener.wait(self.interval)  # woken early by a commit, on PostgreSQL
                else:
                    self.stopping.wait(self.keeper.retry_delay(self.interval))
        finally:
            listener.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def catch_up(paths: Paths, catalog: Catalog) -> int:
    """Apply the change log to the archive's index (after each capture or scrape, and
    after a crash that came between the catalog commit and the index), unless a web node
    keeps that index and follows the log itself; return how many documents were
    reindexed."""
    return IndexKeeper(paths.index, paths.search_engine).catch_up(catalog)


def apply_changes(
    folder: Path, catalog: Catalog, changes: list[Change], *, engine: str | None = None
) -> int:
    """Reindex the documents a batch of changes names, from the catalog as it is now.
    When the batch fails, its changes are applied one at a time up to the one that fails
    (the position then stands right before it), which ChangeFailed names."""
    try:
        return _reindex(folder, catalog, {change.document_id for change in changes}, engine)
    except Exception:
        log.warning("a batch of %d changes failed: applying them one at a time", len(changes))
    for change in changes:
        try:
            _reindex(folder, catalog, {change.document_id}, engine)
        except Exception as exc:
            raise ChangeFailed(
                f"change {change.seq} ({change.kind}, document {change.document_id}): {exc}"
            ) from exc
        write_position(folder, change.seq)
    return len({change.document_id for change in changes})


def _reindex(folder: Path, catalog: Catalog, document_ids: set[str], engine: str | None) -> int:
    chosen = sorted(document_ids)
    indexer = Indexer(folder, engine=engine)
    if not _holds_an_index(folder):
        # The first records: published whole, never as an empty index first (a searcher
        # cannot open an index without records).
        indexer.rebuild(
            catalog.document_records(chosen),
            corrected_records(catalog, catalog.quote_records(chosen)),
        )
        return len(chosen)
    for document_id in chosen:
        indexer.delete_document(document_id)
    indexer.update(
        catalog.document_records(chosen), corrected_records(catalog, catalog.quote_records(chosen))
    )
    return len(chosen)


def build(
    folder: Path,
    catalog: Catalog,
    progress: Callable[[int], None] | None = None,
    *,
    engine: str | None = None,
) -> int:
    """Build the index in ``folder`` from the whole catalog, swapping it in when complete,
    at the position the log had before the catalog was read; return the records written."""
    head = catalog.change_head()
    documents = catalog.document_records()
    first = next(documents, None)
    if first is None and not _holds_an_index(folder):
        # Nothing to index yet: the first change will make the index.
        folder.mkdir(parents=True, exist_ok=True)
        write_position(folder, head)
        return 0
    if first is not None:
        documents = itertools.chain([first], documents)
    count = Indexer(folder, engine=engine).rebuild(
        documents, corrected_records(catalog, catalog.quote_records()), progress
    )
    write_position(folder, head)
    return count


def rebuild(paths: Paths, catalog: Catalog) -> int:
    """Rebuild the archive's index from the catalog (``onrecord reindex``); IndexBusy
    when a node keeps it."""
    return IndexKeeper(paths.index, paths.search_engine).rebuild(catalog)


def corrected_records(catalog: Catalog, records: Iterable[dict]) -> Iterator[dict]:
    """Quote records as editors corrected them: the index finds the corrected speaker,
    role, cue and words (and a merged speaker under the name it was merged into), and
    leaves out what was marked not a quote."""
    made_under = catalog.corrected_quote_ids()
    # A correction made under an id a re-extraction has since replaced follows its alias.
    corrected = made_under | {catalog.resolve_quote_id(i) for i in made_under}
    merges = catalog.speaker_merges()
    names: dict[str, str] = {}
    for record in records:
        if record["id"] in corrected:
            found = catalog.corrected(catalog.quote(record["id"]))
            if found.not_quote:
                continue
            quote = found.quote
            record = record | {
                "text": quote.text,
                "speaker": quote.speaker,
                "speaker_id": quote.speaker_id,
                "role": quote.role,
                "cue": quote.cue,
                "anonymous": quote.anonymous,
            }
        target = merges.get(record["speaker_id"])
        if target is not None:
            if target not in names:
                names[target] = catalog.speaker(target).name
            record = record | {"speaker_id": target, "speaker": names[target]}
        yield record


def search(paths: Paths, catalog: Catalog, query: str, **options) -> SearchResults:
    with searching(paths, catalog) as searcher:
        return searcher.search(query, **options)


@contextmanager
def searching(paths: Paths, catalog: Catalog) -> Iterator[Searcher]:
    """One searcher for several searches (a round of alerts), closed afterwards."""
    if not paths.index.exists():
        Indexer(paths.index, engine=paths.search_engine)
    searcher = Searcher(paths.index, text_loader=catalog.document_text)
    try:
        yield searcher
    finally:
        searcher.close()


def hit_path(hit) -> str:
    return links.quote_path(hit.id) if hit.type == "quote" else links.document_path(hit.id)


def results_json(results: SearchResults) -> dict:
    """The JSON shape of ``onrecord search --format json`` and the search API."""
    return {
        "query": results.query,
        "total": results.total,
        "total_is_exact": results.total_is_exact,
        "unavailable": list(results.unavailable),
        "hits": [
            {
                "type": hit.type,
                "id": hit.id,
                "text": hit.text,
                "speaker": hit.speaker,
                "publisher": hit.publisher,
                "published": hit.published.isoformat() if hit.published else None,
                "url": hit_path(hit),
            }
            for hit in results.hits
        ],
        "facets": {
            name: [[value, count] for value, count in counts]
            for name, counts in results.facets.items()
        },
    }
