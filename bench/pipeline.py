"""End-to-end pipeline throughput: fetch -> store -> extract -> quotes -> index.

Serves the article-extraction benchmark pages (``../shared/eval/article-extraction``)
from a loopback server, scrapes them as one source with the politeness delay at zero (so
CPU cost, not the network, is measured), indexes the result, and prints pages/s. A second
run under cProfile gives the share of time in each stage. The baseline in the same run is
the fetch alone (the same pages through the same polite HTTP layer, nothing stored).

Run: ``.venv/bin/python -m bench.pipeline [--pages N]``
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import pstats
import sys
import tempfile
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from archive.store import Store, init_archive
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from scrapers.sources import Discovery, Schedule, Source
from web import indexing

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


def run(root: Path, source: Source) -> int:
    init_archive(root)
    with Store.open(root) as store, PoliteSession(HttpConfig(allow_private=True, delay=0)) as s:
        outcome = Pipeline(store, s).scrape(source)
        indexing.catch_up(store.paths, store.catalog)
    return len(outcome.captures)


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
    )
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        captured = run(Path(folder) / "plain", source)
        rate = captured / (time.perf_counter() - began)
        profile = cProfile.Profile()
        profile.enable()
        run(Path(folder) / "profiled", source)
        profile.disable()
    baseline = fetch_only(urls)
    server.shutdown()
    print(f"{'what':<44} {'pages/s':>8}")
    print(f"{'onrecord pipeline, end to end (1 process)':<44} {rate:>8.1f}")
    print(f"{'baseline: polite fetch only':<44} {baseline:>8.1f}")
    print(
        f"({captured} pages, average {sum(map(len, pages.values())) / len(pages) / 1024:.0f} KiB)"
    )
    print("share of pipeline time (cProfile, cumulative):")
    for stage, share in stage_shares(profile).items():
        print(f"  {stage:<12} {share:>6.1%}")


if __name__ == "__main__":
    sys.exit(main())
