"""The ``onrecord verify``, ``export`` and ``import`` commands.

``verify`` exits 0 only when the WARC files, the catalog, the capture log and the index
agree; ``--repair`` rebuilds each lower layer from the one above it (catalog rows from
the WARC files, the index from the catalog) and never changes a WARC byte, except to move
a torn tail into ``quarantine/``. ``export`` writes a WACZ package; ``import`` takes WACZ
packages and WARC files made by other tools.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from archive import wacz
from archive.catalog import Catalog, CatalogError, EmptyCatalog
from archive.store import ArchiveError, Paths, open_paths
from archive.verify import Problem, Verification, Verifier, prove_capture, repair_catalog
from archive.warc import WarcError
from web.cli_options import (
    archive_option,
    archive_sources,
    open_catalog,
    open_work,
    progress,
)

if TYPE_CHECKING:
    from index import check

# The index (Whoosh) and the extractor (trafilatura, pypdf) are imported where they are
# used: most exports need neither.


def _index_problems(diff: check.IndexDiff) -> list[Problem]:
    return [
        *(
            Problem("index", i, "is in the catalog but not in the index", True)
            for i in diff.missing
        ),
        *(Problem("index", i, "is in the index but not in the catalog", True) for i in diff.extra),
        *(Problem("index", i, "is in the index more than once", True) for i in diff.repeated),
        *(
            Problem("index", f"shard {shard}", f"cannot be read ({error})", True)
            for shard, error in diff.broken
        ),
    ]


def _check(paths: Paths, catalog: Catalog) -> tuple[Verification, check.IndexDiff]:
    from index import check

    verifier = Verifier(paths, catalog)
    try:
        for warc_file in progress(verifier.warc_files(), "verifying"):
            verifier.check_file(warc_file)
        found = verifier.finish()
    except WarcError as exc:  # the list of files is in a store that cannot be reached
        raise click.ClickException(f"cannot verify the WARC files: {exc}") from None
    documents, quotes = catalog.indexable_ids()
    diff = check.compare(paths.index, documents, quotes - catalog.not_quote_ids())
    found.problems += _index_problems(diff)
    return found, diff


def _repair(archive_dir: Path) -> tuple[Verification, check.IndexDiff, int]:
    """Reconcile, mend the catalog, process what it gained, rebuild the index; check again.

    Nothing is touched while any problem is beyond repair: a record that no longer matches
    its row is evidence, and the store's reconcile (which trusts the catalog's record
    lengths) could move the bytes after it into quarantine."""
    if _empty_catalog(archive_dir):  # no rows to lose: give it its tables, then rebuild
        Catalog.open(open_paths(archive_dir, writable=True).catalog, create=True).close()
    else:
        paths, catalog = open_catalog(archive_dir)
        with catalog:
            found, diff = _check(paths, catalog)
        beyond = [p for p in found.problems if not p.repairable]
        if beyond:
            click.echo(f"repairing nothing: {len(beyond)} problems need a person to look first")
            return found, diff, 0
    from web import indexing

    with open_work(archive_dir) as work:  # opening reconciles torn tails and the log
        store = work.store
        found, diff = _check(store.paths, store.catalog)
        for warc_file, end in found.torn:  # files in a bucket (reconcile cut local ones)
            saved = store.paths.storage.repair_torn(warc_file, end, store.paths.quarantine)
            if saved is not None:
                click.echo(f"moved the torn tail of {warc_file} into {saved}")
        touched = repair_catalog(store.catalog, found)
        outcome = work.process_pending()
        if touched or outcome.changed_documents or not diff.clean:
            try:
                count = indexing.rebuild(store.paths, store.catalog)
            except indexing.IndexBusy as exc:  # the catalog is mended all the same
                click.echo(f"the index was not rebuilt: {exc}")
            else:
                click.echo(f"rebuilt the index: {count} records")
        repaired = len(found.problems)
        found, diff = _check(store.paths, store.catalog)
    return found, diff, repaired - len(found.problems)


def _empty_catalog(archive_dir: Path) -> bool:
    try:
        paths = open_paths(archive_dir, writable=False)
        with Catalog.open(paths.catalog, migrate=False):
            return False
    except EmptyCatalog:
        return True
    except (ArchiveError, CatalogError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@archive_option
@click.option(
    "--repair",
    is_flag=True,
    help="Rebuild catalog rows from the WARC files and the index from the catalog.",
)
@click.option(
    "--capture",
    "capture_id",
    metavar="ID",
    help="Check one capture; print its capture-log position and the head.",
)
def verify(archive_dir: Path, repair: bool, capture_id: str | None) -> None:
    """Check that WARC files, catalog, capture log and index agree (exit 0 when whole)."""
    if capture_id:
        _verify_capture(archive_dir, capture_id)
        return
    if repair:
        found, diff, mended = _repair(archive_dir)
        click.echo(f"repaired {mended} problems")
    else:
        paths, catalog = open_catalog(archive_dir)
        with catalog:
            found, diff = _check(paths, catalog)
    for problem in found.problems:
        click.echo(str(problem))
    click.echo(
        f"{found.records} records in {found.files} WARC files, "
        f"{diff.indexed} index records: "
        + (
            "the archive is whole"
            if not found.problems
            else f"{len(found.problems)} problems"
            + (
                " (run onrecord verify --repair)"
                if not repair and any(p.repairable for p in found.problems)
                else ""
            )
        )
    )
    if found.problems:
        raise click.exceptions.Exit(1)


def _verify_capture(archive_dir: Path, capture_id: str) -> None:
    paths, catalog = open_catalog(archive_dir)
    with catalog:
        proof = prove_capture(paths, catalog, capture_id)
    if proof is None:
        raise click.ClickException(f"no capture {capture_id} in this archive")
    capture = proof.capture
    click.echo(f"capture   {capture.id}  {capture.url}")
    click.echo(f"captured  {capture.captured_at.isoformat()}  {capture.payload_digest}")
    click.echo(f"record    {capture.warc_file}:{capture.warc_offset}  {capture.warc_record_id}")
    if proof.position is not None:
        click.echo(f"log       position {proof.position}  entry {proof.entry_hash}")
    click.echo(f"head      position {proof.head_position}  entry {proof.head_hash}")
    for problem in proof.problems:
        click.echo(str(problem))
    if not proof.ok:
        raise click.exceptions.Exit(1)
    click.echo(
        f"ok: record, catalog row and log entry agree, and the chain leads from position "
        f"{proof.position} to the head"
    )


@click.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@archive_option
@click.option("--source", help="Only the captures of this source.")
@click.option("--query", help="Only the captures of the documents this search finds.")
def export_command(out: Path, archive_dir: Path, source: str | None, query: str | None) -> None:
    """Write the archive (or one source, or a search's documents) as a WACZ package."""
    if source and query:
        raise click.UsageError("give --source or --query, not both")
    paths, catalog = open_catalog(archive_dir)
    with catalog:
        captures = None
        title = "onrecord archive"
        if source:
            captures = catalog.captures_of_source(source)
            title = f"onrecord archive: source {source}"
        elif query:
            captures = catalog.captures_of_documents(_found_documents(paths, catalog, query))
            title = f"onrecord archive: search {query}"
        if captures is not None and not captures:
            raise click.ClickException("nothing to export: no capture matches")
        try:
            summary = wacz.export_wacz(paths, catalog, out, captures, title=title)
        except (wacz.PackageError, OSError) as exc:
            raise click.ClickException(f"cannot export to {out}: {exc}") from None
    click.echo(f"wrote {summary.captures} captures and {summary.pages} pages to {summary.path}")


def _found_documents(paths: Paths, catalog: Catalog, query: str) -> set[str]:
    """The documents of every result of a search (an export: every result read, none
    estimated)."""
    from web import indexing

    try:
        with indexing.searching(paths, catalog) as searcher:
            return {hit.document_id for hit in searcher.every_hit(query)}
    except indexing.QueryError as exc:
        raise click.ClickException(f"cannot search for that: {exc}") from None


@click.command("import")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@archive_option
def import_command(files: tuple[Path, ...], archive_dir: Path) -> None:
    """Import WACZ packages and WARC files; extract, quote and index what they hold."""
    added = present = skipped = damaged = 0
    with open_work(archive_dir) as work:
        store = work.store
        for path in progress(list(files), "importing"):
            try:
                summary = wacz.import_file(store, path)
            except wacz.PackageError as exc:
                raise click.ClickException(str(exc)) from None
            reasons = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.reasons.items()))
            click.echo(
                f"{path}: {len(summary.added)} new captures, {len(summary.present)} already "
                f"archived, {len(summary.skipped)} records skipped"
                + (f" ({reasons})" if reasons else "")
            )
            for reason in summary.skipped:
                click.echo(f"  skipped {reason}")
            added += len(summary.added)
            present += len(summary.present)
            skipped += len(summary.skipped)
            damaged += summary.damaged
        outcome = work.process_pending(archive_sources(archive_dir))
        work.index()
    click.echo(
        f"imported {added} captures ({present} already archived, {skipped} skipped): "
        f"{outcome.new_versions} new versions in {len(outcome.changed_documents)} documents"
    )
    if damaged:
        raise click.ClickException(
            f"{damaged} damaged records (torn, or failing their digest) were refused, "
            "not imported: see the skipped lines above"
        )
