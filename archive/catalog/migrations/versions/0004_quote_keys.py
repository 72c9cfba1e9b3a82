"""The first and last words of each quote's normalised text, indexed, so that the same
quote elsewhere, and its variants with a word changed or dropped, are found without
scanning every quote. Rows from before this migration are filled in when the archive is
next opened for writing (Catalog.fill_quote_keys). Carried over from 0004_quote_keys.sql."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.add_column("quotes", sa.Column("lead", TEXT, nullable=True))
    op.add_column("quotes", sa.Column("tail", TEXT, nullable=True))
    op.create_index("quotes_by_lead", "quotes", ["lead"])
    op.create_index("quotes_by_tail", "quotes", ["tail"])
