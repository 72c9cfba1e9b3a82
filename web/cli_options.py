"""What the `onrecord` commands share: the --archive option, opening an archive, the
HTTP settings, and progress that suits the terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import click

from archive import config as archive_config
from archive.catalog import Catalog, CatalogError
from archive.store import ArchiveError, Paths, Store, open_paths
from scrapers.http import HttpConfig
from scrapers.sources import Source, SourceError, load_sources


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
    try:
        paths = open_paths(archive_dir, writable=False)
        return paths, Catalog.open(paths.catalog, migrate=False)
    except (ArchiveError, CatalogError) as exc:
        raise click.ClickException(str(exc)) from None


def http_config(archive_dir: Path | None, **overrides) -> HttpConfig:
    try:
        settings = archive_config.load(archive_dir)
    except archive_config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    values = {
        "allow_private": settings["allow_private"],
        "delay": settings["delay"],
        "max_bytes": settings["max_bytes"],
        "read_timeout": settings["timeout"],
    }
    if settings["user_agent"]:
        values["user_agent"] = settings["user_agent"]
    values.update(overrides)
    return HttpConfig(**values)


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
