"""What the `onrecord` commands share: the --archive option, opening an archive (for
reading, or for capture work), its settings, and progress that suits the terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from archive import config as archive_config
from archive.catalog import Catalog, CatalogError, EmptyCatalog
from archive.store import ArchiveError, Paths, Store, open_paths
from scrapers.sources import Source, SourceError, load_sources

if TYPE_CHECKING:
    from scrapers.http import HttpConfig
    from web.work import Work


def archive_option(function: Callable) -> Callable:
    return click.option(
        "--archive",
        "archive_dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="ONRECORD_ARCHIVE",
        default="archive",
        show_default=True,
        help="The archive folder (also $ONRECORD_ARCHIVE).",
    )(function)


def open_store(archive_dir: Path) -> Store:
    try:
        return Store.open(archive_dir)
    except (ArchiveError, CatalogError, archive_config.ConfigError) as exc:
        raise click.ClickException(str(exc)) from None


def open_catalog(archive_dir: Path) -> tuple[Paths, Catalog]:
    """Open an archive's catalog for reading; an empty one (a 0-byte file, or one without
    tables) is one sentence saying how to rebuild it, not a traceback at the first query."""
    try:
        paths = open_paths(archive_dir, writable=False)
        catalog = Catalog.open(paths.catalog, migrate=False)
    except EmptyCatalog as exc:
        raise click.ClickException(f"{exc} --archive {archive_dir}") from None
    except (ArchiveError, CatalogError) as exc:
        raise click.ClickException(str(exc)) from None
    return paths, catalog


def settings(archive_dir: Path | None) -> dict:
    """The archive's settings, or one sentence naming the bad one."""
    try:
        return archive_config.load(archive_dir)
    except archive_config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


# web.work is imported where it is used: it brings the extractor (trafilatura, pypdf) and
# the index (Whoosh), which commands that capture nothing never load.


def http_config(archive_dir: Path | None, **overrides) -> HttpConfig:
    """The polite session's settings of the archive (webhooks' deliveries)."""
    from scrapers.http import HttpConfig

    return HttpConfig.from_settings(settings(archive_dir), **overrides)


def open_work(archive_dir: Path) -> Work:
    """The archive opened for capture work, or one sentence saying why it cannot be."""
    from web.work import Work

    try:
        return Work.open(archive_dir, settings(archive_dir))
    except (ArchiveError, CatalogError, archive_config.ConfigError) as exc:
        raise click.ClickException(str(exc)) from None


def browser_failure(exc: Exception) -> click.ClickException:
    return click.ClickException(f"cannot start the browser: {exc}")


def progress(items: list, label: str) -> Iterable:
    """A progress bar on a terminal; the items as they are otherwise (logs tell)."""
    if sys.stderr.isatty() and items:
        with click.progressbar(items, label=label, file=sys.stderr) as bar:
            yield from bar
    else:
        yield from items


def archive_sources(archive_dir: Path) -> list[Source]:
    """The source definitions in the archive's sources folder."""
    try:
        folder = archive_dir / archive_config.load(archive_dir)["sources"]
        return load_sources([folder]) if folder.is_dir() else []
    except (SourceError, archive_config.ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
