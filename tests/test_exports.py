"""Every result of a search as CSV and JSON Lines: from the web (streamed) and from the
command, with the same rows."""

from __future__ import annotations

import csv
import io
import json

from tests.conftest import run_onrecord
from web import exports, links


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
