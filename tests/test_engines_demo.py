"""One demo world, two archives: SQLite + a WARC folder (as ``onrecord demo`` builds it)
and PostgreSQL + SeaweedFS (the same captures, exported as a WACZ and imported into an
archive on the engines with the same source definitions). Served, they show the same
pages: the same quote ids, permanent links, citations and capture-log head.

The one thing allowed to differ is where each record lies: importing writes the records
again, into a WARC file of the importing archive with record ids of its own; the capture
ids, which derive from URL, date and payload, do not change.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from archive.catalog import Catalog
from archive.store import Paths, init_archive
from archive.warc import iter_warc_files
from tests.catalogs import postgres_database
from tests.conftest import run_onrecord
from web import create_app, links

# Where each record lies: the WARC file and its record id (see the module's docstring).
PLACE_OF_RECORD = ("dd.warc-file", "dd.warc-offset", "dd.record-id")


@dataclass(frozen=True)
class World:
    root: Path
    quotes: list[str]
    speakers: list[str]
    captures: list[tuple[str, str, object]]  # (id, url, captured_at)
    head: tuple[int, str]


def world(root: Path) -> World:
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        current = list(catalog.current_quotes())
        return World(
            root=root,
            quotes=sorted(q.id for q in current),
            speakers=sorted({q.speaker_id for q in current if q.speaker_id}),
            captures=sorted((c.id, c.url, c.captured_at) for c in catalog.all_captures()),
            head=catalog.log_head(),
        )


@pytest.fixture(scope="module")
def worlds(tmp_path_factory, seaweedfs) -> Iterator[tuple[World, World]]:
    folder = tmp_path_factory.mktemp("engines-demo")
    embedded = folder / "sqlite-folder"
    built = run_onrecord("demo", "--build-only", str(embedded), timeout=300)
    assert built.returncode == 0, built.stderr
    package = folder / "demo.wacz"
    exported = run_onrecord("export", str(package), "--archive", str(embedded))
    assert exported.returncode == 0, exported.stderr
    with postgres_database() as database:
        engines = folder / "postgresql-seaweedfs"
        engines.mkdir()
        (engines / "onrecord.toml").write_text(
            f'[onrecord]\ncatalog = "{database}"\n' + seaweedfs.settings(seaweedfs.new_place()),
            encoding="utf-8",
        )
        init_archive(engines)
        shutil.copytree(embedded / "sources", engines / "sources", dirs_exist_ok=True)
        imported = run_onrecord("import", str(package), "--archive", str(engines), timeout=300)
        assert imported.returncode == 0, imported.stderr
        yield world(embedded), world(engines)


def test_the_engines_hold_the_same_ids_and_capture_log(worlds):
    embedded, engines = worlds
    assert embedded.quotes and embedded.speakers
    assert engines.quotes == embedded.quotes
    assert engines.speakers == embedded.speakers
    assert engines.captures == embedded.captures
    assert engines.head == embedded.head
    assert list(iter_warc_files(engines.root / "warcs")) == []  # all in the bucket
    checked = run_onrecord("verify", "--archive", str(engines.root))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def page(client, path: str) -> tuple[int, object]:
    """A page as both archives must show it: less where each record lies."""
    response = client.get(path, base_url="https://onrecord.example")
    if response.is_json:
        found = response.get_json()
        for field in ("warc_file", "warc_record_id"):
            found.get("capture", {}).pop(field, None)
        return response.status_code, found
    soup = BeautifulSoup(response.data, "html.parser")
    for selector in PLACE_OF_RECORD:
        for element in soup.select(selector):
            element.decompose()
    return response.status_code, str(soup)


def test_the_engines_serve_the_same_pages(worlds):
    embedded, engines = worlds
    one = create_app({"ARCHIVE": str(embedded.root), "TESTING": True}).test_client()
    two = create_app({"ARCHIVE": str(engines.root), "TESTING": True}).test_client()
    paths = ["/", "/log", "/captures", links.search_path('"every one of them will be counted"')]
    paths += [links.quote_path(q) for q in embedded.quotes]
    paths += [links.json_path(links.quote_path(q)) for q in embedded.quotes]
    paths += [links.speaker_path(s) for s in embedded.speakers]
    paths += [links.capture_path(url, moment) for _, url, moment in embedded.captures]
    for path in paths:
        assert page(two, path) == page(one, path), path
    for quote_id in embedded.quotes:  # so the pages compared do hold what readers cite
        shown = BeautifulSoup(two.get(links.quote_path(quote_id)).data, "html.parser")
        assert shown.select_one(".permalink a")["href"] == links.quote_path(quote_id)
        assert len(shown.select(".citation")) >= 4
        assert shown.select_one(".log-position a")
    for _, url, moment in embedded.captures:  # the archived bytes, from the bucket
        path = links.raw_capture_path(url, moment)
        assert two.get(path).data == one.get(path).data, path
