"""Document pages: the archived text with every quote marked, versions and their diffs,
edit/takedown/restore events, and every capture.

The text is never turned into HTML by string surgery: it is cut into segments between
quote offsets, and the template escapes each one inside its own element.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from flask import Blueprint, abort, jsonify, redirect, render_template, request

from archive import ids
from archive.catalog import Catalog
from archive.models import Capture, Document, Extraction, Quote, Version
from web import api, links
from web.resources import catalog

bp = Blueprint("documents", __name__)


@dataclass(frozen=True)
class Segment:
    """A run of text; inside a quote when ``quote`` is set (``anchor`` on its first run)."""

    text: str
    quote: Quote | None = None
    anchor: bool = False


@dataclass(frozen=True)
class Change:
    """A piece of a diff: ``equal``, ``delete`` or ``insert``."""

    op: str
    text: str


@dataclass(frozen=True)
class DiffBlock:
    """A paragraph of a diff, its changes word by word."""

    op: str  # equal, delete, insert or replace
    changes: tuple[Change, ...]


def marked_paragraphs(extraction: Extraction, quotes: list[Quote]) -> list[list[Segment]]:
    """The text as paragraphs of segments, each quote's span its own segment.

    >>> from datetime import datetime, timezone
    >>> from archive.models import Paragraph
    >>> x = Extraction("x", "v", "e", datetime.now(timezone.utc), 'He said "go" now.\\nEnd.',
    ...                paragraphs=(Paragraph(0, 17), Paragraph(18, 22)))
    >>> q = Quote("q-1", "d", "x", 9, 11, "go")
    >>> [[(s.text, s.anchor) for s in p] for p in marked_paragraphs(x, [q])]
    [[('He said "', False), ('go', True), ('" now.', False)], [('End.', False)]]
    """
    text = extraction.text
    spans = [(p.start, p.end) for p in extraction.paragraphs] or [(0, len(text))]
    chosen: list[Quote] = []
    for quote in sorted(quotes, key=_by_start):
        if 0 <= quote.start < quote.end <= len(text) and (
            not chosen or quote.start >= chosen[-1].end
        ):
            chosen.append(quote)
    paragraphs = []
    for start, end in spans:
        segments: list[Segment] = []
        cursor = start
        for quote in chosen:
            if quote.end <= start or quote.start >= end:
                continue
            left, right = max(quote.start, start), min(quote.end, end)
            if left > cursor:
                segments.append(Segment(text[cursor:left]))
            segments.append(Segment(text[left:right], quote, anchor=left == quote.start))
            cursor = right
        if cursor < end:
            segments.append(Segment(text[cursor:end]))
        paragraphs.append(segments)
    return paragraphs


def _by_start(quote: Quote) -> tuple[int, int]:
    return quote.start, -quote.end


_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(older: str, newer: str) -> tuple[Change, ...]:
    """The changes that turn ``older`` into ``newer``, word by word.

    >>> [(c.op, c.text) for c in word_diff("we are ready now", "we are not ready")]
    [('equal', 'we are '), ('insert', 'not '), ('equal', 'ready'), ('delete', ' now')]
    """
    a, b = _TOKEN.findall(older), _TOKEN.findall(newer)
    changes: list[Change] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("delete", "replace"):
            changes.append(Change("delete", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            changes.append(Change("insert", "".join(b[j1:j2])))
        if op == "equal":
            changes.append(Change("equal", "".join(a[i1:i2])))
    return tuple(_merged(changes))


def _merged(changes: list[Change]) -> list[Change]:
    merged: list[Change] = []
    for change in changes:
        if merged and merged[-1].op == change.op:
            merged[-1] = Change(change.op, merged[-1].text + change.text)
        else:
            merged.append(change)
    return merged


def paragraphs_of(extraction: Extraction) -> list[str]:
    text = extraction.text
    if not extraction.paragraphs:
        return [part for part in text.split("\n") if part.strip()]
    return [text[p.start : p.end] for p in extraction.paragraphs]


def text_diff(older: Extraction, newer: Extraction) -> list[DiffBlock]:
    """A readable diff of two texts: paragraphs matched, changed ones diffed word by word."""
    a, b = paragraphs_of(older), paragraphs_of(newer)
    blocks: list[DiffBlock] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            blocks += [DiffBlock("equal", (Change("equal", p),)) for p in a[i1:i2]]
        elif op == "delete":
            blocks += [DiffBlock("delete", (Change("delete", p),)) for p in a[i1:i2]]
        elif op == "insert":
            blocks += [DiffBlock("insert", (Change("insert", p),)) for p in b[j1:j2]]
        else:
            olds, news = a[i1:i2], b[j1:j2]
            for index in range(max(len(olds), len(news))):
                old = olds[index] if index < len(olds) else ""
                new = news[index] if index < len(news) else ""
                blocks.append(DiffBlock("replace", word_diff(old, new)))
    return blocks


# -- loading ------------------------------------------------------------------------------


def get_document_or_404(document_id: str) -> Document:
    found = catalog().document(document_id)
    if found is None:
        abort(404, description=f"onrecord has no document {document_id}")
    return found


def version_by_seq(versions: list[Version], value: str, name: str) -> Version:
    """The version numbered ``value`` (1 is the first), or a 400 that says why not."""
    if not ids.is_number(value):
        abort(400, description=f"{name} must be a version number, not {value[:40]!r}")
    for version in versions:
        if version.seq == int(value):
            return version
    abort(400, description=f"this document has no version {int(value)}")


def extraction_or_404(db: Catalog, version: Version) -> Extraction:
    found = db.current_extraction(version.id)
    if found is None:
        abort(404, description=f"version {version.seq} has no extracted text")
    return found


def capture_versions(db: Catalog, versions: list[Version]) -> dict[str, int]:
    """For each capture id, the number of the version it showed."""
    shown = {}
    for version in versions:
        for capture in db.captures_of_version(version.id):
            shown[capture.id] = version.seq
    return shown


# -- the page -----------------------------------------------------------------------------


@bp.get("/document/<document_id>")
def document(document_id: str):
    document_id, as_json = api.split_json(document_id)
    db = catalog()
    found = get_document_or_404(document_id)
    versions = db.versions(found.id)
    if not versions:
        abort(404, description=f"document {found.id} has no text yet")
    diff = request.args.get("diff")
    if diff is not None:
        return document_diff(found, versions, diff, as_json=as_json)
    chosen = versions[-1]
    if "version" in request.args:
        chosen = version_by_seq(versions, request.args["version"], "version")
    extraction = extraction_or_404(db, chosen)
    quotes = db.quotes_of_extraction(extraction.id)
    captures = db.captures_of_url(found.canonical_url)
    shown = capture_versions(db, versions)
    events = db.events(found.id)
    if as_json or api.wants_json():
        return jsonify(
            document_json(found, chosen, versions, extraction, quotes, captures, shown, events)
        )
    return render_template(
        "document.html",
        document=found,
        version=chosen,
        versions=versions,
        extraction=extraction,
        quotes=quotes,
        paragraphs=marked_paragraphs(extraction, quotes),
        captures=captures,
        shown=shown,
        events=events,
        links=links,
    )


def document_diff(found: Document, versions: list[Version], value: str, *, as_json: bool):
    older_text, _, newer_text = value.partition(",")
    older = version_by_seq(versions, older_text, "diff")
    newer = version_by_seq(versions, newer_text, "diff")
    if older.seq > newer.seq:
        return redirect(links.document_diff_path(found.id, newer.seq, older.seq), code=302)
    db = catalog()
    blocks = text_diff(extraction_or_404(db, older), extraction_or_404(db, newer))
    if as_json or api.wants_json():
        return jsonify(
            {
                "document": found.id,
                "older": older.seq,
                "newer": newer.seq,
                "blocks": [
                    {"op": b.op, "changes": [[c.op, c.text] for c in b.changes]} for b in blocks
                ],
            }
        )
    title = extraction_or_404(db, newer).title
    return render_template(
        "diff.html",
        document=found,
        title=title,
        versions=versions,
        older=older,
        newer=newer,
        blocks=blocks,
        links=links,
    )


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def document_json(
    found: Document,
    chosen: Version,
    versions: list[Version],
    extraction: Extraction,
    quotes: list[Quote],
    captures: list[Capture],
    shown: dict[str, int],
    events: list,
) -> dict:
    return {
        "id": found.id,
        "url": found.url,
        "canonical_url": found.canonical_url,
        "state": found.state,
        "kind": found.kind,
        "publisher": found.publisher or extraction.publisher,
        "title": extraction.title,
        "authors": list(extraction.authors),
        "published": _iso(extraction.published),
        "first_captured": _iso(found.first_captured),
        "last_captured": _iso(found.last_captured),
        "version": chosen.seq,
        "text": extraction.text,
        "quotes": [
            {
                "id": q.id,
                "start": q.start,
                "end": q.end,
                "text": q.text,
                "speaker": q.speaker,
                "url": links.quote_path(q.id),
            }
            for q in quotes
        ],
        "versions": [
            {"seq": v.seq, "id": v.id, "created_at": _iso(v.created_at), "capture": v.capture_id}
            for v in versions
        ],
        "events": [{"type": e.type, "at": _iso(e.at), "capture": e.capture_id} for e in events],
        "captures": [
            {
                "id": c.id,
                "captured_at": _iso(c.captured_at),
                "status": c.status,
                "record_type": c.record_type,
                "payload_digest": c.payload_digest,
                "version": shown.get(c.id),
                "url": links.capture_path(c.url, c.captured_at),
            }
            for c in captures
        ],
    }
