"""Copying one catalog into another, row for row (``onrecord migrate``).

Every table is copied with its rows unchanged (ids, times, hashes, the capture log's
sequence numbers), in an order that keeps every foreign key satisfied, in batches that
each commit. A target that holds rows of another archive is refused before anything is
written. One that holds a part of this archive's rows, left by an interrupted copy, is
emptied and copied again: the source was still in use meanwhile, so a row copied then
may have changed or gone since (a token revoked, a session ended), and skipping it would
carry the old row across.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import sqlalchemy as sa

from archive.catalog import Catalog, CatalogError

log = logging.getLogger(__name__)

# Parents before children; every table of the schema, each with the key it is read in.
TABLES = (
    ("captures", "id"),
    ("capture_log", "seq"),
    ("documents", "id"),
    ("versions", "id"),
    ("capture_versions", "capture_id"),
    ("extractions", "id"),
    ("speakers", "id"),
    ("quotes", "extraction_id, id"),
    ("quote_aliases", "old_id"),
    ("speaker_aliases", "old_id"),
    ("events", "id"),
    ("failures", "id"),
    ("queue", "source, url, run_id"),
    ("runs", "id"),
    ("schedule", "source"),
    ("users", "name"),
    ("api_tokens", "id"),
    ("web_sessions", "id_hash"),
    ("corrections", "seq"),
    ("speaker_merges", "old_id"),
    ("speaker_identifiers", "speaker_id, scheme"),
    ("subscriptions", "id"),
    ("deliveries", "id"),
    ("changes", "seq"),
    ("host_leases", "host"),
    ("jobs", "id"),
)
# Tables whose ids the database issues: on PostgreSQL their sequences move past the
# copied ids.
SERIAL_TABLES = (("events", "id"), ("failures", "id"), ("changes", "seq"))
BATCH = 1000

Progress = Callable[[str, int], None]


def row_counts(catalog: Catalog) -> dict[str, int]:
    return {table: catalog._value(f"SELECT COUNT(*) FROM {table}") for table, _ in TABLES}


def check_target(source: Catalog, target: Catalog) -> None:
    """Refuse a target that holds anything but (a part of) this archive's catalog: its
    capture log must be the start of the source's, and each of its captures one of the
    source's, unchanged."""
    if source.url == target.url:
        raise CatalogError(f"the catalog is already at {target.name}")
    if not any(row_counts(target).values()):
        return
    theirs = list(target.log_entries())
    ours = list(source.log_segment(1, len(theirs))) if theirs else []
    if theirs != ours:
        raise CatalogError(
            f"{target.name} already holds a different archive (its capture log is not "
            "this archive's): refusing to mix them; give an empty database"
        )
    for capture in target.all_captures():
        if source.capture(capture.id) != capture:
            raise CatalogError(
                f"{target.name} already holds a different archive (capture {capture.id} "
                "is not this archive's): refusing to mix them; give an empty database"
            )


def _rows(source: Catalog, table: str, key: str) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in source._run(f"SELECT * FROM {table} ORDER BY {key}").mappings():
        batch.append(dict(row))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def copy_catalog(source: Catalog, target: Catalog, progress: Progress | None = None) -> None:
    """Copy every row of ``source`` into ``target`` (see :func:`check_target`)."""
    check_target(source, target)
    if any(row_counts(target).values()):
        log.info("%s holds part of an interrupted copy: copying again from the start", target.name)
        with target.transaction():
            for table, _ in reversed(TABLES):  # children before parents
                target._run(f"DELETE FROM {table}")
    inspector = sa.inspect(target._conn)
    for table, key in TABLES:
        columns = inspector.get_columns(table)
        names = [column["name"] for column in columns]
        # SQLite keeps a boolean as 0 or 1, which PostgreSQL refuses for its boolean type
        flags = [c["name"] for c in columns if isinstance(c["type"], sa.Boolean)]
        insert = (
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"
        )
        for batch in _rows(source, table, key):
            rows = [{n: row[n] for n in names} for row in batch]
            for row in rows:
                row.update({n: bool(row[n]) for n in flags if row[n] is not None})
            with target.transaction():
                target._many(insert, rows)
            if progress:
                progress(table, len(batch))
    if not target.sqlite:
        with target.transaction():
            for table, column in SERIAL_TABLES:
                target._run(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                    f" COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
                )
    copied = row_counts(target)
    differing = {
        table: (count, copied[table])
        for table, count in row_counts(source).items()
        if copied[table] != count
    }
    if differing:
        raise CatalogError(f"the copy is incomplete (rows in source, target): {differing}")
