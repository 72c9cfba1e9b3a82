"""Records per second of ``onrecord verify``'s WARC-and-catalog check, and the round trip
of a small archive through a WACZ (export, then import into a fresh archive with
extraction, quotes and indexing).

Run: ``.venv/bin/python -m bench.verify [--count N] [--size BYTES]``. The baseline in the
same run is a bare read of the same WARC files with a sha256 over every byte, the floor
any check that reads everything pays.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

from archive.catalog import Catalog
from archive.store import Paths, Store, init_archive
from archive.verify import Verifier
from archive.wacz import export_wacz, import_file
from bench.store import exchanges
from web import indexing
from web.work import Work


def page(n: int, size: int) -> bytes:
    said = f"<p>“The count for precinct {n} is complete,” said Dana Whitfield, the director.</p>"
    filler = "<p>The canvass of every precinct is complete and certified.</p>\n" * (size // 64)
    head = f"<html><head><title>Notice {n}</title></head>"
    return (
        f"{head}<body><article><h1>Notice {n}</h1>{said}{filler}</article></body></html>".encode()
    )


def build(root: Path, count: int, size: int) -> None:
    init_archive(root)
    with Store.open(root) as store:
        for exchange in exchanges(count, size, page):
            store.save_capture(exchange)
        Work(store).process_pending()
        index(store)


def index(store: Store) -> None:
    indexing.rebuild(store.paths, store.catalog)


def bare_read(paths: Paths) -> float:
    began = time.perf_counter()
    for path in sorted(paths.warcs.iterdir()):
        hashlib.sha256(path.read_bytes()).hexdigest()
    return time.perf_counter() - began


def verify(paths: Paths) -> tuple[float, int, int]:
    began = time.perf_counter()
    with Catalog.open(paths.catalog) as catalog:
        found = Verifier(paths, catalog).run()
    return time.perf_counter() - began, found.records, len(found.problems)


def round_trip(paths: Paths, scratch: Path) -> tuple[float, float]:
    package = scratch / "move.wacz"
    began = time.perf_counter()
    with Catalog.open(paths.catalog) as catalog:
        export_wacz(paths, catalog, package)
    exported = time.perf_counter() - began
    target = scratch / "moved"
    init_archive(target)
    with Store.open(target) as store:
        import_file(store, package)
        Work(store).process_pending()
        index(store)
    return exported, time.perf_counter() - began - exported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="captures in the archive")
    parser.add_argument("--size", type=int, default=8_000, help="bytes of each page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="onrecord-bench-") as scratch:
        root = Path(scratch) / "archive"
        build(root, args.count, args.size)
        paths = Paths(root)
        floor = bare_read(paths)
        seconds, records, problems = verify(paths)
        exported, imported = round_trip(paths, Path(scratch))
    print(f"verify: {records} records in {seconds:.3f} s = {records / seconds:,.0f} records/s")
    print(f"  baseline (read + sha256 of the same files): {floor * 1000:.1f} ms")
    print(f"  problems found: {problems}")
    print(
        f"round trip of {args.count} captures: export {exported:.2f} s, "
        f"import + extract + quotes + index {imported:.2f} s"
    )


if __name__ == "__main__":
    main()
