"""The newsroom layer on PostgreSQL: accounts, corrections (and their chain), speaker
merges and alerts move with `onrecord migrate` unchanged, and go on working there."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner

from archive.catalog import Catalog
from archive.store import Paths
from archive.verify import check_corrections
from tests.catalogs import postgres_database
from tests.conftest import copy_site
from web import create_app, links
from web.cli_migrate import migrate_command


def test_newsroom_tables_move_to_postgresql_and_keep_working(tmp_path, built_site):
    site = copy_site(built_site, tmp_path / "archive")
    with Catalog.open(Paths(site.root).catalog) as db:
        db.add_user("ed", "editor", "a long password")
        token = db.issue_token("ed")
        db.correct_quote(site.unnamed, "speaker", "Priya Raman", reason="memo", author="ed")
        db.subscribe("ed", "search", "ballot", now=datetime(2020, 1, 1, tzinfo=UTC))
        chain = list(db.correction_entries())
    with postgres_database() as url:
        moved = CliRunner().invoke(migrate_command, ["--archive", str(site.root), "--catalog", url])
        assert moved.exit_code == 0, moved.output
        with Catalog.open(Paths(site.root).catalog) as db:
            assert db.url.get_backend_name() == "postgresql"
            assert list(db.correction_entries()) == chain
            assert db.user_of_token(token).name == "ed"
            assert db.sign_in("ed", "a long password") is not None
            db.correct_quote(site.reported, "role", "observer", reason="per notes", author="ed")
            assert check_corrections(db) == []
            assert db.corrected(db.quote(site.unnamed)).quote.speaker == "Priya Raman"
            other = db.quote(site.reported).speaker_id
            db.merge_speakers(other, site.director, reason="same person", author="ed")
            assert db.resolve_speaker_id(other) == site.director
            (alert,) = db.subscriptions("ed")
            item = {"type": "quote", "title": "t", "url": "u", "at": "2026-01-01T00:00:00Z"}
            delivery = db.record_round(alert, [item], alert.mark, datetime.now(UTC))
            assert db.pending_deliveries(datetime.now(UTC))[0].id == delivery.id
            db.revoke_user("ed")
            assert db.user_of_token(token) is None
        client = create_app({"ARCHIVE": str(site.root), "TESTING": True}).test_client()
        twin = client.get(links.json_path(links.quote_path(site.unnamed))).get_json()
        assert [c["kind"] for c in twin["corrections"]] == ["speaker"]
