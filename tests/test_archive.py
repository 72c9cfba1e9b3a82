"""The archive core: WARC + catalog, crash recovery, and identifiers that never change,
on both catalog engines (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest

from archive.catalog import Catalog, CatalogError, latest_version
from archive.store import ArchiveError, Paths, Store, init_archive, read_capture
from archive.verify import Verifier
from archive.warc import HttpExchange, WarcError, WarcWriter, iter_warc_files, release
from tests.catalogs import ENGINES, catalog_setting, drop_catalog, execute, write_settings

WARCIO = Path(sys.executable).parent / "warcio"
MOMENT = datetime(2026, 11, 3, 14, 5, 9, 250000, tzinfo=UTC)


@pytest.fixture(params=ENGINES)
def archive_root(request, tmp_path: Path) -> Iterator[Path]:
    """An empty archive whose catalog is an SQLite file or a PostgreSQL database."""
    root = tmp_path / "archive"
    template = request.getfixturevalue("postgres_catalog") if request.param != "sqlite" else None
    with catalog_setting(request.param, template) as setting:
        root.mkdir()
        write_settings(root, setting)
        init_archive(root)
        yield root


def exchange(url: str = "https://elections.example.gov/news/1", body: bytes = b"", **kw):
    page = body or b"<html><body><p>The count is complete.</p></body></html>"
    return HttpExchange(
        url=url,
        fetched_at=kw.get("at", MOMENT),
        status=kw.get("status", 200),
        reason="OK",
        headers=(("Content-Type", "text/html; charset=utf-8"), ("ETag", '"v1"')),
        payload=page,
        request_headers=(("User-Agent", "onrecord-test"), ("Accept", "*/*")),
        remote_ip="127.0.0.1",
    )


def catalog_ids(root: Path) -> list[str]:
    with Catalog.open(Paths(root).catalog) as catalog:
        return sorted(c.id for c in catalog.all_captures())


def test_save_capture_writes_warc_then_catalog_and_reads_back(archive_root):
    with Store.open(archive_root) as store:
        saved = store.save_capture(exchange())
        record = store.read(saved)
    assert record.payload.startswith(b"<html>")
    assert record.location.record_id == saved.warc_record_id
    assert saved.payload_digest.startswith("sha256:")
    assert saved.status == 200 and saved.etag == '"v1"'
    assert saved.captured_at == MOMENT


def test_the_same_capture_saved_twice_is_stored_once(archive_root):
    with Store.open(archive_root) as store:
        first = store.save_capture(exchange())
        size = (store.paths.warcs / first.warc_file).stat().st_size
        second = store.save_capture(exchange())
        assert second == first
        assert store.catalog.count_captures() == 1
        assert (store.paths.warcs / first.warc_file).stat().st_size == size


def test_ids_survive_a_catalog_rebuilt_from_the_warcs(archive_root):
    with Store.open(archive_root) as store:
        for n in range(3):
            store.save_capture(exchange(f"https://elections.example.gov/news/{n}"))
        store.save_capture(exchange(at=datetime(2026, 11, 4, tzinfo=UTC)), revisit_of=None)
    before = catalog_ids(archive_root)
    drop_catalog(archive_root)
    init_archive(archive_root)
    with Store.open(archive_root) as store:
        assert store.catalog.count_captures() == 4
    assert catalog_ids(archive_root) == before


def test_ids_survive_a_migration(archive_root):
    drop_catalog(archive_root)
    old = Catalog.open(Paths(archive_root).catalog, create=True, migrate=False)
    old.migrate(up_to=1)
    assert old.schema_version() == 1
    old.close()
    with Store.open(archive_root) as store:  # migrates to the latest schema
        saved = store.save_capture(exchange())
        assert store.catalog.schema_version() == latest_version()
    # A catalog made by the newest code keeps the same ids.
    drop_catalog(archive_root)
    init_archive(archive_root)
    with Store.open(archive_root) as store:
        assert store.catalog.capture(saved.id) == saved


def test_revisit_records_point_at_the_original(archive_root):
    with Store.open(archive_root) as store:
        first = store.save_capture(exchange())
        later = exchange(at=datetime(2026, 11, 5, tzinfo=UTC))
        revisit = store.save_capture(later, revisit_of=first)
        assert revisit.record_type == "revisit"
        assert revisit.refers_to == first.id
        assert revisit.payload_digest == first.payload_digest
    drop_catalog(archive_root)
    init_archive(archive_root)
    with Store.open(archive_root) as store:
        assert store.catalog.capture(revisit.id).refers_to == first.id


def test_warcio_check_and_index_read_every_warc(archive_root):
    with Store.open(archive_root) as store:
        first = store.save_capture(exchange())
        store.save_capture(exchange(at=datetime(2026, 11, 6, tzinfo=UTC)), revisit_of=first)
        store.save_capture(exchange("https://elections.example.gov/gone", status=410))
    for name in iter_warc_files(archive_root / "warcs"):
        path = archive_root / "warcs" / name
        check = subprocess.run([WARCIO, "check", "-v", path], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "digest failed" not in check.stdout
        index = subprocess.run([WARCIO, "index", path], capture_output=True, text=True)
        assert index.returncode == 0
        types = [line for line in index.stdout.splitlines() if '"warc-type"' in line]
        assert any('"response"' in line for line in types)
        assert any('"revisit"' in line for line in types)
        assert any('"request"' in line for line in types)


def test_warc_files_rotate_at_the_size_cap(archive_root):
    with Store.open(archive_root, max_warc_size=2000) as store:
        for n in range(6):
            store.save_capture(exchange(f"https://elections.example.gov/r/{n}", b"x" * 900))
        files = list(iter_warc_files(store.paths.warcs))
        assert len(files) >= 2
        for capture in store.catalog.all_captures():
            assert read_capture(store.paths, capture).payload == b"x" * 900


def test_a_torn_warc_tail_is_cut_off_on_open(archive_root):
    with Store.open(archive_root) as store:
        saved = store.save_capture(exchange())
    path = archive_root / "warcs" / saved.warc_file
    whole = path.read_bytes()
    record = whole[saved.warc_offset : saved.warc_offset + saved.warc_length]
    with open(path, "ab") as handle:  # half of a record, as a crash mid-write leaves it
        handle.write(record[: len(record) // 2])
    with Store.open(archive_root) as store:
        assert path.read_bytes() == whole
        assert store.catalog.count_captures() == 1
        assert store.read(saved).payload.startswith(b"<html>")


@pytest.mark.parametrize("short_of_end", ["half", 30, 1])
def test_a_record_cut_inside_its_payload_or_gzip_trailer_is_cut_off(
    archive_root, tmp_path, short_of_end
):
    # warcio reads a gzip member cut inside its payload or trailer without complaint, so
    # only a scan that asks whether the record is whole keeps it out of the catalog.
    with Store.open(archive_root) as store:
        saved = store.save_capture(exchange())
    path = archive_root / "warcs" / saved.warc_file
    whole = path.read_bytes()
    body = random.Random(2).randbytes(20_000)  # does not compress: the member is long
    later = exchange("https://elections.example.gov/news/2", body)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    located = WarcWriter(elsewhere).write_exchange(later)
    written = (elsewhere / located.warc_file).read_bytes()
    member = written[located.offset : located.offset + located.length]
    cut = len(member) // 2 if short_of_end == "half" else len(member) - short_of_end
    with open(path, "ab") as handle:  # a crash part way through the member
        handle.write(member[:cut])
    with Store.open(archive_root) as store:
        assert [c.id for c in store.catalog.all_captures()] == [saved.id]
        assert store.read(saved).payload.startswith(b"<html>")
    assert path.read_bytes() == whole
    [quarantined] = (archive_root / "quarantine").iterdir()
    assert quarantined.read_bytes() == member[:cut]


def test_a_file_taken_over_from_a_writer_that_died_is_reconciled_first(archive_root):
    # Two stores on one archive, as two processes: the second was opened while the first
    # held the file, so only its first write finds the first one's torn last record.
    first = Store.open(archive_root)
    saved = first.save_capture(exchange())
    second = Store.open(archive_root)
    path = archive_root / "warcs" / saved.warc_file
    whole = path.read_bytes()
    torn = whole[saved.warc_offset : saved.warc_offset + saved.warc_length // 2]
    with open(path, "ab") as handle:  # the first dies part way through its next write
        handle.write(torn)
    release(first.writer._lock)  # as its death would, without reconciling anything
    first.catalog.close()
    with second:
        later = second.save_capture(exchange("https://elections.example.gov/news/2"))
    assert (later.warc_file, later.warc_offset) == (saved.warc_file, len(whole))
    [quarantined] = (archive_root / "quarantine").iterdir()
    assert quarantined.read_bytes() == torn
    with Store.open(archive_root) as store:
        assert [c.id for c in store.catalog.all_captures()] == [saved.id, later.id]
        for capture in (saved, later):
            assert store.read(capture).payload.startswith(b"<html>")
        assert Verifier(store.paths, store.catalog).run().problems == []


def test_a_digest_mismatch_is_reported(archive_root):
    with Store.open(archive_root) as store:
        saved = store.save_capture(exchange())
    execute(
        archive_root, "UPDATE captures SET payload_digest = 'sha256:00' WHERE id = :id", id=saved.id
    )
    with Store.open(archive_root) as store:
        tampered = store.catalog.capture(saved.id)
        with pytest.raises(WarcError, match="payload digest mismatch"):
            store.read(tampered)


def test_a_missing_warc_file_is_a_clear_error(archive_root):
    with Store.open(archive_root) as store:
        saved = store.save_capture(exchange())
        (archive_root / "warcs" / saved.warc_file).rename(archive_root / "elsewhere.warc.gz")
        with pytest.raises(WarcError, match="missing"):
            store.read(saved)


def test_a_newer_catalog_is_refused(archive_root):
    with Store.open(archive_root) as store:
        saved = store.save_capture(exchange())
    execute(archive_root, "UPDATE alembic_version SET version_num = '0999'")
    with pytest.raises(ArchiveError, match="schema version 999, newer than this onrecord"):
        Store.open(archive_root)
    execute(
        archive_root, "UPDATE alembic_version SET version_num = :v", v=f"{latest_version():04d}"
    )
    with Store.open(archive_root) as store:  # nothing was lost
        assert store.catalog.capture(saved.id) == saved


def test_a_missing_archive_is_a_clear_error(tmp_path):
    with pytest.raises(ArchiveError, match="no archive at"):
        Store.open(tmp_path / "nowhere")


def test_an_archive_cannot_be_made_where_a_file_stands(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ArchiveError, match="not a folder"):
        init_archive(tmp_path / "file")


def test_a_catalog_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CatalogError, match="not a usable catalog"):
        Catalog.open(path)


def test_capture_log_chains_every_capture(archive_root):
    with Store.open(archive_root) as store:
        for n in range(3):
            store.save_capture(exchange(f"https://elections.example.gov/log/{n}"))
        entries = list(store.catalog.log_entries())
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert all(b["prev_hash"] == a["entry_hash"] for a, b in pairwise(entries))


def test_a_copied_archive_keeps_its_ids(archive_root, tmp_path):
    with Store.open(archive_root) as store:
        store.save_capture(exchange())
    moved = tmp_path / "elsewhere" / "archive"
    shutil.copytree(archive_root, moved)
    assert catalog_ids(moved) == catalog_ids(archive_root)


def test_a_catalog_that_disagrees_with_its_warc_leaves_the_file_alone(archive_root):
    with Store.open(archive_root) as store:
        store.save_capture(exchange())
        saved = store.save_capture(exchange("https://elections.example.gov/news/2"))
    path = archive_root / "warcs" / saved.warc_file
    whole = path.read_bytes()
    execute(
        archive_root,
        "UPDATE captures SET warc_offset = warc_offset + 7 WHERE id = :id",
        id=saved.id,
    )
    with Store.open(archive_root) as store:
        assert store.catalog.count_captures() == 2
    assert path.read_bytes() == whole
    assert not (archive_root / "quarantine").exists()
