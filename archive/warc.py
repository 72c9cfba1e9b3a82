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

import base64
import dataclasses
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
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
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
    kind: str = "page"  # what the fetch was for, from the record's metadata record
    run_id: str | None = None


@dataclass(frozen=True)
class Fetched:
    """Why an exchange was made, kept beside it in a ``metadata`` record (as Heritrix
    keeps a URI's crawl context): what the fetch was for (``page``, ``robots``,
    ``feed``, ``sitemap``, ``listing``, ``resource``) and the run that made it. Written
    as ``application/warc-fields`` (``onrecord-kind: feed``, ``onrecord-run: <id>``),
    WARC-Concurrent-To the response or revisit; a page fetched outside any run has
    none."""

    kind: str = "page"
    run_id: str | None = None

    @property
    def default(self) -> bool:
        return self.kind == "page" and self.run_id is None


PLAIN_PAGE = Fetched()  # a page fetched outside any run: no metadata record
KIND_FIELD = "onrecord-kind"
RUN_FIELD = "onrecord-run"


@dataclass(frozen=True)
class Rendering:
    """What a browser made of a page, kept beside the page's response record: the DOM
    after its scripts ran (a ``conversion`` record of ``urn:dom:<url>``, WARC-Refers-To
    the response) and a PNG screenshot (a ``resource`` record of ``urn:fullPage:<url>``,
    as Browsertrix names it, WARC-Concurrent-To the response)."""

    dom: str
    screenshot: bytes  # PNG
    rendered_at: datetime


@dataclass(frozen=True)
class RenderedRecord:
    """A rendered DOM or a screenshot read back from its WARC file."""

    record_id: str
    record_type: str  # "conversion" (the DOM) or "resource" (the screenshot)
    url: str
    date: datetime
    content_type: str
    payload_digest: str  # "sha256:<hex>", checked against the payload when read
    payload: bytes


SCREENSHOT_PREFIX = "urn:fullPage:"
# Not the page's own URL: replay tools (pywb) index conversion records as captures of
# their target, and would replay the rendered DOM in place of what the server sent.
DOM_PREFIX = "urn:dom:"


def sha256_digest(data: bytes) -> str:
    """The payload digest in the form the catalog and the WARC headers use.

    >>> sha256_digest(b"")
    'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _warc_date(moment: datetime) -> str:
    return datetime_to_iso_date(moment.astimezone(UTC).replace(tzinfo=None), use_micros=True)


def _parse_warc_date(value: str | None) -> datetime:
    """A record's WARC-Date, or WarcError for a record without a readable one (damaged).

    >>> _parse_warc_date("2026-11-30T10:00:00Z").isoformat()
    '2026-11-30T10:00:00+00:00'
    >>> _parse_warc_date(None)
    Traceback (most recent call last):
    archive.warc.WarcError: a record has no readable WARC-Date: None
    """
    try:
        return iso_date_to_datetime(value).replace(tzinfo=UTC)
    except (TypeError, ValueError, AttributeError):
        raise WarcError(f"a record has no readable WARC-Date: {value!r}") from None


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
    if os.fstat(fd).st_nlink == 0:
        # Opened just before the writer that held it finished the file (uploaded it to
        # the bucket and removed it): appended to or uploaded, it would be lost.
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
    ``on_reuse`` is called with the name of a file the writer has claimed to go on
    appending to, before it appends anything: the writer that held the file before may
    have died mid-write, so it makes the file's tail whole, and says whether the file
    may be appended to (if not, the writer starts a file of its own).
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        prefix: str = "onrecord",
        reuse: bool = True,
        on_finished: Callable[[str], None] | None = None,
        on_reuse: Callable[[str], bool] | None = None,
    ) -> None:
        self.directory = directory
        self.max_file_size = max_file_size
        self.prefix = prefix
        self.reuse = reuse
        self.on_finished = on_finished
        self.on_reuse = on_reuse
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
        if lock is None:
            return
        fit = False
        try:
            fit = self.on_reuse is None or self.on_reuse(path.name)
        finally:
            if fit:
                self._current, self._lock = path, lock
            else:
                release(lock)

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
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except BaseException:
                # A full disk, an I/O error or a job stopped at its time limit part way:
                # what was written must not stay for the next record to follow, buried
                # inside the file.
                if create:
                    os.unlink(path)
                else:
                    os.ftruncate(fd, offset)
                raise
        finally:
            os.close(fd)
        if create:
            fsync_folder(path.parent)
        return offset

    def write_exchange(
        self,
        exchange: HttpExchange,
        *,
        rendering: Rendering | None = None,
        fetched: Fetched = PLAIN_PAGE,
    ) -> RecordLocation:
        """Append a response record and its request record (and the page's rendering,
        when a browser made one); return the response's place."""
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
            self._members(response, exchange, rendering, fetched),
            exchange.fetched_at,
            record_id=response.rec_headers.get_header("WARC-Record-ID"),
            record_type="response",
            url=exchange.url,
            payload_digest=digest,
            payload_length=len(exchange.payload),
            status=exchange.status,
            headers=exchange.headers,
            kind=fetched.kind,
            run_id=fetched.run_id,
        )

    def write_revisit(
        self,
        exchange: HttpExchange,
        *,
        payload_digest: str,
        refers_to_url: str,
        refers_to_date: datetime,
        rendering: Rendering | None = None,
        fetched: Fetched = PLAIN_PAGE,
    ) -> RecordLocation:
        """Append a revisit record: the same payload as an earlier capture, not stored again.

        A 304 answer to a conditional request takes WARC 1.1's ``server-not-modified``
        profile; an unchanged 200 ``identical-payload-digest``. Both name the earlier
        payload's digest, which the capture's id derives from."""
        http_headers = _response_headers(exchange)
        record = _BUILDER.create_revisit_record(
            exchange.url,
            payload_digest,
            refers_to_url,
            _warc_date(refers_to_date),
            http_headers=http_headers,
            warc_headers_dict={"WARC-Date": _warc_date(exchange.fetched_at)},
        )
        if exchange.status == 304:
            record.rec_headers.replace_header("WARC-Profile", SERVER_NOT_MODIFIED)
        self._block_digest(record, http_headers, b"")
        return self._commit(
            self._members(record, exchange, rendering, fetched),
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
            kind=fetched.kind,
            run_id=fetched.run_id,
        )

    def _members(
        self,
        record,
        exchange: HttpExchange,
        rendering: Rendering | None = None,
        fetched: Fetched = PLAIN_PAGE,
    ) -> list[bytes]:
        """The record's gzip member, then its request record's when there is one, its
        metadata record (why it was fetched) unless a plain page, then the rendering's
        records: all appended with one write, so none is kept alone."""
        members = [_member(record)]
        request = self._request_record(exchange, record)
        if request is not None:
            members.append(_member(request))
        if not fetched.default:
            members.append(_member(_metadata_record(exchange.url, record, fetched)))
        if rendering is not None:
            members += [_member(r) for r in _rendering_records(exchange.url, record, rendering)]
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


def _metadata_record(url: str, response, fetched: Fetched):
    """The metadata record that says why ``response`` was fetched (see :class:`Fetched`)."""
    fields = [(KIND_FIELD, fetched.kind)]
    if fetched.run_id:
        fields.append((RUN_FIELD, fetched.run_id))
    payload = "".join(f"{name}: {value}\r\n" for name, value in fields).encode("utf-8")
    digest = sha256_digest(payload)
    return _BUILDER.create_warc_record(
        url,
        "metadata",
        payload=io.BytesIO(payload),
        length=len(payload),
        warc_content_type="application/warc-fields",
        warc_headers_dict={
            "WARC-Date": response.rec_headers.get_header("WARC-Date"),
            "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
            "WARC-Block-Digest": digest,
        },
    )


def _fetched(record, payload: bytes, response_id: str | None) -> Fetched | None:
    """What a metadata record (whose ``payload`` was read) says of the response
    ``response_id`` it accompanies; None when ``record`` is no such record (another
    tool's metadata, another response's)."""
    headers = record.rec_headers
    if (
        record.rec_type != "metadata"
        or not response_id
        or headers.get_header("WARC-Concurrent-To") != response_id
    ):
        return None
    fields = {}
    for line in payload[: 64 * 1024].decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if KIND_FIELD not in fields:
        return None
    return Fetched(kind=fields[KIND_FIELD], run_id=fields.get(RUN_FIELD) or None)


def _rendering_records(url: str, response, rendering: Rendering) -> list:
    """The DOM as a conversion of the page's response, the screenshot as a resource
    made at the same time."""
    response_id = response.rec_headers.get_header("WARC-Record-ID")
    date = _warc_date(rendering.rendered_at)
    dom = rendering.dom.encode("utf-8")
    records = []
    for target, kind, content_type, payload, link in (
        (DOM_PREFIX + url, "conversion", "text/html; charset=utf-8", dom, "WARC-Refers-To"),
        (SCREENSHOT_PREFIX + url, "resource", "image/png", rendering.screenshot, None),
    ):
        digest = sha256_digest(payload)
        headers = {
            "WARC-Date": date,
            "WARC-Payload-Digest": digest,
            "WARC-Block-Digest": digest,
            link or "WARC-Concurrent-To": response_id,
        }
        records.append(
            _BUILDER.create_warc_record(
                target,
                kind,
                payload=io.BytesIO(payload),
                length=len(payload),
                warc_content_type=content_type,
                warc_headers_dict=headers,
            )
        )
    return records


def read_rendering(
    handle: BinaryIO, warc_file: str, offset: int, record_id: str
) -> dict[str, RenderedRecord]:
    """The rendered DOM ("conversion") and screenshot ("resource") written with the
    response or revisit record ``record_id``, which ``handle`` (a stream of ``warc_file``
    from ``offset`` on) starts with, by record type; empty for a capture made without a
    browser. A payload that does not match its digest is a WarcError."""
    found: dict[str, RenderedRecord] = {}
    try:
        for position, record in enumerate(ArchiveIterator(handle, check_digests=False)):
            headers = record.rec_headers
            if position == 0:
                if headers.get_header("WARC-Record-ID") != record_id:
                    raise WarcError(f"{warc_file}:{offset} does not hold {record_id}")
                continue
            link = headers.get_header("WARC-Refers-To") or headers.get_header("WARC-Concurrent-To")
            if link != record_id:
                break  # the next capture's records
            if record.rec_type not in ("conversion", "resource"):
                continue
            payload = record.raw_stream.read()
            digest = headers.get_header("WARC-Payload-Digest") or ""
            if sha256_digest(payload) != digest:
                raise WarcError(f"the {record.rec_type} record of {record_id} is damaged")
            found[record.rec_type] = RenderedRecord(
                record_id=headers.get_header("WARC-Record-ID") or "",
                record_type=record.rec_type,
                url=(headers.get_header("WARC-Target-URI") or "").strip("<>"),
                date=_parse_warc_date(headers.get_header("WARC-Date")),
                content_type=headers.get_header("Content-Type") or "",
                payload_digest=digest,
                payload=payload,
            )
    except _UNREADABLE as exc:
        raise WarcError(f"cannot read the records at {warc_file}:{offset}: {exc}") from None
    return found


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
        status = int(code) if code and ids.is_number(code) else None
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
            if _cut_short(iterator, record, raw):
                log.warning("%s is torn after byte %d: a record cut short", warc_file, good_end)
                break
            fetched = _fetched(record, raw, found[-1].record_id if found else None)
            if fetched is not None:
                found[-1] = dataclasses.replace(found[-1], kind=fetched.kind, run_id=fetched.run_id)
            elif record.rec_type in ("response", "revisit"):
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


def _cut_short(iterator: ArchiveIterator, record, raw: bytes) -> bool:
    """Whether a record read to its end stops short of itself: fewer payload bytes than
    it declares, or a gzip member without its end. warcio reads such a record without
    complaint (a crash mid-write leaves one), so a scan must ask."""
    if _missing(record, raw):
        return True
    decompressor = getattr(iterator.reader, "decompressor", None)
    return decompressor is not None and not getattr(decompressor, "eof", True)


def _missing(record, payload: bytes) -> int:
    """How many bytes ``payload`` falls short of the length its record declares (0 when
    whole, or when the record declares none)."""
    declared = record.payload_length
    if declared is None or declared < 0:
        return 0
    return max(0, declared - len(payload))


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


# What an import reads of one record, and how far a gzip member may inflate, at most: a
# compression bomb is refused before it fills memory or disk.
MAX_IMPORT_PAYLOAD = 256 * 1024 * 1024
MAX_INFLATION = 100  # decompressed bytes per compressed byte, past the floor below
INFLATION_FLOOR = 8 * 1024 * 1024
_READ_CHUNK = 1 << 20


class CompressionBomb(WarcError):
    """A WARC file whose gzip members inflate past the caps: not read any further."""


class RecordProblem(WarcError):
    """Why one record of a foreign file is not imported; ``kind`` names the reason in
    the import's counts (torn, digest mismatch, too large, not an HTTP exchange...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ForeignRecord:
    """A record of a WARC or ARC file any tool wrote (wget, warcio, Heritrix, another
    archive), as the exchange onrecord would store, or the reason it cannot be one."""

    record_id: str
    record_type: str
    exchange: HttpExchange | None
    problem: str | None = None
    refers_to_url: str | None = None
    refers_to_date: datetime | None = None
    refers_to_id: str | None = None  # a revisit's WARC-Refers-To (the original's record id)
    payload_digest: str | None = None  # its WARC-Payload-Digest as written (sha1:<base32>…)
    kind: str | None = None  # the reason in a word or two, for counting
    rendering: Rendering | None = None  # a browser capture's DOM and screenshot, kept with it
    fetched: Fetched = PLAIN_PAGE  # why onrecord fetched it, from its metadata record


Opener = Callable[[], BinaryIO]


def read_exchanges(source: Path | Opener, name: str | None = None) -> Iterator[ForeignRecord]:
    """Every record of a WARC file (WARC 1.0 or 1.1, or ARC, gzipped or not, angle
    brackets around target URIs or not, chunked payloads de-chunked): response and revisit
    records as exchanges, with their request's method and headers when the file has them;
    every other record, and every response that is torn (shorter than its Content-Length),
    fails its digest or is too large, with the reason it is not one. Request records go
    with their responses, and warcinfo records (an ARC file's header too) describe the
    file: neither is listed.

    ``source`` is a path or a function that opens the file (a member of a package, read
    where it lies). A file that is empty, not a WARC, or a compression bomb is a WarcError.
    """
    if isinstance(source, Path):
        path = source
        name = name or path.name

        def source() -> BinaryIO:
            return open(path, "rb")

    name = name or "the file"
    with source() as handle:
        if not handle.read(1):
            raise WarcError(f"{name} is empty (0 bytes): there is nothing to import")
    with source() as handle:
        torn_at = _check_inflation(handle, name)
    requests = _request_records(source, name)
    held = None  # one record behind: the last may turn out to be torn
    for found in _foreign_records(source, name, requests):
        if held is not None:
            yield held
        held = found
    if torn_at is not None and (held is None or held.kind != "torn"):
        problem = f"torn: the file ends inside the gzip member at byte {torn_at}"
        if held is not None and held.exchange is None:
            held = dataclasses.replace(held, problem=f"{problem}, in this record", kind="torn")
        else:
            if held is not None:
                yield held
            held = ForeignRecord("", "record", None, problem, kind="torn")
    if held is not None:
        yield held


def _foreign_records(
    source: Opener, name: str, requests: dict[str, tuple[str, tuple[tuple[str, str], ...]]]
) -> Iterator[ForeignRecord]:
    """The records of a file in order; a response is given once the records after it are
    read, so that a browser capture's rendering (the DOM and screenshot written right
    after its response, linked to it) goes with it."""
    pending: ForeignRecord | None = None
    pieces: dict[str, tuple[bytes, datetime]] = {}
    with source() as handle:
        for record in _records(handle, name):
            headers = record.rec_headers
            record_id = headers.get_header("WARC-Record-ID") or ""
            if record.rec_type in ("request", "warcinfo", "arc_header"):
                continue  # with their responses; describing the file
            if pending is not None and record.rec_type == "metadata":
                fetched = _fetched(record, record.raw_stream.read(), pending.record_id)
                if fetched is not None:
                    pending = dataclasses.replace(pending, fetched=fetched)
                    continue
            if pending is not None and _renders(record, pending.record_id):
                payload = record.raw_stream.read()
                if sha256_digest(payload) == headers.get_header("WARC-Payload-Digest"):
                    pieces[record.rec_type] = (payload, _parse_warc_date(headers["WARC-Date"]))
                    continue
            if record.rec_type not in ("response", "revisit"):
                kind = record.rec_type
                problem = f"a {kind} record, not an HTTP response"
                yield ForeignRecord(record_id, kind, None, problem, kind=f"{kind} records")
                continue
            if pending is not None:
                yield _with_rendering(pending, pieces)
            pieces = {}
            request = requests.get(record_id) or requests.get(
                headers.get_header("WARC-Concurrent-To") or ""
            )
            refers_date = headers.get_header("WARC-Refers-To-Date")
            refers_url = headers.get_header("WARC-Refers-To-Target-URI") or headers.get_header(
                "WARC-Target-URI"
            )
            try:
                exchange, problem, kind = _foreign_exchange(record, request), None, None
            except RecordProblem as exc:
                exchange, problem, kind = None, str(exc), exc.kind
            pending = ForeignRecord(
                record_id=record_id,
                record_type=record.rec_type,
                exchange=exchange,
                problem=problem,
                refers_to_url=(refers_url or "").strip("<>") or None,
                refers_to_date=_parse_warc_date(refers_date) if refers_date else None,
                refers_to_id=headers.get_header("WARC-Refers-To"),
                payload_digest=headers.get_header("WARC-Payload-Digest"),
                kind=kind,
            )
    if pending is not None:
        yield _with_rendering(pending, pieces)


def _renders(record, response_id: str) -> bool:
    """Whether ``record`` is the DOM or screenshot a browser capture wrote for the
    response or revisit ``response_id`` (see :func:`_rendering_records`)."""
    headers = record.rec_headers
    target = (headers.get_header("WARC-Target-URI") or "").strip("<>")
    if record.rec_type == "conversion" and target.startswith(DOM_PREFIX):
        return headers.get_header("WARC-Refers-To") == response_id
    if record.rec_type == "resource" and target.startswith(SCREENSHOT_PREFIX):
        return headers.get_header("WARC-Concurrent-To") == response_id
    return False


def _with_rendering(
    found: ForeignRecord, pieces: dict[str, tuple[bytes, datetime]]
) -> ForeignRecord:
    if found.exchange is None or set(pieces) != {"conversion", "resource"}:
        return found
    (dom, rendered_at), (screenshot, _) = pieces["conversion"], pieces["resource"]
    rendering = Rendering(dom.decode("utf-8", "replace"), screenshot, rendered_at)
    return dataclasses.replace(found, rendering=rendering)


def _check_inflation(handle: BinaryIO, name: str) -> int | None:
    """Walk the gzip members of a file without keeping what they inflate to; raise
    CompressionBomb as soon as one inflates past MAX_INFLATION times its size (beyond
    INFLATION_FLOOR bytes). Return where the last member starts when the file ends
    inside it (a torn tail), else None. A file that is not gzipped passes."""
    head = handle.read(2)
    if head != b"\x1f\x8b":
        return None
    pending = head
    step = 64 * 1024
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    taken = given = 0  # compressed bytes in, inflated bytes out, for the current member
    read = 0
    while True:
        data = pending or handle.read(step)
        pending = b""
        if not data:
            return read - taken if taken and not inflater.eof else None
        read += len(data)
        taken += len(data)
        while data:
            try:
                out = inflater.decompress(data, step)
            except zlib.error:
                return None  # damaged, not inflating: reading the records says how
            given += len(out)
            if given > INFLATION_FLOOR and given > MAX_INFLATION * taken:
                raise CompressionBomb(
                    f"{name} is a compression bomb: a gzip member inflates to more than "
                    f"{given // (1024 * 1024)} MiB from {max(taken // 1024, 1)} KiB; refused"
                )
            if inflater.eof:
                data = inflater.unused_data
                taken = len(data)
                given = 0
                inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                data = inflater.unconsumed_tail


def _records(handle: BinaryIO, name: str) -> Iterator:
    """The records of an open WARC or ARC file; a file that is not one is a WarcError."""
    iterator = iter(ArchiveIterator(handle, check_digests=False, arc2warc=True))
    while True:
        try:
            record = next(iterator)
        except StopIteration:
            return
        except _UNREADABLE as exc:
            raise WarcError(f"{name} is not a readable WARC file: {exc}") from None
        yield record


def _request_records(
    source: Opener, name: str
) -> dict[str, tuple[str, tuple[tuple[str, str], ...]]]:
    """(method, headers) of each request record, by its own id and by the id of the
    response it names as concurrent (onrecord names the response; wget, the request)."""
    found = {}
    with source() as handle:
        for record in _records(handle, name):
            if record.rec_type != "request" or record.http_headers is None:
                continue
            method = record.http_headers.statusline.split(" ", 1)[0] or "GET"
            value = (method, tuple(record.http_headers.headers))
            found[record.rec_headers.get_header("WARC-Record-ID")] = value
            concurrent = record.rec_headers.get_header("WARC-Concurrent-To")
            if concurrent:
                found[concurrent] = value
    return found


def _foreign_payload(record) -> bytes:
    """The record's payload as stored, checked: whole (as long as its headers say) and
    under the import cap."""
    chunks = []
    size = 0
    while chunk := record.raw_stream.read(_READ_CHUNK):
        size += len(chunk)
        if size > MAX_IMPORT_PAYLOAD:
            raise RecordProblem(
                "too large",
                f"its payload is larger than onrecord imports ({MAX_IMPORT_PAYLOAD} bytes)",
            )
        chunks.append(chunk)
    payload = b"".join(chunks)
    missing = _missing(record, payload)
    if missing:
        length = record.rec_headers.get_header("Content-Length")
        raise RecordProblem(
            "torn",
            f"torn: the record declares Content-Length {length} but the file ends "
            f"{missing} bytes short of it",
        )
    return payload


def _digest_matches(expected: str, *payloads: bytes) -> bool:
    """Whether one of ``payloads`` has the digest ``algorithm:value`` (hex or base32, as
    WARC writers give it); an algorithm onrecord does not know is taken on trust."""
    algorithm, _, value = expected.strip().partition(":")
    value = value.strip()
    for payload in payloads:
        try:
            hasher = hashlib.new(algorithm.lower().replace("-", ""), payload)
        except ValueError:
            return True
        b32 = base64.b32encode(hasher.digest()).decode().rstrip("=")
        if value.lower() == hasher.hexdigest() or value.upper().rstrip("=") == b32:
            return True
    return False


def _foreign_exchange(record, request) -> HttpExchange:
    http = record.http_headers
    if http is None:
        raise RecordProblem("not HTTP", "not an HTTP record")
    url = (record.rec_headers.get_header("WARC-Target-URI") or "").strip("<>")
    try:
        ids.canonical_url(url)
    except ids.InvalidURL as exc:
        raise RecordProblem("not an http(s) URL", str(exc)) from None
    code, _, reason = http.statusline.partition(" ")
    if not ids.is_number(code):
        raise RecordProblem("not HTTP", f"no HTTP status in {http.statusline!r}")
    payload = raw = _foreign_payload(record)
    if "chunked" in (http.get_header("Transfer-Encoding") or "").lower():
        payload = ChunkedDataReader(io.BytesIO(raw)).read()
    expected = record.rec_headers.get_header("WARC-Payload-Digest")
    # over the bytes as sent (warcio, wget) or de-chunked (some crawlers): either will do
    if expected and record.rec_type == "response" and not _digest_matches(expected, raw, payload):
        raise RecordProblem(
            "digest mismatch", f"its payload does not match its WARC-Payload-Digest {expected}"
        )
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
