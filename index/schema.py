"""The Whoosh schema and the text analysis shared by indexing, querying and highlighting.

Quotes and documents live in one index each (`index.layout`), told apart by ``type``;
their text fields are disjoint (``text``, ``text_pairs`` and ``speaker`` are quote-only,
``title`` and ``body`` document-only). Metadata fields are shared. Words are folded,
split and stemmed as `index.text` says.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache
from itertools import accumulate, pairwise

from whoosh.analysis import Token, Tokenizer
from whoosh.columns import NumericColumn, RefBytesColumn
from whoosh.fields import BOOLEAN, COLUMN, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.formats import Existence, Frequency, Positions
from whoosh.system import _INT_SIZE, pack_uint

from index.text import folded_words, term, words

__all__ = [
    "FoldingAnalyzer",
    "PairAnalyzer",
    "build_schema",
    "pair",
]


class FoldingAnalyzer(Tokenizer):
    """Fold, split and optionally stem in one pass (much cheaper than a filter chain).

    With ``stemmed`` set, stop words are dropped but still take up their position, so the
    distance between the words of a phrase is the same in the index as in the text.
    """

    def __init__(self, stemmed: bool) -> None:
        self.stemmed = stemmed

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for pos, (start, end, word) in enumerate(words(value), start_pos):
            text = term(word) if self.stemmed else word
            if text is None:
                if removestops:
                    continue
                text = word
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = word
            if positions:
                token.pos = pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token

    def positions(self, value: str) -> dict[str, list[int]]:
        """Each term of ``value`` with its positions: what the tokens say, without them."""
        found: dict[str, list[int]] = {}
        if self.stemmed:
            for position, word in enumerate(folded_words(value)):
                text = term(word)
                if text is not None:
                    found.setdefault(text, []).append(position)
        else:
            for position, word in enumerate(folded_words(value)):
                found.setdefault(word, []).append(position)
        return found

    def frequencies(self, value: str) -> dict[str, int]:
        return {text: len(found) for text, found in self.positions(value).items()}


def pair(first: str, second: str) -> str:
    """The word-pair term of two neighbouring folded words.

    >>> [t.text for t in PairAnalyzer()("In this country’s")]
    ['in this', 'this country']
    """
    return first + " " + second


class PairAnalyzer(Tokenizer):
    """Each two neighbouring words of the folded text as one token, stop words included.

    Indexed without positions, the pairs of a phrase make it an intersection of short
    posting lists, checked against the exact words afterwards like any phrase candidate.
    """

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        previous: tuple[int, str] | None = None
        for pos, (start, end, word) in enumerate(words(value), start_pos):
            if previous is not None:
                token.text = pair(previous[1], word)
                token.boost = 1.0
                token.stopped = False
                if keeporiginal:
                    token.original = token.text
                if positions:
                    token.pos = pos - 1
                if chars:
                    token.startchar = start_char + previous[0]
                    token.endchar = start_char + end
                yield token
            previous = (start, word)

    def frequencies(self, value: str) -> dict[str, int]:
        """Each pair of ``value`` with its count: what the tokens say, without them."""
        return Counter(pair(first, second) for first, second in pairwise(folded_words(value)))


# Whoosh's formats ask the analyzer for a token object per word and gather them; ours ask
# our analyzers for the gathered terms directly.


class _TermPositions(Positions):
    """The gaps between positions as a machine array (one byte each when they are under
    256) rather than Whoosh's pickled list of them: a third of the size for a word seen
    once, and read back in two calls when a phrase compares positions.

    >>> f = _TermPositions()
    >>> len(f.encode([3, 70])), len(Positions().encode([3, 70]))
    (7, 16)
    >>> f.decode_positions(f.encode([3, 70, 65_600])), f.decode_frequency(f.encode([3, 70]))
    ([3, 70, 65600], 2)
    """

    def word_values(self, value, analyzer, **kwargs):
        boost = self.field_boost
        encode = self.encode
        for text, positions in analyzer.positions(value).items():
            yield text, len(positions), len(positions) * boost, encode(positions)

    def encode(self, poslist):
        if len(poslist) == 1:  # most words of a text appear once in it
            return _one_position(poslist[0])
        gaps = [b - a for a, b in zip([0, *poslist], poslist, strict=False)]
        widest = max(gaps)
        code = "B" if widest < 256 else "H" if widest < 65_536 else "I"
        return pack_uint(len(gaps)) + code.encode() + array(code, gaps).tobytes()

    def decode_positions(self, valuestring):
        return list(accumulate(array(chr(valuestring[_INT_SIZE]), valuestring[_INT_SIZE + 1 :])))


@lru_cache(maxsize=65_536)
def _one_position(position: int) -> bytes:
    code = "B" if position < 256 else "H" if position < 65_536 else "I"
    return pack_uint(1) + code.encode() + array(code, [position]).tobytes()


class _TermFrequency(Frequency):
    def word_values(self, value, analyzer, **kwargs):
        boost = self.field_boost
        for text, frequency in self._frequencies(value, analyzer).items():
            yield text, frequency, frequency * boost, pack_uint(frequency)

    def _frequencies(self, value, analyzer):
        return analyzer.frequencies(value)


class _WholeValue(Existence):
    def word_values(self, value, analyzer, **kwargs):
        return ((value, 1, self.field_boost, b""),)


class _SpaceSeparated(_TermFrequency):
    def _frequencies(self, value, analyzer):
        return Counter(value.split())


class WHOLE(ID):
    """A value matched as a whole (ids, kinds, days), as Whoosh's ID field does."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.format = _WholeValue(field_boost=self.format.field_boost)


class KEYWORDS(KEYWORD):
    """Space-separated values, each matched as a whole, as Whoosh's KEYWORD field does."""

    def __init__(self) -> None:
        super().__init__()
        self.format = _SpaceSeparated(field_boost=self.format.field_boost)


class WORDS(TEXT):
    """Stemmed words, stop words dropped; with ``phrase``, their positions are kept."""

    def __init__(self, *, phrase: bool = True, **kwargs: object) -> None:
        super().__init__(analyzer=FoldingAnalyzer(stemmed=True), phrase=phrase, **kwargs)
        kind = _TermPositions if phrase else _TermFrequency
        self.format = kind(field_boost=self.format.field_boost)


class PAIRS(TEXT):
    """Word pairs for phrase candidates: no positions, no lengths, not stored."""

    def __init__(self) -> None:
        super().__init__(analyzer=PairAnalyzer(), phrase=False)
        self.format = _TermFrequency()
        self.scorable = False


class NAME(TEXT):
    """A name-like text field (speaker, role, publisher...): folded words with positions for
    phrases, but no field lengths, since a name is matched, not ranked by its length."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(analyzer=FoldingAnalyzer(stemmed=False), **kwargs)
        self.format = _TermPositions(field_boost=self.format.field_boost)
        self.scorable = False


def build_schema() -> Schema:
    """The schema of onrecord's index (see the module docstring for the layout)."""
    return Schema(
        id=WHOLE(unique=True, stored=True),
        type=WHOLE(stored=True),
        document_id=WHOLE(stored=True),
        # quote-only
        text=WORDS(stored=True, phrase=False),  # phrases are found by `text_pairs`
        text_pairs=PAIRS(),  # the quote text again, as word pairs (see `compile`)
        speaker=NAME(stored=True),
        role=NAME(stored=True),
        via=NAME(stored=True),
        anonymous=BOOLEAN(stored=True),
        document_title=STORED(),
        # document-only; the body is indexed but not stored
        title=WORDS(stored=True, field_boost=2.0),
        body=WORDS(),
        lead=STORED(),
        author=NAME(),
        # shared metadata
        publisher=NAME(stored=True),
        kind=WHOLE(stored=True),
        lang=WHOLE(stored=True),
        domain=KEYWORDS(),
        url=STORED(),
        published=STORED(),
        captured=STORED(),
        # for date filters, "2026-11-03" and "2026-11" (UTC); `day` is published or captured.
        # A range is a few month terms plus day terms at its ragged ends: two postings per
        # date instead of a numeric trie's four or more.
        published_day=WHOLE(),
        published_month=WHOLE(),
        captured_day=WHOLE(),
        captured_month=WHOLE(),
        day=WHOLE(),
        month=WHOLE(),
        # per-document columns for sorting and facets
        sort_date=COLUMN(NumericColumn("q")),
        facet_speaker=COLUMN(RefBytesColumn()),
        facet_publisher=COLUMN(RefBytesColumn()),
        facet_kind=COLUMN(RefBytesColumn()),
        facet_month=COLUMN(RefBytesColumn()),
    )
