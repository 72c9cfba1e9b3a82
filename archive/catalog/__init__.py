"""The catalog: the only package that holds SQL.

The catalog is derived from the WARC files (see :mod:`archive.store`) and holds what was
made of them. One module per kind of data holds its queries: ``captures`` (captures and
the capture log), ``documents`` (documents, versions, extractions, events), ``quotes``
(quotes, aliases, speakers), ``sources`` (runs, failures, queues, the schedule),
``jobs`` (work handed to workers, and locks), ``accounts`` (users, tokens, sessions),
``corrections`` (corrections of quotes and their chain, speaker merges and identifiers),
``alerts`` (subscriptions, deliveries) and ``changes`` (the change log that search
indexes follow); the joins they share are written once in ``rows``. :class:`Catalog` puts
them behind one object on one connection, to SQLite or PostgreSQL alike (``engine``),
with its schema versioned by Alembic (``schema``).
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
from archive.catalog.changes import (
    CHANGE_KINDS,
    Backlog,
    Change,
    ChangeListener,
    ChangeQueries,
)
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
    DISCONNECTED,
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
    "CHANGE_KINDS",
    "DISCONNECTED",
    "GENESIS_HASH",
    "JOB_STATES",
    "KINDS",
    "ROLES",
    "AccountError",
    "AlertError",
    "Backlog",
    "Catalog",
    "CatalogConflict",
    "CatalogError",
    "Catalogs",
    "Change",
    "ChangeListener",
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
    "connection_error",
    "from_text",
    "latest_version",
    "log_entry_bytes",
    "log_entry_hash",
    "quote_keys",
    "to_text",
]

log = logging.getLogger(__name__)

# Set in a pooled connection's info once its schema was checked (:class:`Catalogs`).
SCHEMA_CHECKED = "onrecord.schema_checked"


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
    ChangeQueries,
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
            catalog._check_schema(create=create)
            if migrate:
                catalog.migrate()
        except sa.exc.DBAPIError as exc:
            catalog.close()
            raise connection_error(url, exc) from None
        except CatalogError:
            catalog.close()
            raise
        return catalog

    def _check_schema(self, *, create: bool = False) -> None:
        """Refuse a catalog of a schema newer than this onrecord knows, and (unless it is
        being created) an empty one."""
        version = self.schema_version()
        if version > latest_version():
            raise CatalogError(
                f"the catalog {self.name} has schema version {version}, newer than "
                f"this onrecord knows ({latest_version()}): upgrade onrecord to use it"
            )
        if version == 0 and not create:
            raise EmptyCatalog(
                f"the catalog {self.name} is empty: rebuild it from the WARC files with "
                "onrecord verify --repair"
            )

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
    """Catalogs for a long-lived process that opens one per request (the web server): one
    engine whose connections are pooled, each connection's schema checked when it is
    made (opening a connection and checking its schema cost more than a page's queries).
    An SQLite file replaced since a connection was made (``verify --repair``, a restore)
    is reopened: the pool checks the file on every checkout (``create_engine``)."""

    def __init__(self, target: Path | str | URL) -> None:
        self.url = as_url(target)
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()

    def in_use(self) -> int:
        """How many of the pool's connections are handed out and not yet closed."""
        return 0 if self._engine is None else self._engine.pool.checkedout()

    def open(self) -> Catalog:
        if not exists(self.url):
            raise CatalogError(f"no catalog at {shown(self.url)}")
        with self._lock:
            if self._engine is None:
                self._engine = create_engine(self.url, pooled=True)
        try:
            connection = self._engine.connect()
        except sa.exc.DBAPIError as exc:
            raise connection_error(self.url, exc) from None
        catalog = Catalog(self._engine, connection, self.url, owns_engine=False)
        if connection.info.get(SCHEMA_CHECKED):
            return catalog
        try:
            catalog._check_schema()
        except sa.exc.DBAPIError as exc:
            catalog.close()
            raise connection_error(self.url, exc) from None
        except CatalogError:
            connection.invalidate()  # checked again, on a new connection, next time
            catalog.close()
            raise
        connection.info[SCHEMA_CHECKED] = True
        return catalog

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
