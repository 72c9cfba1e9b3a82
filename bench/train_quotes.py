"""Train the speaker ranker of ``scrapers.quotes_ranker`` on PolNeAR's training split.

Run from the repository root (scikit-learn comes with the ``train`` extra):

    .venv/bin/python -m bench.train_quotes [--check]

For every quote the rules keep, each candidate speaker mention is labelled by the corpus's
own test (the mention overlaps the quote's gold Source, at least half inside it). A logistic
regression over differences of the candidates' features (right minus wrong, per quote) is
cross-validated on the training split (five folds, articles grouped by text, so no text is
both trained and tested on) to pick its regularisation and to get out-of-fold scores. The
score of "none of them" is fitted to those scores (``quotes_ranker.pick``). Then the keep
model (``Ranker.keep``): a logistic regression, on the same folds, of whether each quote's
out-of-fold choice was a right pair, from the quote's own features, the ranker's
probability and the chosen candidate; its regularisation and the threshold below which a
quote is not reported are, among thresholds that lose at most ``MAX_QUOTES_LOST`` of the
quotes found, the most precise of those within ``F1_TIE`` of the best cross-validated pair
F1; an isotonic fit of its out-of-fold probabilities of the quotes kept to whether they
were right is the calibration. A quote whose speaker the rules name right beside the cue
(``scrapers.quotes.beside_cue``) is reported with the rules' speaker, whatever the models
say; its confidence is the share of such quotes right on the training split (the lower
end of its 90% Wilson interval), and the ranker still learns from it. ``--holdout``
leaves a sixth of the training texts out of all of this and scores them at the end, in
dev's place.
The model is then fitted on the whole split and written to
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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quotes import (
    DATA,
    Article,
    Counts,
    Prediction,
    _f1,
    _mention_matches,
    _predictions,
    _ratio,
    evaluate,
    score,
    text_of,
)
from bench.quotes import load_articles as load
from scrapers.quotes import beside_cue, find_quotes_with
from scrapers.quotes_ranker import MODEL_PATH, Ranker, pick, ranked

FOLDS = 5
C_VALUES = (0.3, 1.0)
KEEP_C_VALUES = (0.1, 0.3, 1.0)
# A quote is reported when its keep probability reaches a threshold that leaves out at most
# this share of the gold quotes the rules find: dropping a quote whose speaker is a guess
# raises pair precision (a misattributed quote is the worst thing the archive can publish),
# but an archive that drops real quotes loses what it is for, so the threshold stays low:
# what falls below it is mostly headlines, titles and scare-quoted words, and quotes whose
# speaker is a guess ("Thursday", "the"). The words stay in the archived text and in the
# document index; only the quote record is not made. At 5% the threshold was 0.5: it
# dropped a full-sentence quote beside its cue ('Said Varga: "The levee held."') and cost
# dev 0.8 points of pair F1; at 4% it is 0.4.
MAX_QUOTES_LOST = 0.04
# Among those thresholds, the ones whose cross-validated pair F1 is within this of the best
# are tied (F1 is flat over a wide band: from 0.3 to 0.5 it moved by two thousandths at
# most while precision rose by nearly two points), and the most precise of them is taken.
F1_TIE = 0.001
# Each step of the calibration stands on at least this many training quotes: a handful of
# quotes just over the threshold, all wrong, made a step of confidence 0.0 for quotes that
# are reported all the same.
MIN_STEP = 20


class Tried(NamedTuple):
    """One keep model and threshold, cross-validated on the training split."""

    f1: float  # quote+speaker pairs
    precision: float
    quotes: float  # the share of gold quotes found
    keep_c: float
    threshold: float


@dataclass
class QuoteRows:
    """One kept quote of one text: its span and its candidates (features, mention span)."""

    span: tuple[int, int]
    features: list[dict[str, float]]
    mentions: list[tuple[int, int]]
    quote: dict[str, float]  # the quote's own features, for the keep model
    # the rules' speaker mention when they decide the quote themselves (``beside_cue``):
    # the ranker learns from the quote, but it is reported with the rules' speaker
    beside: tuple[int, int] | None = None

    def mention(self, best: int | None) -> tuple[int, int] | None:
        """The span of the candidate at index ``best``; None for no candidate."""
        return self.mentions[best] if best is not None else None


def _candidate_rows(text: str) -> list[QuoteRows]:
    rows: list[QuoteRows] = []

    def trace(span, found, options, described) -> None:
        rows.append(
            QuoteRows(
                (span.start, span.end),
                [dict(c.features) for c in options],
                [(c.mention.start, c.mention.end) for c in options],
                dict(described),
                (found.attribution.mention.start, found.attribution.mention.end)
                if beside_cue(text, span, found)
                else None,
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
        quotes = rows_by_text[text_of(article)]
        chosen = choices[text_of(article)]
        predictions = []
        for quote, (best, scores) in zip(quotes, chosen, strict=True):
            predictions.append(Prediction(quote.span, quote.mention(best)))
            counts, _ = score(article, [predictions[-1]])
            pairs.append((scores, counts.pair_correct))
        counts, _ = score(article, predictions)
        total += counts
    return total, pairs


def _report(name: str, counts: Counts) -> str:
    precision = _ratio(counts.pair_correct, counts.predicted)
    recall = _ratio(counts.pair_found, counts.gold_with_source)
    quotes = _ratio(counts.quote_found, counts.gold)
    return (
        f"{name}: quote+speaker P {precision:.3f} R {recall:.3f}"
        f" F1 {_f1(precision, recall):.3f}; quote R {quotes:.3f}"
    )


def _calibration(pairs: list[tuple[float, int]]) -> list[list[float]]:
    """A rising step function from raw probability to the share right: isotonic blocks of
    the out-of-fold pairs, each valued at the lower end of its 90% Wilson interval, so that
    a confidence errs low rather than high on texts not trained on."""
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
    # Pooled again where a block's lower bound is not above the one below it (a small
    # block above a large one is sure of less), or where the block below stands on fewer
    # than MIN_STEP quotes, so that the steps rise and every one stands on as many quotes
    # as it needs.
    pooled: list[list[float]] = []  # [first probability, right, total]
    for edge, right, total, _ in blocks:
        pooled.append([edge, right, total])
        while len(pooled) > 1 and (
            pooled[-2][2] < MIN_STEP or _wilson_low(*pooled[-1][1:]) <= _wilson_low(*pooled[-2][1:])
        ):
            _pool_last(pooled)
    if len(pooled) > 1 and pooled[-1][2] < MIN_STEP:
        _pool_last(pooled)  # the top step too: it can only raise the one below
    return [[round(edge, 4), round(_wilson_low(right, total), 3)] for edge, right, total in pooled]


def _pool_last(pooled: list[list[float]]) -> None:
    """Fold the last block's quotes into the block below it."""
    _, right, total = pooled.pop()
    pooled[-1][1] += right
    pooled[-1][2] += total


def _wilson_low(right: float, total: float, z: float = 1.645) -> float:
    share = right / total
    centre = share + z * z / (2 * total)
    margin = z * ((share * (1 - share) + z * z / (4 * total)) / total) ** 0.5
    return max(0.0, (centre - margin) / (1 + z * z / total))


def _keep_rows(articles, rows_by_text, choices):
    """Per predicted quote of every article: (text name, quote, its index in the text, the
    candidates' scores, whether the chosen speaker is right)."""
    rows = []
    for article in articles:
        name = text_of(article)
        pairs = zip(rows_by_text[name], choices[name], strict=True)
        for index, (quote, (best, scores)) in enumerate(pairs):
            counts, _ = score(article, [Prediction(quote.span, quote.mention(best))])
            rows.append((name, quote, index, scores, counts.pair_correct))
    return rows


def _beside_rights(articles, rows_by_text) -> list[int]:
    """Whether the rules' speaker is right (1) or not (0), for each quote they decide
    beside its cue; a quote that is no gold quote counts as wrong."""
    rights = []
    for article in articles:
        for quote in rows_by_text[text_of(article)]:
            if quote.beside:
                counts, _ = score(article, [Prediction(quote.span, quote.beside)])
                rights.append(counts.pair_correct)
    return rights


def _keep_features(quote: QuoteRows, scores: list[float], null_score: float):
    best, probability = pick(list(range(len(scores))), scores, null_score)
    return {**quote.quote, **ranked(probability, _chosen(quote, best))}


def _chosen(quote: QuoteRows, best: int | None) -> dict[str, float] | None:
    return quote.features[best] if best is not None else None


def _fit_keep(rows, null_score: float, c_value: float):
    """A logistic regression: is the quote a quote with its chosen speaker right."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = DictVectorizer()
    matrix = vectorizer.fit_transform(
        [_keep_features(quote, scores, null_score) for _, quote, _, scores, _ in rows]
    )
    model = LogisticRegression(C=c_value, max_iter=5000, fit_intercept=False)
    model.fit(matrix, [right for *_, right in rows])
    names = vectorizer.get_feature_names_out()
    return {
        str(name): round(float(w), 4)
        for name, w in zip(names, model.coef_[0], strict=True)
        if round(float(w), 4)
    }


def _kept_counts(articles, rows_by_text, choices, kept_by_text, threshold: float) -> Counts:
    """Pair counts when the quotes whose keep probability is below ``threshold`` are not
    reported, as the finder reports them: a quote beside its cue with the rules' speaker,
    whatever its keep probability."""
    total = Counts()
    for article in articles:
        name = text_of(article)
        predictions = [
            Prediction(quote.span, quote.beside or quote.mention(best))
            for quote, (best, _), kept in zip(
                rows_by_text[name], choices[name], kept_by_text[name], strict=True
            )
            if quote.beside or kept >= threshold
        ]
        counts, _ = score(article, predictions)
        total += counts
    return total


def _keep_probabilities(ranker: Ranker, rows_by_text, choices) -> dict[str, list[float]]:
    return {
        name: [
            ranker.keep(
                quote.quote,
                pick(scores, scores, ranker.null_score)[1],
                _chosen(quote, pick(list(range(len(scores))), scores, ranker.null_score)[0]),
            )
            for quote, (_, scores) in zip(quotes, choices[name], strict=True)
        ]
        for name, quotes in rows_by_text.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="score without writing the model")
    parser.add_argument(
        "--holdout",
        action="store_true",
        help="leave a sixth of the training texts out of everything and score them at the end"
        " (implies --check)",
    )
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
    if args.holdout:
        args.check = True
        held = [a for a in splits["train"] if _held_out(text_of(a))]
        splits = {
            "train": [a for a in splits["train"] if not _held_out(text_of(a))],
            "dev": held,  # scored in dev's place; dev itself is not looked at
        }
    rows = {
        split: {text_of(a): _candidate_rows(a.text) for a in articles}
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
        choices: dict[str, list[tuple[int | None, list[float]]]] = {}
        for fold in range(FOLDS):
            fitted = [
                (a, q)
                for a in train
                if fold_of[text_of(a)] != fold
                for q in rows["train"][text_of(a)]
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
            best = (f1, c_value, pairs, choices)
    _, c_value, scored, oof_choices = best
    null_score = _null_score(scored)
    # The keep model, cross-validated on the same folds over the ranker's out-of-fold
    # choices: its probabilities pick the threshold and are what the calibration maps.
    keep_rows = _keep_rows(train, rows["train"], oof_choices)
    results: list[Tried] = []
    keep_oofs: dict[float, dict[str, list[float]]] = {}
    for keep_c in KEEP_C_VALUES:
        keep_oof: dict[str, list[float]] = {}
        for fold in range(FOLDS):
            fitted = [row for row in keep_rows if fold_of[row[0]] != fold]
            fold_ranker = Ranker({}, 0.0, (), null_score=null_score)
            fold_ranker = replace(fold_ranker, keep_weights=_fit_keep(fitted, null_score, keep_c))
            fold_rows = {name: rows["train"][name] for name in texts if fold_of[name] == fold}
            keep_oof.update(_keep_probabilities(fold_ranker, fold_rows, oof_choices))
        for step in range(0, 61, 5):
            candidate = step / 100
            counts = _kept_counts(train, rows["train"], oof_choices, keep_oof, candidate)
            precision = _ratio(counts.pair_correct, counts.predicted)
            recall = _ratio(counts.pair_found, counts.gold_with_source)
            print(_report(f"  keep C={keep_c:<4} >= {candidate:.2f} cross-validated train", counts))
            quotes = _ratio(counts.quote_found, counts.gold)
            results.append(Tried(_f1(precision, recall), precision, quotes, keep_c, candidate))
            keep_oofs[keep_c] = keep_oof
    # the most precise of the thresholds within F1_TIE of the best F1, among those that
    # lose few of the quotes found
    every_quote = max(tried.quotes for tried in results)
    allowed = [tried for tried in results if tried.quotes >= every_quote - MAX_QUOTES_LOST]
    best_f1 = max(tried.f1 for tried in allowed)
    chosen = max(
        (tried for tried in allowed if tried.f1 >= best_f1 - F1_TIE),
        key=lambda tried: (tried.precision, -tried.threshold),
    )
    keep_c, threshold = chosen.keep_c, chosen.threshold
    keep_oof = keep_oofs[keep_c]
    calibration = _calibration(  # of the quotes the ranker decides
        [
            (keep_oof[name][i], right)
            for name, quote, i, _, right in keep_rows
            if keep_oof[name][i] >= threshold and not quote.beside
        ]
    )
    beside = _beside_rights(train, rows["train"])
    beside_confidence = round(_wilson_low(sum(beside), len(beside)), 3)
    model = _fit(vectorizer, [(a, q) for a in train for q in rows["train"][text_of(a)]], c_value)
    names = vectorizer.get_feature_names_out()
    weights = {
        str(name): round(float(w), 4)
        for name, w in zip(names, model.coef_[0], strict=True)
        if round(float(w), 4)
    }
    keep_weights = _fit_keep(keep_rows, null_score, keep_c)
    # the version names everything that shapes what the finder reports, confidence included
    reported = [weights, keep_weights, threshold, beside_confidence, calibration]
    digest = hashlib.sha256(json.dumps(reported, sort_keys=True).encode()).hexdigest()[:8]
    ranker = Ranker(
        weights=weights,
        bias=0.0,
        calibration=tuple((a, b) for a, b in calibration),
        version=f"ranker-{digest}",
        null_score=null_score,
        keep_weights=keep_weights,
        keep_threshold=threshold,
        beside_confidence=beside_confidence,
    )
    print(
        f"chose C={c_value}; {len(weights)} features; none-of-them score {null_score};"
        f" keep model C={keep_c}, {len(keep_weights)} features, threshold {threshold};"
        f" calibration steps {len(calibration)}; quotes beside their cue {len(beside)},"
        f" right {_ratio(sum(beside), len(beside)):.3f}, confidence {beside_confidence}"
    )
    held = "held-out train" if args.holdout else "dev"
    dev_choices = {}
    for name, quotes in rows["dev"].items():
        dev_choices[name] = [_choose(vectorizer, model, q) for q in quotes]
    dev_counts, _ = _evaluate(splits["dev"], rows["dev"], dev_choices)
    print(_report(f"{held}, every quote", dev_counts))
    dev_kept = _keep_probabilities(ranker, rows["dev"], dev_choices)
    dev_counts = _kept_counts(splits["dev"], rows["dev"], dev_choices, dev_kept, threshold)
    print(_report(f"{held}, kept quotes", dev_counts))
    if args.holdout:  # the held-out texts at every threshold, to see how the choice holds
        for step in range(0, 61, 5):
            counts = _kept_counts(splits["dev"], rows["dev"], dev_choices, dev_kept, step / 100)
            print(_report(f"  {held}, keep >= {step / 100:.2f}", counts))
    dev_rows = _keep_rows(splits["dev"], rows["dev"], dev_choices)
    right = [
        right
        for name, quote, i, _, right in dev_rows
        if not quote.beside
        and dev_kept[name][i] >= threshold
        and ranker.confidence(dev_kept[name][i]) >= 0.8
    ]
    if beside_confidence >= 0.8:
        right += _beside_rights(splits["dev"], rows["dev"])
    share = _ratio(sum(right), len(right))
    print(f"{held} quotes with confidence >= 0.8: {len(right)}, right {share:.3f}")
    # the figure bench.quotes prints: every quote, those the ranker does not decide too
    # (a transcript's labelled lines)
    finder = evaluate(
        lambda text: _predictions(find_quotes_with(text, None, ranker)), splits["dev"]
    )
    print(_report(f"{held}, the whole finder", finder.counts))
    if not args.check:
        document = {
            "version": ranker.version,
            "trained_on": "PolNeAR train",
            "regularisation": c_value,
            "bias": ranker.bias,
            "null_score": null_score,
            "calibration": calibration,
            "keep": {
                "regularisation": keep_c,
                "threshold": threshold,
                "weights": dict(sorted(keep_weights.items())),
            },
            "weights": dict(sorted(weights.items())),
            "beside_cue": {
                "quotes": len(beside),
                "right": sum(beside),
                "confidence": beside_confidence,
            },
        }
        MODEL_PATH.write_text(json.dumps(document, indent=0) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_PATH}")
    return 0


def _held_out(name: str) -> bool:
    """A sixth of the training texts, by a hash of the name unrelated to the folds."""
    return int(hashlib.sha256(("held out " + name).encode()).hexdigest(), 16) % 6 == 0


if __name__ == "__main__":
    raise SystemExit(main())
