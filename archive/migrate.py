"""Moving an archive's catalog (and WARC files) to other engines: ``onrecord migrate``.

An SQLite + folder archive moves to, say, PostgreSQL and a bucket with every id, link
and capture-log entry unchanged: the catalog is copied row for row
(:mod:`archive.catalog.copy`), the WARC files byte for byte
(:func:`archive.storage.copy_files`), and only when each is complete do the archive's
settings point at its new place. A move that is interrupted
is resumed by running it again; a target that already holds another archive is refused
before anything is written to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from archive import config
from archive.catalog import Catalog, CatalogError
from archive.catalog.copy import copy_catalog, row_counts
from archive.catalog.engine import catalog_url, shown
from archive.storage import StorageError, copy_files, open_storage
from archive.store import ArchiveError, open_paths

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]


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
    if warcs is not None:
        check_warc_target(root, warcs)
    try:
        with Catalog.open(paths.catalog) as source:
            if catalog is not None and target_url != paths.catalog:  # else moved already
                with Catalog.open(target_url, create=True) as target:
                    copy_catalog(source, target, progress)
                    if target.log_head() != source.log_head():
                        raise MigrateError(f"the capture log of {target.name} differs")
                config.set_values(root, {"catalog": catalog})
                log.info("moved the catalog of %s to %s", root, shown(target_url))
    except CatalogError as exc:
        raise MigrateError(str(exc)) from None
    moved_warcs = move_warcs(root, warcs, progress) if warcs is not None else None
    if moved_warcs:
        log.info("moved the WARC files of %s to %s", root, moved_warcs)
    with Catalog.open(target_url) as moved:
        return Moved(moved.name, row_counts(moved), moved.log_head(), moved_warcs)


def move_warcs(root: Path, warcs: str, progress: Progress | None) -> str:
    """Move the archive's WARC files to the store ``warcs`` (a folder or a bucket), byte
    for byte, and make the settings name it; return where they are now.

    Each file is copied and confirmed in the new store (:func:`archive.storage.copy_files`,
    which refuses a store holding another archive's files before copying anything); then
    the setting changes, and a bucket store lets go of the local copies it confirmed."""
    settings = config.load(root)
    try:
        source = open_storage(root, settings)
        target = open_storage(root, {**settings, "warcs": warcs})
        if target.location != source.location:
            target.local.mkdir(parents=True, exist_ok=True)
            target.check()
            copy_files(source, target, lambda names: _counted(names, progress))
            config.set_values(root, {"warcs": warcs})
        failed = target.finish_pending()
    except StorageError as exc:
        raise MigrateError(str(exc)) from None
    if failed:
        raise MigrateError(
            f"{len(failed)} WARC files are still in the archive's warcs/ folder, not yet in "
            f"{target.location} (they are read from there meanwhile): run migrate again"
        )
    return target.location


def check_warc_target(root: Path, warcs: str) -> None:
    """Refuse, before anything moves, a WARC store holding files this archive lacks."""
    settings = config.load(root)
    try:
        source = open_storage(root, settings)
        target = open_storage(root, {**settings, "warcs": warcs})
        if target.location != source.location and target.local.is_dir():
            foreign = sorted(set(target.names()) - set(source.names()))
            if foreign:
                raise MigrateError(
                    f"{target.location} already holds {len(foreign)} WARC files this archive "
                    f"does not have (such as {foreign[0]}): it belongs to another archive; "
                    "choose an empty place"
                )
    except StorageError as exc:
        raise MigrateError(str(exc)) from None


def _counted(names: list[str], progress: Progress | None) -> Iterator[str]:
    for name in names:
        yield name
        if progress:
            progress("WARC files", 1)
