"""`onrecord migrate`: an SQLite archive moves to PostgreSQL with every row unchanged,
resumes after an interruption (copying again what changed meanwhile), and refuses a
target that holds another archive."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from archive import config
from archive.catalog import Catalog, copy
from archive.catalog.jobs import Job
from archive.migrate import MigrateError, migrate_archive
from archive.models import Event
from archive.store import Paths, Store, init_archive
from tests.catalogs import postgres_database, write_settings
from tests.conftest import copy_site, run_onrecord
from tests.test_catalog import exchange
from tests.webarchive import WebArchive
from web import create_app
from web.cli_migrate import migrate_command

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def built(built_site: WebArchive, tmp_path_factory) -> WebArchive:
    return copy_site(built_site, tmp_path_factory.mktemp("built") / "archive")


@pytest.fixture
def root(built: WebArchive, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built.root, tmp_path / "archive"))


def dump(url) -> dict[str, list[tuple]]:
    """Every row of every table, in a fixed order."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = {
            table: sorted(
                tuple(sorted(row._mapping.items()))
                for row in connection.execute(sa.text(f"SELECT * FROM {table}"))
            )
            for table, _ in copy.TABLES
        }
    engine.dispose()
    return found


def test_every_table_of_the_schema_is_copied(root):
    engine = sa.create_engine(Paths(root).catalog)
    with engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names()) - {"alembic_version"}
    engine.dispose()
    assert sorted(table for table, _ in copy.TABLES) == sorted(tables)


def test_an_archive_moves_to_postgresql_with_every_row_unchanged(root, built):
    with Catalog.open(Paths(root).catalog) as catalog, catalog.transaction():
        catalog.add_job(Job(id="j-1", kind="run", state="queued", queued_at=NOW, source="x"))
    before = dump(Paths(root).catalog)
    assert before["capture_log"] and before["quotes"] and before["events"] and before["jobs"]
    pages = [f"/quotes/{built.pledge}", f"/speakers/{built.director}", "/log"]
    client = create_app({"ARCHIVE": str(root), "TESTING": True}).test_client()
    shown = [client.get(page).data for page in pages]
    with postgres_database() as url:
        result = CliRunner().invoke(migrate_command, ["--archive", str(root), "--catalog", url])
        assert result.exit_code == 0, result.output
        assert "capture log head: #" in result.output
        assert config.load(root)["catalog"] == url
        assert Paths(root).catalog.get_backend_name() == "postgresql"
        assert dump(Paths(root).catalog) == before
        verified = run_onrecord("verify", "--archive", str(root))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        client = create_app({"ARCHIVE": str(root), "TESTING": True}).test_client()
        assert [client.get(page).data for page in pages] == shown
        # The moved archive goes on: the ids PostgreSQL issues follow the copied ones.
        with Store.open(root) as store, store.catalog.transaction():
            event = Event("edited", built.statement, built.statement_url, datetime.now(UTC), "x")
            store.catalog.add_event(event)
            assert len(store.catalog.events()) == len(before["events"]) + 1


def test_an_interrupted_move_resumes(root, monkeypatch):
    before = dump(Paths(root).catalog)
    monkeypatch.setattr(copy, "BATCH", 3)
    copied: list[str] = []

    def interrupt(table: str, rows: int) -> None:
        copied.append(table)
        if table == "extractions":
            raise KeyboardInterrupt

    with postgres_database() as url:
        with pytest.raises(KeyboardInterrupt):
            migrate_archive(root, catalog=url, progress=interrupt)
        assert config.load(root)["catalog"] == ""  # still the SQLite catalog
        assert "capture_log" in copied
        moved = migrate_archive(root, catalog=url)
        assert moved.rows == {table: len(rows) for table, rows in before.items()}
        assert dump(Paths(root).catalog) == before


def test_a_move_resumed_after_the_archive_changed_copies_it_as_it_is_now(root):
    with Catalog.open(Paths(root).catalog) as catalog, catalog.transaction():
        catalog.add_user("ines", "editor", "a-long-password-1")
        token = catalog.issue_token("ines")
        catalog.sign_in("ines", "a-long-password-1")

    def interrupt(table: str, rows: int) -> None:
        if table == "web_sessions":
            raise KeyboardInterrupt  # after the users, their tokens and sessions

    with postgres_database() as url:
        with pytest.raises(KeyboardInterrupt):
            migrate_archive(root, catalog=url, progress=interrupt)
        with Catalog.open(Paths(root).catalog) as catalog, catalog.transaction():
            # still in use meanwhile: one token revoked, an account with its sessions gone
            catalog.revoke_token(catalog.tokens("ines")[0].id)
            catalog.revoke_user("ines")
        before = dump(Paths(root).catalog)
        migrate_archive(root, catalog=url)
        assert dump(Paths(root).catalog) == before
        with Catalog.open(url) as catalog:
            assert catalog.user_of_token(token) is None


def test_a_target_holding_another_archive_is_refused(root, tmp_path):
    with postgres_database() as url:
        other = tmp_path / "other"
        other.mkdir()
        write_settings(other, url)
        init_archive(other)
        with Store.open(other) as store:
            store.save_capture(exchange(1))
        theirs = dump(url)
        with pytest.raises(MigrateError, match="already holds a different archive"):
            migrate_archive(root, catalog=url)
        assert dump(url) == theirs
        assert config.load(root)["catalog"] == ""
        result = run_onrecord("migrate", "--archive", str(root), "--catalog", url)
        assert result.returncode != 0 and "different archive" in result.stderr


def test_a_completed_move_run_again_changes_nothing(root):
    before = dump(Paths(root).catalog)
    moved = migrate_archive(root, catalog="sqlite:///catalog.sqlite", warcs="warcs")
    assert moved.rows == {table: len(rows) for table, rows in before.items()}
    assert dump(Paths(root).catalog) == before


def test_an_archive_moves_to_a_bucket_and_back(root, seaweedfs, tmp_path):
    """SQLite + folder to PostgreSQL + SeaweedFS in one command; verify passes; every
    WARC file is in the bucket, byte for byte; the same move run again changes nothing."""
    files = {p.name: p.read_bytes() for p in (root / "warcs").iterdir()}
    before = dump(Paths(root).catalog)
    place = seaweedfs.new_place()
    credentials = seaweedfs.settings(place).split("\n", 1)[1]
    with open(root / "onrecord.toml", "a", encoding="utf-8") as handle:
        handle.write(credentials)
    with postgres_database() as url:
        args = ["migrate", "--archive", str(root), "--catalog", url, "--warcs", place]
        result = run_onrecord(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert config.load(root)["warcs"] == place
        assert seaweedfs.keys(place) == {name: len(data) for name, data in files.items()}
        assert not list((root / "warcs").glob("*.warc.gz"))  # uploaded, confirmed, removed
        assert dump(Paths(root).catalog) == before
        verified = run_onrecord("verify", "--archive", str(root))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        again = run_onrecord(*args)
        assert again.returncode == 0, again.stdout + again.stderr
        assert dump(Paths(root).catalog) == before
        # Back to a folder: the files come down whole.
        back = tmp_path / "back"
        result = run_onrecord("migrate", "--archive", str(root), "--warcs", str(back))
        assert result.returncode == 0, result.stdout + result.stderr
        assert {p.name: p.read_bytes() for p in back.iterdir()} == files


def test_a_bucket_holding_another_archive_is_refused(root, seaweedfs):
    place = seaweedfs.new_place()
    bucket, prefix = place.removeprefix("s3://").split("/", 1)
    seaweedfs.client().put_object(
        Bucket=bucket, Key=f"{prefix}/onrecord-20260101000000-abcdef.warc.gz", Body=b"x"
    )
    with open(root / "onrecord.toml", "a", encoding="utf-8") as handle:
        handle.write(seaweedfs.settings(place).split("\n", 1)[1])
    files = sorted(p.name for p in (root / "warcs").iterdir())
    with postgres_database() as url:
        with pytest.raises(MigrateError, match="belongs to another archive"):
            migrate_archive(root, catalog=url, warcs=place)
        assert sorted(p.name for p in (root / "warcs").iterdir()) == files
        assert config.load(root)["warcs"] == "warcs"
        assert config.load(root)["catalog"] == ""  # nothing moved, the catalog neither
