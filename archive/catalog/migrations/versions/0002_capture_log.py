"""The capture log: an append-only hash chain over every capture, so that rewritten or
backdated history shows. Entry n commits to entry n-1 (archive/catalog/captures.py,
log_entry_hash, defines the bytes hashed). Existing captures are appended by the store
the next time the archive is opened. Carried over from 0002_capture_log.sql."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "capture_log",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("capture_id", TEXT, sa.ForeignKey("captures.id"), nullable=False, unique=True),
        sa.Column("captured_at", TEXT, nullable=False),
        sa.Column("payload_digest", TEXT, nullable=False),
        sa.Column("prev_hash", TEXT, nullable=False),
        sa.Column("entry_hash", TEXT, nullable=False),
    )
