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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archive import config
from archive.catalog import Catalog, CatalogError
from archive.catalog.copy import copy_catalog, row_counts
from archive.catalog.engine import catalog_url, shown
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
    ``warcs`` (either may be left out), then make its settings name them."""
    paths = open_paths(root, writable=True)
    if catalog is None and warcs is None:
        raise MigrateError("say where to move the archive: --catalog URL, --warcs URL or both")
    moved_warcs = copy_warcs(root, warcs, progress) if warcs is not None else None
    target_url = catalog_url(root, catalog) if catalog is not None else paths.catalog
    try:
        with Catalog.open(paths.catalog) as source:
            if catalog is None:
                return Moved(source.name, row_counts(source), source.log_head(), moved_warcs)
            with Catalog.open(target_url, create=True) as target:
                copy_catalog(source, target, progress)
                if target.log_head() != source.log_head():
                    raise MigrateError(f"the capture log of {target.name} differs after the copy")
                moved = Moved(target.name, row_counts(target), target.log_head(), moved_warcs)
    except CatalogError as exc:
        raise MigrateError(str(exc)) from None
    config.set_values(root, {"catalog": catalog})
    log.info("moved the catalog of %s to %s", root, shown(target_url))
    return moved


def copy_warcs(root: Path, warcs: str, progress: Progress | None) -> str:
    """Copy every WARC file of the archive to the store ``warcs``. This needs the WARC
    storage layer (``archive/storage.py``), which is not on this branch yet."""
    raise MigrateError(
        f"moving WARC files to {warcs} needs the WARC storage layer, which this onrecord "
        "lacks: move the catalog alone (--catalog URL)"
    )
