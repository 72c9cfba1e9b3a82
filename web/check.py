"""Check a circulating quote against the record.

    GET /check?q=TEXT         the page (a form, then the verdict)
    GET /check.json?q=TEXT    the same as JSON (also with Accept: application/json)

Paste a quote as it circulates; onrecord finds the closest archived quotes and says
whether the circulated words are **verbatim** (the same words), **shortened** (the
archived quote's words with some left out), **altered** (words changed or added: a word
diff shows how), **stitched** (pieces of separate archived quotes joined as one) or
**not found** in the archive. Each match names its speaker (as corrected on the record),
where and when its words first appeared, and links to the quote and the archived copy
(the capture its quote page links: :func:`web.exports.archived_copies`).

Candidates come from the index alone: exact-phrase searches for a few short runs of the
circulated words, spread over it (a quote with a word changed still shares runs of
words with the original). Their text is compared word by word with
:func:`archive.ids.normalize_quote_text`'s folding, the one rule of quote sameness.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from flask import Blueprint, abort, jsonify, render_template, request

from archive.ids import normalize_quote_text
from index.search import Hit, QueryError, SearchResults
from web import api, links
from web.documents import Change, word_diff
from web.exports import ArchivedCopy, archived_copies
from web.resources import catalog, searcher

bp = Blueprint("check", __name__)

VERDICTS = {
    "verbatim": "Verbatim",
    "shortened": "Shortened",
    "altered": "Altered",
    "stitched": "Stitched from separate quotes",
    "not_found": "Not found in the archive",
}
WINDOW = 4  # words in each phrase searched for
MAX_WINDOWS = 6
HITS_PER_WINDOW = 8
MIN_WORDS = 3
MAX_CHARS = 1500
ALTERED_SIMILARITY = 0.5  # share of words in common for "altered" rather than unrelated
PIECE_WORDS = 3  # a stitched quote's pieces hold at least this many words each
STITCHED_COVER = 0.8  # and together cover this share of the circulated words

Search = Callable[[str], SearchResults]


class CheckError(ValueError):
    """Text that cannot be checked (too short, too long)."""


@dataclass(frozen=True)
class Match:
    """One archived quote and how the circulated text relates to it."""

    hit: Hit
    verdict: str  # verbatim, shortened, altered, or "part" (a piece of a stitched quote)
    similarity: float
    changes: tuple[Change, ...]  # from the archived words to the circulated ones
    first: Hit  # where these archived words first appeared (the hit itself, or earlier)


@dataclass(frozen=True)
class CheckResult:
    text: str
    verdict: str
    matches: tuple[Match, ...] = field(default=())

    @property
    def label(self) -> str:
        return VERDICTS[self.verdict]


# Text copied from a page carries what the eye does not see: a zero-width space where
# words break, soft hyphens, joiners, a byte-order mark. And a dash between two words
# separates them, spaced or not ("lost—not" is "lost — not").
_UNSEEN = str.maketrans(
    {
        "\u200b": " ",
        "\u2013": " - ",
        "\u2014": " - ",
        "\u2015": " - ",
        "\u00ad": None,
        "\u200c": None,
        "\u200d": None,
        "\u2060": None,
        "\ufeff": None,
    }
)


def words_of(text: str) -> list[str]:
    """Words as quote sameness compares them (punctuation inside is kept with words).

    >>> words_of("“We’re ready,” she said — Café!")
    ["we're", 'ready', 'she', 'said', 'cafe']
    >>> words_of("\ufeffWe were\u200bready—bal\u00adlots in hand") == words_of(
    ...     "We were ready — ballots in hand")
    True
    """
    folded = normalize_quote_text(text.translate(_UNSEEN))
    cleaned = (w.strip("\"'.,;:!?()[]-") for w in folded.split())
    return [w for w in cleaned if w]


def windows(words: list[str]) -> list[list[str]]:
    """Runs of :data:`WINDOW` words spread evenly over the text (at most MAX_WINDOWS),
    the first and the last run first: they find the two ends of a stitched quote.

    >>> [" ".join(w) for w in windows("a b c d e f g h i j".split())]
    ['a b c d', 'g h i j', 'c d e f', 'e f g h']
    """
    if len(words) <= WINDOW:
        return [words]
    last = len(words) - WINDOW
    count = min(MAX_WINDOWS, last // 2 + 1, last + 1)
    starts = sorted({round(i * last / max(count - 1, 1)) for i in range(count)})
    starts = [starts[0], starts[-1], *starts[1:-1]]
    return [words[s : s + WINDOW] for s in starts]


class Scored(NamedTuple):
    """A candidate quote compared with the circulated words."""

    hit: Hit
    words: list[str]  # the archived quote's words
    verdict: str  # verbatim, shortened, altered or part
    similarity: float
    held: list[int]  # positions of the circulated words it holds, in order


def candidates(search: Search, words: list[str]) -> list[Scored]:
    """Quotes holding any window of the words as a phrase, each once, compared with them.

    The windows are searched until the verdict is settled: by one quote that holds the
    words (verbatim, or shortened from it), or that differs from them in a few words
    while holding most of them (altered: no stitching of other quotes could be closer),
    or by pieces of separate quotes that together hold most of them (stitched). Another
    copy of such a quote holds the windows searched, so it was found with it."""
    found: dict[str, Scored] = {}
    for window in windows(words):
        try:
            results = search('"' + " ".join(window) + '"')
        except QueryError:
            continue
        for hit in results.hits:
            if hit.id not in found:
                archived = words_of(hit.text)
                found[hit.id] = Scored(hit, archived, *compare(words, archived))
        if any(_settles(s, len(words)) for s in found.values()) or _stitched(
            words, list(found.values())
        ):
            break
    return list(found.values())


def _settles(scored: Scored, count: int) -> bool:
    return scored.verdict in ("verbatim", "shortened") or (
        scored.verdict == "altered" and len(scored.held) >= STITCHED_COVER * count
    )


def compare(circulated: list[str], archived: list[str]) -> tuple[str, float, list[int]]:
    """How the circulated words relate to one archived quote's: the verdict, the share
    of words in common, and which circulated words the archived quote holds in order."""
    matcher = difflib.SequenceMatcher(None, archived, circulated, autojunk=False)
    ops = {op for op, *_ in matcher.get_opcodes()}
    held = [j for a, j, size in matcher.get_matching_blocks() for j in range(j, j + size)]
    similarity = matcher.ratio()
    if ops == {"equal"}:
        return "verbatim", similarity, held
    if ops <= {"equal", "delete"}:
        return "shortened", similarity, held
    if similarity >= ALTERED_SIMILARITY:
        return "altered", similarity, held
    return "part", similarity, held


def _longest_run(held: list[int]) -> list[int]:
    best: list[int] = []
    run: list[int] = []
    for position in held:
        run = [*run, position] if run and position == run[-1] + 1 else [position]
        if len(run) > len(best):
            best = run
    return best


RANK = {"verbatim": 0, "shortened": 1, "altered": 2, "part": 3}


def check(search: Search, text: str, *, limit: int = 5) -> CheckResult:
    """The verdict on ``text`` and the archived quotes closest to it."""
    text = " ".join(text.split())
    if len(text) > MAX_CHARS:
        raise CheckError(f"a quote to check is at most {MAX_CHARS} characters")
    circulated = words_of(text)
    if len(circulated) < MIN_WORDS:
        raise CheckError(f"give at least {MIN_WORDS} words of the quote to check")
    found = candidates(search, circulated)
    scored = sorted(found, key=lambda s: (RANK[s.verdict], -s.similarity, _when(s.hit)))
    pieces = _stitched(circulated, scored)
    if scored and scored[0].verdict in ("verbatim", "shortened"):
        best = scored[0].verdict
    elif (
        scored
        and scored[0].verdict == "altered"
        and not (pieces and len(scored[0].held) < STITCHED_COVER * len(circulated))
    ):
        best = "altered"
    else:
        best = None
    if best is not None:
        kept = [s for s in scored if s.verdict == best] + [s for s in scored if s.verdict != best]
        return CheckResult(text, best, _matches(text, kept[:limit], found))
    if pieces:
        return CheckResult(text, "stitched", _matches(text, pieces, found))
    return CheckResult(text, "not_found", ())


def _stitched(circulated: list[str], scored: list[Scored]) -> list[Scored]:
    """Archived quotes whose longest shared runs of words, taken together, cover most of
    the circulated words (each piece from a different quote)."""
    chosen, covered = [], set()
    for item in sorted(scored, key=lambda s: -len(_longest_run(s.held))):
        run = set(_longest_run(item.held))
        if len(run) < PIECE_WORDS or run <= covered:
            continue
        chosen.append(item)
        covered |= run
    if len(chosen) >= 2 and len(covered) >= STITCHED_COVER * len(circulated):
        return sorted(chosen, key=lambda s: min(_longest_run(s.held)))
    return []


def _trimmed(text: str) -> str:
    """Text without the quotation marks and punctuation at its edges (which a diff
    would show as changes that quote sameness ignores)."""
    return text.strip(" \"'.,;:!?“”‘’«»")


def _when(hit: Hit):
    return hit.published or hit.captured


def _matches(text: str, chosen: list[Scored], found: list[Scored]) -> tuple[Match, ...]:
    matches = []
    for hit, archived, verdict, similarity, _ in chosen:
        same = [s.hit for s in found if s.words == archived]
        first = min(same or [hit], key=lambda h: (h.captured, h.id))
        changes = () if verdict == "verbatim" else word_diff(_trimmed(hit.text), _trimmed(text))
        matches.append(Match(hit, verdict, round(similarity, 3), changes, first))
    return tuple(matches)


# -- the page and its JSON twin -------------------------------------------------------------


def search_quotes(query: str) -> SearchResults:
    """The web server's shared searcher, asked for quotes only."""
    return searcher().search(
        query, type="quote", page_size=HITS_PER_WINDOW, facets=False, highlight=False
    )


@bp.get("/check")
@bp.get("/check.json")
def check_page():
    text = request.args.get("q", "")
    as_json = api.wants_json()
    if not text.strip():
        if as_json:
            abort(400, description="give the quote to check in the q parameter")
        return render_template("check.html", text="", result=None, verdicts=VERDICTS)
    try:
        result = check(search_quotes, text)
    except CheckError as exc:
        abort(400, description=str(exc))
    copies = archived_copies(catalog(), (m.hit for m in result.matches))
    if as_json:
        return jsonify(result_json(result, request.url_root, copies))
    return render_template("check.html", text=text, result=result, copies=copies, verdicts=VERDICTS)


def result_json(
    result: CheckResult, root: str = "", copies: dict[str, ArchivedCopy] | None = None
) -> dict:
    """The JSON shape of the check API and of ``onrecord check --format json``; a match
    links its archived copy when ``copies`` (:func:`web.exports.archived_copies`) has it."""
    copies = copies or {}
    return {
        "text": result.text,
        "verdict": result.verdict,
        "label": result.label,
        "matches": [match_json(m, root, copies.get(m.hit.id)) for m in result.matches],
    }


def match_json(match: Match, root: str = "", copy: ArchivedCopy | None = None) -> dict:
    hit, first = match.hit, match.first
    return {
        "verdict": match.verdict,
        "similarity": match.similarity,
        "quote": {
            "id": hit.id,
            "text": hit.text,
            "url": links.absolute(root, links.quote_path(hit.id))
            if root
            else links.quote_path(hit.id),
        },
        "speaker": hit.speaker,
        "role": hit.role,
        "publisher": hit.publisher,
        "title": hit.title,
        "published": _iso(hit.published),
        "captured": _iso(hit.captured),
        "original_url": hit.url,
        "diff": [{"op": c.op, "text": c.text} for c in match.changes],
        "first_appearance": {
            "quote": first.id,
            "url": links.quote_path(first.id),
            "publisher": first.publisher,
            "title": first.title,
            "published": _iso(first.published),
            "captured": _iso(first.captured),
        },
        "archived_copy": copy.path if copy else None,
        "document": links.document_path(hit.document_id),
    }


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
