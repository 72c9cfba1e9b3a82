"""Jobs: each piece of scrape work handed to a worker (a source's run, one URL of a run,
one URL to archive), with its state (queued, running, done, failed), its attempts and
the error it ended with, so that whoever enqueued it can follow it."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", TEXT, primary_key=True),
        sa.Column("kind", TEXT, nullable=False),
        sa.Column("source", TEXT, nullable=True),
        sa.Column("url", TEXT, nullable=True),
        sa.Column("run_id", TEXT, nullable=True),
        sa.Column("browser", sa.Boolean(), nullable=False),
        sa.Column("state", TEXT, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", TEXT, nullable=True),
        sa.Column("result", TEXT, nullable=True),
        sa.Column("queued_at", TEXT, nullable=False),
        sa.Column("started_at", TEXT, nullable=True),
        sa.Column("finished_at", TEXT, nullable=True),
    )
    op.create_index("jobs_by_source", "jobs", ["source", "state"])
