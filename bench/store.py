"""The archive on one machine and on engines: SQLite + a WARC folder against PostgreSQL +
an S3-compatible bucket (SeaweedFS), in the same run.

Run: ``.venv/bin/python -m bench.store [--count N] [--size BYTES] [--repeat R]``. It needs
the PostgreSQL server at 127.0.0.1:5432 (user postgres, trust) that the tests use, and
starts a SeaweedFS of its own. It prints

- captures/s of ``Store.save_capture`` (WARC append + fsync + catalog commit), timed from
  the first capture to the store's close, so the bucket's uploads (at each rotation and
  at the close) are counted, and the time opening the store took apart; beside them the
  floor any durable store pays, a bare append of the same bytes with one fsync per
  record; mixed configurations tell which engine a difference comes from;
- the latency of the catalog queries behind a quote page and a speaker page, on the demo
  world archived into each configuration (the same captures, quotes and speakers).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.catalog import Catalog
from archive.ids import normalize_quote_text
from archive.store import Paths, Store, init_archive
from archive.warc import HttpExchange, iter_warc_files
from tests.catalogs import postgres_database
from tests.seaweedfs import SeaweedFS

ONRECORD = Path(sys.executable).parent / "onrecord"


def plain_page(n: int, size: int) -> bytes:
    body = (b"<p>The canvass of every precinct is complete and certified.</p>\n" * 64)[:size]
    return body + str(n).encode()


def exchanges(
    count: int, size: int, page: Callable[[int, int], bytes] = plain_page
) -> list[HttpExchange]:
    """``count`` captures of distinct pages a second apart, each ``page(n, size)``."""
    start = datetime(2026, 11, 3, tzinfo=UTC)
    return [
        HttpExchange(
            url=f"https://elections.example.gov/news/{n}",
            fetched_at=start + timedelta(seconds=n),
            status=200,
            reason="OK",
            headers=(("Content-Type", "text/html; charset=utf-8"),),
            payload=page(n, size),
            request_headers=(("User-Agent", "onrecord-bench"),),
        )
        for n in range(count)
    ]


def new_archive(root: Path, settings: str = "") -> Path:
    """An archive with these settings (written first: they say where the catalog is)."""
    root.mkdir(parents=True)
    (root / "onrecord.toml").write_text(f"[onrecord]\n{settings}", encoding="utf-8")
    init_archive(root)
    return root


def bench_store(
    root: Path, items: list[HttpExchange], *, max_warc_size: int
) -> tuple[float, float]:
    """Captures/s from the first save to the store's close (the uploads at rotation and
    at the close included), and the seconds opening the store took (for a bucket, making
    the S3 client and checking the bucket)."""
    began = time.perf_counter()
    store = Store.open(root, max_warc_size=max_warc_size)
    opened = time.perf_counter()
    with store:
        for item in items:
            store.save_capture(item)
    return len(items) / (time.perf_counter() - opened), opened - began


def bench_fsync_append(path: Path, items: list[HttpExchange]) -> float:
    began = time.perf_counter()
    with open(path, "ab") as handle:
        for item in items:
            handle.write(item.payload)
            handle.flush()
            os.fsync(handle.fileno())
    return len(items) / (time.perf_counter() - began)


def quote_page_queries(catalog: Catalog, quote_id: str) -> None:
    """What the quote page asks the catalog (web/quotes.py), the index's part aside."""
    resolved = catalog.resolve_quote_id(quote_id)
    quote = catalog.quote(resolved)
    extraction = catalog.extraction(quote.extraction_id)
    version = catalog.version(extraction.version_id)
    capture = catalog.capture(version.capture_id)
    catalog.document(quote.document_id)
    found = catalog.appearances(normalize_quote_text(quote.text))
    catalog.document_summaries(q.document_id for q, _ in found)
    catalog.log_position(capture.id)


def speaker_page_queries(catalog: Catalog, speaker_id: str) -> None:
    """What the speaker page asks the catalog (web/speakers.py)."""
    catalog.speaker(speaker_id)
    quotes = catalog.quotes_by_speaker(speaker_id)
    catalog.document_summaries(q.document_id for q in quotes)


def latencies(root: Path, repeat: int) -> dict[str, list[float]]:
    """Milliseconds per page's queries, every quote and speaker ``repeat`` times."""
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        quotes = sorted(q.id for q in catalog.current_quotes())
        speakers = sorted({q.speaker_id for q in catalog.current_quotes() if q.speaker_id})
        timed: dict[str, list[float]] = {"quote page": [], "speaker page": []}
        for _ in range(repeat):
            for quote_id in quotes:
                began = time.perf_counter()
                quote_page_queries(catalog, quote_id)
                timed["quote page"].append((time.perf_counter() - began) * 1000)
            for speaker_id in speakers:
                began = time.perf_counter()
                speaker_page_queries(catalog, speaker_id)
                timed["speaker page"].append((time.perf_counter() - began) * 1000)
    return timed


def onrecord(*args: str) -> None:
    subprocess.run([str(ONRECORD), *args], check=True, capture_output=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


EMBEDDED, ENGINES = "SQLite + folder", "PostgreSQL + SeaweedFS"
# The mixed ones tell which engine the difference comes from (captures/s only).
MIXED = ("PostgreSQL + folder", "SQLite + SeaweedFS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=20, help="rounds of page queries")
    args = parser.parse_args()
    items = exchanges(args.count, args.size)
    # A new WARC file every quarter of the run: uploads at rotation are in the figure.
    max_warc_size = max(args.count * args.size // 4, 100_000)
    rates: dict[str, tuple[float, float]] = {}
    pages: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        folder = Path(scratch)
        weed = stack.enter_context(SeaweedFS(folder / "seaweedfs"))

        def fresh(label: str) -> str:
            """Settings of a new archive: the defaults, or a database or place of its own."""
            lines = ""
            if label.startswith("PostgreSQL"):
                lines += f'catalog = "{stack.enter_context(postgres_database())}"\n'
            if label.endswith("SeaweedFS"):
                lines += weed.settings(weed.new_place())
            return lines

        floor = bench_fsync_append(folder / "plain.bin", items)
        demo = folder / "demo"
        onrecord("demo", "--build-only", str(demo))
        warcs = [str(demo / "warcs" / name) for name in iter_warc_files(demo / "warcs")]
        for n, label in enumerate((EMBEDDED, ENGINES)):
            root = new_archive(folder / f"store-{n}", fresh(label))
            rates[label] = bench_store(root, items, max_warc_size=max_warc_size)
            world = demo
            if label != EMBEDDED:  # the same demo world, archived into the engines
                world = new_archive(folder / f"demo-{n}", fresh(label))
                onrecord("import", *warcs, "--archive", str(world))
            pages[label] = latencies(world, args.repeat)
        for n, label in enumerate(MIXED, start=2):
            root = new_archive(folder / f"store-{n}", fresh(label))
            rates[label] = bench_store(root, items, max_warc_size=max_warc_size)
    print(f"{'captures':<44} {'captures/s':>12} {'open, s':>8}")
    for label, (rate, opening) in rates.items():
        print(f"{'Store.save_capture, ' + label:<44} {rate:>12.0f} {opening:>8.2f}")
    print(f"{'baseline: append + fsync only':<44} {floor:>12.0f}")
    print(f"({args.count} captures of {args.size} bytes; a new WARC file every {max_warc_size})")
    print()
    print(f"{'catalog queries of the demo world, ms':<44} {'median':>8} {'p95':>8} {'n':>6}")
    for label, timed in pages.items():
        for page, values in timed.items():
            median, p95 = statistics.median(values), percentile(values, 0.95)
            print(f"{page + ', ' + label:<44} {median:>8.2f} {p95:>8.2f} {len(values):>6}")


if __name__ == "__main__":
    main()
