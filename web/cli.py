"""The ``onrecord`` command.

Every command takes ``--archive DIR`` (default ``$ONRECORD_ARCHIVE``, else ``./archive``).
User errors exit non-zero with one clear sentence; progress bars appear on a terminal,
plain log lines otherwise.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import math
import resource
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from archive import config as archive_config
from archive.catalog import Catalog, CatalogError
from archive.catalog.engine import DISCONNECTED
from archive.ids import InvalidURL, canonical_url
from archive.store import ArchiveError, init_archive, open_paths
from scrapers.errors import FetchError, SourceError
from scrapers.sources import Source, load_sources, load_valid_sources
from web import links
from web.cli_accounts import alerts, corrections, run_alerts, users
from web.cli_integrity import export_command, import_command, verify
from web.cli_migrate import migrate_command
from web.cli_options import (
    archive_option,
    browser_failure,
    open_catalog,
    open_store,
    open_work,
    progress,
    settings,
)

if TYPE_CHECKING:
    from archive.catalog.jobs import Held
    from scrapers.pipeline import Outcome

# Commands import what only they need where they run: the extractor (trafilatura,
# pypdf), the index (Whoosh), the web app (Flask, waitress) and the task queue each take
# a while to load, and most commands need one of them at most.

log = logging.getLogger("onrecord")


def _setup_logging(verbose: bool) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if sys.stderr.isatty() and not verbose:
        logging.getLogger().setLevel(logging.WARNING)
    # Alembic says which engine it talks to on every open; the catalog logs what it migrates.
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose else logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debugging detail.")
@click.version_option("0.1.0", prog_name="onrecord")
def main(verbose: bool) -> None:
    """onrecord: an archive of official statements and the news stories that quote them."""
    _setup_logging(verbose)


# -- archive ------------------------------------------------------------------------------


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@archive_option
def init(directory: Path | None, archive_dir: Path) -> None:
    """Create an archive folder: WARCs, catalog and config."""
    root = directory or archive_dir
    try:
        paths = init_archive(root)
    except (ArchiveError, CatalogError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"archive ready at {paths.root}")


@main.command()
@click.argument("url")
@archive_option
@click.option("--json", "as_json", is_flag=True, help="Print what was captured as JSON.")
@click.option(
    "--browser",
    "in_browser",
    is_flag=True,
    help="Render the page in headless Chromium: every resource, the DOM and a screenshot.",
)
def capture(url: str, archive_dir: Path, as_json: bool, in_browser: bool) -> None:
    """Fetch one page politely into the archive, extract its text and quotes, index them."""
    try:
        canonical_url(url)
    except InvalidURL as exc:
        raise click.ClickException(str(exc)) from None
    with open_work(archive_dir) as work:
        try:
            outcome = work.capture(url, browser=in_browser)
        except (FileNotFoundError, FetchError) as exc:  # the browser would not start
            raise browser_failure(exc) from None
        report = _outcome_report(work.store.catalog, outcome)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for item in report["captures"]:
            click.echo(f"{item['id']}  {item['status']}  {item['url']}  {item['path']}")
        for event in report["events"]:
            click.echo(f"{event['type']}: {event['url']}")
        click.echo(f"{report['quotes']} quotes in {len(report['documents'])} changed documents")
    if outcome.failures:
        raise click.ClickException(f"could not capture {url}: {outcome.failures[0].reason}")


def _outcome_report(catalog: Catalog, outcome: Outcome) -> dict:
    quotes = 0
    for document_id in outcome.changed_documents:
        document = catalog.document(document_id)
        if document and document.latest_version_id:
            extraction = catalog.current_extraction(document.latest_version_id)
            quotes += len(catalog.quotes_of_extraction(extraction.id)) if extraction else 0
    return {
        "captures": [
            {
                "id": c.id,
                "url": c.url,
                "status": c.status,
                "record_type": c.record_type,
                "path": links.capture_path(c.url, c.captured_at),
            }
            for c in outcome.captures
        ],
        "documents": sorted(outcome.changed_documents),
        "events": [{"type": e.type, "url": e.url} for e in outcome.events],
        "quotes": quotes,
        "failures": [f.reason for f in outcome.failures],
    }


# -- extraction and quotes on files ------------------------------------------------------


@main.command("extract")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "text"]), default="text")
@click.option("--url", default=None, help="The page's URL, to resolve links and metadata.")
def extract_command(files: tuple[Path, ...], fmt: str, url: str | None) -> None:
    """Extract the article text and metadata of saved HTML or PDF files."""
    from scrapers.extract import extract

    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
        found = extract(data, url)
        paragraphs = [found.text[p.start : p.end] for p in found.paragraphs]
        record = {
            "path": str(path),
            "url": url or found.canonical_url,
            "title": found.title,
            "authors": list(found.authors),
            "publisher": found.publisher,
            "published": found.published.astimezone(UTC).isoformat() if found.published else None,
            "language": found.language,
            "text": found.text,
            "paragraphs": paragraphs,
        }
        if fmt == "jsonl":
            click.echo(json.dumps(record, ensure_ascii=False))
            continue
        click.echo(f"== {path}")
        for key in ("title", "authors", "publisher", "published", "language", "url"):
            value = record[key]
            if value:
                click.echo(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
        for problem in found.problems:
            click.echo(f"problem: {problem}")
        click.echo()
        click.echo(found.text)
        click.echo()


@main.command("quotes")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "text"]), default="text")
def quotes_command(files: tuple[Path, ...], fmt: str) -> None:
    """Find the direct quotes in plain-text (UTF-8) files, with speaker and offsets."""
    from scrapers.quotes import find_quotes

    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"cannot read {path} as UTF-8 text: {exc}") from None
        found = find_quotes(text)
        if fmt == "jsonl":
            record = {
                "path": str(path),
                "quotes": [
                    {
                        "start": q.start,
                        "end": q.end,
                        "text": q.text,
                        "speaker": q.speaker,
                        "speaker_start": q.speaker_start,
                        "speaker_end": q.speaker_end,
                        "role": q.role,
                        "cue": q.cue,
                        "via": q.via,
                        "anonymous": q.anonymous,
                    }
                    for q in found
                ],
            }
            click.echo(json.dumps(record, ensure_ascii=False))
            continue
        click.echo(f"== {path}: {len(found)} quotes")
        for q in found:
            who = q.speaker or "(speaker unknown)"
            if q.anonymous:
                who += " [anonymous]"
            details = ", ".join(x for x in (q.role, q.cue, f"via {q.via}" if q.via else None) if x)
            click.echo(f"[{q.start}:{q.end}] {who}{' — ' + details if details else ''}")
            click.echo(f"    “{q.text}”{' (unclosed)' if q.unclosed else ''}")


# -- search -------------------------------------------------------------------------------


@main.command()
@click.argument("query")
@archive_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "csv", "jsonl"]),
    default="text",
    help="csv and jsonl write every result (not one page), streamed.",
)
@click.option("--type", "kind", type=click.Choice(["quote", "document"]), default=None)
@click.option("--sort", type=click.Choice(["relevance", "date", "date_asc"]), default="relevance")
@click.option("--page", type=click.IntRange(min=1), default=1)
@click.option("--page-size", type=click.IntRange(1, 200), default=20)
def search(
    query: str, archive_dir: Path, fmt: str, kind: str | None, sort: str, page: int, page_size: int
) -> None:
    """Search quotes and documents: words, "exact phrases", speaker:, publisher:, dates…"""
    from web import indexing

    paths, catalog = open_catalog(archive_dir)
    if fmt in ("csv", "jsonl"):
        with catalog:
            _export(paths, catalog, query, fmt, kind, sort)
        return
    with catalog:
        try:
            results = indexing.search(
                paths, catalog, query, type=kind, sort=sort, page=page, page_size=page_size
            )
        except indexing.QueryError as exc:
            raise click.ClickException(f"cannot search for that: {exc}") from None
    if fmt == "json":
        click.echo(json.dumps(indexing.results_json(results), indent=2, ensure_ascii=False))
        return
    click.echo(f"{results.total} results for {query!r}")
    for hit in results.hits:
        when = hit.published.date().isoformat() if hit.published else "undated"
        who = hit.speaker or ("" if hit.type == "document" else "(speaker unknown)")
        click.echo(f"{hit.id}  {hit.type}  {who}  {hit.publisher or ''}  {when}")
        click.echo(f"    {hit.text[:200]}")


def _export(paths, catalog, query: str, fmt: str, kind: str | None, sort: str) -> None:
    from web import indexing
    from web.exports import WRITERS, rows_of

    # the catalog's texts check an exact phrase in documents, as the search page does
    with indexing.searching(paths, catalog) as searcher:
        try:
            hits = searcher.every_hit(query, type=kind, sort=sort)
            first = next(hits, None)
            out = click.get_text_stream("stdout")
            found = itertools.chain([first] if first else [], hits)
            for line in WRITERS[fmt](rows_of(catalog, found)):
                out.write(line)
        except indexing.QueryError as exc:
            raise click.ClickException(f"cannot search for that: {exc}") from None


@main.command("check")
@click.argument("text")
@archive_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def check_command(text: str, archive_dir: Path, fmt: str) -> None:
    """Check a circulating quote against the record: verbatim, shortened, altered,
    stitched from separate quotes, or not found."""
    from web import indexing
    from web.check import CheckError, check, result_json
    from web.exports import archived_copies

    paths, catalog = open_catalog(archive_dir)
    with catalog:

        def quotes(query: str):
            return indexing.search(
                paths, catalog, query, type="quote", page_size=8, facets=False, highlight=False
            )

        try:
            result = check(quotes, text)
        except CheckError as exc:
            raise click.ClickException(str(exc)) from None
        copies = archived_copies(catalog, (m.hit for m in result.matches))
    if fmt == "json":
        found = result_json(result, copies=copies)
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    click.echo(result.label)
    for match in result.matches:
        click.echo(
            f"  {match.verdict}: {match.hit.speaker or '(speaker unknown)'}"
            f"  {match.hit.publisher or ''}  {links.quote_path(match.hit.id)}"
        )
        click.echo(f"    “{match.hit.text[:200]}”")
        if match.changes:
            shown = "".join(
                c.text if c.op == "equal" else f"[{'-' if c.op == 'delete' else '+'}{c.text}]"
                for c in match.changes
            )
            click.echo(f"    diff: {shown[:300]}")


@main.command()
@archive_option
def reindex(archive_dir: Path) -> None:
    """Rebuild the search index from the catalog."""
    from web import indexing

    paths, catalog = open_catalog(archive_dir)
    with catalog:
        try:
            count = indexing.rebuild(paths, catalog)
        except indexing.IndexBusy as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"indexed {count} records")


@main.command()
@click.argument("document_ids", nargs=-1)
@archive_option
def reextract(document_ids: tuple[str, ...], archive_dir: Path) -> None:
    """Extract documents again with the current extractor and quote finder.

    Each version gets a new extraction; the old one stays resolvable, and quote ids it
    issued keep resolving to their successors."""
    with open_work(archive_dir) as work:
        catalog = work.store.catalog
        chosen = list(document_ids) or [d.id for d in catalog.all_documents()]
        unknown = [d for d in chosen if catalog.document(d) is None]
        if unknown:
            raise click.ClickException(f"no document with id {unknown[0]}")
        changed = work.reextract(chosen, each=functools.partial(progress, label="re-extracting"))
    click.echo(f"re-extracted {len(changed)} of {len(chosen)} documents")


# -- sources and schedule -------------------------------------------------------------------


def _finite(value: float) -> float:
    """A number of seconds an option gives: nan passes every range check and no clock."""
    if not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds")
    return value


def _sources(archive_dir: Path, files: tuple[Path, ...] = ()) -> list[Source]:
    if not files:
        folder = archive_dir / settings(archive_dir)["sources"]
        files = tuple(sorted(folder.glob("*.toml"))) if folder.is_dir() else ()
    try:
        return load_sources(list(files))
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def sources() -> None:
    """Source definitions (TOML files in the archive's sources/ folder)."""


@sources.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@archive_option
def sources_check(files: tuple[Path, ...], archive_dir: Path) -> None:
    """Validate source files without fetching anything: those given, or else the
    archive's."""
    if not files:
        try:
            open_paths(archive_dir, writable=False)  # "0 sources valid" of no archive at all
        except ArchiveError as exc:
            raise click.ClickException(str(exc)) from None
    found = _sources(archive_dir, files)
    for source in found:
        click.echo(f"ok  {source.name}  ({source.kind}, {source.publisher})")
    click.echo(f"{len(found)} sources valid")


def _run_sources(archive_dir: Path, chosen: list[Source]) -> Outcome:
    """Run the sources one after another in this process."""
    from scrapers.pipeline import Outcome

    total = Outcome()
    with open_work(archive_dir) as work:
        for source in progress(chosen, "scraping"):
            try:
                total.merge(work.scrape(source))
            except (FileNotFoundError, FetchError) as exc:  # the browser would not start
                raise browser_failure(exc) from None
    return total


@main.command()
@click.argument("names", nargs=-1)
@archive_option
def scrape(names: tuple[str, ...], archive_dir: Path) -> None:
    """Scrape the named sources (all of them when none is named) now.

    Exits 1 when a fetch or a source's run failed (robots.txt refusals do not count)."""
    every = _sources(archive_dir)
    chosen = [s for s in every if not names or s.name in names]
    unknown = set(names) - {s.name for s in every}
    if unknown:
        raise click.ClickException(f"no source named {', '.join(sorted(unknown))}")
    outcome = _run_sources(archive_dir, chosen)
    refused = f" ({len(outcome.refused)} refused by robots.txt)" if outcome.refused else ""
    click.echo(
        f"{len(outcome.captures)} captures, {outcome.new_versions} new versions, "
        f"{len(outcome.events)} events, {len(outcome.failures)} failures{refused}"
    )
    if outcome.failed:
        raise click.ClickException(
            f"{len(outcome.failed)} fetches or runs failed, the first: {outcome.failed[0].url}: "
            f"{outcome.failed[0].reason} (onrecord status lists them)"
        )


@main.command()
@archive_option
@click.option("--once", is_flag=True, help="Run (or queue) what is due now, then exit.")
@click.option(
    "--tick",
    type=click.FloatRange(min=0, min_open=True),
    callback=lambda _context, _option, value: _finite(value),
    default=30.0,
    help="Seconds between checks.",
)
def schedule(archive_dir: Path, once: bool, tick: float) -> None:
    """Run every source when it is due, forever (by the schedules its files declare, from
    when each last ran), and deliver the alerts that are due at each tick.

    With a broker configured, each due source's run is queued for the workers instead.
    One scheduler is active per archive: another one started waits, and says so, until
    the active one stops. One that finds at a tick it no longer holds the lock stops,
    exit status 1. A source file that does not load, or a source whose run cannot start,
    is logged and left for the next tick; the other sources and the alerts go on."""
    # A service manager stops it with SIGTERM: leave as from Ctrl-C, through every
    # `finally` (the lock released, the catalog closed), not in the middle of a write.
    signal.signal(signal.SIGTERM, _stop)
    queue = _task_queue(archive_dir)
    _, catalog = open_catalog(archive_dir)  # holds the scheduler's lock while it runs
    with catalog, contextlib.ExitStack() as held:
        lock = _scheduler_lock(catalog, held)
        try:
            while True:
                _still_active(catalog, lock)
                _schedule_tick(archive_dir, queue)
                if once:
                    return
                time.sleep(tick)
        finally:
            if queue is not None:
                queue.close()


def _stop(signum: int, _frame) -> None:
    raise SystemExit(f"stopped by {signal.Signals(signum).name}")


def _scheduler_lock(catalog: Catalog, held: contextlib.ExitStack) -> Held:
    """The scheduler's lock, kept until ``held`` closes: taken at once, or once the
    active scheduler stops (waiting for it, and saying so)."""
    lock = held.enter_context(catalog.lock("scheduler", wait=False))
    if lock:
        click.echo(f"scheduler active on {catalog.name}", err=True)
        return lock
    click.echo(f"another scheduler is active on {catalog.name}; waiting until it stops", err=True)
    try:
        lock = held.enter_context(catalog.lock("scheduler"))
    except DISCONNECTED:
        raise click.ClickException(
            f"the connection to the catalog closed while this scheduler waited for the lock"
            f" on {catalog.name} (a restart, a pooler); started again, it waits again"
        ) from None
    click.echo("the other scheduler stopped: this one is active now", err=True)
    return lock


def _still_active(catalog: Catalog, lock: Held) -> None:
    """Stop when the scheduler's lock went while it ran (its PostgreSQL connection was
    closed, its lock file removed): a scheduler that was waiting has it by now, and two
    would run every source twice.

    Stopping, rather than waiting for the lock again in this process: the service
    manager restarts it (``Restart=on-failure``), and a restarted scheduler waits while
    another is active; that is also how a scheduler leaves when the catalog cannot be
    reached at a tick, and the exit shows in the service's status and journal."""
    if not lock.held():
        raise click.ClickException(
            f"this scheduler lost its lock on {catalog.name} (its connection to the catalog "
            "was closed, or its lock file removed), and another scheduler may be active "
            "now: stopping, so that no source runs twice (started again, it waits while "
            "another one is active)"
        )


def _schedule_tick(archive_dir: Path, queue) -> None:
    """One check of the schedule: run (or, with a broker, queue) the sources due now,
    then deliver the alerts that are due."""
    every = _loadable_sources(archive_dir)
    now = datetime.now(UTC)
    if queue is None:
        _run_due(archive_dir, every, now)
    else:
        from web.jobs import BrokerError, enqueue_due

        with open_store(archive_dir) as store:
            try:
                enqueue_due(store.catalog, queue, every, now)
            except BrokerError as exc:  # the next tick tries again
                log.warning("%s", exc)
    run_alerts(archive_dir)


def _loadable_sources(archive_dir: Path) -> list[Source]:
    """The sources of the archive's files that load; each file that does not is left
    out and logged, naming it and its problem, at every tick until it is fixed. (A
    scheduler stopped by one mistyped file would stop every source and every alert, and
    stop again at each restart; `onrecord scrape` and `sources check` refuse the file.)"""
    folder = archive_dir / settings(archive_dir)["sources"]
    found, problems = load_valid_sources([folder]) if folder.is_dir() else ([], [])
    for problem in problems:
        log.error("source file left out until it is fixed: %s", problem)
    return found


def _run_due(archive_dir: Path, sources: list[Source], now: datetime) -> None:
    """Run the sources due at ``now`` one after another in this process. One whose run
    cannot start (its browser will not) gets a failed run, and the others run."""
    _, catalog = open_catalog(archive_dir)
    with catalog:
        due = [s for s in sources if (s.due(catalog.last_finished(s.name)) or now) <= now]
    if not due:
        return
    with open_work(archive_dir) as work:
        for source in progress(due, "scraping"):
            try:
                work.scrape(source)
            except (FileNotFoundError, FetchError) as exc:  # the browser would not start
                work.failed_to_start(source, browser_failure(exc).message)


def _task_queue(archive_dir: Path):
    """The archive's task queue (checked to answer), or None without a broker."""
    found = settings(archive_dir)
    if not found["broker"]:
        return None
    from web.jobs import BrokerError, connect

    try:
        return connect(found)
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@archive_option
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Jobs run at once (start more processes, or machines, for more cores).",
)
@click.option(
    "--browser",
    "with_browser",
    is_flag=True,
    help='This worker has Chromium: it also takes browser captures (render = "browser").',
)
def worker(archive_dir: Path, threads: int, with_browser: bool) -> None:
    """Take scrape jobs from the broker and run them, until stopped (SIGTERM or Ctrl-C
    finish the jobs in progress first)."""
    queue = _task_queue(archive_dir)
    if queue is None:
        raise click.ClickException(
            "a worker needs a broker: set broker in onrecord.toml or ONRECORD_BROKER "
            "(a redis:// or amqp:// URL)"
        )
    from web.jobs import Performer

    open_store(archive_dir).close()  # the archive is there and its catalog up to date
    performer = Performer(archive_dir, queue)
    kind = "with a browser" if with_browser else "without a browser"
    click.echo(f"worker on {archive_dir}, {threads} threads, {kind}", err=True)
    try:
        queue.work(
            performer,
            threads=threads,
            browser=with_browser,
            thread_ended=performer.thread_ended,
        )
    finally:
        performer.close()
        queue.close()


@main.command()
@archive_option
def status(archive_dir: Path) -> None:
    """Per source: the last run, what it found, failures, and the next due time; then
    where the archive's search index stands against the change log."""
    from web import indexing

    every = _sources(archive_dir)
    paths, catalog = open_catalog(archive_dir)
    with catalog:
        for source in every:
            run = catalog.last_run(source.name)
            due = source.due(catalog.last_finished(source.name))
            click.echo(f"{source.name} ({source.kind}, {source.publisher})")
            if run is None:
                click.echo("  never run")
            else:
                state = "running or interrupted" if run.finished_at is None else "finished"
                click.echo(
                    f"  last run {run.started_at:%Y-%m-%d %H:%M} UTC ({state}): "
                    f"{run.discovered} discovered, {run.fetched} fetched, "
                    f"{run.new_versions} new versions, {run.failed} failed"
                )
                if run.error:
                    click.echo(f"  error: {run.error}")
            for failure in catalog.failures(source.name, limit=3):
                click.echo(f"  failed {failure.at:%Y-%m-%d %H:%M}: {failure.url}: {failure.reason}")
            click.echo(f"  next due {due:%Y-%m-%d %H:%M} UTC" if due else "  due now")
        index = indexing.IndexKeeper(paths.index, paths.search_engine).status(
            catalog, settings(archive_dir)["behind_after"]
        )
        lag = index["lag"]
        click.echo(
            f"search index {index['folder']}: at change {index['position']} of "
            f"{index['head']}"
            + (f", {lag['changes']} behind ({lag['seconds']:.0f} s)" if lag["changes"] else "")
        )


@main.command()
@archive_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def changes(archive_dir: Path, fmt: str) -> None:
    """Edits, takedowns and restores of archived documents."""
    _, catalog = open_catalog(archive_dir)
    with catalog:
        events = catalog.events()
    if fmt == "json":
        rows = [
            {
                "type": e.type,
                "url": e.url,
                "document_id": e.document_id,
                "at": e.at.isoformat().replace("+00:00", "Z"),
            }
            for e in events
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for e in events:
        click.echo(f"{e.at:%Y-%m-%d %H:%M:%S}  {e.type:<10}  {e.url}  {e.document_id}")


# -- serving ------------------------------------------------------------------------------


@main.command()
@archive_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(min=1))
def serve(archive_dir: Path, host: str, port: int, threads: int) -> None:
    """Serve the archive's web front end with a production WSGI server; a thread keeps
    this node's search index up to date with the catalog's change log."""
    from web import indexing, resources
    from web.app import create_app

    open_catalog(archive_dir)[1].close()
    try:
        app = create_app({"ARCHIVE": str(archive_dir)})
    except archive_config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    server = listen(app, host, port, threads)
    try:
        follower = resources.follow(app)
    except indexing.IndexBusy as exc:
        server.close()
        raise click.ClickException(str(exc)) from None
    if not settings(archive_dir)["secret_key"]:
        click.echo(
            "secret_key is not set: forms shown by this node are refused by any other node "
            "(set the same secret_key on every node of an archive)",
            err=True,
        )
    click.echo(f"serving {archive_dir} at http://{host}:{server.effective_port}/")
    click.echo(f"following the change log into {follower.keeper.folder}")
    try:
        server.run()
    finally:
        follower.stop()
        follower.keeper.release()


# waitress's defaults admit 100 connections and leave an idle one open for two minutes:
# a hundred idle clients (slowloris) would lock every reader out. Idle connections cost a
# socket each, never a worker thread (waitress reads whole requests before dispatching),
# so admit many and close the silent ones soon. A deployment still puts a reverse proxy in
# front (README, "Deploying"), which buffers slow clients and caps connections per address.
SERVER_LIMITS = {
    "connection_limit": 1000,  # open connections; more wait in the listen backlog
    "backlog": 2048,
    "channel_timeout": 20,  # seconds a connection may stay silent before it is closed
    "cleanup_interval": 5,  # how often silent connections are looked for
    "asyncore_use_poll": True,  # select() cannot watch more than 1024 sockets
    "max_request_header_size": 64 * 1024,
    "max_request_body_size": 16 * 1024 * 1024,  # the largest admin form is a sources file
}


def listen(app, host: str, port: int, threads: int = 8):
    """A waitress server bound to host:port (a port in use is one clear sentence), with
    connection limits and timeouts that keep it answering while idle clients hold sockets."""
    from waitress import create_server

    _allow_open_files(SERVER_LIMITS["connection_limit"] + 256)
    try:
        return create_server(
            app, host=host, port=port, threads=threads, ident="onrecord", **SERVER_LIMITS
        )
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    except ValueError as exc:  # waitress: a host that does not resolve
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None


def _allow_open_files(wanted: int) -> None:
    """Raise this process's soft limit on open files towards ``wanted`` (each connection
    is one), as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


@main.command()
@archive_option
@click.option(
    "--build-only",
    type=click.Path(file_okay=False, path_type=Path),
    help="Build the demo archive into this (new or empty) folder and exit.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
def demo(archive_dir: Path, build_only: Path | None, host: str, port: int) -> None:
    """Scrape a small fictional newsroom world into a fresh archive, and serve it.

    The demo site runs on a loopback port of its own; the archive goes into a temporary
    folder, or into --archive when that is given and empty.
    """
    import tempfile

    from click.core import ParameterSource

    from web.app import create_app
    from web.demo import DemoSite, build_demo, tour

    given = click.get_current_context().get_parameter_source("archive_dir")
    target = build_only or (archive_dir if given == ParameterSource.COMMANDLINE else None)
    if target is not None and target.is_dir() and any(target.iterdir()):
        raise click.ClickException(f"{target} is not empty: the demo builds a fresh archive")
    with DemoSite() as site, tempfile.TemporaryDirectory(prefix="onrecord-demo-") as scratch:
        root = target or Path(scratch)
        try:
            build_demo(root, site, echo=click.echo)
        except (ArchiveError, CatalogError, SourceError) as exc:
            raise click.ClickException(str(exc)) from None
        if build_only:
            return
        _, catalog = open_catalog(root)
        with catalog:
            stops = tour(catalog)
        server = listen(create_app({"ARCHIVE": str(root)}), host, port)
        click.echo(f"onrecord demo at http://{host}:{port}/")
        for label, path in stops:
            click.echo(f"  {label}: http://{host}:{port}{path}")
        server.run()


main.add_command(verify)
main.add_command(export_command)
main.add_command(import_command)
main.add_command(migrate_command)
main.add_command(users)
main.add_command(corrections)
main.add_command(alerts)


if __name__ == "__main__":
    main()
