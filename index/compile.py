"""Turn a query plan (`index.plan`) into the Whoosh query that finds its candidates.

Words of the stemmed fields become their stems (`index.schema.term`); phrases become
sequences of stems at their places in the phrase (`index.phrase`; a dropped stop word
leaves a gap), so they find candidates that `index.textmatch` then checks against the
exact words. Among quotes, when the index has word pairs, a phrase is found by its pairs
instead (stop words included, no positions compared). Date ranges become whole months as
month terms and the ragged ends as day terms.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Sequence
from datetime import date, timedelta
from itertools import pairwise

from whoosh import query as wq
from whoosh.matching import AndNotMatcher, Matcher

from index import plan as p
from index.phrase import Sequence as Phrased
from index.query import Node
from index.schema import pair
from index.text import term

__all__ = ["TYPES", "compile_query", "whoosh_query"]

TYPES = p.TYPES
_EPOCH = date(1970, 1, 1)


def compile_query(node: Node | None, types: Sequence[str], *, pairs: bool = False) -> wq.Query:
    """The Whoosh query for ``node`` over records of ``types`` (a NullQuery if none can match).

    ``pairs``: the index has the ``text_pairs`` field, so a phrase among quotes is looked
    up by its word pairs (an intersection of short posting lists) instead of positions.
    """
    return whoosh_query(p.plan_query(node, types), pairs=pairs)


def whoosh_query(plan: p.Plan, *, pairs: bool = False) -> wq.Query:
    """The Whoosh query of a plan (see `compile_query`)."""
    match plan:
        case p.Term(field=field, value=value):
            if field in p.STEMMED_FIELDS:
                return wq.Term(field, term(value))
            if field == "anonymous":
                return wq.Term(field, value == "t")
            return wq.Term(field, value)
        case p.Sequence():
            return _sequence(plan, pairs)
        case p.Prefix(field=field, text=text):
            return wq.Prefix(field, text)
        case p.DayRange():
            return _dates(plan)
        case p.And(children=children):
            return wq.And([whoosh_query(child, pairs=pairs) for child in children])
        case p.Or(children=children):
            return wq.Or([whoosh_query(child, pairs=pairs) for child in children])
        case p.AndNot(positive=positive, negative=negative):
            return _AndNot(whoosh_query(positive, pairs=pairs), whoosh_query(negative, pairs=pairs))
    if plan is p.NOTHING:
        return wq.NullQuery
    raise TypeError(f"not a query plan: {plan!r}")


class _AndNot(wq.AndNot):
    """Whoosh's ``AndNot``, with a matcher that excludes the first record too (`_Excluding`)."""

    def matcher(self, searcher, context=None) -> Matcher:
        return _Excluding(
            self.a.matcher(searcher, context), self.b.matcher(searcher, searcher.boolean_context())
        )


class _Excluding(AndNotMatcher):
    """Whoosh's ``AndNotMatcher`` moves the excluded records up to the first record found
    only when the two start on the same record: a phrase whose first candidate comes after
    the first excluded record kept that candidate even when it was excluded
    (``"every ballot" -type:document`` found a document)."""

    def _find_first(self) -> None:
        if self.a.is_active() and self.b.is_active():
            self._find_next()


def _sequence(plan: p.Sequence, pairs: bool) -> wq.Query:
    stemmed = plan.field in p.STEMMED_FIELDS
    terms = [term(word) for word in plan.words] if stemmed else list(plan.words)
    if stemmed and pairs and plan.field == "text":
        return _paired(list(plan.folded), terms)
    if len(terms) == 1:
        return wq.Term(plan.field, terms[0])
    return Phrased(plan.field, terms, list(plan.places))


def _paired(folded: list[str], stems: list[str]) -> wq.Query:
    """Quote texts with every word pair of a phrase, scored as the phrase would be.

    The pairs find the quotes (a text with every pair has every stem, so nothing is
    lost); Whoosh scores a phrase as the sum of its terms' scores, so the stems are
    looked up in those quotes only, to score them as before. The pairs score nothing.
    """
    scored = [wq.Term("text", stem) for stem in stems]
    filters = [wq.Term("text_pairs", pair(a, b), boost=0.0) for a, b in pairwise(folded)]
    found = filters[0] if len(filters) == 1 else wq.And(filters)
    return wq.AndMaybe(found, scored[0] if len(scored) == 1 else wq.And(scored))


def _dates(node: p.DayRange) -> wq.Query:
    """Whole months as month terms, the ragged ends as day terms.

    Worked out on the first and last days (inclusive) and on month numbers, so that no
    step needs a day or month outside the calendar (`index.plan` keeps the bounds in it).
    """
    first = None if node.start is None else _EPOCH + timedelta(days=node.start)
    last = None if node.end is None else _EPOCH + timedelta(days=node.end - 1)
    if first is not None and last is not None and first > last:
        return wq.NullQuery
    day_field, month_field = node.field, node.field.replace("day", "month")
    months_from = None if first is None else _month(first) + (first.day != 1)
    months_to = None if last is None else _month(last) - (not _month_end(last))  # inclusive
    if months_from is not None and months_to is not None and months_from > months_to:
        return _day_range(day_field, first, last)
    parts = []
    if first is not None and first.day != 1:
        parts.append(_day_range(day_field, first, first.replace(day=_days_in(first))))
    if (months_from is None or months_from <= _month(date.max)) and (
        months_to is None or months_to >= _month(date.min)
    ):  # (no whole month after the start in 9999-12, or before the end in 0001-01)
        parts.append(
            wq.TermRange(
                month_field,
                None if months_from is None else _month_term(months_from),
                None if months_to is None else _month_term(months_to),
            )
        )
    if last is not None and not _month_end(last):
        parts.append(_day_range(day_field, last.replace(day=1), last))
    return parts[0] if len(parts) == 1 else wq.Or(parts)


def _day_range(field: str, first: date, last: date) -> wq.Query:
    return wq.TermRange(field, first.isoformat(), last.isoformat())


def _month(day: date) -> int:
    """Months counted from January of year 0."""
    return day.year * 12 + day.month - 1


def _month_term(month: int) -> str:
    """A month as the index writes it: "2026-11" (years of four digits)."""
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def _days_in(day: date) -> int:
    return monthrange(day.year, day.month)[1]


def _month_end(day: date) -> bool:
    return day.day == _days_in(day)
