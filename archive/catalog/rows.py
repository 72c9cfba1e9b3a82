"""How the catalog stores values, and the joins that several queries share.

Times are text on both engines: ISO 8601 in UTC with microseconds (:func:`to_text`), so
that they sort, compare and hash the same whatever the engine.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# A document with its latest version's current text (aliases d, e).
CURRENT_TEXT = (
    "documents d JOIN extractions e ON e.version_id = d.latest_version_id AND e.is_current = 1"
)
# The quotes of each document's current text (aliases q, e, d): what the site shows.
CURRENT_QUOTES = (
    "quotes q JOIN extractions e ON e.id = q.extraction_id AND e.is_current = 1"
    " JOIN documents d ON d.id = q.document_id AND d.latest_version_id = e.version_id"
)
# Lists of ids are asked for in batches of this many (SQLite's parameter limit).
BATCH = 500


def to_text(moment: datetime | None) -> str | None:
    """A moment as the catalog stores it: ISO 8601 in UTC with microseconds.

    >>> to_text(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    '2026-11-03T09:00:00.000000Z'
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("the catalog stores timezone-aware datetimes only")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def to_zoned_text(moment: datetime | None) -> str | None:
    """A moment kept in the zone it was stated in (a publication date: cited as the day the
    publisher gave, not the day in UTC).

    >>> to_zoned_text(datetime.fromisoformat("2026-11-19T21:40-06:00"))
    '2026-11-19T21:40:00.000000-06:00'
    """
    if moment is None or moment.utcoffset() in (None, timedelta(0)):
        return to_text(moment)
    return moment.isoformat(timespec="microseconds")


def from_text(value: str | None) -> datetime | None:
    """The inverse of :func:`to_text` (also reads other ISO 8601 forms with a zone)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def batches(ids) -> list[list[str]]:
    """Distinct ids, sorted, in batches of :data:`BATCH`."""
    chosen = sorted(set(ids))
    return [chosen[start : start + BATCH] for start in range(0, len(chosen), BATCH)]


def domain(canonical_url: str) -> str:
    return canonical_url.split("://", 1)[-1].split("/", 1)[0]
