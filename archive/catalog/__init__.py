"""The catalog: the only package that holds SQL.

The catalog is derived from the WARC files (see :mod:`archive.store`) and holds what was
made of them. One module per kind of data holds its queries: ``captures`` (captures and
the capture log), ``documents`` (documents, versions, extractions, events), ``quotes``
(quotes, aliases, speakers), ``sources`` (runs, failures, queues, the schedule),
``jobs`` (work handed to workers, and locks), ``accounts`` (users, tokens, sessions),
``corrections`` (corrections of quotes and their chain, speaker merges and identifiers)
and ``alerts`` (subscriptions, deliveries); the joins they share are written once in
``rows``. :class:`Catalog` puts them behind one object on one connection, to SQLite or
PostgreSQL alike (``engine``), with its schema versioned by Alembic (``schema``).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from archive.catalog import schema
from archive.catalog.accounts import ROLES, AccountError, AccountQueries, User
from archive.catalog.alerts import AlertError, AlertQueries, Delivery, Subscription
from archive.catalog.captures import GENESIS_HASH, CaptureQueries, log_entry_bytes, log_entry_hash
from archive.catalog.corrections import (
    KINDS,
    Corrected,
    Correction,
    CorrectionError,
    CorrectionQueries,
    chain_problems,
)
from archive.catalog.documents import DocumentQueries, DocumentSummary
from archive.catalog.engine import (
    CatalogConflict,
    CatalogError,
    EmptyCatalog,
    connection_error,
    create_engine,
    exists,
    parse_url,
    shown,
    sqlite_url,
)
from archive.catalog.jobs import JOB_STATES, Job, JobQueries
from archive.catalog.quotes import QuoteQueries, quote_keys
from archive.catalog.rows import from_text, to_text
from archive.catalog.schema import latest_version
from archive.catalog.sources import Failure, RunStats, SourceQueries

__all__ = [
    "GENESIS_HASH",
    "JOB_STATES",
    "KINDS",
    "ROLES",
    "AccountError",
    "AlertError",
    "Catalog",
    "CatalogConflict",
    "CatalogError",
    "Catalogs",
    "Corrected",
    "Correction",
    "CorrectionError",
    "Delivery",
    "DocumentSummary",
    "EmptyCatalog",
    "Failure",
    "Job",
    "RunStats",
    "Subscription",
    "User",
    "chain_problems",
    "from_text",
    "latest_version",
    "log_entry_bytes",
    "log_entry_hash",
    "quote_keys",
    "to_text",
]

log = logging.getLogger(__name__)


def as_url(target: Path | str | URL) -> URL:
    """A catalog named by an SQLite file's path or by a database URL."""
    if isinstance(target, URL):
        return target
    if isinstance(target, Path) or "://" not in target:
        return sqlite_url(Path(target))
    return parse_url(target)


class Catalog(
    CaptureQueries,
    DocumentQueries,
    QuoteQueries,
    SourceQueries,
    AccountQueries,
    CorrectionQueries,
    AlertQueries,
    JobQueries,
):
    """One connection to one catalog. Not shared between threads."""

    def __init__(
        self, engine: sa.Engine, connection: sa.Connection, url: URL, *, owns_engine: bool = True
    ) -> None:
        super().__init__(connection, url)
        self._engine = engine
        self._owns_engine = owns_engine

    @property
    def name(self) -> str:
        """The catalog as messages show it (a file's path, or a URL without password)."""
        return shown(self.url)

    @classmethod
    def open(
        cls,
        target: Path | str | URL,
        *,
        create: bool = False,
        migrate: bool = True,
        engine: sa.Engine | None = None,
    ) -> Catalog:
        """Open (or with ``create``, make) a catalog and bring its schema up to date; on
        the ``engine`` given (kept open after), or on an engine of its own."""
        url = as_url(target)
        if not create and not exists(url):
            raise CatalogError(f"no catalog at {shown(url)}")
        owns_engine = engine is None
        engine = engine or create_engine(url)
        try:
            connection = engine.connect()
        except sa.exc.DBAPIError as exc:
            if owns_engine:
                engine.dispose()
            raise connection_error(url, exc) from None
        catalog = cls(engine, connection, url, owns_engine=owns_engine)
        try:
            version = catalog.schema_version()
            if version > latest_version():
                raise CatalogError(
                    f"the catalog {shown(url)} has schema version {version}, newer than "
                    f"this onrecord knows ({latest_version()}): upgrade onrecord to use it"
                )
            if version == 0 and not create:
                raise EmptyCatalog(
                    f"the catalog {shown(url)} is empty: rebuild it from the WARC files with "
                    "onrecord verify --repair"
                )
            if migrate:
                catalog.migrate()
        except sa.exc.DBAPIError as exc:
            catalog.close()
            raise connection_error(url, exc) from None
        except CatalogError:
            catalog.close()
            raise
        return catalog

    def close(self) -> None:
        self._conn.close()
        if self._owns_engine:
            self._engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def schema_version(self) -> int:
        return schema.schema_version(self._conn)

    def migrate(self, up_to: int | None = None) -> list[int]:
        """Apply the migrations the catalog lacks (up to ``up_to``), each in its own
        transaction."""
        applied = schema.upgrade(self._conn, self.transaction, up_to)
        for version in applied:
            log.info("catalog %s migrated to version %d", self.name, version)
        return applied


class Catalogs:
    """Catalogs for a long-lived process that opens one per request (the web server):
    for PostgreSQL, one engine whose connections are pooled, and the schema checked on
    first use (opening a connection and checking costs tens of milliseconds)."""

    def __init__(self, target: Path | str | URL) -> None:
        self.url = as_url(target)
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()

    def open(self) -> Catalog:
        if self.url.get_backend_name() == "sqlite":
            # A file may go away or be replaced between requests: each is checked as it
            # is opened, on one engine (whose connections are not pooled).
            with self._lock:
                if self._engine is None:
                    self._engine = create_engine(self.url)
            return Catalog.open(self.url, migrate=False, engine=self._engine)
        with self._lock:
            if self._engine is None:
                Catalog.open(self.url, migrate=False).close()  # there, and of a known schema
                self._engine = create_engine(self.url, pooled=True)
        try:
            connection = self._engine.connect()
        except sa.exc.DBAPIError as exc:
            raise connection_error(self.url, exc) from None
        return Catalog(self._engine, connection, self.url, owns_engine=False)

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
