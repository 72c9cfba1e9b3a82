"""Properties of the parsers that take text from strangers: they fail only in the ways
they document, and what they return holds together."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.ids import InvalidURL, canonical_url
from index.build import Indexer
from index.search import QueryError, Searcher
from scrapers.quotes import find_quotes
from web.wayback import WaybackError, parse_wayback

BOUNDED = settings(max_examples=150, deadline=None)

url_parts = st.sampled_from(
    ["http://", "https://", "HTTP://", "ftp://", "//", "", "http:/", "https://[::1]", "http://["]
)
hosts = st.sampled_from(
    ["example.gov", "EXAMPLE.org.", "xn--caf-dma.fr", "café.fr", "a..b", "", "host:99999", "h:0"]
)
tails = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
) | st.sampled_from(["/a/../b/?utm_source=x&b=2&a=1#top", "/%zz", "/caf%c3%a9?fbclid=1", "?"])


@BOUNDED
@given(scheme=url_parts, host=hosts, tail=tails)
def test_canonical_url_fails_only_with_invalid_url_and_is_idempotent(scheme, host, tail):
    try:
        once = canonical_url(scheme + host + tail)
    except InvalidURL:
        return
    assert canonical_url(once) == once


@BOUNDED
@given(
    stamp=st.from_regex(r"\A\d{0,16}(id_)?\Z") | st.text(max_size=20),
    path=st.one_of(st.text(max_size=60), st.builds("{}{}".format, url_parts, tails)),
    query=st.binary(max_size=30),
)
def test_wayback_urls_fail_only_with_wayback_error(stamp, path, query):
    try:
        parsed = parse_wayback(stamp, path, query)
    except WaybackError:
        return
    assert parsed.moment.tzinfo is not None
    assert parsed.url.startswith(("http://", "https://"))


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    path = tmp_path_factory.mktemp("index")
    moment = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    document = {
        "id": "d-1",
        "url": "https://example.gov/a",
        "title": "County certifies the count",
        "text": "The board certified the count on Wednesday.",
        "authors": ["Office of the Clerk"],
        "publisher": "Brightwater County",
        "kind": "statement",
        "language": "en",
        "published": moment,
        "captured": moment,
        "domain": "example.gov",
    }
    quote = {
        "id": "q-1",
        "document_id": "d-1",
        "text": "Every valid ballot was counted",
        "speaker": "Dana Whitfield",
        "url": "https://example.gov/a",
        "captured": moment,
        "published": moment,
        "domain": "example.gov",
    }
    Indexer(path).update([document], [quote])
    found = Searcher(path)
    yield found
    found.close()


query_words = st.sampled_from(
    [
        '"',
        "speaker:",
        "AND",
        "OR",
        "NOT",
        "-",
        "(",
        ")",
        "*",
        "count*",
        "date:",
        "2026-11",
        'publisher:"',
        ":",
        "ballot",
        "\\",
        "a*",
        "~",
        "^",
        "kind:statement",
        "..",
        "\x00",
    ]
)


@BOUNDED
@given(query=st.text(max_size=40) | st.lists(query_words, max_size=8).map(" ".join))
def test_any_query_string_fails_only_with_query_error(searcher, query):
    try:
        results = searcher.search(query)
    except QueryError:
        return
    assert results.total >= len(results.hits)


quote_marks = st.sampled_from(['"', "“", "”", "‘", "’", "«", "»", "'", "„"])
prose = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
fragments = st.sampled_from(
    [
        " said Dana Whitfield, the director.",
        " she said.",
        "Officials said ",
        "\n\n",
        ", ",
        ".",
        " according to a senior official",
        " told Reuters",
        "Whitfield said: ",
    ]
)


@BOUNDED
@given(pieces=st.lists(quote_marks | prose | fragments, max_size=25).map("".join))
def test_quotes_are_found_without_raising_and_their_offsets_hold(pieces):
    for quote in find_quotes(pieces, "The Harbour Gazette"):
        assert 0 <= quote.start <= quote.end <= len(pieces)
        assert pieces[quote.start : quote.end] == quote.text
        if quote.speaker_start is not None:
            assert 0 <= quote.speaker_start <= quote.speaker_end <= len(pieces)
            assert pieces[quote.speaker_start : quote.speaker_end] == quote.speaker_mention
