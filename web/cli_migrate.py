"""The ``onrecord migrate`` command: move an archive's catalog (and WARC files) to other
engines, e.g. from SQLite and a folder to PostgreSQL and a bucket (archive/migrate.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archive import config as archive_config
from archive.catalog import CatalogError
from archive.migrate import migrate_archive
from archive.store import ArchiveError
from web.cli_options import archive_option


@click.command("migrate")
@click.option(
    "--catalog",
    "catalog",
    metavar="URL",
    help="The catalog to move to, e.g. postgresql://USER@HOST:5432/DATABASE (empty or new).",
)
@click.option(
    "--warcs", "warcs", metavar="URL", help="Where to move the WARC files: a folder or s3://..."
)
@archive_option
def migrate_command(catalog: str | None, warcs: str | None, archive_dir: Path) -> None:
    """Move the archive to another catalog and WARC store, every id and link unchanged;
    run it again to resume a move that was interrupted."""
    counted: dict[str, int] = {}

    def progress(table: str, rows: int) -> None:
        counted[table] = counted.get(table, 0) + rows
        if sys.stderr.isatty():
            click.echo(f"\r{table}: {counted[table]} rows", nl=False, err=True)

    try:
        moved = migrate_archive(archive_dir, catalog=catalog, warcs=warcs, progress=progress)
    except (ArchiveError, CatalogError, archive_config.ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    if sys.stderr.isatty():
        click.echo(err=True)
    rows = ", ".join(f"{n} {table}" for table, n in moved.rows.items() if n)
    click.echo(f"catalog: {moved.catalog} ({rows or 'empty'})")
    if moved.warcs:
        click.echo(f"WARC files: {moved.warcs}")
    click.echo(f"capture log head: #{moved.log_head[0]} {moved.log_head[1]}")
    click.echo(f"the archive's settings ({archive_dir / archive_config.CONFIG_FILE}) name them")
