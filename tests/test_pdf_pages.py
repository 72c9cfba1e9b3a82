"""A quote from a PDF statement links to its page of the archived copy, and its citation
names the page."""

from __future__ import annotations

from bs4 import BeautifulSoup

from archive.store import Store
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.pdfs import pdf
from web import create_app, links

STATEMENT = pdf(
    [
        ["Statement on the reopening of the river bridge", "Issued by the Office of the Mayor."],
        ["The bridge will reopen to traffic on Monday morning.", "It has been closed since May."],
        [
            '"We owe the engineers our thanks for finishing early," said Mayor Elin Hart.',
            "Buses return to their usual routes on the same day.",
        ],
    ],
    {"Title": "Statement on the river bridge", "Author": "Office of the Mayor"},
)


def test_quote_from_a_pdf_links_to_its_page_and_cites_it(archive_root, server):
    server.route(
        "/statement.pdf", status=200, body=STATEMENT, headers={"Content-Type": "application/pdf"}
    )
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        outcome = Pipeline(store, http).capture(server.url("/statement.pdf"))
        [document_id] = outcome.changed_documents
        catalog = store.catalog
        extraction = catalog.current_extraction(catalog.document(document_id).latest_version_id)
        assert [p.page for p in extraction.paragraphs] == [1, 2, 3]  # read back from the catalog
        [quote] = [q for q in catalog.quotes_of_extraction(extraction.id) if "engineers" in q.text]
        capture = catalog.capture(catalog.version(extraction.version_id).capture_id)

    client = create_app({"ARCHIVE": str(archive_root), "TESTING": True}).test_client()
    response = client.get(links.quote_path(quote.id))
    assert response.status_code == 200
    soup = BeautifulSoup(response.data, "html.parser")
    copy = soup.select_one("a.archived-copy")
    assert copy["href"] == links.raw_capture_path(capture.url, capture.captured_at) + "#page=3"
    assert copy.get_text() == "See page 3 of the archived PDF"

    data = client.get(links.json_path(links.quote_path(quote.id))).get_json()
    assert data["capture"]["pdf_page"] == 3
    cited = data["citations"]
    for style in ("apa", "mla", "chicago"):
        assert " p. 3. " in cited[style]
        assert "#page=3" in cited[style]
    assert "pages = {3}" in cited["bibtex"]
    assert cited["csl"]["page"] == "3"
