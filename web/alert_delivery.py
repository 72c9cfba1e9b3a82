"""Finding what is new for each alert and telling it: Atom feeds, webhooks, e-mail digests.

No Flask here: ``onrecord alerts run`` and the scheduler (at each tick) call :func:`run`;
the pages that make and list alerts are in ``web/alerts.py``.

What each follow tells, every item linking to the quote or to the diff:

- a saved **search**: quotes matching it, first seen since the last round;
- a **speaker**: their new quotes (as the record now stands: merges and corrections);
- a **source**: new quotes in its documents, and its documents' edits (linking to the
  diff of that edit), takedowns and restores;
- a **document**: its edits, takedowns and restores.

A quote is new when its words first stood in its document (the first capture of the
earliest version holding them) after the last round: a recapture of unchanged text tells
nothing, an edit that adds a quote tells that quote. Each round looks back :data:`LATE`
past the subscription's mark, for captures whose quotes became visible after a later
capture's had been told (several workers), and leaves out what recent deliveries told.
A saved search reads every match of the round's window, however many (the newest page of
them would leave the rest untold for ever), and a round with more news than
:data:`DELIVERY_ITEMS` records it as several deliveries, all with the mark's move.

A webhook is a JSON POST signed with HMAC-SHA256 of the body under the alert's secret
(``X-Onrecord-Signature: sha256=<hex>``, and ``X-Onrecord-Delivery``: the same id on a
retry), refused for private addresses like any fetch; an e-mail digest goes through the
configured SMTP server. A failed delivery is retried with exponential backoff, then given
up and marked failed with the reason. A delivery is claimed before it is attempted, so two
processes never send it twice; one that dies after sending and before recording it leaves
it to be sent again (at least once: receivers can use the delivery id).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from itertools import islice

from archive.catalog import AlertError, Catalog, Delivery, Subscription
from archive.models import Event, Quote
from index.query import parse
from index.search import Hit, QueryError, ShardUnavailable
from scrapers.errors import FetchError
from scrapers.http import PoliteSession
from web import links

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF = timedelta(minutes=1)  # doubled after each failed attempt
CLAIM = timedelta(minutes=10)  # an attempt's hold on a delivery
LATE = timedelta(hours=1)  # how long after its capture a quote may become visible
DELIVERY_ITEMS = 200  # the most items one delivery (a webhook's body, a digest) carries
FIRST_SEEN_BATCH = 500  # a saved search's matches whose first sighting is asked at once

# Every quote matching a query, in any order (Searcher.every_hit): QueryError for a saved
# search that cannot run, ShardUnavailable when part of the index cannot be read.
Search = Callable[[str], Iterable[Hit]]


# -- following ----------------------------------------------------------------------------


def follow(
    db: Catalog,
    session: PoliteSession,
    user_name: str,
    kind: str,
    target: str,
    *,
    cadence: str,
    channel: str,
    address: str | None,
) -> Subscription:
    """A new alert for ``user_name``, once what it follows exists (a saved search must
    parse, a speaker or document be in the archive), its address holds no line break and
    a webhook's URL is one that ``session`` would call; AlertError says what is wrong."""
    target = (target or "").strip()
    if kind == "search" and target:
        try:
            parse(target)
        except QueryError as exc:
            raise AlertError(f"that search cannot be saved: {exc}") from None
    if kind == "speaker" and target and db.speaker(db.resolve_speaker_id(target)) is None:
        raise AlertError(f"onrecord has no speaker {target}")
    if kind == "document" and target and db.document(target) is None:
        raise AlertError(f"onrecord has no document {target}")
    if any(end in (address or "").strip() for end in "\r\n"):
        # In an e-mail's To header a line break would start another header (Bcc, say).
        raise AlertError("an alert's address cannot contain a line break")
    if channel == "webhook" and address:
        try:
            session.refuse_private(address)
        except FetchError as exc:
            raise AlertError(f"that webhook URL cannot be used: {exc.reason}") from None
    return db.subscribe(user_name, kind, target, cadence=cadence, channel=channel, address=address)


# -- what is new --------------------------------------------------------------------------


def news(
    db: Catalog, search: Search, subscription: Subscription, root: str
) -> tuple[list[dict], datetime]:
    """What ``subscription`` has not been told yet, as alert items with absolute links
    (oldest first), and the mark to move it to (see :data:`Search`)."""
    since = max(subscription.mark - LATE, subscription.created_at)
    told = db.told_keys(subscription.id, since)
    items = [
        _quote_item(root, said, seen)
        for said, seen in _new_quotes(db, search, subscription, since)
        if said.id not in told
    ]
    if subscription.kind in ("source", "document"):
        if subscription.kind == "source":
            events = db.events_since(since, source=subscription.target)
        else:
            events = db.events_since(since, document_id=subscription.target)
        items += [_event_item(db, root, event) for event in events if _event_key(event) not in told]
    items.sort(key=lambda item: (item["at"], item["key"]))
    newest = max((from_iso(item["at"]) for item in items), default=subscription.mark)
    return items, max(newest, subscription.mark)


@dataclass(frozen=True)
class _Said:
    """A quote as an alert tells it."""

    id: str
    document_id: str
    text: str
    speaker: str | None
    role: str | None


def _new_quotes(
    db: Catalog, search: Search, subscription: Subscription, since: datetime
) -> list[tuple[_Said, datetime]]:
    """The follow's quotes (as corrected) first seen after ``since``."""
    if subscription.kind == "search":
        query = f"({subscription.target}) captured:>={since.date().isoformat()}"
        said = (_said(hit) for hit in search(query))  # the index holds corrections
    elif subscription.kind == "speaker":
        said = (_said(q) for q in db.speaker_quotes(db.resolve_speaker_id(subscription.target)))
    elif subscription.kind == "source":
        current = db.source_quotes_since(subscription.target, since)
        said = (_said(c.quote) for c in db.corrected_many(current) if not c.not_quote)
    else:
        return []
    return _first_seen_after(db, said, since)


def _first_seen_after(
    db: Catalog, said: Iterable[_Said], since: datetime
) -> list[tuple[_Said, datetime]]:
    """Those of ``said`` first seen after ``since``, with that moment, asked of the
    catalog a batch at a time: a saved search's matches (every page recaptured since the
    mark's day) are read as they come, and only the new ones are kept."""
    found: dict[str, tuple[_Said, datetime]] = {}
    said = iter(said)
    while batch := list(islice(said, FIRST_SEEN_BATCH)):
        seen = db.quotes_first_seen(s.id for s in batch)
        found.update((s.id, (s, seen[s.id])) for s in batch if s.id in seen and seen[s.id] > since)
    return list(found.values())


def _said(quote: Quote | Hit) -> _Said:
    return _Said(quote.id, quote.document_id, quote.text, quote.speaker, quote.role)


def _quote_item(root: str, said: _Said, seen: datetime) -> dict:
    return {
        "type": "quote",
        "key": said.id,
        "title": f"{said.speaker or 'Unattributed'}: “{said.text[:120]}”",
        "quote": said.text,
        "speaker": said.speaker,
        "role": said.role,
        "url": links.absolute(root, links.quote_path(said.id)),
        "document": links.absolute(root, links.document_path(said.document_id)),
        "at": iso(seen),
    }


def _event_key(event: Event) -> str:
    return f"{event.type}:{event.document_id}:{event.capture_id}"


def _event_item(db: Catalog, root: str, event: Event) -> dict:
    """An edit links to the diff of that edit (the version its capture made against the
    one before); a takedown or restore to the document, whose versions stay readable."""
    path = links.document_path(event.document_id)
    if event.type == "edited":
        versions = db.versions(event.document_id)
        made = [v.seq for v in versions if v.capture_id == event.capture_id]
        newer = made[0] if made else versions[-1].seq
        if newer > 1:
            path = links.document_diff_path(event.document_id, newer - 1, newer)
    words = {"edited": "Edited", "taken_down": "Taken down", "restored": "Restored"}
    return {
        "type": event.type,
        "key": _event_key(event),
        "title": f"{words.get(event.type, event.type)}: {event.url}",
        "url": links.absolute(root, path),
        "document": links.absolute(root, links.document_path(event.document_id)),
        "original_url": event.url,
        "at": iso(event.at),
    }


def iso(moment: datetime) -> str:
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

    @classmethod
    def from_settings(cls, settings: Mapping) -> Mailer | None:
        """The archive's SMTP server (the ``smtp_*`` settings), or None without one."""
        if not settings["smtp_host"]:
            return None
        return cls(
            settings["smtp_host"],
            int(settings["smtp_port"]),
            settings["smtp_from"],
            settings["smtp_user"],
            settings["smtp_password"],
            timeout=settings["timeout"],
        )

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
        f"{count} new item{'s' if count != 1 else ''} for your {subscription.cadence} alert"
        f" on {subscription.kind} {subscription.target!r}:",
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
    search: Search,
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
        if not subscription.due(now):
            continue
        try:
            items, mark = news(db, search, subscription, root)
        except QueryError as exc:
            log.warning("alert %s: its search cannot run: %s", subscription.id, exc)
            continue
        except ShardUnavailable as exc:  # its mark stays: the next round looks again
            log.warning("alert %s: part of the index cannot be read: %s", subscription.id, exc)
            continue
        if db.record_round(subscription, items, mark, now, most=DELIVERY_ITEMS) is not None:
            recorded += 1
    for delivery in db.pending_deliveries(now):
        # held from when it is taken: a round of many slow webhooks outlasts a claim timed
        # from its start, and another round would find it over and send the news again
        if not db.claim_delivery(delivery, max(now, datetime.now(UTC)) + CLAIM):
            continue  # another process is attempting it
        subscription = db.subscription(delivery.subscription_id)
        try:
            error = attempt(subscription, delivery, session, mailer)
        except Exception as exc:  # a case not foreseen: this delivery fails, the round goes on
            log.exception("alert %s: delivery %s raised", subscription.id, delivery.id)
            error = f"{type(exc).__name__}: {exc}"
        retry = None
        if error is not None and delivery.attempts + 1 < MAX_ATTEMPTS:
            retry = now + BACKOFF * 2**delivery.attempts
        db.delivery_attempted(delivery.id, error=error, retry_at=retry)
        if error is not None:
            log.warning("alert %s: delivery %s failed: %s", subscription.id, delivery.id, error)
        delivered += error is None
        failed += error is not None and retry is None
    return {"recorded": recorded, "delivered": delivered, "failed": failed}
