"""Pair quotation marks into quoted spans, one paragraph at a time.

Straight and curly double marks, low-9 and guillemets are understood, including a mark of
the wrong shape where only the other reading makes sense (``”word”``) and one level of
nesting in the other style (``"about “Equal Justice” anymore"``). Single marks are left
alone: they are apostrophes far more often than quotes. A span never crosses a paragraph;
a quote left open runs to its paragraph's end (and no further than ``MAX_UNCLOSED``
characters) and is flagged, unless the next paragraph reopens it, which is the English
convention for a quote running over several paragraphs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

MAX_UNCLOSED = 2000

_PARAGRAPH = re.compile(r"[^\r\n]+")  # a line ends at LF, CRLF or a lone CR alike
_MARKS = re.compile(r"[\"“”„«»]")
_OPENERS_BEFORE = frozenset(" \t([{—–-/\u00a0'‘’:")
_CLOSERS_AFTER = frozenset(" \t)]}—–-/\u00a0.,;:!?'‘’…")
_ENDS = frozenset(",.!?")  # ends a quoted sentence or clause


class Paragraph(NamedTuple):  # tuples, not dataclasses: made for every line of a text
    start: int
    end: int


class MarkedSpan(NamedTuple):
    """The words between a pair of marks (marks excluded, whitespace trimmed)."""

    start: int
    end: int
    paragraph: int  # index into the paragraphs of the text
    open_mark: int  # offset of the opening mark
    close_mark: int | None  # offset of the closing mark; None when the quote ran on
    continued: bool  # left open at the paragraph's end and reopened by the next paragraph


def paragraphs(text: str) -> list[Paragraph]:
    """Non-empty lines, as offsets; a line break ('\\n', '\\r\\n' or '\\r') always ends
    a paragraph."""
    return [
        Paragraph(match.start(), match.end())
        for match in _PARAGRAPH.finditer(text)
        if not match.group().isspace()
    ]


def _can_open(text: str, at: int, start: int, end: int) -> bool:
    before = text[at - 1] if at > start else " "
    after = text[at + 1] if at + 1 < end else " "
    if before in _ENDS and after.isupper():
        return True  # a space left out after a sentence: 'the authorities."We were ...'
    return (before in _OPENERS_BEFORE or before in '"“„«') and not after.isspace()


def _can_close(text: str, at: int, start: int, end: int) -> bool:
    before = text[at - 1] if at > start else " "
    if before == " " and at - 2 >= start and text[at - 2] in "'’":
        before = text[at - 2]  # a nested quote closed first: ",' \" said"
    after = text[at + 1] if at + 1 < end else " "
    if before in _ENDS and after.isalpha():
        return True  # a space left out after the quote: '... audiences,"Katie Packer said'
    return not before.isspace() and (after in _CLOSERS_AFTER or after in '"”»')


def _marks(text: str, paragraph: Paragraph) -> Iterator[tuple[int, bool, bool]]:
    """(offset, may open, may close) for every double mark of a paragraph."""
    start, end = paragraph.start, paragraph.end
    for match in _MARKS.finditer(text, start, end):
        at = match.start()
        char = text[at]
        opens, closes = _can_open(text, at, start, end), _can_close(text, at, start, end)
        if char in "“„«":
            # Curly openers sometimes stand where a closer belongs; trust the context then.
            yield at, not (closes and not opens), closes and not opens
        elif char in "”»":
            yield at, opens and not closes, not (opens and not closes)
        else:
            yield at, opens, closes


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _spans_in(text: str, index: int, paragraph: Paragraph) -> tuple[list[MarkedSpan], int | None]:
    """Closed spans of one paragraph, and the opening offset of a span left open."""
    spans: list[MarkedSpan] = []
    opened: int | None = None
    nested: str | None = None  # style of a nested quote inside the open one
    for at, opens, closes in _marks(text, paragraph):
        straight = text[at] == '"'
        if opened is None:
            if opens:
                opened = at
            continue
        outer_straight = text[opened] == '"'
        if nested is not None:
            if closes and (text[at] == '"') == (nested == '"'):
                nested = None
                continue
            if not (closes and nested == '"' and text[at] in "”»"):
                continue
            # a curly closer ends the quote a stray straight mark seemed to nest inside:
            # '“Nobody should click "><img ...> in any message,” Natarajan said.'
            nested = None
        if opens and not closes and straight != outer_straight:
            nested = '"' if straight else "“"
            continue
        if closes:
            start, end = _trimmed(text, opened + 1, at)
            if end > start:
                spans.append(MarkedSpan(start, end, index, opened, at, continued=False))
            opened = None
        elif opens:
            # An opener inside an open quote: the earlier mark was never closed.
            start, end = _trimmed(text, opened + 1, at)
            if end > start:
                spans.append(MarkedSpan(start, end, index, opened, None, continued=False))
            opened = at
    return spans, opened


def find_marked_spans(text: str) -> list[MarkedSpan]:
    """Every quoted span of the text, in order."""
    found: list[MarkedSpan] = []
    blocks = paragraphs(text)
    for index, paragraph in enumerate(blocks):
        spans, opened = _spans_in(text, index, paragraph)
        found.extend(spans)
        if opened is None:
            continue
        limit = min(paragraph.end, opened + 1 + MAX_UNCLOSED)
        start, end = _trimmed(text, opened + 1, limit)
        if end <= start:
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        continued = (
            limit == paragraph.end and following is not None and text[following.start] in '"“„«'
        )
        found.append(MarkedSpan(start, end, index, opened, None, continued=continued))
    return found
