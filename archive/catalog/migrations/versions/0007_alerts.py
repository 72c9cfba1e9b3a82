"""Alerts: saved searches and follows (a speaker, a source, a document) with a cadence
and a channel (Atom feed, webhook, e-mail), and the deliveries made for them, each
retried with backoff until it is delivered or given up."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", TEXT, primary_key=True),
        sa.Column("user_name", TEXT, sa.ForeignKey("users.name"), nullable=False),
        sa.Column("kind", TEXT, nullable=False),
        sa.Column("target", TEXT, nullable=False),
        sa.Column("cadence", TEXT, nullable=False),
        sa.Column("channel", TEXT, nullable=False),
        sa.Column("address", TEXT, nullable=True),
        sa.Column("secret", TEXT, nullable=True),
        sa.Column("created_at", TEXT, nullable=False),
        sa.Column("mark", TEXT, nullable=False),
        sa.Column("last_sent_at", TEXT, nullable=True),
        sa.Column("cancelled_at", TEXT, nullable=True),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", TEXT, primary_key=True),
        sa.Column("subscription_id", TEXT, sa.ForeignKey("subscriptions.id"), nullable=False),
        sa.Column("created_at", TEXT, nullable=False),
        sa.Column("items", TEXT, nullable=False),
        sa.Column("status", TEXT, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TEXT, nullable=True),
        sa.Column("error", TEXT, nullable=True),
    )
    op.create_index("deliveries_by_status", "deliveries", ["status", "next_attempt_at"])
