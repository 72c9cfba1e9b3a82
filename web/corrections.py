"""Corrections on the record: editors correct quotes and speakers; everyone sees them.

    POST /quote/<id>/corrections      correct a quote (editor): kind, reason, and the new
                                      value (speaker, role, cue, note; start and end for
                                      boundaries; not_quote for "not a quote")
    GET  /corrections.atom            every correction, newest first, as an Atom feed
    POST /speaker/<id>/merge          merge this speaker into another (editor): into, reason
    POST /speaker/<id>/split          give some of its quotes to another speaker (editor):
                                      quotes, name, reason
    POST /speaker/<id>/identifiers    attach an external identifier (editor): scheme, value

Forms answer with a redirect to the page corrected; JSON callers get JSON. A correction
that cannot be made is a 400 naming why, and records nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, jsonify, redirect, request

from archive.catalog import KINDS, Corrected, Correction, CorrectionError
from web import api, feeds, links
from web.accounts import require
from web.resources import catalog, index_now

bp = Blueprint("corrections", __name__)

FEED_SIZE = 100
IDENTIFIER_SCHEMES = {
    "wikidata": re.compile(r"Q[1-9][0-9]*"),
    "official_page": re.compile(r"https?://\S+"),
}


def field(name: str) -> str:
    """A parameter from a form or a JSON body, as text."""
    if request.is_json:
        body = request.get_json(silent=True)
        value = body.get(name) if isinstance(body, dict) else None
        if isinstance(value, bool | int):
            return str(value).lower()
    else:
        value = request.form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _value(kind: str):
    if kind == "boundaries":
        return (field("start"), field("end"))
    if kind == "not_quote":
        return field("not_quote").lower() not in ("", "0", "false", "no", "off")
    return field(kind)


@bp.post("/quote/<quote_id>/corrections")
def correct(quote_id: str):
    user = require("editor")
    db = catalog()
    kind = field("kind")
    if kind not in KINDS:
        abort(400, description=f"kind must be one of {', '.join(KINDS)}")
    try:
        made = db.correct_quote(
            quote_id, kind, _value(kind), reason=field("reason"), author=user.name
        )
    except CorrectionError as exc:
        status = 404 if str(exc).startswith("onrecord has no quote") else 400
        abort(status, description=str(exc))
    index_now(db)  # this node's search shows it at once; the others within a second
    if api.wants_json() or request.is_json:
        return jsonify(correction_json(made)), 201
    return redirect(links.quote_path(quote_id) + "#corrections", code=303)


def correction_json(correction: Correction) -> dict:
    return {
        "id": correction.id,
        "quote": correction.quote_id,
        "kind": correction.kind,
        "before": correction.before,
        "after": correction.after,
        "reason": correction.reason,
        "by": correction.author,
        "at": _iso(correction.created_at),
        "chain": {
            "position": correction.seq,
            "prev_hash": correction.prev_hash,
            "entry_hash": correction.entry_hash,
        },
        "url": links.quote_path(correction.quote_id),
    }


def record_json(record: Corrected) -> dict:
    """What a quote's JSON twin adds: the machine's attribution and the corrections."""
    machine = record.machine
    return {
        "not_quote": record.not_quote,
        "corrected": record.corrected,
        "machine_attribution": {
            "speaker": machine.speaker,
            "speaker_id": machine.speaker_id,
            "role": machine.role,
            "cue": machine.cue,
            "offsets": [machine.start, machine.end],
            "text": machine.text,
            "method": machine.method,
            "confidence": machine.confidence,
        },
        "corrections": [correction_json(c) for c in record.corrections],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


@bp.get("/corrections.atom")
def feed() -> Response:
    made = catalog().corrections(limit=FEED_SIZE)
    root = request.url_root
    return feeds.atom(
        "corrections.atom.xml",
        corrections=made,
        updated=max((c.created_at for c in made), default=datetime.now(UTC)),
        self_url=links.absolute(root, links.corrections_feed_path()),
        quote_url={c.quote_id: links.absolute(root, links.quote_path(c.quote_id)) for c in made},
    )


# -- speakers as identities -----------------------------------------------------------


@bp.post("/speaker/<speaker_id>/merge")
def merge(speaker_id: str):
    user = require("editor")
    db = catalog()
    into = field("into")
    try:
        db.merge_speakers(speaker_id, into, reason=field("reason"), author=user.name)
    except CorrectionError as exc:
        abort(404 if "has no speaker" in str(exc) else 400, description=str(exc))
    index_now(db)
    target = db.resolve_speaker_id(into)
    if api.wants_json() or request.is_json:
        return jsonify({"merged": speaker_id, "into": target, "url": links.speaker_path(target)})
    return redirect(links.speaker_path(target), code=303)


@bp.post("/speaker/<speaker_id>/split")
def split(speaker_id: str):
    """Give some of a speaker's quotes (``quotes``: ids, by commas or spaces) to another
    speaker (``name``), with a reason: one speaker correction per quote."""
    user = require("editor")
    db = catalog()
    chosen = field("quotes").replace(",", " ").split()
    try:
        made = db.split_speaker(
            speaker_id, chosen, field("name"), reason=field("reason"), author=user.name
        )
    except CorrectionError as exc:
        abort(400, description=str(exc))
    index_now(db)
    into = made[0].after["speaker_id"]
    if api.wants_json() or request.is_json:
        return jsonify({"moved": [c.quote_id for c in made], "into": into}), 201
    return redirect(links.speaker_path(into), code=303)


@bp.post("/speaker/<speaker_id>/identifiers")
def identify(speaker_id: str):
    require("editor")
    db = catalog()
    if db.speaker(speaker_id) is None:
        abort(404, description=f"onrecord has no speaker {speaker_id}")
    scheme, value = field("scheme"), field("value")
    pattern = IDENTIFIER_SCHEMES.get(scheme)
    if pattern is None:
        abort(400, description=f"scheme must be one of {', '.join(IDENTIFIER_SCHEMES)}")
    if not pattern.fullmatch(value):
        abort(400, description=f"{value!r} is not a {scheme} identifier")
    db.set_speaker_identifier(speaker_id, scheme, value)
    if api.wants_json() or request.is_json:
        return jsonify({"speaker": speaker_id, "identifiers": db.speaker_identifiers(speaker_id)})
    return redirect(links.speaker_path(speaker_id), code=303)
