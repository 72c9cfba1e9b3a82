"""Speaker names as the archive records them, for oddities seen on real pages: a stray
full stop after a name, an unnamed "department spokesperson", and a PDF whose attribution
wraps onto the next line. Asserted on what the pipeline stores (the catalog), so they hold
whichever attributor the pipeline runs."""

from __future__ import annotations

import pytest

from archive.store import Store
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.pdfs import pdf

HTML = {"Content-Type": "text/html; charset=utf-8"}
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
</head><body><article><h1>{title}</h1>
<p>The county published its final figures on Tuesday after a week of counting.</p>
<p>{paragraph}</p>
<p>Certification is expected before the end of the month.</p>
</article></body></html>"""


@pytest.fixture
def pipeline(archive_root):
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
    ):
        yield Pipeline(store, http)


def stored_quote(pipeline, url: str, words: str):
    [document_id] = pipeline.capture(url).changed_documents
    catalog = pipeline.catalog
    extraction = catalog.current_extraction(catalog.document(document_id).latest_version_id)
    [quote] = [q for q in catalog.quotes_of_extraction(extraction.id) if words in q.text]
    assert extraction.text[quote.start : quote.end] == quote.text
    return quote, catalog.speaker(quote.speaker_id) if quote.speaker_id else None


def test_a_speaker_name_loses_a_stray_full_stop(pipeline, server):
    paragraph = (
        "Asked about the delay, Benjamin Adeyemi. said: “We counted every ballot twice"
        " before we certified anything.”"
    )
    server.route(
        "/news/typo", body=PAGE.format(title="Final figures", paragraph=paragraph), headers=HTML
    )
    quote, speaker = stored_quote(pipeline, server.url("/news/typo"), "every ballot twice")
    assert quote.speaker == speaker.name == "Benjamin Adeyemi"


def test_a_department_spokesperson_is_stored_as_unnamed(pipeline, server):
    paragraph = "“The doors open at seven in every precinct,” said a department spokesperson."
    server.route(
        "/news/doors", body=PAGE.format(title="Doors open", paragraph=paragraph), headers=HTML
    )
    quote, speaker = stored_quote(pipeline, server.url("/news/doors"), "doors open at seven")
    assert quote.speaker == "a department spokesperson"
    assert quote.anonymous and speaker.anonymous
    assert speaker.document_id == quote.document_id  # unnamed speakers belong to one document


def test_a_pdf_attribution_wrapped_onto_the_next_line_keeps_its_speaker(pipeline, server):
    lines = [
        "The county opened early voting on Monday.",
        '"Every polling place will open on time and stay open late," said Elections',
        "Director Maria Cruz at the county office.",
    ]
    body = pdf([lines], {"Title": "Early voting opens"})
    server.route("/notices/early.pdf", body=body, headers={"Content-Type": "application/pdf"})
    quote, _ = stored_quote(pipeline, server.url("/notices/early.pdf"), "polling place")
    assert quote.speaker is not None and quote.speaker.endswith("Maria Cruz"), quote.speaker
    assert not quote.anonymous
