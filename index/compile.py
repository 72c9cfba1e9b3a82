"""Turn a parsed query into the Whoosh query that finds its candidates for each record type.

Words become stemmed terms (stop words are dropped); phrases become sequences of stems at
their places in the phrase (`index.phrase`; a dropped stop word leaves a gap), so they find
candidates that `index.textmatch` then checks against the exact words. Among quotes, when
the index has word pairs, a phrase is found by its pairs instead (stop words included, no
positions compared). Every compiled
query is limited to one record type: by the fields it searches when they belong to that
type alone, otherwise by a ``type`` term.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

from whoosh import query as wq

from index.phrase import Sequence as Phrased
from index.query import And, Dates, Field, Match, Node, Not, Or, Phrase, QueryError, Word
from index.schema import pair, term, words

__all__ = ["TYPES", "compile_query"]

TYPES = ("quote", "document")

# Where plain words and phrases are looked for, per type: (field, stemmed).
_TEXT_FIELDS = {
    "quote": (("text", True), ("speaker", False)),
    "document": (("title", True), ("body", True)),
}
_EPOCH = date(1970, 1, 1)
_NAME_FIELD_TYPE = {"speaker": "quote", "role": "quote", "via": "quote", "author": "document"}


@dataclass(frozen=True)
class _Compiled:
    query: wq.Query | None  # None: the node constrains nothing (a stop word)
    typed: bool  # the query can only match records of the type it was compiled for


def compile_query(node: Node | None, types: Sequence[str], *, pairs: bool = False) -> wq.Query:
    """The Whoosh query for ``node`` over records of ``types`` (a NullQuery if none can match).

    ``pairs``: the index has the ``text_pairs`` field, so a phrase among quotes is looked
    up by its word pairs (an intersection of short posting lists) instead of positions.
    """
    parts = []
    for record_type in types:
        if node is None:
            parts.append(_all(record_type))
            continue
        compiled = _compile(node, record_type, pairs)
        if compiled.query is None:
            raise QueryError("the query has only very common words, which are not indexed")
        if compiled.query is wq.NullQuery:
            continue
        if compiled.typed:
            parts.append(compiled.query)
        else:
            parts.append(wq.And([wq.Term("type", record_type), compiled.query]))
    if not parts:
        return wq.NullQuery
    return parts[0] if len(parts) == 1 else wq.Or(parts)


def _compile(node: Node, record_type: str, pairs: bool) -> _Compiled:
    match node:
        case Word():
            return _Compiled(_word(node, record_type, pairs), True)
        case Phrase():
            return _Compiled(_phrase(node.text, record_type, pairs), True)
        case Field():
            return _field(node, record_type)
        case Match():
            return _match(node, record_type)
        case Dates():
            return _Compiled(_dates(node), False)
        case And():
            children = [_compile_child(child, record_type, pairs) for child in node.children]
            return _and(children, record_type)
        case Or():
            return _or([_compile(child, record_type, pairs) for child in node.children])
        case Not():
            return _and([(True, _compile(node.child, record_type, pairs))], record_type)
    raise TypeError(f"not a query node: {node!r}")


def _compile_child(node: Node, record_type: str, pairs: bool) -> tuple[bool, _Compiled]:
    """(negated, compiled) for a child of an And."""
    if isinstance(node, Not):
        return True, _compile(node.child, record_type, pairs)
    return False, _compile(node, record_type, pairs)


def _and(children: list[tuple[bool, _Compiled]], record_type: str) -> _Compiled:
    positives, negatives, typed, constrained = [], [], False, False
    for negated, child in children:
        if child.query is None:
            continue
        constrained = True
        if negated:
            if child.query is not wq.NullQuery:
                negatives.append(child.query)
        elif child.query is wq.NullQuery:
            return _Compiled(wq.NullQuery, True)
        else:
            typed = typed or child.typed
            positives.append(child.query)
    if not constrained:
        return _Compiled(None, False)
    if not positives:
        # nothing but exclusions: exclude from all records of this type
        positives, typed = [_all(record_type)], True
    base = positives[0] if len(positives) == 1 else wq.And(positives)
    if not negatives:
        return _Compiled(base, typed)
    excluded = negatives[0] if len(negatives) == 1 else wq.Or(negatives)
    return _Compiled(wq.AndNot(base, excluded), typed)


def _all(record_type: str) -> wq.Query:
    return wq.Term("type", record_type)


def _or(children: list[_Compiled]) -> _Compiled:
    kept = [c for c in children if c.query is not None and c.query is not wq.NullQuery]
    if not kept:
        empty = all(c.query is None for c in children)
        return _Compiled(None if empty else wq.NullQuery, True)
    typed = all(c.typed for c in kept)
    queries = [c.query for c in kept]
    return _Compiled(queries[0] if len(queries) == 1 else wq.Or(queries), typed)


def _word(node: Word, record_type: str, pairs: bool) -> wq.Query | None:
    folded = [word for _, _, word in words(node.text)]
    if not folded:
        return None
    if len(folded) > 1:
        return _phrase(node.text, record_type, pairs)
    (word,) = folded
    if node.prefix:
        clauses = [wq.Prefix(field, word) for field, _ in _TEXT_FIELDS[record_type]]
        return wq.Or(clauses)
    stemmed_term = term(word)
    if stemmed_term is None:
        return None
    clauses = [
        wq.Term(field, stemmed_term if stemmed else word)
        for field, stemmed in _TEXT_FIELDS[record_type]
    ]
    return wq.Or(clauses)


def _phrase(text: str, record_type: str, pairs: bool) -> wq.Query | None:
    folded = [word for _, _, word in words(text)]
    if not folded:
        return None
    kept = [(position, term(word)) for position, word in enumerate(folded)]
    kept = [(position, stemmed) for position, stemmed in kept if stemmed is not None]
    if not kept:
        raise QueryError(f'"{text}" has only very common words, which are not indexed')
    clauses = []
    for field, stemmed in _TEXT_FIELDS[record_type]:
        if not stemmed:
            clauses.append(_sequence(field, folded, range(len(folded))))
            continue
        if pairs and field == "text" and len(folded) > 1:
            clauses.append(_paired(folded, [t for _, t in kept]))
            continue
        clauses.append(_sequence(field, [t for _, t in kept], [p - kept[0][0] for p, _ in kept]))
    return wq.Or(clauses)


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


def _sequence(field: str, terms: list[str], places: Iterable[int]) -> wq.Query:
    """``terms`` at ``places`` from each other (stop words leave gaps) in ``field``."""
    if len(terms) == 1:
        return wq.Term(field, terms[0])
    return Phrased(field, terms, list(places))


def _field(node: Field, record_type: str) -> _Compiled:
    owner = _NAME_FIELD_TYPE.get(node.field)
    if owner is not None and owner != record_type:
        return _Compiled(wq.NullQuery, True)
    folded = [word for _, _, word in words(node.text)]
    if not folded:
        raise QueryError(f"'{node.field}:{node.text}' has no words to look for")
    if node.phrase or len(folded) > 1:
        return _Compiled(_sequence(node.field, folded, range(len(folded))), owner is not None)
    return _Compiled(wq.Term(node.field, folded[0]), owner is not None)


def _match(node: Match, record_type: str) -> _Compiled:
    if node.field == "type":
        return _Compiled(_all(record_type) if node.value == record_type else wq.NullQuery, True)
    if node.field == "anonymous":
        if record_type == "document":
            return _Compiled(wq.NullQuery if node.value == "t" else _all(record_type), True)
        return _Compiled(wq.Term("anonymous", node.value == "t"), True)
    return _Compiled(wq.Term(node.field, node.value), False)


def _dates(node: Dates) -> wq.Query:
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
