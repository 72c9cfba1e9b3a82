"""Turns at hosts, shared by every process that fetches into one catalog.

A fetcher takes a host's turn before each request and hands it back when the response
is in, saying how long the host must rest (its delay, its Crawl-delay); no other
process, on this machine or another, gets the turn before then. One row per host:port in
``host_leases``: ``next_at`` is when the turn may next be taken, ``holder`` who holds it
now, and ``rest_until`` a rest anyone imposed on the host meanwhile (a backoff after a
429 or 5xx), which no release shortens. Times come from the database's own clock, never from the
fetchers' (machines' clocks drift apart). A turn taken by a process that died is free
again after the ``hold`` it asked for; on the machine it ran on, as soon as another
process there sees that it is gone (holders are named machine/pid/token), after the
``rest`` the asker gives: the dead process's last request may have just been sent.

Each take is one atomic statement (an upsert whose update only happens when the turn is
free: on PostgreSQL it locks the row like ``SELECT ... FOR UPDATE``; SQLite runs it under
its write lock), so two processes can never both get the turn.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from archive.catalog import Catalog, as_url
from archive.catalog.engine import connection_error, create_engine, is_sqlite

__all__ = ["HostLeases"]

# The database's clock, in seconds since the epoch (SQLite's 'now' has milliseconds).
_SQLITE_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
_POSTGRES_NOW = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"
# How often a turn held by another process (its request under way) is asked for again:
# the holder hands it back as soon as its response is in, long before its hold runs out.
HELD_POLL = 0.05
# The least a turn not taken asks to wait: never 0.0, which means "taken" (the host's
# rest may end between the take and the look at why it failed).
_MIN_WAIT = 0.001


class HostLeases:
    """The host turns of one catalog, for a :class:`scrapers.http.PoliteSession` (its
    ``lease`` parameter). Thread-safe: one connection, used by one thread at a time."""

    def __init__(self, target: Path | str | URL) -> None:
        self.url = as_url(target)
        Catalog.open(self.url).close()  # there, and migrated: the table exists
        self._engine = create_engine(self.url, pooled=not is_sqlite(self.url))
        self._now = _SQLITE_NOW if is_sqlite(self.url) else _POSTGRES_NOW
        self._lock = threading.Lock()
        self._conn: sa.Connection | None = None

    def take(self, host: str, holder: str, hold: float, rest: float = 0.0) -> float:
        """Take ``host``'s turn for ``holder``, for at most ``hold`` seconds: 0.0 when it
        is taken, otherwise how many seconds until it may be asked for again (when the
        host rests, until then; while another holds it, :data:`HELD_POLL`). A turn held
        by a process of this machine that is gone is handed back, with ``rest``."""
        now = self._now
        holder = self._named(holder)
        taken = self._execute(
            f"INSERT INTO host_leases (host, next_at, holder) VALUES (:host, {now} + :hold,"
            " :holder) ON CONFLICT (host) DO UPDATE SET next_at = excluded.next_at,"
            f" holder = excluded.holder WHERE host_leases.next_at <= {now}"
            f" AND host_leases.rest_until <= {now}",
            host=host,
            hold=hold,
            holder=holder,
        )
        if taken == 1:
            return 0.0
        turn, rests, held = self._state(host)
        if held is not None and _gone(held):
            self._execute(
                f"UPDATE host_leases SET next_at = {now} + :rest, holder = NULL"
                " WHERE host = :host AND holder = :holder",
                host=host,
                holder=held,
                rest=rest,
            )
            return max(rest, _MIN_WAIT)
        wait = max(turn, rests, _MIN_WAIT)
        return min(wait, HELD_POLL) if held is not None else wait

    def free_in(self, host: str) -> float:
        """Seconds until ``host``'s turn may be taken, as known now (without taking it):
        0.0 when it is free; ``inf`` while another holds it (its holder hands it back
        when its response is in, and the host then rests). A turn held by a process of
        this machine that is gone counts as free but for the host's rest: the next
        :meth:`take` hands it back, not its hold's end."""
        turn, rests, held = self._state(host)
        if held is not None and _gone(held):
            return max(rests, 0.0)
        if held is not None and turn > 0:
            return float("inf")
        return max(turn, rests, 0.0)

    def _state(self, host: str) -> tuple[float, float, str | None]:
        """Seconds until ``host``'s turn is free by its ``next_at`` and by its rest
        (``rest_until``), and who holds it."""
        turn, rests, held = self._execute(
            f"SELECT next_at - {self._now}, rest_until - {self._now}, holder"
            " FROM host_leases WHERE host = :host",
            host=host,
            row=True,
        ) or (0.0, 0.0, None)
        return float(turn), float(rests), held

    def release(self, host: str, holder: str, rest: float) -> None:
        """Hand ``host``'s turn back: no one gets it for ``rest`` seconds from now.
        A turn held past its ``hold`` (and taken since by another) is left alone."""
        self._execute(
            f"UPDATE host_leases SET next_at = {self._now} + :rest, holder = NULL"
            " WHERE host = :host AND holder = :holder",
            host=host,
            holder=self._named(holder),
            rest=rest,
        )

    @staticmethod
    def _named(holder: str) -> str:
        """A holder's name in the table: this machine and process, then its own."""
        return f"{socket.gethostname()}/{os.getpid()}/{holder}"

    def defer(self, host: str, rest: float) -> None:
        """Make ``host`` rest at least ``rest`` seconds from now (a backoff, a
        Crawl-delay just read), whoever holds its turn or takes it next."""
        now = self._now
        self._execute(
            f"UPDATE host_leases SET rest_until = {now} + :rest"
            f" WHERE host = :host AND rest_until < {now} + :rest",
            host=host,
            rest=rest,
        )

    def __enter__(self) -> HostLeases:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._engine.dispose()

    def _execute(self, sql: str, *, row: bool = False, **named):
        """Run one statement: its first row (``row``), or how many rows it changed."""
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._engine.connect()
                    if not is_sqlite(self.url):
                        # A turn need not survive a crash of the database (nor does the
                        # request it spaces): no wait for the WAL's flush at each commit.
                        self._conn.exec_driver_sql("SET synchronous_commit = off")
                result = self._conn.execute(sa.text(sql), named)
                return result.first() if row else result.rowcount
            except sa.exc.DBAPIError as exc:
                if self._conn is not None:
                    self._conn.invalidate()
                    self._conn = None
                raise connection_error(self.url, exc) from None


def _gone(holder: str) -> bool:
    """Whether a holder named by :meth:`HostLeases._named` is a process of this machine
    that no longer runs (of another machine: not known, its hold runs out)."""
    machine, _, rest = holder.partition("/")
    pid, _, _ = rest.partition("/")
    if machine != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # another user's process: running
    return False
