"""Catalogs on both engines for the tests: an SQLite file, or a PostgreSQL database of
its own on the server at 127.0.0.1:5432 (user postgres), created for a test and dropped
after it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from archive.catalog import Catalog
from archive.store import Paths

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
ENGINES = ("sqlite", "postgresql")


@contextmanager
def postgres_database(template: str | None = None) -> Iterator[str]:
    """The URL of a new, uniquely named database, dropped afterwards: empty, or a copy of
    the database ``template`` (see :func:`catalog_template`)."""
    name = f"onrecord_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    copied = f' TEMPLATE "{template}"' if template else ""
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"{copied}')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(f"no PostgreSQL server at 127.0.0.1:5432 (run `make system`): {exc}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def catalog_template() -> Iterator[str]:
    """The name of a database holding an empty catalog of the latest schema, which
    :func:`postgres_database` copies (copying a database costs less than migrating one)."""
    with postgres_database() as url:
        Catalog.open(url, create=True).close()
        yield sa.make_url(url).database


@contextmanager
def catalog_setting(engine: str, template: str | None = None) -> Iterator[str]:
    """The ``catalog`` setting of a new archive on ``engine`` ("" for the default); on
    PostgreSQL a new database, a copy of ``template`` when one is given."""
    if engine == "sqlite":
        yield ""
    else:
        with postgres_database(template) as url:
            yield url


def write_settings(root: Path, catalog: str, **extra: str) -> None:
    lines = ["[onrecord]", "allow_private = true", "delay = 0.0"]
    if catalog:
        lines.append(f'catalog = "{catalog}"')
    lines += [f"{name} = {value}" for name, value in extra.items()]
    (root / "onrecord.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def execute(root: Path, statement: str, **params) -> None:
    """Run one statement on an archive's catalog behind the catalog's back (to damage it:
    foreign keys are not checked, as SQLite does not unless asked)."""
    engine = sa.create_engine(Paths(root).catalog)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        connection.execute(sa.text(statement), params)
    engine.dispose()


def drop_catalog(root: Path) -> None:
    """Lose an archive's catalog, whichever engine holds it."""
    url = Paths(root).catalog
    if url.get_backend_name() == "sqlite":
        Path(url.database).unlink()
        return
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
