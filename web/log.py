"""The capture log, published: its head, and any segment a reader wants to re-hash.

Anyone who notes the head (position and hash) can later check that no capture logged at
or before it was altered, removed or backdated: fetch the segment from an entry to the
head (``/log.json?from=N``) and re-hash it (see docs/threat-model.md).
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request

from web import api, links
from web.resources import catalog

bp = Blueprint("log", __name__)
RECENT = 50
MAX_SEGMENT = 1000


def head() -> dict:
    position, entry_hash = catalog().log_head()
    return {"position": position, "hash": entry_hash}


@bp.get("/log")
@bp.get("/log.json")
def capture_log():
    db = catalog()
    top = head()
    start = request.args.get("from", type=int)
    if start is None:
        start = max(top["position"] - RECENT + 1, 1)
    if start < 1:
        abort(400, description="from must be a log position, 1 or more")
    entries = list(db.log_segment(start, start + MAX_SEGMENT - 1))
    if api.wants_json():
        return jsonify({"head": top, "from": start, "entries": entries})
    captures = {e["capture_id"]: db.capture(e["capture_id"]) for e in entries}
    return render_template(
        "log.html", head=top, entries=list(reversed(entries)), captures=captures, links=links
    )
