"""WARC files: the archive's source of truth. The only module that imports warcio.

Records are written explicitly with warcio's record builder from the bytes that were
fetched (never through ``capture_http``), gzip-compressed one member per record, WARC 1.1.
A request/response pair (or a revisit) is written with one ``write`` call, then flushed
and fsynced, so a crash leaves at most one torn record at the tail of the file, which
:func:`scan` detects and the store cuts off. A writer holds an advisory lock
(:func:`claim`) on the file it appends to, so no other process appends to it, cuts it,
or uploads it meanwhile. Where finished files go is :mod:`archive.storage`'s business;
this module reads records from any stream it is given.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import logging
import os
import re
import secrets
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParserException
from warcio.timeutils import datetime_to_iso_date, iso_date_to_datetime
from warcio.warcwriter import WARCWriter

from archive import ids

log = logging.getLogger(__name__)

WARC_VERSION = "1.1"
SOFTWARE = "onrecord/0.1"
DEFAULT_MAX_FILE_SIZE = 1_000_000_000
_HOP_BY_HOP = {"transfer-encoding"}
_FILE_RE = re.compile(r"^[A-Za-z0-9._-]+\.warc(\.gz)?$")
# What warcio raises on bytes that are not a complete record (a torn or damaged tail):
# its own errors, decompression and parse errors, and attribute errors on missing headers.
_UNREADABLE = (
    ArchiveLoadFailed,
    StatusAndHeadersParserException,
    OSError,
    EOFError,
    ValueError,
    AttributeError,
    zlib.error,
)


class WarcError(Exception):
    """A WARC record that cannot be read or does not match what the catalog says."""


@dataclass(frozen=True)
class HttpExchange:
    """The bytes of one HTTP exchange, as the archive stores them."""

    url: str
    fetched_at: datetime
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    payload: bytes  # as received: still content-encoded
    http_version: str = "HTTP/1.1"
    method: str = "GET"
    request_headers: tuple[tuple[str, str], ...] = ()
    remote_ip: str | None = None


@dataclass(frozen=True)
class RecordLocation:
    """Where a record lives and what it says about itself."""

    warc_file: str
    offset: int
    length: int
    record_id: str
    record_type: str
    url: str
    date: datetime
    payload_digest: str  # "sha256:<hex>"
    payload_length: int
    status: int | None
    content_type: str
    headers: tuple[tuple[str, str], ...]
    refers_to_url: str | None = None
    refers_to_date: datetime | None = None


def sha256_digest(data: bytes) -> str:
    """The payload digest in the form the catalog and the WARC headers use.

    >>> sha256_digest(b"")
    'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _warc_date(moment: datetime) -> str:
    return datetime_to_iso_date(moment.astimezone(UTC).replace(tzinfo=None), use_micros=True)


def _parse_warc_date(value: str) -> datetime:
    return iso_date_to_datetime(value).replace(tzinfo=UTC)


def _content_type(headers: tuple[tuple[str, str], ...]) -> str:
    for name, value in headers:
        if name.lower() == "content-type":
            return value.split(";", 1)[0].strip().lower()
    return ""


def is_warc_name(name: str) -> bool:
    """Whether ``name`` is a plain WARC file name (no folder, nothing odd).

    >>> is_warc_name("onrecord-20261103090000-a1b2c3.warc.gz"), is_warc_name("../x.warc")
    (True, False)
    """
    return bool(_FILE_RE.match(name))


def claim(path: Path) -> int | None:
    """Take a WARC file's writer lock without waiting: an open descriptor holding it, or
    None when another writer (in any process) holds it or the file is gone."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def fsync_folder(folder: Path) -> None:
    """Make a file's creation or renaming durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def release(fd: int) -> None:
    os.close(fd)  # closing the descriptor releases its lock


class WarcWriter:
    """Appends records to WARC files in one folder, rotating at a size cap.

    With ``reuse`` it goes on appending to the newest file of the folder that no other
    writer holds (a folder store); otherwise every writer starts files of its own (a
    bucket store, whose local files are waiting for upload). ``on_finished`` is called
    with the name of each file the writer leaves (it rotated, or the writer closed).
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        prefix: str = "onrecord",
        reuse: bool = True,
        on_finished: Callable[[str], None] | None = None,
    ) -> None:
        self.directory = directory
        self.max_file_size = max_file_size
        self.prefix = prefix
        self.reuse = reuse
        self.on_finished = on_finished
        self._current: Path | None = None
        self._lock: int | None = None

    @property
    def current(self) -> str | None:
        """The file being appended to, if any."""
        return self._current.name if self._current is not None else None

    def _target(self, now: datetime) -> Path:
        if self._current is None and self.reuse:
            for existing in sorted(self.directory.glob(f"{self.prefix}-*.warc.gz"))[-1:]:
                self._hold(existing)
        if self._current is not None and self._current.stat().st_size >= self.max_file_size:
            self._leave()
        if self._current is None:
            self._new_file(now)
        assert self._current is not None
        return self._current

    def _hold(self, path: Path) -> None:
        lock = claim(path)
        if lock is not None:
            self._current, self._lock = path, lock

    def _leave(self) -> str | None:
        """Stop appending to the current file; tell ``on_finished``; return its name."""
        if self._current is None:
            return None
        name = self._current.name
        if self._lock is not None:
            release(self._lock)
        self._current, self._lock = None, None
        if self.on_finished is not None:
            self.on_finished(name)
        return name

    def close(self) -> str | None:
        """Finish the current file (if any) and return its name."""
        return self._leave()

    def _new_file(self, now: datetime) -> None:
        """Start a file and hold it. It is written under a hidden name, claimed, and only
        then renamed into place, so no other process (reconciling or uploading the
        folder's files) ever sees it unclaimed."""
        # 64 random bits: writers on other machines, sharing a catalog and a bucket,
        # never pick the same name (on one machine O_EXCL refuses a taken one).
        name = f"{self.prefix}-{ids.ts14(now)}-{secrets.token_hex(8)}.warc.gz"
        path = self.directory / name
        hidden = self.directory / f".{name}.new"
        info = {"software": SOFTWARE, "format": "WARC File Format 1.1", "robots": "obey"}
        self._append(hidden, _member(_BUILDER.create_warcinfo_record(name, info)), create=True)
        lock = claim(hidden)  # no one else knows the hidden name
        assert lock is not None
        os.rename(hidden, path)
        fsync_folder(self.directory)
        self._current, self._lock = path, lock
        log.info("started WARC file %s", name)

    @staticmethod
    def _append(path: Path, data: bytes, *, create: bool = False) -> int:
        flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT | os.O_EXCL if create else 0)
        fd = os.open(path, flags, 0o644)
        try:
            offset = os.lseek(fd, 0, os.SEEK_END)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if create:
            fsync_folder(path.parent)
        return offset

    def write_exchange(self, exchange: HttpExchange) -> RecordLocation:
        """Append a response record and its request record; return the response's place."""
        http_headers = _response_headers(exchange)
        digest = sha256_digest(exchange.payload)
        warc_headers = {
            "WARC-Date": _warc_date(exchange.fetched_at),
            "WARC-Payload-Digest": digest,
        }
        if exchange.remote_ip:
            warc_headers["WARC-IP-Address"] = exchange.remote_ip
        response = _BUILDER.create_warc_record(
            exchange.url,
            "response",
            payload=io.BytesIO(exchange.payload),
            length=len(exchange.payload),
            http_headers=http_headers,
            warc_headers_dict=warc_headers,
        )
        self._block_digest(response, http_headers, exchange.payload)
        return self._commit(
            self._members(response, exchange),
            exchange.fetched_at,
            record_id=response.rec_headers.get_header("WARC-Record-ID"),
            record_type="response",
            url=exchange.url,
            payload_digest=digest,
            payload_length=len(exchange.payload),
            status=exchange.status,
            headers=exchange.headers,
        )

    def write_revisit(
        self,
        exchange: HttpExchange,
        *,
        payload_digest: str,
        refers_to_url: str,
        refers_to_date: datetime,
    ) -> RecordLocation:
        """Append a revisit record: the same payload as an earlier capture, not stored again."""
        http_headers = _response_headers(exchange)
        record = _BUILDER.create_revisit_record(
            exchange.url,
            payload_digest,
            refers_to_url,
            _warc_date(refers_to_date),
            http_headers=http_headers,
            warc_headers_dict={"WARC-Date": _warc_date(exchange.fetched_at)},
        )
        self._block_digest(record, http_headers, b"")
        return self._commit(
            self._members(record, exchange),
            exchange.fetched_at,
            record_id=record.rec_headers.get_header("WARC-Record-ID"),
            record_type="revisit",
            url=exchange.url,
            payload_digest=payload_digest,
            payload_length=0,
            status=exchange.status,
            headers=exchange.headers,
            refers_to_url=refers_to_url,
            refers_to_date=refers_to_date,
        )

    def _members(self, record, exchange: HttpExchange) -> list[bytes]:
        """The record's gzip member, then its request record's when there is one."""
        members = [_member(record)]
        request = self._request_record(exchange, record)
        if request is not None:
            members.append(_member(request))
        return members

    @staticmethod
    def _block_digest(record, http_headers: StatusAndHeaders, payload: bytes) -> None:
        http_headers.compute_headers_buffer()
        block = hashlib.sha256(http_headers.headers_buff + payload).hexdigest()
        record.rec_headers.replace_header("WARC-Block-Digest", "sha256:" + block)

    @staticmethod
    def _request_record(exchange: HttpExchange, response):
        if not exchange.request_headers:
            return None
        target = exchange.url.split("://", 1)[-1]
        path = "/" + target.split("/", 1)[1] if "/" in target else "/"
        request_headers = StatusAndHeaders(
            f"{exchange.method} {path} {exchange.http_version}",
            list(exchange.request_headers),
            protocol="",
            is_http_request=True,
        )
        record = _BUILDER.create_warc_record(
            exchange.url,
            "request",
            http_headers=request_headers,
            warc_headers_dict={
                "WARC-Date": response.rec_headers.get_header("WARC-Date"),
                "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        WarcWriter._block_digest(record, request_headers, b"")
        return record

    def _commit(self, members: list[bytes], now: datetime, **fields) -> RecordLocation:
        """Append a record's gzip member and its companions with one write and fsync."""
        path = self._target(now)
        offset = self._append(path, b"".join(members))
        return RecordLocation(
            warc_file=path.name,
            offset=offset,
            length=len(members[0]),
            date=_parse_warc_date(_warc_date(now)),
            content_type=_content_type(fields["headers"]),
            **fields,
        )


_BUILDER = RecordBuilder(warc_version=WARC_VERSION)
# gzip level 6, not warcio's 9: twice as fast for a file a few percent larger.
_GZIP_LEVEL = 6


def _response_headers(exchange: HttpExchange) -> StatusAndHeaders:
    """The response's status line and headers, less the hop-by-hop ones that described a
    transfer encoding the payload no longer has."""
    return StatusAndHeaders(
        f"{exchange.status} {exchange.reason}".strip(),
        [(k, v) for k, v in exchange.headers if k.lower() not in _HOP_BY_HOP],
        protocol=exchange.http_version,
    )


def _member(record) -> bytes:
    """One record as its own gzip member, so it can be read back by seeking to it."""
    buffer = io.BytesIO()
    WARCWriter(buffer, gzip=False, warc_version=WARC_VERSION).write_record(record)
    return gzip.compress(buffer.getvalue(), compresslevel=_GZIP_LEVEL, mtime=0)


@dataclass(frozen=True)
class StoredRecord:
    """A record read back from its WARC file."""

    location: RecordLocation
    raw_payload: bytes  # as received, content-encoded
    payload: bytes  # Content-Encoding removed

    def header(self, name: str) -> str | None:
        """An HTTP response header as received (the first, when repeated)."""
        wanted = name.lower()
        return next((v for k, v in self.location.headers if k.lower() == wanted), None)


def read_record(handle: BinaryIO, warc_file: str, offset: int) -> StoredRecord:
    """Read the record that starts where ``handle`` is (at ``offset`` in ``warc_file``):
    the bytes of a range read, or a stream of the file from there."""
    try:
        for record in ArchiveIterator(handle, check_digests=False):
            raw = record.raw_stream.read()
            location = _location(record, warc_file, offset, 0)
            decoded = _decode_content(raw, location.headers)
            return StoredRecord(location=location, raw_payload=raw, payload=decoded)
    except _UNREADABLE as exc:
        raise WarcError(f"cannot read the record at {warc_file}:{offset}: {exc}") from None
    raise WarcError(f"no record at {warc_file}:{offset}")


def _decode_content(raw: bytes, headers: tuple[tuple[str, str], ...]) -> bytes:
    encoding = ""
    for name, value in headers:
        if name.lower() == "content-encoding":
            encoding = value.strip().lower()
    try:
        if encoding in ("gzip", "x-gzip"):
            return gzip.decompress(raw)
        if encoding == "deflate":
            try:
                return zlib.decompress(raw)
            except zlib.error:
                return zlib.decompress(raw, -zlib.MAX_WBITS)
    except (OSError, EOFError, zlib.error):
        log.warning("payload declares Content-Encoding %s but does not decode", encoding)
    return raw


def _location(record, warc_file: str, offset: int, length: int) -> RecordLocation:
    headers = record.rec_headers
    http = record.http_headers
    http_headers = tuple(http.headers) if http is not None else ()
    status = None
    if http is not None and record.rec_type in ("response", "revisit"):
        code = http.get_statuscode()
        status = int(code) if code and code.isdigit() else None
    refers_date = headers.get_header("WARC-Refers-To-Date")
    return RecordLocation(
        warc_file=warc_file,
        offset=offset,
        length=length,
        record_id=headers.get_header("WARC-Record-ID") or "",
        record_type=record.rec_type,
        url=(headers.get_header("WARC-Target-URI") or "").strip("<>"),
        date=_parse_warc_date(headers.get_header("WARC-Date")),
        payload_digest=headers.get_header("WARC-Payload-Digest") or "",
        payload_length=0,
        status=status,
        content_type=_content_type(http_headers),
        headers=http_headers,
        refers_to_url=headers.get_header("WARC-Refers-To-Target-URI"),
        refers_to_date=_parse_warc_date(refers_date) if refers_date else None,
    )


@dataclass(frozen=True)
class ScanResult:
    """The complete records of a WARC file from some offset on, and where it is torn."""

    records: tuple[RecordLocation, ...]
    good_end: int  # the end of the last complete record
    torn: bool  # bytes after good_end that do not form a record


def scan(handle: BinaryIO, warc_file: str, size: int) -> ScanResult:
    """Walk the response and revisit records of a file of ``size`` bytes from where
    ``handle`` is (its ``tell()`` counts from the file's start), noting a torn tail."""
    found: list[RecordLocation] = []
    good_end = handle.tell()
    iterator = ArchiveIterator(handle, check_digests=False)
    try:
        for record in iterator:
            raw = record.raw_stream.read()  # before asking offsets: that consumes it
            offset = iterator.get_record_offset()  # absolute: it starts at tell()
            record_end = offset + iterator.get_record_length()
            if record.rec_type in ("response", "revisit"):
                location = _location(record, warc_file, offset, record_end - offset)
                digest = location.payload_digest
                if record.rec_type == "response":
                    digest = sha256_digest(raw)
                found.append(
                    RecordLocation(
                        **{
                            **location.__dict__,
                            "payload_digest": digest,
                            "payload_length": len(raw),
                        }
                    )
                )
            good_end = record_end
    except _UNREADABLE as exc:
        log.warning("%s is torn after byte %d: %s", warc_file, good_end, exc)
    return ScanResult(records=tuple(found), good_end=good_end, torn=good_end < size)


def exchange_end(handle: BinaryIO, warc_file: str) -> int:
    """Where the exchange whose response or revisit record starts where ``handle`` is
    ends: at the next response or revisit record, or at the end of the last complete
    record (so its request record is included). Reads no further than that."""
    start = handle.tell()
    iterator = ArchiveIterator(handle, check_digests=False)
    end = None
    try:
        for record in iterator:
            if end is not None and record.rec_type in ("response", "revisit"):
                break
            if end is None and record.rec_type not in ("response", "revisit"):
                raise WarcError(f"no response or revisit record at {warc_file}:{start}")
            record.raw_stream.read()
            end = iterator.get_record_offset() + iterator.get_record_length()
    except _UNREADABLE as exc:
        log.warning("%s is torn after byte %s: %s", warc_file, end, exc)
    if end is None:
        raise WarcError(f"no record at {warc_file}:{start}")
    return end


def iter_warc_files(directory: Path) -> Iterator[str]:
    """The WARC files of a folder, oldest first."""
    for path in sorted(directory.glob("*.warc.gz")) + sorted(directory.glob("*.warc")):
        yield path.name


@dataclass(frozen=True)
class ForeignRecord:
    """A response or revisit record of a WARC file any tool wrote (wget, warcio, another
    archive), as the exchange onrecord would store, or the reason it cannot be one."""

    record_id: str
    record_type: str
    exchange: HttpExchange | None
    problem: str | None = None
    refers_to_url: str | None = None
    refers_to_date: datetime | None = None


def read_exchanges(path: Path) -> Iterator[ForeignRecord]:
    """Every response and revisit record of a WARC file, with its request's method and
    headers when the file has them (WARC 1.0 or 1.1, gzipped or not, angle brackets
    around target URIs or not, chunked payloads de-chunked)."""
    requests = _request_records(path)
    with open(path, "rb") as handle:
        for record in _records(handle, path):
            if record.rec_type not in ("response", "revisit"):
                continue
            headers = record.rec_headers
            record_id = headers.get_header("WARC-Record-ID") or ""
            request = requests.get(record_id) or requests.get(
                headers.get_header("WARC-Concurrent-To") or ""
            )
            refers_date = headers.get_header("WARC-Refers-To-Date")
            refers_url = headers.get_header("WARC-Refers-To-Target-URI") or headers.get_header(
                "WARC-Target-URI"
            )
            try:
                exchange, problem = _foreign_exchange(record, request), None
            except WarcError as exc:
                exchange, problem = None, str(exc)
            yield ForeignRecord(
                record_id=record_id,
                record_type=record.rec_type,
                exchange=exchange,
                problem=problem,
                refers_to_url=(refers_url or "").strip("<>") or None,
                refers_to_date=_parse_warc_date(refers_date) if refers_date else None,
            )


def _records(handle, path: Path) -> Iterator:
    """The records of an open WARC file; a file that is not one is a WarcError."""
    iterator = iter(ArchiveIterator(handle, check_digests=False))
    while True:
        try:
            record = next(iterator)
        except StopIteration:
            return
        except _UNREADABLE as exc:
            raise WarcError(f"{path.name} is not a readable WARC file: {exc}") from None
        yield record


def _request_records(path: Path) -> dict[str, tuple[str, tuple[tuple[str, str], ...]]]:
    """(method, headers) of each request record, by its own id and by the id of the
    response it names as concurrent (onrecord names the response; wget, the request)."""
    found = {}
    with open(path, "rb") as handle:
        for record in _records(handle, path):
            if record.rec_type != "request" or record.http_headers is None:
                continue
            method = record.http_headers.statusline.split(" ", 1)[0] or "GET"
            value = (method, tuple(record.http_headers.headers))
            found[record.rec_headers.get_header("WARC-Record-ID")] = value
            concurrent = record.rec_headers.get_header("WARC-Concurrent-To")
            if concurrent:
                found[concurrent] = value
    return found


def _foreign_exchange(record, request) -> HttpExchange:
    http = record.http_headers
    if http is None:
        raise WarcError("not an HTTP record")
    url = (record.rec_headers.get_header("WARC-Target-URI") or "").strip("<>")
    try:
        ids.canonical_url(url)
    except ids.InvalidURL as exc:
        raise WarcError(str(exc)) from None
    code, _, reason = http.statusline.partition(" ")
    if not code.isdigit():
        raise WarcError(f"no HTTP status in {http.statusline!r}")
    payload = record.raw_stream.read()
    if "chunked" in (http.get_header("Transfer-Encoding") or "").lower():
        payload = ChunkedDataReader(io.BytesIO(payload)).read()
    method, request_headers = request or ("GET", ())
    return HttpExchange(
        url=url,
        fetched_at=_parse_warc_date(record.rec_headers.get_header("WARC-Date")),
        status=int(code),
        reason=reason,
        headers=tuple(http.headers),
        payload=payload,
        http_version=http.protocol or "HTTP/1.1",
        method=method,
        request_headers=request_headers,
        remote_ip=record.rec_headers.get_header("WARC-IP-Address"),
    )
