"""The catalog on either engine: what a bad URL, an unreachable or refusing server and a
catalog of another schema get; catalogs made before Alembic upgrade in place; the
capture log hashes the same bytes on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import secrets
import shutil
import socket
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from archive.catalog import (
    Catalog,
    CatalogConflict,
    CatalogError,
    Catalogs,
    EmptyCatalog,
    latest_version,
    log_entry_hash,
)
from archive.models import Speaker
from archive.store import ArchiveError, Paths, Store, init_archive
from archive.warc import HttpExchange
from tests.catalogs import ENGINES, catalog_setting, postgres_database, write_settings
from tests.conftest import copy_site, run_onrecord


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def exchange(n: int) -> HttpExchange:
    return HttpExchange(
        url=f"https://elections.example.gov/news/{n}",
        fetched_at=datetime(2026, 11, 3, 14, 5, 9, 250000, tzinfo=UTC) + timedelta(minutes=n),
        status=200,
        reason="OK",
        headers=(("Content-Type", "text/html; charset=utf-8"),),
        payload=f"<html><body><p>Statement {n}.</p></body></html>".encode(),
        request_headers=(("User-Agent", "onrecord-test"),),
        remote_ip="127.0.0.1",
    )


def test_an_unreachable_server_is_named_without_its_password(tmp_path):
    port = free_port()
    url = f"postgresql://archivist:hunter2secret@127.0.0.1:{port}/news"
    with pytest.raises(CatalogError) as raised:
        Catalog.open(url)
    message = str(raised.value)
    assert f"cannot reach the catalog database at 127.0.0.1:{port}" in message
    assert "hunter2secret" not in message
    # The command says the same, and nothing is written.
    root = tmp_path / "archive"
    result = run_onrecord("init", str(root), env={"ONRECORD_CATALOG": url})
    assert result.returncode != 0
    assert f"127.0.0.1:{port}" in result.stderr and "hunter2secret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_user_is_refused_by_name():
    user = f"nobody_{secrets.token_hex(4)}"
    with pytest.raises(CatalogError, match=f"refused user '{user}'") as raised:
        Catalog.open(f"postgresql://{user}:wrong-password@127.0.0.1:5432/postgres")
    assert "wrong-password" not in str(raised.value)


def test_a_missing_database_is_named():
    name = f"absent_{secrets.token_hex(4)}"
    with pytest.raises(CatalogError, match=f"has no database '{name}'"):
        Catalog.open(f"postgresql://postgres@127.0.0.1:5432/{name}")


def test_an_empty_database_is_not_taken_for_a_catalog():
    with (
        postgres_database() as url,
        pytest.raises(CatalogError, match="is empty: rebuild it from the WARC files"),
    ):
        Catalog.open(url)


def test_a_url_of_another_engine_is_refused(tmp_path):
    root = tmp_path / "archive"
    root.mkdir()
    write_settings(root, "mysql://archivist@127.0.0.1/news")
    with pytest.raises(ArchiveError, match="SQLite or PostgreSQL, not mysql"):
        init_archive(root)


def test_a_catalog_made_before_alembic_upgrades_in_place(tmp_path, built_site):
    """A catalog versioned by ``schema_migrations`` at version 2 (no index queue, no
    quote keys) is stamped, upgraded to the latest version, and keeps its ids, its quote
    links and a capture log that still verifies."""
    built = copy_site(built_site, tmp_path / "archive")
    path = built.root / "catalog.sqlite"
    with Catalog.open(path) as catalog:
        captures = list(catalog.all_captures())
        quotes = list(catalog.current_quotes())
        head = catalog.log_head()
    db = sqlite3.connect(path)
    db.executescript(
        """
        DROP TABLE alembic_version;
        DROP TABLE jobs;
        DROP TABLE speaker_aliases;
        DROP TABLE deliveries;
        DROP TABLE subscriptions;
        DROP TABLE web_sessions;
        DROP TABLE api_tokens;
        DROP TABLE users;
        DROP TABLE corrections;
        DROP TABLE speaker_merges;
        DROP TABLE speaker_identifiers;
        DROP TABLE changes;
        DROP TABLE host_leases;
        DROP INDEX captures_by_kind;
        DROP INDEX captures_by_run;
        ALTER TABLE captures DROP COLUMN kind;
        ALTER TABLE captures DROP COLUMN run_id;
        ALTER TABLE failures DROP COLUMN run_id;
        DROP INDEX quotes_by_lead;
        DROP INDEX quotes_by_tail;
        ALTER TABLE quotes DROP COLUMN lead;
        ALTER TABLE quotes DROP COLUMN tail;
        CREATE TABLE schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
        INSERT INTO schema_migrations VALUES (1, '0001_catalog.sql', '2026-11-01T00:00:00Z');
        INSERT INTO schema_migrations VALUES (2, '0002_capture_log.sql', '2026-11-01T00:00:00Z');
        """
    )
    db.close()
    with Store.open(built.root) as store:
        catalog = store.catalog
        assert catalog.schema_version() == latest_version()
        assert list(catalog.all_captures()) == captures
        assert list(catalog.current_quotes()) == quotes
        assert catalog.log_head() == head
        assert catalog.resolve_quote_id(built.old_pledge) == built.pledge
        assert catalog.appearances(catalog.quote(built.pledge).text.lower())  # keys filled
    result = run_onrecord("verify", "--archive", str(built.root))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_legacy_catalog_of_a_newer_version_is_refused(tmp_path):
    archive_root = init_archive(tmp_path / "archive").root
    db = sqlite3.connect(archive_root / "catalog.sqlite")
    db.executescript(
        "DROP TABLE alembic_version;"
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT);"
        "INSERT INTO schema_migrations VALUES (999, '0999_future.sql', 'x');"
    )
    db.close()
    with pytest.raises(ArchiveError, match="schema version 999, newer than this onrecord"):
        Store.open(archive_root)


def test_the_capture_log_is_the_same_chain_on_both_engines(tmp_path):
    """The same captures make the same log, entry for entry, on SQLite and PostgreSQL;
    and the first entry hashes exactly the bytes the log has always hashed."""
    logs = []
    for engine in ("sqlite", "postgresql"):
        root = tmp_path / engine
        with catalog_setting(engine) as setting:
            root.mkdir()
            write_settings(root, setting)
            init_archive(root)
            with Store.open(root) as store:
                for n in range(5):
                    store.save_capture(exchange(n))
                logs.append(list(store.catalog.log_entries()))
            assert Paths(root).catalog.get_backend_name() == engine
    assert logs[0] == logs[1]
    first = logs[0][0]
    assert first["captured_at"] == "2026-11-03T14:05:09.250000Z"
    material = "\n".join(
        ("0" * 64, first["capture_id"], first["captured_at"], first["payload_digest"])
    )
    assert first["entry_hash"] == hashlib.sha256(material.encode()).hexdigest()
    assert first["entry_hash"] == log_entry_hash(
        "0" * 64, first["capture_id"], first["captured_at"], first["payload_digest"]
    )


def test_the_catalog_setting_reads_a_relative_sqlite_path_from_the_archive(tmp_path):
    root = tmp_path / "archive"
    root.mkdir()
    write_settings(root, "sqlite:///elsewhere.sqlite")
    init_archive(root)
    assert (root / "elsewhere.sqlite").exists() and not (root / "catalog.sqlite").exists()
    with Store.open(root) as store:
        assert Path(store.catalog.url.database) == root / "elsewhere.sqlite"


def test_writers_that_deadlock_get_a_conflict_to_retry_and_lose_nothing():
    """Two transactions taking the same rows in opposite orders: PostgreSQL rolls one
    back, which the catalog reports as a CatalogConflict (the pipeline runs it again);
    the other commits whole."""
    first, second = Speaker(id="s-1", name="Nora Quint"), Speaker(id="s-2", name="Ade Mensah")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def write(catalog: Catalog, one: Speaker, other: Speaker) -> None:
        try:
            with catalog.transaction():
                catalog.save_speaker(one)
                barrier.wait()
                catalog.save_speaker(other)
            outcomes.append("committed")
        except CatalogConflict:
            outcomes.append("conflict")

    with postgres_database() as url:
        Catalog.open(url, create=True).close()
        with Catalog.open(url) as a, Catalog.open(url) as b:
            threads = [
                threading.Thread(target=write, args=(a, first, second)),
                threading.Thread(target=write, args=(b, second, first)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert sorted(outcomes) == ["committed", "conflict"]
            assert a.speaker("s-1").name == "Nora Quint" and a.speaker("s-2").name == "Ade Mensah"


def test_a_server_s_pooled_connections_follow_a_replaced_catalog_file(tmp_path):
    """The web server keeps its SQLite connections open between requests; a catalog file
    restored meanwhile (an empty file, a newer schema, then a good catalog again) is what
    the next request sees, never the file the connection had opened."""
    good = init_archive(tmp_path / "archive").root / "catalog.sqlite"
    kept = tmp_path / "kept.sqlite"
    shutil.copyfile(good, kept)
    newer = tmp_path / "newer.sqlite"
    shutil.copyfile(kept, newer)
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE alembic_version SET version_num = '0999'")
    db.close()

    def restore(source: Path | None) -> None:
        for suffix in ("", "-wal", "-shm"):
            good.with_name(good.name + suffix).unlink(missing_ok=True)
        if source is None:
            good.touch()
        else:
            shutil.copyfile(source, good)

    catalogs = Catalogs(good)
    with catalogs.open() as catalog:
        assert catalog.schema_version() == latest_version()
    restore(None)
    with pytest.raises(EmptyCatalog, match="is empty"):
        catalogs.open()
    restore(newer)
    with pytest.raises(CatalogError, match="schema version 999, newer than this onrecord"):
        catalogs.open()
    restore(kept)
    for _ in range(2):
        with catalogs.open() as catalog:
            assert catalog.schema_version() == latest_version()
    good.unlink()
    with pytest.raises(CatalogError, match="no catalog at"):
        catalogs.open()
    catalogs.dispose()


@pytest.mark.parametrize("engine", ENGINES)
def test_reads_on_the_driver_s_cursor_answer_as_sqlalchemy_does(tmp_path, engine):
    """Reads skip SQLAlchemy's results: the same rows for lists, a literal percent sign
    and a cast, and a bad statement still fails as SQLAlchemy's error (which the layers
    above turn into messages)."""
    with catalog_setting(engine) as setting:
        url = setting or f"sqlite:///{tmp_path / 'catalog.sqlite'}"
        with Catalog.open(url, create=True) as catalog:
            catalog.save_speaker(Speaker(id="s-1", name="Ana Ruiz"))
            catalog.save_speaker(Speaker(id="s-2", name="Bo"))
            sql = (
                "SELECT id, name, CAST(:n AS INTEGER) AS n FROM speakers"
                " WHERE id IN :ids AND name LIKE '%' ORDER BY id"
            )
            for ids in (["s-1", "s-2", "s-9"], ["s-2"]):
                expected = [dict(r) for r in catalog._run(sql, ids=ids, n=7).mappings()]
                assert catalog._rows(sql, ids=ids, n=7) == expected
                assert len(expected) == len([i for i in ids if i != "s-9"])
            assert catalog._one("SELECT name FROM speakers WHERE id = :id", id="s-2") == {
                "name": "Bo"
            }
            assert catalog._value("SELECT name FROM speakers WHERE id = :id", id="s-0") is None
            with pytest.raises(sa.exc.DBAPIError, match="no_such_table"):
                catalog._rows("SELECT * FROM no_such_table WHERE id = :id", id="x")


def _schema(catalog: Catalog) -> dict[str, tuple]:
    """Every table's columns (in order), keys and indexes, as the engine reports them."""
    inspector = sa.inspect(catalog._conn)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            inspector.get_pk_constraint(table)["constrained_columns"],
            sorted(repr(sorted(key.items())) for key in inspector.get_foreign_keys(table)),
            sorted(repr(sorted(key.items())) for key in inspector.get_unique_constraints(table)),
            sorted(repr(sorted(index.items())) for index in inspector.get_indexes(table)),
        )
        for table in inspector.get_table_names()
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_a_new_catalog_made_at_once_has_the_schema_of_one_made_revision_by_revision(
    tmp_path, engine
):
    """A new catalog is made by one run of its migrations, in one transaction: it gets
    the tables, keys and indexes that applying the revisions one at a time gives."""
    with catalog_setting(engine) as at_once, catalog_setting(engine) as stepwise:
        at_once = at_once or f"sqlite:///{tmp_path / 'at-once.sqlite'}"
        stepwise = stepwise or f"sqlite:///{tmp_path / 'stepwise.sqlite'}"
        with Catalog.open(at_once, create=True) as catalog:
            assert catalog.schema_version() == latest_version()
            made_at_once = _schema(catalog)
        with Catalog.open(stepwise, create=True, migrate=False) as catalog:
            assert catalog.migrate(up_to=1) == [1]
            assert catalog.migrate() == list(range(2, latest_version() + 1))
            made_stepwise = _schema(catalog)
    assert made_at_once == made_stepwise
    assert "quotes" in made_at_once and "alembic_version" in made_at_once
