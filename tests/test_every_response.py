"""Every response kept: a scrape keeps in its WARCs, as received, everything it was
answered (robots.txt, a feed, sitemaps, a listing page, each hop of a redirect chain, a
404, every attempt at a 500), each with its kind and the run that made it; only article
pages become documents. The capture list filters them by kind; verify, a WACZ export and
its import, re-extraction and reindexing all take them in their stride."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from warcio.archiveiterator import ArchiveIterator

from archive.catalog import Catalog
from archive.catalog.captures import CAPTURE_FILTERS
from archive.store import Paths, Store, init_archive
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from scrapers.sources import load_sources
from tests.catalogs import write_settings
from tests.conftest import run_onrecord
from tests.loopback import LoopbackServer, Reply
from web import create_app, indexing

HTML = {"Content-Type": "text/html; charset=utf-8"}
XML = {"Content-Type": "application/xml"}
ROBOTS = "User-agent: *\nDisallow: /private/\n"


def _article(title: str, speaker: str) -> str:
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f'<p>"The harbour bridge reopens on Monday after the repairs," said {speaker}, the'
        " city engineer, at a briefing on Thursday.</p><p>Traffic will be limited to two"
        " lanes for the first week while the last inspections are finished.</p>"
        "</article></body></html>"
    )


def _site(server: LoopbackServer) -> dict[str, str]:
    """The loopback site; returns what each kept URL's body is, by path."""
    url = server.url
    bodies = {
        "/robots.txt": ROBOTS,
        "/feed.xml": (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour news</title>'
            f"<item><title>A</title><link>{url('/news/a')}</link></item>"
            f"<item><title>Old</title><link>{url('/old')}</link></item>"
            f"<item><title>Missing</title><link>{url('/missing')}</link></item>"
            f"<item><title>Broken</title><link>{url('/broken')}</link></item>"
            "</channel></rss>"
        ),
        "/sitemap-index.xml": (
            '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
            f'sitemap/0.9"><sitemap><loc>{url("/sitemap-1.xml")}</loc></sitemap>'
            "</sitemapindex>"
        ),
        "/sitemap-1.xml": (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{url('/news/c')}</loc></url></urlset>"
        ),
        "/list.html": (
            "<html><body><h1>Briefings</h1>"
            f'<a class="story" href="{url("/news/d")}">D</a></body></html>'
        ),
        "/old": "",
        "/older": "",
        "/missing": "<p>No such page</p>",
        "/broken": "<p>Something broke</p>",
    }
    server.route("/robots.txt", body=bodies["/robots.txt"])
    server.route("/feed.xml", body=bodies["/feed.xml"], headers=XML)
    server.route("/sitemap-index.xml", body=bodies["/sitemap-index.xml"], headers=XML)
    server.route("/sitemap-1.xml", body=bodies["/sitemap-1.xml"], headers=XML)
    server.route("/list.html", body=bodies["/list.html"], headers=HTML)
    server.route("/old", status=301, headers={"Location": "/older"})
    server.route("/older", status=302, headers={"Location": "/news/b"})
    server.route("/missing", Reply(status=404, body=bodies["/missing"], headers=HTML))
    server.route("/broken", Reply(status=500, body=bodies["/broken"], headers=HTML))
    for name, speaker in (
        ("a", "Rosa Lind"),
        ("b", "Omar Vale"),
        ("c", "Ines Dorn"),
        ("d", "Tom Reyes"),
    ):
        server.route(f"/news/{name}", body=_article(f"Bridge update {name}", speaker), headers=HTML)
    return bodies


def _sources(root: Path, server: LoopbackServer) -> None:
    discoveries = {
        "harbour-feed": f'{{ type = "feed", url = "{server.url("/feed.xml")}" }}',
        "harbour-map": f'{{ type = "sitemap", url = "{server.url("/sitemap-index.xml")}" }}',
        "harbour-list": (
            f'{{ type = "listing", url = "{server.url("/list.html")}", selector = "a.story" }}'
        ),
    }
    text = "".join(
        f'[[source]]\nname = "{name}"\npublisher = "Harbour City"\nkind = "statement"\n'
        f'discovery = {discovery}\nschedule = {{ every = "1d" }}\n\n'
        for name, discovery in discoveries.items()
    )
    (root / "sources" / "harbour.toml").write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def scraped(tmp_path_factory):
    """An archive after one run of each source against the loopback site."""
    root = tmp_path_factory.mktemp("kept") / "archive"
    root.mkdir()
    write_settings(root, "")
    init_archive(root)
    with LoopbackServer() as server:
        bodies = _site(server)
        _sources(root, server)
        config = HttpConfig(allow_private=True, delay=0.0, max_retries=1, backoff_base=0.01)
        with Store.open(root) as store, PoliteSession(config) as http:
            pipeline = Pipeline(store, http)
            runs = {}
            for source in load_sources([root / "sources"]):
                pipeline.scrape(source)
                runs[source.name] = store.catalog.last_run(source.name).id
            indexing.catch_up(store.paths, store.catalog)
        yield root, server.url, bodies, runs


def _warc_records(root: Path) -> list:
    """(type, target URI, status, payload, WARC headers) of every record, read by warcio."""
    found = []
    for warc in sorted((root / "warcs").glob("*.warc.gz")):
        with warc.open("rb") as stream:
            for record in ArchiveIterator(stream):
                status = record.http_headers.get_statuscode() if record.http_headers else None
                found.append(
                    (
                        record.rec_type,
                        record.rec_headers.get_header("WARC-Target-URI") or "",
                        status,
                        record.content_stream().read(),
                        record.rec_headers,
                    )
                )
    return found


def test_every_answer_is_in_the_warcs_as_received_with_its_kind_and_run(scraped):
    root, url, bodies, runs = scraped
    records = _warc_records(root)
    responses = Counter((uri, status) for kind, uri, status, _, _ in records if kind == "response")
    for path, status in (
        ("/robots.txt", "200"),
        ("/feed.xml", "200"),
        ("/sitemap-index.xml", "200"),
        ("/sitemap-1.xml", "200"),
        ("/list.html", "200"),
        ("/old", "301"),
        ("/older", "302"),
        ("/missing", "404"),
    ):
        assert responses[(url(path), status)] >= 1, path
    assert responses[(url("/broken"), "500")] == 2  # the first try and its one retry
    for kind, uri, _, payload, _ in records:
        path = uri.removeprefix(url(""))
        if kind == "response" and path in bodies:
            assert payload == bodies[path].encode("utf-8"), path
    # Each response not a plain page is followed by a metadata record naming its kind and
    # its run, WARC-Concurrent-To the response.
    ids = {headers.get_header("WARC-Record-ID"): uri for k, uri, _, _, headers in records}
    fields = {}
    for kind, _, _, payload, headers in records:
        if kind == "metadata":
            target = ids[headers.get_header("WARC-Concurrent-To")]
            fields.setdefault(target, set()).add(payload.decode())
    assert "onrecord-kind: feed" in next(iter(fields[url("/feed.xml")]))
    assert f"onrecord-run: {runs['harbour-feed']}" in next(iter(fields[url("/feed.xml")]))
    assert any("onrecord-kind: robots" in text for text in fields[url("/robots.txt")])
    assert "onrecord-kind: sitemap" in next(iter(fields[url("/sitemap-1.xml")]))
    assert "onrecord-kind: listing" in next(iter(fields[url("/list.html")]))
    assert f"onrecord-run: {runs['harbour-feed']}" in next(iter(fields[url("/broken")]))


def test_the_catalog_keeps_their_kind_and_run_and_only_pages_are_documents(scraped):
    root, url, _, runs = scraped
    with Catalog.open(Paths(root).catalog) as catalog:
        captures = list(catalog.all_captures())
        by_url = {}
        for capture in captures:
            by_url.setdefault(capture.url, []).append(capture)
        assert {c.kind for c in by_url[url("/feed.xml")]} == {"feed"}
        assert {c.kind for c in by_url[url("/sitemap-index.xml")]} == {"sitemap"}
        assert {c.kind for c in by_url[url("/list.html")]} == {"listing"}
        assert {c.kind for c in by_url[url("/robots.txt")]} == {"robots"}
        assert {(c.kind, c.status) for c in by_url[url("/old")]} == {("page", 301)}
        assert {c.run_id for c in by_url[url("/broken")]} == {runs["harbour-feed"]}
        assert {c.run_id for c in by_url[url("/sitemap-1.xml")]} == {runs["harbour-map"]}
        assert catalog.unprocessed_captures() == []
        documents = sorted(d.url for d in catalog.documents())
        assert documents == sorted(url(f"/news/{name}") for name in "abcd")
        [failure] = [f for f in catalog.failures() if f.url == url("/broken")]
        assert failure.run_id == runs["harbour-feed"] and failure.status == 500


def test_the_capture_list_shows_each_kind_apart(scraped):
    root, url, _, _ = scraped
    client = create_app({"ARCHIVE": str(root), "TESTING": True}).test_client()
    everything = client.get("/captures.json").get_json()
    seen, total = {}, 0
    for kind in CAPTURE_FILTERS:
        listed = client.get(f"/captures.json?kind={kind}").get_json()
        assert listed["kind"] == kind and listed["total"] == len(listed["captures"])
        seen[kind] = {(c["url"].removeprefix(url("")), c["status"]) for c in listed["captures"]}
        total += listed["total"]
    assert total == everything["total"]  # the filters partition the captures
    assert seen["robots"] == {("/robots.txt", 200)}
    assert seen["feed"] == {("/feed.xml", 200)}
    assert seen["sitemap"] == {("/sitemap-index.xml", 200), ("/sitemap-1.xml", 200)}
    assert seen["listing"] == {("/list.html", 200)}
    assert seen["redirect"] == {("/old", 301), ("/older", 302)}
    assert seen["failed"] == {("/missing", 404), ("/broken", 500)}
    assert {path for path, _ in seen["page"]} == {f"/news/{name}" for name in "abcd"}
    page = client.get("/captures?kind=sitemap")
    assert page.status_code == 200
    html = BeautifulSoup(page.data, "html.parser")
    rows = html.select("tr.capture")
    assert {row["data-kind"] for row in rows} == {"sitemap"}
    assert sorted(row.select_one("td.url").get_text() for row in rows) == [
        url("/sitemap-1.xml"),
        url("/sitemap-index.xml"),
    ]
    assert html.select_one(".capture-kinds strong.kind").get_text() == "sitemap"
    refused = client.get("/captures?kind=gossip")
    assert refused.status_code == 400 and b"kind must be one of" in refused.data


def test_verify_export_import_reextract_and_reindex_take_them_in_their_stride(scraped, tmp_path):
    root, url, _, _ = scraped
    verified = run_onrecord("verify", "--archive", str(root))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    package = tmp_path / "kept.wacz"
    exported = run_onrecord("export", str(package), "--archive", str(root))
    assert exported.returncode == 0, exported.stderr
    copy = tmp_path / "copy"
    copy.mkdir()
    write_settings(copy, "")
    init_archive(copy)
    imported = run_onrecord("import", str(package), "--archive", str(copy))
    assert imported.returncode == 0, imported.stderr
    with Catalog.open(Paths(root).catalog) as a, Catalog.open(Paths(copy).catalog) as b:
        mine = {(c.id, c.kind, c.run_id) for c in a.all_captures()}
        theirs = {(c.id, c.kind, c.run_id) for c in b.all_captures()}
        assert theirs == mine
        assert sorted(d.url for d in b.documents()) == sorted(d.url for d in a.documents())
    for command in ("reextract", "reindex"):
        done = run_onrecord(command, "--archive", str(copy))
        assert done.returncode == 0, done.stderr
    with Catalog.open(Paths(copy).catalog) as catalog:
        documents = sorted(d.url for d in catalog.documents())
    assert documents == sorted(url(f"/news/{name}") for name in "abcd")
    assert run_onrecord("verify", "--archive", str(copy)).returncode == 0
