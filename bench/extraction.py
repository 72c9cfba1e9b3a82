"""Article-body extraction benchmark: onrecord's extractor against trafilatura and naive <p>.

Run from the repository root:

    .venv/bin/python -m bench.extraction [--folds 5]

Two sets beside the repository, scored in one run, each extractor given the raw page
bytes (decoding is part of its time):

* ``../shared/eval/article-extraction``: 91 pages with a human-made article body. The
  metric is that benchmark's own: tokens are ``\\w+`` matches, bodies are compared as
  multisets of 4-token shingles, each page's TP/FP/FN are normalised to sum to one,
  precision and recall are means over pages and F1 is their harmonic mean.
* ``../shared/eval/trafilatura-eval``: 990 pages with snippets that must and must not
  appear in the body (whitespace-normalised, exact, case-sensitive). A page passes when
  every "with" snippet is present and no "without" one is; with-recall is the share of
  "with" snippets found, without-precision the share of "without" snippets absent.

The body finder's settings (:class:`scrapers.extract_body.Tuning`) are chosen by
measurement, so the figure on the 91 pages is also given cross-validated: the pages are
split into k folds, each fold's setting is the best on the other folds, and the pages of
every fold are scored with the setting chosen without them. The 990 pages are never
used to choose anything: they are the second, unseen check.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import lxml.html
import trafilatura

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scrapers.extract import Prepared, prepare
from scrapers.extract_body import GRID, TUNING, Tuning

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
DATA = EVAL / "article-extraction"
SNIPPETS = EVAL / "trafilatura-eval"
SHINGLE = 4
_TOKEN = re.compile(r"\w+")

Counts = tuple[float, float, float]


@dataclass(frozen=True)
class Page:
    id: str
    url: str | None
    html: bytes
    body: str = ""  # the article body, on the 91 pages
    with_: tuple[str, ...] = ()  # snippets, on the 990 pages
    without: tuple[str, ...] = ()


@dataclass(frozen=True)
class Score:
    name: str
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def shingles(text: str, n: int = SHINGLE) -> Counter[tuple[str, ...]]:
    """The multiset of n-token shingles of a text (one short shingle if it has fewer tokens)."""
    tokens = _TOKEN.findall(text)
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens)


def tp_fp_fn(true: str, predicted: str) -> Counts:
    """Shingle overlaps of one page, normalised so that they sum to one."""
    gold, got = shingles(true), shingles(predicted)
    tp = sum((gold & got).values())
    fp = sum((got - gold).values())
    fn = sum((gold - got).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def precision_recall(counts: Iterable[Counts]) -> tuple[float, float]:
    """Mean precision and mean recall over pages, with the benchmark's edge cases."""
    precisions, recalls = [], []
    for tp, fp, fn in counts:
        perfect = fp == fn == 0
        if tp + fp > 0:
            precisions.append(1.0 if perfect else tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(1.0 if perfect else tp / (tp + fn))
    mean_p = statistics.mean(precisions) if precisions else 0.0
    mean_r = statistics.mean(recalls) if recalls else 0.0
    return mean_p, mean_r


def _normalised(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Snippets:
    """The 990-page figures of one extractor."""

    passed: float
    with_recall: float
    without_precision: float
    empty: int
    pages: frozenset[str]  # ids of the pages passed

    @staticmethod
    def of(pages: list[Page], texts: list[str]) -> Snippets:
        passed, found, wanted, leaked, unwanted, empty = set(), 0, 0, 0, 0, 0
        for page, text in zip(pages, texts, strict=True):
            text = _normalised(text)
            hits = [_normalised(s) in text for s in page.with_]
            leaks = [_normalised(s) in text for s in page.without]
            found, wanted = found + sum(hits), wanted + len(hits)
            leaked, unwanted = leaked + sum(leaks), unwanted + len(leaks)
            empty += not text
            if all(hits) and not any(leaks):
                passed.add(page.id)
        return Snippets(
            passed=len(passed) / len(pages),
            with_recall=found / wanted if wanted else 0.0,
            without_precision=1 - leaked / unwanted if unwanted else 1.0,
            empty=empty,
            pages=frozenset(passed),
        )


def load_pages(root: Path = DATA) -> list[Page]:
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    return [
        Page(
            id=key,
            url=item["url"],
            html=gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()),
            body=item["articleBody"],
        )
        for key, item in sorted(truth.items())
    ]


def load_snippet_pages(root: Path = SNIPPETS) -> list[Page]:
    expected = json.loads((root / "expectations.json").read_text(encoding="utf-8"))
    return [
        Page(
            id=key,
            url=item["url"],
            html=gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()),
            with_=tuple(item["with"]),
            without=tuple(item["without"]),
        )
        for key, item in sorted(expected.items())
    ]


def trafilatura_alone(page: Page) -> str:
    return trafilatura.extract(page.html, url=page.url, include_comments=False) or ""


def naive_paragraphs(page: Page) -> str:
    """Every <p> of the page, in document order: the floor any extractor must clear."""
    try:
        root = lxml.html.document_fromstring(page.html)
    except (lxml.etree.ParserError, ValueError):
        return ""
    return "\n\n".join(p.text_content() for p in root.iter("p"))


def _prepared(page: Page) -> Prepared | str:
    found = prepare(page.html, page.url, "text/html")
    return found if isinstance(found, Prepared) else found.text


def _finish(found: Prepared | str, tuning: Tuning) -> str:
    return found.finish(tuning).text if isinstance(found, Prepared) else found


def cross_validated(
    pages: list[Page], found: list[Prepared | str], folds: int
) -> tuple[Score, list[Tuning]]:
    """The 91-page score with each fold's setting chosen on the other folds only."""
    counts: dict[Tuning, list[Counts]] = {
        tuning: [
            tp_fp_fn(page.body, _finish(f, tuning)) for page, f in zip(pages, found, strict=True)
        ]
        for tuning in GRID
    }
    held_out: list[Counts] = []
    chosen = []
    for fold in range(folds):
        train = [i for i in range(len(pages)) if i % folds != fold]
        # Ties go to the setting listed first in GRID, whatever was measured before.
        best = max(GRID, key=lambda t: Score("", *precision_recall(counts[t][i] for i in train)).f1)
        chosen.append(best)
        held_out.extend(counts[best][i] for i in range(len(pages)) if i % folds == fold)
    return Score(f"onrecord {folds}-fold CV", *precision_recall(held_out)), chosen


def _timed(extractor: Callable[[Page], object], pages: list[Page]) -> tuple[list, float]:
    """Results and the CPU seconds they took: one process on one core, which other work
    on a shared machine slows less than it slows the wall clock."""
    started = time.process_time()
    results = [extractor(page) for page in pages]
    return results, time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5, help="folds of the cross-validation")
    args = parser.parse_args(argv)
    if not (DATA / "ground-truth.json").is_file():
        print(f"benchmark data not found at {DATA}; nothing to measure")
        return 0
    pages = load_pages()
    snippet_pages = load_snippet_pages() if (SNIPPETS / "expectations.json").is_file() else []
    every = pages + snippet_pages
    size = statistics.mean(len(page.html) for page in every) / 1024
    print(
        f"{len(pages)} pages with bodies + {len(snippet_pages)} pages with snippets,"
        f" average {size:.0f} KiB; pages/s per CPU second of one process (noisy when shared)\n"
    )

    # onrecord: the 91 pages' analyses are kept for the cross-validation (too big for all).
    found, analysing = _timed(_prepared, pages)
    texts, choosing = _timed(lambda f: _finish(f, TUNING), found)  # type: ignore[arg-type]
    rest, elapsed = _timed(lambda page: _finish(_prepared(page), TUNING), snippet_pages)
    results = {"onrecord": (texts + rest, analysing + choosing + elapsed)}
    for name, extractor in (("trafilatura", trafilatura_alone), ("naive <p>", naive_paragraphs)):
        results[name] = _timed(extractor, every)

    print(
        f"{'extractor':<22} {'P':>6} {'R':>6} {'F1':>6}   {'passed':>6} {'with-R':>6}"
        f" {'w/o-P':>6} {'empty':>5}   {'pages/s':>7}"
    )
    passed: dict[str, Snippets] = {}
    for name, (texts, elapsed) in results.items():
        score = Score(
            name,
            *precision_recall(tp_fp_fn(p.body, t) for p, t in zip(pages, texts, strict=False)),
        )
        snippets = Snippets.of(snippet_pages, texts[len(pages) :]) if snippet_pages else None
        passed[name] = snippets
        tail = (
            f"{snippets.passed:6.3f} {snippets.with_recall:6.3f}"
            f" {snippets.without_precision:6.3f} {snippets.empty:5d}"
            if snippets
            else f"{'-':>6} {'-':>6} {'-':>6} {'-':>5}"
        )
        print(
            f"{name:<22} {score.precision:6.3f} {score.recall:6.3f} {score.f1:6.3f}   {tail}"
            f"   {len(every) / elapsed:7.1f}"
        )
    cv, chosen = cross_validated(pages, found, args.folds)
    print(f"{cv.name:<22} {cv.precision:6.3f} {cv.recall:6.3f} {cv.f1:6.3f}")
    print(
        f"\nsettings chosen per fold: {', '.join(_label(t) for t in chosen)};"
        f" default {_label(TUNING)}"
    )
    if snippet_pages:
        ours, theirs = passed["onrecord"], passed["trafilatura"]
        mine, others = (results[name][0][len(pages) :] for name in ("onrecord", "trafilatura"))
        empty_ours = [
            page.id
            for page, text, other in zip(snippet_pages, mine, others, strict=True)
            if not text.strip() and other.strip()
        ]
        print(
            f"990 pages: onrecord passes {len(ours.pages - theirs.pages)} that trafilatura"
            f" fails and fails {len(theirs.pages - ours.pages)} that it passes;"
            f" empty where trafilatura is not: {len(empty_ours)}"
        )
    return 0


def _label(tuning: Tuning) -> str:
    on = {True: "on", False: "off"}
    return f"recover={tuning.recover} json_ld={on[tuning.json_ld]} lead={on[tuning.lead]}"


if __name__ == "__main__":
    raise SystemExit(main())
