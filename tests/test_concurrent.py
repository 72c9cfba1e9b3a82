"""Two processes capture into one PostgreSQL catalog at once: the result is the one a
single process makes (the same documents, quotes and speakers, with the same ids), with
no duplicate and no lost row, WARC files of their own, and one unbroken capture log."""

from __future__ import annotations

import os
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from archive.catalog import Catalog
from archive.store import Paths, init_archive
from tests.catalogs import postgres_database, write_settings
from tests.conftest import ONRECORD, run_onrecord
from tests.loopback import LoopbackServer
from tests.test_scrape import HTML, RSS, article, feed

PAGES = 10
SOURCES = ("alpha", "beta")


@pytest.fixture(scope="module")
def site():
    with LoopbackServer() as server:
        for name in SOURCES:
            paths = [f"/{name}/{n}" for n in range(PAGES)]
            server.route(
                f"/{name}/feed.xml", status=200, body=feed(server.origin, paths), headers=RSS
            )
            for n, path in enumerate(paths):
                # Both sources quote the same two officials: their speaker rows are shared.
                speaker = ("Nora Quint", "Ade Mensah")[n % 2]
                words = f"The {name} ward count number {n} is complete and will be published"
                page = article(f"{name.title()} update {n}", speaker, words)
                server.route(path, status=200, body=page, headers=HTML)
        yield server


def new_archive(root: Path, url: str, site: LoopbackServer) -> Path:
    root.mkdir()
    write_settings(root, url)
    init_archive(root)
    for name in SOURCES:
        (root / "sources" / f"{name}.toml").write_text(
            f"""[[source]]
name = "{name}"
publisher = "{name.title()} County Elections Office"
kind = "statement"
discovery = {{ type = "feed", url = "{site.url(f"/{name}/feed.xml")}" }}
schedule = {{ every = "6h" }}
delay = 0.0
""",
            encoding="utf-8",
        )
    return root


def contents(root: Path) -> dict:
    with Catalog.open(Paths(root).catalog) as catalog:
        documents = list(catalog.all_documents())
        quotes = list(catalog.current_quotes())
        return {
            "documents": sorted((d.id, d.url, d.source, d.publisher, d.kind) for d in documents),
            "quotes": sorted((q.id, q.document_id, q.text, q.speaker_id, q.start) for q in quotes),
            "speakers": sorted(
                (s.id, s.name) for s in map(catalog.speaker, {q.speaker_id for q in quotes}) if s
            ),
            "versions": sorted(len(catalog.versions(d.id)) for d in documents),
            # robots.txt is kept as each process reads it: one per process and host
            "captures": catalog.count_captures("page"),
            "feeds": catalog.count_captures("feed"),
        }


def test_two_processes_capture_into_one_catalog_as_one_would(site, tmp_path):
    with postgres_database() as single_url, postgres_database() as shared_url:
        single = new_archive(tmp_path / "single", single_url, site)
        result = run_onrecord("scrape", "--archive", str(single), timeout=300)
        assert result.returncode == 0, result.stderr

        shared = new_archive(tmp_path / "shared", shared_url, site)
        processes = [
            subprocess.Popen(
                [str(ONRECORD), "scrape", name, "--archive", str(shared)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=os.environ.copy(),
            )
            for name in SOURCES
        ]
        for process in processes:
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, err

        expected = contents(single)
        assert expected["captures"] >= 2 * PAGES and len(expected["quotes"]) >= 2 * PAGES
        assert contents(shared) == expected

        with Catalog.open(Paths(shared).catalog) as catalog:
            entries = list(catalog.log_entries())
            captures = list(catalog.all_captures())
        assert [e["seq"] for e in entries] == list(range(1, len(captures) + 1))
        assert sorted(e["capture_id"] for e in entries) == sorted(c.id for c in captures)
        # Each WARC file was written by one process, for one source.
        sources_by_file = defaultdict(set)
        for capture in captures:
            sources_by_file[capture.warc_file].add(capture.source)
        assert len(sources_by_file) >= 2
        assert all(len(sources - {None}) == 1 for sources in sources_by_file.values())

        verified = run_onrecord("verify", "--archive", str(shared), timeout=300)
        assert verified.returncode == 0, verified.stdout + verified.stderr
