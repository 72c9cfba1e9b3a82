"""A speaker id an earlier release issued, and the id its quotes carry now: re-extraction
with cleaner speaker names ("NASA Administrator Jim Bridenstine" -> "Jim Bridenstine") must
not break a link to the old speaker page."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "speaker_aliases",
        sa.Column("old_id", TEXT, primary_key=True),
        sa.Column("new_id", TEXT, nullable=False),
    )
