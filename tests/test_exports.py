"""Every result of a search as CSV and JSON Lines: from the web (streamed) and from the
command, with the same rows."""

from __future__ import annotations

import csv
import gc
import io
import json
from pathlib import Path

from archive.catalog import Catalog
from archive.store import Paths, Store, init_archive
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.catalogs import write_settings
from tests.conftest import run_onrecord
from tests.loopback import LoopbackServer
from web import create_app, exports, indexing, links, resources


def test_csv_export_of_a_search_has_every_column_and_result(client, site):
    response = client.get(links.search_export_path("ballot", "csv", type="quote"))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(rows[0]) == exports.COLUMNS
    ids = [r["id"] for r in rows]
    assert site.pledge in ids and len(ids) == len(set(ids))
    pledge = next(r for r in rows if r["id"] == site.pledge)
    assert pledge["speaker"] == "Dana Whitfield"
    assert pledge["outlet"] == "Brightwater County Elections Office"
    assert pledge["permalink"].endswith(links.quote_path(site.pledge))
    assert pledge["permalink"].startswith("http")
    assert pledge["published"].startswith("2026-11-04")
    assert "County certifies the November count" in pledge["citation"]


def test_jsonl_export_matches_the_search_total(client, site):
    total = client.get("/search.json?q=ballot&type=quote").get_json()["total"]
    response = client.get(links.search_export_path("ballot", "jsonl", type="quote"))
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(lines) == total
    assert {line["type"] for line in lines} == {"quote"}


def test_a_bad_query_is_400_before_any_row(client):
    response = client.get(links.search_export_path('"unclosed', "csv"))
    assert response.status_code == 400
    assert client.get("/search.csv?q=").status_code == 400
    assert client.get("/search.csv?q=a&sort=sideways").status_code == 400


def test_search_page_links_to_its_exports(client):
    page = client.get(links.search_path("ballot")).get_data(as_text=True)
    assert links.search_export_path("ballot", "csv").replace("&", "&amp;") in page


def test_the_command_writes_the_same_rows(client, site):
    done = run_onrecord(
        "search", "ballot", "--type", "quote", "--format", "csv", "--archive", str(site.root)
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    web_rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(links.search_export_path("ballot", "csv", type="quote")).get_data(
                    as_text=True
                )
            )
        )
    )
    assert [r["id"] for r in rows] == [r["id"] for r in web_rows]
    assert rows[0]["permalink"].startswith("/quote/")
    jsonl = run_onrecord("search", "ballot", "--format", "jsonl", "--archive", str(site.root))
    assert jsonl.returncode == 0 and all(json.loads(x) for x in jsonl.stdout.splitlines())
    text = run_onrecord("search", "ballot", "--archive", str(site.root))
    assert text.returncode == 0 and "results for 'ballot'" in text.stdout


def test_a_cell_a_spreadsheet_would_run_is_written_as_text():
    hostile = {"quote": '=HYPERLINK("https://t.example/","open")', "outlet": "@Times", "id": "q-1"}
    header, line = exports.csv_lines([hostile])
    row = next(csv.DictReader(io.StringIO(header + line)))
    assert row["quote"] == "'" + hostile["quote"] and row["outlet"] == "'@Times"
    assert row["id"] == "q-1"


HTML = {"Content-Type": "text/html; charset=utf-8"}
WITHDRAWN = "The outer channel is open to vessels of every draught from Tuesday morning"
NOTICE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Channel open</title></head><body><article><h1>Channel open</h1>
<p>The harbour authority published its weekly notice to mariners on Monday.</p>
<p>“{WITHDRAWN},” said Oren Vasquez, the harbour authority's port director.</p>
</article></body></html>"""


def withdrawn_notice(root: Path, server: LoopbackServer) -> tuple[str, str]:
    """Capture a notice quoting the port director into the archive at ``root``, then its
    takedown (a 410, which becomes the document's last capture). Returns the quote's id
    and the path of the takedown's capture."""
    url = server.url("/notices/1")
    server.route("/notices/1", status=200, body=NOTICE, headers=HTML)
    config = HttpConfig(allow_private=True, delay=0.0, obey_robots=False)
    with Store.open(root) as store, PoliteSession(config) as http:
        pipeline = Pipeline(store, http)
        pipeline.capture(url)
        server.route("/notices/1", status=410, body="gone", headers=HTML)
        pipeline.capture(url)
        indexing.catch_up(Paths(root), store.catalog)
        (quote,) = store.catalog.current_quotes()
        document = store.catalog.document(quote.document_id)
    assert document.state == "taken_down"
    return quote.id, links.capture_path(url, document.last_captured)


def test_a_row_links_the_capture_holding_its_words_not_the_takedown(archive_root, server):
    """A page taken down since: its quote's row links (and cites) the archived copy its
    quote page links, which holds the words, never the 410 captured last; its
    document's row the capture of its text. So do rows made outside a request (the
    command's), with a catalog of their own."""
    quote_id, gone = withdrawn_notice(archive_root, server)
    client = create_app({"ARCHIVE": str(archive_root), "TESTING": True}).test_client()
    shown = client.get(links.json_path(links.quote_path(quote_id))).get_json()["capture"]
    assert shown["status"] == 200 and gone != shown["quote_in_archived_copy"]
    assert WITHDRAWN in client.get(shown["archived_copy"]).get_data(as_text=True)

    for fmt in ("jsonl", "csv"):
        body = client.get(links.search_export_path("draught OR notice", fmt)).get_data(as_text=True)
        if fmt == "jsonl":
            found = [json.loads(line) for line in body.splitlines()]
        else:
            found = list(csv.DictReader(io.StringIO(body)))
        rows = {r["type"]: r for r in found}
        quote, document = rows["quote"], rows["document"]
        assert quote["archived_copy"] == "http://localhost" + shown["quote_in_archived_copy"]
        assert f"(archived at {quote['archived_copy']})" in quote["citation"]
        assert document["archived_copy"] == "http://localhost" + shown["page"]
        assert all(gone not in r["archived_copy"] + r["citation"] for r in found)

    with (
        Catalog.open(Paths(archive_root).catalog) as catalog,
        indexing.searching(Paths(archive_root), catalog) as searcher,
    ):
        (row,) = exports.rows_of(catalog, searcher.every_hit("draught", type="quote"))
    assert row["archived_copy"] == shown["quote_in_archived_copy"]


def test_the_command_links_the_capture_holding_the_words_too(archive_root, server):
    """`onrecord search --format jsonl` and `onrecord check --format json` link the
    archived copy the quote page links, not the takedown's 410 (needs web/cli.py to hand
    its catalog to `exports.rows_of` and `check.result_json`)."""
    quote_id, gone = withdrawn_notice(archive_root, server)
    client = create_app({"ARCHIVE": str(archive_root), "TESTING": True}).test_client()
    shown = client.get(links.json_path(links.quote_path(quote_id))).get_json()["capture"]
    done = run_onrecord(
        "search", "draught", "--type", "quote", "--format", "jsonl", "--archive", str(archive_root)
    )
    assert done.returncode == 0, done.stderr
    (row,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert row["archived_copy"] == shown["quote_in_archived_copy"] != gone
    assert f"(archived at {row['archived_copy']})" in row["citation"]
    done = run_onrecord("check", WITHDRAWN, "--format", "json", "--archive", str(archive_root))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["matches"][0]["archived_copy"] == row["archived_copy"]


def test_an_export_of_a_phrase_holds_only_documents_that_hold_it(archive_root, server):
    """An exact phrase is checked against each document's text, as the search page checks
    it: a document matching the words, not the phrase, is in neither export."""
    withdrawn_notice(archive_root, server)
    client = create_app({"ARCHIVE": str(archive_root), "TESTING": True}).test_client()
    for phrase, expected in (('"every draught"', 1), ('"every draughts"', 0)):
        shown = client.get(links.json_path(links.search_path(phrase, type="document")))
        assert shown.get_json()["total"] == expected
        body = client.get(links.search_export_path(phrase, "jsonl", type="document"))
        assert len(body.get_data(as_text=True).splitlines()) == expected
        done = run_onrecord(
            "search", phrase, "--type", "document", "--format", "jsonl",
            "--archive", str(archive_root),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.splitlines()) == expected


def test_an_export_gives_its_catalog_connection_back_however_it_ends(site):
    """Streamed whole, cut off by the client after its first line, or never read (HEAD):
    the export's catalog connection goes back to the pool when the response closes, not
    when the garbage collector gets to it (a burst of HEADs held the pool's connections)."""
    app = create_app({"ARCHIVE": str(site.root), "TESTING": True})
    client = app.test_client()
    url = links.search_export_path("ballot", "csv", type="quote")
    gc.disable()  # what is given back is given back by the response's close
    try:
        for _ in range(3):
            client.head(url).close()
        cut = client.get(url, buffered=False)
        next(iter(cut.response))  # the header line, then the client goes away
        cut.close()
        whole = client.get(url)
        assert whole.get_data(as_text=True).count("\n") > 1
        whole.close()
        with app.app_context():
            assert resources.catalogs().in_use() == 0
    finally:
        gc.enable()


def test_an_export_without_its_catalog_is_a_503_as_every_page(tmp_path):
    root = tmp_path / "archive"
    root.mkdir()
    write_settings(root, "")
    init_archive(root)
    (root / "catalog.sqlite").unlink()  # the catalog gone (a restore under way)
    client = create_app({"ARCHIVE": str(root), "TESTING": True}).test_client()
    for path in (links.search_path("ballot"), links.search_export_path("ballot", "csv")):
        assert client.get(path).status_code == 503
