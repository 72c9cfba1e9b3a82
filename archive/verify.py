"""Proof that the archive shows what it received: WARC records against catalog rows, and
the capture log's hash chain.

The layers are ranked (WARC files, then the catalog, then the index), so a check compares
each layer with the one above it, and a repair rebuilds the lower layer from the upper
one, never the other way round:

- every response and revisit record of every WARC file is read again, its payload digest
  recomputed, and compared with the catalog row at its file and offset (record id, type,
  length, URL, date, digest, and the capture id those derive);
- every catalog row must have its record, every record its row;
- every capture must be in the capture log, and every log entry must follow from the one
  before it and agree with its capture's row.

Problems say whether :func:`repair_catalog` (or the store's reconcile) can mend them from
the WARC files. Those it cannot are evidence: a record changed after it was written, a
missing WARC file, a rewritten log. The index is checked by :mod:`index.check`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from archive import ids
from archive.catalog import (
    GENESIS_HASH,
    Catalog,
    chain_problems,
    log_entry_hash,
    to_text,
)
from archive.models import Capture
from archive.store import Paths, capture_from_location, read_capture
from archive.warc import RecordLocation, WarcError, scan, sha256_digest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One way in which a layer does not match the layer above it."""

    layer: str  # "warc", "catalog", "log", "corrections" or "index"
    subject: str  # what it concerns: a capture id, "file:offset", "log#seq", a quote id
    message: str
    repairable: bool

    def __str__(self) -> str:
        fix = "repairable" if self.repairable else "NOT repairable"
        return f"[{self.layer}] {self.subject}: {self.message} ({fix})"


@dataclass
class Verification:
    """What a check of the WARC files and the catalog found."""

    records: int = 0  # WARC response and revisit records read
    files: int = 0
    problems: list[Problem] = field(default_factory=list)
    # What repair_catalog can do: rows to point at their records, records to catalog.
    relocations: list[tuple[Capture, RecordLocation]] = field(default_factory=list)
    uncataloged: list[RecordLocation] = field(default_factory=list)
    torn: list[tuple[str, int]] = field(default_factory=list)  # (file, end of its records)


class Verifier:
    """Checks one archive's WARC files against its catalog, file by file.

    Call :meth:`check_file` for each of :meth:`warc_files` (the command shows progress
    between them), then :meth:`finish`; or :meth:`run` for all of it.
    """

    def __init__(self, paths: Paths, catalog: Catalog) -> None:
        self.paths = paths
        self.catalog = catalog
        self.result = Verification()
        self._strays: dict[str, RecordLocation] = {}  # capture id -> record without a row
        self._orphans: list[Capture] = []  # rows without a record where they say
        self._unread: set[str] = set()  # files that could not be read

    def warc_files(self) -> list[str]:
        """Every WARC file, in the local folder or in the store."""
        return self.paths.storage.names()

    def run(self) -> Verification:
        for warc_file in self.warc_files():
            self.check_file(warc_file)
        return self.finish()

    def check_file(self, warc_file: str) -> None:
        """Read every record of one file again and compare it with the catalog."""
        rows = self.catalog.captures_in_file(warc_file)
        storage = self.paths.storage
        try:
            size = storage.size(warc_file)
            with storage.open(warc_file) as stream:
                scanned = scan(stream, warc_file, size)
        except WarcError as exc:
            self._add("warc", warc_file, f"cannot be read: {exc}", repairable=False)
            self._unread.add(warc_file)
            return
        self.result.files += 1
        for location in scanned.records:
            self.result.records += 1
            row = rows.pop(location.offset, None)
            if row is None:
                self._strays[capture_from_location(location).id] = location
            else:
                self._compare(row, location)
        self._orphans += rows.values()
        if scanned.torn:
            self.result.torn.append((warc_file, scanned.good_end))
            self._add(
                "warc",
                f"{warc_file}:{scanned.good_end}",
                f"{size - scanned.good_end} bytes after the last complete record do not form "
                "a record (a torn write); repair moves them into quarantine/",
                repairable=True,
            )
        log.info("checked %s: %d records", warc_file, len(scanned.records))

    def finish(self) -> Verification:
        """Match rows and records left over, check missing files and the capture log."""
        kept = set(self.paths.storage.names()) | self._unread
        for warc_file in sorted(self.catalog.warc_files() - kept):
            self._orphans += self.catalog.captures_in_file(warc_file).values()
        for row in self._orphans:
            location = self._strays.pop(row.id, None)
            if location is not None:
                self._add(
                    "catalog",
                    row.id,
                    f"the catalog places it at {row.warc_file}:{row.warc_offset}, but its "
                    f"record is at {location.warc_file}:{location.offset}",
                    repairable=True,
                )
                self.result.relocations.append((row, location))
            else:
                self._add(
                    "warc",
                    row.id,
                    f"no record at {row.warc_file}:{row.warc_offset} where the catalog "
                    f"places this capture of {row.url}",
                    repairable=False,
                )
        for capture_id, location in self._strays.items():
            known = self.catalog.capture(capture_id)
            where = f"{location.warc_file}:{location.offset}"
            if known is not None:
                self._add(
                    "warc",
                    where,
                    f"repeats capture {capture_id}, stored at "
                    f"{known.warc_file}:{known.warc_offset}",
                    repairable=False,
                )
            else:
                self._add(
                    "catalog",
                    where,
                    f"the {location.record_type} record of {location.url} "
                    f"({capture_id}) has no catalog row",
                    repairable=True,
                )
                self.result.uncataloged.append(location)
        self.result.problems += check_log(self.catalog)
        self.result.problems += check_corrections(self.catalog)
        return self.result

    def _compare(self, row: Capture, location: RecordLocation) -> None:
        derived = capture_from_location(location)
        differences = [
            f"{name} is {mine!r} in the WARC but {theirs!r} in the catalog"
            for name, mine, theirs in (
                ("the record id", derived.warc_record_id, row.warc_record_id),
                ("the record type", derived.record_type, row.record_type),
                ("the record length", derived.warc_length, row.warc_length),
                ("the target URI", derived.url, row.url),
                ("the date", to_text(derived.captured_at), to_text(row.captured_at)),
                ("the payload digest", derived.payload_digest, row.payload_digest),
                ("the payload length", derived.payload_length, row.payload_length),
                ("the kind", derived.kind, row.kind),
                ("the run", derived.run_id, row.run_id),
            )
            if mine != theirs
        ]
        if derived.id != row.id:
            # The id derives from what was received: a record that no longer gives its
            # row's id was changed after it was written (or the row was forged).
            differences.append(f"the record derives capture id {derived.id}")
        if differences:
            self._add("catalog", row.id, "; ".join(differences), repairable=derived.id == row.id)
            if derived.id == row.id:
                self.result.relocations.append((row, location))

    def _add(self, layer: str, subject: str, message: str, *, repairable: bool) -> None:
        problem = Problem(layer, subject, message, repairable)
        log.warning("%s", problem)
        self.result.problems.append(problem)


def check_log(catalog: Catalog) -> list[Problem]:
    """The whole capture log: an unbroken chain from the genesis hash, each entry agreeing
    with its capture's row, and every capture logged."""
    problems = check_chain(catalog.log_segment(1), prev_hash=GENESIS_HASH, first_seq=1)
    for entry in catalog.log_segment(1):
        capture = catalog.capture(entry["capture_id"])
        subject = f"log#{entry['seq']}"
        if capture is None:
            problems.append(
                Problem(
                    "log",
                    subject,
                    f"logs {entry['capture_id']}, which the catalog lacks (a row comes back "
                    "when its WARC record is cataloged again)",
                    True,
                )
            )
        elif (to_text(capture.captured_at), capture.payload_digest) != (
            entry["captured_at"],
            entry["payload_digest"],
        ):
            problems.append(
                Problem(
                    "log",
                    subject,
                    f"logs {capture.id} as {entry['captured_at']} {entry['payload_digest']}, "
                    f"but the catalog says {to_text(capture.captured_at)} "
                    f"{capture.payload_digest}",
                    # A row that no longer derives its own id was changed, and is rewritten
                    # from its record; a row that does was logged differently: evidence.
                    _derived_id(capture) != capture.id,
                )
            )
    for capture in catalog.unlogged_captures():
        problems.append(
            Problem(
                "log", capture.id, "is not in the capture log (opening the store adds it)", True
            )
        )
    return problems


def check_corrections(catalog: Catalog) -> list[Problem]:
    """The corrections chain: unbroken from the genesis hash, each entry's hash matching
    its contents. A break is evidence (a correction rewritten or removed), never repaired."""
    return [
        Problem("corrections", f"corrections#{seq}", message, False)
        for seq, message in chain_problems(catalog.correction_entries())
    ]


def _derived_id(capture: Capture) -> str:
    return ids.capture_id(capture.url, capture.captured_at, capture.payload_digest)


def check_chain(
    entries: Iterable[dict], *, prev_hash: str = GENESIS_HASH, first_seq: int = 1
) -> list[Problem]:
    """Re-hash a segment of the capture log that should follow ``prev_hash`` at position
    ``first_seq``: what anyone holding an earlier head can do with a later segment.

    >>> from archive.catalog import log_entry_hash
    >>> first = log_entry_hash(GENESIS_HASH, "c-1", "2026-11-03T09:00:00.000000Z", "sha256:ab")
    >>> entry = {"seq": 1, "capture_id": "c-1", "captured_at": "2026-11-03T09:00:00.000000Z",
    ...          "payload_digest": "sha256:ab", "prev_hash": GENESIS_HASH, "entry_hash": first}
    >>> check_chain([entry])
    []
    >>> [p.message for p in check_chain([{**entry, "captured_at": "2026-11-02T09:00:00Z"}])]
    ['its hash does not match its contents: the entry was changed after it was written']
    """
    problems = []
    expected_seq, expected_prev = first_seq, prev_hash
    for entry in entries:
        subject = f"log#{entry['seq']}"
        if entry["seq"] != expected_seq:
            problems.append(
                Problem("log", subject, f"comes where position {expected_seq} should", False)
            )
        if entry["prev_hash"] != expected_prev:
            problems.append(
                Problem(
                    "log",
                    subject,
                    "does not follow the entry before it: an entry was removed, inserted or "
                    "changed",
                    False,
                )
            )
        computed = log_entry_hash(
            entry["prev_hash"], entry["capture_id"], entry["captured_at"], entry["payload_digest"]
        )
        if computed != entry["entry_hash"]:
            problems.append(
                Problem(
                    "log",
                    subject,
                    "its hash does not match its contents: the entry was changed after it "
                    "was written",
                    False,
                )
            )
        expected_seq, expected_prev = entry["seq"] + 1, entry["entry_hash"]
    return problems


def repair_catalog(catalog: Catalog, found: Verification) -> list[str]:
    """Mend the catalog from the WARC files: point rows at their records and catalog the
    records that have no row. Returns the ids of the captures it touched. Never writes to
    a WARC file; rows it adds are unprocessed, so the pipeline turns them into documents."""
    touched = []
    with catalog.transaction():
        for row, location in found.relocations:
            catalog.relocate_capture(capture_from_location(location, source=row.source))
            touched.append(row.id)
            log.warning("pointed %s at %s:%d", row.id, location.warc_file, location.offset)
        for location in found.uncataloged:
            capture = capture_from_location(location)
            if catalog.add_capture(capture):
                catalog.append_log(capture)
                touched.append(capture.id)
                log.warning(
                    "cataloged %s from %s:%d", capture.id, location.warc_file, location.offset
                )
    return touched


@dataclass(frozen=True)
class CaptureProof:
    """What a reader needs to see that a capture was neither altered nor backdated: its
    position in the capture log, the entry's hash, and the head the chain leads to."""

    capture: Capture
    position: int | None
    entry_hash: str | None
    head_position: int
    head_hash: str
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def prove_capture(paths: Paths, catalog: Catalog, capture_id: str) -> CaptureProof | None:
    """Check one capture end to end (record, row, log entry, and the chain from its entry
    to the current head); None when the catalog has no such capture."""
    capture = catalog.capture(capture_id)
    if capture is None:
        return None
    problems: list[Problem] = []
    try:
        record = read_capture(paths, capture)
    except WarcError as exc:
        problems.append(Problem("warc", capture_id, str(exc), False))
    else:
        digest = (
            sha256_digest(record.raw_payload)
            if capture.record_type == "response"
            else record.location.payload_digest
        )
        derived = ids.capture_id(record.location.url, record.location.date, digest)
        if derived != capture.id:
            problems.append(
                Problem("warc", capture_id, f"its record now derives capture id {derived}", False)
            )
    entry = catalog.log_entry(capture_id)
    head_position, head_hash = catalog.log_head()
    if entry is None:
        problems.append(Problem("log", capture_id, "is not in the capture log", True))
        return CaptureProof(capture, None, None, head_position, head_hash, tuple(problems))
    if (entry["captured_at"], entry["payload_digest"]) != (
        to_text(capture.captured_at),
        capture.payload_digest,
    ):
        problems.append(
            Problem(
                "log",
                capture_id,
                f"the log has {entry['captured_at']} {entry['payload_digest']}, the catalog "
                f"{to_text(capture.captured_at)} {capture.payload_digest}",
                False,
            )
        )
    problems += check_chain(
        catalog.log_segment(entry["seq"]), prev_hash=entry["prev_hash"], first_seq=entry["seq"]
    )
    return CaptureProof(
        capture, entry["seq"], entry["entry_hash"], head_position, head_hash, tuple(problems)
    )
