"""Article-body extraction benchmark: onrecord's extractor against trafilatura and naive <p>.

Run from the repository root:

    .venv/bin/python -m bench.extraction

Data: ``../shared/eval/article-extraction`` beside the repository (gzipped HTML pages and
``ground-truth.json``). The metric is the article-extraction benchmark's own: tokens are
``\\w+`` matches, bodies are compared as multisets of 4-token shingles, each page's TP/FP/FN
are normalised to sum to one, precision and recall are means over pages and F1 is their
harmonic mean. Every extractor gets the raw page bytes, so decoding is part of its time.
"""

from __future__ import annotations

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

from scrapers.extract import extract

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "article-extraction"
SHINGLE = 4
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Page:
    id: str
    url: str
    html: bytes
    body: str


@dataclass(frozen=True)
class Score:
    name: str
    precision: float
    recall: float
    pages_per_second: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def shingles(text: str, n: int = SHINGLE) -> Counter[tuple[str, ...]]:
    """The multiset of n-token shingles of a text (one short shingle if it has fewer tokens)."""
    tokens = _TOKEN.findall(text)
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens)


def tp_fp_fn(true: str, predicted: str) -> tuple[float, float, float]:
    """Shingle overlaps of one page, normalised so that they sum to one."""
    gold, got = shingles(true), shingles(predicted)
    tp = sum((gold & got).values())
    fp = sum((got - gold).values())
    fn = sum((gold - got).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def precision_recall(counts: Iterable[tuple[float, float, float]]) -> tuple[float, float]:
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


def onrecord(page: Page) -> str:
    return extract(page.html, url=page.url, content_type="text/html").text


def trafilatura_alone(page: Page) -> str:
    return trafilatura.extract(page.html, url=page.url) or ""


def naive_paragraphs(page: Page) -> str:
    """Every <p> of the page, in document order: the floor any extractor must clear."""
    root = lxml.html.document_fromstring(page.html)
    return "\n\n".join(p.text_content() for p in root.iter("p"))


EXTRACTORS: dict[str, Callable[[Page], str]] = {
    "onrecord": onrecord,
    "trafilatura": trafilatura_alone,
    "naive <p>": naive_paragraphs,
}


def run(name: str, extractor: Callable[[Page], str], pages: list[Page]) -> tuple[Score, list]:
    """Score one extractor; also return each page's (tp, fp, fn) for inspection."""
    started = time.perf_counter()
    predictions = [extractor(page) for page in pages]
    elapsed = time.perf_counter() - started
    counts = [tp_fp_fn(page.body, got) for page, got in zip(pages, predictions, strict=True)]
    precision, recall = precision_recall(counts)
    return Score(name, precision, recall, len(pages) / elapsed), counts


def main() -> int:
    if not (DATA / "ground-truth.json").is_file():
        print(f"benchmark data not found at {DATA}; nothing to measure")
        return 0
    pages = load_pages()
    size = statistics.mean(len(page.html) for page in pages) / 1024
    print(f"{len(pages)} pages, average {size:.0f} KiB\n")
    print(f"{'extractor':<12} {'P':>6} {'R':>6} {'F1':>6} {'pages/s':>8}")
    for name, extractor in EXTRACTORS.items():
        score, _ = run(name, extractor, pages)
        print(
            f"{score.name:<12} {score.precision:6.3f} {score.recall:6.3f} {score.f1:6.3f}"
            f" {score.pages_per_second:8.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
