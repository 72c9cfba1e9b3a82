"""Alerts: when each subscription's last round ran, news or not, so that a daily or
weekly alert gathers its period's news into one delivery (``last_sent_at`` only moves
when there was news to tell)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("checked_at", TEXT, nullable=True))
    op.execute("UPDATE subscriptions SET checked_at = COALESCE(last_sent_at, created_at)")
