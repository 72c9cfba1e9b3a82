"""Memento (RFC 7089): TimeMap, TimeGate and the headers of capture pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from archive.catalog import Catalog
from archive.store import Paths, Store, init_archive
from archive.warc import HttpExchange
from web import create_app, links
from web.memento import http_date

LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[a-z]+="[^"]*")*)')
PARAM = re.compile(r'([a-z]+)="([^"]*)"')
HTML = (("Content-Type", "text/html; charset=utf-8"),)


def parse_links(value: str) -> list[tuple[str, dict[str, str]]]:
    return [(m.group(1), dict(PARAM.findall(m.group(2)))) for m in LINK.finditer(value)]


@pytest.fixture(scope="module")
def news_captures(site):
    with Catalog.open(Paths(site.root).catalog) as catalog:
        return catalog.captures_of_url(catalog.document(site.news).canonical_url)


def test_timemap_lists_every_capture_with_its_datetime(client, site, news_captures):
    response = client.get(links.timemap_path(site.news_url))
    assert response.status_code == 200
    assert response.mimetype == "application/link-format"
    found = parse_links(response.get_data(as_text=True))
    rels = {params["rel"]: url for url, params in found if "memento" not in params["rel"]}
    assert rels["original"] == site.news_url
    assert rels["timegate"] == "http://localhost" + links.timegate_path(site.news_url)
    assert rels["self"] == "http://localhost" + links.timemap_path(site.news_url)
    mementos = [(url, params) for url, params in found if "memento" in params["rel"]]
    assert len(news_captures) == 2
    assert [url for url, _ in mementos] == [
        "http://localhost" + links.capture_path(c.url, c.captured_at) for c in news_captures
    ]
    assert [p["datetime"] for _, p in mementos] == [http_date(c.captured_at) for c in news_captures]
    assert mementos[0][1]["rel"] == "first memento"
    assert mementos[-1][1]["rel"] == "last memento"


def test_timegate_redirects_to_the_closest_capture(client, site, news_captures):
    first, last = news_captures
    asks = {
        first.captured_at - timedelta(days=30): first,
        first.captured_at: first,
        last.captured_at + timedelta(days=1): last,
    }
    for moment, expected in asks.items():
        response = client.get(
            links.timegate_path(site.news_url), headers={"Accept-Datetime": http_date(moment)}
        )
        assert response.status_code == 302
        assert response.headers["Location"] == links.capture_path(
            expected.url, expected.captured_at
        )
        assert response.headers["Vary"] == "accept-datetime"
        rels = {p["rel"]: url for url, p in parse_links(response.headers["Link"])}
        assert rels["original"] == site.news_url
        assert rels["timemap"].endswith(links.timemap_path(site.news_url))
    latest = client.get(links.timegate_path(site.news_url))
    assert latest.headers["Location"] == links.capture_path(last.url, last.captured_at)


def test_capture_pages_and_copies_carry_memento_headers(client, site, news_captures):
    capture = news_captures[0]
    for path in (
        links.capture_path(capture.url, capture.captured_at),
        links.raw_capture_path(capture.url, capture.captured_at),
    ):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["Memento-Datetime"] == http_date(capture.captured_at)
        rels = {p["rel"]: url for url, p in parse_links(response.headers["Link"])}
        assert rels["original"] == site.news_url
        assert rels["timegate"].endswith(links.timegate_path(site.news_url))
        assert rels["memento"].endswith(links.capture_path(capture.url, capture.captured_at))


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/timegate/http://127.0.0.1:9/never", {}, 404),
        ("/timemap/link/http://127.0.0.1:9/never", {}, 404),
        ("/timemap/link/ftp://example.org/", {}, 400),
        ("/timegate/notaurl", {}, 400),
        ("/timegate/{news}", {"Accept-Datetime": "yesterday-ish"}, 400),
        ("/timemap/link/http://example.org/" + "a" * 5000, {}, 414),
    ],
)
def test_memento_bad_requests(client, site, path, headers, status):
    response = client.get(path.format(news=site.news_url), headers=headers)
    assert response.status_code == status


def test_a_url_holding_link_syntax_cannot_add_links_of_its_own(client, site):
    """A '>' ends a link's target: sent raw in the URL asked about (curl sends it so), it
    would close the original's target early and open one of the asker's choosing."""
    asked = site.news_url + "?utm_source=a>b,<https://elsewhere.example/>"
    response = client.get("/timemap/link/" + asked)
    assert response.status_code == 200  # a tracking parameter: the same page
    found = parse_links(response.get_data(as_text=True))
    assert not [url for url, _ in found if "elsewhere.example" in url and "%3C" not in url]
    [original] = [url for url, params in found if params.get("rel") == "original"]
    assert original == site.news_url + "?utm_source=a%3Eb,%3Chttps://elsewhere.example/%3E"
    assert all(len(params) >= 1 for _, params in found)


# -- captures made at chosen moments, of URLs whose paths hold escapes --------------------------

TIE = "https://example.gov/live-results"
# The second the TimeMap names its last two mementos by (09:00:01), and the one before.
TIE_MOMENTS = (
    datetime(2026, 11, 3, 9, 0, 0, 900_000, tzinfo=UTC),
    datetime(2026, 11, 3, 9, 0, 1, 700_000, tzinfo=UTC),
    datetime(2026, 11, 3, 9, 0, 1, 950_000, tzinfo=UTC),
)
ESCAPED = ("https://example.gov/a%3Fb", "https://example.gov/a%23b")
UNESCAPED = "https://example.gov/a?b"  # another page: the query b of /a
REDIRECT = "https://example.gov/moved"
MISSING = "https://example.gov/missing"


def exchange(url: str, moment: datetime, status: int = 200, headers=HTML) -> HttpExchange:
    return HttpExchange(
        url=url,
        fetched_at=moment,
        status=status,
        reason="OK" if status == 200 else "Not OK",
        headers=headers,
        payload=b"" if status == 301 else f"<p>{url} as of {moment}</p>".encode(),
    )


@pytest.fixture(scope="module")
def chosen(tmp_path_factory):
    """A client of an archive whose captures were made at the moments above."""
    root = tmp_path_factory.mktemp("memento") / "archive"
    init_archive(root)
    later = datetime(2026, 11, 3, 9, 5, tzinfo=UTC)
    with Store.open(root) as store:
        for moment in TIE_MOMENTS:
            store.save_capture(exchange(TIE, moment))
        for url in (*ESCAPED, UNESCAPED):
            store.save_capture(exchange(url, later))
        # Received without a Content-Type, as redirects and error pages often are.
        store.save_capture(exchange(REDIRECT, later, 301, (("Location", "/new"),)))
        store.save_capture(exchange(MISSING, later, 404, ()))
    return create_app({"ARCHIVE": str(root), "TESTING": True}).test_client()


def test_timegate_asked_for_a_timemap_datetime_leads_to_a_memento_of_that_second(chosen):
    """A TimeMap names mementos to the second; asked for one of its datetimes, the
    TimeGate answers with the first memento the TimeMap lists with it, and so does a
    14-digit capture URL of that second."""
    found = parse_links(chosen.get("/timemap/link/" + TIE).get_data(as_text=True))
    listed = [(url, p["datetime"]) for url, p in found if "memento" in p["rel"]]
    assert [when for _, when in listed] == [http_date(moment) for moment in TIE_MOMENTS]
    for _, when in listed:
        first = next(u for u, w in listed if w == when)
        response = chosen.get("/timegate/" + TIE, headers={"Accept-Datetime": when})
        assert "http://localhost" + response.headers["Location"] == first, when
        reached = chosen.get(response.headers["Location"])
        assert reached.headers["Memento-Datetime"] == when
    second = TIE_MOMENTS[1]
    for stamp in ("20261103090001", "20261103090002", "20261103090001999"):
        response = chosen.get(f"/{stamp}/{TIE}")
        assert response.headers["Location"] == links.capture_path(TIE, second), stamp
    latest = chosen.get("/timegate/" + TIE)  # no Accept-Datetime: the most recent
    assert latest.headers["Location"] == links.capture_path(TIE, TIE_MOMENTS[-1])


@pytest.mark.parametrize("url", ESCAPED)
def test_an_original_url_with_an_escaped_question_mark_or_hash_is_found(chosen, url):
    """A Memento client appends the original URL as it is to the TimeGate's or TimeMap's
    prefix, and so does a Wayback URL written by hand: a '%3F' or '%23' in its path is no
    query or fragment. The app's own links (which escape its '%') lead to it too."""
    moment = datetime(2026, 11, 3, 9, 5, tzinfo=UTC)
    for path in ("/timemap/link/" + url, links.timemap_path(url)):
        response = chosen.get(path)
        assert response.status_code == 200, path
        found = parse_links(response.get_data(as_text=True))
        assert [u for u, p in found if p["rel"] == "original"] == [url]
    for path in ("/timegate/" + url, links.timegate_path(url)):
        response = chosen.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == links.capture_path(url, moment)
    for path in (f"/20261103090500/{url}", links.capture_path(url, moment)):
        response = chosen.get(path)
        assert response.status_code == 200, path
        rels = {p["rel"]: u for u, p in parse_links(response.headers["Link"])}
        assert rels["original"] == url
    for path in (f"/20261103090500id_/{url}", links.raw_capture_path(url, moment)):
        response = chosen.get(path)
        assert response.status_code == 200, path
        assert response.data == f"<p>{url} as of {moment}</p>".encode()
    # A query is a query still: /a?b is another page, found as it always was.
    unescaped = chosen.get("/timegate/" + UNESCAPED)
    assert unescaped.headers["Location"] == links.capture_path(UNESCAPED, moment)


def test_an_accept_datetime_beyond_the_calendar_in_utc_is_a_bad_request(chosen):
    for value in ("Fri, 31 Dec 9999 23:59:59 -0100", "Fri, 31 Dec 9999 23:59:59 +2400"):
        response = chosen.get("/timegate/" + TIE, headers={"Accept-Datetime": value})
        assert response.status_code == 400, value


def test_an_archived_response_without_a_content_type_is_replayed_without_one(chosen):
    """pywb, Memento tools and curl get what was received: no Content-Type when none came
    (not a made-up application/octet-stream). A browser's page view is as it was."""
    moment = datetime(2026, 11, 3, 9, 5, tzinfo=UTC)
    moved = chosen.get(links.raw_capture_path(REDIRECT, moment))
    assert moved.status_code == 301
    assert moved.headers["Location"].endswith("/https://example.gov/new")
    missing = chosen.get(links.raw_capture_path(MISSING, moment))
    assert missing.status_code == 404
    assert missing.data == f"<p>{MISSING} as of {moment}</p>".encode()
    for response in (moved, missing):
        assert "Content-Type" not in response.headers
        assert response.headers["Memento-Datetime"] == http_date(moment)
    navigation = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    shown = chosen.get(links.raw_capture_path(MISSING, moment), headers=navigation)
    assert shown.status_code == 404
    assert shown.headers["Content-Type"] == "text/plain"
