"""The change log: every change search must see (a document captured, edited, taken
down, restored or re-extracted; a quote corrected; speakers merged or split), one row
per document it touches, in the order the changes committed. Each web node's index
follows it from its own position (web/indexing.py); it replaces the index queue, whose
rows become the first entries of the log."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
# BIGSERIAL on PostgreSQL; on SQLite an INTEGER PRIMARY KEY with AUTOINCREMENT, so a
# number is never issued twice.
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("kind", TEXT, nullable=False),
        sa.Column("document_id", TEXT, sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("subject", TEXT, nullable=True),
        sa.Column("at", TEXT, nullable=False),
        sqlite_autoincrement=True,
    )
    op.execute(
        "INSERT INTO changes (kind, document_id, at)"
        " SELECT 'queued', document_id, queued_at FROM index_queue"
        " ORDER BY queued_at, document_id"
    )
    op.drop_table("index_queue")
