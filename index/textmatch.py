"""Check candidates against their exact words, and mark the matches in HTML snippets.

The index finds candidates through stemmed terms; a phrase must match the exact words.
``TextMatch`` re-reads the query against the record's own text: it accepts a candidate only
if the query holds with phrases taken literally (after folding case, accents and
typography), and it wraps the words that matched in ``<mark>``, escaping everything else.

    >>> from index.query import parse
    >>> match = TextMatch(parse('"growing economy" perez'))
    >>> match.accepts(["The economy is growing, Perez said."])
    False
    >>> match.accepts(["<b>A growing economy</b>, Pérez said"])
    True
    >>> match.snippet("<b>A growing economy</b>, Pérez said")
    '&lt;b&gt;A <mark>growing economy</mark>&lt;/b&gt;, <mark>Pérez</mark> said'
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

from index.query import And, Node, Not, Or, Phrase, Word
from index.text import FOLDED_WORD, fold, term, words

__all__ = ["TextMatch"]

_WINDOW = 90  # characters of context on each side of a match
_MAX_WINDOWS = 3
_WHOLE_TEXT = 400  # shorter texts are shown whole


class TextMatch:
    """What a parsed query looks for in the text of one record."""

    def __init__(self, node: Node | None) -> None:
        self._node = node
        self._stems: set[str] = set()
        self._prefixes: list[str] = []
        phrases: list[list[str]] = []
        self.has_phrases = _collect(node, self._stems, self._prefixes, phrases)
        self._exact = {p[0] for p in phrases if len(p) == 1}
        alternatives = [_phrase_pattern(p) for p in sorted(phrases, key=len, reverse=True)]
        starts = {s[:-1] if len(s) > 3 else s for s in self._stems} | set(self._prefixes)
        if starts:
            starts_pattern = "|".join(map(re.escape, sorted(starts)))
            alternatives.append(rf"(?:{starts_pattern})\w*(?:'\w+)*")
        self._pattern = re.compile("|".join(alternatives)) if alternatives else None

    def accepts(self, texts: Sequence[str | None]) -> bool:
        """Whether the query holds on ``texts`` with its phrases taken word for word.

        Only words and phrases are checked; field and date filters were settled by the
        index. A missing text (None) cannot refute anything, so the candidate stands.
        """
        if self._node is None or not self.has_phrases or any(t is None for t in texts):
            return True
        return _holds(self._node, [_Text(t) for t in texts if t]) is not False

    def snippet(self, text: str) -> str:
        """HTML for ``text``: escaped, matches in ``<mark>``, cut to windows around them
        when it is long."""
        if len(text) <= _WHOLE_TEXT:
            return _render(text, list(self._marks(text)), 0, len(text))
        marks = _shown(self._marks(text))
        if not marks:
            end = _word_boundary(text, 2 * _WINDOW, forward=False)
            return _render(text, [], 0, end) + " …"
        pieces, windows = [], _windows(text, marks[:_MAX_WINDOWS])
        for start, end in windows:
            inside = [m for m in marks if start <= m[0] and m[1] <= end]
            pieces.append(_render(text, inside, start, end))
        prefix = "… " if windows[0][0] > 0 else ""
        suffix = " …" if windows[-1][1] < len(text) else ""
        return prefix + " … ".join(pieces) + suffix

    def _marks(self, text: str) -> Iterator[tuple[int, int]]:
        if self._pattern is None:
            return
        for found in _at_word_starts(self._pattern, fold(text)):
            word = found.group()
            if FOLDED_WORD.fullmatch(word) and not self._word_matches(word):
                continue
            yield found.span()

    def _word_matches(self, word: str) -> bool:
        if word.endswith("'s"):
            word = word[:-2]
        return (
            word in self._exact
            or term(word) in self._stems
            or word.startswith(tuple(self._prefixes))
        )


def _collect(
    node: Node | None, stems: set[str], prefixes: list[str], phrases: list[list[str]]
) -> bool:
    """Gather the positive words and phrases to mark; return whether there is a phrase."""
    match node:
        case Word(text=text, prefix=True):
            prefixes.append(fold(text))
        case Word(text=text):
            folded = [w for _, _, w in words(text)]
            if len(folded) > 1:
                phrases.append(folded)
                return True
            stems.update(t for t in map(term, folded) if t)
        case Phrase(text=text):
            folded = [w for _, _, w in words(text)]
            if folded:
                phrases.append(folded)
                return True
        case And(children=children) | Or(children=children):
            found = [_collect(child, stems, prefixes, phrases) for child in children]
            return any(found)
        case Not(child=child):
            return _collect(child, set(), [], [])
    return False


def _phrase_pattern(folded: list[str]) -> str:
    """The words of a phrase, in order, as a pattern to find at the start of a word
    (`_at_word_starts`)."""
    return r"\W+".join(re.escape(w) + r"(?:'s)?" for w in folded) + r"(?!\w)"


def _at_word_starts(pattern: re.Pattern, text: str) -> Iterator[re.Match]:
    """The matches of ``pattern`` in ``text`` that start where a word starts.

    The patterns begin with their words rather than with a look-behind for the start of a
    word: Python's regular expressions then skip ahead to where a word's first letter is,
    instead of trying the look-behind at every character (many times slower)."""
    at = 0
    while at <= len(text) and (found := pattern.search(text, at)) is not None:
        start = found.start()
        if start and _is_word_char(text[start - 1]):
            at = start + 1  # inside a word: a match may still start further on
            continue
        yield found
        at = max(found.end(), start + 1)


def _is_word_char(char: str) -> bool:
    """Whether ``char`` is one of a regular expression's ``\\w``."""
    return char.isalnum() or char == "_"


def _found(pattern: re.Pattern, text: str) -> bool:
    return next(_at_word_starts(pattern, text), None) is not None


class _Text:
    """A text folded once, with its stems computed on first use."""

    def __init__(self, text: str) -> None:
        self.folded = fold(text)
        self._stems: set[str] | None = None

    @property
    def stems(self) -> set[str]:
        if self._stems is None:
            self._stems = {term(w) for _, _, w in words(self.folded)}
        return self._stems


def _holds(node: Node, texts: list[_Text]) -> bool | None:
    """Whether ``node`` holds on ``texts``, or None when the texts cannot tell: a field or
    date filter, which the index settled. Unknowns follow three-valued logic, so that
    ``NOT kind:blog`` neither rejects a candidate nor accepts it on its own:
    ``"every ballot" -kind:blog`` stands or falls by its phrase."""
    match node:
        case Word(text=text, prefix=True):
            pattern = _prefix_pattern(text)
            return any(_found(pattern, t.folded) for t in texts)
        case Word(text=text) | Phrase(text=text):
            wanted, pattern = _looked_for(text, isinstance(node, Word))
            if pattern is None:
                return wanted is None or any(wanted in t.stems for t in texts)
            return any(_found(pattern, t.folded) for t in texts)
        case And(children=children):
            found = [_holds(child, texts) for child in children]
            return False if False in found else None if None in found else True
        case Or(children=children):
            found = [_holds(child, texts) for child in children]
            return True if True in found else None if None in found else False
        case Not(child=child):
            held = _holds(child, texts)
            return None if held is None else not held
    return None  # Field, Match, Dates: not in the text


@lru_cache(maxsize=1024)
def _prefix_pattern(text: str) -> re.Pattern:
    return re.compile(re.escape(fold(text)))


@lru_cache(maxsize=1024)
def _looked_for(text: str, word: bool) -> tuple[str | None, re.Pattern | None]:
    """What a word or phrase of the query looks for in a text: (the term of a single word,
    None), or (None, the pattern of a phrase); worked out once, not for each candidate."""
    folded = [w for _, _, w in words(text)]
    if not folded:
        return None, None  # '"-"': no words, nothing to look for
    if word and len(folded) == 1:
        return term(folded[0]), None
    return None, re.compile(_phrase_pattern(folded))


def _shown(marks: Iterator[tuple[int, int]]) -> list[tuple[int, int]]:
    """The marks that can be shown in a long text's windows: the first few, which the
    windows are cut around, and any others inside those windows (none further on than a
    window's width past the last of the first few: the rest of the text is not read)."""
    shown: list[tuple[int, int]] = []
    for mark in marks:
        if len(shown) >= _MAX_WINDOWS and mark[0] >= shown[_MAX_WINDOWS - 1][1] + _WINDOW:
            break
        shown.append(mark)
    return shown


def _windows(text: str, marks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in marks:
        start = _word_boundary(text, max(0, start - _WINDOW), forward=True)
        end = _word_boundary(text, min(len(text), end + _WINDOW), forward=False)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _word_boundary(text: str, at: int, *, forward: bool) -> int:
    """Move ``at`` to the nearest space so a window does not cut a word."""
    if at <= 0 or at >= len(text):
        return max(0, min(at, len(text)))
    if forward:
        space = text.find(" ", at, at + 20)
        return at if space < 0 else space + 1
    space = text.rfind(" ", at - 20, at)
    return at if space < 0 else space


def _render(text: str, marks: list[tuple[int, int]], start: int, end: int) -> str:
    out, at = [], start
    for mark_start, mark_end in marks:
        out.append(html.escape(text[at:mark_start]))
        out.append("<mark>" + html.escape(text[mark_start:mark_end]) + "</mark>")
        at = mark_end
    out.append(html.escape(text[at:end]))
    return "".join(out).strip()
