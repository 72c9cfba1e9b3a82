"""onrecord's query language, parsed into a small syntax tree (no Whoosh here).

    krebs election                      both words (stemmed: "elections" matches too)
    "rigged election"  “rigged election”  the exact words, in this order
    krebs OR wray fraud (= (krebs OR wray) AND fraud)   fraud AND NOT rigged   -rigged
    speaker:krebs  speaker:"Chris Krebs"  publisher:"Washington Post"  role:director
    via:politico  kind:statement  anonymous:yes  lang:en  domain:example.gov  type:quote
    author:"Jane Doe"  secur*  (a prefix of at least three letters, of the words' stems)
    published:2026-11  published:2026-11-01..2026-11-30  captured:>=2026-11-03
    after:2026-11-01  before:2026-12  (on or after / strictly before; on the published
                                       date, or the captured date when there is none)

Operators are upper case; lower-case ``and``/``or``/``not`` are ordinary words.

    >>> parse('speaker:"Chris Krebs" (fraud OR rigged) -hoax')
    And(children=(Field(field='speaker', text='Chris Krebs', phrase=True), \
Or(children=(Word(text='fraud', prefix=False), Word(text='rigged', prefix=False))), \
Not(child=Word(text='hoax', prefix=False))))
    >>> parse('published:2026-11')
    Dates(field='published_day', start=20758, end=20788)
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from archive.models import KINDS
from index.text import plain_typography

__all__ = [
    "MAX_QUERY_LENGTH",
    "And",
    "Dates",
    "Field",
    "Match",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "QueryError",
    "Word",
    "parse",
]

MAX_QUERY_LENGTH = 1000
MAX_DEPTH = 16  # parentheses and NOTs, each a level
MAX_OPERATORS = 64  # AND, OR and NOT (written or implied by "-") in one query
MAX_PREFIXES = 5  # different wildcard words in one query
MIN_PREFIX = 3
_EPOCH = date(1970, 1, 1)


class QueryError(ValueError):
    """A query that cannot be run; the message is written for the person who typed it."""


@dataclass(frozen=True)
class Word:
    """A word to find in the text (and, for quotes, in the speaker's name)."""

    text: str
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    """Exact words, in order."""

    text: str


@dataclass(frozen=True)
class Field:
    """Words or an exact phrase in a name-like field: speaker, role, via, publisher, author."""

    field: str
    text: str
    phrase: bool = False


@dataclass(frozen=True)
class Match:
    """An exact value of a keyword field: type, kind, lang, domain, anonymous."""

    field: str
    value: str


@dataclass(frozen=True)
class Dates:
    """Days ``start`` (inclusive) to ``end`` (exclusive), counted from 1970-01-01; None is open."""

    field: str
    start: int | None
    end: int | None


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Word | Phrase | Field | Match | Dates | And | Or | Not

_NAME_FIELDS = {
    "speaker": "speaker",
    "role": "role",
    "via": "via",
    "publisher": "publisher",
    "author": "author",
}
_DATE_FIELDS = {
    "published": "published_day",
    "captured": "captured_day",
    "date": "day",
    "after": "day",
    "before": "day",
}
_MATCH_FIELDS = {"type", "kind", "lang", "language", "domain", "anonymous"}
FIELDS = sorted({*_NAME_FIELDS, *_DATE_FIELDS, *_MATCH_FIELDS})

_TYPES = ("quote", "document")
_YES = {"yes": "t", "true": "t", "1": "t", "no": "f", "false": "f", "0": "f"}
_FIELD_TOKEN = re.compile(r"([A-Za-z_]+):(.*)", re.DOTALL)
_DATE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_COMPARISON = re.compile(r"(>=|<=|>|<)(.*)", re.DOTALL)


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "phrase", "field", "(", ")", "AND", "OR", "NOT"
    text: str = ""
    field: str = ""
    quoted: bool = False


def parse(query: str) -> Node | None:
    """Parse ``query``; None when it holds nothing to search for (an empty query)."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"the query is too long ({len(query):,} characters; at most {MAX_QUERY_LENGTH:,})"
        )
    tokens = list(_lex(plain_typography(query)))
    if not tokens:
        return None
    operators = sum(1 for token in tokens if token.kind in ("AND", "OR", "NOT"))
    if operators > MAX_OPERATORS:
        raise QueryError(
            f"the query has too many operators ({operators} AND, OR, NOT and '-'; "
            f"at most {MAX_OPERATORS})"
        )
    parser = _Parser(tokens)
    node = parser.expression(0)
    if parser.position < len(tokens):
        raise QueryError("unbalanced parenthesis in the query: a ')' has no matching '('")
    different = {text.lower() for text in prefixes(node)}
    if len(different) > MAX_PREFIXES:
        raise QueryError(
            f"the query has too many wildcards ({len(different)}; at most {MAX_PREFIXES})"
        )
    return node


def prefixes(node: Node | None) -> Iterator[str]:
    """The words of a query that end in a wildcard, as written, in order."""
    match node:
        case Word(text=text, prefix=True):
            yield text
        case And(children=children) | Or(children=children):
            for child in children:
                yield from prefixes(child)
        case Not(child=child):
            yield from prefixes(child)


def _lex(query: str) -> Iterator[_Token]:
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char.isspace():
            i += 1
        elif char in "()":
            yield _Token(char)
            i += 1
        elif char == '"':
            text, i = _quoted(query, i)
            yield _Token("phrase", text)
        elif char == "-" and i + 1 < n and not query[i + 1].isspace() and query[i + 1] != "-":
            yield _Token("NOT")
            i += 1
        else:
            end = i
            while end < n and not query[end].isspace() and query[end] not in '()"':
                end += 1
            word, i = query[i:end], end
            field = _FIELD_TOKEN.fullmatch(word)
            if field is None:
                yield _Token(word) if word in ("AND", "OR", "NOT") else _Token("word", word)
                continue
            name, value = field.group(1).lower(), field.group(2)
            if name not in FIELDS:
                raise QueryError(f"unknown field '{name}:'; the fields are " + ", ".join(FIELDS))
            if not value and i < n and query[i] == '"':
                value, i = _quoted(query, i)
                yield _Token("field", value, name, quoted=True)
            elif value:
                yield _Token("field", value, name)
            else:
                raise QueryError(f"'{name}:' needs a value, e.g. {name}:{_example(name)}")


def _quoted(query: str, start: int) -> tuple[str, int]:
    end = query.find('"', start + 1)
    if end < 0:
        raise QueryError("unbalanced quotation mark in the query")
    return query[start + 1 : end], end + 1


def _example(field: str) -> str:
    if field in _DATE_FIELDS:
        return "2026-11"
    return {"type": "quote", "kind": "statement", "anonymous": "yes", "lang": "en"}.get(
        field, "krebs"
    )


class _Parser:
    """Recursive descent. As in web search engines, OR binds tighter than AND (which may be
    left out): ``krebs OR wray fraud`` is ``(krebs OR wray) AND fraud``."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expression(self, depth: int) -> Node:
        _check_depth(depth)
        children = [self.disjunction(depth)]
        while (token := self.peek()) is not None and token.kind != ")":
            if token.kind == "AND":
                self.take()
            children.append(self.disjunction(depth))
        return _joined(And, children)

    def disjunction(self, depth: int) -> Node:
        children = [self.unary(depth)]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            children.append(self.unary(depth))
        return _joined(Or, children)

    def unary(self, depth: int) -> Node:
        """A primary after any number of NOTs, each a level deeper; ``NOT NOT x`` is ``x``
        (engines would otherwise nest one exclusion in another, each costlier)."""
        negations = 0
        while (token := self.peek()) is not None and token.kind == "NOT":
            self.take()
            negations += 1
            _check_depth(depth + negations)
        if token is None:
            raise QueryError("the query ends with an operator; add a word after it")
        node = self.primary(depth + negations)
        if negations % 2 == 0:
            return node
        return node.child if isinstance(node, Not) else Not(node)

    def primary(self, depth: int) -> Node:
        token = self.take()
        if token.kind == "(":
            node = self.expression(depth + 1)
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise QueryError("unbalanced parenthesis in the query: a '(' is never closed")
            self.take()
            return node
        if token.kind == ")":
            raise QueryError("unbalanced parenthesis in the query: a ')' has no matching '('")
        if token.kind in ("AND", "OR"):
            raise QueryError(f"'{token.kind}' needs a word on each side")
        if token.kind == "phrase":
            return Phrase(token.text)
        if token.kind == "field":
            return _field(token.field, token.text, token.quoted)
        return _word(token.text)


def _check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise QueryError(f"the query nests parentheses and NOTs more than {MAX_DEPTH} deep")


def _joined(kind: type[And] | type[Or], children: list[Node]) -> Node:
    """``children`` joined by AND or OR, each once (``x x`` is ``x``)."""
    unique = tuple(dict.fromkeys(children))
    return unique[0] if len(unique) == 1 else kind(unique)


def _word(text: str) -> Word:
    if "*" not in text:
        return Word(text)
    stem = text[:-1]
    if "*" in stem or not text.endswith("*"):
        raise QueryError(f"'{text}': a wildcard can only end a word, as in secur*")
    if len(stem) < MIN_PREFIX or not stem.isalnum():
        raise QueryError(f"'{text}': a wildcard needs at least {MIN_PREFIX} letters before the *")
    return Word(stem, prefix=True)


def _field(name: str, value: str, quoted: bool) -> Node:
    if name in _NAME_FIELDS:
        return Field(_NAME_FIELDS[name], value, phrase=quoted)
    if name in _DATE_FIELDS:
        return _dates(name, value)
    value = value.strip().lower()
    if name == "type":
        if value not in _TYPES:
            raise QueryError(f"unknown type '{value}'; use type:quote or type:document")
    elif name == "kind":
        if value not in KINDS:
            raise QueryError(f"unknown kind '{value}'; the kinds are " + ", ".join(KINDS))
    elif name == "anonymous":
        if value not in _YES:
            raise QueryError(f"anonymous:{value}: use anonymous:yes or anonymous:no")
        value = _YES[value]
    elif name == "domain":
        value = value.strip(".")
    return Match("lang" if name == "language" else name, value)


def _dates(name: str, value: str) -> Dates:
    field = _DATE_FIELDS[name]
    value = value.strip()
    if name == "after":
        return Dates(field, _span(value)[0], None)
    if name == "before":
        return Dates(field, None, _span(value)[0])
    if ".." in value:
        low, _, high = value.partition("..")
        start = _span(low)[0] if low else None
        end = _span(high)[1] if high else None
        if start is None and end is None:
            raise QueryError(f"'{name}:..' needs a date on at least one side")
        return Dates(field, start, end)
    comparison = _COMPARISON.fullmatch(value)
    if comparison is None:
        return Dates(field, *_span(value))
    operator, operand = comparison.groups()
    first, after_last = _span(operand)
    bounds = {
        ">=": (first, None),
        ">": (after_last, None),
        "<": (None, first),
        "<=": (None, after_last),
    }
    return Dates(field, *bounds[operator])


def _span(value: str) -> tuple[int, int]:
    """The days ``[first, after_last)`` covered by a year, month or day."""
    match = _DATE.fullmatch(value)
    if match is None:
        raise QueryError(f"bad date '{value}': use YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        first = date(year, month or 1, day or 1)
    except ValueError:
        raise QueryError(
            f"bad date '{value}': no such day or month (years run from 0001 to 9999)"
        ) from None
    if day is not None:
        last = first
    elif month is not None:
        last = first.replace(day=monthrange(year, month)[1])
    else:
        last = first.replace(month=12, day=31)
    # counted on ordinals: the day after 9999-12-31 is a count, though not a date
    return first.toordinal() - _EPOCH.toordinal(), last.toordinal() + 1 - _EPOCH.toordinal()
