"""Every response kept, and politeness across workers.

Each capture says what its fetch was for (``kind``: page, robots, feed, sitemap, listing,
resource) and which run made it (``run_id``), as the WARC's metadata record says (see
archive/warc.py); failure rows name their run too. ``host_leases`` holds, for each
host:port, when the next request to it may be sent, whichever process sends it
(scrapers/http.py): seconds since the epoch on the database's own clock, and the holder
of the turn being taken, if any.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.add_column("captures", sa.Column("kind", TEXT, nullable=False, server_default="page"))
    op.add_column("captures", sa.Column("run_id", TEXT, nullable=True))
    op.add_column("failures", sa.Column("run_id", TEXT, nullable=True))
    op.create_index("captures_by_kind", "captures", ["kind", "captured_at"])
    op.create_index("captures_by_run", "captures", ["run_id"])
    op.create_table(
        "host_leases",
        sa.Column("host", TEXT, primary_key=True),
        sa.Column("next_at", sa.Float(precision=53), nullable=False),
        sa.Column("holder", TEXT, nullable=True),
        sa.Column("rest_until", sa.Float(precision=53), nullable=False, server_default="0"),
    )
