"""The archive folder, and saving captures into it: the WARC first, then the catalog.

Layout of an archive folder::

    onrecord.toml     settings (see archive/config.py)
    warcs/            the WARC files: the source of truth (with a bucket store, the
                      files being written and those waiting for upload; see
                      archive/storage.py)
    catalog.sqlite    the catalog, rebuilt from warcs/ when lost (or, when the ``catalog``
                      setting says so, a PostgreSQL database)
    index/            the search index, rebuilt from the catalog when lost
    quarantine/       torn WARC tails cut off after a crash, kept for inspection

:meth:`Store.save_capture` appends to a WARC file, flushes and fsyncs, and only then
commits the catalog row. A crash between the two leaves a record the catalog does not
know; :meth:`Store.reconcile`, run whenever an archive is opened for writing, catalogs it
(or cuts off a torn last record) and logs what it did. A file the writer leaves (it
rotated, or the store closed) is reconciled the same way and then put in its store
(:meth:`WarcStorage.finish`: uploaded, with a bucket); files whose upload failed are
uploaded again whenever the store is opened and whenever a file rotates.
"""

from __future__ import annotations

import io
import logging
import os
import signal
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy.engine import URL

from archive import config, ids
from archive.catalog import Catalog, CatalogError
from archive.catalog.engine import catalog_url
from archive.catalog.engine import exists as catalog_exists
from archive.models import Capture
from archive.storage import StorageError, WarcStorage, open_storage
from archive.warc import (
    PLAIN_PAGE,
    Fetched,
    HttpExchange,
    RecordLocation,
    RenderedRecord,
    Rendering,
    StoredRecord,
    WarcError,
    WarcWriter,
    read_record,
    read_rendering,
    scan,
    sha256_digest,
)

log = logging.getLogger(__name__)

INDEX_DIR = "index"


class ArchiveError(Exception):
    """An archive folder that is missing, unwritable, or damaged."""


def crash_point(name: str) -> None:
    """Fault injection for the crash tests: die here when ``ONRECORD_CRASH_AT`` names it."""
    if os.environ.get("ONRECORD_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Paths:
    root: Path

    @cached_property
    def storage(self) -> WarcStorage:
        """Where the archive's WARC files are kept (the ``warcs`` setting)."""
        try:
            return open_storage(self.root, config.load(self.root))
        except (config.ConfigError, StorageError) as exc:
            raise ArchiveError(str(exc)) from None

    @property
    def warcs(self) -> Path:
        """The folder WARC files are written to."""
        return self.storage.local

    @property
    def catalog(self) -> URL:
        """The catalog's database URL, from the archive's ``catalog`` setting."""
        try:
            setting = config.load(self.root)["catalog"]
        except config.ConfigError as exc:
            raise ArchiveError(str(exc)) from None
        try:
            return catalog_url(self.root, setting)
        except CatalogError as exc:
            raise ArchiveError(str(exc)) from None

    @property
    def index(self) -> Path:
        """The search index's folder, from the ``index`` setting (this node's own)."""
        try:
            setting = config.load(self.root)["index"]
        except config.ConfigError as exc:
            raise ArchiveError(str(exc)) from None
        return self.root / (setting or INDEX_DIR)

    @property
    def search_engine(self) -> str:
        """The engine a rebuilt index uses (the ``search_engine`` setting)."""
        try:
            return config.load(self.root)["search_engine"]
        except config.ConfigError as exc:
            raise ArchiveError(str(exc)) from None

    @property
    def quarantine(self) -> Path:
        """Where torn WARC tails are kept after they are cut off."""
        return self.root / "quarantine"

    @property
    def config(self) -> Path:
        return self.root / config.CONFIG_FILE


def init_archive(root: Path) -> Paths:
    """Create an archive folder (or complete one that lacks parts); return its paths."""
    paths = Paths(root)
    if root.exists() and not root.is_dir():
        raise ArchiveError(f"{root} exists and is not a folder")
    if (root / "__init__.py").exists():
        raise ArchiveError(f"{root} is a Python package, not an archive: pass --archive DIR")
    try:
        paths.warcs.mkdir(parents=True, exist_ok=True)
        (root / config.SETTINGS_BY_NAME["sources"].default).mkdir(exist_ok=True)
        if not paths.config.exists():
            paths.config.write_text(config.default_file(), encoding="utf-8")
    except OSError as exc:
        raise ArchiveError(f"cannot create an archive in {root}: {exc.strerror}") from None
    try:
        Catalog.open(paths.catalog, create=True).close()
    except CatalogError as exc:
        raise ArchiveError(str(exc)) from None
    return paths


def open_paths(root: Path, *, writable: bool) -> Paths:
    """Check that ``root`` is an archive folder (and writable when asked)."""
    paths = Paths(root)
    if not paths.warcs.is_dir() or not catalog_exists(paths.catalog):
        raise ArchiveError(f"no archive at {root} (create one with: onrecord init {root})")
    if writable and not os.access(paths.warcs, os.W_OK):
        raise ArchiveError(f"the archive at {root} is not writable")
    return paths


@dataclass
class ReconcileReport:
    recataloged: list[str] = field(default_factory=list)  # capture ids
    truncated: list[tuple[str, int]] = field(default_factory=list)  # (file, bytes cut)
    disagreements: list[str] = field(default_factory=list)  # files left for verify
    waiting: list[str] = field(default_factory=list)  # files whose upload failed again

    @property
    def changed(self) -> bool:
        return bool(self.recataloged or self.truncated)


class Store:
    """Saves captures into one archive: WARC record first, catalog row second."""

    def __init__(self, paths: Paths, catalog: Catalog, writer: WarcWriter) -> None:
        self.paths = paths
        self.catalog = catalog
        self.writer = writer
        writer.on_finished = self._finish_file
        writer.on_reuse = self._take_over_file

    @classmethod
    def open(cls, root: Path, *, max_warc_size: int | None = None) -> Store:
        """Open an archive for writing and reconcile what a crash may have left."""
        paths = open_paths(root, writable=True)
        settings = config.load(root)
        size = max_warc_size or settings["max_warc_size"]
        try:
            catalog = Catalog.open(paths.catalog)
        except CatalogError as exc:
            raise ArchiveError(str(exc)) from None
        storage = paths.storage
        try:
            storage.check()
        except StorageError as exc:
            catalog.close()
            raise ArchiveError(str(exc)) from None
        writer = WarcWriter(paths.warcs, max_file_size=size, reuse=storage.appendable)
        store = cls(paths, catalog, writer)
        store.reconcile()
        return store

    def close(self) -> None:
        """Finish the file being written (upload it, with a bucket), close the catalog."""
        try:
            self.writer.close()
        finally:
            self.catalog.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def save_capture(
        self,
        exchange: HttpExchange,
        *,
        source: str | None = None,
        revisit_of: Capture | None = None,
        rendering: Rendering | None = None,
        fetched: Fetched = PLAIN_PAGE,
    ) -> Capture:
        """Store one exchange (as a revisit of an earlier capture when given) and catalog it.
        A browser's rendering of the page, and why it was fetched (``fetched``: its kind
        and run), are written with it, in the same append.

        Saving the same exchange twice writes nothing the second time and returns the
        capture the first time made.
        """
        digest = revisit_of.payload_digest if revisit_of else sha256_digest(exchange.payload)
        existing = self.catalog.capture(ids.capture_id(exchange.url, exchange.fetched_at, digest))
        if existing is not None:
            return existing
        if revisit_of is not None:
            location = self.writer.write_revisit(
                exchange,
                payload_digest=revisit_of.payload_digest,
                refers_to_url=revisit_of.url,
                refers_to_date=revisit_of.captured_at,
                rendering=rendering,
                fetched=fetched,
            )
        else:
            location = self.writer.write_exchange(exchange, rendering=rendering, fetched=fetched)
        crash_point("warc-written")
        capture = capture_from_location(
            location, source=source, refers_to=revisit_of.id if revisit_of else None
        )
        with self.catalog.transaction():
            if self.catalog.add_capture(capture):
                self.catalog.append_log(capture)
        return capture

    def reconcile(self) -> ReconcileReport:
        """Catalog complete WARC records the catalog lacks; cut off torn tails.

        Each file is read from the last record the catalog knows in it, which must be
        there, whole, with the id the catalog gives it: otherwise the catalog and the
        file disagree about more than a crash can explain, and the file is left alone
        for ``onrecord verify`` to report."""
        report = ReconcileReport()
        self._log_unlogged()
        if self.catalog.fill_quote_keys():
            log.info("filled in the lead and tail words of earlier quotes")
        lasts = self.catalog.last_records()
        storage = self.paths.storage
        for warc_file in storage.local_names():
            with storage.claimed(warc_file) as ours:
                if ours:  # otherwise another process is appending to it
                    self._reconcile_file(warc_file, lasts.get(warc_file), report)
        report.waiting = storage.finish_pending()
        return report

    def _reconcile_file(
        self, warc_file: str, last: tuple[int, str] | None, report: ReconcileReport
    ) -> None:
        """Reconcile one local file whose claim the caller holds (no writer appends to
        it meanwhile), from the catalog's ``last`` (offset, record id) in it."""
        storage = self.paths.storage
        size = storage.size(warc_file)
        with storage.open(warc_file, last[0] if last else 0) as stream:
            result = scan(stream, warc_file, size)
        records = list(result.records)
        if last is not None:
            if not records or records[0].record_id != last[1]:
                log.error(
                    "%s does not hold record %s at %d as the catalog says: left alone; "
                    "run onrecord verify",
                    warc_file,
                    last[1],
                    last[0],
                )
                report.disagreements.append(warc_file)
                return
            records = records[1:]
        with self.catalog.transaction():
            for location in records:
                capture = capture_from_location(location)
                if self.catalog.add_capture(capture):
                    self.catalog.append_log(capture)
                    report.recataloged.append(capture.id)
                    log.warning(
                        "recataloged %s (%s) found in %s at %d",
                        capture.id,
                        capture.url,
                        warc_file,
                        location.offset,
                    )
        if result.torn:
            saved = storage.truncate(warc_file, result.good_end, self.paths.quarantine)
            report.truncated.append((warc_file, size - result.good_end))
            log.warning(
                "moved a torn record of %d bytes off the end of %s into %s",
                size - result.good_end,
                warc_file,
                saved,
            )

    def _finish_file(self, warc_file: str) -> None:
        """A file the writer has left: catalog what it holds that the catalog lacks, then
        put it (and any other file still waiting) in the store."""
        storage = self.paths.storage
        with storage.claimed(warc_file) as ours:
            if ours:
                last = self.catalog.last_records().get(warc_file)
                self._reconcile_file(warc_file, last, ReconcileReport())
        storage.finish_pending()

    def _take_over_file(self, warc_file: str) -> bool:
        """A file the writer has claimed to go on appending to, maybe long after the store
        was opened: its writer then (another process) may have died mid-write since.
        Reconcile it under the writer's claim; False when it disagrees with the catalog,
        so that nothing is appended after what reconciling left alone."""
        report = ReconcileReport()
        last = self.catalog.last_records().get(warc_file)
        self._reconcile_file(warc_file, last, report)
        return not report.disagreements

    def _log_unlogged(self) -> None:
        """Append captures the capture log lacks (those cataloged before it existed)."""
        missing = self.catalog.unlogged_captures()
        if missing:
            with self.catalog.transaction():
                for capture in missing:
                    self.catalog.append_log(capture)
            log.info("appended %d earlier captures to the capture log", len(missing))

    def read(self, capture: Capture) -> StoredRecord:
        return read_capture(self.paths, capture)

    def rendering(self, capture: Capture) -> dict[str, RenderedRecord]:
        return read_capture_rendering(self.paths, capture)


def read_capture(paths: Paths, capture: Capture) -> StoredRecord:
    """Read a capture's record back (one range read of its bytes) and check it is the
    one the catalog describes."""
    storage = paths.storage
    if capture.warc_length > 0:
        data = storage.read(capture.warc_file, capture.warc_offset, capture.warc_length)
        record = read_record(io.BytesIO(data), capture.warc_file, capture.warc_offset)
    else:
        with storage.open(capture.warc_file, capture.warc_offset) as stream:
            record = read_record(stream, capture.warc_file, capture.warc_offset)
    if record.location.record_id != capture.warc_record_id:
        raise WarcError(
            f"{capture.warc_file}:{capture.warc_offset} holds {record.location.record_id}, "
            f"not {capture.warc_record_id} as the catalog says"
        )
    if capture.record_type == "response":
        digest = sha256_digest(record.raw_payload)
        if digest != capture.payload_digest:
            raise WarcError(
                f"payload digest mismatch for capture {capture.id}: the WARC record has "
                f"{digest}, the catalog says {capture.payload_digest}"
            )
    return record


def read_capture_rendering(paths: Paths, capture: Capture) -> dict[str, RenderedRecord]:
    """The rendered DOM ("conversion") and screenshot ("resource") a browser capture
    stored with ``capture``; empty for a plain capture."""
    with paths.storage.open(capture.warc_file, capture.warc_offset) as stream:
        return read_rendering(
            stream, capture.warc_file, capture.warc_offset, capture.warc_record_id
        )


def capture_from_location(
    location: RecordLocation, *, source: str | None = None, refers_to: str | None = None
) -> Capture:
    """The catalog row for a WARC record; its id depends only on what the record holds."""
    headers = {name.lower(): value for name, value in location.headers}
    if location.record_type == "revisit" and refers_to is None and location.refers_to_date:
        refers_to = ids.capture_id(
            location.refers_to_url or location.url,
            location.refers_to_date,
            location.payload_digest,
        )
    return Capture(
        id=ids.capture_id(location.url, location.date, location.payload_digest),
        url=location.url,
        canonical_url=ids.canonical_url(location.url),
        captured_at=location.date,
        status=location.status or 0,
        content_type=location.content_type,
        payload_digest=location.payload_digest,
        payload_length=location.payload_length,
        warc_file=location.warc_file,
        warc_offset=location.offset,
        warc_length=location.length,
        warc_record_id=location.record_id,
        record_type=location.record_type,
        refers_to=refers_to,
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        location=headers.get("location"),
        source=source,
        kind=location.kind,
        run_id=location.run_id,
    )
