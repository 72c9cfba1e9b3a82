"""The front page: search first, then what the archive most recently saw."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from web import api, links
from web.resources import catalog

bp = Blueprint("home", __name__)
LATEST = 8


@bp.get("/")
@bp.get("/index.json")
def home():
    db = catalog()
    quotes = db.latest_quotes(LATEST)
    events = db.latest_events(LATEST)
    summaries = db.document_summaries(
        [q.document_id for q in quotes] + [e.document_id for e in events]
    )
    position, head = db.log_head()
    counts = db.counts()
    if api.wants_json():
        return jsonify(
            {
                "counts": counts,
                "log_head": {"position": position, "hash": head},
                "latest_quotes": [links.quote_path(q.id) for q in quotes],
                "latest_changes": [
                    {"type": e.type, "document": links.document_path(e.document_id)} for e in events
                ],
            }
        )
    return render_template(
        "home.html",
        counts=counts,
        quotes=quotes,
        events=events,
        summaries=summaries,
        log_position=position,
        log_head=head,
        links=links,
    )
