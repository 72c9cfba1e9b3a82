"""WACZ export and import, and WARC files from other tools: an archive moves to a new
machine with every identifier and link intact."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import ids
from archive.catalog import Catalog
from archive.store import Paths, Store, init_archive
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from scrapers.sources import load_sources
from tests.conftest import copy_site
from tests.loopback import LoopbackServer
from tests.webarchive import WebArchive
from web import create_app, links
from web.cli_integrity import export_command, import_command, verify

WACZ = Path(sys.executable).parent / "wacz"
HTML = {"Content-Type": "text/html; charset=utf-8"}
XML = {"Content-Type": "application/xml"}


@pytest.fixture(scope="module")
def built(built_site: WebArchive, tmp_path_factory) -> WebArchive:
    """The web tests' archive, plus a revisit of the statement (an unchanged page)."""
    archive = copy_site(built_site, tmp_path_factory.mktemp("built") / "archive")
    with (
        Store.open(archive.root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
    ):
        outcome = Pipeline(store, http).capture(archive.statement_url)
        assert [c.record_type for c in outcome.captures] == ["revisit"]
    return archive


@pytest.fixture(scope="module")
def scraped(tmp_path_factory) -> Path:
    """An archive after one run of a feed source: its robots.txt, feed and article."""
    root = fresh(tmp_path_factory.mktemp("scraped") / "archive")
    with LoopbackServer() as server:
        feed = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour news</title>'
            f"<item><title>Bridge</title><link>{server.url('/news/bridge')}</link></item>"
            "</channel></rss>"
        )
        article = (
            "<html><head><title>Bridge update</title></head><body><article><h1>Bridge "
            "update</h1><p>“The harbour bridge reopens on Monday after the repairs,” said "
            "Rosa Lind, the city engineer, at a briefing on Thursday.</p></article></body></html>"
        )
        server.route("/robots.txt", body="User-agent: *\nDisallow: /private/\n")
        server.route("/feed.xml", body=feed, headers=XML)
        server.route("/news/bridge", body=article, headers=HTML)
        (root / "sources" / "harbour.toml").write_text(
            '[[source]]\nname = "harbour-feed"\npublisher = "Harbour City"\n'
            'kind = "statement"\nschedule = { every = "1d" }\n'
            f'discovery = {{ type = "feed", url = "{server.url("/feed.xml")}" }}\n',
            encoding="utf-8",
        )
        with (
            Store.open(root) as store,
            PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
        ):
            for source in load_sources([root / "sources"]):
                Pipeline(store, http).scrape(source)
    return root


def invoke(command, *args: str):
    result = CliRunner().invoke(command, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def fresh(root: Path) -> Path:
    init_archive(root)
    return root


def identifiers(root: Path) -> dict[str, list[str]]:
    with Catalog.open(Paths(root).catalog) as catalog:
        documents, quotes = catalog.indexable_ids()
        return {
            "captures": sorted(c.id for c in catalog.all_captures()),
            "documents": sorted(documents),
            "quotes": sorted(quotes),
            "versions": sorted(
                v.id for d in catalog.documents(limit=1000) for v in catalog.versions(d.id)
            ),
        }


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as package:
        for info in package.infolist():
            assert info.compress_type == zipfile.ZIP_STORED, info.filename
        return {name: package.read(name) for name in package.namelist()}


def check_package(path: Path) -> dict[str, bytes]:
    """What `wacz validate` does not check: the required files, each listed with its
    true digest and size, and an index whose every line points at its record."""
    files = members(path)
    datapackage = json.loads(files["datapackage.json"])
    assert datapackage["wacz_version"] == "1.1.1"
    listed = {r["path"]: r for r in datapackage["resources"]}
    assert set(listed) == set(files) - {"datapackage.json", "datapackage-digest.json"}
    for name, resource in listed.items():
        assert resource["hash"] == "sha256:" + hashlib.sha256(files[name]).hexdigest()
        assert resource["bytes"] == len(files[name])
    digest = json.loads(files["datapackage-digest.json"])
    assert digest["hash"] == "sha256:" + hashlib.sha256(files["datapackage.json"]).hexdigest()
    assert {"indexes/index.cdx", "pages/pages.jsonl"} <= set(files)
    assert any(name.startswith("archive/") and name.endswith(".warc.gz") for name in files)
    lines = files["indexes/index.cdx"].decode().splitlines()
    assert lines == sorted(lines)
    for line in lines:
        block = json.loads(line.split(" ", 2)[2])
        data = files["archive/" + block["filename"]]
        start = int(block["offset"])
        assert data[start : start + 2] == b"\x1f\x8b"  # a gzip member, one per record
    pages = [json.loads(line) for line in files["pages/pages.jsonl"].splitlines()]
    assert pages[0] == {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
    return files


def repack(package: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` to ``package`` as a WACZ whose datapackage.json lists each of them
    (but itself and its digest) with its true digest and size, as a careful forger would."""
    resources = [
        {"path": name, "hash": "sha256:" + hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        for name, data in files.items()
        if name not in ("datapackage.json", "datapackage-digest.json")
    ]
    datapackage = json.loads(files["datapackage.json"]) | {"resources": resources}
    files = files | {"datapackage.json": json.dumps(datapackage).encode()}
    digest = {
        "path": "datapackage.json",
        "hash": "sha256:" + hashlib.sha256(files["datapackage.json"]).hexdigest(),
    }
    files["datapackage-digest.json"] = json.dumps(digest).encode()
    with zipfile.ZipFile(package, "w", compression=zipfile.ZIP_STORED) as rewritten:
        for name, data in files.items():
            rewritten.writestr(name, data)


def validate(path: Path) -> None:
    result = subprocess.run(
        [str(WACZ), "validate", "-f", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


@pytest.mark.slow
def test_an_archive_moved_by_export_and_import_keeps_every_id_and_link(built, tmp_path):
    package = tmp_path / "move.wacz"
    invoke(export_command, package, "--archive", built.root)
    validate(package)
    files = check_package(package)
    pages = [json.loads(line) for line in files["pages/pages.jsonl"].splitlines()[1:]]
    assert {p["url"] for p in pages} == {built.statement_url, built.news_url, built.hostile_url}
    target = fresh(tmp_path / "moved")
    imported = invoke(import_command, package, "--archive", target)
    assert "imported 5 captures (0 already archived, 0 skipped)" in imported.output
    assert identifiers(target) == identifiers(built.root)
    invoke(verify, "--archive", target)
    old = create_app({"ARCHIVE": str(built.root), "TESTING": True}).test_client()
    new = create_app({"ARCHIVE": str(target), "TESTING": True}).test_client()
    with Catalog.open(Paths(built.root).catalog) as catalog:
        paths = [links.document_path(d) for d in identifiers(built.root)["documents"]]
        paths += [links.quote_path(q) for q in identifiers(built.root)["quotes"]]
        paths.append(links.quote_path(built.old_pledge))  # an older extraction's id
        paths.append(links.speaker_path(built.old_director))  # and an older speaker id
        paths += [links.capture_path(c.url, c.captured_at) for c in catalog.all_captures()]
        paths += [links.raw_capture_path(c.url, c.captured_at) for c in catalog.all_captures()]
    for path in paths:
        before, after = old.get(path), new.get(path)
        assert before.status_code in (200, 301, 302), path  # redirects to a successor
        assert (after.status_code, after.location) == (before.status_code, before.location)
    for capture in captures_of(built.root, built.news_url):
        raw = links.raw_capture_path(capture.url, capture.captured_at)
        assert new.get(raw).data == old.get(raw).data


def test_speaker_aliases_travel_with_the_package(built, tmp_path):
    package = tmp_path / "speakers.wacz"
    invoke(export_command, package, "--archive", built.root)
    aliases = json.loads(members(package)["onrecord/speaker-aliases.json"])
    assert [built.old_director, built.director] in aliases
    target = fresh(tmp_path / "speakers")
    invoke(import_command, package, "--archive", target)
    with Catalog.open(Paths(target).catalog) as catalog:
        assert catalog.resolve_speaker_id(built.old_director) == built.director
    new = create_app({"ARCHIVE": str(target), "TESTING": True}).test_client()
    moved = new.get(links.speaker_path(built.old_director))
    assert (moved.status_code, moved.location) == (301, links.speaker_path(built.director))


def test_a_package_with_unreadable_aliases_is_refused_and_changes_nothing(built, tmp_path):
    package = tmp_path / "aliases.wacz"
    invoke(export_command, package, "--archive", built.root)
    files = members(package)
    repack(package, files | {"onrecord/speaker-aliases.json": b'{"not": "pairs"}'})
    target = fresh(tmp_path / "target")
    result = CliRunner().invoke(import_command, [str(package), "--archive", str(target)])
    assert result.exit_code != 0
    assert "onrecord/speaker-aliases.json is not a list of [old id, new id] rows" in result.output
    assert identifiers(target)["captures"] == []


def test_speaker_merges_and_identifiers_travel_with_the_package(built, tmp_path):
    archive = copy_site(built, tmp_path / "archive")
    with Catalog.open(Paths(archive.root).catalog) as catalog:
        merged = catalog.quote(built.reported).speaker_id
        kept = catalog.quote(built.hostile_quote).speaker_id
        catalog.merge_speakers(merged, kept, reason="the same person", author="editor")
        catalog.set_speaker_identifier(kept, "wikidata", "Q42")
    package = tmp_path / "merges.wacz"
    invoke(export_command, package, "--archive", archive.root)
    check_package(package)
    target = fresh(tmp_path / "merges")
    invoke(import_command, package, "--archive", target)
    invoke(import_command, package, "--archive", target)  # adds nothing, refuses nothing
    with Catalog.open(Paths(target).catalog) as catalog:
        assert catalog.speaker_merges() == {merged: kept}
        assert catalog.speaker_identifiers(kept) == {"wikidata": "Q42"}
    new = create_app({"ARCHIVE": str(target), "TESTING": True}).test_client()
    moved = new.get(links.speaker_path(merged))
    assert (moved.status_code, moved.location) == (301, links.speaker_path(kept))
    again = tmp_path / "again.wacz"  # each merge once, with its author, reason and time
    invoke(export_command, again, "--archive", target)
    for member in ("onrecord/speaker-merges.json", "onrecord/speaker-identifiers.json"):
        assert members(again)[member] == members(package)[member]


def sources(root: Path) -> dict[str, str | None]:
    with Catalog.open(Paths(root).catalog) as catalog:
        return {c.id: c.source for c in catalog.all_captures()}


def test_every_capture_keeps_its_source_when_the_archive_moves(scraped, tmp_path):
    before = sources(scraped)
    with Catalog.open(Paths(scraped).catalog) as catalog:
        kinds = {c.kind for c in catalog.all_captures() if c.source == "harbour-feed"}
    assert {"robots", "feed", "page"} <= kinds
    package = tmp_path / "scraped.wacz"
    invoke(export_command, package, "--archive", scraped)
    files = check_package(package)
    target = fresh(tmp_path / "moved")
    shutil.copytree(scraped / "sources", target / "sources", dirs_exist_ok=True)
    invoke(import_command, package, "--archive", target)
    assert sources(target) == before
    # A package made before capture-sources.json: the pages it lists keep their sources.
    del files["onrecord/capture-sources.json"]
    repack(package, files)
    pages = {json.loads(line)["id"] for line in files["pages/pages.jsonl"].splitlines()[1:]}
    assert pages and pages < set(before)
    older = fresh(tmp_path / "older")
    shutil.copytree(scraped / "sources", older / "sources", dirs_exist_ok=True)
    invoke(import_command, package, "--archive", older)
    assert sources(older) == {c: (s if c in pages else None) for c, s in before.items()}


def captures_of(root: Path, url: str):
    with Catalog.open(Paths(root).catalog) as catalog:
        return catalog.captures_of_url(ids.canonical_url(url))


def test_importing_twice_stores_nothing_the_second_time(built, tmp_path):
    package = tmp_path / "twice.wacz"
    invoke(export_command, package, "--archive", built.root)
    target = fresh(tmp_path / "twice")
    invoke(import_command, package, "--archive", target)
    sizes = {p.name: p.stat().st_size for p in (target / "warcs").iterdir()}
    again = invoke(import_command, package, "--archive", target)
    assert "0 new captures, 5 already archived" in again.output
    assert {p.name: p.stat().st_size for p in (target / "warcs").iterdir()} == sizes


def test_export_of_one_source_or_one_search(built, tmp_path):
    part = tmp_path / "search.wacz"
    invoke(export_command, part, "--archive", built.root, "--query", "recount")
    validate(part)
    files = check_package(part)
    assert [n for n in files if n.startswith("archive/")] == ["archive/data.warc.gz"]
    target = fresh(tmp_path / "part")
    invoke(import_command, part, "--archive", target)
    moved = identifiers(target)
    assert moved["documents"] == [built.news]
    assert built.unnamed in moved["quotes"] and built.pledge not in moved["quotes"]
    result = CliRunner().invoke(
        export_command,
        [str(tmp_path / "none.wacz"), "--archive", str(built.root), "--source", "none"],
    )
    assert result.exit_code != 0
    assert "nothing to export" in result.output


def test_a_damaged_package_is_refused_and_changes_nothing(built, tmp_path):
    package = tmp_path / "damaged.wacz"
    invoke(export_command, package, "--archive", built.root)
    data = bytearray(package.read_bytes())
    at = data.index(b"\x1f\x8b", 200)  # inside the stored WARC member
    data[at + 40] ^= 0xFF
    package.write_bytes(bytes(data))
    target = fresh(tmp_path / "target")
    result = CliRunner().invoke(import_command, [str(package), "--archive", str(target)])
    assert result.exit_code != 0
    assert "archive/onrecord-" in result.output and "is missing or damaged" in result.output
    assert identifiers(target)["captures"] == []


@pytest.mark.slow
def test_a_warc_written_by_wget_is_imported_with_its_quotes(tmp_path):
    wget = shutil.which("wget")
    if wget is None:
        pytest.skip("wget is not installed (make system installs it)")
    with LoopbackServer() as server:
        page = (
            "<html><head><title>Port authority statement</title></head><body><article>"
            "<h1>Port authority statement</h1><p>The port reopened on Monday after the storm "
            "damage to the north pier was repaired.</p><p>“Every berth is open again and "
            "every crew is accounted for,” said Ines Okafor, the harbour master.</p>"
            "</article></body></html>"
        )
        server.route("/statement", status=200, body=page, headers=HTML)
        url = server.url("/statement")
        fetched = subprocess.run(
            [wget, "-q", "--warc-file", str(tmp_path / "wget"), "-O", "/dev/null", url],
            capture_output=True,
            text=True,
            check=False,
        )
    warc = tmp_path / "wget.warc.gz"
    assert warc.exists(), fetched.stderr
    with gzip.open(warc, "rb") as handle:
        head = handle.read(2000)
    assert b"WARC/1.0" in head and b"WARC-Target-URI: <" in head  # wget's flavour
    target = fresh(tmp_path / "archive")
    result = invoke(import_command, warc, "--archive", target)
    assert "imported 1 captures" in result.output
    with Catalog.open(Paths(target).catalog) as catalog:
        [capture] = list(catalog.all_captures())
        assert capture.url == url and capture.status == 200
        assert capture.payload_digest.startswith("sha256:")
        [document] = catalog.documents()
        extraction = catalog.current_extraction(document.latest_version_id)
        [quote] = catalog.quotes_of_extraction(extraction.id)
        assert quote.speaker == "Ines Okafor"
    invoke(verify, "--archive", target)
    again = invoke(import_command, warc, "--archive", target)
    assert "0 new captures, 1 already archived" in again.output


def test_a_file_that_is_not_a_warc_is_refused_in_one_sentence(tmp_path):
    root = fresh(tmp_path / "archive")
    junk = tmp_path / "notes.warc"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    result = CliRunner().invoke(import_command, [str(junk), "--archive", str(root)])
    assert result.exit_code == 1
    assert "notes.warc is not a readable WARC file" in result.output
    assert isinstance(result.exception, SystemExit)  # a ClickException, not a traceback
    assert list((root / "warcs").iterdir()) == []
