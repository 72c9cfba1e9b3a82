"""Search benchmark: onrecord on each engine against SQLite FTS5 and plain tantivy on the
same records and queries.

Run from the repository root:

    .venv/bin/python -m bench.search                      # 10,000 and 100,000 documents
    .venv/bin/python -m bench.search --quick              # 2,000 documents
    .venv/bin/python -m bench.search --sizes 1000000 --engines tantivy,fts5,tantivy-raw
    .venv/bin/python -m bench.search --keep /tmp/ix --engines whoosh  # reuse builds

Data: the PolNeAR texts in ``../shared/eval/polnear/{train,dev}/text/`` beside the
repository. Each generated document is a copy of one text with its paragraphs shuffled and
its own id, publisher, kind and dates; quote records come from the quoted spans of its
text, each with a speaker drawn from a made-up pool. Bodies are regenerated on demand (the
text loader), as the catalog would return them.

Engines: ``whoosh`` and ``tantivy`` are onrecord's own search (`index.search.Searcher`)
on each engine; ``fts5`` is SQLite FTS5 with a metadata table; ``tantivy-raw`` is tantivy
used directly, as anyone would without onrecord (its English stemming tokenizer, its query
parser, its snippet generator), the ceiling for the tantivy engine.

Measured: build rate (documents per second, their quotes included; 2 processes or threads
for onrecord), index size on disk, the time to open the index and answer a first search,
and query latency (median, p95) over a fixed mix of single words, two-word ANDs, exact
phrases, phrases with a field filter and word plus month filters. Every engine does the
same work for each query: the first page of 20 with highlights, the total, and the
speaker, publisher, kind and month facets over all results. Totals: FTS5 and the tantivy
engines count every match; onrecord on Whoosh estimates big ones from a sample, and its
answer says so (``total_is_exact``); the share of estimated totals is printed beside it.
Quote-only searches are reported separately.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.build import Indexer
from index.search import Searcher
from index.text import STOP_WORDS

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "polnear"
QUOTED = re.compile(r"[\"“]([^\"“”\n]{20,400})[\"”]")
WORD = re.compile(r"[A-Za-z]{5,}")
PUBLISHERS = [
    f"{a} {b}"
    for a in ("Daily", "Evening", "Capital", "National")
    for b in ("Ledger", "Courier", "Tribune", "Observer", "Herald", "Sentinel", "Gazette", "Post")
]
KINDS = ("statement", "news", "news", "news", "blog")
FIRST = (
    "Ada",
    "Bram",
    "Cleo",
    "Dario",
    "Edith",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kaia",
    "Lev",
    "Mira",
    "Nils",
    "Olga",
    "Pavel",
    "Quinn",
    "Rosa",
    "Sven",
    "Tess",
)
LAST = (
    "Abara",
    "Berg",
    "Castell",
    "Dunmore",
    "Eklund",
    "Fabre",
    "Gaddis",
    "Holm",
    "Ibsen",
    "Jarvis",
    "Kowal",
    "Lund",
    "Moreau",
    "Novak",
    "Okafor",
    "Pires",
    "Quist",
    "Roth",
    "Sato",
    "Tamm",
    "Ueda",
    "Varga",
    "Weiss",
    "Yilmaz",
    "Zorn",
)
EPOCH = datetime(2015, 1, 1, tzinfo=UTC)
QUERIES_PER_KIND = 30


@dataclass(frozen=True)
class Corpus:
    """Deterministic records generated from the source texts."""

    texts: list[list[str]]  # paragraphs of each source text
    size: int

    def body(self, n: int) -> str:
        paragraphs = list(self.texts[n % len(self.texts)])
        random.Random(n).shuffle(paragraphs)
        return "\n\n".join(paragraphs)

    def document(self, n: int) -> dict:
        rng = random.Random(-n - 1)
        published = EPOCH + timedelta(minutes=rng.randrange(3 * 365 * 24 * 60))
        publisher = PUBLISHERS[rng.randrange(len(PUBLISHERS))]
        domain = publisher.lower().replace(" ", "") + ".example"
        return {
            "id": f"d-{n:08d}",
            "url": f"https://{domain}/story/{n}",
            "title": self.texts[n % len(self.texts)][0][:120],
            "text": self.body(n),
            "publisher": publisher,
            "authors": [f"{FIRST[n % 20]} {LAST[n % 25]}"],
            "kind": KINDS[n % len(KINDS)],
            "language": "en",
            "published": published,
            "captured": published + timedelta(hours=rng.randrange(1, 72)),
            "domain": domain,
            "source": None,
        }

    def quotes(self, doc: dict) -> Iterator[dict]:
        n = int(doc["id"][2:])
        rng = random.Random(n)
        for i, found in enumerate(QUOTED.finditer(doc["text"])):
            anonymous = rng.random() < 0.1
            speaker = (
                "a senior official"
                if anonymous
                else (f"{FIRST[rng.randrange(20)]} {LAST[rng.randrange(25)]}")
            )
            yield {
                "id": f"q-{n:08d}-{i}",
                "document_id": doc["id"],
                "text": found.group(1),
                "speaker": speaker,
                "speaker_mention": speaker,
                "speaker_id": None,
                "role": "spokesperson" if i % 3 == 0 else None,
                "anonymous": anonymous,
                "cue": "said",
                "via": "Politico" if i % 7 == 0 else None,
                **{
                    k: doc[k]
                    for k in (
                        "publisher",
                        "kind",
                        "language",
                        "published",
                        "captured",
                        "domain",
                        "url",
                        "title",
                    )
                },
            }

    def documents(self) -> Iterator[dict]:
        return map(self.document, range(self.size))

    def all_quotes(self) -> Iterator[dict]:
        for doc in self.documents():
            yield from self.quotes(doc)

    def text_loader(self, document_id: str) -> str:
        return self.body(int(document_id[2:]))


@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    type: str | None = None


def query_mix(corpus: Corpus, seed: int = 7) -> list[Query]:
    """A fixed mix of queries that all come from the generated records."""
    rng = random.Random(seed)
    mix: list[Query] = []
    while len(mix) < 6 * QUERIES_PER_KIND:
        doc = corpus.document(rng.randrange(corpus.size))
        words = [w for w in WORD.findall(doc["text"]) if w.lower() not in _COMMON]
        quotes = list(corpus.quotes(doc))
        if len(words) < 2 or not quotes:
            continue
        q = rng.choice(quotes)
        quoted = re.findall(r"[A-Za-z']+", q["text"])
        spans = [quoted[i : i + 3] for i in range(max(1, len(quoted) - 2))]
        spans = [span for span in spans if any(len(w) >= 5 for w in span)]
        if not spans:
            continue
        span = rng.choice(spans)
        if all(w.lower() in STOP_WORDS for w in span if len(w) >= 5):
            continue  # "there", "these", "their": only stop words (a QueryError); the same
            # draws as before otherwise, so the mix at 10,000 and 100,000 is unchanged
        phrase = " ".join(span)
        month = doc["published"].strftime("%Y-%m")
        mix += [
            Query("word", rng.choice(words)),
            Query("two words", " ".join(rng.sample(words, 2))),
            Query("phrase", f'"{phrase}"'),
            Query("phrase+field", f'"{phrase}" speaker:"{q["speaker"]}"', "quote"),
            Query("word+month", f"{rng.choice(words)} published:{month}"),
            Query("quote word", rng.choice(words), "quote"),
        ]
    return mix


_COMMON = {"about", "after", "their", "there", "which", "would", "could", "other", "these"}


class Fts5:
    """The baseline: SQLite FTS5 (porter stemming, diacritics removed) plus a metadata table."""

    def __init__(self, path: Path, corpus: Corpus) -> None:
        self.db = sqlite3.connect(path)
        self.corpus = corpus
        self.db.executescript(
            """
            CREATE VIRTUAL TABLE fts USING fts5(
                title, body, speaker, tokenize='porter unicode61 remove_diacritics 2');
            CREATE TABLE meta(rowid INTEGER PRIMARY KEY, id TEXT, type TEXT, publisher TEXT,
                              kind TEXT, speaker TEXT, day TEXT, month TEXT);
            """
        )

    def build(self) -> None:
        rowid = 0
        with self.db:
            for doc in self.corpus.documents():
                records = [(doc, "document", doc["title"], doc["text"], "")]
                records += [
                    (q, "quote", "", q["text"], q["speaker"]) for q in self.corpus.quotes(doc)
                ]
                for record, kind, title, body, speaker in records:
                    rowid += 1
                    day = record["published"].strftime("%Y-%m-%d")
                    self.db.execute(
                        "INSERT INTO fts(rowid, title, body, speaker) VALUES (?, ?, ?, ?)",
                        (rowid, title, body, speaker),
                    )
                    self.db.execute(
                        "INSERT INTO meta VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            rowid,
                            record["id"],
                            kind,
                            record["publisher"],
                            record["kind"],
                            speaker,
                            day,
                            day[:7],
                        ),
                    )

    def search(self, query: Query) -> int:
        match, where, args = self._translate(query)
        base = f"FROM fts JOIN meta m ON m.rowid = fts.rowid WHERE fts MATCH ? {where}"
        self.db.execute(
            f"SELECT m.id, snippet(fts, 1, '<mark>', '</mark>', '…', 16) {base} "
            "ORDER BY rank LIMIT 20",
            (match, *args),
        ).fetchall()
        total = self.db.execute(f"SELECT count(*) {base}", (match, *args)).fetchone()[0]
        for column in ("speaker", "publisher", "kind", "month"):
            self.db.execute(
                f"SELECT m.{column}, count(*) {base} GROUP BY 1 ORDER BY 2 DESC LIMIT 20",
                (match, *args),
            ).fetchall()
        return total

    @staticmethod
    def _translate(query: Query) -> tuple[str, str, list[str]]:
        text, where, args = query.text, "", []
        if " published:" in text:
            text, _, month = text.partition(" published:")
            where, args = "AND m.month = ?", [month]
        if ' speaker:"' in text:
            text, _, speaker = text.partition(' speaker:"')
            text += ' AND speaker : "' + speaker.rstrip('"') + '"'
        if query.type:
            where += " AND m.type = ?"
            args.append(query.type)
        return text, where, args

    def size(self) -> int:
        return sum(p.stat().st_size for p in Path(self.db_path()).parent.glob("fts.sqlite*"))

    def db_path(self) -> str:
        return self.db.execute("PRAGMA database_list").fetchone()[2]


class RawTantivy:
    """The second baseline: tantivy used directly on the same records, with its own English
    stemming tokenizer and query parser, exact totals, four facet aggregations and its
    snippet generator (document bodies loaded as onrecord loads them, not stored)."""

    def __init__(self, path: Path, corpus: Corpus) -> None:
        import tantivy

        self.tantivy = tantivy
        self.corpus = corpus
        self.path = path
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        builder.add_text_field("type", tokenizer_name="raw")
        for name in ("title", "body", "text"):
            builder.add_text_field(name, stored=name != "body", tokenizer_name="en_stem")
        builder.add_text_field("speaker", stored=True)
        builder.add_text_field("month", tokenizer_name="raw")
        for name in ("f_speaker", "f_publisher", "f_kind", "f_month"):
            builder.add_text_field(name, fast=True, tokenizer_name="raw")
        self.schema = builder.build()
        path.mkdir(parents=True, exist_ok=True)
        self.index = tantivy.Index(self.schema, path=str(path))

    def build(self) -> None:
        writer = self.index.writer(heap_size=256_000_000, num_threads=2)
        for doc in self.corpus.documents():
            writer.add_document(self._doc(doc, "document", doc["title"], doc["text"], ""))
            for q in self.corpus.quotes(doc):
                writer.add_document(self._doc(q, "quote", "", q["text"], q["speaker"]))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()

    def _doc(self, record: dict, kind: str, title: str, text: str, speaker: str):
        month = record["published"].strftime("%Y-%m")
        fields = {
            "id": record["id"],
            "type": kind,
            "title": title,
            ("body" if kind == "document" else "text"): text,
            "speaker": speaker,
            "month": month,
            "f_publisher": record["publisher"],
            "f_kind": record["kind"],
            "f_month": month,
        }
        if speaker:
            fields["f_speaker"] = speaker
        return self.tantivy.Document(**{k: v for k, v in fields.items() if v})

    def open(self) -> None:
        self.index = self.tantivy.Index.open(str(self.path))
        self.searcher = self.index.searcher()

    def search(self, query: Query) -> int:
        tantivy = self.tantivy
        text = query.text.replace(" published:", " month:")
        parsed = self.index.parse_query(
            text, ["title", "body", "text", "speaker"], conjunction_by_default=True
        )
        if query.type:
            parsed = parsed.and_must_match(
                tantivy.Query.term_query(self.schema, "type", query.type)
            )
        found = self.searcher.search(parsed, 20, count=True)
        snippets = {
            name: tantivy.SnippetGenerator.create(self.searcher, parsed, self.schema, name)
            for name in ("body", "text")
        }
        for _, address in found.hits:
            doc = self.searcher.doc(address)
            record_id = doc["id"][0]
            if record_id.startswith("d-"):
                body = tantivy.Document(body=self.corpus.text_loader(record_id))
                snippets["body"].snippet_from_doc(body).to_html()
            else:
                snippets["text"].snippet_from_doc(doc).to_html()
        self.searcher.aggregate(
            parsed,
            {
                name: {"terms": {"field": f"f_{name}", "size": 20}}
                for name in ("speaker", "publisher", "kind", "month")
            },
        )
        return found.count

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())


@dataclass(frozen=True)
class Figures:
    build_rate: float
    records: int
    size_mb: float
    open_s: float  # from opening the index to the first search answered
    median_ms: float
    p95_ms: float
    quote_p95_ms: float
    estimated: float  # share of the mix whose total was an estimate
    by_kind: dict[str, float]  # median ms per query kind


def timed(run: Callable[[Query], bool], mix: list[Query]) -> tuple[list[float], dict, int]:
    """Run the mix; ``run`` returns whether the total it gave was exact."""
    times, by_kind, estimated = [], {}, 0
    for query in mix:
        start = time.perf_counter()
        exact = run(query)
        elapsed = (time.perf_counter() - start) * 1000
        times.append(elapsed)
        estimated += not exact
        by_kind.setdefault(query.kind, []).append(elapsed)
    return times, {k: statistics.median(v) for k, v in by_kind.items()}, estimated


def figures(
    build_seconds: float,
    corpus: Corpus,
    records: int,
    size: int,
    open_seconds: float,
    run: Callable[[Query], bool],
    mix: list[Query],
) -> Figures:
    times, by_kind, estimated = timed(run, mix)
    quote_times = [t for q, t in zip(mix, times, strict=True) if q.type == "quote"]
    return Figures(
        build_rate=corpus.size / build_seconds,
        records=records,
        size_mb=size / 1e6,
        open_s=open_seconds,
        median_ms=statistics.median(times),
        p95_ms=_p95(times),
        quote_p95_ms=_p95(quote_times),
        estimated=estimated / len(mix),
        by_kind=by_kind,
    )


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def bench_onrecord(
    engine: str, corpus: Corpus, mix: list[Query], workdir: Path, keep: Path | None = None
) -> Figures:
    """Build (or, with ``keep``, reuse a kept build of) the index, then time the mix."""
    path = (keep / f"{engine}-{corpus.size}") if keep else workdir / engine
    build_file = path / "build-seconds"
    if keep and build_file.is_file():
        build = float(build_file.read_text())
        records = int((path / "records").read_text())
        print(f"  {engine}: reusing the index kept in {path}", flush=True)
    else:
        start = time.perf_counter()

        def progress(count: int) -> None:
            if count % 500_000 == 0:
                elapsed = time.perf_counter() - start
                print(f"  {engine}: {count:,} records in {elapsed:.0f} s", flush=True)

        records = Indexer(path, engine=engine).rebuild(
            corpus.documents(), corpus.all_quotes(), progress
        )
        build = time.perf_counter() - start
        print(f"  {engine}: built in {build:.0f} s", flush=True)
        if keep:
            (path / "records").write_text(str(records))
            build_file.write_text(f"{build:.3f}")
    start = time.perf_counter()
    searcher = Searcher(path, text_loader=corpus.text_loader, warm=True)  # as the web server's
    searcher.search("warmup", facets=True)
    opened = time.perf_counter() - start
    print(f"  {engine}: open and first search {opened:.2f} s", flush=True)

    def run(query: Query) -> bool:
        found = searcher.search(query.text, type=query.type, highlight=True, facets=True)
        return found.total_is_exact

    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    if keep:
        size -= sum((path / name).stat().st_size for name in ("records", "build-seconds"))
    result = figures(build, corpus, records, size, opened, run, mix)
    searcher.close()
    return result


def bench_fts5(corpus: Corpus, mix: list[Query], workdir: Path) -> Figures:
    fts = Fts5(workdir / "fts.sqlite", corpus)
    start = time.perf_counter()
    fts.build()
    build = time.perf_counter() - start
    print(f"  fts5: built in {build:.0f} s", flush=True)
    records = fts.db.execute("SELECT count(*) FROM meta").fetchone()[0]
    fts.db.close()
    start = time.perf_counter()
    fts.db = sqlite3.connect(workdir / "fts.sqlite")
    fts.search(Query("word", "warmup"))
    opened = time.perf_counter() - start
    return figures(build, corpus, records, fts.size(), opened, _exact(fts.search), mix)


def bench_tantivy_raw(corpus: Corpus, mix: list[Query], workdir: Path) -> Figures:
    raw = RawTantivy(workdir / "tantivy-raw", corpus)
    start = time.perf_counter()
    raw.build()
    build = time.perf_counter() - start
    print(f"  tantivy-raw: built in {build:.0f} s", flush=True)
    start = time.perf_counter()
    raw.open()
    raw.search(Query("word", "warmup"))
    opened = time.perf_counter() - start
    records = raw.searcher.num_docs
    return figures(build, corpus, records, raw.size(), opened, _exact(raw.search), mix)


def _exact(search: Callable[[Query], int]) -> Callable[[Query], bool]:
    """A baseline's search, whose totals are always counted in full."""

    def run(query: Query) -> bool:
        search(query)
        return True

    return run


ENGINES = ("whoosh", "tantivy", "fts5", "tantivy-raw")
NAMES = {
    "whoosh": "onrecord-whoosh",
    "tantivy": "onrecord-tantivy",
    "fts5": "fts5",
    "tantivy-raw": "tantivy-raw",
}


def load_texts() -> list[list[str]]:
    texts = []
    for path in sorted(DATA.glob("*/text/*.txt")):
        paragraphs = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n")]
        texts.append([p for p in paragraphs if p])
    return texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated doc counts")
    parser.add_argument("--quick", action="store_true", help="one small run (2,000 docs)")
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help=f"comma-separated, among {', '.join(ENGINES)} (default: all)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the onrecord indexes in DIR and reuse them on later runs (the build rate "
        "shown is then the kept build's)",
    )
    parser.add_argument(
        "--workdir", type=Path, metavar="DIR", help="where indexes are built (default: /tmp)"
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="also append each engine's figures as JSON"
    )
    args = parser.parse_args(argv)
    engines = args.engines.split(",")
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
    if not DATA.is_dir():
        print(f"skipped: {DATA} is not there")
        return 0
    sizes = [2000] if args.quick else [int(s) for s in args.sizes.split(",")]
    texts = load_texts()
    results: dict[int, dict[str, Figures]] = {}
    for size in sizes:
        corpus = Corpus(texts, size)
        mix = query_mix(corpus)
        print(f"{size:,} documents, {len(mix)} queries", flush=True)
        results[size] = {}
        for engine in engines:
            with tempfile.TemporaryDirectory(prefix="onrecord-bench-", dir=args.workdir) as tmp:
                work = Path(tmp)
                if engine == "fts5":
                    found = bench_fts5(corpus, mix, work)
                elif engine == "tantivy-raw":
                    found = bench_tantivy_raw(corpus, mix, work)
                else:
                    found = bench_onrecord(engine, corpus, mix, work, args.keep)
            results[size][NAMES[engine]] = found
            print(f"  {NAMES[engine]}: {found}", flush=True)
            if args.out:
                with args.out.open("a", encoding="utf-8") as out:
                    row = {"size": size, "engine": NAMES[engine], **asdict(found)}
                    out.write(json.dumps(row) + "\n")
    print_table(results)
    return 0


def print_table(results: dict[int, dict[str, Figures]]) -> None:
    print()
    print(
        f"{'docs':>9} {'engine':<16} {'records':>9} {'build docs/s':>12} {'size MB':>8} "
        f"{'open s':>6} {'median ms':>9} {'p95 ms':>7} {'quote p95':>9} {'estimated':>9}"
        "  median ms by query kind"
    )
    for size, engines in results.items():
        for name, f in engines.items():
            kinds = "  ".join(f"{k} {v:.1f}" for k, v in f.by_kind.items())
            print(
                f"{size:>9,} {name:<16} {f.records:>9,} {f.build_rate:>12.0f} "
                f"{f.size_mb:>8.1f} {f.open_s:>6.2f} {f.median_ms:>9.1f} {f.p95_ms:>7.1f} "
                f"{f.quote_p95_ms:>9.1f} {f.estimated:>9.0%}  {kinds}"
            )
    sizes = list(results)
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(f"\ngrowth from {small:,} to {large:,} documents (x{large / small:.0f}):")
        for name in [n for n in results[small] if n in results[large]]:
            a, b = results[small][name], results[large][name]
            print(
                f"  {name:<16} median x{b.median_ms / a.median_ms:.1f}, "
                f"p95 x{b.p95_ms / a.p95_ms:.1f}, size x{b.size_mb / a.size_mb:.1f}, "
                f"build rate x{b.build_rate / a.build_rate:.2f}"
            )


if __name__ == "__main__":
    sys.exit(main())
