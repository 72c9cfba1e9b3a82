"""Moving an archive's catalog (and WARC files) to other engines: ``onrecord migrate``.

An SQLite + folder archive moves to, say, PostgreSQL and a bucket with every id, link
and capture-log entry unchanged: the catalog is copied row for row
(:mod:`archive.catalog.copy`), the WARC files byte for byte, and only when both are
complete do the archive's settings point at the new places. A move that is interrupted
is resumed by running it again; a target that already holds another archive is refused
before anything is written to it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archive import config
from archive.catalog import Catalog, CatalogError
from archive.catalog.copy import copy_catalog, row_counts
from archive.catalog.engine import catalog_url, shown
from archive.storage import StorageError, WarcStorage, open_storage
from archive.store import ArchiveError, open_paths

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
COPY_CHUNK = 1 << 20


class MigrateError(ArchiveError):
    """A move that cannot be made (or finished): the archive is left as it was."""


@dataclass(frozen=True)
class Moved:
    catalog: str  # where the catalog now is (without password)
    rows: dict[str, int]
    log_head: tuple[int, str]
    warcs: str | None


def migrate_archive(
    root: Path,
    *,
    catalog: str | None = None,
    warcs: str | None = None,
    progress: Progress | None = None,
) -> Moved:
    """Move the archive at ``root`` to the catalog URL ``catalog`` and the WARC store
    ``warcs`` (either may be left out), then make its settings name them. A part that
    is where it should be already is left as it is, so running the same move again
    finishes one that was interrupted and changes nothing after one that completed."""
    paths = open_paths(root, writable=True)
    if catalog is None and warcs is None:
        raise MigrateError("say where to move the archive: --catalog URL, --warcs URL or both")
    target_url = catalog_url(root, catalog) if catalog is not None else paths.catalog
    try:
        with Catalog.open(paths.catalog) as source:
            known = source.warc_files()
            if catalog is not None and target_url != paths.catalog:  # else moved already
                with Catalog.open(target_url, create=True) as target:
                    copy_catalog(source, target, progress)
                    if target.log_head() != source.log_head():
                        raise MigrateError(f"the capture log of {target.name} differs")
                config.set_values(root, {"catalog": catalog})
                log.info("moved the catalog of %s to %s", root, shown(target_url))
    except CatalogError as exc:
        raise MigrateError(str(exc)) from None
    moved_warcs = move_warcs(root, warcs, known, progress) if warcs is not None else None
    if moved_warcs:
        log.info("moved the WARC files of %s to %s", root, moved_warcs)
    with Catalog.open(target_url) as moved:
        return Moved(moved.name, row_counts(moved), moved.log_head(), moved_warcs)


def move_warcs(root: Path, warcs: str, known: set[str], progress: Progress | None) -> str:
    """Move the archive's WARC files to the store ``warcs`` (a folder or a bucket), byte
    for byte, and make the settings name it; return where they are now.

    Files go first into the new store's local folder (when it is not where they are),
    each copied whole under a temporary name and then renamed, so an interrupted copy
    leaves no half file under a WARC's name; then the setting changes and the store
    finishes every local file (a bucket store uploads and confirms each, keeping any it
    could not upload for the next run). A store holding a WARC file this archive does not
    know is refused before anything is written to it."""
    settings = config.load(root)
    try:
        source = open_storage(root, settings)
        target = open_storage(root, {**settings, "warcs": warcs})
        target.local.mkdir(parents=True, exist_ok=True)
        target.check()
        ours = set(source.names()) | known
        foreign = sorted(set(target.names()) - ours)
        if foreign:
            raise MigrateError(
                f"{target.location} already holds WARC files of a different archive "
                f"({', '.join(foreign[:3])}{'…' if len(foreign) > 3 else ''}): refusing "
                "to mix them; give an empty folder or prefix"
            )
        if target.location != source.location and target.local != source.local:
            for name in source.names():
                _copy_file(source, target.local, name)
                if progress:
                    progress("WARC files", 1)
        config.set_values(root, {"warcs": warcs})
        failed = target.finish_pending()
    except StorageError as exc:
        raise MigrateError(str(exc)) from None
    if failed:
        raise MigrateError(
            f"{len(failed)} WARC files could not be put in {target.location} (they are kept "
            "in the archive's warcs/ folder and read from there): run migrate again"
        )
    return target.location


def _copy_file(source: WarcStorage, folder: Path, name: str) -> None:
    """Copy one WARC file into ``folder`` unless a whole copy is there already."""
    size = source.size(name)
    path = folder / name
    if path.exists() and path.stat().st_size == size:
        return
    partial = folder / f".{name}.partial"
    with source.open(name) as stream, open(partial, "wb") as out:
        while chunk := stream.read(COPY_CHUNK):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if partial.stat().st_size != size:
        raise MigrateError(f"copying {name} gave {partial.stat().st_size} bytes, not {size}")
    os.replace(partial, path)
