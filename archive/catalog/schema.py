"""The catalog's schema version, on either engine, and bringing it up to date.

Migrations are Alembic revisions numbered ``0001``, ``0002``… in
``archive/catalog/migrations/versions``; Alembic keeps the version in the
``alembic_version`` table. Catalogs made before Alembic kept theirs in
``schema_migrations`` (one row per applied ``.sql`` file): such a catalog is stamped
with the revision it had reached and then upgraded in place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import cache
from importlib import resources

import sqlalchemy as sa

LEGACY_TABLE = "schema_migrations"
_REVISION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.py$")


def _config(connection: sa.Connection | None = None):
    # Alembic is imported only to migrate: most opens find the catalog up to date, and
    # importing it costs more than opening the catalog.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "archive.catalog:migrations")
    config.attributes["connection"] = connection
    return config


@cache
def revisions() -> tuple[str, ...]:
    """The known revisions, oldest first (each file of ``migrations/versions`` is named
    after its revision, which is its number)."""
    folder = resources.files("archive.catalog.migrations") / "versions"
    return tuple(
        sorted(m.group(1) for f in folder.iterdir() if (m := _REVISION_FILE.match(f.name)))
    )


def latest_version() -> int:
    return int(revisions()[-1])


def schema_version(connection: sa.Connection) -> int:
    """The version a catalog has reached: 0 for an empty database."""
    tables = set(sa.inspect(connection).get_table_names())
    if "alembic_version" in tables:
        current = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
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
    its own; return the versions applied. An empty catalog is made in one transaction:
    it has nothing to keep, and one run of Alembic costs a tenth of a run per revision."""
    current = schema_version(connection)
    if current >= latest_version() or (up_to is not None and current >= up_to):
        return []
    from alembic import command

    config = _config(connection)
    wanted = [int(r) for r in revisions() if up_to is None or int(r) <= up_to]
    if current == 0:
        with transaction():
            command.upgrade(config, f"{wanted[-1]:04d}")
        return wanted
    tables = set(sa.inspect(connection).get_table_names())
    if current and "alembic_version" not in tables:
        with transaction():
            command.stamp(config, f"{current:04d}")
    applied = [version for version in wanted if version > current]
    for version in applied:
        with transaction():
            command.upgrade(config, f"{version:04d}")
    return applied
