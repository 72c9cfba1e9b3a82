"""What a parsed query looks for, per record type, in terms every engine understands.

A plan names index fields and folded words; each engine turns it into its own query
(`index.compile` for Whoosh, `index.tantivy_engine` for tantivy), analysing the words as it
analysed the text it indexed (stems for the text fields, folded words for names). Stop
words are settled here, once for both: they are dropped, a phrase keeps the place of each
word that is left (a dropped stop word leaves a gap), and a query of nothing but stop
words is refused. Every plan is limited to one record type: by the fields it searches when
they belong to that type alone, otherwise by a ``type`` term.

    >>> from index.query import parse
    >>> plan_query(parse('"the rigged election" speaker:krebs'), ["quote"])
    And(children=(Or(children=(Sequence(field='text', words=('rigged', 'election'), \
places=(0, 1), folded=('the', 'rigged', 'election')), Sequence(field='speaker', \
words=('the', 'rigged', 'election'), places=(0, 1, 2), folded=('the', 'rigged', \
'election')))), Term(field='speaker', value='krebs')))
"""

from __future__ import annotations

from collections.abc import Sequence as Sequence_
from dataclasses import dataclass
from datetime import date

from index.query import And as QAnd
from index.query import Dates, Field, Match, Node, Not, Phrase, QueryError, Word
from index.query import Or as QOr
from index.text import STOP_WORDS, words

__all__ = [
    "FIRST_DAY",
    "LAST_DAY",
    "MAX_EXPANSIONS",
    "MAX_PREFIX_EXPANSION",
    "NOTHING",
    "STEMMED_FIELDS",
    "TEXT_FIELDS",
    "TYPES",
    "And",
    "AndNot",
    "DayRange",
    "Or",
    "Plan",
    "Prefix",
    "Sequence",
    "Term",
    "plan_query",
]

TYPES = ("quote", "document")

# Where plain words and phrases are looked for, per type: (field, stemmed).
TEXT_FIELDS = {
    "quote": (("text", True), ("speaker", False)),
    "document": (("title", True), ("body", True)),
}
STEMMED_FIELDS = frozenset({"text", "title", "body"})
# The most words one wildcard may expand to, and all the wildcards of a query together.
MAX_PREFIX_EXPANSION = 1000
MAX_EXPANSIONS = 2000
# The first and last days of the calendar, counted from 1970-01-01 as `DayRange` counts.
FIRST_DAY = (date.min - date(1970, 1, 1)).days
LAST_DAY = (date.max - date(1970, 1, 1)).days
_NAME_FIELD_TYPE = {"speaker": "quote", "role": "quote", "via": "quote", "author": "document"}


@dataclass(frozen=True)
class Term:
    """A word of a text field (folded; the engine stems it for a stemmed field), or a whole
    value of a keyword field (``type``, ``kind``, ``lang``, ``domain``, ``anonymous``)."""

    field: str
    value: str


@dataclass(frozen=True)
class Sequence:
    """``words`` at ``places`` (the first at 0) from each other in ``field``; ``folded``
    is the whole phrase as typed, stop words included (for word-pair lookups)."""

    field: str
    words: tuple[str, ...]
    places: tuple[int, ...]
    folded: tuple[str, ...]


@dataclass(frozen=True)
class Prefix:
    """Any word of ``field`` that starts with the folded ``text``."""

    field: str
    text: str


@dataclass(frozen=True)
class DayRange:
    """Records whose ``field`` day (counted from 1970-01-01) is in ``[start, end)``; None is
    open. A bound is a day of the calendar (``FIRST_DAY < start``, ``end <= LAST_DAY``)."""

    field: str
    start: int | None
    end: int | None


@dataclass(frozen=True)
class And:
    children: tuple[Plan, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Plan, ...]


@dataclass(frozen=True)
class AndNot:
    positive: Plan
    negative: Plan


class _Nothing:
    """Matches no record."""

    def __repr__(self) -> str:
        return "NOTHING"


NOTHING = _Nothing()

Plan = Term | Sequence | Prefix | DayRange | And | Or | AndNot | _Nothing


@dataclass(frozen=True)
class _Planned:
    plan: Plan | None  # None: the node constrains nothing (a stop word)
    typed: bool  # the plan can only match records of the type it was made for


def plan_query(node: Node | None, types: Sequence_[str]) -> Plan:
    """The plan for ``node`` over records of ``types`` (NOTHING if none can match)."""
    parts = []
    for record_type in types:
        if node is None:
            parts.append(_all(record_type))
            continue
        planned = _plan(node, record_type)
        if planned.plan is None:
            raise QueryError("the query has only very common words, which are not indexed")
        if planned.plan is NOTHING:
            continue
        if planned.typed:
            parts.append(planned.plan)
        else:
            parts.append(And((_all(record_type), planned.plan)))
    if not parts:
        return NOTHING
    return parts[0] if len(parts) == 1 else Or(tuple(parts))


def _plan(node: Node, record_type: str) -> _Planned:
    match node:
        case Word():
            return _Planned(_word(node, record_type), True)
        case Phrase():
            return _Planned(_phrase(node.text, record_type), True)
        case Field():
            return _field(node, record_type)
        case Match():
            return _match(node, record_type)
        case Dates():
            return _dates(node)
        case QAnd():
            children = [_plan_child(child, record_type) for child in node.children]
            return _and(children, record_type)
        case QOr():
            return _or([_plan(child, record_type) for child in node.children])
        case Not(child=Not(child=child)):
            return _plan(child, record_type)
        case Not():
            return _and([(True, _plan(node.child, record_type))], record_type)
    raise TypeError(f"not a query node: {node!r}")


def _plan_child(node: Node, record_type: str) -> tuple[bool, _Planned]:
    """(negated, planned) for a child of an And."""
    if isinstance(node, Not):
        return True, _plan(node.child, record_type)
    return False, _plan(node, record_type)


def _and(children: list[tuple[bool, _Planned]], record_type: str) -> _Planned:
    positives, negatives, typed, constrained = [], [], False, False
    for negated, child in children:
        if child.plan is None:
            continue
        constrained = True
        if negated:
            if child.plan is not NOTHING:
                negatives.append(child.plan)
        elif child.plan is NOTHING:
            return _Planned(NOTHING, True)
        elif isinstance(child.plan, AndNot):
            # (x NOT a) NOT b is x NOT (a OR b): one exclusion, not one inside another
            typed = typed or child.typed
            positives.append(child.plan.positive)
            negatives.append(child.plan.negative)
        else:
            typed = typed or child.typed
            positives.append(child.plan)
    if not constrained:
        return _Planned(None, False)
    if not positives:
        # nothing but exclusions: exclude from all records of this type
        positives, typed = [_all(record_type)], True
    base = positives[0] if len(positives) == 1 else And(tuple(positives))
    if not negatives:
        return _Planned(base, typed)
    excluded = negatives[0] if len(negatives) == 1 else Or(tuple(negatives))
    return _Planned(AndNot(base, excluded), typed)


def _dates(node: Dates) -> _Planned:
    """The days of ``node`` within the calendar (years 1 to 9999): a bound at or beyond its
    edge is open, a range wholly beyond it matches nothing."""
    start = None if node.start is None or node.start <= FIRST_DAY else node.start
    end = None if node.end is None or node.end > LAST_DAY else node.end
    if (
        (start is not None and start > LAST_DAY)
        or (end is not None and end <= FIRST_DAY)
        or (start is not None and end is not None and start >= end)
    ):
        return _Planned(NOTHING, True)
    return _Planned(DayRange(node.field, start, end), False)


def _all(record_type: str) -> Term:
    return Term("type", record_type)


def _or(children: list[_Planned]) -> _Planned:
    kept = [c for c in children if c.plan is not None and c.plan is not NOTHING]
    if not kept:
        empty = all(c.plan is None for c in children)
        return _Planned(None if empty else NOTHING, True)
    typed = all(c.typed for c in kept)
    plans = tuple(c.plan for c in kept)
    return _Planned(plans[0] if len(plans) == 1 else Or(plans), typed)


def _word(node: Word, record_type: str) -> Plan | None:
    folded = [word for _, _, word in words(node.text)]
    if not folded:
        return None
    if len(folded) > 1:
        return _phrase(node.text, record_type)
    (word,) = folded
    if node.prefix:
        return Or(tuple(Prefix(field, word) for field, _ in TEXT_FIELDS[record_type]))
    if word in STOP_WORDS:
        return None
    return Or(tuple(Term(field, word) for field, _ in TEXT_FIELDS[record_type]))


def _phrase(text: str, record_type: str) -> Plan | None:
    folded = tuple(word for _, _, word in words(text))
    if not folded:
        return None
    kept = [(position, word) for position, word in enumerate(folded) if word not in STOP_WORDS]
    if not kept:
        raise QueryError(f'"{text}" has only very common words, which are not indexed')
    clauses = []
    for field, stemmed in TEXT_FIELDS[record_type]:
        if stemmed:
            clauses.append(
                _sequence(field, [w for _, w in kept], [p - kept[0][0] for p, _ in kept], folded)
            )
        else:
            clauses.append(_sequence(field, list(folded), range(len(folded)), folded))
    return Or(tuple(clauses))


def _sequence(field: str, terms: list[str], places, folded: tuple[str, ...]) -> Plan:
    """A phrase of one word is that word; a longer one is a sequence, even when stop words
    leave a single word to look up (it may still be looked up by its word pairs)."""
    if len(folded) == 1:
        return Term(field, terms[0])
    return Sequence(field, tuple(terms), tuple(places), folded)


def _field(node: Field, record_type: str) -> _Planned:
    owner = _NAME_FIELD_TYPE.get(node.field)
    if owner is not None and owner != record_type:
        return _Planned(NOTHING, True)
    folded = tuple(word for _, _, word in words(node.text))
    if not folded:
        raise QueryError(f"'{node.field}:{node.text}' has no words to look for")
    if node.phrase or len(folded) > 1:
        planned = _sequence(node.field, list(folded), range(len(folded)), folded)
        return _Planned(planned, owner is not None)
    return _Planned(Term(node.field, folded[0]), owner is not None)


def _match(node: Match, record_type: str) -> _Planned:
    if node.field == "type":
        return _Planned(_all(record_type) if node.value == record_type else NOTHING, True)
    if node.field == "anonymous":
        if record_type == "document":
            return _Planned(NOTHING if node.value == "t" else _all(record_type), True)
        return _Planned(Term("anonymous", node.value), True)
    return _Planned(Term(node.field, node.value), False)
