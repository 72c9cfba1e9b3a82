"""Citations of quotes in a real archive (pages captured from loopback), checked as a
reader's tools read them: CSL-JSON through citeproc-py, BibTeX through bibtexparser.

The pages (written for these tests): a news story published late in the evening west of
UTC, a press release with no byline, and two releases whose author is the elections office
itself (one says so in JSON-LD, one in a ``<meta name=author>``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import bibtexparser
import pytest
from bibtexparser.middlewares import SeparateCoAuthors, SplitNameParts
from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle
from citeproc import formatter as citeproc_formatter
from citeproc.source.json import CiteProcJSON

from archive import ids
from archive.catalog import Catalog
from archive.store import Paths, Store, init_archive
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.loopback import LoopbackServer
from web import citations, create_app, indexing, links

HTML = {"Content-Type": "text/html; charset=utf-8"}
OFFICE = "Lakeland County Elections Office"

LATE_STORY = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>late count ends in a tie for the county seat | The Prairie Ledger</title>
<script type="application/ld+json">
{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "late count ends in a tie for the county seat",
 "datePublished": "2026-11-19T21:40:00-06:00",
 "author": {"@type": "Person", "name": "Ines Carvalho"},
 "publisher": {"@type": "Organization", "name": "The Prairie Ledger"}}
</script>
</head><body><article>
<h1>late count ends in a tie for the county seat</h1>
<p>The last precinct reported after nine in the evening, leaving both candidates level.</p>
<p>“We will recount every ballot by hand before anyone is sworn in,” said Dana Whitfield, \
the county's elections director.</p>
</article></body></html>
"""

RELEASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title} | {office}</title>
<meta property="og:site_name" content="{office}">
<meta property="article:published_time" content="{published}">
{author}
</head><body><article>
<h1>{title}</h1>
<p>The office issued this notice to candidates and the public on the morning after.</p>
<p>“{words},” said Dana Whitfield, the county's elections director.</p>
</article></body></html>
"""

RELEASES = {
    "/releases/recount-notice": dict(
        title="Recount notice for the county seat",
        published="2026-11-20T10:00:00-06:00",
        author="",
        words="Observers from both campaigns may watch every table during the recount",
    ),
    "/releases/recount-schedule": dict(
        title="Recount schedule for the county seat",
        published="2026-11-21T09:00:00-06:00",
        author=(
            '<script type="application/ld+json">{"@context": "https://schema.org",'
            ' "@type": "NewsArticle", "headline": "Recount schedule for the county seat",'
            f' "author": {{"@type": "Organization", "name": "{OFFICE}"}}}}</script>'
        ),
        words="The recount starts on Monday at eight and ends when the last table is done",
    ),
    "/releases/recount-results": dict(
        title="Recount results for the county seat",
        published="2026-11-24T16:00:00-06:00",
        author=f'<meta name="author" content="{OFFICE}">',
        words="The hand recount confirmed the tie, and the law now calls for a runoff",
    ),
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("citations") / "archive"
    with LoopbackServer() as server:
        server.route("/news/late-count", status=200, body=LATE_STORY, headers=HTML)
        for path, page in RELEASES.items():
            server.route(path, status=200, body=RELEASE.format(office=OFFICE, **page), headers=HTML)
        init_archive(root)
        (root / "onrecord.toml").write_text(
            "[onrecord]\nallow_private = true\ndelay = 0.0\n", encoding="utf-8"
        )
        urls = [server.url("/news/late-count"), *(server.url(path) for path in RELEASES)]
        with (
            Store.open(root) as store,
            PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
        ):
            pipeline = Pipeline(store, http)
            for url in urls:
                pipeline.capture(url)
            indexing.catch_up(Paths(root), store.catalog)
    client = create_app({"ARCHIVE": str(root), "TESTING": True}).test_client()
    with Catalog.open(Paths(root).catalog) as catalog:
        by_path = {}
        for url in urls:
            document = catalog.document(ids.doc_id(ids.canonical_url(url)))
            extraction = catalog.current_extraction(document.latest_version_id)
            quotes = catalog.quotes_of_extraction(extraction.id)
            assert len(quotes) == 1, [q.text for q in quotes]
            response = client.get(links.json_path(links.quote_path(quotes[0].id)))
            assert response.status_code == 200
            by_path[url.split(str(server.port), 1)[1]] = response.get_json()
    return by_path


def cited(archive, path: str) -> dict:
    return archive[path]["citations"]


def test_a_publication_date_is_cited_as_the_publisher_gave_it_not_shifted_to_utc(archive):
    story = archive["/news/late-count"]
    assert story["document"]["published"].startswith("2026-11-19T21:40:00")
    citations = story["citations"]
    assert "(2026, November 19)" in citations["apa"]
    assert "19 Nov. 2026" in citations["mla"]
    assert "November 19, 2026" in citations["chicago"]
    assert "date = {2026-11-19}" in citations["bibtex"]
    assert citations["csl"]["issued"] == {"date-parts": [[2026, 11, 19]]}


def test_an_organisation_is_cited_whole_in_every_style(archive):
    for path in ("/releases/recount-schedule", "/releases/recount-results"):
        citations = cited(archive, path)
        assert citations["apa"].startswith(f"{OFFICE}. (2026, November 2"), citations["apa"]
        assert citations["csl"]["author"] == [{"literal": OFFICE}]
        assert citations["chicago"].startswith(f"{OFFICE}. ")
        entry = bibtexparser.parse_string(
            citations["bibtex"], append_middleware=[SeparateCoAuthors(), SplitNameParts()]
        ).entries[0]
        (author,) = entry["author"]
        assert (author.first, author.von, author.last) == ([], [], ["{" + OFFICE + "}"])
    # a person is still split into family and given names
    person = cited(archive, "/news/late-count")
    assert person["csl"]["author"] == [{"family": "Carvalho", "given": "Ines"}]
    assert person["apa"].startswith("Carvalho, I. (2026, November 19).")


def test_a_press_release_csl_json_produces_the_reference_the_page_shows(archive):
    citations = cited(archive, "/releases/recount-notice")
    assert citations["apa"].startswith(f"{OFFICE}. (2026, November 20). Recount notice")
    csl = citations["csl"]
    assert csl["author"] == [{"literal": OFFICE}]
    source = CiteProcJSON([json.loads(json.dumps(csl))])
    style = CitationStylesStyle("apa", validate=False)
    bibliography = CitationStylesBibliography(style, source, citeproc_formatter.plain)
    bibliography.register(Citation([CitationItem(csl["id"])]))
    (reference,) = bibliography.bibliography()
    # a reference manager's APA names the same author, date and title as onrecord's
    assert str(reference).startswith(citations["apa"].split(" Retrieved ")[0])


def test_mla_and_chicago_titles_are_in_title_case(archive):
    citations = cited(archive, "/news/late-count")
    assert '"Late Count Ends in a Tie for the County Seat."' in citations["mla"]
    assert '"Late Count Ends in a Tie for the County Seat."' in citations["chicago"]
    assert "late count ends in a tie for the county seat." in citations["apa"]  # sentence case


def test_apa_gives_the_original_and_archived_urls_with_the_retrieval_wording(archive):
    story = archive["/news/late-count"]
    apa = story["citations"]["apa"]
    captured = story["capture"]["captured_at"][:10]
    assert f"Retrieved {_long(captured)}, from {story['document']['url']}" in apa
    assert apa.endswith(f"{story['capture']['page']})")


def test_every_bibtex_entry_has_an_author_and_its_own_key(archive):
    text = "\n\n".join(cited(archive, path)["bibtex"] for path in archive)
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks  # a duplicate key is a failed block
    assert len(library.entries) == len(archive) == 4
    for entry in library.entries:
        assert entry.entry_type == "online"
        assert "author" in entry.fields_dict or "editor" in entry.fields_dict, entry.key


def _long(day: str) -> str:
    year, month, date = (int(part) for part in day.split("-"))
    names = ["January", "February", "March", "April", "May", "June", "July", "August"]
    names += ["September", "October", "November", "December"]
    return f"{names[month - 1]} {date}, {year}"


# A page written to break BibTeX: a stray brace, a backslash, a tilde and a caret, a blank
# line, a headline that tries to close its field and forge others, a person named with
# "AND", and an address holding braces, a space and a "%" that starts no escape.
HOSTILE = citations.Citable(
    quote_id="q-0123456789abcdef",
    quote="We will {not} recount \\ every ~ballot^2.\n\nEver}",
    speaker="Dana } Whitfield",
    title="Memo says :-} to voters}, url = {https://evil.example/forged}, x = {",
    authors=("Tom AND Jerry Smith",),
    publisher="The Harbour Gazette}",
    published=None,
    url="https://gazette.example/memo/{draft}/100% sure?q=%20",
    archived_url="https://onrecord.example/20261103101500/https://gazette.example/memo",
    captured=datetime(2026, 11, 3, 10, 15, tzinfo=UTC),
    permalink="https://onrecord.example/quote/q-0123456789abcdef",
)


def test_a_hostile_page_can_neither_break_nor_forge_its_bibtex_entry():
    library = bibtexparser.parse_string(
        citations.bibtex(HOSTILE), append_middleware=[SeparateCoAuthors()]
    )
    assert not library.failed_blocks
    (entry,) = library.entries
    fields = {field.key: field.value for field in entry.fields}
    assert set(fields) == {"author", "title", "organization", "url", "urldate", "note"}
    for key, value in fields.items():
        text = " and ".join(value) if key == "author" else value
        assert _braces_balance(text), (key, text)
        assert "\n" not in text, key  # a blank line in a field is a paragraph LaTeX refuses
    assert len(fields["author"]) == 1  # "AND" inside a name does not make two people
    assert fields["title"].endswith(r"x = \textbraceleft{}")
    assert fields["url"] == "https://gazette.example/memo/%7Bdraft%7D/100%25%20sure?q=%20"
    assert not re.search(r"[{}\\\s]|%(?![0-9A-F]{2})", fields["url"])


def _braces_balance(text: str) -> bool:
    """Whether every brace is closed after it opens, counted as BibTeX and biber count
    them: a backslash before a brace does not hide it from them."""
    depth = 0
    for brace in re.findall(r"[{}]", text):
        depth += 1 if brace == "{" else -1
        if depth < 0:
            return False
    return depth == 0
