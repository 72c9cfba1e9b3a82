"""Documents whose index entries are behind the catalog. A document is queued in the
same transaction that changes it and leaves the queue once the index has it, so a crash
between the catalog commit and the index update is caught up by the next run. Carried
over from 0003_index_queue.sql."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "index_queue",
        sa.Column("document_id", TEXT, sa.ForeignKey("documents.id"), primary_key=True),
        sa.Column("queued_at", TEXT, nullable=False),
    )
