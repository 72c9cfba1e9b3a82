"""Which database a catalog lives in, how to reach it, and what its schema version is.

A catalog is named by a database URL: ``sqlite:///path/catalog.sqlite`` (the embedded
default, ``catalog.sqlite`` inside the archive folder) or
``postgresql://user:password@host:port/database``. SQLAlchemy's engine handles what
differs between the two (driver, parameters, pooling); Alembic versions the schema
(``archive/catalog/migrations``) on both.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError

log = logging.getLogger(__name__)

CATALOG_FILE = "catalog.sqlite"
# How long a connection waits for a PostgreSQL server that does not answer.
CONNECT_TIMEOUT = 10


class CatalogError(Exception):
    """The catalog cannot be used: missing, unreachable, unreadable, or of an unknown
    schema. Its message never holds a password."""


class EmptyCatalog(CatalogError):
    """A catalog file or database that holds no onrecord tables (a 0-byte file, an empty
    database): nothing to read, everything to rebuild from the WARC files."""


class CatalogConflict(CatalogError):
    """A transaction that two writers' transactions deadlocked over: it was rolled back,
    and running it again is safe."""


# What a statement raises when the connection to the catalog's server is lost or refused
# mid-use (the server restarted, the network went away): the next connection may work.
DISCONNECTED = (sa.exc.OperationalError, sa.exc.InterfaceError)


def catalog_url(root: Path, setting: str = "") -> URL:
    """The catalog of the archive folder ``root``, from its ``catalog`` setting.

    An empty setting means ``catalog.sqlite`` in the archive; a relative SQLite path is
    taken from the archive folder, not from where the command runs.

    >>> str(catalog_url(Path("/srv/archive")))
    'sqlite:////srv/archive/catalog.sqlite'
    >>> str(catalog_url(Path("/srv/archive"), "sqlite:///other.sqlite"))
    'sqlite:////srv/archive/other.sqlite'
    >>> catalog_url(Path("/a"), "postgresql://onrecord@db.example:5432/news").drivername
    'postgresql+psycopg'
    """
    if not setting:
        return sqlite_url(root / CATALOG_FILE)
    url = parse_url(setting)
    if url.get_backend_name() == "sqlite" and url.database:
        path = Path(url.database)
        return sqlite_url(path if path.is_absolute() else root / path)
    return url


def sqlite_url(path: Path) -> URL:
    return URL.create("sqlite", database=str(path.absolute()))


def parse_url(text: str) -> URL:
    """A catalog URL, with PostgreSQL reached through psycopg (version 3)."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise CatalogError(
            f"not a catalog URL: {text!r} (use sqlite:///PATH or "
            "postgresql://USER@HOST:PORT/DATABASE)"
        ) from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    if backend != "sqlite":
        raise CatalogError(f"a catalog lives in SQLite or PostgreSQL, not {backend}")
    return url


def shown(url: URL) -> str:
    """A catalog URL as messages and logs show it: without its password.

    >>> shown(parse_url("postgresql://me:secret@db.example:5433/news"))
    'postgresql://me@db.example:5433/news'
    >>> shown(sqlite_url(Path("/srv/archive/catalog.sqlite")))
    '/srv/archive/catalog.sqlite'
    """
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    user = f"{url.username}@" if url.username else ""
    return f"postgresql://{user}{where}/{url.database or ''}"


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def exists(url: URL) -> bool:
    """Whether an SQLite catalog file is there (a server's catalog is assumed to be)."""
    return not is_sqlite(url) or Path(url.database or "").exists()


def create_engine(url: URL, *, pooled: bool = False) -> Engine:
    """An engine whose connections run in autocommit mode: a :class:`Catalog` opens
    its transactions itself (``BEGIN IMMEDIATE`` on SQLite, so that writers queue at
    the start instead of failing at commit). A ``pooled`` engine keeps PostgreSQL
    connections open between uses (a long-lived process: the web server); a pooled SQLite
    connection is used again only while its file is the one it opened (:class:`SameFile`)."""
    if is_sqlite(url):
        engine = sa.create_engine(
            url,
            isolation_level="AUTOCOMMIT",
            **({} if pooled else {"poolclass": sa.pool.NullPool}),
            connect_args={"timeout": 30.0},
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        if pooled:
            SameFile(Path(url.database or "")).listen(engine)
        return engine
    pooling = {"pool_pre_ping": True} if pooled else {"poolclass": sa.pool.NullPool}
    return sa.create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        **pooling,
        connect_args={"connect_timeout": CONNECT_TIMEOUT, "application_name": "onrecord"},
    )


class SameFile:
    """Keeps pooled SQLite connections to the file they opened: a catalog file replaced
    (``verify --repair``, a restore) since a connection was made closes that connection
    at its next checkout, and the pool opens the new file."""

    INFO = "onrecord.file"

    def __init__(self, path: Path) -> None:
        self.path = path

    def listen(self, engine: Engine) -> None:
        sa.event.listen(engine, "connect", self.connected)
        sa.event.listen(engine, "checkout", self.checkout)

    def identity(self) -> tuple[int, int] | None:
        try:
            found = self.path.stat()
        except FileNotFoundError:
            return None
        return found.st_dev, found.st_ino

    def connected(self, _dbapi_connection, record) -> None:
        record.info[self.INFO] = self.identity()

    def checkout(self, _dbapi_connection, record, _proxy) -> None:
        if record.info.get(self.INFO) != self.identity():
            raise sa.exc.DisconnectionError(f"{self.path} was replaced since it was opened")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in (
        "busy_timeout = 30000",
        "journal_mode = WAL",
        "synchronous = NORMAL",
        "foreign_keys = ON",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def connection_error(url: URL, exc: BaseException) -> CatalogError:
    """What a failed connection says to the user: which server, and why, without the
    password (libpq's own message never holds it; the URL is shown without it)."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    if url.password:
        reason = reason.replace(str(url.password), "***")
    if is_sqlite(url):
        return CatalogError(f"{shown(url)} is not a usable catalog: {reason}")
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    lowered = reason.lower()
    if "password authentication failed" in lowered or (
        "role" in lowered and "does not exist" in lowered
    ):
        return CatalogError(
            f"the catalog database at {where} refused user {url.username!r}: {reason}"
        )
    if "database" in lowered and "does not exist" in lowered:
        return CatalogError(
            f"the catalog database at {where} has no database {url.database!r}: "
            f"create it first ({reason})"
        )
    return CatalogError(f"cannot reach the catalog database at {where}: {reason}")
