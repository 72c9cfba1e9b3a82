"""Where WARC files live: a folder, or an S3-compatible bucket. The only boto3 importer.

Both kinds of store have one interface, :class:`WarcStorage`. Writers always append to a
local file in a folder, flushing and fsyncing each record (see :mod:`archive.warc`):

- **A folder** (the ``warcs`` setting names one; ``warcs/`` in the archive by default):
  the files stay where they are written.
- **A bucket** (``warcs = "s3://bucket/prefix"``): the archive's ``warcs/`` folder holds
  the files being written. A file is uploaded to ``prefix/<name>`` when it is finished
  (it rotated, or its writer closed), as Heritrix and Browsertrix do; the upload is
  confirmed (the object's size, and its ETag: the MD5 of the bytes, or of each part for
  a multipart upload) and only then is the local file removed. A file in the local
  folder is therefore one the bucket does not hold yet: an upload that fails (the store
  is down, the process dies) leaves it there, and it is uploaded again when the archive
  is next opened for writing or a writer next finishes a file. No catalog column says
  where a file is: the folder and the bucket do.

Records are read back by ``(file, offset, length)``, as the catalog gives them: from the
local file when it is still there, otherwise with one HTTP range request, never by
downloading the file. Endpoint and credentials come from the settings or, when those are
empty, from ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and
``AWS_DEFAULT_REGION`` as boto3 reads them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from archive.warc import (
    WarcError,
    claim,
    fsync_folder,
    is_warc_name,
    iter_warc_files,
    release,
)

log = logging.getLogger(__name__)

LOCAL_DIR = "warcs"  # the folder writers append to (and the default store)
_COPY_CHUNK = 1 << 20
# Uploads go in parts of this size: the ETag the bucket reports is then predictable
# from the local bytes (see s3_etag), which is how an upload is confirmed.
PART_SIZE = 64 * 1024 * 1024


class StorageError(WarcError):
    """A WARC store that cannot be used: a missing or forbidden bucket, an unreachable
    endpoint, an upload the bucket does not confirm."""


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    modified: float  # seconds since the epoch


class _Tellable:
    """A stream that reports offsets in the whole file, for one that starts at ``start``
    (warcio's iterator asks where it is)."""

    def __init__(self, stream: BinaryIO, start: int) -> None:
        self._stream = stream
        self._offset = start

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size if size is not None and size >= 0 else None)
        self._offset += len(data)
        return data

    def tell(self) -> int:
        return self._offset

    def close(self) -> None:
        self._stream.close()


def check_name(name: str) -> str:
    if not is_warc_name(name):
        raise StorageError(f"not a WARC file name: {name!r}")
    return name


class WarcStorage(ABC):
    """The WARC files of one archive: those in the local folder and those stored away.

    ``local`` is the folder writers append to. A name is read from the local file when
    there is one, otherwise from the store.
    """

    #: whether a writer may go on appending to the newest local file after a restart
    #: (a folder) or must start its own (a bucket: local files are waiting for upload)
    appendable: bool

    def __init__(self, local: Path) -> None:
        self.local = local

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the files are kept, for messages: a folder or ``s3://bucket/prefix``."""

    # -- the files ------------------------------------------------------------------

    def local_names(self) -> list[str]:
        """The files in the local folder, oldest first."""
        return list(iter_warc_files(self.local)) if self.local.is_dir() else []

    def files(self) -> list[StoredFile]:
        """Every WARC file, local or stored, oldest first (names begin with a timestamp)."""
        found = {info.name: info for info in self._stored()}
        for name in self.local_names():
            stat = (self.local / name).stat()
            found[name] = StoredFile(name, stat.st_size, stat.st_mtime)
        return [found[name] for name in sorted(found)]

    def names(self) -> list[str]:
        return [info.name for info in self.files()]

    def size(self, name: str) -> int:
        path = self.local / check_name(name)
        if path.exists():
            return path.stat().st_size
        return self._stored_size(name)

    def read(self, name: str, offset: int, length: int) -> bytes:
        """``length`` bytes of a file from ``offset``."""
        path = self.local / check_name(name)
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                return handle.read(length)
        except FileNotFoundError:
            pass
        return self._stored_read(name, offset, length)

    @contextmanager
    def open(self, name: str, start: int = 0) -> Iterator[Any]:
        """A stream of a file from ``start`` to its end, whose ``tell()`` counts from the
        start of the file."""
        path = self.local / check_name(name)
        try:
            handle = open(path, "rb")  # noqa: SIM115 (closed below, after the yield)
        except FileNotFoundError:
            stream = _Tellable(self._stored_stream(name, start), start)
        else:
            handle.seek(start)
            stream = handle
        try:
            yield stream
        finally:
            stream.close()

    # -- finishing files ------------------------------------------------------------

    def pending(self) -> list[str]:
        """Local files that are finished but not yet in their store."""
        return []

    @abstractmethod
    def fingerprint(self, name: str) -> tuple[int, str] | None:
        """(size, ETag) of a file where it is kept (not a bucket's local file waiting for
        upload), or None when it is not there: what tells two copies apart."""

    @abstractmethod
    def put(self, path: Path, name: str) -> tuple[int, str]:
        """Keep a copy of the file at ``path`` as ``name``, confirmed; its fingerprint."""

    @contextmanager
    def local_copy(self, name: str) -> Iterator[Path]:
        """A path to the whole file: the local one, or a temporary download."""
        path = self.local / check_name(name)
        if path.exists():
            yield path
            return
        self.local.mkdir(parents=True, exist_ok=True)
        temporary = self.local / f".{name}.copy"
        try:
            self._fetch(name, temporary)
            yield temporary
        finally:
            temporary.unlink(missing_ok=True)

    @abstractmethod
    def finish(self, name: str) -> None:
        """Put a finished file where it is kept (raises StorageError, keeping the local
        file, when that fails)."""

    def finish_pending(self) -> list[str]:
        """Finish every pending file no writer holds; the names that could not be."""
        failed = []
        for name in self.pending():
            with self.claimed(name) as ours:
                if not ours:
                    continue  # another process is writing it
                try:
                    self.finish(name)
                except StorageError as exc:
                    log.warning("%s: kept in %s, to be uploaded later", exc, self.local)
                    failed.append(name)
        return failed

    @contextmanager
    def claimed(self, name: str) -> Iterator[bool]:
        """Hold a local file's writer lock (False when another writer holds it)."""
        fd = claim(self.local / check_name(name))
        try:
            yield fd is not None
        finally:
            if fd is not None:
                release(fd)

    def truncate(self, name: str, size: int, quarantine: Path) -> Path:
        """Keep a local file's first ``size`` bytes, moving the rest into ``quarantine``
        (a torn tail); the caller holds the file's lock. Returns the tail's file."""
        path = self.local / check_name(name)
        quarantine.mkdir(parents=True, exist_ok=True)
        saved = quarantine / f"{name}.{size}.torn"
        with open(path, "rb") as source, open(saved, "ab") as tail:
            source.seek(size)
            while chunk := source.read(_COPY_CHUNK):
                tail.write(chunk)
            tail.flush()
            os.fsync(tail.fileno())
        with open(path, "r+b") as handle:
            handle.truncate(size)
            handle.flush()
            os.fsync(handle.fileno())
        return saved

    def repair_torn(self, name: str, size: int, quarantine: Path) -> Path | None:
        """Cut a torn tail off a file wherever it is kept: a stored file is fetched, cut,
        and stored again. None when a writer holds the file."""
        path = self.local / check_name(name)
        if not path.exists():
            self._fetch(name, path)
        with self.claimed(name) as ours:
            if not ours:
                return None
            saved = self.truncate(name, size, quarantine)
        self.finish(name)
        return saved

    @abstractmethod
    def check(self) -> None:
        """Raise StorageError when the store is misconfigured (missing, forbidden)."""

    # -- what a store adds to the local folder ---------------------------------------

    def _stored(self) -> list[StoredFile]:
        return []

    def _stored_size(self, name: str) -> int:
        raise StorageError(f"WARC file {name} is missing from {self.location}")

    def _stored_read(self, name: str, offset: int, length: int) -> bytes:
        raise StorageError(f"WARC file {name} is missing from {self.location}")

    def _stored_stream(self, name: str, start: int) -> BinaryIO:
        raise StorageError(f"WARC file {name} is missing from {self.location}")

    def _fetch(self, name: str, path: Path) -> None:
        raise StorageError(f"WARC file {name} is missing from {self.location}")


class FolderStorage(WarcStorage):
    """WARC files kept in the folder they are written to."""

    appendable = True

    @property
    def location(self) -> str:
        return str(self.local)

    def finish(self, name: str) -> None:
        """Nothing to do: the file is where it is kept."""

    def fingerprint(self, name: str) -> tuple[int, str] | None:
        path = self.local / check_name(name)
        if not path.exists():
            return None
        return path.stat().st_size, s3_etag(path)

    def put(self, path: Path, name: str) -> tuple[int, str]:
        target = self.local / check_name(name)
        if path.resolve() == target.resolve():
            return self.fingerprint(name) or (0, "")
        self.local.mkdir(parents=True, exist_ok=True)
        partial = self.local / f".{name}.part"
        with open(path, "rb") as source, open(partial, "wb") as copy:
            while chunk := source.read(_COPY_CHUNK):
                copy.write(chunk)
            copy.flush()
            os.fsync(copy.fileno())
        os.replace(partial, target)
        fsync_folder(self.local)
        expected = (path.stat().st_size, s3_etag(path))
        if self.fingerprint(name) != expected:
            raise StorageError(f"the copy of {name} in {self.local} does not match the original")
        return expected

    def check(self) -> None:
        if not self.local.is_dir():
            raise StorageError(f"the WARC folder {self.local} does not exist")


def s3_etag(path: Path, part_size: int = PART_SIZE) -> str:
    """The ETag S3 gives a file uploaded in parts of ``part_size`` (one part when it is no
    larger): the MD5 of the bytes, or the MD5 of the parts' MD5s and the part count.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     _ = f.write(b"hello world"); f.flush()
    ...     s3_etag(Path(f.name)), s3_etag(Path(f.name), part_size=6)
    ('5eb63bbbe01eeed093cb22bb8f5acdc3', 'e09e4fd6265b36115fe3db32df945d84-2')
    """
    if path.stat().st_size < part_size:  # boto3 sends one part below its threshold
        whole = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as handle:
            while chunk := handle.read(_COPY_CHUNK):
                whole.update(chunk)
        return whole.hexdigest()
    digests = []
    with open(path, "rb") as handle:
        while True:
            part = hashlib.md5(usedforsecurity=False)
            read = 0
            while read < part_size and (chunk := handle.read(min(_COPY_CHUNK, part_size - read))):
                part.update(chunk)
                read += len(chunk)
            if not read:
                break
            digests.append(part.digest())
    combined = hashlib.md5(b"".join(digests), usedforsecurity=False)
    return f"{combined.hexdigest()}-{len(digests)}"


def _sdk() -> SimpleNamespace:
    """boto3 and botocore, imported when a bucket is first used: they take a good part of
    a second to import, which every command on a folder archive would otherwise pay."""
    import boto3
    from boto3.exceptions import S3UploadFailedError
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import BotoCoreError, ClientError

    return SimpleNamespace(
        boto3=boto3,
        S3UploadFailedError=S3UploadFailedError,
        TransferConfig=TransferConfig,
        BotoConfig=BotoConfig,
        BotoCoreError=BotoCoreError,
        ClientError=ClientError,
    )


@dataclass(frozen=True)
class S3Settings:
    """How to reach the bucket; empty values fall back to the AWS_* variables."""

    endpoint_url: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""
    region: str = ""


class S3Storage(WarcStorage):
    """WARC files uploaded, once finished, to an S3-compatible bucket."""

    appendable = False

    def __init__(
        self,
        local: Path,
        bucket: str,
        prefix: str,
        settings: S3Settings = S3Settings(),
        *,
        part_size: int = PART_SIZE,
    ) -> None:
        super().__init__(local)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.settings = settings
        self.part_size = part_size
        self._client = None
        self._client_lock = threading.Lock()

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def endpoint(self) -> str:
        return self.settings.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "AWS S3"

    @property
    def client(self):
        """The boto3 client, made on first use (thread-safe, shared by requests)."""
        sdk = _sdk()
        with self._client_lock:
            if self._client is None:
                settings = self.settings
                region = settings.region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
                session = sdk.boto3.session.Session(
                    aws_access_key_id=settings.access_key_id or None,
                    aws_secret_access_key=settings.secret_access_key or None,
                    region_name=region,
                )
                self._client = session.client(
                    "s3",
                    endpoint_url=settings.endpoint_url or None,
                    config=sdk.BotoConfig(
                        connect_timeout=5,
                        read_timeout=60,
                        retries={"max_attempts": 3, "mode": "standard"},
                        s3={"addressing_style": "path"},
                    ),
                )
            return self._client

    def key(self, name: str) -> str:
        check_name(name)
        return f"{self.prefix}/{name}" if self.prefix else name

    def _error(self, exc: Exception, doing: str) -> StorageError:
        """A clear message for what boto3 raised: never the secret key."""
        sdk = _sdk()
        where = f"{self.location} at {self.endpoint}"
        wrapped = exc.__context__
        if isinstance(exc, sdk.S3UploadFailedError) and isinstance(wrapped, sdk.ClientError):
            exc = wrapped
        if isinstance(exc, sdk.ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket",) or (code == "404" and doing == "check"):
                return StorageError(
                    f"the bucket {self.bucket!r} does not exist at {self.endpoint}: create "
                    "it, or correct the warcs setting"
                )
            if status == 403 or code in (
                "AccessDenied",
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "403",
            ):
                return StorageError(
                    f"access to {where} is forbidden ({code}) while {doing}: check the "
                    "access key and secret (s3_access_key_id, AWS_ACCESS_KEY_ID) and the "
                    "bucket's policy"
                )
            return StorageError(f"{where} refused {doing}: {code} {exc}")
        return StorageError(f"cannot reach {where} while {doing}: {exc}")

    def check(self) -> None:
        sdk = _sdk()
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except sdk.ClientError as exc:
            raise self._error(exc, "check") from None
        except sdk.BotoCoreError as exc:
            # Unreachable is not misconfigured: writers keep appending locally, and the
            # files wait for the store to come back.
            log.warning("%s", self._error(exc, "checking the bucket"))

    def pending(self) -> list[str]:
        return self.local_names()

    def _head(self, name: str) -> tuple[int, str] | None:
        sdk = _sdk()
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(name))
        except sdk.ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey"):
                return None
            raise self._error(exc, f"looking for {name}") from None
        except sdk.BotoCoreError as exc:
            raise self._error(exc, f"looking for {name}") from None
        return head["ContentLength"], head["ETag"].strip('"')

    def fingerprint(self, name: str) -> tuple[int, str] | None:
        return self._head(name)

    def finish(self, name: str) -> None:
        path = self.local / check_name(name)
        expected = self.put(path, name)
        path.unlink()
        fsync_folder(self.local)
        log.info("uploaded %s to %s (%d bytes, ETag %s)", name, self.location, *expected)

    def put(self, path: Path, name: str) -> tuple[int, str]:
        sdk = _sdk()
        expected = (path.stat().st_size, s3_etag(path, self.part_size))
        found = self._head(name)
        if found != expected:
            if found is not None:
                log.warning("%s holds another %s: replacing it", self.location, name)
            transfer = sdk.TransferConfig(
                multipart_threshold=self.part_size, multipart_chunksize=self.part_size
            )
            try:
                self.client.upload_file(str(path), self.bucket, self.key(name), Config=transfer)
            except (sdk.BotoCoreError, sdk.ClientError, sdk.S3UploadFailedError) as exc:
                raise self._error(exc, f"uploading {name}") from None
            found = self._head(name)
            if found != expected:
                raise StorageError(
                    f"{self.location} holds {name} as {found}, not {expected} (size, ETag) "
                    "after uploading it: the local file is kept"
                )
        return expected

    def _stored(self) -> list[StoredFile]:
        sdk = _sdk()
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        prefix = f"{self.prefix}/" if self.prefix else ""
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    name = item["Key"][len(prefix) :]
                    if is_warc_name(name):
                        found.append(
                            StoredFile(name, item["Size"], item["LastModified"].timestamp())
                        )
        except (sdk.BotoCoreError, sdk.ClientError) as exc:
            raise self._error(exc, "listing WARC files") from None
        return found

    def _stored_size(self, name: str) -> int:
        found = self._head(name)
        if found is None:
            raise StorageError(f"WARC file {name} is missing from {self.location}")
        return found[0]

    def _get(self, name: str, byte_range: str | None, doing: str):
        sdk = _sdk()
        options = {"Range": byte_range} if byte_range else {}
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(name), **options)
        except sdk.ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey"):
                raise StorageError(f"WARC file {name} is missing from {self.location}") from None
            if str(exc.response.get("Error", {}).get("Code")) == "InvalidRange":
                return None
            raise self._error(exc, doing) from None
        except sdk.BotoCoreError as exc:
            raise self._error(exc, doing) from None

    def _stored_read(self, name: str, offset: int, length: int) -> bytes:
        sdk = _sdk()
        if length <= 0:
            return b""
        found = self._get(name, f"bytes={offset}-{offset + length - 1}", f"reading {name}")
        if found is None:
            return b""
        try:
            return found["Body"].read()
        except sdk.BotoCoreError as exc:
            raise self._error(exc, f"reading {name}") from None

    def _stored_stream(self, name: str, start: int) -> BinaryIO:
        found = self._get(name, f"bytes={start}-" if start else None, f"reading {name}")
        if found is None:
            return _Empty()
        return found["Body"]

    def _fetch(self, name: str, path: Path) -> None:
        sdk = _sdk()
        partial = path.with_name(path.name + ".download")
        try:
            self.client.download_file(self.bucket, self.key(name), str(partial))
        except (sdk.BotoCoreError, sdk.ClientError) as exc:
            partial.unlink(missing_ok=True)
            raise self._error(exc, f"fetching {name}") from None
        os.replace(partial, path)


class _Empty:
    def read(self, size: int = -1) -> bytes:
        return b""

    def close(self) -> None:
        pass


@dataclass
class CopyReport:
    copied: list[str] = field(default_factory=list)  # names put in the target
    present: list[str] = field(default_factory=list)  # names it held already, identical


def copy_files(
    source: WarcStorage,
    target: WarcStorage,
    progress: Callable[[list[str]], Iterable[str]] = iter,
) -> CopyReport:
    """Copy every WARC file of ``source`` into ``target``, each confirmed there (moving an
    archive: ``onrecord migrate --warcs``). Files the target holds already, identical, are
    skipped, so a copy that was interrupted resumes where it stopped. A target holding
    WARC files the source lacks, or a different file under one of its names, belongs to
    another archive: StorageError, with nothing (more) copied."""
    names = source.names()
    foreign = sorted(set(target.names()) - set(names))
    if foreign:
        raise StorageError(
            f"{target.location} already holds {len(foreign)} WARC files this archive does "
            f"not have (such as {foreign[0]}): it belongs to another archive; choose an "
            "empty place"
        )
    report = CopyReport()
    for name in progress(names):
        with source.local_copy(name) as path:
            expected = (path.stat().st_size, s3_etag(path))
            held = target.fingerprint(name)
            if held == expected:
                report.present.append(name)
                continue
            if held is not None:
                raise StorageError(
                    f"{target.location} holds a different {name} than this archive: it "
                    "belongs to another archive; choose an empty place"
                )
            target.put(path, name)
            report.copied.append(name)
            log.info("copied %s to %s", name, target.location)
    return report


def open_storage(root: Path, settings: Mapping[str, Any]) -> WarcStorage:
    """The WARC store an archive's settings name (``warcs``, ``s3_*``)."""
    value = str(settings["warcs"]).strip() or LOCAL_DIR
    if value.startswith("s3://"):
        parts = urlsplit(value)
        if not parts.netloc:
            raise StorageError(f"warcs = {value!r} names no bucket: use s3://bucket/prefix")
        return S3Storage(
            root / LOCAL_DIR,
            parts.netloc,
            parts.path,
            S3Settings(
                endpoint_url=settings["s3_endpoint_url"],
                access_key_id=settings["s3_access_key_id"],
                secret_access_key=settings["s3_secret_access_key"],
                region=settings["s3_region"],
            ),
        )
    if "://" in value:
        raise StorageError(f"warcs = {value!r}: give a folder or s3://bucket/prefix")
    return FolderStorage(root / value)
