"""Quotes (per extraction), the aliases that keep old quote links working, and speakers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy.engine import RowMapping

from archive.catalog.base import Queries
from archive.catalog.captures import capture_row
from archive.catalog.documents import document_row, extraction_row, version_row
from archive.catalog.rows import CURRENT_QUOTES, batches, domain, from_text
from archive.ids import normalize_quote_text
from archive.models import Capture, Document, Extraction, Quote, Speaker, Version

QUOTE_KEY_WORDS = 4
_QUOTE_COLUMNS = (
    "id, extraction_id, document_id, start_offset, end_offset, text, normalized, speaker_id,"
    " speaker, speaker_mention, speaker_start, speaker_end, role, cue, via, anonymous,"
    " unclosed, method, confidence, lead, tail"
)


def quote_keys(normalized: str) -> tuple[str, str]:
    """The first and last words of a normalised quote, the keys its relatives share.

    >>> quote_keys("we will count every ballot cast in this county")
    ('we will count every', 'cast in this county')
    """
    words = normalized.split()
    return " ".join(words[:QUOTE_KEY_WORDS]), " ".join(words[-QUOTE_KEY_WORDS:])


# A quote with the document, extraction, version and capture it came from: what a quote
# page states of its provenance.
Origin = tuple[Quote, Document, Extraction, Version, Capture]


def quote_row(row: RowMapping) -> Quote:
    return Quote(
        id=row["id"],
        document_id=row["document_id"],
        extraction_id=row["extraction_id"],
        start=row["start_offset"],
        end=row["end_offset"],
        text=row["text"],
        speaker_id=row["speaker_id"],
        speaker=row["speaker"],
        speaker_mention=row["speaker_mention"],
        speaker_start=row["speaker_start"],
        speaker_end=row["speaker_end"],
        role=row["role"],
        cue=row["cue"],
        via=row["via"],
        anonymous=bool(row["anonymous"]),
        unclosed=bool(row["unclosed"]),
        method=row["method"],
        confidence=row["confidence"],
    )


def _quote_values(extraction_id: str, quote: Quote) -> dict[str, object]:
    normalized = normalize_quote_text(quote.text)
    lead, tail = quote_keys(normalized)
    return {
        "id": quote.id,
        "extraction_id": extraction_id,
        "document_id": quote.document_id,
        "start_offset": quote.start,
        "end_offset": quote.end,
        "text": quote.text,
        "normalized": normalized,
        "speaker_id": quote.speaker_id,
        "speaker": quote.speaker,
        "speaker_mention": quote.speaker_mention,
        "speaker_start": quote.speaker_start,
        "speaker_end": quote.speaker_end,
        "role": quote.role,
        "cue": quote.cue,
        "via": quote.via,
        "anonymous": int(quote.anonymous),
        "unclosed": int(quote.unclosed),
        "method": quote.method,
        "confidence": quote.confidence,
        "lead": lead,
        "tail": tail,
    }


def _first_seen(pair: tuple[Quote, datetime]) -> tuple[datetime, str]:
    return pair[1], pair[0].id


class QuoteQueries(Queries):
    def replace_quotes(self, extraction_id: str, quotes: Iterable[Quote]) -> None:
        """Set the quotes of one extraction (idempotent)."""
        self._run("DELETE FROM quotes WHERE extraction_id = :id", id=extraction_id)
        columns = _QUOTE_COLUMNS.replace(" ", "").split(",")
        self._many(
            f"INSERT INTO quotes ({_QUOTE_COLUMNS})"
            f" VALUES ({', '.join(':' + c for c in columns)}) ON CONFLICT DO NOTHING",
            [_quote_values(extraction_id, q) for q in quotes],
        )

    def quotes_of_extraction(self, extraction_id: str) -> list[Quote]:
        rows = self._rows(
            "SELECT * FROM quotes WHERE extraction_id = :id ORDER BY start_offset",
            id=extraction_id,
        )
        return [quote_row(row) for row in rows]

    def quote(self, quote_id: str) -> Quote | None:
        """A quote by id, as it stands in the newest extraction that has it."""
        row = self._one(
            "SELECT q.* FROM quotes q JOIN extractions e ON e.id = q.extraction_id"
            " WHERE q.id = :id ORDER BY e.is_current DESC, e.created_at DESC LIMIT 1",
            id=quote_id,
        )
        return quote_row(row) if row else None

    def quote_origins(self, quote_ids: Iterable[str]) -> dict[str, Origin]:
        """Each quote as :meth:`quote` gives it, with the document, extraction, version
        and capture it came from, by id: a quote page's provenance for a whole export,
        in a few queries per batch of ids rather than four per quote. A quote whose
        records are not all there is left out."""
        quotes: dict[str, Quote] = {}
        for batch in batches(quote_ids):
            rows = self._rows(
                "SELECT q.* FROM quotes q JOIN extractions e ON e.id = q.extraction_id"
                " WHERE q.id IN :ids ORDER BY e.is_current DESC, e.created_at DESC",
                ids=batch,
            )
            for row in rows:  # the first row of each id is the one quote() gives
                quotes.setdefault(row["id"], quote_row(row))
        extractions = self._by_ids(
            "extractions", {q.extraction_id for q in quotes.values()}, extraction_row
        )
        versions = self._by_ids(
            "versions", {e.version_id for e in extractions.values()}, version_row
        )
        captures = self._by_ids("captures", {v.capture_id for v in versions.values()}, capture_row)
        documents = self._by_ids(
            "documents", {q.document_id for q in quotes.values()}, document_row
        )
        found: dict[str, Origin] = {}
        for quote in quotes.values():
            extraction = extractions.get(quote.extraction_id)
            version = versions.get(extraction.version_id) if extraction else None
            capture = captures.get(version.capture_id) if version else None
            document = documents.get(quote.document_id)
            if capture is not None and document is not None:
                found[quote.id] = (quote, document, extraction, version, capture)
        return found

    def current_quotes(self) -> Iterator[Quote]:
        rows = self._run(f"SELECT q.* FROM {CURRENT_QUOTES} ORDER BY q.document_id, q.start_offset")
        for row in rows.mappings():
            yield quote_row(row)

    def latest_quotes(self, limit: int = 10) -> list[Quote]:
        """Quotes of the documents captured most recently (their current text)."""
        rows = self._rows(
            f"SELECT q.* FROM {CURRENT_QUOTES}"
            " ORDER BY d.last_captured DESC, q.document_id, q.start_offset LIMIT :n",
            n=limit,
        )
        return [quote_row(row) for row in rows]

    def quotes_by_speaker(self, speaker_id: str, *, limit: int = 200) -> list[Quote]:
        rows = self._rows(
            f"SELECT q.* FROM {CURRENT_QUOTES} WHERE q.speaker_id = :id"
            " ORDER BY e.created_at DESC, q.document_id, q.start_offset LIMIT :n",
            id=speaker_id,
            n=limit,
        )
        return [quote_row(row) for row in rows]

    def appearances(self, normalized: str) -> list[tuple[Quote, datetime]]:
        """Current quotes with the same normalised text, or the same first or last words
        (the same quote cut longer or shorter, or a variant with a word changed or
        dropped), with their document's first capture time, first appearance first."""
        lead, tail = quote_keys(normalized)
        rows = self._rows(
            f"SELECT q.*, d.first_captured AS seen FROM {CURRENT_QUOTES}"
            " WHERE q.normalized = :normalized OR q.lead = :lead OR q.tail = :tail"
            " ORDER BY d.first_captured, q.id LIMIT 500",
            normalized=normalized,
            lead=lead,
            tail=tail,
        )
        return [(quote_row(row), from_text(row["seen"])) for row in rows]

    def quotes_with_ids(self, quote_ids: Iterable[str]) -> list[tuple[Quote, datetime]]:
        """Current quotes by id (as the index found them), with their document's first
        capture time, first appearance first."""
        found: dict[str, tuple[Quote, datetime]] = {}
        for batch in batches(quote_ids):
            rows = self._rows(
                f"SELECT q.*, d.first_captured AS seen FROM {CURRENT_QUOTES} WHERE q.id IN :ids",
                ids=batch,
            )
            for row in rows:
                found.setdefault(row["id"], (quote_row(row), from_text(row["seen"])))
        return sorted(found.values(), key=_first_seen)

    def fill_quote_keys(self) -> int:
        """Compute the lead and tail words of quotes stored before they were kept."""
        rows = self._rows("SELECT id, extraction_id, normalized FROM quotes WHERE lead IS NULL")
        with self.transaction():
            self._many(
                "UPDATE quotes SET lead = :lead, tail = :tail"
                " WHERE id = :id AND extraction_id = :extraction_id",
                [
                    dict(zip(("lead", "tail"), quote_keys(row["normalized"]), strict=True))
                    | {"id": row["id"], "extraction_id": row["extraction_id"]}
                    for row in rows
                ],
            )
        return len(rows)

    def quote_records(self, document_ids: Iterable[str] | None = None) -> Iterator[dict]:
        """Index records for the quotes of each document's current text."""
        sql = (
            "SELECT q.*, d.url, d.canonical_url, d.kind, d.last_captured,"
            " COALESCE(d.publisher, e.publisher) AS doc_publisher, e.title, e.language,"
            f" e.published FROM {CURRENT_QUOTES}"
        )
        for row in self._per_document(sql, "q.document_id", document_ids):
            yield {
                "id": row["id"],
                "document_id": row["document_id"],
                "text": row["text"],
                "speaker": row["speaker"],
                "speaker_mention": row["speaker_mention"],
                "speaker_id": row["speaker_id"],
                "role": row["role"],
                "anonymous": bool(row["anonymous"]),
                "cue": row["cue"],
                "via": row["via"],
                "publisher": row["doc_publisher"],
                "kind": row["kind"],
                "language": row["language"],
                "published": from_text(row["published"]),
                "captured": from_text(row["last_captured"]),
                "domain": domain(row["canonical_url"]),
                "url": row["url"],
                "title": row["title"],
            }

    def counts(self) -> dict[str, int]:
        """How many captures, documents, quotes (current) and speakers the archive holds."""
        return {
            "captures": self._value("SELECT COUNT(*) FROM captures"),
            "documents": self._value("SELECT COUNT(*) FROM documents"),
            "quotes": self._value(f"SELECT COUNT(*) FROM {CURRENT_QUOTES}"),
            "speakers": self._value("SELECT COUNT(*) FROM speakers"),
        }

    # -- aliases ----------------------------------------------------------------------

    def resolve_quote_id(self, quote_id: str) -> str | None:
        """The id a quote link should show now: the id itself while a current extraction
        has it, else its successor (following aliases), else the id as an older
        extraction issued it; None for an id never issued."""
        seen: list[str] = []
        current = quote_id
        while current not in seen:
            seen.append(current)
            live = self._value(
                "SELECT 1 FROM quotes q JOIN extractions e ON e.id = q.extraction_id"
                " WHERE q.id = :id AND e.is_current = 1 LIMIT 1",
                id=current,
            )
            if live:
                return current
            successor = self._value(
                "SELECT new_id FROM quote_aliases WHERE old_id = :id", id=current
            )
            if successor is None:
                break
            current = successor
        for candidate in seen:
            if self._value("SELECT 1 FROM quotes WHERE id = :id LIMIT 1", id=candidate):
                return candidate
        return None

    def quote_aliases(self) -> list[tuple[str, str]]:
        """Every (old id, successor id) pair, to carry them with an exported archive."""
        rows = self._run("SELECT old_id, new_id FROM quote_aliases ORDER BY old_id")
        return [(r[0], r[1]) for r in rows]

    def add_quote_alias(self, old_id: str, new_id: str) -> None:
        self._run(
            "INSERT INTO quote_aliases (old_id, new_id) VALUES (:old, :new)"
            " ON CONFLICT (old_id) DO UPDATE SET new_id = excluded.new_id",
            old=old_id,
            new=new_id,
        )

    # -- speaker aliases: a speaker id an earlier release issued keeps resolving ---------

    def speaker_has_current_quotes(self, speaker_id: str) -> bool:
        return bool(
            self._value(
                "SELECT 1 FROM quotes q JOIN extractions e ON e.id = q.extraction_id"
                " WHERE q.speaker_id = :id AND e.is_current = 1 LIMIT 1",
                id=speaker_id,
            )
        )

    def former_quotes(self, speaker_id: str) -> list[Quote]:
        """Quotes an earlier extraction gave this speaker that the record now gives someone
        else, each as it stands now (the same id, or its alias's), newest first. A
        re-extraction that shares one speaker's quotes among several leaves that speaker
        no alias; this says where its quotes went."""
        rows = self._rows(  # (not the many that a current extraction still gives them)
            "SELECT q.id FROM quotes q JOIN extractions e ON e.id = q.extraction_id"
            " WHERE q.speaker_id = :id AND e.is_current = 0 AND NOT EXISTS ("
            "  SELECT 1 FROM quotes c JOIN extractions ce ON ce.id = c.extraction_id"
            "  WHERE c.id = q.id AND c.speaker_id = :id AND ce.is_current = 1)"
            " ORDER BY e.created_at DESC, q.document_id, q.start_offset",
            id=speaker_id,
        )
        found: dict[str, Quote] = {}
        for row in rows:
            old_id = row["id"]
            if old_id in found:
                continue
            current_id = self.resolve_quote_id(old_id)
            current = self.quote(current_id) if current_id else None
            if current is not None and current.speaker_id != speaker_id:
                found[old_id] = current
        return list(found.values())

    def speaker_aliases(self) -> list[tuple[str, str]]:
        """Every (old speaker id, successor id) pair, to carry them with an exported archive."""
        rows = self._run("SELECT old_id, new_id FROM speaker_aliases ORDER BY old_id")
        return [(r[0], r[1]) for r in rows]

    def add_speaker_alias(self, old_id: str, new_id: str) -> None:
        self._run(
            "INSERT INTO speaker_aliases (old_id, new_id) VALUES (:old, :new)"
            " ON CONFLICT (old_id) DO UPDATE SET new_id = excluded.new_id",
            old=old_id,
            new=new_id,
        )

    def current_speaker_id(self, speaker_id: str) -> str | None:
        """The id a speaker's quotes carry now, after re-extraction: the id itself while
        current quotes carry it, else its successor (following aliases), else the id as
        issued; None for an id never issued. (Editors' merges come on top of this:
        ``resolve_speaker_id``.)"""
        seen: list[str] = []
        current = speaker_id
        while current not in seen:
            seen.append(current)
            if self.speaker_has_current_quotes(current):
                return current
            successor = self._value(
                "SELECT new_id FROM speaker_aliases WHERE old_id = :id", id=current
            )
            if successor is None:
                break
            current = successor
        for candidate in seen:
            if self._value("SELECT 1 FROM speakers WHERE id = :id", id=candidate):
                return candidate
        return None

    # -- speakers ---------------------------------------------------------------------

    def save_speaker(self, speaker: Speaker) -> None:
        self._run(
            "INSERT INTO speakers (id, name, anonymous, document_id)"
            " VALUES (:id, :name, :anonymous, :document_id) ON CONFLICT (id) DO NOTHING",
            id=speaker.id,
            name=speaker.name,
            anonymous=int(speaker.anonymous),
            document_id=speaker.document_id,
        )

    def speaker(self, speaker_id: str) -> Speaker | None:
        row = self._one("SELECT * FROM speakers WHERE id = :id", id=speaker_id)
        if not row:
            return None
        roles = self._run(
            "SELECT q.role, MIN(e.created_at) AS first FROM quotes q"
            " JOIN extractions e ON e.id = q.extraction_id"
            " WHERE q.speaker_id = :id AND q.role IS NOT NULL"
            " GROUP BY q.role ORDER BY first, q.role",
            id=speaker_id,
        )
        return Speaker(
            id=row["id"],
            name=row["name"],
            anonymous=bool(row["anonymous"]),
            document_id=row["document_id"],
            roles=tuple(r[0] for r in roles),
        )
