"""Memento (RFC 7089): TimeMap, TimeGate and the headers of capture pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from archive.catalog import Catalog
from archive.store import Paths
from web import links
from web.memento import http_date

LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[a-z]+="[^"]*")*)')
PARAM = re.compile(r'([a-z]+)="([^"]*)"')


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
