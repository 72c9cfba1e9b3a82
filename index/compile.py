"""Turn a query plan (`index.plan`) into the Whoosh query that finds its candidates.

Words of the stemmed fields become their stems (`index.schema.term`); phrases become
sequences of stems at their places in the phrase (`index.phrase`; a dropped stop word
leaves a gap), so they find candidates that `index.textmatch` then checks against the
exact words. Among quotes, when the index has word pairs, a phrase is found by its pairs
instead (stop words included, no positions compared). Date ranges become whole months as
month terms and the ragged ends as day terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from itertools import pairwise

from whoosh import query as wq

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
            return wq.AndNot(
                whoosh_query(positive, pairs=pairs), whoosh_query(negative, pairs=pairs)
            )
    if plan is p.NOTHING:
        return wq.NullQuery
    raise TypeError(f"not a query plan: {plan!r}")


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
    """Whole months as month terms, the ragged ends as day terms."""
    start = None if node.start is None else _EPOCH + timedelta(days=node.start)
    end = None if node.end is None else _EPOCH + timedelta(days=node.end)  # exclusive
    if start is not None and end is not None and start >= end:
        return wq.NullQuery
    day_field, month_field = node.field, node.field.replace("day", "month")
    months_from = start if start is None or start.day == 1 else _next_month(start)
    months_to = end if end is None else end.replace(day=1)  # exclusive
    if months_from is not None and months_to is not None and months_from >= months_to:
        return _day_range(day_field, start, end)
    parts = []
    if start is not None and start != months_from:
        parts.append(_day_range(day_field, start, months_from))
    parts.append(
        wq.TermRange(
            month_field,
            None if months_from is None else f"{months_from:%Y-%m}",
            None if months_to is None else f"{months_to - timedelta(days=1):%Y-%m}",
        )
    )
    if end is not None and end != months_to:
        parts.append(_day_range(day_field, months_to, end))
    return parts[0] if len(parts) == 1 else wq.Or(parts)


def _day_range(field: str, start: date, end: date) -> wq.Query:
    return wq.TermRange(field, f"{start:%Y-%m-%d}", f"{end - timedelta(days=1):%Y-%m-%d}")


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)
