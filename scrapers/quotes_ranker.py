"""Choose who said a quote: candidate speaker mentions, their features, a learned ranker.

The rules in ``scrapers.quotes`` give one attribution per quote. Around each quote this
module gathers every mention that could be its speaker: the rules' own pick, the subject of
each cue verb near the quote, the speaker after an inverted cue ('," said X'), the names and
pronouns of the quote's sentence and the one before, and the attribution of the quote
before. Each candidate is described by sparse features (what kind of phrase it is, where it
stands, which rule found it, how it relates to cues and to the quote), and a linear model
trained on the PolNeAR training split (``bench/train_quotes.py``) scores them (trained on
pairs of candidates: the right one should outscore each wrong one); the best scoring one
is the speaker. The model's probability, calibrated on cross-validated training
quotes, is the quote's ``confidence``.

The model is a JSON file of feature weights beside this module (``quotes_model.json``),
evaluated in pure Python: loading it takes milliseconds and running it needs nothing but
the standard library.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from scrapers.quotes_lexicon import (
    AUXILIARIES,
    BELIEF_VERBS,
    CUE_VERBS,
    DETERMINERS,
    INVERTED_CUES,
    NAMING_CUES,
    ORGANISATION_WORDS,
)
from scrapers.quotes_speakers import (
    Attribution,
    Mention,
    cue_object,
    first_name_gender,
    is_outlet,
    subject_after,
    subject_before,
)

if TYPE_CHECKING:
    from scrapers.quotes import _Document, _Found
    from scrapers.quotes_marks import MarkedSpan

MODEL_PATH = Path(__file__).with_name("quotes_model.json")

_PRONOUN = re.compile(r"\b(?:[Hh]e|[Ss]he|[Tt]hey|I|[Ww]e|[Ii]t|[Hh]im|[Hh]er)\b")
_WINDOW_BEFORE = 500  # characters before the opening mark searched for candidates
_WINDOW_AFTER = 200  # characters after the closing mark
_MAX_CANDIDATES = 12
_LOWER_WORD = re.compile(r"(?<![\w'’-])[a-z]+(?![\w'’-])")


@dataclass
class Candidate:
    """One mention that may be a quote's speaker, with the attribution it would make."""

    attribution: Attribution
    origins: set[str] = field(default_factory=set)
    features: dict[str, float] = field(default_factory=dict)

    @property
    def mention(self) -> Mention:
        return self.attribution.mention


@dataclass(frozen=True)
class Ranker:
    """A linear scorer over candidate features, and the calibration of its probability."""

    weights: dict[str, float]
    bias: float
    calibration: tuple[tuple[float, float], ...]  # (probability at least, share right)
    version: str = "untrained"
    null_score: float = 0.0  # the score of "none of the candidates" in the softmax

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Ranker:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            weights=data["weights"],
            bias=data["bias"],
            calibration=tuple((a, b) for a, b in data["calibration"]),
            version=data["version"],
            null_score=data["null_score"],
        )

    def score(self, features: dict[str, float]) -> float:
        get = self.weights.get
        return self.bias + sum([get(name, 0.0) * value for name, value in features.items()])

    def choose(self, candidates: list[Candidate]) -> tuple[Candidate | None, float]:
        """The best candidate and its raw probability of being the speaker (``pick``)."""
        scores = [self.score(candidate.features) for candidate in candidates]
        return pick(candidates, scores, self.null_score)

    def confidence(self, probability: float) -> float:
        """The share of quotes with this raw probability whose speaker was right, on
        cross-validated training quotes (a step function, non-decreasing)."""
        table = self.calibration
        if not table:
            return round(probability, 2)
        index = bisect.bisect_right([edge for edge, _ in table], probability) - 1
        return round(table[max(index, 0)][1], 2)


def pick(candidates: list, scores: list[float], null_score: float) -> tuple:
    """The highest scoring candidate (the first, on a tie) and its probability: a softmax
    over the quote's candidates and a "none of them" scored ``null_score``, so that a lone
    candidate is not certain merely for being alone."""
    if not candidates:
        return None, 0.0
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    top = scores[best]
    total = sum(math.exp(max(-30.0, value - top)) for value in [*scores, null_score])
    return candidates[best], 1.0 / total


@cache
def default_ranker() -> Ranker:
    return Ranker.load()


def _bucket(distance: int) -> str:
    if distance <= 2:
        return "0"
    if distance <= 10:
        return "10"
    if distance <= 30:
        return "30"
    if distance <= 80:
        return "80"
    if distance <= 200:
        return "200"
    return "far"


class _Context:
    """Per-document lookups the candidate finder reuses from quote to quote."""

    def __init__(self, doc: _Document, cues: Callable, outside: Callable) -> None:
        self.doc = doc
        self.find_cues = cues
        self.outside = outside
        self._paragraph_cues: dict[int, list[tuple[int, int]]] = {}
        names = doc.entities._mentions
        self.names = [(m.start, m.end, m.subject) for m in names]
        self.subjects_at = {m.start for m in names if m.subject}
        self.name_starts = [m.start for m in names]
        self.cue_subjects: dict[tuple[int, int], list[tuple[Mention, str]]] = {}
        # words the text writes in lower case somewhere: 'Between' or 'Estimates' opening a
        # sentence is a word, not a name
        self.lower_words = frozenset(_LOWER_WORD.findall(doc.text))
        self.mention_features: dict[tuple[int, int, str], tuple[dict[str, float], bool]] = {}

    def cues(self, low: int, high: int) -> list[tuple[int, int]]:
        """Cue verbs outside quotation marks in [low, high), found a paragraph at a time
        and remembered: neighbouring quotes share their windows."""
        doc = self.doc
        found = []
        first, last = doc.paragraph_index(low), doc.paragraph_index(max(low, high - 1))
        for index in range(first, last + 1):
            cues = self._paragraph_cues.get(index)
            if cues is None:
                paragraph = doc.paragraphs[index]
                cues = [
                    c
                    for c in self.find_cues(doc.text, paragraph.start, paragraph.end)
                    if not doc._inside_quote(c[0])
                ]
                self._paragraph_cues[index] = cues
            found.extend(c for c in cues if low <= c[0] < high)
        return found


def _in_range(starts: list[int], items: list, low: int, high: int) -> list:
    return items[bisect.bisect_left(starts, low) : bisect.bisect_left(starts, high)]


def _cue_subjects(doc: _Document, context: _Context, cue: tuple[int, int]):
    """The mentions a cue attributes to: its subject before it, or after an inverted cue."""
    known = context.cue_subjects.get(cue)
    if known is not None:
        return known
    text = doc.text
    start, end = doc.sentence(cue[0])
    found: list[tuple[Mention, str]] = []
    floor = max(start, cue[0] - 150)
    for piece_start, piece_end in context.outside(doc, floor, cue[0]):
        if piece_end == cue[0]:
            mention = subject_before(text, piece_start, cue[0])
            if mention is not None:
                found.append((mention, "cue_before"))
    word = text[cue[0] : cue[1]].lower()
    if word in INVERTED_CUES:
        mention = subject_after(text, cue[1], min(end, cue[1] + 120), inverted=True)
        if mention is not None:
            found.append((mention, "cue_after"))
    context.cue_subjects[cue] = found
    return found


def candidates(
    doc: _Document,
    context: _Context,
    index: int,
    span: MarkedSpan,
    found: _Found,
    previous: Attribution | None,
) -> list[Candidate]:
    """Every plausible speaker mention of one quote, with features."""
    text = doc.text
    open_mark = span.open_mark
    close = span.close_mark + 1 if span.close_mark is not None else span.end
    sentence_start, sentence_end = doc.sentence(open_mark)
    previous_start = doc.sentence(sentence_start - 1)[0] if sentence_start > 0 else 0
    paragraph = doc.paragraph_of(open_mark)
    _, after_end = doc.sentence(min(len(text) - 1, close + 2)) if close < len(text) else (0, close)
    low = max(previous_start, open_mark - _WINDOW_BEFORE)
    high = min(max(sentence_end, after_end), close + _WINDOW_AFTER)
    found_by_span: dict[tuple[int, int], Candidate] = {}

    def add(attribution: Attribution, origin: str) -> None:
        mention = attribution.mention
        if mention.end <= mention.start:
            return
        key = (mention.start, mention.end)
        candidate = found_by_span.get(key)
        if candidate is None:
            candidate = found_by_span[key] = Candidate(attribution)
        elif origin == "rule":
            candidate.attribution = attribution
        candidate.origins.add(origin)

    if found.attribution is not None:
        add(found.attribution, "rule")
    if previous is not None:
        add(previous, "previous")
    cues = context.cues(low, high + 40)
    for cue in cues:
        if cue[0] >= high:
            break
        for mention, origin in _cue_subjects(doc, context, cue):
            if low <= mention.start < high:
                cue_text, via = cue_object(text, cue, high)
                add(Attribution(mention, cue_text, cue[0], via), origin)
    for start, end, _subject in _in_range(context.name_starts, context.names, low, high):
        add(Attribution(Mention(start, end, "name"), "", start, None), "entity")
    for match in _PRONOUN.finditer(text, low, high):
        start, end = match.span()
        if text[start:end].lower() in {"him", "her"} or doc._inside_quote(start):
            continue
        add(Attribution(Mention(start, end, "pronoun"), "", start, None), "pronoun")
    found_list = list(found_by_span.values())
    if len(found_list) > _MAX_CANDIDATES:
        found_list.sort(key=lambda c: _distance(c.mention, open_mark, close))
        found_list = found_list[:_MAX_CANDIDATES]
    sentence = (sentence_start, sentence_end)
    _describe(doc, context, cues, found_list, span, found, sentence, paragraph)
    return found_list


def _distance(mention: Mention, open_mark: int, close: int) -> int:
    if mention.end <= open_mark:
        return open_mark - mention.end
    if mention.start >= close:
        return mention.start - close
    return 0


def _describe(doc, context, cues, found, span, rule, sentence, paragraph) -> None:
    text = doc.text
    open_mark = span.open_mark
    close = span.close_mark + 1 if span.close_mark is not None else span.end
    words = len(text[span.start : span.end].split())
    quote_shape = "short" if words <= 3 else "long"
    opens_paragraph = open_mark == paragraph.start
    inner_end = text[span.end - 1 : span.end]
    lead = _lead(text, open_mark, paragraph.start)
    ranks: dict[str, list[tuple[int, int]]] = {}  # side and kind -> (distance, index)
    placed = []  # (side, distance) of each candidate
    for index, candidate in enumerate(found):
        mention = candidate.mention
        side = "after" if mention.start >= close else "before" if mention.end <= open_mark else "in"
        distance = _distance(mention, open_mark, close)
        placed.append((side, distance))
        ranks.setdefault(side + mention.kind, []).append((distance, index))
    rank_of = [""] * len(found)
    for group in ranks.values():
        group.sort(key=lambda pair: pair[0])
        for rank, (_, index) in enumerate(group):
            rank_of[index] = "rank" + str(min(rank, 3))
    for candidate, (side, distance), rank in zip(found, placed, rank_of, strict=True):
        mention = candidate.mention
        said = text[mention.start : mention.end]
        low = said.lower()
        features = candidate.features
        features[rank] = 1.0
        kind = mention.kind
        in_sentence = (
            mention.start >= sentence[0]
            if side == "before"
            else (mention.start < max(sentence[1], close + 3))
        )
        if in_sentence:
            where = "sent"
        elif side == "after":
            where = "next"
        elif mention.start >= paragraph.start:
            where = "prevsent"
        else:
            where = "prevpara"
        position = f"{side}_{where}_{_bucket(distance)}"
        features.update(
            {
                "bias_" + kind: 1.0,
                "pos=" + position: 1.0,
                f"pos={side}_{where}&{kind}": 1.0,
                f"{rank}&{side}&{kind}": 1.0,
                f"qshape={quote_shape}&{side}_{where}": 1.0,
                f"qend={inner_end in ',.!?'}&{side}": 1.0,
                f"qopens={opens_paragraph}&{side}_{where}&{kind}": 1.0,
                "logdist": math.log1p(distance) / 6,
            }
        )
        for origin in candidate.origins:
            features["o=" + origin] = 1.0
            features[f"o={origin}&{side}_{where}"] = 1.0
            if origin == "rule":
                features["rule_how=" + rule.how] = 1.0
        features[f"norigins={min(len(candidate.origins), 3)}"] = 1.0
        if rule.attribution is None:
            features["norule&" + side] = 1.0
        own, subject = _mention_features(doc, context, mention)
        features.update(own)
        if kind == "pronoun":
            features[f"pw={low}&{side}_{where}"] = 1.0
        if subject:
            features[f"subject&{side}_{where}&{kind}"] = 1.0
        between = _between(doc._quoted_starts, mention, open_mark, close)
        features[f"qbetween={min(between, 2)}&{side}"] = 1.0
        sentences = _between(doc.boundaries, mention, open_mark, close, bisect.bisect_right)
        features[f"sents={min(sentences, 3)}&{side}&{kind}"] = 1.0
        features[f"qhow={rule.how}&{side}_{where}&{kind}"] = 1.0
        features[f"qlead={lead}&{side}&{kind}"] = 1.0
        cue = _adjacent_cue(cues, text, mention)
        if cue is not None and not candidate.attribution.cue:
            cue_text, via = cue_object(text, cue, min(len(text), cue[1] + 80))
            candidate.attribution = Attribution(mention, cue_text, cue[0], via)
        if cue is not None:
            verb = text[cue[0] : cue[1]].lower()
            kind_of_cue = (
                "belief"
                if verb in BELIEF_VERBS
                else "naming"
                if verb in NAMING_CUES
                else "said"
                if verb in {"said", "says", "say", "told", "tells"}
                else "other"
            )
            features["cue=" + kind_of_cue] = 1.0
            features[f"cue&{side}_{where}"] = 1.0


def _mention_features(
    doc: _Document, context: _Context, mention: Mention
) -> tuple[dict[str, float], bool]:
    """The features a mention has wherever it stands (its words and shape), and whether it
    opens a sentence; worked out once per document, as neighbouring quotes share mentions."""
    key = (mention.start, mention.end, mention.kind)
    known = context.mention_features.get(key)
    if known is not None:
        return known
    text = doc.text
    said = text[mention.start : mention.end]
    low = said.lower()
    kind = mention.kind
    features: dict[str, float] = {}
    if kind == "pronoun":
        features["pw=" + low] = 1.0
    first = low.split(" ", 1)[0]
    last = low.rsplit(" ", 1)[-1].strip(".,")
    n_words = len(said.split())
    features[f"nwords={min(n_words, 5)}&{kind}"] = 1.0
    if is_outlet(said):
        features["outlet"] = 1.0
    if first in DETERMINERS:
        features["det=" + first if first in {"the", "a", "an"} else "det=other"] = 1.0
    if said.endswith(("’s", "'s", "’", "'")):
        features["possessive"] = 1.0
    if any(word in ORGANISATION_WORDS for word in low.split()):
        features["org"] = 1.0
    if last in {"statement", "release", "ad", "video", "report", "poll", "survey"}:
        features["document"] = 1.0
    if kind == "name" and n_words == 1 and said.isupper():
        features["acronym"] = 1.0
    before = text[max(0, mention.start - 2) : mention.start]
    subject = (
        mention.start == 0
        or before.endswith(("\n", ". ", '" ', "” "))
        or mention.start in context.subjects_at
    )
    if subject:
        features["subject"] = 1.0
    if kind == "name" and n_words == 1 and low.endswith(("ed", "ing", "ly")):
        features["verb_shape"] = 1.0
    if kind != "pronoun":
        _name_shape(doc, context, said, features)
    context.mention_features[key] = (features, subject)
    return features, subject


def _name_shape(doc: _Document, context: _Context, said: str, features: dict) -> None:
    """What a name or description looks like: a word the text also writes in lower case
    ('Between', 'Estimates'), a known first name, a headline in capitals, a person the
    document names more than once."""
    words = said.split()
    first = words[0].strip(".,’'")
    if first.lower() in context.lower_words and first[:1].isupper():
        features[f"first_lower_elsewhere&{min(len(words), 3)}"] = 1.0
    if first_name_gender(first):
        features["first_name"] = 1.0
    if len(words) > 2 and said.isupper():
        features["headline"] = 1.0
    if doc.entities.is_person(said):
        features["person"] = 1.0
    lower = [word.lower() for word in words[1:]]
    if any(word in AUXILIARIES or word.endswith(("n’t", "n't")) for word in lower):
        features["runs_into_verb"] = 1.0  # 'The timing of the surge doesn’t'
    if first.lower() in {"what", "who", "why", "how", "where", "when", "which"}:
        features["question_word"] = 1.0


def _between(
    marks: list[int], mention: Mention, open_mark: int, close: int, side=bisect.bisect_left
) -> int:
    """How many of the sorted positions ``marks`` lie between a mention and the quote
    (``side``, bisect_left or bisect_right, says on which side of a bound a mark counts)."""
    if mention.end <= open_mark:
        return side(marks, open_mark) - side(marks, mention.end)
    if mention.start >= close:
        return side(marks, mention.start) - side(marks, close)
    return 0


def _lead(text: str, open_mark: int, floor: int) -> str:
    """What stands right before the opening mark: a cue verb, a colon, the paragraph's
    start, a comma, or other words."""
    before = text[max(floor, open_mark - 30) : open_mark].rstrip()
    if not before:
        return "start"
    if before.endswith(":"):
        return "colon"
    if before.endswith(","):
        return "comma"
    words = before.split()
    if words and words[-1].lower() in CUE_VERBS | {"that"}:
        return "cue" if words[-1].lower() != "that" else "that"
    if words and words[-1].lower() in NAMING_CUES:
        return "naming"
    return "words"


def _adjacent_cue(
    cues: list[tuple[int, int]], text: str, mention: Mention
) -> tuple[int, int] | None:
    """A cue verb within a few words after the mention ('X said', 'X has also said'), or
    right before it ('said X')."""
    index = bisect.bisect_left(cues, (mention.end, 0))
    if index < len(cues):
        cue = cues[index]
        gap = text[mention.end : cue[0]]
        if len(gap) <= 25 and len(gap.split()) <= 3 and not re.search(r"[.;:!?\"“”]", gap):
            return cue
    if index:
        cue = cues[index - 1]
        gap = text[cue[1] : mention.start]
        if cue[1] <= mention.start and len(gap) <= 3 and gap.strip() in {"", ","}:
            return cue
    return None
