"""What the `onrecord` commands share: the --archive option, opening an archive, the
HTTP and browser settings, and progress that suits the terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from archive import config as archive_config
from archive.catalog import Catalog, CatalogError, EmptyCatalog
from archive.catalog.leases import HostLeases
from archive.store import ArchiveError, Paths, Store, open_paths
from scrapers.errors import FetchError
from scrapers.http import HttpConfig, PoliteSession
from scrapers.sources import Source, SourceError, load_sources

if TYPE_CHECKING:
    from scrapers.browser import BrowserSession


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


def http_config(archive_dir: Path | None, **overrides) -> HttpConfig:
    try:
        settings = archive_config.load(archive_dir)
    except archive_config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return HttpConfig.from_settings(settings, **overrides)


def host_leases(store: Store) -> HostLeases:
    """The turns at hosts that every process fetching into this archive's catalog shares
    (so that two commands, or workers, scraping at once stay polite together)."""
    try:
        return HostLeases(store.paths.catalog)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None


def browser_session(archive_dir: Path | None, http: PoliteSession) -> BrowserSession:
    """A browser for browser captures, with the archive's settings, or a clear error."""
    # Imported here: Playwright and warcprox take over a second to import, and only
    # browser captures need them (every other command starts without).
    from scrapers.browser import BrowserSession, config_from_settings

    try:
        return BrowserSession(http, config_from_settings(archive_config.load(archive_dir)))
    except (FileNotFoundError, FetchError) as exc:
        raise click.ClickException(f"cannot start the browser: {exc}") from None


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
