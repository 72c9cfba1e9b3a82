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

import re
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

    Given the ``page`` it sits in at ``span``, the first candidate whose first match in the
    page is exactly the quote, trying for n = 1, 2, ... words of context: n more words of
    the quote, then n words before and after it, then both; the widest tried when none is.
    """
    spoken = text.split()
    first = _directive(spoken, words)
    if page is None or span is None:
        return first
    wanted = _trimmed(page, span)
    if find(page, first) == wanted:
        return first
    # context from the quote's own lines: a browser matches no prefix across a block
    before = page[: wanted[0]].rpartition("\n")[2].split()
    after = page[wanted[1] :].partition("\n")[0].split()
    candidate = first
    for more in range(1, MAX_CONTEXT + 1):
        prefix = " ".join(before[max(len(before) - more, 0) :])
        suffix = " ".join(after[:more])
        for wider, context in ((more, False), (0, True), (more, True)):
            candidate = _directive(spoken, words + wider, *((prefix, suffix) if context else ()))
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
    start, end = _term(directive.start), _term(directive.end)
    prefix, suffix = _term(directive.prefix), _term(directive.suffix)

    def bounded(i: int) -> bool:
        return i <= 0 or i >= len(page) or not (page[i - 1].isalnum() and page[i].isalnum())

    def occurrences(term: re.Pattern, after: int) -> Iterator[re.Match]:
        while (found := term.search(page, after)) is not None:
            if bounded(found.start()) and bounded(found.end()):
                yield found
            after = found.start() + 1

    def follows(term: re.Pattern, at: int) -> re.Match | None:
        """``term`` when it comes right after ``at`` (spaces between or not)."""
        found = term.match(page, _GAP.match(page, at).end())
        return found if found is not None and bounded(found.end()) else None

    if directive.prefix:
        after_prefix = (follows(start, p.end()) for p in occurrences(prefix, 0))
        starts: Iterator[re.Match] = (m for m in after_prefix if m is not None)
    else:
        starts = occurrences(start, 0)
    for begin in starts:
        if not directive.end:
            if directive.suffix and follows(suffix, begin.end()) is None:
                continue
            return begin.start(), begin.end()
        for finish in occurrences(end, begin.end()):
            if directive.suffix and follows(suffix, finish.end()) is None:
                continue
            return begin.start(), finish.end()
        return None
    return None


_GAP = re.compile(r"[^\S\n]*")


def _term(text: str) -> re.Pattern:
    """A term as a pattern: its words in order, any spaces (but no line break) between
    them, any case."""
    return re.compile(r"[^\S\n]+".join(map(re.escape, text.split())), re.IGNORECASE)
