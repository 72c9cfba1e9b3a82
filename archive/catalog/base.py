"""What every part of the catalog shares: one connection, its transactions, and running
a statement with named parameters on either engine.

Reads (:meth:`Queries._rows`, ``_one``, ``_value``) go to the driver's cursor with the
statement rewritten once for its parameter style: SQLAlchemy's result machinery costs
several times what SQLite takes to answer a page's small queries. Its errors are raised
as SQLAlchemy's, as every other statement's are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, RowMapping

from archive.catalog.engine import CatalogConflict, is_sqlite
from archive.catalog.rows import batches

# PostgreSQL's deadlock and serialization failures: the transaction was rolled back and
# may simply be run again.
RETRYABLE = ("40P01", "40001")


@lru_cache(maxsize=1024)
def _statement(sql: str, expanding: tuple[str, ...]) -> sa.TextClause:
    statement = sa.text(sql)
    if expanding:
        statement = statement.bindparams(*(sa.bindparam(n, expanding=True) for n in expanding))
    return statement


# A named parameter as sqlalchemy.text() finds one (":name", never "::cast").
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


@lru_cache(maxsize=1024)
def _driver_sql(sql: str, pyformat: bool, lengths: tuple[tuple[str, int], ...]) -> str:
    """``sql`` in the driver's own parameter style: ``:name`` for sqlite3, ``%(name)s``
    for psycopg; a list parameter (``IN :ids``, given its length) becomes one parameter
    per item, ``:ids_0`` and on.

    >>> _driver_sql("SELECT * FROM q WHERE id IN :ids AND n > :n", False, (("ids", 2),))
    'SELECT * FROM q WHERE id IN (:ids_0, :ids_1) AND n > :n'
    >>> _driver_sql("SELECT x::text FROM q WHERE url LIKE '%a' AND id = :id", True, ())
    "SELECT x::text FROM q WHERE url LIKE '%%a' AND id = %(id)s"
    """
    listed = dict(lengths)
    if pyformat:
        sql = sql.replace("%", "%%")
    place = "%({})s" if pyformat else ":{}"

    def parameter(match: re.Match) -> str:
        name = match.group(1)
        if name in listed:
            return "(" + ", ".join(place.format(f"{name}_{i}") for i in range(listed[name])) + ")"
        return place.format(name)

    return _BIND.sub(parameter, sql)


Row = Mapping[str, Any]
Made = TypeVar("Made")


class Queries:
    """A connection in autocommit mode; :meth:`transaction` groups statements."""

    def __init__(self, connection: sa.Connection, url: URL) -> None:
        self._conn = connection
        self.url = url
        self.sqlite = is_sqlite(url)
        self._in_transaction = False

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; nested uses join the outer one. On SQLite it takes the
        write lock at once (``BEGIN IMMEDIATE``), so two writers queue instead of one
        failing at its first write."""
        if self._in_transaction:
            yield
            return
        self._conn.exec_driver_sql("BEGIN IMMEDIATE" if self.sqlite else "BEGIN")
        self._in_transaction = True
        try:
            yield
        except BaseException as exc:
            self._in_transaction = False
            self._conn.exec_driver_sql("ROLLBACK")
            if getattr(getattr(exc, "orig", None), "sqlstate", None) in RETRYABLE:
                raise CatalogConflict(f"a concurrent writer got in the way: {exc.orig}") from exc
            raise
        self._in_transaction = False
        self._conn.exec_driver_sql("COMMIT")

    def _run(self, sql: str, params: Mapping | Sequence[Mapping] | None = None, /, **named):
        """Run one statement; a list value of ``named`` fills an ``IN :name`` list."""
        expanding = tuple(sorted(k for k, v in named.items() if isinstance(v, list)))
        if params is None:
            params = named
        return self._conn.execute(_statement(sql, expanding), params)

    def _many(self, sql: str, rows: Sequence[Mapping]) -> None:
        """Run one statement for each of ``rows`` (nothing when there are none)."""
        if rows:
            self._conn.execute(_statement(sql, ()), list(rows))

    def _read(self, sql: str, named: dict, rows: int | None) -> tuple[list[str], list[tuple]]:
        """Run one statement on the driver's cursor: its column names and its first
        ``rows`` rows (all of them when None)."""
        lists = {k: v for k, v in named.items() if isinstance(v, list)}
        if any(not v for v in lists.values()):  # an empty IN list: as SQLAlchemy renders it
            result = self._run(sql, **named)
            found = result.fetchall() if rows is None else result.fetchmany(rows)
            return list(result.keys()), [tuple(row) for row in found]
        params = {k: v for k, v in named.items() if k not in lists}
        for name, values in lists.items():
            params.update((f"{name}_{i}", v) for i, v in enumerate(values))
        lengths = tuple(sorted((k, len(v)) for k, v in lists.items()))
        statement = _driver_sql(sql, not self.sqlite, lengths)
        dialect = self._conn.dialect
        cursor = self._conn.connection.driver_connection.cursor()
        try:
            cursor.execute(statement, params)
            found = cursor.fetchall() if rows is None else cursor.fetchmany(rows)
            names = [column[0] for column in cursor.description or ()]
        except dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DBAPIError.instance(
                statement, params, exc, dialect.loaded_dbapi.Error, dialect=dialect
            ) from exc
        finally:
            cursor.close()
        return names, found

    def _rows(self, sql: str, **named) -> list[Row]:
        names, found = self._read(sql, named, None)
        return [dict(zip(names, row, strict=True)) for row in found]

    def _one(self, sql: str, **named) -> Row | None:
        names, found = self._read(sql, named, 1)
        return dict(zip(names, found[0], strict=True)) if found else None

    def _value(self, sql: str, **named):
        _names, found = self._read(sql, named, 1)
        return found[0][0] if found else None

    def _by_ids(
        self, table: str, ids: Iterable[str], make: Callable[[Row], Made]
    ) -> dict[str, Made]:
        """The rows of ``table`` with these ids, each made into its record, by id: what
        ``SELECT * ... WHERE id = :id`` gives one at a time, in a query per batch of ids."""
        found: dict[str, Made] = {}
        for batch in batches(ids):
            for row in self._rows(f"SELECT * FROM {table} WHERE id IN :ids", ids=batch):
                found[row["id"]] = make(row)
        return found

    def _predecessors(self, table: str, start: str) -> list[str]:
        """``start`` and every id that ``table``'s (old_id -> new_id) rows lead to it,
        however many steps back (aliases of quotes, merges of speakers)."""
        found, frontier = [start], [start]
        while frontier:
            rows = self._run(
                f"SELECT old_id FROM {table} WHERE new_id IN :ids", ids=frontier
            ).scalars()
            frontier = [r for r in rows if r not in found]
            found += frontier
        return found

    def _per_document(self, sql: str, key: str, ids: Iterable[str] | None) -> Iterator[RowMapping]:
        """The rows of ``sql`` for every document, or for the documents ``ids`` names (a
        query per batch of them), in ``key`` order."""
        if ids is None:
            yield from self._run(f"{sql} ORDER BY {key}").mappings()
            return
        for batch in batches(ids):
            yield from self._run(f"{sql} WHERE {key} IN :ids ORDER BY {key}", ids=batch).mappings()
