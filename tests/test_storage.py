"""WARC files in a folder or in an S3-compatible bucket (a real SeaweedFS): the same
captures, reads, verification and repairs on both; and what a bucket that is missing,
forbidden or going down gets: a clear message, and nothing lost."""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import config as archive_config
from archive.catalog import Catalog
from archive.models import Capture
from archive.storage import S3Settings, S3Storage, StorageError, copy_files, open_storage
from archive.store import ArchiveError, Paths, Store, init_archive, read_capture
from archive.wacz import PackageError, export_wacz, import_file
from archive.warc import HttpExchange, iter_warc_files
from tests.conftest import run_onrecord
from tests.seaweedfs import ACCESS_KEY, READER_KEY, READER_SECRET, SECRET_KEY, SeaweedFS
from tests.tcpproxy import TcpProxy
from web import create_app, links
from web.cli_integrity import verify

START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def exchange(n: int, body: bytes | None = None) -> HttpExchange:
    return HttpExchange(
        url=f"https://elections.example.gov/news/{n}",
        fetched_at=START + timedelta(seconds=n),
        status=200,
        reason="OK",
        headers=(("Content-Type", "text/html; charset=utf-8"),),
        payload=body or f"<html><p>Statement {n}: the canvass is certified.</p></html>".encode(),
        request_headers=(("User-Agent", "onrecord-test"),),
    )


def noise(n: int, size: int) -> bytes:
    """Bytes gzip cannot shrink, so a WARC file grows as large as its payloads."""
    return hashlib.shake_256(str(n).encode()).digest(size)


def new_archive(root: Path, settings: str = "") -> Path:
    """An archive with these settings (written first: they say where things are kept)."""
    root.mkdir(parents=True)
    (root / "onrecord.toml").write_text(f"[onrecord]\n{settings}", encoding="utf-8")
    init_archive(root)
    return root


@pytest.fixture(params=["folder", "s3"])
def kind(request) -> str:
    return request.param


@pytest.fixture
def archive(kind: str, tmp_path: Path, request) -> Path:
    """An archive whose WARC files are kept in a folder, or in a fresh SeaweedFS bucket."""
    if kind == "folder":
        return new_archive(tmp_path / "archive")
    weed: SeaweedFS = request.getfixturevalue("seaweedfs")
    return new_archive(tmp_path / "archive", weed.settings(weed.new_place()))


def local_files(root: Path) -> list[str]:
    return list(iter_warc_files(root / "warcs"))


def save(root: Path, items: list[HttpExchange], **options) -> list[Capture]:
    with Store.open(root, **options) as store:
        return [store.save_capture(item) for item in items]


def test_captures_are_read_back_from_either_store(archive: Path, kind: str):
    items = [exchange(n, noise(n, 900)) for n in range(6)]
    with Store.open(archive, max_warc_size=2500) as store:
        saved = [store.save_capture(item) for item in items]
        files = sorted({c.warc_file for c in saved})
        assert len(files) >= 3
        if kind == "s3":  # rotated files are uploaded at once; the current one waits
            assert local_files(archive) == [store.writer.current]
            assert store.paths.storage.names() == files
    if kind == "s3":
        assert local_files(archive) == []  # closing uploaded the last file
    paths = Paths(archive)
    for capture, item in zip(saved, items, strict=True):
        assert read_capture(paths, capture).payload == item.payload
    client = create_app({"ARCHIVE": str(archive), "TESTING": True}).test_client()
    replayed = client.get(links.raw_capture_path(saved[2].url, saved[2].captured_at))
    assert replayed.status_code == 200 and replayed.data == items[2].payload


def test_a_reopened_store_keeps_every_capture_and_id(archive: Path, kind: str):
    first = save(archive, [exchange(n) for n in range(3)])
    second = save(archive, [exchange(n) for n in range(5)])  # three of them again
    assert second[:3] == first
    with Catalog.open(archive / "catalog.sqlite") as catalog:
        assert catalog.count_captures() == 5
    files = {c.warc_file for c in second}
    # A folder's writer goes on with its file; a bucket's writer starts its own.
    assert len(files) == (1 if kind == "folder" else 2)


def run_verify(root: Path, *args: str):
    return CliRunner().invoke(verify, ["--archive", str(root), *args])


def append_to_file(root: Path, kind: str, name: str, data: bytes, weed=None) -> None:
    """Damage a finished WARC file where it is kept."""
    if kind == "folder":
        with open(root / "warcs" / name, "ab") as handle:
            handle.write(data)
        return
    storage = Paths(root).storage
    assert isinstance(storage, S3Storage)
    client = weed.client()
    whole = client.get_object(Bucket=storage.bucket, Key=storage.key(name))["Body"].read()
    client.put_object(Bucket=storage.bucket, Key=storage.key(name), Body=whole + data)


def test_verify_and_repair_work_on_either_store(archive: Path, kind: str, request):
    saved = save(archive, [exchange(n) for n in range(3)])
    result = run_verify(archive)
    assert result.exit_code == 0, result.output
    assert "3 records in 1 WARC files" in result.output

    weed = request.getfixturevalue("seaweedfs") if kind == "s3" else None
    append_to_file(archive, kind, saved[0].warc_file, b"\x1f\x8b\x08 torn", weed)
    result = run_verify(archive)
    assert result.exit_code == 1
    assert "do not form a record (a torn write)" in result.output

    result = run_verify(archive, "--repair")
    assert result.exit_code == 0, result.output
    assert "the archive is whole" in result.output
    [tail] = (archive / "quarantine").iterdir()
    assert tail.read_bytes() == b"\x1f\x8b\x08 torn"
    assert local_files(archive) == ([] if kind == "s3" else [saved[0].warc_file])
    for capture in saved:
        assert read_capture(Paths(archive), capture).location.record_id == capture.warc_record_id


def test_a_wacz_export_reads_records_from_either_store(archive: Path, tmp_path: Path):
    saved = save(archive, [exchange(n) for n in range(4)])
    paths = Paths(archive)
    with Catalog.open(paths.catalog) as catalog:
        whole = export_wacz(paths, catalog, tmp_path / "all.wacz")
        part = export_wacz(paths, catalog, tmp_path / "part.wacz", saved[1:3])
    assert (whole.captures, part.captures) == (4, 2)
    target = new_archive(tmp_path / "copy")
    with Store.open(target) as store:
        summary = import_file(store, tmp_path / "part.wacz")
    assert sorted(summary.added) == sorted(c.id for c in saved[1:3])


# -- a bucket that is missing, forbidden, or going down -----------------------------------


def test_a_missing_bucket_is_refused_before_anything_is_written(seaweedfs, tmp_path):
    root = new_archive(tmp_path / "archive", seaweedfs.settings("s3://no-such-bucket/warcs"))
    with pytest.raises(ArchiveError, match=r"the bucket 'no-such-bucket' does not exist at http"):
        Store.open(root)
    result = run_onrecord("capture", "https://elections.example.gov/", "--archive", str(root))
    assert result.returncode == 1
    assert "Error: the bucket 'no-such-bucket' does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert local_files(root) == []


def test_wrong_credentials_are_refused_without_showing_the_secret(seaweedfs, tmp_path):
    settings = seaweedfs.settings(
        seaweedfs.new_place(), access_key="nobody", secret_key="do-not-print-me"
    )
    root = new_archive(tmp_path / "archive", settings)
    with pytest.raises(ArchiveError, match="is forbidden") as refused:
        Store.open(root)
    assert "check the access key" in str(refused.value)
    assert "do-not-print-me" not in str(refused.value)
    assert local_files(root) == []


def test_a_bucket_that_refuses_writes_keeps_the_files_until_it_accepts(seaweedfs, tmp_path, caplog):
    place = seaweedfs.new_place()
    reader = seaweedfs.settings(place, access_key=READER_KEY, secret_key=READER_SECRET)
    root = new_archive(tmp_path / "archive", reader)
    with caplog.at_level(logging.WARNING, logger="archive.storage"):
        saved = save(root, [exchange(n) for n in range(3)])
    assert "is forbidden" in caplog.text and "to be uploaded later" in caplog.text
    assert local_files(root) == [saved[0].warc_file]  # kept: nothing lost
    assert read_capture(Paths(root), saved[1]).payload == exchange(1).payload

    (root / "onrecord.toml").write_text(
        "[onrecord]\n" + seaweedfs.settings(place), encoding="utf-8"
    )
    Store.open(root).close()  # opening uploads what waits
    assert local_files(root) == []
    assert list(seaweedfs.keys(place)) == [saved[0].warc_file]
    assert read_capture(Paths(root), saved[1]).payload == exchange(1).payload


def test_a_file_another_process_uploads_as_this_one_claims_it_is_left_to_that_one(
    seaweedfs, tmp_path, monkeypatch
):
    place = seaweedfs.new_place()
    reader = seaweedfs.settings(place, access_key=READER_KEY, secret_key=READER_SECRET)
    root = new_archive(tmp_path / "archive", reader)
    saved = save(root, [exchange(n) for n in range(2)])  # the bucket refuses: kept here
    local = root / "warcs" / saved[0].warc_file
    (root / "onrecord.toml").write_text(
        "[onrecord]\n" + seaweedfs.settings(place), encoding="utf-8"
    )
    ours, theirs = (open_storage(root, archive_config.load(root)) for _ in range(2))
    real_open = os.open

    def open_then_lose_the_race(path, flags, *mode):
        # Between this process opening the file and locking it, the other one takes it,
        # uploads it and removes it: the narrowest window there is, made certain.
        fd = real_open(path, flags, *mode)
        if Path(path) == local and not raced:
            raced.append(True)
            raced.append(theirs.finish_pending())
        return fd

    raced: list = []
    monkeypatch.setattr(os, "open", open_then_lose_the_race)
    assert ours.finish_pending() == []  # nothing to do, and no error: theirs did it
    assert raced == [True, []] and not local.exists()
    assert list(seaweedfs.keys(place)) == [local.name]
    monkeypatch.undo()
    assert read_capture(Paths(root), saved[1]).payload == exchange(1).payload


@pytest.fixture
def proxied(seaweedfs: SeaweedFS, tmp_path: Path):
    """An archive whose bucket is reached through a proxy that can fail."""
    place = seaweedfs.new_place()
    with TcpProxy(("127.0.0.1", seaweedfs.s3_port)) as proxy:
        settings = seaweedfs.settings(place, endpoint=proxy.url)
        yield new_archive(tmp_path / "archive", settings), proxy, place


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_store_going_down_mid_upload_loses_nothing(proxied, seaweedfs):
    root, proxy, place = proxied
    items = [exchange(n, noise(n, 1_000_000)) for n in range(3)]
    store = Store.open(root)
    saved = [store.save_capture(item) for item in items]
    local = root / "warcs" / saved[0].warc_file
    written, size = sha256_of(local), local.stat().st_size
    assert local.stat().st_size > 3_000_000
    proxy.cut_after(1_000_000)  # the store goes away a third of the way into the upload
    store.close()
    assert local.exists() and sha256_of(local) == written  # kept, unchanged
    assert seaweedfs.keys(place) == {}
    for capture, item in zip(saved, items, strict=True):  # still readable, from the file
        assert read_capture(Paths(root), capture).payload == item.payload

    with pytest.raises(StorageError, match="cannot reach"):  # still down: nothing changes
        Paths(root).storage.finish(local.name)
    assert local.exists()

    proxy.up()
    Store.open(root).close()  # the next start uploads it
    assert not local.exists()
    assert seaweedfs.keys(place) == {local.name: size}
    for capture, item in zip(saved, items, strict=True):
        assert read_capture(Paths(root), capture).payload == item.payload
    assert run_verify(root).exit_code == 0


def test_records_are_read_by_range_not_by_downloading_the_file(proxied):
    root, proxy, _place = proxied
    items = [exchange(n, noise(n, 500_000)) for n in range(6)] + [exchange(6)]
    saved = save(root, items)
    paths = Paths(root)
    assert paths.storage.size(saved[-1].warc_file) > 3_000_000
    before = proxy.received
    assert read_capture(paths, saved[-1]).payload == items[-1].payload
    assert proxy.received - before < 20_000


def test_a_crash_between_upload_and_cleanup_is_tidied_on_the_next_start(
    seaweedfs, tmp_path, caplog
):
    place = seaweedfs.new_place()
    root = new_archive(tmp_path / "archive", seaweedfs.settings(place))
    store = Store.open(root)
    saved = [store.save_capture(exchange(n)) for n in range(3)]
    local = root / "warcs" / saved[0].warc_file
    copy = local.read_bytes()
    store.close()  # uploads and removes the local file ...
    local.write_bytes(copy)  # ... as if the process had died before removing it
    with caplog.at_level(logging.INFO, logger="archive.storage"):
        Store.open(root).close()
    assert not local.exists()
    assert "replacing" not in caplog.text  # the bucket's copy was confirmed, not rewritten
    assert seaweedfs.keys(place) == {local.name: len(copy)}
    assert run_verify(root).exit_code == 0


def test_the_bucket_can_be_given_by_the_aws_variables(seaweedfs, tmp_path, server):
    server.route("/statement", body="<html><body><p>Counted.</p></body></html>")
    server.route("/robots.txt", body="User-agent: *\nAllow: /\n")
    place = seaweedfs.new_place() + "/some/prefix"
    root = new_archive(tmp_path / "archive", "allow_private = true\ndelay = 0.0\n")
    env = {
        "ONRECORD_WARCS": place,
        "AWS_ENDPOINT_URL": seaweedfs.endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    result = run_onrecord("capture", server.url("/statement"), "--archive", str(root), env=env)
    assert result.returncode == 0, result.stderr
    [key] = seaweedfs.keys(place)
    assert key.startswith("onrecord-") and key.endswith(".warc.gz")
    assert local_files(root) == []
    result = run_onrecord("verify", "--archive", str(root), env=env)
    assert result.returncode == 0, result.stdout + result.stderr


# -- moving an archive's WARC files (the WARC half of onrecord migrate) -------------------


def test_copying_warc_files_into_a_bucket_resumes_and_refuses_another_archive(seaweedfs, tmp_path):
    root = new_archive(tmp_path / "archive")
    saved = save(root, [exchange(n, noise(n, 600_000)) for n in range(6)], max_warc_size=1_000_000)
    source = Paths(root).storage
    names = source.names()
    assert len(names) == 3
    place = seaweedfs.new_place()
    with TcpProxy(("127.0.0.1", seaweedfs.s3_port)) as proxy:
        settings = S3Settings(proxy.url, ACCESS_KEY, SECRET_KEY)
        bucket, prefix = place.removeprefix("s3://").split("/", 1)
        target = S3Storage(tmp_path / "spool", bucket, prefix, settings)
        proxy.cut_after(1_500_000)  # the store goes down during the second file
        with pytest.raises(StorageError, match="cannot reach"):
            copy_files(source, target)
        assert list(seaweedfs.keys(place)) == names[:1]
        proxy.up()
        report = copy_files(source, target)  # resumes
        assert (report.present, report.copied) == (names[:1], names[1:])
        assert copy_files(source, target).present == names  # nothing left to do
    sizes = {name: (root / "warcs" / name).stat().st_size for name in names}
    assert seaweedfs.keys(place) == sizes
    assert local_files(root) == names  # the source is left as it was
    moved = S3Storage(tmp_path / "spool", bucket, prefix, S3Settings(*settings_of(seaweedfs)))
    for capture in saved:
        data = moved.read(capture.warc_file, capture.warc_offset, capture.warc_length)
        assert data == source.read(capture.warc_file, capture.warc_offset, capture.warc_length)

    other = new_archive(tmp_path / "other")
    save(other, [exchange(99)])
    with pytest.raises(StorageError, match="belongs to another archive"):
        copy_files(Paths(other).storage, moved)
    assert seaweedfs.keys(place) == sizes


def settings_of(weed: SeaweedFS) -> tuple[str, str, str]:
    return weed.endpoint, ACCESS_KEY, SECRET_KEY


def test_a_file_uploaded_in_parts_is_confirmed_by_its_multipart_etag(seaweedfs, tmp_path):
    place = seaweedfs.new_place()
    bucket, prefix = place.removeprefix("s3://").split("/", 1)
    storage = S3Storage(
        tmp_path / "warcs", bucket, prefix, S3Settings(*settings_of(seaweedfs)), part_size=5 << 20
    )
    storage.local.mkdir()
    name = "onrecord-20261103090000-abcdef.warc.gz"
    data = noise(1, 12 << 20)
    (storage.local / name).write_bytes(data)
    storage.finish(name)
    assert seaweedfs.keys(place) == {name: len(data)}
    assert storage.fingerprint(name)[1].endswith("-3")  # three parts, confirmed
    assert storage.read(name, 7 << 20, 100) == data[7 << 20 : (7 << 20) + 100]


def test_a_capture_killed_before_its_catalog_row_is_recataloged_and_uploaded(
    seaweedfs, tmp_path, server
):
    server.route("/statement", body="<html><body><p>Counted.</p></body></html>")
    server.route("/robots.txt", body="User-agent: *\nAllow: /\n")
    place = seaweedfs.new_place()
    root = new_archive(
        tmp_path / "archive", "allow_private = true\ndelay = 0.0\n" + seaweedfs.settings(place)
    )
    killed = run_onrecord(
        "capture",
        server.url("/statement"),
        "--archive",
        str(root),
        env={"ONRECORD_CRASH_AT": "warc-written"},
    )
    assert killed.returncode != 0
    [left] = local_files(root)  # the record is written; nothing was uploaded
    assert seaweedfs.keys(place) == {}
    with Store.open(root) as store:  # the next start catalogs it, then uploads the file
        [capture] = store.catalog.all_captures()  # the first record: robots.txt
        assert capture.warc_file == left and capture.kind == "robots"
    assert local_files(root) == [] and list(seaweedfs.keys(place)) == [left]
    assert read_capture(Paths(root), capture).payload.startswith(b"User-agent")


def test_readers_of_a_bucket_out_of_reach_get_a_clear_error(proxied, tmp_path):
    root, proxy, _place = proxied
    saved = save(root, [exchange(n) for n in range(2)])
    assert local_files(root) == []  # uploaded
    proxy.down()
    paths = Paths(root)
    with pytest.raises(StorageError, match=r"cannot reach s3://\S+ at http://127\.0\.0\.1"):
        read_capture(paths, saved[0])
    client = create_app({"ARCHIVE": str(root), "TESTING": True}).test_client()
    replay = client.get(links.raw_capture_path(saved[0].url, saved[0].captured_at))
    assert replay.status_code == 500
    assert b"the archived copy cannot be read: cannot reach" in replay.data
    result = run_verify(root)
    assert result.exit_code == 1
    assert "cannot verify the WARC files: cannot reach" in result.output
    with Catalog.open(paths.catalog) as catalog, pytest.raises(PackageError, match="cannot reach"):
        export_wacz(paths, catalog, tmp_path / "out.wacz")
    assert not (tmp_path / "out.wacz").exists()
    proxy.up()
    assert read_capture(paths, saved[0]).payload == exchange(0).payload


def test_capturing_goes_on_while_the_store_is_down(proxied, seaweedfs, caplog):
    root, proxy, place = proxied
    proxy.down()
    with caplog.at_level(logging.WARNING, logger="archive.storage"):
        saved = save(root, [exchange(n) for n in range(2)])  # opens, captures, closes
    assert "cannot reach" in caplog.text and "to be uploaded later" in caplog.text
    assert local_files(root) == [saved[0].warc_file]
    assert read_capture(Paths(root), saved[1]).payload == exchange(1).payload
    proxy.up()
    Store.open(root).close()
    assert local_files(root) == [] and list(seaweedfs.keys(place)) == [saved[0].warc_file]
