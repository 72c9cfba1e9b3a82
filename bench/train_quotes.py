"""Train the speaker ranker of ``scrapers.quotes_ranker`` on PolNeAR's training split.

Run from the repository root (scikit-learn comes with the ``train`` extra):

    .venv/bin/python -m bench.train_quotes [--check]

For every quote the rules keep, each candidate speaker mention is labelled by the corpus's
own test (the mention overlaps the quote's gold Source, at least half inside it). A logistic
regression over differences of the candidates' features (right minus wrong, per quote) is
cross-validated on the training split (five folds, articles grouped by text, so no text is
both trained and tested on) to pick its regularisation and to get out-of-fold scores. The
score of "none of them" is fitted to those scores (``quotes_ranker.pick``), and an
isotonic fit of the resulting probabilities to whether the chosen speaker was right is the
calibration. The model is then fitted on the whole split and written to
``scrapers/quotes_model.json`` (weights rounded, keys sorted: the same data always gives
the same file). The dev split is only scored, never fitted;
``--check`` scores a fresh model without writing it.

No corpus text goes into the model: only feature names (the rules' own vocabulary: kinds of
mention, positions, which rule found it) and their weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quotes import DATA, Article, Counts, Prediction, _f1, _mention_matches, _ratio, score
from bench.quotes import load_articles as load
from scrapers.quotes import find_quotes_with
from scrapers.quotes_ranker import MODEL_PATH, Ranker, pick

FOLDS = 5
C_VALUES = (0.3, 1.0)


@dataclass
class QuoteRows:
    """One kept quote of one text: its span and its candidates (features, mention span)."""

    span: tuple[int, int]
    features: list[dict[str, float]]
    mentions: list[tuple[int, int]]


def _candidate_rows(text: str) -> list[QuoteRows]:
    rows: list[QuoteRows] = []

    def trace(span, found, options) -> None:
        rows.append(
            QuoteRows(
                (span.start, span.end),
                [dict(c.features) for c in options],
                [(c.mention.start, c.mention.end) for c in options],
            )
        )

    find_quotes_with(text, None, None, trace)
    return rows


def _labels(article: Article, quote: QuoteRows) -> list[int]:
    touched = [
        g for g in article.quotes if min(g.span[1], quote.span[1]) > max(g.span[0], quote.span[0])
    ]
    sources = [s for g in touched for s in g.sources]
    return [int(any(_mention_matches(m, s) for s in sources)) for m in quote.mentions]


def _text_name(article: Article) -> str:
    return article.name.rsplit("_", 1)[0]


def _fit(vectorizer, rows, c_value):
    """A logistic regression on pairs of one quote's candidates, right minus wrong (and
    the reverse), so that a weight says how much a feature favours one mention over
    another of the same quote: a ranking, not a verdict on each mention alone."""
    import scipy.sparse
    from sklearn.linear_model import LogisticRegression

    differences, labels = [], []
    for article, quote in rows:
        marks = _labels(article, quote)
        if not any(marks) or all(marks):
            continue  # no candidate is right, or all are: nothing to learn about ranking
        matrix = vectorizer.transform(quote.features)
        right = [i for i, mark in enumerate(marks) if mark]
        wrong = [i for i, mark in enumerate(marks) if not mark]
        for i in right:
            for j in wrong:
                differences += [matrix[i] - matrix[j], matrix[j] - matrix[i]]
                labels += [1, 0]
    model = LogisticRegression(C=c_value, max_iter=5000, fit_intercept=False)
    model.fit(scipy.sparse.vstack(differences), labels)
    return model


def _choose(vectorizer, model, quote: QuoteRows) -> tuple[int | None, list[float]]:
    """The index of the best scoring candidate, and every candidate's score."""
    if not quote.features:
        return None, []
    scores = [float(value) for value in vectorizer.transform(quote.features) @ model.coef_[0]]
    return pick(list(range(len(scores))), scores, 0.0)[0], scores


def _null_score(scored: list[tuple[list[float], int]]) -> float:
    """The score of "none of them" that makes ``pick``'s probability of the chosen
    candidate fit best (log-likelihood) whether it was right, on out-of-fold quotes."""

    def loss(null: float) -> float:
        total = 0.0
        for scores, right in scored:
            probability = min(max(pick(scores, scores, null)[1], 1e-9), 1 - 1e-9)
            total -= math.log(probability if right else 1 - probability)
        return total

    return min((step / 4 for step in range(-32, 33)), key=loss)


def _evaluate(articles, rows_by_text, choices) -> tuple[Counts, list[tuple[list[float], int]]]:
    """Pair counts for chosen mentions, and (candidates' scores, right) per predicted
    quote."""
    total = Counts()
    pairs = []
    for article in articles:
        quotes = rows_by_text[_text_name(article)]
        chosen = choices[_text_name(article)]
        predictions = []
        for quote, (best, scores) in zip(quotes, chosen, strict=True):
            mention = quote.mentions[best] if best is not None else None
            predictions.append(Prediction(quote.span, mention))
            counts, _ = score(article, [predictions[-1]])
            pairs.append((scores, counts.pair_correct))
        counts, _ = score(article, predictions)
        total += counts
    return total, pairs


def _report(name: str, counts: Counts) -> str:
    precision = _ratio(counts.pair_correct, counts.predicted)
    recall = _ratio(counts.pair_found, counts.gold_with_source)
    return f"{name}: quote+speaker P {precision:.3f} R {recall:.3f} F1 {_f1(precision, recall):.3f}"


def _calibration(pairs: list[tuple[float, int]]) -> list[list[float]]:
    """A non-decreasing step function from raw probability to the share right: isotonic
    blocks of the out-of-fold pairs, each valued at the lower end of its 90% Wilson
    interval, so that a confidence errs low rather than high on texts not trained on."""
    from sklearn.isotonic import IsotonicRegression

    pairs = sorted(pairs)
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    fitted = isotonic.fit_transform([p for p, _ in pairs], [r for _, r in pairs])
    blocks: list[list[float]] = []  # [first probability, right, total]
    for (probability, right), value in zip(pairs, fitted, strict=True):
        if blocks and abs(blocks[-1][3] - value) < 1e-12:
            blocks[-1][1] += right
            blocks[-1][2] += 1
        else:
            blocks.append([probability, right, 1, value])
    steps: list[list[float]] = []
    floor = 1.0
    for edge, right, total, _ in reversed(blocks):
        floor = min(floor, _wilson_low(right, total))
        steps.append([round(edge, 4), round(floor, 3)])
    steps.reverse()
    merged: list[list[float]] = []
    for edge, value in steps:
        if not merged or value > merged[-1][1]:
            merged.append([edge, value])
    return merged


def _wilson_low(right: float, total: float, z: float = 1.645) -> float:
    share = right / total
    centre = share + z * z / (2 * total)
    margin = z * ((share * (1 - share) + z * z / (4 * total)) / total) ** 0.5
    return max(0.0, (centre - margin) / (1 + z * z / total))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="score without writing the model")
    args = parser.parse_args(argv)
    try:
        from sklearn.feature_extraction import DictVectorizer
    except ImportError:
        print("scikit-learn is needed to train: pip install -e '.[train]'", file=sys.stderr)
        return 2
    if not (DATA / "train" / "attributions").is_dir():
        print(f"training data not found at {DATA}", file=sys.stderr)
        return 2
    splits = {split: load(split) for split in ("train", "dev")}
    rows = {
        split: {_text_name(a): _candidate_rows(a.text) for a in articles}
        for split, articles in splits.items()
    }
    train = splits["train"]
    texts = sorted(rows["train"])
    fold_of = {name: int(hashlib.sha256(name.encode()).hexdigest(), 16) % FOLDS for name in texts}
    vectorizer = DictVectorizer()
    vectorizer.fit([f for quotes in rows["train"].values() for q in quotes for f in q.features])
    print(f"train: {len(train)} annotated articles, {len(texts)} texts, {FOLDS}-fold CV")
    best = None
    for c_value in C_VALUES:
        choices: dict[str, list[tuple[int | None, float]]] = {}
        for fold in range(FOLDS):
            fitted = [
                (a, q)
                for a in train
                if fold_of[_text_name(a)] != fold
                for q in rows["train"][_text_name(a)]
            ]
            model = _fit(vectorizer, fitted, c_value)
            for name in texts:
                if fold_of[name] == fold:
                    choices[name] = [_choose(vectorizer, model, q) for q in rows["train"][name]]
        counts, pairs = _evaluate(train, rows["train"], choices)
        precision = _ratio(counts.pair_correct, counts.predicted)
        recall = _ratio(counts.pair_found, counts.gold_with_source)
        f1 = _f1(precision, recall)
        print(_report(f"  C={c_value:<5} cross-validated train", counts))
        if best is None or f1 > best[0]:
            best = (f1, c_value, pairs)
    _, c_value, scored = best
    null_score = _null_score(scored)
    calibration = _calibration([(pick(s, s, null_score)[1], right) for s, right in scored])
    model = _fit(vectorizer, [(a, q) for a in train for q in rows["train"][_text_name(a)]], c_value)
    names = vectorizer.get_feature_names_out()
    weights = {
        str(name): round(float(w), 4)
        for name, w in zip(names, model.coef_[0], strict=True)
        if round(float(w), 4)
    }
    digest = hashlib.sha256(json.dumps(weights, sort_keys=True).encode()).hexdigest()[:8]
    ranker = Ranker(
        weights=weights,
        bias=0.0,
        calibration=tuple((a, b) for a, b in calibration),
        version=f"ranker-{digest}",
        null_score=null_score,
    )
    print(
        f"chose C={c_value}; {len(weights)} features; none-of-them score {null_score};"
        f" calibration steps {len(calibration)}"
    )
    dev_choices = {}
    for name, quotes in rows["dev"].items():
        dev_choices[name] = [_choose(vectorizer, model, q) for q in quotes]
    dev_counts, dev_scored = _evaluate(splits["dev"], rows["dev"], dev_choices)
    dev_pairs = [(pick(s, s, null_score)[1], right) for s, right in dev_scored]
    print(_report("dev", dev_counts))
    right = [r for p, r in dev_pairs if ranker.confidence(p) >= 0.8]
    share = _ratio(sum(right), len(right))
    print(f"dev quotes with confidence >= 0.8: {len(right)}, right {share:.3f}")
    if not args.check:
        document = {
            "version": ranker.version,
            "trained_on": "PolNeAR train",
            "regularisation": c_value,
            "bias": ranker.bias,
            "null_score": null_score,
            "calibration": calibration,
            "weights": dict(sorted(weights.items())),
        }
        MODEL_PATH.write_text(json.dumps(document, indent=0) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
