"""``onrecord users add|list|revoke`` as a user runs them, in a child process."""

from __future__ import annotations

import json
import subprocess

from archive.catalog import Catalog
from tests.conftest import ONRECORD, run_onrecord


def users(archive_root, *args: str, stdin: str | None = None):
    return subprocess.run(
        [str(ONRECORD), "users", *args, "--archive", str(archive_root)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_add_shows_the_token_once_and_list_never(archive_root):
    added = users(
        archive_root, "add", "ed", "--role", "editor", "--password", stdin="s3cret-pw\ns3cret-pw\n"
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("onr_")
    listed = users(archive_root, "list", "--format", "json")
    assert token not in listed.stdout
    (row,) = json.loads(listed.stdout)
    assert (row["name"], row["role"], row["password"]) == ("ed", "editor", True)
    assert row["tokens"][0]["id"] == token.split("_")[1]
    with Catalog.open(archive_root / "catalog.sqlite") as db:
        assert db.user_of_token(token).name == "ed"
        assert db.sign_in("ed", "s3cret-pw") is not None
        assert db.sign_in("ed", "wrong") is None


def test_revoke_a_token_then_the_user(archive_root):
    token = users(archive_root, "add", "rita").stdout.strip().splitlines()[-1]
    second = users(archive_root, "token", "rita").stdout.strip()
    revoked = users(archive_root, "revoke", "--token", token.split("_")[1])
    assert revoked.returncode == 0, revoked.stderr
    with Catalog.open(archive_root / "catalog.sqlite") as db:
        assert db.user_of_token(token) is None
        assert db.user_of_token(second).name == "rita"
    assert users(archive_root, "revoke", "rita").returncode == 0
    with Catalog.open(archive_root / "catalog.sqlite") as db:
        assert db.user_of_token(second) is None
    assert "revoked" in users(archive_root, "list").stdout


def test_bad_user_commands_say_why(archive_root):
    assert users(archive_root, "add", "ed").returncode == 0
    again = users(archive_root, "add", "ed")
    assert again.returncode != 0 and "already a user named ed" in again.stderr
    role = users(archive_root, "add", "x", "--role", "owner")
    assert role.returncode != 0 and "owner" in role.stderr
    nobody = users(archive_root, "revoke", "nobody")
    assert nobody.returncode != 0 and "no active user named nobody" in nobody.stderr
    short = users(archive_root, "add", "y", "--password", stdin="short\nshort\n")
    assert short.returncode != 0 and "at least 8 characters" in short.stderr
    assert users(archive_root, "revoke").returncode != 0


def test_corrections_export_of_an_empty_archive(archive_root):
    done = run_onrecord("corrections", "export", "--archive", str(archive_root))
    assert done.returncode == 0 and done.stdout == ""
