"""End-to-end pipeline throughput: fetch -> store -> extract -> quotes -> index.

Serves the article-extraction benchmark pages (``../shared/eval/article-extraction``)
from a loopback server, scrapes them as one source with the politeness delay at zero (so
CPU cost, not the network, is measured), indexes the result, and prints pages/s. A second
run under cProfile gives the share of time in each stage. The baseline in the same run is
the fetch alone (the same pages through the same polite HTTP layer, nothing stored).

Then the same source through the task queue: a PostgreSQL catalog, a Redis broker of the
benchmark's own (``redis-server``) and 1, 2 and 4 ``onrecord worker`` processes, timed
from the scheduler queueing the run to the run's last page, beside the in-process
pipeline on the same catalog; pages/s per core divides by the workers that had a core.
Last, a site of four hosts with a 0.5 s delay each, archived by four workers, beside the
ideal time (pages per host x delay: the hosts are fetched in parallel, each politely).

Run: ``.venv/bin/python -m bench.pipeline [--pages N] [--no-workers]``
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from archive.catalog import Catalog
from archive.store import Paths, Store, init_archive
from scrapers.http import HttpConfig, PoliteSession
from scrapers.sources import Discovery, Schedule, Source
from tests.catalogs import postgres_database, write_settings
from tests.redisserver import RedisServer
from web.work import Work

ONRECORD = Path(sys.executable).parent / "onrecord"

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PAGES = SHARED / "eval" / "article-extraction" / "html"
STAGES = {
    "fetch": ("scrapers/http.py", "fetch"),
    "store": ("archive/store.py", "save_capture"),
    "extraction": ("scrapers/extract.py", "extract"),
    "quotes": ("scrapers/quotes.py", "find_quotes"),
    "indexing": ("web/indexing.py", "catch_up"),
}


def serve(pages: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args) -> None:
            """Quiet: the benchmark prints its own figures."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(root: Path, source: Source, catalog: str = "") -> int:
    """The source scraped in this process, with the composition the commands use."""
    root.mkdir(parents=True)
    write_settings(root, catalog)
    init_archive(root)
    with Store.open(root) as store, Work(store) as work:
        outcome = work.scrape(source)
    return len(outcome.captures)


def source_file(name: str, urls: list[str], delay: float) -> str:
    starts = ", ".join(f'"{url}"' for url in urls)
    return (
        f'[[source]]\nname = "{name}"\npublisher = "Bench"\nkind = "news"\n'
        f'start_urls = [{starts}]\ndiscovery = {{ type = "none" }}\n'
        f'schedule = {{ every = "6h" }}\ndelay = {delay}\nmax_pages = {len(urls)}\n'
    )


def through_workers(
    folder: Path, broker: str, sources: dict[str, list[str]], workers: int, delay: float
) -> float:
    """Seconds from queueing the sources' runs to their last pages, with ``workers``
    worker processes (started, and ready, before the runs are queued)."""
    with postgres_database() as catalog_url:
        root = folder / f"workers-{workers}-{time.monotonic_ns()}"
        root.mkdir()
        write_settings(
            root,
            catalog_url,
            broker=f'"{broker}"',
            broker_namespace=f'"bench-{root.name}"',
        )
        init_archive(root)
        for name, urls in sources.items():
            (root / "sources" / f"{name}.toml").write_text(source_file(name, urls, delay))
        logs = [root.parent / f"{root.name}-{n}.log" for n in range(workers)]
        processes = []
        for log in logs:
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [str(ONRECORD), "worker", "--archive", str(root)],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=os.environ.copy(),
                    )
                )
        try:
            while not all("worker taking jobs" in log.read_text() for log in logs):
                time.sleep(0.05)
            began = time.perf_counter()
            subprocess.run(
                [str(ONRECORD), "schedule", "--once", "--archive", str(root)],
                check=True,
                capture_output=True,
            )
            while not runs_finished(root, list(sources)):
                time.sleep(0.05)
            return time.perf_counter() - began
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait()


def runs_finished(root: Path, names: list[str]) -> bool:
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        runs = [catalog.last_run(name) for name in names]
    return all(run is not None and run.finished_at is not None for run in runs)


def fetch_only(urls: list[str]) -> float:
    began = time.perf_counter()
    with PoliteSession(HttpConfig(allow_private=True, delay=0)) as session:
        for url in urls:
            session.fetch(url)
    return len(urls) / (time.perf_counter() - began)


def stage_shares(profile: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profile)
    total = max(v[3] for v in stats.stats.values())
    shares = {}
    for stage, (path, name) in STAGES.items():
        cumulative = sum(
            value[3]
            for (file, _, function), value in stats.stats.items()
            if file.endswith(path) and function == name
        )
        shares[stage] = cumulative / total
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=91)
    parser.add_argument("--no-workers", action="store_true", help="Only the in-process part.")
    args = parser.parse_args()
    if not PAGES.is_dir():
        print(f"no benchmark pages at {PAGES}: nothing to measure")
        return
    files = sorted(PAGES.glob("*.html.gz"))[: args.pages]
    pages = {f"/p/{n}": gzip.decompress(f.read_bytes()) for n, f in enumerate(files)}
    server = serve(pages)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    urls = [origin + path for path in pages]
    source = Source(
        name="bench",
        publisher="Bench",
        kind="news",
        start_urls=tuple(urls),
        discovery=Discovery("none"),
        schedule=Schedule(every=timedelta(hours=1)),
        max_pages=len(urls),
        delay=0.0,
    )
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        began = time.perf_counter()
        captured = run(folder / "plain", source)
        rate = captured / (time.perf_counter() - began)
        rows.append(("in-process pipeline, SQLite", rate, rate))
        profile = cProfile.Profile()
        profile.enable()
        run(folder / "profiled", source)
        profile.disable()
        if not args.no_workers:
            with postgres_database() as catalog_url:
                began = time.perf_counter()
                run(folder / "in-process-pg", source, catalog_url)
                pg_rate = captured / (time.perf_counter() - began)
            rows.append(("in-process pipeline, PostgreSQL", pg_rate, pg_rate))
            with RedisServer(folder / "redis") as redis:
                for workers in (1, 2, 4):
                    seconds = through_workers(folder, redis.url, {"bench": urls}, workers, 0.0)
                    per_second = captured / seconds
                    cores = min(workers, os.cpu_count() or 1)
                    rows.append(
                        (f"{workers} workers, PostgreSQL + Redis", per_second, per_second / cores)
                    )
                polite = four_hosts(folder, redis.url)
    baseline = fetch_only(urls)
    server.shutdown()
    print(f"{'what':<44} {'pages/s':>8} {'per core':>9}")
    for label, per_second, per_core in rows:
        print(f"{label:<44} {per_second:>8.1f} {per_core:>9.1f}")
    print(f"{'baseline: polite fetch only':<44} {baseline:>8.1f}")
    print(
        f"({captured} pages, average {sum(map(len, pages.values())) / len(pages) / 1024:.0f} KiB,"
        f" {os.cpu_count()} cores)"
    )
    print("share of in-process pipeline time (cProfile, cumulative):")
    for stage, share in stage_shares(profile).items():
        print(f"  {stage:<12} {share:>6.1%}")
    if not args.no_workers:
        seconds, ideal, hosts, per_host = polite
        print(
            f"{hosts} hosts x {per_host} pages, {POLITE_DELAY} s delay, 4 workers: "
            f"{seconds:.1f} s (ideal, pages per host x delay: {ideal:.1f} s)"
        )


POLITE_DELAY = 0.5


def four_hosts(folder: Path, broker: str, per_host: int = 20) -> tuple[float, float, int, int]:
    """Archive a site of four hosts (each its own port) with a 0.5 s delay: seconds taken
    with four workers, beside the ideal."""
    page = pages_of_four_hosts(per_host)
    servers = [serve(page) for _ in range(4)]
    try:
        sources = {
            f"host-{n}": [
                f"http://127.0.0.1:{server.server_address[1]}{path}" for path in sorted(page)
            ]
            for n, server in enumerate(servers)
        }
        seconds = through_workers(folder, broker, sources, 4, POLITE_DELAY)
    finally:
        for server in servers:
            server.shutdown()
    return seconds, per_host * POLITE_DELAY, len(servers), per_host


def pages_of_four_hosts(count: int) -> dict[str, bytes]:
    """Small statement pages with one quote each (what the politeness part fetches)."""
    return {
        f"/s/{n}": (
            f"<!doctype html><html><head><title>Statement {n}</title></head><body><article>"
            f"<h1>Statement {n}</h1><p>The board met on Monday to review item {n}.</p>"
            f"<p>“Item {n} is approved and takes effect at once,” said Chair Ines Porter."
            "</p></article></body></html>"
        ).encode()
        for n in range(count)
    }


if __name__ == "__main__":
    sys.exit(main())
