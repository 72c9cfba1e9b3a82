"""WACZ packages and foreign WARC files: handing collections to other archive tools, and
taking theirs in.

A WACZ (version 1.1.1) is a ZIP file, every member stored uncompressed::

    archive/*.warc.gz          the WARC files (the whole archive), or data.warc.gz (a part)
    indexes/index.cdx          CDXJ (the name the spec, pywb and py-wacz use): one line
                               per capture, SURT key, timestamp, JSON block
    pages/pages.jsonl          one line per page (a capture that shows a document)
    onrecord/...               onrecord's own members, listed below
    datapackage.json           every file above with its sha256 digest and size
    datapackage-digest.json    the digest of datapackage.json

onrecord's own members carry what keeps its links and editors' work intact after a move
(other tools ignore them)::

    onrecord/quote-aliases.json        [old quote id, successor id] pairs
    onrecord/speaker-aliases.json      [old speaker id, successor id] pairs
    onrecord/speaker-merges.json       [old id, new id, author, reason, time] of each
                                       speaker an editor merged into another
    onrecord/speaker-identifiers.json  [speaker id, scheme, value] (a wikidata id, say)
    onrecord/capture-sources.json      {capture id: source name} of every capture a
                                       source made (pages.jsonl names only pages')
    onrecord/corrections.jsonl         editors' corrections as their hash chain (if any)

Exporting the whole archive copies its WARC files as they are; exporting a part copies
the bytes of each chosen exchange (its response or revisit record and the request record
after it) into one new file. Either way no record is re-encoded, so record ids, digests
and dates survive.

Importing re-writes each response and revisit record through :meth:`Store.save_capture`,
with the WARC-Date, target URI, HTTP headers and payload bytes it had: the capture id
derives from those, so a capture keeps its id when an archive moves, and importing twice
stores nothing the second time. Request records go with their responses. Each of
onrecord's members is read and checked whole before any WARC record is imported, and
importing it again changes nothing. Packages made before a member existed still import:
without capture-sources.json a capture's source comes from pages.jsonl. Foreign WARC
files are read the same way: WARC/1.0, ``<angle-bracketed>`` target URIs (as Debian's
``wget --warc-file`` writes them) and sha1 digests are all accepted. A revisit record is
imported when the response it repeats is archived, in the same import or before: found
by WARC-Refers-To, by target URI and date, or by URL and payload digest (:func:`_original`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from archive import ids
from archive.catalog import Catalog, chain_problems
from archive.models import Capture
from archive.store import Paths, Store
from archive.warc import (
    INFLATION_FLOOR,
    MAX_INFLATION,
    SOFTWARE,
    ForeignRecord,
    Opener,
    WarcError,
    exchange_end,
    read_exchanges,
)

log = logging.getLogger(__name__)

WACZ_VERSION = "1.1.1"
PAGES = "pages/pages.jsonl"
PAGES_FORMAT = "json-pages-1.0"
PART_WARC = "data.warc.gz"
# onrecord's own addition: quote ids older extractions issued, and their successors, so
# that links citing them keep working after a move.
ALIASES = "onrecord/quote-aliases.json"
# The same for speaker ids ("NASA Administrator Jim Bridenstine" -> "Jim Bridenstine").
SPEAKER_ALIASES = "onrecord/speaker-aliases.json"
# Editors' speaker merges, each as it was made, so that a merged-away speaker's link
# still leads to the speaker it was merged into.
SPEAKER_MERGES = "onrecord/speaker-merges.json"
# Editors' identifiers of speakers in other registries (wikidata, say).
SPEAKER_IDENTIFIERS = "onrecord/speaker-identifiers.json"
# The columns of each row of the members above, all of them strings.
ROWS = {
    ALIASES: ("old id", "new id"),
    SPEAKER_ALIASES: ("old id", "new id"),
    SPEAKER_MERGES: ("old id", "new id", "author", "reason", "time"),
    SPEAKER_IDENTIFIERS: ("speaker id", "scheme", "value"),
}
# The source of every capture a source made: pages.jsonl lists only captures that show a
# document, not a source's robots.txt, feeds, sitemaps, listings, redirects or failures.
CAPTURE_SOURCES = "onrecord/capture-sources.json"
# Corrections editors made, as their hash chain (archive/catalog/corrections.py).
CORRECTIONS = "onrecord/corrections.jsonl"
_COPY_CHUNK = 1 << 20


class PackageError(Exception):
    """A WACZ or WARC file that cannot be imported: unreadable, incomplete or damaged."""


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    captures: int
    pages: int
    warc_files: tuple[str, ...]


# Reasons a record is refused as damaged, not merely left out: an import that meets one
# says so in its exit status.
DAMAGED = ("torn", "digest mismatch")


@dataclass
class ImportSummary:
    added: list[str] = field(default_factory=list)  # capture ids stored by this import
    present: list[str] = field(default_factory=list)  # capture ids the archive had already
    skipped: list[str] = field(default_factory=list)  # why records were left out
    reasons: Counter[str] = field(default_factory=Counter)  # the skipped, counted by reason

    def skip(self, kind: str, line: str) -> None:
        self.skipped.append(line)
        self.reasons[kind] += 1

    @property
    def damaged(self) -> int:
        return sum(self.reasons[kind] for kind in DAMAGED)


@dataclass
class _Seen:
    """What one import has stored or found archived already, for the revisit records
    after it (in the same file or a later member of the package): each capture by the
    WARC-Record-ID its record had in the file, and each response's WARC-Payload-Digest
    as its writer gave it (a revisit repeats that one, not onrecord's sha256)."""

    captures: dict[str, str] = field(default_factory=dict)  # record id -> capture id
    digests: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # capture id -> digest


# -- export -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """Where a capture's record lies inside the package."""

    capture: Capture
    filename: str
    offset: int
    length: int


def export_wacz(
    paths: Paths,
    catalog: Catalog,
    out: Path,
    captures: list[Capture] | None = None,
    *,
    title: str = "onrecord archive",
    created: datetime | None = None,
) -> ExportSummary:
    """Write the whole archive (``captures`` None) or the given captures to ``out``.

    A revisit's original capture is included with it, so the package replays on its own.
    The file appears complete or not at all (written beside ``out``, then renamed).
    """
    created = created or datetime.now(UTC)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as package:
            resources: list[dict] = []
            try:
                if captures is None:
                    entries = _copy_whole(paths, catalog, package, resources)
                else:
                    entries = _copy_part(paths, catalog, captures, package, resources)
            except WarcError as exc:  # a store that cannot be read (a bucket out of reach)
                raise PackageError(f"cannot read the WARC files: {exc}") from None
            cdxj = "".join(sorted(_cdxj_line(entry) for entry in entries)).encode("utf-8")
            _add(package, resources, "indexes/index.cdx", cdxj)
            pages = _pages(catalog, [entry.capture for entry in entries])
            _add(package, resources, PAGES, pages)
            _add_json(package, resources, ALIASES, catalog.quote_aliases())
            _add_json(package, resources, SPEAKER_ALIASES, catalog.speaker_aliases())
            _add_json(package, resources, SPEAKER_MERGES, catalog.speaker_merge_rows())
            identifiers = catalog.speaker_identifier_rows()
            _add_json(package, resources, SPEAKER_IDENTIFIERS, identifiers)
            _add_json(package, resources, CAPTURE_SOURCES, _sources_of(entries))
            chain = "".join(
                json.dumps(entry, ensure_ascii=False) + "\n"
                for entry in catalog.correction_entries()
            )
            if chain:  # (an empty member is an invalid resource to WACZ validators)
                _add(package, resources, CORRECTIONS, chain.encode("utf-8"))
            datapackage = _datapackage(resources, title, created)
            package.writestr("datapackage.json", datapackage)
            digest = {"path": "datapackage.json", "hash": _sha256(datapackage)}
            package.writestr("datapackage-digest.json", json.dumps(digest, indent=2))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    files = tuple(r["path"] for r in resources if r["path"].startswith("archive/"))
    page_count = pages.count(b"\n") - 1
    log.info("exported %d captures in %s to %s", len(entries), ", ".join(files), out)
    return ExportSummary(out, len(entries), page_count, files)


def _copy_whole(
    paths: Paths, catalog: Catalog, package: zipfile.ZipFile, resources: list[dict]
) -> list[_Entry]:
    entries = []
    for stored in paths.storage.files():
        warc_file = stored.name
        member = f"archive/{warc_file}"
        hasher = hashlib.sha256()
        size = 0
        info = zipfile.ZipInfo(member, time.gmtime(stored.modified)[:6])
        with (
            paths.storage.open(warc_file) as read,
            package.open(info, "w", force_zip64=True) as write,
        ):
            while chunk := read.read(_COPY_CHUNK):
                hasher.update(chunk)
                write.write(chunk)
                size += len(chunk)
        resources.append(_resource(member, "sha256:" + hasher.hexdigest(), size))
        for offset, capture in catalog.captures_in_file(warc_file).items():
            entries.append(_Entry(capture, warc_file, offset, capture.warc_length))
    return entries


def _copy_part(
    paths: Paths,
    catalog: Catalog,
    captures: list[Capture],
    package: zipfile.ZipFile,
    resources: list[dict],
) -> list[_Entry]:
    chosen = {c.id: c for c in captures}
    for capture in captures:
        original = catalog.capture(capture.refers_to) if capture.refers_to else None
        if original is not None:
            chosen.setdefault(original.id, original)
    ordered = sorted(chosen.values(), key=_warc_position)
    entries = []
    buffer = io.BytesIO()
    for capture in ordered:
        try:
            data = _exchange(paths, capture)
        except WarcError as exc:
            raise PackageError(f"{exc} for {capture.id}: run onrecord verify") from None
        entries.append(_Entry(capture, PART_WARC, buffer.tell(), capture.warc_length))
        buffer.write(data)
    _add(package, resources, f"archive/{PART_WARC}", buffer.getvalue())
    return entries


def _warc_position(capture: Capture) -> tuple[str, int]:
    return capture.warc_file, capture.warc_offset


def _exchange(paths: Paths, capture: Capture) -> bytes:
    """The bytes of a capture's exchange: its record and the request record after it,
    read by range from wherever the file is kept."""
    storage, name, offset = paths.storage, capture.warc_file, capture.warc_offset
    with storage.open(name, offset) as stream:
        end = exchange_end(stream, name)
    return storage.read(name, offset, end - offset)


def _cdxj_line(entry: _Entry) -> str:
    """One CDXJ line, with the fields and order pywb and cdxj-indexer use."""
    capture = entry.capture
    block = {
        "url": capture.url,
        "mime": "warc/revisit" if capture.record_type == "revisit" else capture.content_type,
        "status": str(capture.status),
        "digest": capture.payload_digest,
        "length": str(entry.length),
        "offset": str(entry.offset),
        "filename": entry.filename,
    }
    if not block["mime"]:
        del block["mime"]
    import surt  # (with tldextract and requests, a third of a second: only exports need it)

    return f"{surt.surt(capture.url)} {ids.ts14(capture.captured_at)} {json.dumps(block)}\n"


def _pages(catalog: Catalog, captures: list[Capture]) -> bytes:
    titles = catalog.capture_titles(c.id for c in captures)
    lines = [{"format": PAGES_FORMAT, "id": "pages", "title": "All Pages"}]
    for capture in sorted(captures, key=_page_order):
        if capture.id not in titles:
            continue
        page = {"id": capture.id, "url": capture.url, "ts": _iso(capture.captured_at)}
        if titles[capture.id]:
            page["title"] = titles[capture.id]
        if capture.source:
            page["source"] = capture.source
        lines.append(page)
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()


def _page_order(capture: Capture) -> tuple[datetime, str]:
    return capture.captured_at, capture.id


def _datapackage(resources: list[dict], title: str, created: datetime) -> bytes:
    document = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": title,
        "created": _iso(created),
        "software": SOFTWARE,
        "resources": resources,
    }
    return json.dumps(document, indent=2).encode("utf-8")


def _sources_of(entries: list[_Entry]) -> dict[str, str]:
    """Capture id -> source name, for every exported capture a source made."""
    found = {entry.capture.id: entry.capture.source for entry in entries}
    return {capture_id: found[capture_id] for capture_id in sorted(found) if found[capture_id]}


def _add_json(
    package: zipfile.ZipFile, resources: list[dict], member: str, value: list | dict
) -> None:
    _add(package, resources, member, json.dumps(value, indent=0).encode("utf-8"))


def _add(package: zipfile.ZipFile, resources: list[dict], member: str, data: bytes) -> None:
    package.writestr(member, data)
    resources.append(_resource(member, _sha256(data), len(data)))


def _resource(member: str, digest: str, size: int) -> dict:
    return {"name": PurePosixPath(member).name, "path": member, "hash": digest, "bytes": size}


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- import -------------------------------------------------------------------------------


def import_file(store: Store, path: Path) -> ImportSummary:
    """Import a WACZ package or a WARC or ARC file (gzipped or not) into ``store``.

    Records that cannot be captures (torn, failing their digest, too large, not HTTP
    responses) are left out and counted by reason; a file that is empty, unreadable or a
    compression bomb is refused whole, before anything of it is stored."""
    summary = ImportSummary()
    try:
        if zipfile.is_zipfile(path):
            _import_wacz(store, path, summary)
        else:
            _import_warc(store, path, str(path), {}, summary, _Seen())
    except OSError as exc:
        raise PackageError(f"cannot read {path}: {exc}") from None
    except WarcError as exc:
        raise PackageError(str(exc)) from None
    log.info(
        "imported %s: %d new captures, %d already present, %d records skipped",
        path,
        len(summary.added),
        len(summary.present),
        len(summary.skipped),
    )
    return summary


def _import_wacz(store: Store, path: Path, summary: ImportSummary) -> None:
    """Check the package, then read each WARC member where it lies in the ZIP file (no
    scratch copy is made, so none can be left behind)."""
    with zipfile.ZipFile(path) as package:
        _refuse_zip_bombs(package, path)
        resources = _checked_resources(package, path)
        warcs = [name for name in resources if _is_warc_member(name)]
        if not warcs:
            raise PackageError(f"{path} holds no WARC file under archive/")
        sources = _sources(package, path, resources)
        corrections = _corrections(package, path) if CORRECTIONS in resources else []
        quote_aliases = _rows(package, path, ALIASES, resources)
        speaker_aliases = _rows(package, path, SPEAKER_ALIASES, resources)
        merges = _rows(package, path, SPEAKER_MERGES, resources)
        identifiers = _rows(package, path, SPEAKER_IDENTIFIERS, resources)
        seen = _Seen()
        for name in warcs:
            opener = _member_opener(package, name)
            _import_warc(store, opener, f"{path}!{name}", sources, summary, seen)
        catalog = store.catalog
        with catalog.transaction():
            for old_id, new_id in quote_aliases:
                catalog.add_quote_alias(old_id, new_id)
            for old_id, new_id in speaker_aliases:
                catalog.add_speaker_alias(old_id, new_id)
            merged = sum(catalog.import_speaker_merge(*merge) for merge in merges)
            for speaker_id, scheme, value in identifiers:
                catalog.set_speaker_identifier(speaker_id, scheme, value)
        if merges:
            log.info(
                "imported %d of the %d speaker merges of %s (the rest were here already, or"
                " would lead back to the speaker merged)",
                merged,
                len(merges),
                path,
            )
        if corrections:
            added = catalog.import_corrections(corrections)
            log.info("imported %d corrections from %s", added, path)


def _rows(
    package: zipfile.ZipFile, path: Path, member: str, resources: list[str]
) -> list[tuple[str, ...]]:
    """The rows of one of onrecord's members (:data:`ROWS`), checked before anything is
    imported; none when the package predates the member."""
    if member not in resources:
        return []
    columns = ROWS[member]
    rows = _json_member(package, path, member)
    if not isinstance(rows, list) or not all(_is_row(row, len(columns)) for row in rows):
        raise PackageError(f"{path}: {member} is not a list of [{', '.join(columns)}] rows")
    return [tuple(row) for row in rows]


def _is_row(row: object, width: int) -> bool:
    return (
        isinstance(row, list) and len(row) == width and all(isinstance(value, str) for value in row)
    )


def _json_member(package: zipfile.ZipFile, path: Path, member: str) -> object:
    try:
        return json.loads(package.read(member))
    except ValueError as exc:  # (a UnicodeDecodeError is one too)
        raise PackageError(f"{path}: {member} is not JSON: {exc}") from None


def _corrections(package: zipfile.ZipFile, path: Path) -> list[dict]:
    """The package's corrections chain, checked whole before anything is imported."""
    lines = package.read(CORRECTIONS).decode("utf-8", "replace").splitlines()
    try:
        entries = [json.loads(line) for line in lines if line.strip()]
    except ValueError as exc:
        raise PackageError(f"{path}: {CORRECTIONS} is not JSON Lines: {exc}") from None
    problems = chain_problems(entries)
    if problems:
        raise PackageError(f"{path}: its corrections chain is broken: {problems[0][1]}")
    return entries


def _member_opener(package: zipfile.ZipFile, name: str):
    return lambda: package.open(name)


def _refuse_zip_bombs(package: zipfile.ZipFile, path: Path) -> None:
    """Refuse a package with a member that would inflate past the caps, before reading
    any of it (WACZ stores its members uncompressed; a ZIP file reads no further than
    the size a member declares)."""
    for info in package.infolist():
        if info.compress_type == zipfile.ZIP_STORED or info.file_size <= INFLATION_FLOOR:
            continue
        if info.file_size > MAX_INFLATION * max(info.compress_size, 1):
            raise PackageError(
                f"{path} is a zip bomb: {info.filename} inflates to {info.file_size} bytes "
                f"from {info.compress_size}; refused, nothing imported"
            )


def _checked_resources(package: zipfile.ZipFile, path: Path) -> list[str]:
    """The members datapackage.json lists, each checked against its size and digest."""
    try:
        datapackage = json.loads(package.read("datapackage.json"))
        resources = datapackage["resources"]
    except (KeyError, ValueError, TypeError) as exc:
        raise PackageError(f"{path} is not a WACZ package: {exc}") from None
    if not isinstance(resources, list):
        raise PackageError(f"{path}: the resources in datapackage.json are not a list")
    names = []
    for resource in resources:
        name = _resource_path(resource, path)
        algorithm, _, expected = resource.get("hash", "").partition(":")
        try:
            hasher = hashlib.new(algorithm or "sha256")
            size = 0
            with package.open(name) as read:
                while chunk := read.read(_COPY_CHUNK):
                    hasher.update(chunk)
                    size += len(chunk)
        except (KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise PackageError(f"{path}: {name} is missing or damaged: {exc}") from None
        if expected and hasher.hexdigest() != expected:
            raise PackageError(f"{path}: {name} does not match its digest in datapackage.json")
        if "bytes" in resource and resource["bytes"] != size:
            raise PackageError(
                f"{path}: {name} is {size} bytes, datapackage.json says {resource['bytes']}"
            )
        names.append(name)
    return names


def _resource_path(resource: object, path: Path) -> str:
    """The member a datapackage.json resource lists, once the resource is known to be an
    object with a path (and a hash, if any, that is a string)."""
    if not isinstance(resource, dict):
        raise PackageError(
            f"{path}: datapackage.json lists a resource that is not an object: "
            f"{json.dumps(resource):.60}"
        )
    name = resource.get("path")
    if not isinstance(name, str) or not name:
        raise PackageError(
            f"{path}: datapackage.json lists a resource with no path: {json.dumps(resource):.60}"
        )
    if not isinstance(resource.get("hash", ""), str):
        raise PackageError(f"{path}: the hash of {name} in datapackage.json is not a string")
    return name


def _is_warc_member(name: str) -> bool:
    return name.startswith("archive/") and name.endswith((".warc", ".warc.gz"))


def _sources(package: zipfile.ZipFile, path: Path, resources: list[str]) -> dict[str, str]:
    """Capture id -> source name: every capture's, or in a package made before
    capture-sources.json, those of the pages it lists."""
    pages = _page_sources(package, path) if PAGES in resources else {}
    if CAPTURE_SOURCES not in resources:
        return pages
    found = _json_member(package, path, CAPTURE_SOURCES)
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise PackageError(f"{path}: {CAPTURE_SOURCES} is not a {{capture id: source}} object")
    return found


def _page_sources(package: zipfile.ZipFile, path: Path) -> dict[str, str]:
    """Capture id -> source name, from the pages an onrecord export lists (the whole file
    checked, so that a damaged one refuses the package)."""
    found = {}
    for number, line in enumerate(package.read(PAGES).splitlines(), 1):
        if not line.strip():
            continue
        try:
            page = json.loads(line)
        except ValueError as exc:
            raise PackageError(f"{path}: line {number} of {PAGES} is not JSON: {exc}") from None
        if not isinstance(page, dict):
            raise PackageError(f"{path}: line {number} of {PAGES} is not a JSON object")
        if page.get("id") and isinstance(page.get("source"), str):
            found[page["id"]] = page["source"]
    return found


def _import_warc(
    store: Store,
    source: Path | Opener,
    label: str,
    sources: dict[str, str],
    summary: ImportSummary,
    seen: _Seen,
) -> None:
    for found in read_exchanges(source, label):
        if found.exchange is None:
            line = f"{label}: {found.record_id or found.record_type}: {found.problem}"
            summary.skip(found.kind or "unreadable", line)
            continue
        _save(store, found, sources, summary, seen, f"{label}: {found.record_id}")


def _save(
    store: Store,
    found: ForeignRecord,
    sources: dict[str, str],
    summary: ImportSummary,
    seen: _Seen,
    label: str,
) -> None:
    exchange = found.exchange
    revisit_of = None
    if found.record_type == "revisit":
        revisit_of = _original(store, found, seen)
        if revisit_of is None:
            summary.skip(
                "revisits of captures not archived",
                f"{label}: the capture this revisit repeats is not archived",
            )
            return
        digest = revisit_of.payload_digest
    else:
        digest = "sha256:" + hashlib.sha256(exchange.payload).hexdigest()
    capture_id = ids.capture_id(exchange.url, exchange.fetched_at, digest)
    if found.record_id:
        seen.captures[found.record_id] = capture_id
    written = _digest_key(found.payload_digest) if revisit_of is None else None
    if written is not None:
        seen.digests[capture_id] = written
    if store.catalog.capture(capture_id) is not None:
        summary.present.append(capture_id)
        return
    source = sources.get(capture_id)
    capture = store.save_capture(
        exchange,
        source=source,
        revisit_of=revisit_of,
        rendering=found.rendering,
        fetched=found.fetched,
    )
    summary.added.append(capture.id)


def _original(store: Store, found: ForeignRecord, seen: _Seen) -> Capture | None:
    """The archived response a revisit record repeats, looked for as pywb looks: by the
    record id it names (WARC-Refers-To, all wget writes); by its WARC-Refers-To-Target-URI
    and -Date, the date compared at the precision it was written in; failing both (older
    Heritrix writes neither), the latest capture of the URL, no later than the revisit,
    with the payload digest the revisit names. None when the original is not archived."""
    catalog = store.catalog
    if found.refers_to_id:
        original = _of_record(catalog, found.refers_to_id.strip(), seen)
        if original is not None:
            return original
    if not found.refers_to_url:
        return None
    try:
        canonical = ids.canonical_url(found.refers_to_url)
    except ids.InvalidURL:
        return None
    responses = [c for c in catalog.captures_of_url(canonical) if c.record_type == "response"]
    if found.refers_to_date is not None:
        dated = [c for c in responses if _within(c.captured_at, found.refers_to_date)]
        exact = [c for c in dated if c.captured_at == found.refers_to_date]
        if len(exact or dated) == 1:
            return (exact or dated)[0]
        if dated:  # several in the second it names: the one with the payload, or the last
            return _latest_with_digest(store, found, dated, seen) or dated[-1]
    return _latest_with_digest(store, found, responses, seen)


def _of_record(catalog: Catalog, record_id: str, seen: _Seen) -> Capture | None:
    """The response archived from the record ``record_id``: one this import read, or one
    onrecord wrote (a revisit's own original, when the record was a revisit)."""
    if record_id in seen.captures:
        capture = catalog.capture(seen.captures[record_id])
    else:
        capture = catalog.capture_of_record(record_id)
    if capture is not None and capture.record_type == "revisit" and capture.refers_to:
        capture = catalog.capture(capture.refers_to)
    if capture is None or capture.record_type != "response":
        return None
    return capture


def _within(moment: datetime, written: datetime) -> bool:
    """Whether ``moment`` (a capture's WARC-Date) is the date ``written``, taken at the
    precision it was written in: a WARC-Refers-To-Date of whole seconds names the
    second, though the original's WARC-Date (WARC 1.1) had a fraction of one.

    >>> at = datetime(2026, 1, 5, 10, 0, 0, 123456, tzinfo=UTC)
    >>> [_within(at, at.replace(microsecond=m)) for m in (0, 120000, 123456, 124000)]
    [True, True, True, False]
    """
    digits = f"{written.microsecond:06d}".rstrip("0")
    return written <= moment < written + timedelta(microseconds=10 ** (6 - len(digits)))


def _latest_with_digest(
    store: Store, found: ForeignRecord, candidates: list[Capture], seen: _Seen
) -> Capture | None:
    """The latest of ``candidates`` (oldest first) made no later than the revisit whose
    payload has the digest the revisit names."""
    wanted = _digest_key(found.payload_digest)
    if wanted is None or found.exchange is None:
        return None
    for capture in reversed(candidates):
        if capture.captured_at > found.exchange.fetched_at:
            continue
        if _has_digest(store, capture, wanted, seen):
            return capture
    return None


def _has_digest(store: Store, capture: Capture, wanted: tuple[str, bytes], seen: _Seen) -> bool:
    """Whether the payload of ``capture`` has the digest ``wanted``: the catalog's sha256,
    the digest its record had in a file this import read, or else its payload read back."""
    if wanted in (seen.digests.get(capture.id), _digest_key(capture.payload_digest)):
        return True
    algorithm, value = wanted
    if algorithm == "sha256":  # the catalog's digest was of the same bytes
        return False
    try:
        payload = store.read(capture).raw_payload
    except WarcError as exc:
        log.warning("cannot read %s to compare its payload digest: %s", capture.id, exc)
        return False
    return hashlib.new(algorithm, payload).digest() == value


def _digest_key(digest: str | None) -> tuple[str, bytes] | None:
    """A WARC payload digest (``algorithm:value``, in base32 or hex as writers give it)
    as the hashlib name and the digest's bytes; None for one onrecord cannot compute.

    >>> _digest_key("sha1:2JMJ7L5RSW0YVB") is None  # too short
    True
    >>> _digest_key("sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ") == _digest_key(
    ...     "SHA-1:da39a3ee5e6b4b0d3255bfef95601890afd80709"
    ... )
    True
    """
    algorithm, _, value = (digest or "").strip().partition(":")
    algorithm = algorithm.lower().replace("-", "")
    value = value.strip()
    try:
        size = hashlib.new(algorithm).digest_size
    except ValueError:
        return None
    for decode in (bytes.fromhex, _base32):
        try:
            raw = decode(value)
        except ValueError:  # (binascii.Error is one)
            continue
        if len(raw) == size:
            return algorithm, raw
    return None


def _base32(value: str) -> bytes:
    return base64.b32decode(value.upper() + "=" * (-len(value) % 8))
