"""Alerts' pages: saved searches and follows, and what they found as Atom feeds.

    POST /alerts                  follow something (signed in, or with a token): kind
                                  (search, speaker, source, document), target, cadence
                                  (immediate, daily, weekly), channel (atom, webhook,
                                  email) and address (the webhook URL or e-mail address);
                                  a webhook's signing secret is shown in this answer only
    GET  /alerts                  the caller's alerts (and /alerts.json)
    POST /alerts/<id>/cancel      stop one
    GET  /alerts/<id>.atom        what an alert found, as a feed (its id is the capability)

Finding the news and delivering it (``onrecord alerts run``, and the scheduler at each
tick) is ``web/alert_delivery.py``.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
)

from archive.catalog import AlertError, Subscription
from scrapers.http import HttpConfig, PoliteSession
from web import api, feeds, links
from web.accounts import require
from web.alert_delivery import follow, iso
from web.corrections import field
from web.resources import catalog

bp = Blueprint("alerts", __name__)


# -- pages --------------------------------------------------------------------------------


def subscription_json(sub: Subscription, *, secret: bool = False) -> dict:
    shown = {
        "id": sub.id,
        "kind": sub.kind,
        "target": sub.target,
        "cadence": sub.cadence,
        "channel": sub.channel,
        "address": sub.address,
        "created": iso(sub.created_at),
        "cancelled": iso(sub.cancelled_at) if sub.cancelled_at else None,
        "feed": links.alert_feed_path(sub.id),
    }
    if secret and sub.secret:
        shown["secret"] = sub.secret
    return shown


@bp.post("/alerts")
def subscribe():
    user = require("reader")
    db = catalog()
    config = HttpConfig(allow_private=current_app.config["ALLOW_PRIVATE"])
    try:
        with PoliteSession(config) as session:
            made = follow(
                db,
                session,
                user.name,
                field("kind"),
                field("target"),
                cadence=field("cadence") or "immediate",
                channel=field("channel") or "atom",
                address=field("address"),
            )
    except AlertError as exc:
        abort(400, description=str(exc))
    if api.wants_json() or request.is_json:
        return jsonify(subscription_json(made, secret=True)), 201
    return redirect(links.alerts_path(), code=303)


@bp.get("/alerts")
@bp.get("/alerts.json")
def mine():
    user = require("reader")
    found = catalog().subscriptions(user.name)
    if api.wants_json():
        return jsonify({"alerts": [subscription_json(s) for s in found]})
    return render_template("alerts.html", alerts=found)


@bp.post("/alerts/<subscription_id>/cancel")
def cancel(subscription_id: str):
    user = require("reader")
    try:
        catalog().cancel_subscription(subscription_id, user.name)
    except AlertError as exc:
        abort(404, description=str(exc))
    if api.wants_json() or request.is_json:
        return jsonify({"cancelled": subscription_id})
    return redirect(links.alerts_path(), code=303)


@bp.get("/alerts/<subscription_id>.atom")
def feed(subscription_id: str) -> Response:
    db = catalog()
    found = db.subscription(subscription_id)
    if found is None:
        abort(404, description=f"no alert {subscription_id}")
    items = [item for d in db.deliveries(found.id) for item in d.items]
    items.sort(key=lambda item: item["at"], reverse=True)
    root = request.url_root
    return feeds.atom(
        "alert.atom.xml",
        alert=found,
        items=items,
        updated=items[0]["at"] if items else iso(found.created_at),
        self_url=links.absolute(root, links.alert_feed_path(found.id)),
    )
