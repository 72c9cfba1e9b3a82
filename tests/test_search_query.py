"""The query language: what it parses to, and how malformed queries are refused."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from index import plan as p
from index.build import Indexer
from index.plan import plan_query
from index.query import And, Dates, Field, Match, Not, Or, Phrase, Word, parse
from index.search import QueryError, Searcher

pytestmark = pytest.mark.usefixtures("search_engine")

DAY = datetime(2026, 11, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    path = tmp_path_factory.mktemp("ix")
    records = [document(n, f"abacus{n} statement about security") for n in range(1005)]
    Indexer(path).update(records, [])
    return Searcher(path)


def document(n: int, text: str) -> dict:
    """The index record of a document of ``text``, the n-th of a test's index."""
    return {
        "id": f"d-{n}",
        "url": f"https://example.gov/{n}",
        "title": None,
        "text": text,
        "publisher": None,
        "authors": [],
        "kind": None,
        "language": None,
        "published": None,
        "captured": DAY,
        "domain": "example.gov",
        "source": None,
    }


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


def test_a_chain_of_nots_is_folded_and_each_not_counts_toward_the_depth() -> None:
    assert parse("NOT NOT NOT election") == Not(Word("election"))
    assert parse("-NOT -NOT election") == Word("election")
    assert parse("NOT (NOT election)") == Word("election")
    with pytest.raises(QueryError, match="parentheses and NOTs more than 16 deep"):
        parse("NOT " * 17 + "election")
    with pytest.raises(QueryError, match="parentheses and NOTs more than 16 deep"):
        parse("NOT (" * 9 + "election" + ")" * 9)


def test_a_query_with_too_many_operators_is_refused() -> None:
    assert parse("fraud" + " OR fraud" * 60) == Word("fraud")  # repeats are dropped
    with pytest.raises(QueryError, match="too many operators"):
        parse(" OR ".join(f"w{n}" for n in range(80)))


def test_nested_exclusions_are_planned_as_one() -> None:
    plan = plan_query(parse("(fraud -hoax) -rumour"), ["quote"])
    assert isinstance(plan, p.AndNot) and not isinstance(plan.positive, p.AndNot)


def test_a_query_holds_a_few_different_wildcards_at_most() -> None:
    assert parse("secur* secur*") == Word("secur", prefix=True)
    parse("con* Con* dis* pro* com* pre*")  # five different ones
    with pytest.raises(QueryError, match="too many wildcards"):
        parse("con* dis* pro* com* pre* cha*")


def test_wildcards_that_expand_to_too_many_words_together_are_refused(
    tmp_path: Path,
) -> None:
    # each prefix 800 words, under the cap of 1,000 for one
    records = [document(n, f"alpha{n} bravo{n} charlie{n}") for n in range(800)]
    Indexer(tmp_path / "ix").update(records, [])
    searcher = Searcher(tmp_path / "ix")
    assert searcher.search("alpha* bravo*", type="document").total == 800
    with pytest.raises(QueryError, match="match too many words together"):
        searcher.search("alpha* bravo* charlie*", type="document")


def test_dates_at_the_edges_of_the_calendar() -> None:
    assert parse("published:9999-12-31") == Dates("published_day", p.LAST_DAY, p.LAST_DAY + 1)
    assert parse("published:1970..9999") == Dates("published_day", 0, p.LAST_DAY + 1)
    with pytest.raises(QueryError, match="years run from 0001 to 9999"):
        parse("published:0000")
    # bounds beyond the calendar are open; ranges wholly beyond it match nothing
    assert plan_query(parse("published:1970..9999"), ["quote"]) == plan_query(
        parse("published:>=1970"), ["quote"]
    )
    assert plan_query(parse("before:0001"), ["quote"]) is p.NOTHING
    assert plan_query(parse("published:>9999-12-31 fraud"), ["quote"]) is p.NOTHING


@pytest.mark.parametrize(
    "query",
    [
        "before:0001",
        "before:0001-01-20",
        "published:<0001-02-01",
        "after:9999-12-02",
        "published:9999-12-15..",
        "published:9999-12-31",
        "published:9999-12",
    ],
)
def test_dates_at_the_edges_find_nothing_and_damage_no_shard(
    searcher: Searcher, query: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        found = searcher.search(query)
    assert (found.total, found.unavailable) == (0, ())
    assert not caplog.records
    assert searcher.status().broken == ()
    assert searcher.search("published:1970..9999 OR captured:1970..9999").total == 1005
