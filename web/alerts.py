"""Alerts: saved searches and follows, told as Atom feeds, webhooks or e-mail digests.

    POST /alerts                  follow something (signed in, or with a token): kind
                                  (search, speaker, source, document), target, cadence
                                  (immediate, daily, weekly), channel (atom, webhook,
                                  email) and address (the webhook URL or e-mail address);
                                  a webhook's signing secret is shown in this answer only
    GET  /alerts                  the caller's alerts (and /alerts.json)
    POST /alerts/<id>/cancel      stop one
    GET  /alerts/<id>.atom        what an alert found, as a feed (its id is the capability)

``onrecord alerts run`` (or a scheduler calling :func:`run`) finds what is new for each
alert whose cadence has come round, records it, and delivers it: a webhook is a JSON
POST signed with HMAC-SHA256 of the body under the alert's secret
(``X-Onrecord-Signature: sha256=<hex>``), refused for private addresses like any fetch;
an e-mail digest goes through the configured SMTP server. A failed delivery is retried
with exponential backoff, then given up and marked failed with the reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

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

from archive.catalog import AlertError, Catalog, Delivery, Subscription
from scrapers.errors import FetchError
from scrapers.http import HttpConfig, PoliteSession
from web import api, links
from web.accounts import require
from web.corrections import field
from web.resources import catalog

bp = Blueprint("alerts", __name__)

MAX_ATTEMPTS = 5
BACKOFF = timedelta(minutes=1)  # doubled after each failed attempt
SEARCH_ITEMS = 50
ATOM = "application/atom+xml; charset=utf-8"


# -- what is new --------------------------------------------------------------------------


def news(db: Catalog, search, subscription: Subscription, root: str) -> tuple[list[dict], datetime]:
    """What ``subscription`` has not been told yet, as alert items with absolute links,
    and the mark to move it to. ``search(query)`` gives the newest quotes of a query."""
    mark = subscription.mark
    items: list[dict] = []
    if subscription.kind == "search":
        for hit in search(subscription.target).hits:
            if hit.captured > mark:
                items.append(_quote_item(root, hit.id, hit.text, hit.speaker, hit.captured))
    elif subscription.kind == "speaker":
        from web.speakers import corrected_quotes

        quotes = corrected_quotes(db, db.resolve_speaker_id(subscription.target))
        summaries = db.document_summaries(q.document_id for q in quotes)
        for quote in quotes:
            seen = summaries[quote.document_id].first_captured
            if seen > mark:
                items.append(_quote_item(root, quote.id, quote.text, quote.speaker, seen))
    else:
        if subscription.kind == "source":
            for document_id, url, seen in db.documents_since(subscription.target, mark):
                items.append(
                    {
                        "type": "new_document",
                        "title": f"New document: {url}",
                        "url": links.absolute(root, links.document_path(document_id)),
                        "at": _iso(seen),
                    }
                )
            events = db.events_since(mark, source=subscription.target)
        else:
            events = db.events_since(mark, document_id=subscription.target)
        for event in events:
            items.append(_event_item(db, root, event))
    items.sort(key=lambda item: item["at"])
    newest = max((from_iso(item["at"]) for item in items), default=mark)
    return items, max(newest, mark)


def _quote_item(root: str, quote_id: str, text: str, speaker: str | None, at: datetime) -> dict:
    return {
        "type": "quote",
        "title": f"{speaker or 'Unattributed'}: “{text[:120]}”",
        "quote": text,
        "speaker": speaker,
        "url": links.absolute(root, links.quote_path(quote_id)),
        "at": _iso(at),
    }


def _event_item(db: Catalog, root: str, event) -> dict:
    path = links.document_path(event.document_id)
    if event.type == "edited":
        seqs = [v.seq for v in db.versions(event.document_id)]
        if len(seqs) >= 2:
            path = links.document_diff_path(event.document_id, seqs[-2], seqs[-1])
    words = {"edited": "Edited", "taken_down": "Taken down", "restored": "Restored"}
    return {
        "type": event.type,
        "title": f"{words.get(event.type, event.type)}: {event.url}",
        "url": links.absolute(root, path),
        "at": _iso(event.at),
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- delivering ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Mailer:
    """An SMTP server to send digests through (STARTTLS when it offers it)."""

    host: str
    port: int = 25
    sender: str = "onrecord@localhost"
    user: str = ""
    password: str = ""
    timeout: float = 30.0

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls()
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(message)


def signature(secret: str, body: bytes) -> str:
    """The webhook signature header's value.

    >>> signature("k", b"{}")
    'sha256=add853b103fbcc936a194f9eb15e29c4ff08af6e47d5d1bca4f20218e31e4fff'
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(subscription: Subscription, delivery: Delivery) -> bytes:
    return json.dumps(
        {
            "alert": subscription.id,
            "follows": {"kind": subscription.kind, "target": subscription.target},
            "delivery": delivery.id,
            "items": delivery.items,
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode("utf-8")


def digest_text(subscription: Subscription, delivery: Delivery) -> tuple[str, str]:
    count = len(delivery.items)
    subject = f"onrecord: {count} new for {subscription.kind} {subscription.target}"
    lines = [
        f"{count} new item{'s' if count != 1 else ''} for your alert on "
        f"{subscription.kind} {subscription.target!r}:",
        "",
    ]
    for item in delivery.items:
        lines += [item["title"], f"  {item['url']}", ""]
    return subject, "\n".join(lines)


def attempt(
    subscription: Subscription,
    delivery: Delivery,
    session: PoliteSession,
    mailer: Mailer | None,
) -> str | None:
    """Try one delivery: None when it was delivered, else why not."""
    if subscription.channel == "atom":
        return None  # the feed reads recorded deliveries
    if subscription.channel == "webhook":
        body = webhook_body(subscription, delivery)
        headers = {
            "X-Onrecord-Signature": signature(subscription.secret, body),
            "X-Onrecord-Delivery": delivery.id,
        }
        try:
            status = session.post_json(subscription.address, body, headers)
        except FetchError as exc:
            return exc.reason
        return None if 200 <= status < 300 else f"the webhook answered {status}"
    if mailer is None:
        return "no SMTP server is configured (the smtp_host setting)"
    subject, text = digest_text(subscription, delivery)
    try:
        mailer.send(subscription.address, subject, text)
    except (smtplib.SMTPException, OSError) as exc:  # refused, or no answer in time
        return f"the SMTP server refused the digest: {exc}"
    return None


def run(
    db: Catalog,
    search,
    session: PoliteSession,
    mailer: Mailer | None,
    *,
    root: str,
    now: datetime | None = None,
) -> dict[str, int]:
    """One round: record news for every alert that is due, then attempt every delivery
    that is waiting (new ones and retries). Returns counts."""
    now = now or datetime.now(UTC)
    recorded = delivered = failed = 0
    for subscription in db.subscriptions():
        if subscription.due(now):
            items, mark = news(db, search, subscription, root)
            if db.record_delivery(subscription, items, mark, now) is not None:
                recorded += 1
    for delivery in db.pending_deliveries(now):
        subscription = db.subscription(delivery.subscription_id)
        error = attempt(subscription, delivery, session, mailer)
        retry = None
        if error is not None and delivery.attempts + 1 < MAX_ATTEMPTS:
            retry = now + BACKOFF * 2**delivery.attempts
        db.delivery_attempted(delivery.id, error=error, retry_at=retry)
        delivered += error is None
        failed += error is not None and retry is None
    return {"recorded": recorded, "delivered": delivered, "failed": failed}


# -- pages --------------------------------------------------------------------------------


def subscription_json(sub: Subscription, *, secret: bool = False) -> dict:
    shown = {
        "id": sub.id,
        "kind": sub.kind,
        "target": sub.target,
        "cadence": sub.cadence,
        "channel": sub.channel,
        "address": sub.address,
        "created": _iso(sub.created_at),
        "cancelled": _iso(sub.cancelled_at) if sub.cancelled_at else None,
        "feed": links.alert_feed_path(sub.id),
    }
    if secret and sub.secret:
        shown["secret"] = sub.secret
    return shown


@bp.post("/alerts")
def subscribe():
    user = require("reader")
    db = catalog()
    channel = field("channel") or "atom"
    address = field("address")
    if channel == "webhook" and address:
        try:
            with PoliteSession(HttpConfig(allow_private=current_app.config["ALLOW_PRIVATE"])) as s:
                s.refuse_private(address)
        except FetchError as exc:
            abort(400, description=f"that webhook URL cannot be used: {exc.reason}")
    try:
        made = db.subscribe(
            user.name,
            field("kind"),
            field("target"),
            cadence=field("cadence") or "immediate",
            channel=channel,
            address=address,
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
    body = render_template(
        "alert.atom.xml",
        alert=found,
        items=items,
        updated=items[0]["at"] if items else _iso(found.created_at),
        self_url=links.absolute(root, links.alert_feed_path(found.id)),
    )
    return Response(body, content_type=ATOM)
