"""The newsroom layer: named accounts with roles, their API tokens (hashed) and web
sessions (hashed); corrections of quotes, kept in a hash chain of their own like the
capture log (archive/catalog/corrections.py, correction_entry_hash, defines the bytes
hashed); speakers merged into others and their external identifiers."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", TEXT, primary_key=True),
        sa.Column("role", TEXT, nullable=False),
        sa.Column("password_hash", TEXT, nullable=True),
        sa.Column("created_at", TEXT, nullable=False),
        sa.Column("revoked_at", TEXT, nullable=True),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", TEXT, primary_key=True),
        sa.Column("user_name", TEXT, sa.ForeignKey("users.name"), nullable=False),
        sa.Column("secret_hash", TEXT, nullable=False),
        sa.Column("created_at", TEXT, nullable=False),
        sa.Column("revoked_at", TEXT, nullable=True),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", TEXT, primary_key=True),
        sa.Column("user_name", TEXT, sa.ForeignKey("users.name"), nullable=False),
        sa.Column("csrf_token", TEXT, nullable=False),
        sa.Column("created_at", TEXT, nullable=False),
        sa.Column("expires_at", TEXT, nullable=False),
    )
    op.create_table(
        "corrections",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("id", TEXT, nullable=False, unique=True),
        sa.Column("quote_id", TEXT, nullable=False),
        sa.Column("kind", TEXT, nullable=False),
        sa.Column("before", TEXT, nullable=False),
        sa.Column("after", TEXT, nullable=False),
        sa.Column("reason", TEXT, nullable=False),
        sa.Column("author", TEXT, nullable=False),
        sa.Column("created_at", TEXT, nullable=False),
        sa.Column("prev_hash", TEXT, nullable=False),
        sa.Column("entry_hash", TEXT, nullable=False),
    )
    op.create_index("corrections_by_quote", "corrections", ["quote_id"])
    op.create_table(
        "speaker_merges",
        sa.Column("old_id", TEXT, primary_key=True),
        sa.Column("new_id", TEXT, nullable=False),
        sa.Column("author", TEXT, nullable=False),
        sa.Column("reason", TEXT, nullable=False),
        sa.Column("created_at", TEXT, nullable=False),
    )
    op.create_table(
        "speaker_identifiers",
        sa.Column("speaker_id", TEXT, primary_key=True),
        sa.Column("scheme", TEXT, primary_key=True),
        sa.Column("value", TEXT, nullable=False),
    )
