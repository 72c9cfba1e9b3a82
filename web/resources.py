"""Per-request owners of the catalog connection and the index searcher, and the app's
keeper of its index.

Each request opens what it needs on first use, caches it on ``g``, and closes it in a
teardown; the searcher is shared by the process (a new Whoosh searcher per query costs
tens of milliseconds) and refreshed when the index changes. The index keeper applies the
catalog's change log to this node's index: in a node (``onrecord serve``) it keeps the
index folder and a follower thread applies the log every ``follow_interval`` seconds.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

from flask import Flask, abort, current_app, g, request

from archive import config as archive_config
from archive.catalog import Catalog, CatalogError, Catalogs
from archive.store import Paths
from index.search import IndexStatus, Searcher, SearchResults
from web.indexing import Follower, IndexKeeper, read_position

SEARCHER = "onrecord.searcher"
CATALOGS = "onrecord.catalogs"
PATHS = "onrecord.paths"
SEARCHER_LOCK = "onrecord.searcher_lock"
KEEPER = "onrecord.keeper"
FOLLOWER = "onrecord.follower"


def paths() -> Paths:
    """The archive's paths, one object per app: it keeps the WARC store (and a bucket's
    client, which is slow to make) for every request."""
    extensions = current_app.extensions
    if PATHS not in extensions:
        extensions[PATHS] = Paths(Path(current_app.config["ARCHIVE"]))
    return extensions[PATHS]


def catalogs() -> Catalogs:
    """The app's catalog connections (pooled, for a PostgreSQL catalog), made on first use."""
    extensions = current_app.extensions
    with extensions[SEARCHER_LOCK]:
        if CATALOGS not in extensions:
            extensions[CATALOGS] = Catalogs(paths().catalog)
        return extensions[CATALOGS]


def root_url() -> str:
    """The root that absolute URLs are built on: the ``public_url`` setting, else the
    request's own host (a Host header anyone can set: configure ``public_url`` in
    production)."""
    return current_app.config.get("PUBLIC_URL") or request.url_root


def catalog() -> Catalog:
    if "catalog" not in g:
        try:
            g.catalog = catalogs().open()
        except CatalogError as exc:
            current_app.logger.error("catalog unavailable: %s", exc)
            abort(503, description=str(exc))
    return g.catalog


def close_catalog(_exc: BaseException | None = None) -> None:
    opened = g.pop("catalog", None)
    if opened is not None:
        opened.close()


def document_text(document_id: str) -> str | None:
    """The searcher's text loader: a document's body, from this request's catalog."""
    return catalog().document_text(document_id)


class SharedSearcher:
    """The process's one index searcher, used by one request at a time (its caches and
    its refresh are not thread-safe); it refreshes itself when the index changed.

    Searches that pages make for themselves (a quote page's "where else") are memoised
    for a few seconds, and until the index applies more of the change log: every view of
    a popular quote asks the same question."""

    MEMO_SECONDS = 15.0
    MEMO_SIZE = 2048

    def __init__(self, path: Path, clock=time.monotonic) -> None:
        self._searcher = Searcher(path, text_loader=document_text, warm=True)
        self._path = path
        self._lock = threading.Lock()
        self._clock = clock
        self._memo: dict[tuple, tuple[float, int | None, SearchResults]] = {}

    def search(self, query: str, **options) -> SearchResults:
        with self._lock:
            return self._searcher.search(query, **options)

    def status(self) -> IndexStatus:
        """The live index's engine, generation and shards (a damaged one says why)."""
        with self._lock:
            return self._searcher.status()

    def memoised(self, query: str, **options) -> SearchResults:
        key = (query, *sorted(options.items()))
        now = self._clock()
        position = read_position(self._path)
        with self._lock:
            found = self._memo.get(key)
            if found is not None and now - found[0] < self.MEMO_SECONDS and found[1] == position:
                return found[2]
            results = self._searcher.search(query, **options)
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = (now, position, results)
            return results


def searcher() -> SharedSearcher:
    """The shared searcher, opened on first use."""
    extensions = current_app.extensions
    with extensions[SEARCHER_LOCK]:
        if SEARCHER not in extensions:
            extensions[SEARCHER] = SharedSearcher(paths().index)
        return extensions[SEARCHER]


def keeper() -> IndexKeeper:
    """The keeper of this app's index (made on first use when the app follows nothing)."""
    extensions = current_app.extensions
    with extensions[SEARCHER_LOCK]:
        if KEEPER not in extensions:
            extensions[KEEPER] = IndexKeeper(paths().index, paths().search_engine)
        return extensions[KEEPER]


def index_now(db: Catalog) -> None:
    """Apply the change log to this node's index at once (after an editor's correction
    or an admin's capture: they see it in search on their next page)."""
    keeper().catch_up(db)


def index_status(db: Catalog) -> dict:
    """Where this node's index stands against the change log (see IndexKeeper.status)."""
    found = keeper().status(db, current_app.config["BEHIND_AFTER"])
    health = searcher().status()
    found["engine"] = health.engine
    found["generation"] = health.generation
    found["shards"] = [dataclasses.asdict(shard) for shard in health.shards]
    return found


def follow(app: Flask) -> Follower:
    """Make ``app`` a node: keep its index folder (IndexBusy when another process keeps
    it) and start the thread that follows the change log."""
    with app.app_context():
        found = keeper()
        found.claim()
        settings = archive_config.load(paths().root)
        follower = Follower(found, Catalogs(paths().catalog), settings["follow_interval"])
    app.extensions[FOLLOWER] = follower
    follower.start()
    return follower


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_catalog)
    app.extensions[SEARCHER_LOCK] = threading.Lock()
