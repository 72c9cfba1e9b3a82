"""Importing files other tools wrote, when they are damaged, odd or hostile: torn
records, digests that do not match, records that are not captures, ARC files, empty
files, impossible lengths and compression bombs. Nothing damaged is ever cataloged, and
the summary counts what it left out, by reason."""

from __future__ import annotations

import gzip
import io
import json
import os
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.catalog import Catalog
from archive.store import init_archive
from tests.conftest import run_onrecord
from web.cli_integrity import import_command, verify

BODY = (
    "<html><body><article><p>Notice {n}: the ferry timetable changes on Monday.</p>{pad}"
    "</article></body></html>"
)


def page(n: int) -> bytes:
    return BODY.format(n=n, pad="<p>" + "Crossings run every hour. " * 40 + "</p>").encode()


def warc(count: int = 3, *, gz: bool = False, extra: bytes = b"") -> bytes:
    """A WARC file of ``count`` responses (warcio writes it, as other tools would)."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=gz, warc_version="1.1")
    for n in range(count):
        payload = page(n)
        http = StatusAndHeaders(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(payload)))],
            protocol="HTTP/1.1",
        )
        record = writer.create_warc_record(
            f"https://ferries.example.gov/notice/{n}",
            "response",
            payload=io.BytesIO(payload),
            length=len(payload),
            http_headers=http,
        )
        writer.write_record(record)
    return extra + out.getvalue()


def archive(tmp_path: Path) -> Path:
    return init_archive(tmp_path / "archive").root


def run_import(root: Path, *files: Path):
    return CliRunner().invoke(import_command, [*map(str, files), "--archive", str(root)])


def captured(root: Path) -> list[str]:
    with Catalog.open(root / "catalog.sqlite") as catalog:
        return sorted(c.url for c in catalog.all_captures())


def assert_whole(root: Path) -> None:
    result = CliRunner().invoke(verify, ["--archive", str(root)])
    assert result.exit_code == 0 and "the archive is whole" in result.output, result.output


@pytest.mark.parametrize(
    ("gz", "cut"),
    [(False, 300), (True, 50), (True, 150), (True, 300)],
    ids=["warc", "warc.gz-payload", "warc.gz-member", "warc.gz-headers"],
)
def test_a_record_torn_inside_its_payload_is_refused_and_counted(tmp_path, gz, cut):
    whole = warc(3, gz=gz)
    source = tmp_path / ("torn.warc.gz" if gz else "torn.warc")
    source.write_bytes(whole[: len(whole) - cut])  # the file ends inside the last record
    root = archive(tmp_path)
    result = run_import(root, source)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a ClickException, not a traceback
    assert "2 new captures, 0 already archived, 1 records skipped (1 torn)" in result.output
    assert "1 damaged records (torn, or failing their digest) were refused" in result.output
    assert captured(root) == [f"https://ferries.example.gov/notice/{n}" for n in (0, 1)]
    assert_whole(root)


def test_a_record_whose_payload_fails_its_digest_is_refused(tmp_path):
    data = warc(2)
    at = data.index(b"Notice 1:")
    source = tmp_path / "changed.warc"
    source.write_bytes(data[:at] + b"Notice 7:" + data[at + 9 :])
    root = archive(tmp_path)
    result = run_import(root, source)
    assert result.exit_code == 1
    assert "1 records skipped (1 digest mismatch)" in result.output
    assert "does not match its WARC-Payload-Digest sha1:" in result.output
    assert captured(root) == ["https://ferries.example.gov/notice/0"]


@pytest.mark.parametrize("gz", [False, True], ids=["warc", "warc.gz"])
def test_a_content_length_of_99999999999_is_a_torn_record_not_a_traceback(tmp_path, gz):
    data = warc(1)
    at = data.index(b"Content-Length: ")
    end = data.index(b"\r\n", at)
    record = data[:at] + b"Content-Length: 99999999999" + data[end:]
    source = tmp_path / ("long.warc.gz" if gz else "long.warc")
    source.write_bytes((gzip.compress(record) if gz else record) + (warc(1, gz=gz)))
    root = archive(tmp_path)
    result = run_import(root, source)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "torn: the record declares Content-Length 99999999999" in result.output
    assert captured(root) == (["https://ferries.example.gov/notice/0"] if gz else [])


def test_records_that_are_not_captures_are_counted_by_reason(tmp_path):
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False, warc_version="1.1")
    for kind in ("resource", "metadata", "resource"):
        writer.write_record(
            writer.create_warc_record(
                "https://ferries.example.gov/log.txt",
                kind,
                payload=io.BytesIO(b"crawl log"),
                length=9,
                warc_content_type="text/plain",
            )
        )
    source = tmp_path / "mixed.warc"
    source.write_bytes(warc(1) + out.getvalue())
    root = archive(tmp_path)
    result = run_import(root, source)
    assert result.exit_code == 0, result.output  # left out, not damaged
    assert "1 new captures, 0 already archived, 3 records skipped" in result.output
    assert "(1 metadata records, 2 resource records)" in result.output
    assert "a resource record, not an HTTP response" in result.output


def test_an_empty_file_is_refused_in_one_sentence(tmp_path):
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    root = archive(tmp_path)
    result = run_import(root, empty)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "empty.warc.gz is empty (0 bytes): there is nothing to import" in result.output


def arc_records(records: list[tuple[str, str, bytes]]) -> list[bytes]:
    """The records of an ARC (version 1) file, as the Internet Archive's crawlers wrote
    them: the file's header, then one per response."""
    version = b"1 0 onrecord-tests\nURL IP-address Archive-date Content-type Archive-length\n"
    header = b"filedesc://notices.arc 0.0.0.0 20261103090000 text/plain %d\n" % len(version)
    out = [header + version + b"\n"]
    for url, when, body in records:
        http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        http += b"Content-Length: %d\r\n\r\n" % len(body) + body
        line = b"%s 192.0.2.7 %s text/html %d\n" % (url.encode(), when.encode(), len(http))
        out.append(line + http + b"\n")
    return out


@pytest.mark.parametrize("gz", [False, True], ids=["arc", "arc.gz"])
def test_an_arc_file_is_imported(tmp_path, gz):
    records = arc_records(
        [
            ("https://ferries.example.gov/notice/0", "20261103090000", page(0)),
            ("https://ferries.example.gov/notice/1", "20261103090500", page(1)),
        ]
    )
    source = tmp_path / ("notices.arc.gz" if gz else "notices.arc")
    source.write_bytes(b"".join(gzip.compress(r) if gz else r for r in records))
    root = archive(tmp_path)
    result = run_import(root, source)
    assert result.exit_code == 0, result.output
    assert "2 new captures, 0 already archived, 0 records skipped" in result.output
    with Catalog.open(root / "catalog.sqlite") as catalog:
        first, second = sorted(catalog.all_captures(), key=lambda c: c.captured_at)
        assert first.url == "https://ferries.example.gov/notice/0"
        assert first.captured_at.isoformat() == "2026-11-03T09:00:00+00:00"
        assert second.captured_at.isoformat() == "2026-11-03T09:05:00+00:00"
        assert len(catalog.documents()) == 2
    again = run_import(root, source)
    assert "0 new captures, 2 already archived" in again.output
    assert_whole(root)


def zeros_response(size: int) -> bytes:
    """One gzip member holding a response of ``size`` zero bytes (a gzip bomb)."""
    head = (
        "WARC/1.1\r\nWARC-Type: response\r\n"
        "WARC-Record-ID: <urn:uuid:6b1a4e4c-2d8e-4f8e-9d44-0c3c0f9b2a11>\r\n"
        "WARC-Target-URI: https://ferries.example.gov/zeros\r\n"
        "WARC-Date: 2026-11-03T09:00:00Z\r\nContent-Type: application/http; msgtype=response\r\n"
    )
    http = f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {size}\r\n\r\n"
    head += f"Content-Length: {len(http) + size}\r\n\r\n{http}"
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    parts = [packer.compress(head.encode())]
    parts += [packer.compress(chunk) for _ in range(size // len(chunk))]
    parts.append(packer.compress(b"\r\n\r\n") + packer.flush())
    return b"".join(parts)


def test_a_gzip_bomb_in_a_warc_is_refused_at_once(tmp_path):
    bomb = tmp_path / "bomb.warc.gz"
    bomb.write_bytes(warc(1, gz=True) + zeros_response(128 << 20))
    assert bomb.stat().st_size < 1 << 20
    root = archive(tmp_path)
    started = time.monotonic()
    result = run_import(root, bomb)
    assert time.monotonic() - started < 5
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "bomb.warc.gz is a compression bomb: a gzip member inflates to more than" in (
        result.output
    )
    assert captured(root) == []  # refused whole, before anything of it was stored


def test_a_zip_bomb_wacz_is_refused_at_once(tmp_path):
    package = tmp_path / "bomb.wacz"
    with zipfile.ZipFile(package, "w", compression=zipfile.ZIP_DEFLATED) as out:
        out.writestr("datapackage.json", json.dumps({"resources": []}))
        info = zipfile.ZipInfo("archive/data.warc")
        info.compress_type = zipfile.ZIP_DEFLATED
        with out.open(info, "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(128):
                member.write(chunk)
    assert package.stat().st_size < 2 << 20
    root = archive(tmp_path)
    started = time.monotonic()
    result = run_import(root, package)
    assert time.monotonic() - started < 5
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "bomb.wacz is a zip bomb: archive/data.warc inflates to 134217728 bytes" in (
        result.output
    )
    assert captured(root) == []


def test_importing_a_package_leaves_no_scratch_file_even_when_killed(tmp_path):
    source = tmp_path / "notices.warc.gz"
    source.write_bytes(warc(3, gz=True))
    package = tmp_path / "notices.wacz"
    with zipfile.ZipFile(package, "w") as out:
        data = source.read_bytes()
        resources = [{"path": "archive/notices.warc.gz", "bytes": len(data)}]
        out.writestr("archive/notices.warc.gz", data)
        out.writestr("datapackage.json", json.dumps({"resources": resources}))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    root = archive(tmp_path)
    killed = run_onrecord(
        "import",
        str(package),
        "--archive",
        str(root),
        env={"TMPDIR": str(scratch), "ONRECORD_CRASH_AT": "warc-written"},
    )
    assert killed.returncode == -9  # SIGKILL, after the first record was written
    assert list(scratch.iterdir()) == []
    finished = run_onrecord("import", str(package), "--archive", str(root))
    assert finished.returncode == 0, finished.stderr
    assert len(captured(root)) == 3
    assert os.listdir(scratch) == []


NOTICES = "archive/notices.warc.gz"
PAGES = b'{"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}\n'


@pytest.mark.parametrize(
    ("changed", "resources", "problem"),
    [
        ({}, [{"path": NOTICES}, {"name": "notes"}], "lists a resource with no path"),
        ({}, [NOTICES], 'lists a resource that is not an object: "archive/notices.warc.gz"'),
        ({}, {"path": NOTICES}, "the resources in datapackage.json are not a list"),
        ({"pages/pages.jsonl": PAGES + b"not json\n"}, None, "line 2 of pages/pages.jsonl is"),
        ({"pages/pages.jsonl": b'["c-1"]\n'}, None, "line 1 of pages/pages.jsonl is not a"),
        (
            {"onrecord/capture-sources.json": b'[["c-1", "harbour"]]'},
            None,
            "onrecord/capture-sources.json is not a {capture id: source} object",
        ),
        (
            {"onrecord/speaker-merges.json": b'[["s-1", "s-2"]]'},
            None,
            "speaker-merges.json is not a list of [old id, new id, author, reason, time] rows",
        ),
        ({"onrecord/speaker-identifiers.json": b"wikidata Q42"}, None, "is not JSON"),
    ],
    ids=[
        "resource-without-path",
        "resource-not-an-object",
        "resources-not-a-list",
        "pages-not-json",
        "page-not-an-object",
        "capture-sources-not-an-object",
        "speaker-merges-not-rows",
        "speaker-identifiers-not-json",
    ],
)
def test_a_malformed_package_is_refused_in_one_sentence(tmp_path, changed, resources, problem):
    members = {NOTICES: warc(1, gz=True), "pages/pages.jsonl": PAGES} | changed
    if resources is None:  # every member listed, with its true size
        resources = [{"path": name, "bytes": len(data)} for name, data in members.items()]
    package = tmp_path / "malformed.wacz"
    with zipfile.ZipFile(package, "w") as out:
        for name, data in members.items():
            out.writestr(name, data)
        out.writestr("datapackage.json", json.dumps({"resources": resources}))
    root = archive(tmp_path)
    result = run_import(root, package)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a ClickException, not a traceback
    assert f"{package}: " in result.output and problem in result.output
    assert captured(root) == []


# -- deduplicating revisits as other tools write them ---------------------------------------

NEWS = "https://ferries.example.gov/news/timetable"
IDENTICAL = "http://netpreserve.org/warc/1.0/revisit/identical-payload-digest"


def response(writer: WARCWriter, url: str, date: str, payload: bytes):
    """Write a response record, as warcio writes one (with a sha1 payload digest)."""
    http = StatusAndHeaders(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(payload)))],
        protocol="HTTP/1.1",
    )
    record = writer.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(payload),
        length=len(payload),
        http_headers=http,
        warc_headers_dict={"WARC-Date": date},
    )
    writer.write_record(record)
    return record


def revisit(writer: WARCWriter, url: str, date: str, digest: str, **refers_to: str) -> None:
    """Write a revisit record naming ``digest`` and only the WARC-Refers-To headers given
    (``WARC_Refers_To="<urn:uuid:…>"``, say)."""
    headers = {"WARC-Date": date, "WARC-Payload-Digest": digest, "WARC-Profile": IDENTICAL}
    headers |= {name.replace("_", "-"): value for name, value in refers_to.items()}
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    record = writer.create_warc_record(url, "revisit", http_headers=http, warc_headers_dict=headers)
    writer.write_record(record)


def digest_of(record) -> str:
    return record.rec_headers.get_header("WARC-Payload-Digest")


def capture_at(root: Path, url: str, date: str):
    """The capture of ``url`` made at ``date`` (a WARC-Date)."""
    with Catalog.open(root / "catalog.sqlite") as catalog:
        found = [c for c in catalog.all_captures() if c.url == url]
    [capture] = [c for c in found if c.captured_at.isoformat().replace("+00:00", "Z") == date]
    return capture


def dedup_warc(path: Path, style: str) -> Path:
    """An original response, then a revisit of it, as ``style`` writes the revisit:
    wget names only the original's record id; Heritrix before 3.3 names nothing but the
    payload digest; a WARC 1.1 writer the original's date to the second only."""
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="1.1" if style == "seconds" else "1.0")
        first = "2026-01-05T10:00:00.123456Z" if style == "seconds" else "2026-01-05T10:00:00Z"
        original = response(writer, NEWS, first, page(1))
        refers_to = {
            "wget": {"WARC_Refers_To": original.rec_headers.get_header("WARC-Record-ID")},
            "digest-only": {},
            "seconds": {
                "WARC_Refers_To_Target_URI": NEWS,
                "WARC_Refers_To_Date": "2026-01-05T10:00:00Z",
            },
        }[style]
        revisit(writer, NEWS, "2026-01-06T10:00:00Z", digest_of(original), **refers_to)
    return path


@pytest.mark.parametrize("style", ["wget", "digest-only", "seconds"])
def test_a_revisit_is_imported_with_the_original_in_the_same_file(tmp_path, style):
    source = dedup_warc(tmp_path / f"{style}.warc.gz", style)
    root = archive(tmp_path)
    result = run_import(root, source)
    assert result.exit_code == 0, result.output
    assert "2 new captures, 0 already archived, 0 records skipped" in result.output
    first = "2026-01-05T10:00:00.123456Z" if style == "seconds" else "2026-01-05T10:00:00Z"
    original = capture_at(root, NEWS, first)
    repeat = capture_at(root, NEWS, "2026-01-06T10:00:00Z")
    assert (repeat.record_type, repeat.refers_to) == ("revisit", original.id)
    assert repeat.payload_digest == original.payload_digest
    assert "0 new captures, 2 already archived" in run_import(root, source).output
    assert_whole(root)


def test_wgets_refers_to_finds_an_original_of_another_url_by_its_record_id(tmp_path):
    # wget --warc-dedup matches payloads, not URLs: the URL and digest alone find nothing
    source = tmp_path / "wget.warc"
    with open(source, "wb") as out:
        writer = WARCWriter(out, gzip=False, warc_version="1.0")
        original = response(writer, NEWS, "2026-01-05T10:00:00Z", page(1))
        record_id = original.rec_headers.get_header("WARC-Record-ID")
        mirror = "https://mirror.example.gov/news/timetable"
        revisit(
            writer, mirror, "2026-01-06T10:00:00Z", digest_of(original), WARC_Refers_To=record_id
        )
    root = archive(tmp_path)
    result = run_import(root, source)
    assert result.exit_code == 0 and "0 records skipped" in result.output, result.output
    repeat = capture_at(root, mirror, "2026-01-06T10:00:00Z")
    assert repeat.refers_to == capture_at(root, NEWS, "2026-01-05T10:00:00Z").id


def test_a_revisit_finds_its_original_in_the_archive_already(tmp_path):
    """The original came in with an earlier import (by digest: sha1, which onrecord's
    catalog does not keep) or was written by onrecord (by the record id onrecord gave it,
    as a tool deduplicating against a whole-archive export names it)."""
    first = tmp_path / "first.warc"
    with open(first, "wb") as out:
        original = response(WARCWriter(out, gzip=False), NEWS, "2026-01-05T10:00:00Z", page(1))
    root = archive(tmp_path)
    assert run_import(root, first).exit_code == 0
    archived = capture_at(root, NEWS, "2026-01-05T10:00:00Z")
    assert archived.warc_record_id != original.rec_headers.get_header("WARC-Record-ID")
    mirror = "https://mirror.example.gov/news/timetable"
    later = tmp_path / "later.warc"
    with open(later, "wb") as out:
        writer = WARCWriter(out, gzip=False)
        revisit(writer, NEWS, "2026-01-06T10:00:00Z", digest_of(original))
        refers_to = archived.warc_record_id
        revisit(
            writer, mirror, "2026-01-07T10:00:00Z", digest_of(original), WARC_Refers_To=refers_to
        )
    result = run_import(root, later)
    assert result.exit_code == 0, result.output
    assert "2 new captures, 0 already archived, 0 records skipped" in result.output
    assert capture_at(root, NEWS, "2026-01-06T10:00:00Z").refers_to == archived.id
    assert capture_at(root, mirror, "2026-01-07T10:00:00Z").refers_to == archived.id
    assert_whole(root)


def test_a_revisit_by_digest_repeats_the_latest_earlier_capture_with_that_payload(tmp_path):
    source = tmp_path / "changing.warc"
    with open(source, "wb") as out:
        writer = WARCWriter(out, gzip=False)
        same = digest_of(response(writer, NEWS, "2026-01-05T10:00:00Z", page(1)))
        response(writer, NEWS, "2026-01-06T10:00:00Z", page(2))  # changed
        revisit(writer, NEWS, "2026-01-07T10:00:00Z", same)  # back as it was on the 5th
        response(writer, NEWS, "2026-01-08T10:00:00Z", page(1))
        revisit(writer, NEWS, "2026-01-09T10:00:00Z", same)
    root = archive(tmp_path)
    result = run_import(root, source)
    assert result.exit_code == 0 and "5 new captures" in result.output, result.output
    fifth, eighth = (capture_at(root, NEWS, f"2026-01-0{d}T10:00:00Z") for d in (5, 8))
    assert capture_at(root, NEWS, "2026-01-07T10:00:00Z").refers_to == fifth.id
    assert capture_at(root, NEWS, "2026-01-09T10:00:00Z").refers_to == eighth.id


def test_a_revisit_whose_original_is_not_there_is_still_skipped_and_counted(tmp_path):
    source = tmp_path / "orphans.warc"
    with open(source, "wb") as out:
        writer = WARCWriter(out, gzip=False)
        kept = response(writer, NEWS, "2026-01-05T10:00:00Z", page(1))
        elsewhere = response(WARCWriter(io.BytesIO()), NEWS, "2026-01-04T10:00:00Z", page(2))
        missing = elsewhere.rec_headers.get_header("WARC-Record-ID")
        revisit(writer, NEWS, "2026-01-06T10:00:00Z", digest_of(elsewhere))
        revisit(writer, NEWS, "2026-01-06T11:00:00Z", digest_of(elsewhere), WARC_Refers_To=missing)
        revisit(  # the original's URL and digest, but a date it was not captured at
            writer,
            NEWS,
            "2026-01-06T12:00:00Z",
            digest_of(elsewhere),
            WARC_Refers_To_Target_URI=NEWS,
            WARC_Refers_To_Date="2026-01-04T10:00:00Z",
        )
        revisit(writer, NEWS, "2026-01-04T09:00:00Z", digest_of(kept))  # before it
    root = archive(tmp_path)
    result = run_import(root, source)
    assert result.exit_code == 0, result.output
    assert "1 new captures, 0 already archived, 4 records skipped" in result.output
    assert "(4 revisits of captures not archived)" in result.output
    assert captured(root) == [NEWS]
