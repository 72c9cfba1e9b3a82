"""URL text fragments that select one quote and nothing else.

A text directive (``#:~:text=[prefix-,]start[,end][,-suffix]``, from the W3C Text
Fragments draft) makes a browser highlight the first range of the page that matches it:
``start`` at a word boundary, then the first ``end`` after it, each optionally held in
place by the ``prefix`` words just before and the ``suffix`` words just after. Matching
ignores case and treats any run of whitespace as one space; no prefix, start, end or
suffix matches across a line break (the archived text's paragraph break, a block boundary
on the page).

A quote's first and last words are usually enough. They are not when its opening also
opens a pull quote earlier on the page: the browser would highlight from the pull quote
to the quote's end. :func:`directive_for` therefore checks each candidate against the
archived text with :func:`find` and adds words, then context, until the first match is
the quote itself.

>>> page = "“We count them all,” the banner read. Then she said: “We count them all,” and left."
>>> at = page.rindex("We count them all,")
>>> span = (at, at + len("We count them all,"))
>>> find(page, directive_for("We count them all,")) == span
False
>>> directive_for("We count them all,", page, span)
Directive(start='We count them all,', end='', prefix='said: “', suffix='” and')
>>> find(page, _) == span
True
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

MAX_CONTEXT = 8  # words of prefix and suffix, at most


@dataclass(frozen=True)
class Directive:
    start: str
    end: str = ""
    prefix: str = ""
    suffix: str = ""


def directive_for(
    text: str, page: str | None = None, span: tuple[int, int] | None = None, *, words: int = 4
) -> Directive:
    """A directive for ``text``: its first and last ``words`` (or all of it when short).

    Given the ``page`` it sits in at ``span``, the shortest candidate whose first match in
    the page is exactly the quote; the longest one tried when none is.
    """
    spoken = text.split()
    if page is None or span is None:
        return _directive(spoken, words)
    wanted = _trimmed(page, span)
    # context from the quote's own lines: a browser matches no prefix across a block
    before = page[: wanted[0]].rpartition("\n")[2].split()
    after = page[wanted[1] :].partition("\n")[0].split()
    candidate = _directive(spoken, words)
    for more in range(MAX_CONTEXT + 1):
        prefix = " ".join(before[max(len(before) - more, 0) :]) if more else ""
        suffix = " ".join(after[:more])
        for candidate in (
            _directive(spoken, words + more),
            _directive(spoken, words, prefix, suffix),
            _directive(spoken, words + more, prefix, suffix),
        ):
            if find(page, candidate) == wanted:
                return candidate
    return candidate


def _directive(spoken: list[str], words: int, prefix: str = "", suffix: str = "") -> Directive:
    if len(spoken) <= 2 * words:
        return Directive(" ".join(spoken), prefix=prefix, suffix=suffix)
    return Directive(
        " ".join(spoken[:words]), " ".join(spoken[-words:]), prefix=prefix, suffix=suffix
    )


def _trimmed(page: str, span: tuple[int, int]) -> tuple[int, int]:
    start, end = span
    while start < end and page[start].isspace():
        start += 1
    while end > start and page[end - 1].isspace():
        end -= 1
    return start, end


def find(page: str, directive: Directive) -> tuple[int, int] | None:
    """The span of ``page`` a browser would highlight for ``directive`` (None: nothing)."""
    folded, where = _fold(page)
    start, end = _fold(directive.start)[0], _fold(directive.end)[0]
    prefix, suffix = _fold(directive.prefix)[0], _fold(directive.suffix)[0]

    def bounded(i: int) -> bool:
        return i <= 0 or i >= len(folded) or not (folded[i - 1].isalnum() and folded[i].isalnum())

    def occurrences(term: str, after: int) -> Iterator[int]:
        i = folded.find(term, after)
        while i != -1:
            if bounded(i) and bounded(i + len(term)):
                yield i
            i = folded.find(term, i + 1)

    def follows(term: str, at: int) -> int | None:
        """Where ``term`` begins when it comes right after ``at`` (a space between or not)."""
        j = at + 1 if folded[at : at + 1] == " " else at
        return j if folded.startswith(term, j) and bounded(j + len(term)) else None

    if prefix:
        found = (follows(start, i + len(prefix)) for i in occurrences(prefix, 0))
        starts: Iterator[int] = (i for i in found if i is not None)
    else:
        starts = occurrences(start, 0)
    for begin in starts:
        if not end:
            if suffix and follows(suffix, begin + len(start)) is None:
                continue
            return where[begin], where[begin + len(start) - 1] + 1
        for i in occurrences(end, begin + len(start)):
            if suffix and follows(suffix, i + len(end)) is None:
                continue
            return where[begin], where[i + len(end) - 1] + 1
        return None
    return None


def _fold(text: str) -> tuple[str, list[int]]:
    """``text`` lower-cased with whitespace runs as one space (as one line break where
    they break a line: no term matches across one), and where each character came from."""
    chars: list[str] = []
    where: list[int] = []
    for index, char in enumerate(text):
        if char.isspace():
            char = "\n" if char == "\n" else " "
            if chars and chars[-1] in " \n":
                if char == "\n":
                    chars[-1] = "\n"
                continue
        for folded in char.lower():
            chars.append(folded)
            where.append(index)
    return "".join(chars), where
