"""Text as every engine and the highlighter see it: folded, split into words, stemmed.

Text is folded before it is split: lower case, no accents, plain quotes, apostrophes and
dashes, one character for one, so that an offset into the folded text is an offset into
the original and ``Pérez`` matches ``Perez``, ``don’t`` matches ``don't``:

    >>> fold("Pérez’s “ÉTÉ” — OK")
    'perez\\'s "ete" - ok'
    >>> [term(word) for _, _, word in words("The economy’s growing, Pérez said.")]
    [None, 'economi', 'grow', 'perez', 'said']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from whoosh.lang.porter import stem  # Porter's stemmer, in pure Python

__all__ = [
    "APOSTROPHES",
    "FOLDED_WORD",
    "STOP_WORDS",
    "fold",
    "folded_words",
    "plain_typography",
    "term",
    "words",
]

# Lucene's English stop set: too common to narrow a search, dropped from the stemmed
# fields (their positions stay, so phrase distances survive).
STOP_WORDS = frozenset(
    {
        *("a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into"),
        *("is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then"),
        *("there", "these", "they", "this", "to", "was", "will", "with"),
    }
)

# A word of the folded text: letters and digits, joined by inner apostrophes ("don't").
FOLDED_WORD = re.compile(r"\w+(?:'\w+)*")

APOSTROPHES = {  # folded to a plain apostrophe
    "\u2018",
    "\u2019",
    "\u201a",
    "\u201b",
    "\u2032",
    "\u02bc",
    "`",
    "\u00b4",
}
_DOUBLE_QUOTES = {"\u201c", "\u201d", "\u201e", "\u201f", "\u00ab", "\u00bb", "\u2033"}


class _FoldTable(dict):
    """A ``str.translate`` table that computes, then remembers, each character's fold."""

    def __missing__(self, codepoint: int) -> str:
        char = chr(codepoint)
        folded = self[codepoint] = _fold_char(char)
        return folded


def _fold_char(char: str) -> str:
    if char in APOSTROPHES:
        return "'"
    if char in _DOUBLE_QUOTES:
        return '"'
    category = unicodedata.category(char)
    if category == "Pd":
        return "-"
    if category == "Zs":
        return " "
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    lowered = base.lower()
    if len(lowered) == 1:
        return lowered
    lowered = char.lower()
    return lowered if len(lowered) == 1 else char


_FOLD_TABLE = _FoldTable()
_TYPOGRAPHY_TABLE = str.maketrans(
    {**dict.fromkeys(APOSTROPHES, "'"), **dict.fromkeys(_DOUBLE_QUOTES, '"')}
)


# The characters `str.translate` would have to look up one by one: non-ASCII, and the
# backtick (an apostrophe).
_TO_FOLD = re.compile(r"[^\x00-\x5f\x61-\x7f]")


# The characters other than ASCII that English news uses most, with their folds.
_FREQUENT = tuple(
    (char, _fold_char(char)) for char in "\u2019\u201c\u201d\u00a0\u2014\u2015\u2018\u2013"
)


def _fold_found(found: re.Match) -> str:
    return _FOLD_TABLE[ord(found.group())]


def fold(text: str) -> str:
    """Lower-case ``text`` and fold accents and typographic variants, keeping its length.

    A text of English with a few curly quotes or accents is lower-cased at once, its
    curly quotes and dashes replaced each at once, and its few other characters folded one
    by one (``translate`` looks every character up, and so does a regular expression: the
    most time of a highlighted page). Lower-casing the whole text first gives each
    character its own fold, except where a letter lowers into two or a sigma by its place
    in a word: such a text is folded character by character."""
    if text.isascii():
        return text.lower()
    lowered = text.lower()
    if len(lowered) != len(text) or "\u03a3" in text or "\u03f9" in text:
        return text.translate(_FOLD_TABLE)
    for char, folded in _FREQUENT:
        if char in lowered:
            lowered = lowered.replace(char, folded)
    if lowered.isascii():
        return lowered
    return _TO_FOLD.sub(_fold_found, lowered)


def plain_typography(text: str) -> str:
    """Straighten curly quotes and apostrophes, keeping case (for parsing queries).

    >>> plain_typography("“don’t”")
    '"don\\'t"'
    """
    return text.translate(_TYPOGRAPHY_TABLE)


def words(text: str) -> Iterator[tuple[int, int, str]]:
    """Yield ``(start, end, word)`` for each word of ``text``, folded, possessives dropped."""
    for match in FOLDED_WORD.finditer(fold(text)):
        word = match.group()
        if word.endswith("'s"):
            word = word[:-2]
        yield match.start(), match.end(), word


def folded_words(text: str) -> list[str]:
    """The folded words of ``text`` without their offsets (the indexing fast path)."""
    return [word[:-2] if word.endswith("'s") else word for word in FOLDED_WORD.findall(fold(text))]


@lru_cache(maxsize=200_000)
def term(word: str) -> str | None:
    """The stemmed index term for a folded word, or None for a stop word."""
    if word in STOP_WORDS:
        return None
    return stem(word)
