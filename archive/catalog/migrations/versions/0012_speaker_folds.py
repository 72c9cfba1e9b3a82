"""Speakers whose names differ only in the apostrophe an outlet types (’ or ') or in the
Unicode form of their letters are one speaker from this revision on: ``archive.ids``'s
``speaker_id`` folds both. A speaker filed earlier under an id the fold changes is merged
into the folded one (made when it is new), as an editor's merge would be: its page and
links lead on to the person's one page, which lists the quotes of both, and no quote
changes id. The documents of its quotes are noted in the change log for the index.

A merge an editor made the other way (the folded id into the earlier one) stands: the
editor chose which page is the person's."""

import hashlib
import re
import unicodedata
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

AUTHOR = "onrecord"
REASON = "the same name, written with another apostrophe or Unicode form (revision 0012)"
# The fold as this revision made it, written out here: a migration must not change when
# the code does.
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc\u2032", "'"))


def _id(key: str, document_id: str | None) -> str:
    digest = hashlib.sha256("\x1f".join(("speaker", key, document_id or "")).encode("utf-8"))
    return "s-" + digest.hexdigest()[:16]


def _key(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip().lower()


def _folded(name: str) -> str:
    return unicodedata.normalize("NFC", name).translate(_APOSTROPHES)


def upgrade() -> None:
    bind = op.get_bind()
    merges = dict(bind.execute(sa.text("SELECT old_id, new_id FROM speaker_merges")).all())
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rows = bind.execute(
        sa.text("SELECT id, name, anonymous, document_id FROM speakers ORDER BY id")
    ).all()
    for old_id, name, anonymous, document_id in rows:
        scope = document_id if anonymous else None
        new_id = _id(_key(_folded(name)), scope)
        if new_id == old_id or old_id != _id(_key(name), scope) or old_id in merges:
            continue  # folded already, not an id of its name, or merged by an editor
        if _leads_to(merges, new_id, old_id):
            continue
        bind.execute(
            sa.text(
                "INSERT INTO speakers (id, name, anonymous, document_id)"
                " VALUES (:id, :name, :anonymous, :document_id) ON CONFLICT (id) DO NOTHING"
            ),
            {"id": new_id, "name": name, "anonymous": anonymous, "document_id": document_id},
        )
        bind.execute(
            sa.text(
                "INSERT INTO speaker_merges (old_id, new_id, author, reason, created_at)"
                " VALUES (:old, :new, :author, :reason, :at)"
            ),
            {"old": old_id, "new": new_id, "author": AUTHOR, "reason": REASON, "at": now},
        )
        merges[old_id] = new_id
        bind.execute(
            sa.text(
                "INSERT INTO changes (kind, document_id, subject, at)"
                " SELECT DISTINCT 'merged', document_id, :old, :at FROM quotes"
                " WHERE speaker_id = :old ORDER BY document_id"
            ),
            {"old": old_id, "at": now},
        )


def _leads_to(merges: dict[str, str], start: str, target: str) -> bool:
    """Whether the merges lead from ``start`` to ``target`` (an editor merged the folded
    id into the earlier one)."""
    seen = {start}
    while start in merges:
        start = merges[start]
        if start == target:
            return True
        if start in seen:
            return False
        seen.add(start)
    return False
