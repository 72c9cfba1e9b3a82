"""The demo: its site behaves like a real one, and one build shows every part of onrecord."""

from __future__ import annotations

import http.client
import re
import string
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.catalog import Catalog
from archive.ids import canonical_url
from archive.store import Paths
from web import indexing
from web.cli import main
from web.demo import DemoSite, build_demo, tour

STATEMENT = "/elections/news/2026/11/05/canvass-timeline-greywater-audit"
WITHDRAWN = "/elections/news/2026/11/06/statement-greywater-county-clerk"
DRAFT = "/elections/drafts/greywater-audit-staffing-plan"
LATER_STORY = "/meridian/2026/11/08/ashford-certification-date-clerk-statement"
DOCUMENTS = {
    "/elections/news/2026/11/04/unofficial-results-posted": ("statement", "ashford-elections"),
    STATEMENT: ("statement", "ashford-elections"),
    WITHDRAWN: ("statement", "ashford-elections"),
    "/meridian/2026/11/05/ashford-orders-greywater-ballot-audit": ("news", "meridian-wire"),
    LATER_STORY: ("news", "meridian-wire"),
    "/ledger/politics/2026/11/06/greywater-county-clerk-resigns": ("news", "capital-ledger"),
    "/watch/2026/11/07/what-we-know-about-greywater": ("blog", "ashford-watch"),
}
RENDERED = "/commonwealth/news/2026/11/07/certification-schedule"  # built by a script
CHROMIUM = Path("/usr/bin/chromium")
if CHROMIUM.exists():
    DOCUMENTS[RENDERED] = ("statement", "ashford-secretary")


def get(site: DemoSite, path: str, **headers: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(site.origin.removeprefix("http://"), timeout=5)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    with DemoSite() as site:
        build_demo(root, site, echo=lines.append)
    with Catalog.open(Paths(root).catalog) as catalog:
        yield root, site, catalog, lines


def document(catalog: Catalog, site: DemoSite, path: str):
    found = next((d for d in catalog.documents(limit=100) if d.url == site.url(path)), None)
    assert found is not None, f"{path} was not archived"
    return found


def test_site_answers_like_a_real_site():
    with DemoSite() as site:
        first = get(site, STATEMENT)
        assert first.status == 200
        assert first.getheader("Content-Type") == "text/html; charset=utf-8"
        assert first.getheader("Last-Modified") == "Thu, 05 Nov 2026 16:30:00 GMT"
        etag = first.getheader("ETag")
        assert get(site, STATEMENT, **{"If-None-Match": etag}).status == 304
        assert get(site, "/robots.txt").getheader("Content-Type") == "text/plain; charset=utf-8"
        assert get(site, LATER_STORY).status == 404
        site.advance()
        edited = get(site, STATEMENT, **{"If-None-Match": etag})
        assert edited.status == 200 and edited.getheader("ETag") != etag
        assert get(site, WITHDRAWN).status == 410
        assert get(site, LATER_STORY).status == 200
        assert site.hits(STATEMENT) == 3


def test_every_page_is_captured_under_its_source(built):
    _, site, catalog, lines = built
    archived = {d.url: (d.kind, d.source) for d in catalog.documents(limit=100)}
    assert archived == {site.url(path): expected for path, expected in DOCUMENTS.items()}
    revisits = [
        c
        for c in catalog.captures(limit=100)
        if c.record_type == "revisit" and c.source != "ashford-secretary" and c.kind == "page"
    ]
    assert {c.status for c in revisits} == {304}
    assert len(revisits) == 4  # every page unchanged a day later
    assert lines[-1].startswith("indexed ")


def test_the_edited_statement_has_two_versions_and_an_edited_event(built):
    _, site, catalog, _ = built
    statement = document(catalog, site, STATEMENT)
    versions = catalog.versions(statement.id)
    assert [v.seq for v in versions] == [1, 2]
    texts = [catalog.current_extraction(v.id).text for v in versions]
    assert "on or before Friday, November 20" in texts[0]
    assert "on or before Tuesday, November 24" in texts[1]
    assert [e.type for e in catalog.events(statement.id)] == ["edited"]
    latest = catalog.quotes_of_extraction(catalog.current_extraction(versions[1].id).id)
    assert any(q.text.endswith("counted before we certify anything,") for q in latest)


def test_the_withdrawn_statement_is_taken_down(built):
    _, site, catalog, _ = built
    withdrawn = document(catalog, site, WITHDRAWN)
    assert withdrawn.state == "taken_down"
    assert [e.type for e in catalog.events(withdrawn.id)] == ["taken_down"]
    assert len(catalog.versions(withdrawn.id)) == 1


def test_the_path_robots_txt_forbids_is_never_fetched(built):
    _, site, catalog, _ = built
    assert site.hits(DRAFT) == 0
    assert site.hits("/robots.txt") == 2  # once per visit
    refused = [f for f in catalog.failures("ashford-elections") if f.url == site.url(DRAFT)]
    assert len(refused) == 2 and all("robots.txt" in f.reason for f in refused)


def latest_quotes(catalog: Catalog) -> list:
    quotes = []
    for doc in catalog.documents(limit=100):
        extraction = catalog.current_extraction(doc.latest_version_id)
        quotes += catalog.quotes_of_extraction(extraction.id)
    return quotes


def test_quotes_are_found_with_their_speakers(built):
    _, _, catalog, _ = built
    quotes = latest_quotes(catalog)

    def said(start: str):
        return [q for q in quotes if q.text.startswith(start)]

    (named,) = said("Mr. Dunmore served this county honorably")
    assert (named.speaker, named.role) == (
        "Priya Raman",
        "a spokeswoman for the Greywater County Commission",
    )
    (letter,) = said("I asked our staff to do everything right")
    assert (letter.speaker, letter.cue) == ("Walter Dunmore", "wrote")
    anonymous = said("There should have been an alarm")
    assert [(q.speaker, q.anonymous) for q in anonymous] == [("A state official", True)]
    (organisation,) = said("to step aside effective immediately")
    assert organisation.speaker == "Ashford Board of Elections"  # one speaker, with "the" or not
    repeated = said("We are not going to guess")
    assert {q.speaker for q in repeated} == {"Helen Marchetti"}
    assert sorted(str(q.via) for q in repeated) == ["Meridian Wire", "None"]
    # The board's line appears in its statement, the wire story and the blog.
    assert len({q.document_id for q in said("What went wrong on election night")}) == 3
    # The blog misquotes the clerk's letter by one word.
    letter_line = said("I am stepping aside so the count can be about the")
    assert sorted(q.text.split()[11] for q in letter_line) == ["ballots", "voters"]
    # Scare quotes, a book title and a sign's slogan are no quotes.
    assert not said("two-key") and not said("Counting Houses") and not said("Count Them All")


def phrase(text: str) -> str:
    """The quote's first few words, as far as they are plain words."""
    words = []
    for word in text.split()[:6]:
        word = word.strip(string.punctuation + "“”‘’")
        if not re.fullmatch(r"[A-Za-z0-9]+", word):
            break
        words.append(word)
    return " ".join(words)


def test_every_quote_is_found_by_a_phrase_from_it(built):
    root, _, catalog, _ = built
    quotes = latest_quotes(catalog)
    assert len(quotes) >= 25
    for quote in quotes:
        words = phrase(quote.text)
        assert len(words.split()) >= 2, quote.text
        query = f'"{words}"'
        results = indexing.search(Paths(root), catalog, query, type="quote", page_size=50)
        assert quote.id in {hit.id for hit in results.hits}, query


def test_tour_points_at_pages_of_the_archive(built):
    _, _, catalog, _ = built
    stops = dict(tour(catalog))
    quote_id = stops["a quote, and the other documents that repeat it"].rsplit("/", 1)[1]
    assert catalog.quote(quote_id).text.startswith("We are not going to guess")
    assert stops["a statement edited without notice"].endswith("?diff=1,2")


def test_the_command_builds_the_demo_and_refuses_a_used_folder(tmp_path: Path):
    target = tmp_path / "demo-archive"
    result = CliRunner().invoke(main, ["demo", "--build-only", str(target)])
    assert result.exit_code == 0, result.output
    assert "1 edited, 1 taken_down" in result.output
    assert (target / "sources" / "ashford-elections.toml").exists()
    again = CliRunner().invoke(main, ["demo", "--build-only", str(target)])
    assert again.exit_code == 1
    assert "is not empty" in again.output


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed")
def test_the_script_built_statement_is_captured_in_the_browser_with_its_screenshot(built):
    from bs4 import BeautifulSoup

    from web import create_app

    root, site, catalog, _ = built
    stops = dict(tour(catalog))
    path = stops["a statement built by a script, captured in a browser, with its screenshot"]
    quote = catalog.quote(path.rsplit("/", 1)[1])
    assert quote.speaker == "Helena Marsh"
    assert document(catalog, site, RENDERED).id == quote.document_id
    # The browser fetched what the page needed: its script, the statement's JSON, its
    # stylesheet and its seal, all archived with it.
    for asset in ("app.js", "site.css", "seal.svg"):
        assert catalog.captures_of_url(canonical_url(site.url(f"/commonwealth/assets/{asset}")))
    json_url = site.url("/commonwealth/api/statements/certification-schedule.json")
    assert catalog.captures_of_url(canonical_url(json_url))
    client = create_app({"ARCHIVE": str(root), "TESTING": True}).test_client()
    page = BeautifulSoup(client.get(path).text, "html.parser")
    screenshot = page.select_one("a.button.screenshot")["href"]
    image = client.get(screenshot)
    assert image.content_type == "image/png" and image.data.startswith(b"\x89PNG")


def test_the_demo_says_so_when_there_is_no_chromium(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ONRECORD_BROWSER", "/nonexistent/chromium")  # the setting's variable
    lines: list[str] = []
    with DemoSite() as site:
        build_demo(tmp_path / "demo", site, echo=lines.append)
    assert any("no Chromium at /nonexistent/chromium" in line for line in lines)
    with Catalog.open(Paths(tmp_path / "demo").catalog) as catalog:
        assert not catalog.captures_of_url(canonical_url(site.url(RENDERED)))
        assert catalog.documents(limit=100)  # everything else is there


def test_the_demo_shows_a_correction_and_an_altered_quote_check_finds(built):
    from web import create_app
    from web.demo import CIRCULATED, CORRECTION

    root, _, catalog, lines = built
    stops = dict(tour(catalog))
    client = create_app({"ARCHIVE": str(root), "TESTING": True}).test_client()
    quote = client.get(stops["a correction on the record"] + ".json").get_json()
    assert quote["speaker"]["name"] == CORRECTION[0]
    assert [c["by"] for c in quote["corrections"]] == ["editor"]
    assert quote["machine_attribution"]["speaker"] != CORRECTION[0]
    found = client.get(
        stops["a circulating quote, altered, checked"].replace("/check", "/check.json", 1)
    )
    result = found.get_json()
    assert result["verdict"] == "altered"
    assert result["matches"][0]["speaker"] == "Helen Marchetti"
    assert {d["text"].strip() for d in result["matches"][0]["diff"] if d["op"] == "insert"} == {
        "recounted"
    }
    assert CIRCULATED.startswith("Every ballot")
    assert any("corrected the speaker" in line for line in lines)
