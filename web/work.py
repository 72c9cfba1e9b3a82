"""Capture work, composed once: fetch, store, extract, quotes, then the index.

The ``onrecord`` commands (``capture``, ``scrape``, ``schedule``, the demo), the web admin
(scrape now, archive this URL) and the workers all do their capture work through a
:class:`Work`: it owns the archive's store, one polite session per politeness delay (so
robots.txt is read once per host, not once per page) and, when a page needs one, a
browser; after each piece of work it applies the catalog's change log to the search
index (:meth:`web.indexing.IndexKeeper.catch_up`). Nothing here imports Flask or the
task queue: :mod:`web.jobs` hands work to workers, :mod:`web.app` serves pages.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive import config as archive_config
from archive.catalog import Failure
from archive.catalog.leases import HostLeases
from archive.store import Store
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Outcome, Pipeline
from scrapers.sources import Source
from web import indexing

if TYPE_CHECKING:
    from scrapers.browser import BrowserSession

log = logging.getLogger(__name__)


def start_browser(settings: dict[str, Any], http: PoliteSession) -> BrowserSession:
    """A browser with the archive's settings; FileNotFoundError without Chromium."""
    # Imported here: Playwright and warcprox take over a second to import, and only
    # browser captures need them.
    from scrapers.browser import BrowserSession, config_from_settings

    return BrowserSession(http, config_from_settings(settings))


class Work:
    """Capture work on one archive. Not shared between threads: each worker thread has
    its own (the catalog connection inside is not thread-safe).

    Each piece of work ends by bringing the index up to date, unless ``index_each`` is
    False: a worker's jobs leave that to one indexing thread of its process, which
    catches up every second (an index commit per page would cost more than the page).
    The index is this archive's folder, through ``keeper`` (a web node passes its own,
    which keeps the folder); when a web node on this machine keeps that folder, its
    follower applies the change log and this work leaves the index to it."""

    def __init__(
        self,
        store: Store,
        settings: dict[str, Any] | None = None,
        *,
        index_each: bool = True,
        keeper: indexing.IndexKeeper | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or archive_config.load(store.paths.root)
        self.index_each = index_each
        self.keeper = keeper or indexing.IndexKeeper(store.paths.index, store.paths.search_engine)
        self._sessions: dict[float | None, PoliteSession] = {}
        self._leases: HostLeases | None = None
        self._browser: BrowserSession | None = None
        self._closing = contextlib.ExitStack()

    @classmethod
    def open(
        cls, root: Path, settings: dict[str, Any] | None = None, *, index_each: bool = True
    ) -> Work:
        """Open the archive at ``root`` for capture work (closed by :meth:`close`)."""
        work = cls(Store.open(root), settings, index_each=index_each)
        work._closing.callback(work.store.close)
        return work

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()
        if self._leases is not None:
            self._leases.close()
            self._leases = None
        self._closing.close()

    def __enter__(self) -> Work:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- collaborators ------------------------------------------------------------------

    def session(self, delay: float | None = None) -> PoliteSession:
        """The polite session for a source's delay (None: the archive's), kept for reuse.
        Its turns at each host are taken in the catalog's host leases, shared with every
        process fetching into this catalog (other workers, commands, the admin): no two
        requests to a host closer than its delay, whoever makes them."""
        if delay not in self._sessions:
            overrides = {} if delay is None else {"delay": delay}
            if self._leases is None:
                self._leases = HostLeases(self.store.paths.catalog)
            config = HttpConfig.from_settings(self.settings, **overrides)
            self._sessions[delay] = PoliteSession(config, lease=self._leases)
        return self._sessions[delay]

    def browser(self) -> BrowserSession:
        """The browser, started on first use and kept (it restarts itself every
        ``browser_pages`` pages). FileNotFoundError when there is no Chromium."""
        if self._browser is None:
            self._browser = start_browser(self.settings, self.session())
        return self._browser

    def pipeline(self, source: Source | None = None, *, browser: bool = False) -> Pipeline:
        needs_browser = browser or (source is not None and source.render == "browser")
        return Pipeline(
            self.store,
            self.session(source.delay if source else None),
            browser=self.browser() if needs_browser else None,
        )

    def turn_in(self, url: str, source: Source | None = None) -> float:
        """Seconds until ``url``'s host may be fetched from (by ``source``'s session),
        as known now: 0.0 when at once (see :meth:`PoliteSession.turn_in`)."""
        return self.session(source.delay if source else None).turn_in(url)

    def index(self) -> int:
        """Apply the catalog's change log to the search index (left to the node that
        keeps the index folder, when another process does)."""
        return self.keeper.catch_up(self.store.catalog)

    def _worked(self) -> None:
        if self.index_each:
            self.index()

    # -- work ---------------------------------------------------------------------------

    def capture(self, url: str, *, browser: bool = False) -> Outcome:
        """Archive one URL (in a browser with ``browser``), after processing whatever an
        earlier crash left stored but unprocessed."""
        pipeline = self.pipeline(browser=browser)
        outcome = pipeline.process_pending()
        outcome.merge(pipeline.capture(url, browser=browser))
        self._worked()
        return outcome

    def scrape(self, source: Source) -> Outcome:
        """One whole run of a source in this process (resuming an interrupted one)."""
        outcome = self.pipeline(source).scrape(source)
        self._worked()
        log.info(
            "%s: %d captures, %d new versions, %d failures",
            source.name,
            len(outcome.captures),
            outcome.new_versions,
            len(outcome.failures),
        )
        return outcome

    def open_run(self, source: Source) -> tuple[str | None, Outcome]:
        """Start (or resume) a run of a source: discovery, its URLs queued in the catalog.
        The run's id, or None when discovery failed (recorded in the outcome).

        Discovery reads feeds, sitemaps and listings over plain HTTP, so a run needs no
        browser, even a browser source's: its job goes to any worker, and the jobs of its
        URLs to those that have one."""
        pipeline = Pipeline(self.store, self.session(source.delay))
        outcome = pipeline.process_pending(only=source)
        run_id = pipeline.open_run(source, outcome)
        self._worked()
        return run_id, outcome

    def failed_to_start(self, source: Source, reason: str) -> Failure:
        """A run of ``source`` that could not start (its browser would not), recorded as
        failed; no fetch is made, so no session or browser is opened for it."""
        return Pipeline(self.store, None).failed_to_start(source, reason)

    def pending(self, source: Source, run_id: str) -> list[str]:
        return self.store.catalog.pending(source.name, run_id)

    def capture_in_run(self, source: Source, run_id: str, url: str) -> Outcome:
        """Capture one URL of a run (at most once, whoever asks how often)."""
        outcome = self.pipeline(source).capture_in_run(source, run_id, url)
        self._worked()
        return outcome

    def give_up(self, source: Source, run_id: str, url: str, reason: str) -> Failure:
        """A URL of a run tried as often as allowed: a failure row, and the run goes on."""
        return self.pipeline(source).give_up(source, run_id, url, reason)

    def reextract(self, document_ids: list[str], each=iter) -> set[str]:
        """Extract documents again with the current release; the ids of those changed.
        ``each`` wraps the ids (a progress bar)."""
        pipeline = Pipeline(self.store, None)
        changed: set[str] = set()
        for document_id in each(document_ids):
            changed |= pipeline.reextract(document_id).changed_documents
        self._worked()
        return changed

    def process_pending(self, sources: list[Source] = ()) -> Outcome:
        """Turn stored but unprocessed captures (after an import or a repair) into
        documents; the index is left to the caller (a repair rebuilds it)."""
        return Pipeline(self.store, None).process_pending(sources)
