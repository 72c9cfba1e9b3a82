"""The catalog: what the WARC files hold, and what was made of it.

Times are ISO 8601 UTC strings ("2026-11-03T14:05:09.123456Z", see
archive/catalog/rows.py), so that both engines store, sort and hash them alike; ids are
content-derived (archive/ids.py). Text sorts by code point on both engines (PostgreSQL's
"C" collation, SQLite's default). Carried over from archive/migrations/0001_catalog.sql.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
INT = sa.Integer()
BIG = sa.BigInteger()


def col(name, kind=TEXT, *args, nullable=False, **kw):
    return sa.Column(name, kind, *args, nullable=nullable, **kw)


def upgrade() -> None:
    op.create_table(
        "captures",
        col("id", primary_key=True),
        col("url"),
        col("canonical_url"),
        col("captured_at"),
        col("status", INT),
        col("content_type"),
        col("payload_digest"),
        col("payload_length", BIG),
        col("warc_file"),
        col("warc_offset", BIG),
        col("warc_length", BIG),
        col("warc_record_id", unique=True),
        col("record_type"),
        col("refers_to", nullable=True),
        col("etag", nullable=True),
        col("last_modified", nullable=True),
        col("location", nullable=True),
        col("source", nullable=True),
        col("processed", INT, server_default="0"),
    )
    op.create_index("captures_by_url", "captures", ["canonical_url", "captured_at"])
    op.create_index("captures_by_file", "captures", ["warc_file", "warc_offset"])
    op.create_index("captures_unprocessed", "captures", ["processed", "captured_at"])

    op.create_table(
        "documents",
        col("id", primary_key=True),
        col("canonical_url", unique=True),
        col("url"),
        col("first_captured"),
        col("last_captured"),
        col("source", nullable=True),
        col("publisher", nullable=True),
        col("kind", nullable=True),
        col("state", server_default="live"),
        col("latest_version_id", nullable=True),
    )
    op.create_table(
        "versions",
        col("id", primary_key=True),
        col("document_id", TEXT, sa.ForeignKey("documents.id")),
        col("capture_id", TEXT, sa.ForeignKey("captures.id")),
        col("seq", INT),
        col("created_at"),
        sa.UniqueConstraint("document_id", "seq"),
    )
    # Which version each capture showed (a capture of unchanged text joins its version).
    op.create_table(
        "capture_versions",
        col("capture_id", TEXT, sa.ForeignKey("captures.id"), primary_key=True),
        col("version_id", TEXT, sa.ForeignKey("versions.id")),
    )
    op.create_table(
        "extractions",
        col("id", primary_key=True),
        col("version_id", TEXT, sa.ForeignKey("versions.id")),
        col("extractor"),
        col("created_at"),
        col("text"),
        col("text_digest"),
        col("paragraphs"),
        col("title", nullable=True),
        col("authors"),
        col("publisher", nullable=True),
        col("published", nullable=True),
        col("modified", nullable=True),
        col("language", nullable=True),
        col("canonical_url", nullable=True),
        col("problems"),
        col("is_current", INT, server_default="1"),
    )
    op.create_index("extractions_by_version", "extractions", ["version_id", "is_current"])
    op.create_table(
        "speakers",
        col("id", primary_key=True),
        col("name"),
        col("anonymous", INT, server_default="0"),
        col("document_id", nullable=True),
    )
    op.create_table(
        "quotes",
        col("id"),
        col("extraction_id", TEXT, sa.ForeignKey("extractions.id")),
        col("document_id", TEXT, sa.ForeignKey("documents.id")),
        col("start_offset", INT),
        col("end_offset", INT),
        col("text"),
        col("normalized"),
        col("speaker_id", TEXT, sa.ForeignKey("speakers.id"), nullable=True),
        col("speaker", nullable=True),
        col("speaker_mention", nullable=True),
        col("speaker_start", INT, nullable=True),
        col("speaker_end", INT, nullable=True),
        col("role", nullable=True),
        col("cue", nullable=True),
        col("via", nullable=True),
        col("anonymous", INT, server_default="0"),
        col("unclosed", INT, server_default="0"),
        col("method"),
        col("confidence", sa.Float()),
        sa.PrimaryKeyConstraint("id", "extraction_id"),
    )
    op.create_index("quotes_by_extraction", "quotes", ["extraction_id", "start_offset"])
    op.create_index("quotes_by_speaker", "quotes", ["speaker_id"])
    op.create_index("quotes_by_normalized", "quotes", ["normalized"])
    # A quote id that an older extraction issued, and the quote that succeeds it.
    op.create_table(
        "quote_aliases",
        col("old_id", primary_key=True),
        col("new_id"),
    )
    op.create_table(
        "events",
        col("id", INT, primary_key=True, autoincrement=True),
        col("type"),
        col("document_id", TEXT, sa.ForeignKey("documents.id")),
        col("url"),
        col("at"),
        col("capture_id", nullable=True),
        sa.UniqueConstraint("type", "document_id", "capture_id"),
    )
    # Every fetch that did not yield a capture, with its reason.
    op.create_table(
        "failures",
        col("id", INT, primary_key=True, autoincrement=True),
        col("url"),
        col("source", nullable=True),
        col("at"),
        col("reason"),
        col("status", INT, nullable=True),
    )
    op.create_index("failures_by_source", "failures", ["source", "at"])
    # URLs discovered for a source's run, so that a run stopped half-way resumes.
    op.create_table(
        "queue",
        col("source"),
        col("url"),
        col("run_id"),
        col("queued_at"),
        col("done_at", nullable=True),
        sa.PrimaryKeyConstraint("source", "url", "run_id"),
    )
    op.create_table(
        "runs",
        col("id", primary_key=True),
        col("source"),
        col("started_at"),
        col("finished_at", nullable=True),
        col("discovered", INT, server_default="0"),
        col("fetched", INT, server_default="0"),
        col("new_versions", INT, server_default="0"),
        col("failed", INT, server_default="0"),
        col("error", nullable=True),
    )
    op.create_index("runs_by_source", "runs", ["source", "started_at"])
    op.create_table(
        "schedule",
        col("source", primary_key=True),
        col("next_due"),
    )
