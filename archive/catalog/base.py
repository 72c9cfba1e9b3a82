"""What every part of the catalog shares: one connection, its transactions, and running
a statement with named parameters on either engine."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache

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

    def _rows(self, sql: str, **named) -> list[RowMapping]:
        return list(self._run(sql, **named).mappings())

    def _one(self, sql: str, **named) -> RowMapping | None:
        return self._run(sql, **named).mappings().first()

    def _value(self, sql: str, **named):
        return self._run(sql, **named).scalar()

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
