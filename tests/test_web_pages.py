"""The page families against a real archive (captured from loopback, indexed with Whoosh),
asserting on parsed HTML."""

from __future__ import annotations

import doctest
import json
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup

from archive import ids
from archive.catalog import Catalog
from archive.store import Paths, Store, init_archive
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.loopback import LoopbackServer
from tests.webarchive import HTML
from web import api, citations, create_app, documents, feeds, indexing, links, memento, search

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def catalog(site):
    with Catalog.open(Paths(site.root).catalog) as opened:
        yield opened


def page(client, path: str, status: int = 200) -> BeautifulSoup:
    response = client.get(path)
    assert response.status_code == status, response.data[:500]
    assert response.mimetype == "text/html"
    return BeautifulSoup(response.data, "html.parser")


def text(soup: BeautifulSoup, selector: str) -> str:
    found = soup.select_one(selector)
    assert found is not None, selector
    return " ".join(found.get_text().split())


# -- quote page ---------------------------------------------------------------------------


def test_quote_page_states_who_where_when_and_the_capture(client, site, catalog):
    quote = catalog.quote(site.pledge)
    extraction = catalog.extraction(quote.extraction_id)
    capture = catalog.capture(catalog.version(extraction.version_id).capture_id)
    soup = page(client, links.quote_path(site.pledge))
    assert text(soup, "blockquote.quote-text") == quote.text
    speaker = soup.select_one("figcaption a.speaker")
    assert speaker.get_text() == "Dana Whitfield"
    assert speaker["href"] == links.speaker_path(site.director)
    assert text(soup, "figcaption .role") == "the county's elections director"
    assert text(soup, ".reported .publisher") == "Brightwater County Elections Office"
    assert soup.select_one(".reported time.published")["datetime"].startswith("2026-11-04")
    assert text(soup, "dd.authors") == "Office of the County Clerk"
    assert text(soup, "dd.status") == "200"
    assert text(soup, "dd.digest") == capture.payload_digest
    assert capture.payload_digest.startswith("sha256:")
    assert text(soup, "dd.warc-file") == capture.warc_file
    assert text(soup, "dd.record-id") == capture.warc_record_id
    assert text(soup, "dd.attribution .method") == quote.method
    assert text(soup, "dd.attribution .confidence") == f"{quote.confidence:.2f}"
    assert soup.select_one("dd.captured time")["datetime"] == capture.captured_at.isoformat()


def test_quote_page_links_to_the_marked_archived_text_and_into_the_live_page(client, site):
    soup = page(client, links.quote_path(site.pledge))
    archived = soup.select_one("a.archived-text")["href"]
    assert archived == links.document_version_path(site.statement, 1, site.pledge)
    target = page(client, archived.split("#")[0])
    mark = target.select_one(f"mark#{site.pledge}")
    assert mark is not None and mark.get_text() == text(soup, "blockquote.quote-text")
    live = soup.select_one("a.live-link")
    assert live["href"].startswith(site.statement_url + "#:~:text=Every%20valid%20ballot%20was,")
    assert "noreferrer" in live["rel"]
    copy_page = soup.select_one("a.archived-copy")["href"]
    assert client.get(copy_page).status_code == 200


def test_citations_are_ready_to_copy(client, site):
    soup = page(client, links.quote_path(site.pledge))
    styles = {div["data-style"] for div in soup.select("div.citation")}
    assert styles == {"apa", "mla", "chicago", "bibtex", "csl"}
    apa = text(soup, "pre#cite-apa")
    assert apa.startswith("Office of the County Clerk. (2026, November 4). County certifies")
    assert "http://localhost/" in apa and site.statement_url in apa
    assert text(soup, "pre#cite-bibtex").startswith("@online{")
    csl = json.loads(soup.select_one("pre#cite-csl").get_text())
    assert csl["id"] == site.pledge and csl["container-title"].startswith("Brightwater")
    for button in soup.select("button.copy"):
        assert soup.select_one("pre#" + button["data-copy-target"]) is not None
    assert [s["src"] for s in soup.select("script")] == ["/static/copy.js"]
    assert client.get("/static/copy.js").status_code == 200


def test_appearances_put_the_first_first_and_show_how_variants_differ(client, site):
    soup = page(client, links.quote_path(site.variant))
    items = soup.select("li.appearance")
    assert [li["data-quote-id"] for li in items] == [site.pledge, site.variant]
    assert items[0].select_one(".badge.first") is not None
    assert "current" in items[1]["class"]
    assert "variant" in items[0]["class"]
    assert [ins.get_text() for ins in items[0].select("ins")] == [" in full"]
    assert items[0].select("del") == []


def test_via_and_unnamed_speakers_are_shown(client, site):
    soup = page(client, links.quote_path(site.reported))
    assert text(soup, ".reported .via") == "Reuters"
    soup = page(client, links.quote_path(site.unnamed))
    assert soup.select_one("figcaption .badge.anonymous") is not None


def test_an_older_quote_id_moves_permanently_to_its_successor(client, site):
    response = client.get(links.quote_path(site.old_pledge))
    assert response.status_code == 301
    assert response.headers["Location"] == links.quote_path(site.pledge)
    response = client.get(links.json_path(links.quote_path(site.old_pledge)))
    assert response.status_code == 301
    assert response.headers["Location"] == links.json_path(links.quote_path(site.pledge))


def test_quote_json_by_suffix_and_by_accept(client, site):
    by_suffix = client.get(links.json_path(links.quote_path(site.pledge))).get_json()
    by_accept = client.get(
        links.quote_path(site.pledge), headers={"Accept": "application/json"}
    ).get_json()
    assert by_suffix == by_accept
    assert by_suffix["speaker"]["name"] == "Dana Whitfield"
    assert by_suffix["capture"]["payload_digest"].startswith("sha256:")
    assert set(by_suffix["citations"]) == {"apa", "mla", "chicago", "bibtex", "csl"}


# -- document, speaker, sources -------------------------------------------------------------


def test_document_page_marks_every_quote_by_escaping_segments(client, site, catalog):
    document = catalog.document(site.news)
    extraction = catalog.current_extraction(document.latest_version_id)
    quotes = catalog.quotes_of_extraction(extraction.id)
    soup = page(client, links.document_path(site.news))
    marks = soup.select("section.archived-text mark[id]")
    assert {m["id"] for m in marks} == {q.id for q in quotes}
    for quote in quotes:
        assert soup.select_one(f"mark#{quote.id}").get_text() == quote.text
    body = "".join(p.get_text() for p in soup.select("section.archived-text p"))
    assert body == "".join(extraction.text[p.start : p.end] for p in extraction.paragraphs)


def test_document_page_lists_versions_events_and_captures(client, site, catalog):
    soup = page(client, links.document_path(site.news))
    assert [li["data-seq"] for li in soup.select("ol.version-list li")] == ["1", "2"]
    assert [a["href"] for a in soup.select("a.diff-link")] == [
        links.document_diff_path(site.news, 1, 2)
    ]
    assert [li["class"] for li in soup.select("li.event")] == [["event", "edited"]]
    document = catalog.document(site.news)
    captures = catalog.captures_of_url(document.canonical_url)
    rows = soup.select("table.captures tr.capture")
    assert [r["data-capture-id"] for r in rows] == [c.id for c in captures]
    assert rows[0].select_one("a")["href"] == links.capture_path(
        captures[0].url, captures[0].captured_at
    )


def test_diff_between_two_versions_is_readable(client, site):
    soup = page(client, links.document_diff_path(site.news, 1, 2))
    inserted = [ins.get_text() for ins in soup.select(".diff ins")]
    assert any("evening" in piece for piece in inserted)
    assert any("correction" in piece for piece in inserted)
    assert soup.select(".diff del") == []
    reversed_order = client.get(links.document_diff_path(site.news, 2, 1))
    assert reversed_order.status_code == 302


@pytest.mark.parametrize(
    "query", ["diff=1,9", "diff=a,b", "diff=1", "version=x", "version=7", "version=²", "diff=1,²"]
)
def test_bad_version_parameters_are_400(client, site, query):
    soup = page(client, f"{links.document_path(site.news)}?{query}", status=400)
    assert soup.select_one(".error")["data-status"] == "400"


def test_speaker_page_lists_quotes_and_roles(client, site):
    soup = page(client, links.speaker_path(site.director))
    assert text(soup, "h1.speaker-name") == "Dana Whitfield"
    ids = [li["data-quote-id"] for li in soup.select("li.said")]
    assert {site.pledge, site.variant} <= set(ids)
    assert len(ids) == len(set(ids))
    assert [text(td, "td.role") for td in soup.select("table.role-table tbody tr")] == [
        "the county's elections director"
    ]


def test_sources_page_shows_declared_sources(client, site):
    folder = site.root / "sources"
    folder.mkdir(exist_ok=True)
    (folder / "gazette.toml").write_text(
        '[[source]]\nname = "harbour-gazette"\npublisher = "The Harbour Gazette"\n'
        'kind = "news"\nstart_urls = ["https://gazette.example/news/"]\n'
        'discovery = { type = "none" }\nschedule = { every = "6h" }\n',
        encoding="utf-8",
    )
    soup = page(client, links.sources_path())
    row = soup.select_one('tr.source[data-source="harbour-gazette"]')
    assert text(row, ".publisher") == "The Harbour Gazette"
    assert text(row, ".last-run") == "never run"
    assert text(row, ".next-due") == "due now"
    data = client.get(links.json_path(links.sources_path())).get_json()
    assert [s["name"] for s in data["sources"]] == ["harbour-gazette"]


# -- search and feeds -------------------------------------------------------------------------


def test_phrase_search_highlights_and_links_to_quotes(client, site):
    soup = page(client, links.search_path('"every count will be published"'))
    hits = {li["data-id"] for li in soup.select("li.hit")}
    assert {site.pledge, site.variant} <= hits
    first = soup.select_one("li.hit.quote")
    assert first.select_one("blockquote a")["href"] == links.quote_path(first["data-id"])
    assert [m.get_text().lower() for m in first.select("mark")] == ["every count will be published"]


def test_facets_add_a_filter_to_the_query(client, site):
    soup = page(client, links.search_path("ballot"))
    speakers = soup.select('section.facet[data-facet="speaker"] a')
    link = next(a for a in speakers if a.get_text() == "Dana Whitfield")
    query = parse_qs(urlsplit(link["href"]).query)["q"][0]
    assert query == 'ballot speaker:"Dana Whitfield"'
    narrowed = page(client, link["href"])
    who = {text(li, ".who").split(",")[0] for li in narrowed.select("li.hit.quote")}
    assert who == {"Dana Whitfield"}
    months = soup.select('section.facet[data-facet="month"] a')
    assert "date:2026-11" in parse_qs(urlsplit(months[0]["href"]).query)["q"][0]


def test_sort_by_date_and_pages(client, site):
    soup = page(client, links.search_path("county", sort="date"))
    assert soup.select_one("strong.sort.current")["data-sort"] == "date"
    dates = [t["datetime"] for t in soup.select("li.hit .where time")]
    assert dates == sorted(dates, reverse=True)
    second = page(client, links.search_path("county", page=2))
    assert second.select_one('a[rel="prev"]') is not None


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("speaker:", "needs a value"),
        ('"unbalanced', "quotation mark"),
        ("nope:x", "unknown"),
        ("published:0000", "no such day"),  # years run from 0001
    ],
)
def test_malformed_queries_are_400_with_the_reason(client, query, words):
    soup = page(client, links.search_path(query), status=400)
    assert words in text(soup, ".message")
    response = client.get(links.json_path(links.search_path(query)))
    assert response.status_code == 400
    assert words in response.get_json()["error"]["message"]


@pytest.mark.parametrize("query", ["published:9999-12-31", "captured:>9999-12-31", "before:0001"])
def test_the_calendars_last_and_first_days_are_days_that_hold_nothing(client, query):
    found = client.get(links.json_path(links.search_path(query))).get_json()
    assert (found["total"], found["unavailable"]) == (0, [])


@pytest.mark.parametrize("query", ["sort=sideways", "type=person", "page=0", "page=x", "page=²"])
def test_bad_search_parameters_are_400(client, query):
    assert client.get(f"/search?q=ballot&{query}").status_code == 400


def test_search_json_is_the_shared_results_shape(client, site):
    data = client.get(links.json_path(links.search_path("recount"))).get_json()
    assert data["total"] >= 1
    assert {h["id"] for h in data["hits"]} >= {site.unnamed}
    assert set(data["facets"]) >= {"speaker", "publisher", "kind", "month"}


def test_atom_feed_of_new_quotes(client, site):
    response = client.get(links.search_atom_path("ballot"))
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.data)
    entries = feed.findall(f"{ATOM}entry")
    hrefs = {e.find(f"{ATOM}link").get("href") for e in entries}
    assert "http://localhost" + links.quote_path(site.pledge) in hrefs
    updated = [e.find(f"{ATOM}updated").text for e in entries]
    assert updated == sorted(updated, reverse=True)


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/quote/q-0000000000000000", "/document/d-0000000000000000", "/speaker/s-00000000"],
)
def test_unknown_ids_are_404_in_html_and_json(client, path):
    soup = page(client, path, status=404)
    assert soup.select_one(".error")["data-status"] == "404"
    response = client.get(links.json_path(path))
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404


@pytest.mark.parametrize(
    "path",
    [
        "/20261399000000/http://127.0.0.1/x",
        "/20260230000000/http://127.0.0.1/x",
        "/20261103000000/ftp://example.org/x",
        "/20261103000000/notaurl",
    ],
)
def test_malformed_wayback_urls_are_400(client, path):
    page(client, path, status=400)


@pytest.mark.parametrize(
    ("number", "status", "words"),
    [
        ("99999999999999999999", 404, "there is no page 99999999999999999999 of captures"),
        ("9223372036854775807", 404, "the last is 1"),
        ("2", 404, "the last is 1"),
        ("0", 400, "page must be a whole number"),
        ("-5", 400, "page must be a whole number"),
        ("abc", 400, "page must be a whole number"),
        ("²", 400, "page must be a whole number"),  # a digit to str.isdigit, no number
    ],
)
def test_a_page_of_captures_that_does_not_exist_is_a_clear_error(client, number, status, words):
    soup = page(client, f"/captures?page={number}", status=status)
    assert words in text(soup, ".message")


def test_over_long_query_strings_are_refused_with_a_message(client):
    soup = page(client, links.search_path("ballot " * 600), status=414)
    assert "shorten" in text(soup, ".message")


@pytest.mark.parametrize("module", [citations, documents, search, links, api, memento, feeds])
def test_doctests_of_the_web_modules(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# -- publication times in the publisher's zone ----------------------------------------------

# A story published late in the evening west of UTC, and a release that states only its day.
ZONED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<meta property="article:published_time" content="{published}">
</head><body><article>
<h1>{title}</h1>
<p>The last precinct reported after nine in the evening, leaving both candidates level.</p>
<p>“We will recount every ballot by hand before anyone is sworn in,” said Dana Whitfield, \
the county's elections director.</p>
</article></body></html>
"""
ZONED = {
    "/news/late-count": ("Late count ends in a tie", "2026-11-19T21:40:00-06:00"),
    "/releases/recount-day": ("Recount day is set", "2026-11-20"),
}


@pytest.fixture(scope="module")
def zoned(tmp_path_factory):
    """A client on an archive of the two pages, and each page's document and quote ids."""
    root = tmp_path_factory.mktemp("zoned") / "archive"
    init_archive(root)
    ids_of = {}
    with (
        LoopbackServer() as server,
        Store.open(root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
    ):
        pipeline = Pipeline(store, http)
        for path, (title, published) in ZONED.items():
            body = ZONED_PAGE.format(title=title, published=published)
            server.route(path, status=200, body=body, headers=HTML)
            pipeline.capture(server.url(path))
            document = store.catalog.document(ids.doc_id(ids.canonical_url(server.url(path))))
            extraction = store.catalog.current_extraction(document.latest_version_id)
            (quote,) = store.catalog.quotes_of_extraction(extraction.id)
            ids_of[path] = (document.id, quote.id)
        indexing.catch_up(Paths(root), store.catalog)
    return create_app({"ARCHIVE": str(root), "TESTING": True}).test_client(), ids_of


def test_a_publication_time_is_labelled_with_the_publishers_offset_not_as_utc(zoned):
    client, ids_of = zoned
    document_id, quote_id = ids_of["/news/late-count"]
    for path in (links.quote_path(quote_id), links.document_path(document_id)):
        published = page(client, path).select_one("dd.published time")
        assert published["datetime"] == "2026-11-19T21:40:00-06:00"
        assert published.get_text() == "2026-11-19 21:40 UTC−06:00", path


def test_a_publication_date_without_a_time_stays_a_date(zoned):
    client, ids_of = zoned
    document_id, quote_id = ids_of["/releases/recount-day"]
    for path in (links.quote_path(quote_id), links.document_path(document_id)):
        assert text(page(client, path), "dd.published") == "2026-11-20", path


def test_a_publication_time_in_utc_is_labelled_utc(client, site):
    for path in (links.quote_path(site.pledge), links.document_path(site.statement)):
        assert text(page(client, path), "dd.published") == "2026-11-04 15:00 UTC", path
