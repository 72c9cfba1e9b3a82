"""The query language: what it parses to, and how malformed queries are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from index.build import Indexer
from index.query import And, Dates, Field, Match, Not, Or, Phrase, Word, parse
from index.search import QueryError, Searcher

pytestmark = pytest.mark.usefixtures("search_engine")

DAY = datetime(2026, 11, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    path = tmp_path_factory.mktemp("ix")
    records = [
        {
            "id": f"d-{n}",
            "url": f"https://example.gov/{n}",
            "title": None,
            "text": f"abacus{n} statement about security",
            "publisher": None,
            "authors": [],
            "kind": None,
            "language": None,
            "published": None,
            "captured": DAY,
            "domain": "example.gov",
            "source": None,
        }
        for n in range(1005)
    ]
    Indexer(path).update(records, [])
    return Searcher(path)


def test_words_phrases_and_operators() -> None:
    assert parse("krebs fraud") == And((Word("krebs"), Word("fraud")))
    assert parse("“rigged election”") == Phrase("rigged election")
    assert parse("a OR b c") == And((Or((Word("a"), Word("b"))), Word("c")))
    assert parse("-hoax") == Not(Word("hoax"))
    assert parse("NOT (a AND b)") == Not(And((Word("a"), Word("b"))))
    assert parse("and or not") == And((Word("and"), Word("or"), Word("not")))
    assert parse("   ") is None


def test_fields() -> None:
    assert parse('speaker:"Chris Krebs"') == Field("speaker", "Chris Krebs", phrase=True)
    assert parse("speaker:krebs") == Field("speaker", "krebs")
    assert parse("kind:Statement") == Match("kind", "statement")
    assert parse("anonymous:yes") == Match("anonymous", "t")
    assert parse("language:EN") == Match("lang", "en")
    assert parse("type:quote") == Match("type", "quote")
    assert parse("secur*") == Word("secur", prefix=True)


def test_dates() -> None:
    nov_1, dec_1 = 20758, 20788  # days since 1970-01-01
    assert parse("published:2026-11") == Dates("published_day", nov_1, dec_1)
    assert parse("published:2026-11-01..2026-11-30") == Dates("published_day", nov_1, dec_1)
    assert parse("captured:>=2026-11-03") == Dates("captured_day", nov_1 + 2, None)
    assert parse("captured:<2026-11") == Dates("captured_day", None, nov_1)
    assert parse("published:2026-11..") == Dates("published_day", nov_1, None)
    assert parse("after:2026-11") == Dates("day", nov_1, None)
    assert parse("before:2026-12-01") == Dates("day", None, dec_1)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"unbalanced', "unbalanced quotation mark"),
        ('speaker:"Chris', "unbalanced quotation mark"),
        ("(fraud OR hoax", "unbalanced parenthesis"),
        ("fraud)", "unbalanced parenthesis"),
        ("colour:red", "unknown field 'colour:'"),
        ("speaker:", "needs a value"),
        ("published:2026-13", "bad date"),
        ("published:2026-02-30", "bad date"),
        ("captured:yesterday", "bad date"),
        ("published:..", "needs a date"),
        ("kind:rumour", "unknown kind"),
        ("type:tweet", "unknown type"),
        ("anonymous:maybe", "anonymous:yes"),
        ("x" * 10_000, "too long"),
        ("*", "wildcard"),
        ("a*", "wildcard"),
        ("*ing", "wildcard"),
        ("fraud AND", "ends with an operator"),
        ("OR fraud", "needs a word on each side"),
        ("(" * 20 + "a" + ")" * 20, "nests parentheses"),
        ("the", "very common words"),
        ('"to be or not to be"', "very common words"),
        ("speaker:!!!", "no words"),
    ],
)
def test_malformed_queries_raise_query_error(searcher: Searcher, query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        searcher.search(query)


def test_a_prefix_that_matches_too_many_words_is_refused(searcher: Searcher) -> None:
    with pytest.raises(QueryError, match="too many words"):
        searcher.search("abacus*")
    assert searcher.search("abacus100*").total == 6  # abacus100, abacus1000..abacus1004


def test_query_error_is_a_value_error() -> None:
    assert issubclass(QueryError, ValueError)


def test_bad_arguments_are_programming_errors(searcher: Searcher) -> None:
    with pytest.raises(ValueError, match="sort"):
        searcher.search("x", sort="random")
    with pytest.raises(ValueError, match="type"):
        searcher.search("x", type="tweet")
    with pytest.raises(ValueError, match="page"):
        searcher.search("x", page=0)


def test_harmless_oddities_are_searched(searcher: Searcher) -> None:
    assert searcher.search("10:30 security").total == 0
    assert searcher.search("security?!").total == 1005
    assert searcher.search("security the").total == 1005
    assert searcher.search("statement -security").total == 0
    assert searcher.search("published:2026-11-05..2026-11-01").total == 0
