"""Re-extraction with a better extractor keeps every id and link resolvable."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from archive.store import Store
from scrapers.extract import extract, paragraph_spans
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline, Readers
from scrapers.quotes import find_quotes
from tests.conftest import run_onrecord
from web import indexing

PAGE = (Path(__file__).parent / "data" / "pages" / "statement-v1.html").read_bytes()


def tighter_quotes(text: str, publisher: str | None = None):
    """A 'better' quote finder: it drops the last word of the first quote."""
    found = find_quotes(text, publisher)
    first = found[0]
    end = first.start + first.text.rstrip(" .,").rfind(" ")
    return [replace(first, end=end, text=text[first.start : end]), *found[1:]]


def test_reextraction_keeps_old_ids_resolving(archive_root, server):
    server.route("/s", status=200, body=PAGE, headers={"Content-Type": "text/html"})
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        outcome = Pipeline(store, http).capture(server.url("/s"))
        [document_id] = outcome.changed_documents
        catalog = store.catalog
        document = catalog.document(document_id)
        old = catalog.current_extraction(document.latest_version_id)
        old_quotes = catalog.quotes_of_extraction(old.id)

        better = Readers(find_quotes=tighter_quotes, release="onrecord-test/2")
        assert Pipeline(store, None, readers=better).reextract(document_id).changed_documents
        new = catalog.current_extraction(document.latest_version_id)
        new_quotes = catalog.quotes_of_extraction(new.id)

        assert new.id != old.id
        assert {e.id for e in catalog.extractions(document.latest_version_id)} == {old.id, new.id}
        assert catalog.extraction(old.id).text == old.text  # the old text stays, exactly
        assert catalog.document(document_id) == document
        assert new_quotes[0].id != old_quotes[0].id
        assert catalog.resolve_quote_id(old_quotes[0].id) == new_quotes[0].id
        assert [q.id for q in new_quotes[1:]] == [q.id for q in old_quotes[1:]]
        # Re-extracting with the same release changes nothing.
        assert not Pipeline(store, None, readers=better).reextract(document_id).changed_documents


def test_reextract_command_reports_unknown_ids(archive_root):
    result = run_onrecord("reextract", "d-0000000000000000", "--archive", str(archive_root))
    assert result.returncode != 0
    assert "no document with id d-0000000000000000" in result.stderr


def gluing_extract(data, url=None, content_type=None):
    """The extractor as it was when spaces between inline elements were lost."""
    found = extract(data, url, content_type)
    paragraphs = [
        p.replace("has been counted", "has beencounted") for p in found.text.split("\n\n")
    ]
    return replace(found, text="\n\n".join(paragraphs), paragraphs=paragraph_spans(paragraphs))


def test_a_better_extractor_keeps_the_old_quote_ids_resolving(archive_root, server):
    server.route("/s", status=200, body=PAGE, headers={"Content-Type": "text/html"})
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        old_readers = Readers(extract=gluing_extract, release="onrecord-extract/0+test")
        outcome = Pipeline(store, http, readers=old_readers).capture(server.url("/s"))
        [document_id] = outcome.changed_documents
        catalog = store.catalog
        version_id = catalog.document(document_id).latest_version_id
        old_quotes = catalog.quotes_of_extraction(catalog.current_extraction(version_id).id)
        assert any("beencounted" in q.text for q in old_quotes)

        assert Pipeline(store, None).reextract(document_id).changed_documents
        new = catalog.current_extraction(version_id)
        assert new.extractor == Readers().release
        new_ids = {q.id for q in catalog.quotes_of_extraction(new.id)}
        assert "has been counted" in new.text
        for quote in old_quotes:
            assert catalog.resolve_quote_id(quote.id) in new_ids


def test_a_quote_marked_no_quote_stays_out_of_the_index_and_verify_under_its_new_id(
    archive_root, server
):
    server.route("/s", status=200, body=PAGE, headers={"Content-Type": "text/html"})
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        old_readers = Readers(extract=gluing_extract, release="onrecord-extract/0+test")
        [document_id] = (
            Pipeline(store, http, readers=old_readers).capture(server.url("/s")).changed_documents
        )
        catalog = store.catalog
        version_id = catalog.document(document_id).latest_version_id
        [glued] = [
            q
            for q in catalog.quotes_of_extraction(catalog.current_extraction(version_id).id)
            if "beencounted" in q.text
        ]
        catalog.correct_quote(glued.id, "not_quote", True, reason="a heading", author="ed")
        Pipeline(store, None).reextract(document_id)
        successor = catalog.resolve_quote_id(glued.id)
        assert successor != glued.id
        assert successor in catalog.not_quote_ids()
        indexing.catch_up(store.paths, catalog)
    verified = run_onrecord("verify", "--archive", str(archive_root))
    assert verified.returncode == 0, verified.stdout + verified.stderr
