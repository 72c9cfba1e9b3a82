"""Quote-check benchmark: /check's verdicts on the search benchmark's corpus, and the
time to export 100,000 search results.

Run from the repository root:

    .venv/bin/python -m bench.check                    # 100,000 documents
    .venv/bin/python -m bench.check --size 10000
    .venv/bin/python -m bench.check --keep /tmp/ix     # reuse bench.search's kept index

Data and index: :mod:`bench.search`'s generated corpus (PolNeAR texts beside the
repository), indexed by onrecord's indexer and opened as the web server opens it.

Measured, each beside a baseline from the same run:

- check latency (median, p95; wall and CPU time, since a shared machine's load inflates
  the first) over circulated quotes made from archived ones, verbatim,
  altered (a word changed), shortened (words dropped), stitched (halves of two quotes)
  and made-up (not found), with the share given the expected verdict; baseline: one
  exact-phrase search of the same text (what a reader would otherwise type);
- export: the first 100,000 quote results written as CSV (rows made as read), against
  reading the same hits without making rows.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.search import DATA, Corpus, load_texts
from index.build import Indexer
from index.search import Searcher
from web import links
from web.check import HITS_PER_WINDOW, check, words_of
from web.exports import ArchivedCopy, csv_lines, row

CASES_PER_KIND = 40
EXPORT_ROWS = 100_000
EVERY_QUOTE = "kind:news OR kind:statement OR kind:blog"
MADE_UP = [
    "lantern",
    "orchard",
    "velvet",
    "quarry",
    "meridian",
    "saffron",
    "tundra",
    "cobalt",
    "harbour",
    "juniper",
    "marble",
    "thistle",
    "beacon",
    "falcon",
    "ember",
    "prairie",
    "glacier",
    "willow",
]


def cases(corpus: Corpus, seed: int = 11) -> list[tuple[str, str]]:
    """(expected verdict, circulated text) pairs made from the corpus's quotes."""
    rng = random.Random(seed)
    pool = []
    while len(pool) < 3 * CASES_PER_KIND:
        doc = corpus.document(rng.randrange(corpus.size))
        for quote in corpus.quotes(doc):
            if len(words_of(quote["text"])) >= 10:
                pool.append(quote["text"])
                break
    made = []
    for i in range(CASES_PER_KIND):
        text = pool[i]
        words = text.split()
        middle = len(words) // 2
        altered = [*words[:middle], "never", *words[middle + 1 :]]
        shortened = words[: middle - 1] + words[middle + 1 :]
        other = pool[CASES_PER_KIND + i].split()
        stitched = words[:middle] + other[len(other) // 2 :]
        made += [
            ("verbatim", text),
            ("altered", " ".join(altered)),
            ("shortened", " ".join(shortened)),
            ("stitched", " ".join(stitched)),
            ("not_found", " ".join(rng.sample(MADE_UP, 10))),
        ]
    # Shuffled: the searcher's result cache would otherwise serve an altered quote the
    # windows its verbatim original, checked just before, already searched.
    rng.shuffle(made)
    return made


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="documents in the corpus")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep/reuse the index here")
    parser.add_argument("--no-export", action="store_true", help="measure /check only")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"skipped: {DATA} is not there")
        return 0
    corpus = Corpus(load_texts(), args.size)
    with tempfile.TemporaryDirectory(prefix="onrecord-bench-") as tmp:
        path = (args.keep / f"onrecord-{args.size}") if args.keep else Path(tmp) / "index"
        if not (path / "build-seconds").is_file():
            start = time.perf_counter()
            records = Indexer(path).rebuild(corpus.documents(), corpus.all_quotes())
            build = time.perf_counter() - start
            if args.keep:
                (path / "records").write_text(str(records))
                (path / "build-seconds").write_text(f"{build:.3f}")
            print(f"built {records:,} records in {build:.0f} s", flush=True)
        searcher = Searcher(path, text_loader=corpus.text_loader, warm=True)
        searcher.search("warmup", facets=False)
        run_checks(corpus, searcher)
        if not args.no_export:
            run_export(searcher)
        searcher.close()
    return 0


def run_checks(corpus: Corpus, searcher: Searcher) -> None:
    def search(query: str):
        return searcher.search(
            query, type="quote", page_size=HITS_PER_WINDOW, facets=False, highlight=False
        )

    timings: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    right: dict[str, int] = {}
    baseline: list[float] = []
    baseline_cpu: list[float] = []
    for expected, text in cases(corpus):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = check(search, text)
        timings.setdefault(expected, []).append((time.perf_counter() - start) * 1000)
        cpu.setdefault(expected, []).append((time.process_time() - start_cpu) * 1000)
        right[expected] = right.get(expected, 0) + (result.verdict == expected)
        phrase = '"' + " ".join(words_of(text)).replace('"', " ") + '"'
        start, start_cpu = time.perf_counter(), time.process_time()
        searcher.search(phrase, type="quote", facets=False, highlight=False)
        baseline.append((time.perf_counter() - start) * 1000)
        baseline_cpu.append((time.process_time() - start_cpu) * 1000)
    every = [t for values in timings.values() for t in values]
    every_cpu = [t for values in cpu.values() for t in values]
    load = os.getloadavg()[0]
    print(f"\n/check on {corpus.size:,} documents ({len(every)} circulated quotes)")
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs: CPU time beside wall time")
    print(
        f"{'kind':<10} {'median ms':>9} {'p95 ms':>7} {'CPU median':>10} {'CPU p95':>8}"
        f" {'expected verdict':>17}"
    )
    for kind, values in timings.items():
        share = right[kind] / len(values)
        print(
            f"{kind:<10} {statistics.median(values):>9.1f} {p95(values):>7.1f}"
            f" {statistics.median(cpu[kind]):>10.1f} {p95(cpu[kind]):>8.1f} {share:>17.0%}"
        )
    print(
        f"{'all':<10} {statistics.median(every):>9.1f} {p95(every):>7.1f}"
        f" {statistics.median(every_cpu):>10.1f} {p95(every_cpu):>8.1f}"
    )
    print(
        f"{'baseline':<10} {statistics.median(baseline):>9.1f} {p95(baseline):>7.1f}"
        f" {statistics.median(baseline_cpu):>10.1f} {p95(baseline_cpu):>8.1f}"
        "   (one exact-phrase search of the same text)"
    )


def run_export(searcher: Searcher) -> None:
    start = time.perf_counter()
    hits = sum(
        1 for _ in islice(searcher.every_hit(EVERY_QUOTE, type="quote", sort="date"), EXPORT_ROWS)
    )
    read = time.perf_counter() - start
    sink = io.StringIO()
    start = time.perf_counter()
    # The corpus has no catalog to ask for each quote's capture (``exports.rows_of``), so
    # each row is given the capture the index names: every row has its link and citation.
    rows = (
        row(h, copy=ArchivedCopy(links.capture_path(h.url, h.captured), h.captured))
        for h in islice(searcher.every_hit(EVERY_QUOTE, type="quote", sort="date"), EXPORT_ROWS)
    )
    written = 0
    for line in csv_lines(rows):
        sink.write(line)
        written += 1
        if sink.tell() > 1 << 24:
            sink.seek(0)
            sink.truncate()
    export = time.perf_counter() - start
    rate = (written - 1) / export
    print(f"\nexport of {written - 1:,} rows as CSV: {export:.1f} s ({rate:,.0f} rows/s)")
    print(f"baseline: reading the same {hits:,} hits without making rows: {read:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
