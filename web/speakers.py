"""Speaker pages: everything a speaker was quoted saying, and their roles over time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, jsonify, redirect, render_template

from archive.catalog import DocumentSummary
from archive.models import Quote, Speaker
from web import api, links
from web.resources import catalog

bp = Blueprint("speakers", __name__)


@dataclass(frozen=True)
class Said:
    """One quote of the speaker, dated by its document."""

    quote: Quote
    document: DocumentSummary | None
    when: datetime | None


@dataclass(frozen=True)
class RoleSpan:
    role: str
    first: datetime | None
    last: datetime | None
    quotes: int


def get_speaker_or_404(speaker_id: str) -> Speaker:
    found = catalog().speaker(speaker_id)
    if found is None:
        abort(404, description=f"onrecord has no speaker {speaker_id}")
    return found


def roles_over_time(said: list[Said]) -> list[RoleSpan]:
    """Each role the speaker was given, with the first and last date it was used."""
    spans: dict[str, list[datetime | None]] = {}
    for item in said:
        if item.quote.role:
            spans.setdefault(item.quote.role, []).append(item.when)
    rows = []
    for role, moments in spans.items():
        dated = sorted(m for m in moments if m is not None)
        rows.append(
            RoleSpan(role, dated[0] if dated else None, dated[-1] if dated else None, len(moments))
        )
    return sorted(rows, key=_span_order)


def _span_order(span: RoleSpan) -> tuple[bool, str]:
    return span.first is None, span.first.isoformat() if span.first else span.role


def _said_order(item: Said) -> str:
    return item.when.isoformat() if item.when else ""


@bp.get("/speaker/<speaker_id>")
def speaker(speaker_id: str):
    speaker_id, as_json = api.split_json(speaker_id)
    db = catalog()
    current = db.resolve_speaker_id(speaker_id)  # after re-extraction and editors' merges
    if current != speaker_id:
        target = links.speaker_path(current)
        return redirect(links.json_path(target) if as_json else target, code=301)
    found = get_speaker_or_404(speaker_id)
    quotes = db.speaker_quotes(found.id)
    summaries = db.document_summaries(q.document_id for q in quotes)
    said = []
    shown = set()
    for quote in quotes:
        # Every version of a document has a current extraction: list each quote once.
        if quote.id in shown:
            continue
        shown.add(quote.id)
        summary = summaries.get(quote.document_id)
        when = (summary.published or summary.first_captured) if summary else None
        said.append(Said(quote, summary, when))
    said.sort(key=_said_order, reverse=True)
    roles = roles_over_time(said)
    identifiers = db.speaker_identifiers(found.id)
    merged = [i for i in db.merged_speaker_ids(found.id) if i != found.id]
    # quotes a later extraction gave to others: where they went, when no one alias could say
    # (as corrected: one an editor gave back to this speaker is among its own above)
    former = [
        r.quote
        for r in db.corrected_many(db.former_quotes(found.id))
        if not r.not_quote and r.quote.id not in shown
    ]
    if as_json or api.wants_json():
        return jsonify(
            speaker_json(found, said, roles)
            | {"identifiers": identifiers, "merged": merged, "former": former_json(former)}
        )
    return render_template(
        "speaker.html",
        speaker=found,
        said=said,
        roles=roles,
        identifiers=identifiers,
        merged=merged,
        former=former,
        links=links,
    )


def former_json(former: list[Quote]) -> list[dict]:
    """Each quote an earlier extraction gave the speaker, as it stands now."""
    return [
        {
            "id": quote.id,
            "text": quote.text,
            "speaker": quote.speaker,
            "speaker_id": quote.speaker_id,
            "url": links.quote_path(quote.id),
        }
        for quote in former
    ]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def speaker_json(found: Speaker, said: list[Said], roles: list[RoleSpan]) -> dict:
    return {
        "id": found.id,
        "name": found.name,
        "anonymous": found.anonymous,
        "document": found.document_id,
        "roles": [
            {"role": r.role, "first": _iso(r.first), "last": _iso(r.last), "quotes": r.quotes}
            for r in roles
        ],
        "quotes": [
            {
                "id": s.quote.id,
                "text": s.quote.text,
                "role": s.quote.role,
                "date": _iso(s.when),
                "document": s.quote.document_id,
                "title": s.document.title if s.document else None,
                "publisher": s.document.publisher if s.document else None,
                "url": links.quote_path(s.quote.id),
            }
            for s in said
        ],
    }
