"""What politeness across processes costs one process alone: fetches per second from one
loopback host (no delay) through a `PoliteSession` without a lease (the baseline, turns
kept in the process) and with the catalog's host leases on SQLite and on PostgreSQL
(two statements per request: take the turn, hand it back), in the same run.

Run: ``.venv/bin/python -m bench.politeness [--requests N]`` (PostgreSQL at
127.0.0.1:5432, user postgres, as the tests use; skipped when none answers).
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import sqlalchemy as sa

from archive.catalog import Catalog
from archive.catalog.leases import HostLeases
from scrapers.http import HttpConfig, PoliteSession

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
BODY = b"<html><body><p>A short notice.</p></body></html>"


class _Page(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers and body wait on a delayed ACK (40 ms)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args) -> None:
        pass


def _rate(url: str, requests: int, lease: HostLeases | None) -> float:
    config = HttpConfig(allow_private=True, delay=0.0, obey_robots=False)
    with PoliteSession(config, lease=lease) as session:
        session.fetch(url)  # connection made, turn row created
        started = time.perf_counter()
        for _ in range(requests):
            session.fetch(url)
        return requests / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/notice"
    rows = [("no lease (baseline: turns within the process)", _rate(url, args.requests, None))]
    with tempfile.TemporaryDirectory() as folder:
        catalog = Path(folder) / "catalog.sqlite"
        Catalog.open(catalog, create=True).close()
        with HostLeases(catalog) as lease:
            rows.append(("lease in an SQLite catalog", _rate(url, args.requests, lease)))
    name = f"onrecord_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError:
        print("(no PostgreSQL at 127.0.0.1:5432: its row is left out)")
    else:
        try:
            target = f"postgresql://postgres@127.0.0.1:5432/{name}"
            Catalog.open(target, create=True).close()
            with HostLeases(target) as lease:
                rows.append(("lease in a PostgreSQL catalog", _rate(url, args.requests, lease)))
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()
    server.shutdown()
    baseline = rows[0][1]
    print(f"{args.requests} fetches of one small page from one loopback host, no delay")
    print(f"{'':48} {'fetches/s':>10} {'ms/fetch':>9} {'added ms':>9}")
    for label, rate in rows:
        added = 1000 / rate - 1000 / baseline
        print(f"{label:48} {rate:10.0f} {1000 / rate:9.2f} {added:9.2f}")


if __name__ == "__main__":
    main()
