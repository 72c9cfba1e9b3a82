"""Quote pages: the quote, who said it, where it was published, the capture it came from,
how it was attributed, where else it appears, and ready-made citations."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass

from flask import Blueprint, abort, jsonify, redirect, render_template

from archive.catalog import KINDS, Catalog, DocumentSummary
from archive.ids import normalize_quote_text
from archive.models import Capture, Document, Extraction, Quote, Version
from index.search import QueryError
from web import api, citations, corrections, links
from web.captures import replayed, screenshot_digest
from web.documents import Change, word_diff
from web.resources import catalog, root_url, searcher

bp = Blueprint("quotes", __name__)

# Below this confidence an attribution is shown as uncertain: on PolNeAR's dev split, 0.95
# of quotes at or above it had the right speaker (bench/quotes.py prints the table).
CONFIDENT = 0.8


@bp.app_template_test("uncertain")
def uncertain(quote: Quote) -> bool:
    """Whether a quote's speaker was attributed with low confidence."""
    return quote.speaker is not None and quote.confidence < CONFIDENT


@dataclass(frozen=True)
class Appearance:
    """The same words, or near-identical ones, in another place."""

    quote: Quote
    document: DocumentSummary | None
    seen: object  # datetime: when onrecord first captured that document
    current: bool  # the quote this page is about
    same: bool  # the same normalised words
    changes: tuple[Change, ...]  # for a variant: how its words differ from this quote's


@dataclass(frozen=True)
class Provenance:
    """A quote and everything its page states about where it came from."""

    quote: Quote
    document: Document
    extraction: Extraction
    version: Version
    capture: Capture

    @property
    def page(self) -> int | None:
        """The page of a PDF the quote stands on; None for other documents."""
        for paragraph in self.extraction.paragraphs:
            if paragraph.start <= self.quote.start < paragraph.end:
                return paragraph.page
        return None

    @property
    def archived_copy(self) -> str:
        """Where a reader sees the quote in the archive: a PDF at the quote's page."""
        capture = self.capture
        if self.page:
            return f"{links.raw_capture_path(capture.url, capture.captured_at)}#page={self.page}"
        return links.capture_path(capture.url, capture.captured_at)


def get_quote_or_404(db: Catalog, quote_id: str) -> Quote:
    found = db.quote(quote_id)
    if found is None:
        abort(404, description=f"onrecord has no quote {quote_id}")
    return found


def provenance(db: Catalog, quote: Quote) -> Provenance:
    extraction = db.extraction(quote.extraction_id)
    version = db.version(extraction.version_id) if extraction else None
    capture = db.capture(version.capture_id) if version else None
    document = db.document(quote.document_id)
    if extraction is None or version is None or capture is None or document is None:
        abort(404, description=f"the capture quote {quote.id} came from is missing")
    return Provenance(quote, document, extraction, version, capture)


def appearances(db: Catalog, quote: Quote) -> list[Appearance]:
    """Every current quote with these words, words containing them, or near-identical
    words (a variant with a word changed or dropped), first appearance first.

    Candidates come from the catalog (same words, same first or last words) and from the
    index (quotes containing these words as a phrase); each is kept when it is the same
    quote, contains or is contained in it, or differs by a few words."""
    normalized = normalize_quote_text(quote.text)
    found = db.appearances(normalized)
    found += db.quotes_with_ids(_containing(normalized))
    found.sort(key=_first_seen)
    summaries = db.document_summaries(q.document_id for q, _ in found)
    listed = []
    shown = set()
    for other, seen in found:
        if other.id in shown:
            continue
        shown.add(other.id)
        words = normalize_quote_text(other.text)
        same = words == normalized
        if not (same or _related(normalized, words)):
            continue
        listed.append(
            Appearance(
                quote=other,
                document=summaries.get(other.document_id),
                seen=seen,
                current=other.id == quote.id,
                same=same,
                changes=() if same else word_diff(quote.text, other.text),
            )
        )
    return listed


PHRASE_WORDS = 12
VARIANT_SIMILARITY = 0.8


def _first_seen(pair) -> tuple:
    return pair[1], pair[0].id


def _containing(normalized: str) -> list[str]:
    """Ids of quotes that hold these words as a phrase, as the index finds them."""
    words = normalized.replace('"', " ").split()[:PHRASE_WORDS]
    if len(words) < 2:
        return []
    try:
        results = searcher().memoised(
            '"' + " ".join(words) + '"', type="quote", page_size=50, facets=False, highlight=False
        )
    except QueryError:
        return []
    return [hit.id for hit in results.hits]


def _related(mine: str, theirs: str) -> bool:
    """The same quote cut longer or shorter, or a variant differing by a few words."""
    if mine in theirs or theirs in mine:
        return True
    matcher = difflib.SequenceMatcher(None, mine.split(), theirs.split(), autojunk=False)
    return matcher.ratio() >= VARIANT_SIMILARITY


def citable(found: Provenance) -> citations.Citable:
    root = root_url()
    return citations.Citable(
        quote_id=found.quote.id,
        quote=found.quote.text,
        speaker=found.quote.speaker,
        title=found.extraction.title,
        authors=found.extraction.authors,
        publisher=found.document.publisher or found.extraction.publisher,
        published=found.extraction.published,
        url=found.document.url,
        archived_url=links.absolute(root, found.archived_copy),
        captured=found.capture.captured_at,
        permalink=links.absolute(root, links.quote_path(found.quote.id)),
        page=found.page,
    )


@bp.get("/quote/<quote_id>")
def quote(quote_id: str):
    quote_id, as_json = api.split_json(quote_id)
    db = catalog()
    resolved = db.resolve_quote_id(quote_id)
    if resolved is None:
        abort(404, description=f"onrecord has no quote {quote_id}")
    if resolved != quote_id:
        target = links.quote_path(resolved)
        return redirect(links.json_path(target) if as_json else target, code=301)
    record = db.corrected(get_quote_or_404(db, quote_id))
    found = provenance(db, record.quote)
    seen = appearances(db, found.quote)
    item = citable(found)
    if as_json or api.wants_json():
        return jsonify(quote_json(found, seen, item) | corrections.record_json(record))
    return render_template(
        "quote.html",
        found=found,
        quote=found.quote,
        record=record,
        kinds=KINDS,
        appearances=seen,
        citations=[(key, label, getattr(citations, key)(item)) for key, label in citations.STYLES],
        csl_text=json.dumps(citations.csl_json(item), ensure_ascii=False),
        live_link=live_link(found),
        log_position=db.log_position(found.capture.id),
        screenshot=screenshot_digest(found.capture),
        links=links,
    )


def live_link(found: Provenance) -> str:
    """The live page, scrolled to the quote and to nothing else on it."""
    quote = found.quote
    return links.text_fragment(
        found.document.url, quote.text, page=found.extraction.text, span=(quote.start, quote.end)
    )


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def quote_json(found: Provenance, seen: list[Appearance], item: citations.Citable) -> dict:
    quote, capture, extraction = found.quote, found.capture, found.extraction
    return {
        "id": quote.id,
        "text": quote.text,
        "speaker": {
            "id": quote.speaker_id,
            "name": quote.speaker,
            "mention": quote.speaker_mention,
            "role": quote.role,
            "anonymous": quote.anonymous,
            "url": links.speaker_path(quote.speaker_id) if quote.speaker_id else None,
        },
        "cue": quote.cue,
        "via": quote.via,
        "attribution": {
            "method": quote.method,
            "confidence": quote.confidence,
            "uncertain": uncertain(quote),
        },
        "offsets": [quote.start, quote.end],
        "document": {
            "id": found.document.id,
            "url": found.document.url,
            "title": extraction.title,
            "publisher": item.publisher,
            "authors": list(extraction.authors),
            "published": _iso(extraction.published),
            "version": found.version.seq,
            "page": links.document_version_path(found.document.id, found.version.seq, quote.id),
        },
        "capture": {
            "id": capture.id,
            "url": capture.url,
            "captured_at": _iso(capture.captured_at),
            "status": capture.status,
            "payload_digest": capture.payload_digest,
            "warc_file": capture.warc_file,
            "warc_record_id": capture.warc_record_id,
            "page": links.capture_path(capture.url, capture.captured_at),
            "archived_copy": replayed(links.raw_capture_path(capture.url, capture.captured_at)),
            "pdf_page": found.page,
            # a PDF's page is its archived copy itself, which the replay origin serves
            "quote_in_archived_copy": (
                replayed(found.archived_copy) if found.page else found.archived_copy
            ),
            "log_position": catalog().log_position(capture.id),
            "screenshot": (
                replayed(links.screenshot_path(capture.id)) if screenshot_digest(capture) else None
            ),
        },
        "live": live_link(found),
        "appearances": [
            {
                "id": a.quote.id,
                "text": a.quote.text,
                "speaker": a.quote.speaker,
                "document": a.quote.document_id,
                "first_seen": _iso(a.seen),
                "same": a.same,
                "url": links.quote_path(a.quote.id),
            }
            for a in seen
        ],
        "citations": {
            **{key: getattr(citations, key)(item) for key, _ in citations.STYLES},
            "csl": citations.csl_json(item),
        },
    }
