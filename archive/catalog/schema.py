"""The catalog's schema version, on either engine, and bringing it up to date.

Migrations are Alembic revisions numbered ``0001``, ``0002``… in
``archive/catalog/migrations/versions``; Alembic keeps the version in the
``alembic_version`` table. Catalogs made before Alembic kept theirs in
``schema_migrations`` (one row per applied ``.sql`` file): such a catalog is stamped
with the revision it had reached and then upgraded in place.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

LEGACY_TABLE = "schema_migrations"


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "archive.catalog:migrations")
    config.attributes["connection"] = connection
    return config


def revisions() -> list[str]:
    """The known revisions, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def latest_version() -> int:
    return int(revisions()[-1])


def schema_version(connection: sa.Connection) -> int:
    """The version a catalog has reached: 0 for an empty database."""
    tables = set(sa.inspect(connection).get_table_names())
    if "alembic_version" in tables:
        current = MigrationContext.configure(connection).get_current_revision()
        return int(current) if current and current.isdigit() else 0
    if LEGACY_TABLE in tables:
        found = connection.execute(sa.text(f"SELECT MAX(version) FROM {LEGACY_TABLE}"))
        return found.scalar() or 0
    return 0


def upgrade(
    connection: sa.Connection,
    transaction: Callable[[], AbstractContextManager],
    up_to: int | None = None,
) -> list[int]:
    """Apply the revisions the catalog lacks (up to ``up_to``), each in a transaction of
    its own; return the versions applied."""
    current = schema_version(connection)
    config = _config(connection)
    tables = set(sa.inspect(connection).get_table_names())
    if current and "alembic_version" not in tables:
        with transaction():
            command.stamp(config, f"{current:04d}")
    applied = []
    for revision in revisions():
        version = int(revision)
        if version <= current or (up_to is not None and version > up_to):
            continue
        with transaction():
            command.upgrade(config, revision)
        applied.append(version)
    return applied
