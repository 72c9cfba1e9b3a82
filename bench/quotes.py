"""Quote attribution benchmark: onrecord's quote finder against a regex baseline, on PolNeAR.

Run from the repository root:

    .venv/bin/python -m bench.quotes [--split dev|train] [--errors N] [--repeat N]

Data: ``../shared/eval/polnear`` beside the repository. Each ``attributions/NAME_XXXX.ann``
(brat stand-off, one file per annotator) is scored against ``text/NAME.txt``.

Gold: a *direct quote* is a maximal run of characters that lie both inside a Content span
and between a pair of double quotation marks (paired per paragraph; a mark left open runs
to the paragraph's end). It carries the Source span(s) of its attribution; quotes whose
attribution has no Source count for the quote-span scores only.

Scores, after the corpus's own definition:

* quote: a predicted quote is correct when it overlaps a gold quote and at least half of
  its characters lie inside gold quotes; recall counts the gold quotes so overlapped.
* quote+speaker: the quote must be correct as above, and its speaker mention must overlap
  the Source of a gold quote it overlaps, with at least half of the mention's characters
  inside that Source. A prediction without a mention counts as wrong.

Each pair figure comes with a 95% interval: the split's texts drawn again with replacement
a thousand times (seeded, so the same run prints the same interval). On some ninety texts a
point of F1 is well inside it.

Speed is sentences per second on one core, counted over the split's distinct texts: the
CPU time (``time.process_time``) of one pass over them, so that other work on a shared
machine counts against it as little as can be. Each pass runs in a fresh process, caches
empty as on a first run, with the model and first-name data loaded before timing starts;
a system's figure is the median of ``--repeat`` passes (3). On a shared machine one pass
has read a third slower than the next, and a system timed after another found its caches
warm.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scrapers.quotes import find_quotes, find_quotes_with

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "polnear"

Span = tuple[int, int]

_OPENING = "“„«"
_CLOSING = "”»"
_STRAIGHT = '"'
_SENTENCE_END = re.compile(r"[.!?][\"”’)]*\s+(?=[\"“‘(]?[A-Z0-9])|\n+")


@dataclass(frozen=True)
class GoldQuote:
    span: Span
    sources: tuple[Span, ...]  # the attribution's Source fragments; empty when it has none


@dataclass(frozen=True)
class Article:
    name: str  # the .ann file's stem: text name and annotator
    text: str
    quotes: tuple[GoldQuote, ...]
    # Source and Cue fragments of the attributions that hold a direct quote, by label
    spans: dict[str, frozenset[Span]] = field(default_factory=dict)


@dataclass(frozen=True)
class Prediction:
    span: Span
    mention: Span | None
    cue: Span | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class Counts:
    predicted: int = 0
    gold: int = 0
    gold_with_source: int = 0
    quote_correct: int = 0
    quote_found: int = 0
    pair_correct: int = 0
    pair_found: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__))


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def quoted_chars(text: str) -> bytearray:
    """1 for every character between paired double quotation marks, paired per line."""
    inside = bytearray(len(text))
    position = 0
    for line in text.split("\n"):
        opened: int | None = None
        for offset, char in enumerate(line):
            at = position + offset
            if opened is None and (char in _OPENING or char == _STRAIGHT):
                opened = at + 1
            elif opened is not None and (char in _CLOSING or char == _STRAIGHT):
                inside[opened:at] = b"\x01" * (at - opened)
                opened = None
            elif opened is not None and char in _OPENING:
                opened = at + 1
        if opened is not None:
            end = position + len(line)
            inside[opened:end] = b"\x01" * (end - opened)
        position += len(line) + 1
    return inside


def _runs(flags: bytearray, start: int, end: int, text: str) -> Iterable[Span]:
    """Maximal runs of set flags in [start, end), stripped of surrounding whitespace."""
    run_start = None
    for at in range(start, end + 1):
        on = at < end and flags[at]
        if on and run_start is None:
            run_start = at
        elif not on and run_start is not None:
            piece = text[run_start:at]
            left = len(piece) - len(piece.lstrip())
            right = len(piece.rstrip())
            if right > left:
                yield (run_start + left, run_start + right)
            run_start = None


def _fragments(offsets: str) -> tuple[Span, ...]:
    pieces = (piece.split() for piece in offsets.split(";"))
    return tuple((int(a), int(b)) for a, b in pieces)


def parse_ann_spans(
    text: str, ann: str
) -> tuple[tuple[GoldQuote, ...], dict[str, frozenset[Span]]]:
    """The direct quotes of one brat annotation file, each with its attribution's Source,
    and the Source and Cue fragments of attributions with a direct quote."""
    spans: dict[str, tuple[str, tuple[Span, ...]]] = {}
    events: list[dict[str, str]] = []
    for line in ann.splitlines():
        fields = line.split("\t")
        if line.startswith("T") and len(fields) >= 2:
            label, _, offsets = fields[1].partition(" ")
            spans[fields[0]] = (label, _fragments(offsets))
        elif line.startswith("E") and len(fields) >= 2:
            events.append(dict(arg.split(":", 1) for arg in fields[1].split() if ":" in arg))
    inside = quoted_chars(text)
    found: dict[Span, set[Span]] = {}
    labelled: dict[str, set[Span]] = {"Source": set(), "Cue": set()}
    for event in events:
        content = spans.get(event.get("Content", ""))
        if content is None or content[0] != "Content":
            continue
        source = spans.get(event.get("Source", ""))
        sources = source[1] if source and source[0] == "Source" else ()
        direct = False
        for start, end in content[1]:
            for quote in _runs(inside, start, end, text):
                found.setdefault(quote, set()).update(sources)
                direct = True
        if direct:
            labelled["Source"].update(sources)
            cue = spans.get(event.get("Cue", ""))
            if cue and cue[0] == "Cue":
                labelled["Cue"].update(cue[1])
    quotes = tuple(GoldQuote(span, tuple(sorted(found[span]))) for span in sorted(found))
    return quotes, {label: frozenset(group) for label, group in labelled.items()}


def load_articles(split: str, root: Path = DATA) -> list[Article]:
    articles = []
    for ann_path in sorted((root / split / "attributions").glob("*.ann")):
        text_name = ann_path.stem.rsplit("_", 1)[0]
        text = (root / split / "text" / f"{text_name}.txt").read_text(encoding="utf-8")
        quotes, spans = parse_ann_spans(text, ann_path.read_text(encoding="utf-8"))
        articles.append(Article(ann_path.stem, text, quotes, spans))
    return articles


def _overlap(a: Span, b: Span) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def score(article: Article, predictions: Sequence[Prediction]) -> tuple[Counts, list[str]]:
    """Counts for one article, and a line per error for inspection."""
    inside = bytearray(len(article.text))
    for quote in article.quotes:
        inside[quote.span[0] : quote.span[1]] = b"\x01" * (quote.span[1] - quote.span[0])
    quote_found: set[Span] = set()
    pair_found: set[Span] = set()
    quote_correct = pair_correct = 0
    errors = []
    for prediction in predictions:
        start, end = prediction.span
        touched = [g for g in article.quotes if _overlap(g.span, prediction.span)]
        if not touched or 2 * sum(inside[start:end]) < end - start:
            errors.append(f"FP quote  {article.text[start:end][:70]!r}")
            continue
        quote_correct += 1
        quote_found.update(g.span for g in touched)
        matched = [
            g
            for g in touched
            if prediction.mention is not None
            and any(_mention_matches(prediction.mention, source) for source in g.sources)
        ]
        if matched:
            pair_correct += 1
            pair_found.update(g.span for g in matched)
        elif any(g.sources for g in touched):
            said = article.text[slice(*prediction.mention)] if prediction.mention else None
            gold = " | ".join(article.text[a:b] for g in touched for a, b in g.sources)
            errors.append(f"speaker   {said!r} gold {gold!r} {article.text[start:end][:50]!r}")
    for quote in article.quotes:
        if quote.span not in quote_found:
            errors.append(f"FN quote  {article.text[slice(*quote.span)][:70]!r}")
    counts = Counts(
        predicted=len(predictions),
        gold=len(article.quotes),
        gold_with_source=sum(1 for g in article.quotes if g.sources),
        quote_correct=quote_correct,
        quote_found=len(quote_found),
        pair_correct=pair_correct,
        pair_found=len(pair_found),
    )
    return counts, errors


def _mention_matches(mention: Span, source: Span) -> bool:
    length = mention[1] - mention[0]
    return length > 0 and 2 * _overlap(mention, source) >= length


def _predictions(quotes) -> list[Prediction]:
    return [
        Prediction(
            (q.start, q.end),
            (q.speaker_start, q.speaker_end) if q.speaker_start is not None else None,
            (q.cue_start, q.cue_end) if q.cue_start is not None else None,
            q.confidence,
        )
        for q in quotes
    ]


def onrecord(text: str) -> list[Prediction]:
    return _predictions(find_quotes(text))


def onrecord_rules(text: str) -> list[Prediction]:
    """The rules alone, as before the ranker: their own pick of speaker, by-rule confidence."""
    return _predictions(find_quotes_with(text, None, None))


_BASELINE_QUOTE = re.compile(r"[\"“]([^\"“”\n]+)[\"”]")
_NAME = r"[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*)*"
_SAID = "said|says|told|added|wrote"
_BASELINE_SPEAKER = re.compile(rf"(?:\b(?:{_SAID}) ({_NAME}))|(?:({_NAME}) (?:{_SAID})\b)")


def regex_baseline(text: str) -> list[Prediction]:
    """A quoted span and the nearest capitalised name before "said" or after it."""
    predictions = []
    speakers = [
        (match.start(1), match.end(1)) if match.group(1) else (match.start(2), match.end(2))
        for match in _BASELINE_SPEAKER.finditer(text)
    ]
    for match in _BASELINE_QUOTE.finditer(text):
        span = (match.start(1), match.end(1))
        nearest = min(
            (s for s in speakers if abs(s[0] - span[1]) < 200 or abs(span[0] - s[1]) < 200),
            key=lambda s: min(abs(s[0] - span[1]), abs(span[0] - s[1])),
            default=None,
        )
        predictions.append(Prediction(span, nearest))
    return predictions


SYSTEMS: dict[str, Callable[[str], list[Prediction]]] = {
    "onrecord": onrecord,
    "rules only": onrecord_rules,
    "regex baseline": regex_baseline,
}


def sentence_count(texts: Iterable[str]) -> int:
    return sum(len(_SENTENCE_END.findall(text)) + 1 for text in texts)


@dataclass
class Run:
    """One system over one split: counts, errors and what it predicted per text."""

    counts: Counts
    errors: list[str]
    predicted: dict[str, list[Prediction]]


def evaluate(system: Callable[[str], list[Prediction]], articles: list[Article]) -> Run:
    """Total counts, error lines and predictions for one system."""
    predicted = {name: system(text) for name, text in distinct_texts(articles).items()}
    total, errors = Counts(), []
    for article in articles:
        counts, article_errors = score(article, predicted[text_of(article)])
        total += counts
        errors.extend(f"{article.name}: {line}" for line in article_errors)
    return Run(total, errors, predicted)


_WARM_UP = "Ann Lee spoke. “Loaded,” she said."  # loads the model and first-name data


def _timed_pass(system: str, split: str) -> float:
    """Sentences per second of one pass of a system (named in ``SYSTEMS``) over a split's
    distinct texts, in CPU time, after loading the model and first-name data."""
    texts = list(distinct_texts(load_articles(split)).values())
    find_quotes(_WARM_UP)
    run = SYSTEMS[system]
    started = time.process_time()
    for text in texts:
        run(text)
    return sentence_count(texts) / (time.process_time() - started)


def speed(system: str, split: str, repeat: int) -> float:
    """The median of ``repeat`` timed passes, each in a fresh process."""
    fresh = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=fresh, max_tasks_per_child=1) as pool:
        return statistics.median(
            pool.submit(_timed_pass, system, split).result() for _ in range(repeat)
        )


def text_of(article: Article) -> str:
    """The name of an annotated article's text (several annotators share one)."""
    return article.name.rsplit("_", 1)[0]


def distinct_texts(articles: Iterable[Article]) -> dict[str, str]:
    """Each text of the articles once, by name."""
    return {text_of(article): article.text for article in articles}


def span_scores(articles: list[Article], run: Run) -> dict[str, tuple[float, ...]]:
    """PolNeAR-style span scores over attributions with a direct quote: for source, cue
    and content spans, (P, R, F1) with exact offsets and with any overlap."""
    found = {label: [0, 0, 0, 0, 0, 0] for label in ("source", "cue", "content")}
    # per label: predicted, gold, exact hits on each side, overlap hits on each side
    for article in articles:
        predictions = run.predicted[text_of(article)]
        predicted = {
            "source": {p.mention for p in predictions if p.mention},
            "cue": {p.cue for p in predictions if p.cue},
            "content": {p.span for p in predictions},
        }
        gold = {
            "source": set(article.spans.get("Source", ())),
            "cue": set(article.spans.get("Cue", ())),
            "content": {q.span for q in article.quotes},
        }
        for label, tally in found.items():
            mine, theirs = predicted[label], gold[label]
            tally[0] += len(mine)
            tally[1] += len(theirs)
            tally[2] += len(mine & theirs)
            tally[3] += len(mine & theirs)
            tally[4] += sum(1 for a in mine if any(_overlap(a, b) for b in theirs))
            tally[5] += sum(1 for b in theirs if any(_overlap(a, b) for a in mine))
    scores = {}
    for label, (npred, ngold, exact_p, exact_r, over_p, over_r) in found.items():
        ep, er = _ratio(exact_p, npred), _ratio(exact_r, ngold)
        op, orr = _ratio(over_p, npred), _ratio(over_r, ngold)
        scores[label] = (ep, er, _f1(ep, er), op, orr, _f1(op, orr))
    return scores


def intervals(
    articles: list[Article], run: Run, resamples: int = 1000, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """95% intervals of pair precision, recall and F1: the split's texts drawn again with
    replacement ``resamples`` times (a text's annotators stay together), so that a
    difference of a point can be read against how much the figure moves by the choice of
    texts alone."""
    by_text: dict[str, Counts] = {}
    for article in articles:
        counts, _ = score(article, run.predicted[text_of(article)])
        by_text[text_of(article)] = by_text.get(text_of(article), Counts()) + counts
    texts = sorted(by_text)
    draw = random.Random(seed)
    figures: dict[str, list[float]] = {"P": [], "R": [], "F1": []}
    for _ in range(resamples):
        total = sum((by_text[name] for name in draw.choices(texts, k=len(texts))), Counts())
        precision = _ratio(total.pair_correct, total.predicted)
        recall = _ratio(total.pair_found, total.gold_with_source)
        figures["P"].append(precision)
        figures["R"].append(recall)
        figures["F1"].append(_f1(precision, recall))
    low, high = int(0.025 * resamples), int(0.975 * resamples) - 1
    return {name: (sorted(values)[low], sorted(values)[high]) for name, values in figures.items()}


def calibration(articles: list[Article], run: Run) -> list[str]:
    """Per confidence band and at or above each threshold: quotes and the share whose
    speaker is right (a wrong quote counts as a wrong speaker)."""
    pairs = []
    for article in articles:
        for prediction in run.predicted[text_of(article)]:
            counts, _ = score(article, [prediction])
            pairs.append((prediction.confidence or 0.0, counts.pair_correct))
    lines = [
        f"{'confidence':>11} {'quotes':>7} {'right':>6}   {'at least':>8} {'quotes':>7}"
        f" {'right':>6}"
    ]
    bands = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)
    for low, high in itertools.pairwise(bands):
        inside = [right for c, right in pairs if low <= c < high]
        above = [right for c, right in pairs if c >= low]
        lines.append(
            f"{low:4.2f}-{min(high, 1.0):4.2f}  {len(inside):7d}"
            f" {_ratio(sum(inside), len(inside)):6.3f}"
            f"   {low:8.2f} {len(above):7d} {_ratio(sum(above), len(above)):6.3f}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", choices=("dev", "train"))
    parser.add_argument("--errors", type=int, default=0, help="print onrecord's first N errors")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="timed passes per system, each in a fresh process; the median is printed",
    )
    args = parser.parse_args(argv)
    if not (DATA / args.split / "attributions").is_dir():
        print(f"benchmark data not found at {DATA}; nothing to measure")
        return 0
    articles = load_articles(args.split)
    gold = sum(len(a.quotes) for a in articles)
    print(f"PolNeAR {args.split}: {len(articles)} annotated articles, {gold} gold direct quotes")
    started = time.perf_counter()
    find_quotes(_WARM_UP)
    print(f"model and name data loaded in {time.perf_counter() - started:.2f} s\n")
    print(
        f"{'system':<15} {'quote P':>7} {'R':>6} {'F1':>6}   {'+speaker P':>10} {'R':>6}"
        f" {'F1':>6} {'sent/s':>8}"
    )
    runs = {}
    for name, system in SYSTEMS.items():
        run = runs[name] = evaluate(system, articles)
        counts = run.counts
        qp = _ratio(counts.quote_correct, counts.predicted)
        qr = _ratio(counts.quote_found, counts.gold)
        sp = _ratio(counts.pair_correct, counts.predicted)
        sr = _ratio(counts.pair_found, counts.gold_with_source)
        print(
            f"{name:<15} {qp:7.3f} {qr:6.3f} {_f1(qp, qr):6.3f}   {sp:10.3f} {sr:6.3f}"
            f" {_f1(sp, sr):6.3f} {speed(name, args.split, args.repeat):8.0f}"
        )
        if name == "onrecord" and args.errors:
            print("\n".join(run.errors[: args.errors]), file=sys.stderr)
    print(f"\n95% intervals of quote+speaker figures, {args.split}'s texts resampled 1,000 times:")
    for name in ("onrecord", "rules only"):
        ranges = intervals(articles, runs[name])
        print(
            f"{name:<15} "
            + "   ".join(f"{key} {low:.3f}-{high:.3f}" for key, (low, high) in ranges.items())
        )
    print("\nSpans of attributions with a direct quote (PolNeAR's source, cue, content):")
    print(
        f"{'system':<15} {'span':<8} {'exact P':>7} {'R':>6} {'F1':>6}"
        f"   {'overlap P':>9} {'R':>6} {'F1':>6}"
    )
    for name, run in runs.items():
        for label, (ep, er, ef, op, orr, of) in span_scores(articles, run).items():
            if name == "regex baseline" and label == "cue":
                continue  # the baseline gives no cue offsets
            print(
                f"{name:<15} {label:<8} {ep:7.3f} {er:6.3f} {ef:6.3f}"
                f"   {op:9.3f} {orr:6.3f} {of:6.3f}"
            )
    for name in ("onrecord", "rules only"):
        print(f"\nCalibration of {name} confidence (right = quote and speaker both right):")
        print("\n".join(calibration(articles, runs[name])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
