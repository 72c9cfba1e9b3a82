"""Throughput and latency of the web front end, served as in production.

Run: ``.venv/bin/python -m bench.web [--archive DIR] [--seconds 30] [--threads 4]`` (as a
module: run as a script, this file would shadow the ``web`` package).
Without ``--archive`` the demo archive is built (as ``onrecord demo`` does).
``onrecord serve`` runs in a subprocess; this process loads pages over loopback from
worker threads with ``http.client``. The baseline, measured in the same run against the
same server, is the stylesheet: what waitress, Flask and the security headers cost alone.
Targets: >= 300 quote pages/s and p95 < 50 ms.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from archive.catalog import Catalog
from archive.store import Paths
from web import links
from web.demo import DemoSite, build_demo

ONRECORD = Path(sys.executable).parent / "onrecord"
QUERIES = ('"every count"', "ballot", "speaker:whitfield", "kind:statement audit", "recount")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, ok: bool) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.errors += not ok


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("onrecord serve did not start")


def worker(port: int, paths: list[str], until: float, tally: Tally, offset: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    index = offset
    while time.monotonic() < until:
        path = paths[index % len(paths)]
        index += 1
        started = time.perf_counter()
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        tally.add(time.perf_counter() - started, ok)
    connection.close()


def load(port: int, paths: list[str], seconds: float, threads: int) -> Tally:
    tally = Tally()
    until = time.monotonic() + seconds
    workers = [
        threading.Thread(target=worker, args=(port, paths, until, tally, n)) for n in range(threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return tally


def report(name: str, tally: Tally, seconds: float) -> None:
    ordered = sorted(tally.latencies)
    p95 = ordered[int(len(ordered) * 0.95)] * 1000 if ordered else float("nan")
    print(
        f"{name:<12} {len(ordered) / seconds:8.1f} req/s   p95 {p95:6.1f} ms   "
        f"errors {tally.errors}"
    )


def quote_paths(root: Path) -> list[str]:
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        return sorted({links.quote_path(q.id) for q in catalog.current_quotes()})


def build_archive(folder: Path) -> Path:
    """The demo archive, as ``onrecord demo`` builds it."""
    root = folder / "archive"
    with DemoSite() as site:
        build_demo(root, site, echo=quiet)
    return root


def quiet(_line: str) -> None:
    """The demo's progress lines are not the benchmark's figures."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archive", type=Path, help="archive to serve (default: build one)")
    parser.add_argument("--seconds", type=float, default=30.0, help="per page family")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = options.archive or build_archive(Path(scratch))
        quotes = quote_paths(root)
        searches = [links.search_path(q) for q in QUERIES]
        port = free_port()
        server = subprocess.Popen(
            [str(ONRECORD), "serve", "--archive", str(root), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "ONRECORD_ADMIN_TOKEN": ""},
        )
        try:
            wait_until_up(port, time.monotonic() + 30)
            load(port, quotes[:1] + searches[:1], 1.0, 1)  # warm: templates, searcher
            share = options.seconds
            print(f"{len(quotes)} quotes, {options.threads} client threads, {share:.0f} s each")
            report(
                "baseline css", load(port, ["/static/onrecord.css"], share, options.threads), share
            )
            report("quote pages", load(port, quotes, share, options.threads), share)
            report("search pages", load(port, searches, share, options.threads), share)
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
