"""Scheduled scrapes of declared sources, against a real loopback site."""

from __future__ import annotations

import json
import signal

import pytest

from archive import ids
from archive.catalog import Catalog
from archive.store import Paths, Store
from scrapers.extract import extract
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline, Readers
from scrapers.quotes import find_quotes
from scrapers.sources import load_sources
from tests.conftest import run_onrecord
from tests.loopback import Reply
from web.indexing import read_position

HTML = {"Content-Type": "text/html; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml"}


def article(title: str, speaker: str, words: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
    </head><body><nav><a href="/">Home</a></nav><article><h1>{title}</h1>
    <p>The county's election office released its weekly update on Tuesday, describing how the
    canvass was proceeding and what observers had seen in the counting rooms.</p>
    <p>“{words},” said {speaker}, who oversees the count for the office.</p>
    <p>Further updates are expected before the certification deadline later this month, the
    office said, and will be posted on its website as they are approved.</p>
    </article><footer>Privacy policy</footer></body></html>"""


def feed(origin: str, paths: list[str]) -> str:
    items = "".join(f"<item><title>{p}</title><link>{origin}{p}</link></item>" for p in paths)
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Updates</title>'
        f"<link>{origin}/</link><description>d</description>{items}</channel></rss>"
    )


PAGES = ["/updates/1", "/updates/2", "/updates/3", "/private/draft"]


@pytest.fixture
def site(server):
    server.route("/robots.txt", status=200, body="User-agent: *\nDisallow: /private/\n")
    server.route("/feed.xml", status=200, body=feed(server.origin, PAGES), headers=RSS)
    for n, path in enumerate(PAGES, start=1):
        words = f"Update number {n} shows the count is on schedule in every ward"
        server.route(
            path, status=200, body=article(f"Update {n}", "Nora Quint", words), headers=HTML
        )
    return server


@pytest.fixture
def sources_file(archive_root, site):
    path = archive_root / "sources" / "county.toml"
    path.write_text(
        f"""[[source]]
name = "county-updates"
publisher = "Lakemoor County Elections Office"
kind = "statement"
discovery = {{ type = "feed", url = "{site.url("/feed.xml")}" }}
schedule = {{ every = "6h" }}
delay = 0.0
""",
        encoding="utf-8",
    )
    return path


def test_scrape_captures_the_feed_and_obeys_robots(archive_root, site, sources_file):
    result = run_onrecord("scrape", "--archive", str(archive_root))
    assert result.returncode == 0, result.stderr  # a robots.txt refusal is not a failed run
    assert "3 new versions" in result.stdout and "(1 refused by robots.txt)" in result.stdout
    assert site.hits("/private/draft") == 0
    with Catalog.open(Paths(archive_root).catalog) as catalog:
        assert len(catalog.documents()) == 3
        reasons = [f.reason for f in catalog.failures()]
        assert any("robots.txt" in r for r in reasons)
        run = catalog.last_run("county-updates")
        assert run.finished_at is not None and run.discovered == 4
        assert catalog.next_due("county-updates") > run.finished_at


def test_a_killed_scrape_is_finished_by_the_next_run_without_refetching(
    archive_root, site, sources_file
):
    killed = run_onrecord(
        "scrape", "--archive", str(archive_root), env={"ONRECORD_CRASH_AT": "extraction-stored"}
    )
    assert killed.returncode == -signal.SIGKILL
    assert site.hits("/updates/1") == 1
    again = run_onrecord("scrape", "--archive", str(archive_root))
    assert again.returncode == 0, again.stderr
    for path in PAGES[:3]:
        assert site.hits(path) == 1, path
    with Catalog.open(Paths(archive_root).catalog) as catalog:
        assert catalog.unprocessed_captures() == []
        assert len(catalog.documents()) == 3
        assert all(len(catalog.versions(d.id)) == 1 for d in catalog.documents())
        assert catalog.last_run("county-updates").finished_at is not None


def test_schedule_once_runs_only_what_is_due(archive_root, site, sources_file):
    first = run_onrecord("schedule", "--once", "--archive", str(archive_root))
    assert first.returncode == 0, first.stderr
    hits = site.hits("/feed.xml")
    second = run_onrecord("schedule", "--once", "--archive", str(archive_root))
    assert second.returncode == 0, second.stderr
    assert site.hits("/feed.xml") == hits  # not due again for six hours
    status = run_onrecord("status", "--archive", str(archive_root))
    assert "county-updates" in status.stdout and "next due" in status.stdout
    with Catalog.open(Paths(archive_root).catalog) as catalog:
        head = catalog.change_head()
    index = Paths(archive_root).index
    assert f"search index {index}: at change {head} of {head}\n" in status.stdout


def test_changes_as_json(archive_root, site, sources_file):
    run_onrecord("scrape", "--archive", str(archive_root))
    site.route("/updates/2", status=410, body="gone", headers=HTML)
    edited = article("Update 1", "Nora Quint", "Update number 1 shows a short delay in ward 4")
    site.route("/updates/1", status=200, body=edited, headers=HTML)
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        pipeline = Pipeline(store, http)
        pipeline.capture(site.url("/updates/1"))
        pipeline.capture(site.url("/updates/2"))
    result = run_onrecord("changes", "--format", "json", "--archive", str(archive_root))
    events = json.loads(result.stdout)
    assert sorted(e["type"] for e in events) == ["edited", "taken_down"]
    assert set(events[0]) == {"type", "url", "document_id", "at"}
    assert all(e["at"].endswith("Z") for e in events)


def test_sources_check_names_file_line_and_field(archive_root):
    bad = archive_root / "sources" / "bad.toml"
    bad.write_text('[[source]]\nname = "x"\npublisher = "P"\nkind = "gossip"\n', encoding="utf-8")
    result = run_onrecord("sources", "check", "--archive", str(archive_root))
    assert result.returncode != 0
    assert "bad.toml:4" in result.stderr and "kind" in result.stderr


def no_wait(_seconds: float) -> None:
    """Backoff is asserted elsewhere; here only the recorded outcome matters."""


FAILURES = {
    "429 storm": Reply(status=429, headers={"Retry-After": "1"}),
    "5xx storm": Reply(status=503),
    "slow server": Reply(status=200, body="<p>late</p>", delay=3.0),
    "oversize body": Reply(status=200, body=b"<p>x</p>" * 128, length=5_000_000),
}


# What each failure leaves in the archive: every answer received, as received (the
# retried ones too); nothing of an answer that was never received whole.
KEPT = {"429 storm": [429] * 3, "5xx storm": [503] * 3, "slow server": [], "oversize body": []}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_each_failure_is_a_recorded_reason_and_nothing_partial(archive_root, server, case):
    server.route("/page", FAILURES[case])
    config = HttpConfig(
        allow_private=True, delay=0.0, read_timeout=1.0, max_bytes=1_000_000, max_retries=2
    )
    with Store.open(archive_root) as store, PoliteSession(config, sleep=no_wait) as http:
        outcome = Pipeline(store, http).capture(server.url("/page"))
        assert [c.status for c in outcome.captures] == KEPT[case]
        [failure] = store.catalog.failures()
        assert failure.reason
        kept = [c for c in store.catalog.all_captures() if c.kind == "page"]
        assert [c.status for c in kept] == KEPT[case]
        for capture in kept:
            assert store.read(capture).payload == FAILURES[case].payload()
        assert store.catalog.documents() == []


def test_a_redirect_loop_is_a_recorded_reason(archive_root, server):
    server.route("/a", status=302, headers={"Location": "/b"})
    server.route("/b", status=302, headers={"Location": "/a"})
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        outcome = Pipeline(store, http).capture(server.url("/a"))
        # both hops are kept, as received; the loop back to /a is never fetched
        assert [(c.url, c.status) for c in outcome.captures] == [
            (server.url("/a"), 302),
            (server.url("/b"), 302),
        ]
        assert "redirect" in store.catalog.failures()[0].reason


@pytest.mark.parametrize(
    ("body", "content_type", "expect"),
    [
        (bytes(range(256)) * 64, "text/html", "binary"),
        (b"<html><body><p>Unclosed <b>tags <i>everywhere", "text/html", "Unclosed"),
        (
            "<html><body><article><p>" + "Café déjà vu, the señora said. " * 12 + "</p></article>",
            "text/html; charset=iso-8859-1",
            "Café",
        ),
    ],
    ids=["binary-as-html", "malformed-html", "wrong-charset"],
)
def test_bad_pages_are_stored_whole_and_extracted_with_reasons(
    archive_root, server, body, content_type, expect
):
    payload = body.encode("utf-8") if isinstance(body, str) else body
    server.route("/page", status=200, body=payload, headers={"Content-Type": content_type})
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        outcome = Pipeline(store, http).capture(server.url("/page"))
        [capture] = outcome.captures
        assert store.read(capture).payload == payload  # as received, byte for byte
        document = store.catalog.document_by_url(capture.canonical_url)
        extraction = store.catalog.current_extraction(document.latest_version_id)
        if expect == "binary":
            assert extraction.text == "" and extraction.problems
        else:
            assert expect in extraction.text


def test_a_scrape_killed_before_indexing_is_indexed_by_the_next_run(
    archive_root, site, sources_file
):
    killed = run_onrecord(
        "scrape", "--archive", str(archive_root), env={"ONRECORD_CRASH_AT": "before-index"}
    )
    assert killed.returncode == -signal.SIGKILL
    assert run_onrecord("scrape", "--archive", str(archive_root)).returncode == 0
    found = run_onrecord(
        "search", '"number 2 shows"', "--format", "json", "--archive", str(archive_root)
    )
    assert json.loads(found.stdout)["total"] >= 1
    with Catalog.open(Paths(archive_root).catalog) as catalog:
        assert read_position(Paths(archive_root).index) == catalog.change_head() > 0


def test_a_feed_that_is_not_xml_fails_the_run_with_a_reason(archive_root, site, sources_file):
    site.route("/feed.xml", status=200, body="<html><p>Not a feed</p></html>", headers=HTML)
    result = run_onrecord("scrape", "--archive", str(archive_root))
    assert result.returncode == 1, result.stderr
    assert "1 failures" in result.stdout
    assert "1 fetches or runs failed, the first: county-updates:" in result.stderr
    assert "Traceback" not in result.stderr
    with Catalog.open(Paths(archive_root).catalog) as catalog:
        run = catalog.last_run("county-updates")
        assert run.error and "feed" in run.error.lower()
        # the feed is kept as received, with the run that read it; it is no document
        [feed] = [c for c in catalog.all_captures() if c.kind == "feed"]
        assert feed.run_id == run.id and feed.url.endswith("/feed.xml")
        assert {c.kind for c in catalog.all_captures()} == {"feed", "robots"}
        assert catalog.documents() == []
        assert catalog.next_due("county-updates") is not None


def test_a_sitemap_bomb_is_capped(archive_root, server):
    urls = "".join(f"<url><loc>{server.url(f'/n/{n}')}</loc></url>" for n in range(50_000))
    body = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    server.route("/sitemap.xml", status=200, body=body, headers={"Content-Type": "application/xml"})
    server.route(
        "/n/0", status=200, body=article("N", "Ada Brook", "The count is done"), headers=HTML
    )
    (archive_root / "sources" / "bomb.toml").write_text(
        f"""[[source]]
name = "bomb"
publisher = "Bomb Gazette"
kind = "news"
discovery = {{ type = "sitemap", url = "{server.url("/sitemap.xml")}" }}
schedule = {{ every = "1d" }}
delay = 0.0
max_pages = 3
""",
        encoding="utf-8",
    )
    result = run_onrecord("scrape", "--archive", str(archive_root))
    assert result.returncode == 0, result.stderr
    with Catalog.open(Paths(archive_root).catalog) as catalog:
        assert catalog.last_run("bomb").discovered == 3
    assert len([r for r in server.requests if r.path.startswith("/n/")]) == 3


def test_a_scrape_whose_fetches_all_failed_exits_non_zero(archive_root, server):
    server.route("/gone-wrong", status=503, body="try later", headers=HTML)
    (archive_root / "sources" / "down.toml").write_text(
        f"""[[source]]
name = "down"
publisher = "Down Gazette"
kind = "news"
discovery = {{ type = "none" }}
start_urls = ["{server.url("/gone-wrong")}", "http://127.0.0.1:9/closed"]
schedule = {{ every = "1d" }}
delay = 0.0
""",
        encoding="utf-8",
    )
    result = run_onrecord("scrape", "--archive", str(archive_root))
    assert result.returncode == 1, result.stdout
    assert "2 failures" in result.stdout
    assert "2 fetches or runs failed" in result.stderr
    assert "Traceback" not in result.stderr


# -- unforeseen errors: one source's or one page's, never the whole scrape's ---------------


class FeedBug(PoliteSession):
    """A polite session with a bug that reading a feed sets off, as one malformed link
    in a sitemap or listing page once made discovery raise ValueError."""

    def fetch(self, url: str, *, kind: str = "page", **options):
        if kind == "feed":
            raise ValueError("Invalid IPv6 URL")
        return super().fetch(url, kind=kind, **options)


def test_an_unforeseen_discovery_error_fails_its_run_and_the_next_source_runs(
    archive_root, site, sources_file, caplog
):
    (archive_root / "sources" / "direct.toml").write_text(
        f"""[[source]]
name = "direct-updates"
publisher = "Lakemoor County Elections Office"
kind = "statement"
start_urls = ["{site.url("/updates/3")}"]
schedule = {{ every = "6h" }}
""",
        encoding="utf-8",
    )
    county, direct = load_sources([archive_root / "sources"])
    with (
        Store.open(archive_root) as store,
        FeedBug(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        pipeline = Pipeline(store, http)
        [failure] = pipeline.scrape(county).failed
        assert failure.reason == "discovery failed unexpectedly: ValueError: Invalid IPv6 URL"
        run = store.catalog.last_run("county-updates")
        assert run.finished_at is not None and run.error == failure.reason
        assert store.catalog.failures()[0].run_id == run.id
        assert store.catalog.next_due("county-updates") is not None
        logged = [r for r in caplog.records if "discovery of county-updates" in r.getMessage()]
        assert logged and logged[0].exc_info  # with its traceback
        assert pipeline.scrape(direct).new_versions == 1


def list_update_5(site) -> None:
    """The feed lists a fifth update, whose words say the count is finished."""
    site.route("/feed.xml", status=200, body=feed(site.origin, [*PAGES, "/updates/5"]))
    words = "Update number 5 shows the count is finished in every ward"
    site.route("/updates/5", status=200, body=article("Update 5", "Nora Quint", words))


def fails_on_update_1(page, url: str, **options):
    """An extractor with a bug that one page sets off, as a hostile canonical link did."""
    if url.endswith("/updates/1"):
        raise ValueError("Invalid IPv6 URL")
    return extract(page, url, **options)


def test_a_page_the_extractor_fails_on_is_a_failure_and_stops_no_later_run(
    archive_root, site, sources_file
):
    [county] = load_sources([sources_file])
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        pipeline = Pipeline(store, http, readers=Readers(extract=fails_on_update_1))
        first = pipeline.scrape(county)
        [failure] = first.failed
        assert failure.url == site.url("/updates/1") and failure.source == "county-updates"
        assert failure.reason.startswith("cannot extract capture c-")
        assert failure.reason.endswith(": ValueError: Invalid IPv6 URL")
        assert first.new_versions == 2
        assert store.catalog.last_run("county-updates").failed == 2  # and /private/ refused
        # Marked processed with its failure row: no later run processes it again.
        assert store.catalog.unprocessed_captures() == []

        list_update_5(site)
        second = pipeline.scrape(county)
        assert store.catalog.document_by_url(ids.canonical_url(site.url("/updates/5")))
        assert second.new_versions == 1
        # the page is fetched again, and its new capture is tried (and fails) in turn
        assert [f.url for f in second.failed] == [site.url("/updates/1")]


def fails_on_the_count(text: str, publisher: str | None = None):
    """A quote finder with a bug that one page's words set off."""
    if "count is finished" in text:
        raise IndexError("string index out of range")
    return find_quotes(text, publisher)


def test_a_text_the_quote_finder_fails_on_is_kept_with_the_problem_and_stops_no_run(
    archive_root, site, sources_file
):
    [county] = load_sources([sources_file])
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        pipeline = Pipeline(store, http, readers=Readers(find_quotes=fails_on_the_count))
        list_update_5(site)
        pipeline.scrape(county)
        assert store.catalog.unprocessed_captures() == []
        catalog = store.catalog
        document = catalog.document_by_url(ids.canonical_url(site.url("/updates/5")))
        extraction = catalog.current_extraction(document.latest_version_id)
        assert "count is finished" in extraction.text
        assert extraction.problems[-1] == (
            "quotes could not be found in it: IndexError: string index out of range"
        )
        assert catalog.quotes_of_extraction(extraction.id) == []
