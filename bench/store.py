"""Capture rate of ``Store.save_capture``: WARC append + fsync + catalog commit.

Run: ``.venv/bin/python -m bench.store [--count N] [--size BYTES]``. The baseline in the
same run is a bare append of the same bytes to a file with one fsync per record, the
floor any durable store pays, so the figure shows what the catalog and WARC framing add.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.store import Store, init_archive
from archive.warc import HttpExchange


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


def bench_store(root: Path, items: list[HttpExchange]) -> float:
    init_archive(root)
    with Store.open(root) as store:
        began = time.perf_counter()
        for item in items:
            store.save_capture(item)
        return len(items) / (time.perf_counter() - began)


def bench_fsync_append(path: Path, items: list[HttpExchange]) -> float:
    began = time.perf_counter()
    with open(path, "ab") as handle:
        for item in items:
            handle.write(item.payload)
            handle.flush()
            os.fsync(handle.fileno())
    return len(items) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--size", type=int, default=4096)
    args = parser.parse_args()
    items = exchanges(args.count, args.size)
    with tempfile.TemporaryDirectory() as folder:
        rate = bench_store(Path(folder) / "archive", items)
        floor = bench_fsync_append(Path(folder) / "plain.bin", items)
    print(f"{'what':<36} {'captures/s':>12}")
    print(f"{'Store.save_capture (WARC+catalog)':<36} {rate:>12.0f}")
    print(f"{'baseline: append + fsync only':<36} {floor:>12.0f}")
    print(f"({args.count} captures of {args.size} bytes)")


if __name__ == "__main__":
    main()
