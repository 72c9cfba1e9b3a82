"""Choose who said a quote: candidate speaker mentions, their features, a learned ranker.

The rules in ``scrapers.quotes`` give one attribution per quote. Around each quote this
module gathers every mention that could be its speaker: the rules' own pick, the subject of
each cue verb near the quote, the speaker after an inverted cue ('," said X'), the names and
pronouns of the quote's sentence and the one before, and the attribution of the quote
before. Each candidate is described by sparse features (what kind of phrase it is, where it
stands, which rule found it, how it relates to cues and to the quote), and a linear model
trained on the PolNeAR training split (``bench/train_quotes.py``) scores them (trained on
pairs of candidates: the right one should outscore each wrong one); the best scoring one
is the speaker. A second linear model, the keep model, reads the quote itself
(``quote_features``: its length, whether it makes a clause, capitals and punctuation, the
word before it, a headline, how the rules attributed it) beside the ranker's probability
and the chosen candidate, and gives the probability that this is a quote with the right
speaker: quoted words below its threshold (scare quotes, titles, guesses) are not
reported, and above it that probability, calibrated on cross-validated training quotes,
is the quote's ``confidence``.

The model is a JSON file of feature weights beside this module (``quotes_model.json``),
evaluated in pure Python: loading it takes milliseconds and running it needs nothing but
the standard library.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from scrapers.quotes_lexicon import (
    ANONYMOUS_HEADS,
    AUXILIARIES,
    BELIEF_VERBS,
    CUE_VERBS,
    DETERMINERS,
    INVERTED_CUES,
    NAMING_CUES,
    ORGANISATION_WORDS,
)
from scrapers.quotes_speakers import (
    STANDALONE,
    TITLE_WORDS,
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
_GOVERNED_AFTER = 40  # characters after the closing mark where a cue still governs it
_CUE_OR_THAT = CUE_VERBS | {"that"}
# words that make a description someone: a role ('a senior aide'), a title, a pronoun's
# stand-in ('another', 'one'); lower case, as descriptions are compared
_PERSON_WORDS = ANONYMOUS_HEADS | TITLE_WORDS | STANDALONE
_GAP_STOP = re.compile(r"[.;:!?\"“”]")  # ends the words between a mention and its cue


@dataclass
class Candidate:
    """One mention that may be a quote's speaker, with the attribution it would make."""

    attribution: Attribution
    origins: set[str] = field(default_factory=set)
    features: dict[str, float] = field(default_factory=dict)
    cues: set[int] = field(default_factory=set)  # starts of the cues it is the subject of

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
    # The keep model: the probability that a quote is a quote and its chosen speaker right,
    # from the quote's own features and the ranker's probability; below the threshold the
    # quoted words are not reported as a quote.
    keep_weights: dict[str, float] = field(default_factory=dict)
    keep_threshold: float = 0.0
    # The share of quotes right whose speaker the rules name right beside the cue
    # (``scrapers.quotes.beside_cue``), which the ranker leaves to them; None when
    # untrained (the rules' own confidence is given then).
    beside_confidence: float | None = None

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Ranker:
        data = json.loads(path.read_text(encoding="utf-8"))
        keep = data.get("keep", {})
        return cls(
            weights=data["weights"],
            bias=data["bias"],
            calibration=tuple((a, b) for a, b in data["calibration"]),
            version=data["version"],
            null_score=data["null_score"],
            keep_weights=keep.get("weights", {}),
            keep_threshold=keep.get("threshold", 0.0),
            beside_confidence=data.get("beside_cue", {}).get("confidence"),
        )

    def keep(
        self,
        features: dict[str, float],
        probability: float,
        chosen: dict[str, float] | None = None,
    ) -> float:
        """The probability that a quote with these features (``quote_features``), whose
        speaker the ranker chose with ``probability`` (the chosen candidate's features
        ``chosen``), is a quote with the right speaker; the ranker's own probability when
        there is no keep model."""
        if not self.keep_weights:
            return probability
        value = _dot(self.keep_weights, features) + _dot(self.keep_weights, ranked(probability))
        if chosen:  # ranked()'s c_ features, read off the weights of the chosen candidate's
            get = self._chosen_weights.get
            value += sum(map(get, chosen, itertools.repeat(0.0)))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, value))))

    @cached_property
    def _chosen_weights(self) -> dict[str, float]:
        """The keep model's weights of the chosen candidate's features, by their name in
        the candidate ('c_o=rule' as 'o=rule')."""
        return {name[2:]: w for name, w in self.keep_weights.items() if name.startswith("c_")}

    def score(self, features: dict[str, float]) -> float:
        return self.bias + _dot(self.weights, features)

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


def _dot(weights: dict[str, float], features: dict[str, float]) -> float:
    """The sum of each feature's value times its weight (0 for a feature not weighted),
    in the features' order (the same sum, to the last bit, however it is computed)."""
    return sum(
        map(operator.mul, map(weights.get, features, itertools.repeat(0.0)), features.values())
    )


def ranked(probability: float, chosen: dict[str, float] | None = None) -> dict[str, float]:
    """The ranker's choice as features of the keep model: its probability's log-odds and
    band, and the chosen candidate's own features that stand alone (its kind, which rules
    found it, where it stands), renamed ``c_...``."""
    clipped = min(max(probability, 1e-4), 1 - 1e-4)
    band = "none" if probability <= 0 else str(min(int(probability * 10), 9))
    found = {"r_logit": math.log(clipped / (1 - clipped)) / 4, "r_band=" + band: 1.0}
    for name in chosen or ():
        if "&" not in name and name != "logdist":
            found["c_" + name] = 1.0
    return found


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
        # by paragraph: its cues, and where they start
        self._paragraph_cues: dict[int, tuple[list[tuple[int, int]], list[int]]] = {}
        names = doc.entities._mentions
        self.names = [(m.start, m.end, m.subject) for m in names]
        self.subjects_at = {m.start for m in names if m.subject}
        self.name_starts = [m.start for m in names]
        self.cue_subjects: dict[tuple[int, int], list[tuple[Mention, str]]] = {}
        # words the text writes in lower case somewhere: 'Between' or 'Estimates' opening a
        # sentence is a word, not a name
        self._lower_words: dict[str, bool] = {}
        self._opening_words: dict[str, bool] = {}
        self.mention_features: dict[tuple[int, int, str], tuple[dict[str, float], bool]] = {}
        self.marked_in_paragraph = Counter(span.paragraph for span in doc.spans)

    def written_lower(self, word: str) -> bool:
        """Whether the text writes ``word`` (lower case letters) as a word of its own."""
        known = self._lower_words.get(word)
        if known is None:
            known = word.isascii() and word.isalpha() and word.islower()
            known = known and next(_standing_alone(self.doc.text, word), None) is not None
            self._lower_words[word] = known
        return known

    def only_opens(self, word: str) -> bool:
        """Whether the text writes ``word`` only where a sentence opens ('Much of ...',
        'Take the ...'): a capital that may be the sentence's, not a name's."""
        known = self._opening_words.get(word)
        if known is None:
            text = self.doc.text
            known = self._opening_words[word] = all(
                at == 0 or _OPENS.search(text, max(0, at - 6), at) is not None
                for at in _standing_alone(text, word)
            )
        return known

    def cues(self, low: int, high: int) -> list[tuple[int, int]]:
        """Cue verbs outside quotation marks in [low, high), found a paragraph at a time
        and remembered: neighbouring quotes share their windows."""
        doc = self.doc
        found = []
        first, last = doc.paragraph_index(low), doc.paragraph_index(max(low, high - 1))
        for index in range(first, last + 1):
            known = self._paragraph_cues.get(index)
            if known is None:
                paragraph = doc.paragraphs[index]
                cues = [
                    c
                    for c in self.find_cues(doc.text, paragraph.start, paragraph.end)
                    if not doc._inside_quote(c[0])
                ]
                known = self._paragraph_cues[index] = (cues, [cue[0] for cue in cues])
            cues, starts = known
            found.extend(cues[bisect.bisect_left(starts, low) : bisect.bisect_left(starts, high)])
        return found


# what stands right before a word that opens a sentence: a line break, or a sentence's end
# and a space, past any opening mark or bracket
_OPENS = re.compile(r"(?:^|[\r\n]|[.!?:][\"”’')]*\s)[\s\"“‘'(]*\Z")


def _standing_alone(text: str, word: str) -> Iterator[int]:
    """Where ``text`` writes ``word`` as a word of its own, in order."""
    at = text.find(word)
    while at >= 0:
        if not (_word_char(text, at - 1) or _word_char(text, at + len(word))):
            yield at
        at = text.find(word, at + 1)


def _word_char(text: str, at: int) -> bool:
    """Whether the character at ``at`` (if any) continues a word: letter, digit, _, ' or -."""
    return 0 <= at < len(text) and (text[at].isalnum() or text[at] in "_'’-")


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


_LINE_BREAKS = re.compile(r"[^\S\r\n]*[\r\n]\s*")


def _after_quote(text: str, close: int) -> int:
    """A position in the sentence after a quote that ends at ``close``: the next
    paragraph's start when a line break (of any convention) follows, else two characters
    on, past the space after the closing mark."""
    breaks = _LINE_BREAKS.match(text, close)
    if breaks is not None:
        return min(len(text) - 1, breaks.end())
    return min(len(text) - 1, close + 2)


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
    _, after_end = doc.sentence(_after_quote(text, close)) if close < len(text) else (0, close)
    low = max(previous_start, open_mark - _WINDOW_BEFORE)
    high = min(max(sentence_end, after_end), close + _WINDOW_AFTER)
    found_by_span: dict[tuple[int, int], Candidate] = {}

    def add(attribution: Attribution, origin: str, cue: int | None = None) -> None:
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
        if cue is not None:
            candidate.cues.add(cue)

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
                add(Attribution(mention, cue_text, cue[0], via), origin, cue[0])
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
    # the quote's part of some feature names, written once
    quote_shape = f"qshape={quote_shape}&"
    quote_end = f"qend={inner_end in ',.!?'}&"
    opens = f"qopens={opens_paragraph}&"
    how = f"qhow={rule.how}&"
    lead_is = f"qlead={lead}"
    # the cues that govern the quote: the last before it in its sentence, the first after
    # it within a few words; their subjects are the mentions annotators name as a source
    before = [cue[0] for cue in cues if sentence[0] <= cue[0] and cue[1] <= open_mark]
    after = [cue[0] for cue in cues if close <= cue[0] <= close + _GOVERNED_AFTER]
    governing = {"before": before[-1] if before else None, "after": after[0] if after else None}
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
        placed_at = side + "_" + where  # the feature names below share these pieces
        side_kind = "&" + side + "&" + kind
        place_kind = placed_at + "&" + kind
        features["bias_" + kind] = 1.0
        features["pos=" + placed_at + "_" + _bucket(distance)] = 1.0
        features["pos=" + place_kind] = 1.0
        features[rank + side_kind] = 1.0
        features[quote_shape + placed_at] = 1.0
        features[quote_end + side] = 1.0
        features[opens + place_kind] = 1.0
        features["logdist"] = math.log1p(distance) / 6
        for origin in candidate.origins:
            features["o=" + origin] = 1.0
            features["o=" + origin + "&" + placed_at] = 1.0
            if origin == "rule":
                features["rule_how=" + rule.how] = 1.0
        features[f"norigins={min(len(candidate.origins), 3)}"] = 1.0
        for which, cue_start in governing.items():
            if cue_start in candidate.cues:
                features["gov=" + which] = 1.0
                features["gov=" + which + "&" + kind] = 1.0
        if rule.attribution is None:
            features["norule&" + side] = 1.0
        own, subject = _mention_features(doc, context, mention)
        features.update(own)
        if kind == "pronoun":
            features["pw=" + text[mention.start : mention.end].lower() + "&" + placed_at] = 1.0
        if subject:
            features["subject&" + place_kind] = 1.0
        between = _between(doc._quoted_starts, mention, open_mark, close)
        features[f"qbetween={min(between, 2)}&{side}"] = 1.0
        sentences = _between(doc.boundaries, mention, open_mark, close, bisect.bisect_right)
        features[f"sents={min(sentences, 3)}{side_kind}"] = 1.0
        features[how + place_kind] = 1.0
        features[lead_is + side_kind] = 1.0
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
    elif kind == "description" and not any(
        word.strip(".,’'") in _PERSON_WORDS for word in low.split()
    ):
        features["no_person_word"] = 1.0  # 'a snappy', 'Those stances': no one named
    if last in {"statement", "release", "ad", "video", "report", "poll", "survey"}:
        features["document"] = 1.0
    if kind == "name" and n_words == 1 and said.isupper():
        features["acronym"] = 1.0
    before = text[max(0, mention.start - 2) : mention.start]
    subject = (
        mention.start == 0
        or before.endswith(("\n", "\r", ". ", '" ', "” "))
        or mention.start in context.subjects_at
    )
    if subject:
        features["subject"] = 1.0
    if kind == "name" and n_words == 1 and low.endswith(("ed", "ing", "ly")):
        features["verb_shape"] = 1.0
    preceding = text[max(0, mention.start - 16) : mention.start].lower().split()
    if preceding and preceding[-1] in _PREPOSITIONS:
        # 'in Chicago', 'to Ukraine': a preposition's object; 'by' and 'according to' name
        # an agent
        agent = preceding[-1] == "by" or preceding[-2:] == ["according", "to"]
        features["after_agent" if agent else "after_prep"] = 1.0
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
    if first[:1].isupper() and context.written_lower(first.lower()):
        features[f"first_lower_elsewhere&{min(len(words), 3)}"] = 1.0
    if first_name_gender(first):
        features["first_name"] = 1.0
    elif len(words) == 1 and first[:1].isupper() and context.only_opens(first):
        features["only_opens"] = 1.0
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
    if words and words[-1].lower() in _CUE_OR_THAT:
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
        gap = text[mention.end : cue[0]] if cue[0] - mention.end <= 25 else None
        if gap is not None and len(gap.split()) <= 3 and not _GAP_STOP.search(gap):
            return cue
    if index:
        cue = cues[index - 1]
        gap = text[cue[1] : mention.start]
        if cue[1] <= mention.start and len(gap) <= 3 and gap.strip() in {"", ","}:
            return cue
    return None


_CLAUSE_WORDS = frozenset(  # words that make quoted words a clause, not a phrase
    [
        "i",
        "we",
        "you",
        "they",
        "he",
        "she",
        "it",
        "is",
        "are",
        "was",
        "were",
        "am",
        "be",
        "been",
        "have",
        "has",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
        "must",
        "do",
        "does",
        "did",
        "don’t",
        "don't",
        "not",
        "that",
        "this",
        "there",
        "what",
        "going",
        "want",
    ]
)
_PREPOSITIONS = frozenset(
    ["of", "on", "in", "for", "to", "as", "at", "by", "with", "from", "about", "into", "than"]
)
_TITLE_SMALL = frozenset(["of", "and", "the", "a", "an", "in", "on", "for", "to", "at", "by"])
_SIZES = ((1, "1"), (2, "2"), (3, "3"), (6, "6"), (12, "12"))  # words at most -> band
_ENDINGS = {**dict.fromkeys(".!?…", "stop"), **dict.fromkeys(",;:", "comma")}
_ENDINGS.update(dict.fromkeys("—–-", "dash"))


def _word_before(previous: str) -> str:
    """What kind of word stands right before an opening mark."""
    if not previous:
        return "none"
    for kind, words in (
        ("det", DETERMINERS),
        ("prep", _PREPOSITIONS),
        ("cue", CUE_VERBS),
        ("naming", NAMING_CUES),
        ("that", {"that"}),
    ):
        if previous in words:
            return kind
    return "colon" if previous.endswith(":") else "other"


def quote_features(
    doc: _Document, context: _Context, span: MarkedSpan, found: _Found
) -> dict[str, float]:
    """What the quoted words and their setting look like, whoever said them: whether this
    is a quote at all or a title, a name or a scare-quoted phrase (the keep model)."""
    text = doc.text
    quoted = text[span.start : span.end]
    words = quoted.split(None, 13)  # enough to tell the bands apart
    n_words = len(words)
    paragraph = doc.paragraphs[span.paragraph]
    close = span.close_mark + 1 if span.close_mark is not None else span.end
    size = next((band for most, band in _SIZES if n_words <= most), "long")
    lower = [word.strip(".,!?;:—–-“”\"’'()").lower() for word in words[:12]]
    clause = any(word in _CLAUSE_WORDS or word.endswith(("n’t", "n't")) for word in lower)
    first = next((char for char in quoted if char.isalpha()), "")
    ending = _ENDINGS.get(quoted.rstrip(" '’")[-1:], "word")
    content = [w for w in words if w.lower() not in _TITLE_SMALL] if n_words <= 8 else []
    titled = bool(content) and all(w[:1].isupper() for w in content)
    before = text[max(paragraph.start, span.open_mark - 30) : span.open_mark].split()
    word_before = _word_before(before[-1].lower().strip(",") if before else "")
    after = text[close : close + 2].strip()[:1]
    if not after or after in ",.;:—–-)?!":
        next_char = after or "end"
    else:
        next_char = "word" if after.isalpha() else "other"
    whole = span.open_mark <= paragraph.start + 1 and close >= paragraph.end - 2
    head = span.paragraph == 0
    tail = text[max(paragraph.start, paragraph.end - 16) : paragraph.end]
    headline = head or not tail.rstrip(" ”\"’'").endswith((".", "!", "?", ":", "…"))
    features = {
        "q_bias": 1.0,
        "q_words=" + size: 1.0,
        f"q_shape={size}&{ending}&cap={first.isupper()}": 1.0,
        f"q_clause={clause}&{size}": 1.0,
        f"q_titled={titled}&{size}": 1.0,
        f"q_before={word_before}": 1.0,
        f"q_before={word_before}&{size}": 1.0,
        f"q_after={next_char}": 1.0,
        f"q_after={next_char}&{ending}": 1.0,
        f"q_how={found.how}": 1.0,
        f"q_how={found.how}&{size}": 1.0,
        f"q_marks={min(context.marked_in_paragraph[span.paragraph], 4)}": 1.0,
        f"q_whole={whole}": 1.0,
        f"q_headline={headline}": 1.0,
        f"q_unclosed={span.close_mark is None}&{span.continued}": 1.0,
        f"q_opens={span.open_mark == paragraph.start}&{found.how}": 1.0,
    }
    if found.attribution is not None:
        kind = found.attribution.mention.kind
        features[f"q_rule={kind}&{found.how}"] = 1.0
    return features
