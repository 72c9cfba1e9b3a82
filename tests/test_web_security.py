"""Hostile archived content stays text; archived copies stay sandboxed; admin actions
need the token and refuse private addresses."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from bs4 import BeautifulSoup

from archive.catalog import Catalog
from archive.store import Paths
from tests.webarchive import IMG, SCRIPT
from web import create_app, links
from web.security import ARCHIVED_CSP

TOKEN = "s3cret-admin-token"
HTML = {"Content-Type": "text/html; charset=utf-8"}
HOSTILE_TITLE = f"{SCRIPT} Leaked memo {IMG}"


@pytest.fixture(scope="module")
def capture_of_hostile(site):
    with Catalog.open(Paths(site.root).catalog) as catalog:
        return catalog.captures_of_url(catalog.document(site.hostile).canonical_url)[0]


def app_pages(site) -> list[str]:
    return [
        links.quote_path(site.hostile_quote),
        links.quote_path(site.hostile_img_quote),
        links.document_path(site.hostile),
        links.search_path("attackers"),
        links.search_path("memo", type="document"),
        links.search_path(SCRIPT),
        links.captures_path(),
        links.sources_path(),
        links.quote_path("q-<script>"),
    ]


def soup_of(client, path: str) -> BeautifulSoup:
    response = client.get(path)
    assert response.mimetype == "text/html"
    return BeautifulSoup(response.data, "html.parser")


def assert_inert(soup: BeautifulSoup) -> None:
    """Nothing from archived content became markup: no scripts but ours, no handlers."""
    assert [s.get("src") for s in soup.select("script")] in ([], ["/static/copy.js"])
    assert soup.select("img") == []
    assert soup.select("style") == []
    for element in soup.find_all(True):
        assert not any(name.startswith("on") for name in element.attrs), element
        assert "style" not in element.attrs, element


def test_every_app_page_has_a_strict_csp_and_inert_content(client, site):
    for path in app_pages(site):
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert response.headers["X-Frame-Options"] == "DENY"
        assert_inert(BeautifulSoup(response.data, "html.parser"))


def test_hostile_title_author_publisher_and_quote_are_shown_as_text(client, site):
    soup = soup_of(client, links.quote_path(site.hostile_quote))
    assert soup.select_one("cite.doc-title").get_text() == HOSTILE_TITLE
    assert soup.select_one("dd.authors").get_text() == f"{SCRIPT} Writer"
    assert soup.select_one(".reported .publisher").get_text() == f"{IMG} Daily"
    assert soup.select_one("blockquote.quote-text").get_text().startswith(SCRIPT)
    assert soup.select_one("figcaption .role").get_text() == "the county's <b>security</b> officer"
    assert SCRIPT in soup.select_one("pre#cite-apa").get_text()
    assert json.loads(soup.select_one("pre#cite-csl").get_text())["title"] == HOSTILE_TITLE
    soup = soup_of(client, links.quote_path(site.hostile_img_quote))
    assert IMG in soup.select_one("blockquote.quote-text").get_text()


def test_hostile_document_text_marks_quotes_without_markup(client, site):
    soup = soup_of(client, links.document_path(site.hostile))
    assert soup.select_one("h1.doc-title").get_text() == HOSTILE_TITLE
    mark = soup.select_one(f"mark#{site.hostile_quote}")
    assert mark.get_text().startswith(SCRIPT)
    assert [child.name for child in mark.find_all(True)] == ["a"]


def test_hostile_speaker_and_search_snippets_are_escaped(client, site):
    data = client.get(links.json_path(links.quote_path(site.hostile_quote))).get_json()
    speaker = soup_of(client, links.speaker_path(data["speaker"]["id"]))
    assert_inert(speaker)
    assert speaker.select_one("span.role").get_text() == "the county's <b>security</b> officer"
    results = soup_of(client, links.search_path("attackers"))
    snippet = results.select_one(f'li.hit[data-id="{site.hostile_quote}"] blockquote')
    assert SCRIPT in snippet.get_text()
    assert [m.get_text() for m in snippet.select("mark")] == ["attackers"]


def test_hostile_content_in_json_and_atom_is_data(client, site):
    data = client.get(links.json_path(links.document_path(site.hostile))).get_json()
    assert data["title"] == HOSTILE_TITLE
    feed = ET.fromstring(client.get(links.search_atom_path("attackers")).data)
    titles = [e.text for e in feed.iter("{http://www.w3.org/2005/Atom}title")]
    assert any(SCRIPT in (title or "") for title in titles)


def test_archived_copy_is_served_in_a_sandbox(client, capture_of_hostile):
    raw = client.get(links.raw_capture_path(capture_of_hostile.url, capture_of_hostile.captured_at))
    assert raw.status_code == 200
    assert raw.headers["Content-Security-Policy"].startswith("sandbox;")
    assert "X-Frame-Options" not in raw.headers
    soup = soup_of(
        client, links.capture_path(capture_of_hostile.url, capture_of_hostile.captured_at)
    )
    frames = soup.select("iframe")
    assert len(frames) == 1
    assert "sandbox" in frames[0].attrs
    sandbox = set(" ".join(frames[0].get_attribute_list("sandbox")).split())
    assert not {"allow-scripts", "allow-same-origin"} <= sandbox
    assert frames[0]["src"] == links.raw_capture_path(
        capture_of_hostile.url, capture_of_hostile.captured_at
    )
    assert_inert(soup)


# -- admin ----------------------------------------------------------------------------------

SOURCE = """[[source]]
name = "{name}"
publisher = "Brightwater County Elections Office"
kind = "statement"
start_urls = ["{url}"]
discovery = {{ type = "none" }}
schedule = {{ every = "6h" }}
"""


def admin(archive_root, **config):
    settings = {"ARCHIVE": str(archive_root), "TESTING": True, "ADMIN_TOKEN": TOKEN}
    return create_app({**settings, **config}).test_client()


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_admin_is_disabled_without_a_token(archive_root):
    client = admin(archive_root, ADMIN_TOKEN="")
    response = client.post(links.admin_path("reindex"), headers=bearer(""))
    assert response.status_code == 403


@pytest.mark.parametrize("header", [{}, bearer("wrong"), {"Authorization": TOKEN}])
def test_admin_needs_the_right_bearer_token(archive_root, header):
    response = admin(archive_root).post(links.admin_path("reindex"), headers=header)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


def test_admin_actions_are_post_only(archive_root):
    response = admin(archive_root).get(links.admin_path("reindex"), headers=bearer())
    assert response.status_code == 405


def test_add_source_validates_then_writes_the_file(archive_root):
    client = admin(archive_root)
    good = SOURCE.format(name="brightwater-press", url="https://brightwater.example.gov/press/")
    response = client.post(links.admin_path("sources"), data=good, headers=bearer())
    assert response.status_code == 201, response.data
    written = archive_root / "sources" / "brightwater-press.toml"
    assert written.read_text(encoding="utf-8") == good
    again = client.post(links.admin_path("sources"), data=good, headers=bearer())
    assert again.status_code == 409
    bad = good.replace('kind = "statement"', 'kind = "rumour"').replace("brightwater-", "x-")
    refused = client.post(links.admin_path("sources"), data={"toml": bad}, headers=bearer())
    assert refused.status_code == 400
    assert "kind" in refused.get_json()["error"]["message"]
    assert sorted(p.name for p in (archive_root / "sources").iterdir()) == [written.name]


def test_archive_this_url_refuses_loopback_addresses(archive_root, server):
    server.route("/private", status=200, body="<p>internal</p>", headers=HTML)
    client = admin(archive_root, ALLOW_PRIVATE=False)
    for url in (server.url("/private"), "http://localhost:9/", "http://10.0.0.1/"):
        response = client.post(links.admin_path("archive"), data={"url": url}, headers=bearer())
        assert response.status_code == 403, url
    assert server.hits("/private") == 0
    response = client.post(links.admin_path("archive"), data={"url": "ftp://x/"}, headers=bearer())
    assert response.status_code == 400


def test_archive_this_url_captures_indexes_and_scrape_now_runs(archive_root, server):
    server.route("/statement", status=200, body=PAGE, headers=HTML)
    client = admin(archive_root, ALLOW_PRIVATE=True)
    response = client.post(
        links.admin_path("archive"), json={"url": server.url("/statement")}, headers=bearer()
    )
    assert response.status_code == 201, response.data
    [capture] = response.get_json()["captures"]
    assert client.get(capture["page"]).status_code == 200
    found = client.get(
        links.json_path(links.search_path('"harbour lights"', type="quote"))
    ).get_json()
    assert found["total"] == 1
    source = SOURCE.format(name="harbour-office", url=server.url("/statement"))
    assert (
        client.post(links.admin_path("sources"), data=source, headers=bearer()).status_code == 201
    )
    scraped = client.post(
        links.admin_path("scrape"), data={"source": "harbour-office"}, headers=bearer()
    )
    assert scraped.status_code == 200, scraped.data
    assert scraped.get_json()["sources"] == ["harbour-office"]
    assert server.hits("/statement") == 2
    assert client.post(links.admin_path("reindex"), headers=bearer()).get_json()["indexed"] >= 2
    missing = client.post(links.admin_path("scrape"), data={"source": "nope"}, headers=bearer())
    assert missing.status_code == 404


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Harbour lights return | Port Authority</title></head><body><article>
<h1>Harbour lights return</h1>
<p>The port authority switched the harbour lights back on after the storm repairs.</p>
<p>“The harbour lights are back and the channel is open,” said Lena Ortiz, the harbour master.</p>
</article></body></html>"""


def test_archived_copies_cannot_reach_the_live_web():
    directives = dict(part.strip().split(" ", 1) for part in ARCHIVED_CSP.split(";")[1:])
    assert ARCHIVED_CSP.startswith("sandbox;")
    assert all("*" not in value and "http" not in value for value in directives.values())
