"""Alerts: what people follow (saved searches, speakers, sources, documents), how often
and how they are told, and each delivery with its attempts.

A subscription keeps a *mark*: the catalog time of the newest thing it has been told.
A round finds what is newer (looking back a little way past the mark for captures whose
quotes became visible late, less what recent deliveries already told), records it in one
delivery (several when it is too much for one) and moves the mark, in one transaction
that only succeeds if nobody moved the mark meanwhile, so nothing is told twice or
skipped, whichever process runs the round and however often it restarts. A delivery is
then claimed by one process, attempted, and retried with backoff until it succeeds or is
given up.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from archive.catalog.base import Queries
from archive.catalog.documents import event_row
from archive.catalog.engine import CatalogError
from archive.catalog.quotes import quote_row
from archive.catalog.rows import CURRENT_QUOTES, batches, from_text, to_text
from archive.models import Event, Quote

KINDS = ("search", "speaker", "source", "document")
CADENCES = {"immediate": timedelta(0), "daily": timedelta(days=1), "weekly": timedelta(days=7)}
CHANNELS = ("atom", "webhook", "email")


class AlertError(CatalogError):
    """A subscription that cannot be made as asked."""


@dataclass(frozen=True)
class Subscription:
    id: str
    user_name: str
    kind: str
    target: str
    cadence: str
    channel: str
    address: str | None
    secret: str | None
    created_at: datetime
    mark: datetime
    last_sent_at: datetime | None  # when a round last found news to tell
    cancelled_at: datetime | None
    checked_at: datetime | None = None  # when its last round ran, news or not

    def due(self, now: datetime) -> bool:
        """Whether a round at ``now`` should look for news: always for an immediate
        alert, once its period has passed since the last round for a daily or weekly one
        (whose delivery then tells the whole period's news at once)."""
        if self.cancelled_at is not None:
            return False
        last = self.checked_at or self.created_at
        return self.cadence == "immediate" or now - last >= CADENCES[self.cadence]


@dataclass(frozen=True)
class Delivery:
    id: str
    subscription_id: str
    created_at: datetime
    items: list[dict]
    status: str  # pending, delivered, failed
    attempts: int
    next_attempt_at: datetime | None
    error: str | None


def _subscription(row) -> Subscription:
    return Subscription(
        id=row["id"],
        user_name=row["user_name"],
        kind=row["kind"],
        target=row["target"],
        cadence=row["cadence"],
        channel=row["channel"],
        address=row["address"],
        secret=row["secret"],
        created_at=from_text(row["created_at"]),
        mark=from_text(row["mark"]),
        last_sent_at=from_text(row["last_sent_at"]),
        cancelled_at=from_text(row["cancelled_at"]),
        checked_at=from_text(row["checked_at"]),
    )


def _delivery(row) -> Delivery:
    return Delivery(
        id=row["id"],
        subscription_id=row["subscription_id"],
        created_at=from_text(row["created_at"]),
        items=json.loads(row["items"]),
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=from_text(row["next_attempt_at"]),
        error=row["error"],
    )


class AlertQueries(Queries):
    def subscribe(
        self,
        user_name: str,
        kind: str,
        target: str,
        *,
        cadence: str = "immediate",
        channel: str = "atom",
        address: str | None = None,
        now: datetime | None = None,
    ) -> Subscription:
        """A new subscription (a webhook one gets a signing secret of its own)."""
        if kind not in KINDS:
            raise AlertError(f"an alert follows one of {', '.join(KINDS)}, not {kind!r}")
        if cadence not in CADENCES:
            raise AlertError(f"a cadence is one of {', '.join(CADENCES)}, not {cadence!r}")
        if channel not in CHANNELS:
            raise AlertError(f"a channel is one of {', '.join(CHANNELS)}, not {channel!r}")
        if not target.strip():
            raise AlertError(f"say which {kind} to follow")
        if channel != "atom" and not (address or "").strip():
            raise AlertError(
                "a webhook needs its URL" if channel == "webhook" else "an e-mail needs an address"
            )
        if channel == "email" and "@" not in (address or ""):
            raise AlertError(f"{address!r} is not an e-mail address")
        now = now or datetime.now(UTC)
        row = {
            "id": "a-" + secrets.token_hex(12),
            "user_name": user_name,
            "kind": kind,
            "target": target.strip(),
            "cadence": cadence,
            "channel": channel,
            "address": (address or "").strip() or None,
            "secret": secrets.token_hex(32) if channel == "webhook" else None,
            "created_at": to_text(now),
            "mark": to_text(now),
        }
        self._run(
            "INSERT INTO subscriptions (id, user_name, kind, target, cadence, channel, address,"
            " secret, created_at, mark, checked_at) VALUES (:id, :user_name, :kind, :target,"
            " :cadence, :channel, :address, :secret, :created_at, :mark, :created_at)",
            row,
        )
        return self.subscription(row["id"])

    def subscription(self, subscription_id: str) -> Subscription | None:
        row = self._one("SELECT * FROM subscriptions WHERE id = :id", id=subscription_id)
        return _subscription(row) if row else None

    def subscriptions(self, user_name: str | None = None) -> list[Subscription]:
        if user_name is None:
            rows = self._rows("SELECT * FROM subscriptions ORDER BY created_at, id")
        else:
            rows = self._rows(
                "SELECT * FROM subscriptions WHERE user_name = :name ORDER BY created_at, id",
                name=user_name,
            )
        return [_subscription(r) for r in rows]

    def cancel_subscription(self, subscription_id: str, user_name: str | None = None) -> None:
        found = self.subscription(subscription_id)
        if found is None or (user_name is not None and found.user_name != user_name):
            raise AlertError(f"no subscription {subscription_id}")
        self._run(
            "UPDATE subscriptions SET cancelled_at = :now WHERE id = :id",
            id=subscription_id,
            now=to_text(datetime.now(UTC)),
        )

    def record_round(
        self,
        subscription: Subscription,
        items: list[dict],
        mark: datetime,
        now: datetime,
        *,
        most: int | None = None,
    ) -> Delivery | None:
        """Record a round of ``subscription`` at ``now``: move its mark to ``mark`` and,
        when there is news, record deliveries of ``items`` to attempt now, in order and
        at most ``most`` items in each (all in one when None); all or nothing. Returns
        the first delivery; nothing is recorded (and None returned) when another process
        ran a round of it since ``subscription`` was read."""
        size = most or max(len(items), 1)
        parts = [items[start : start + size] for start in range(0, len(items), size)]
        # One random stem and a counter: a round's deliveries, made at one moment, are
        # attempted (and listed) in the order of their items.
        stem = secrets.token_hex(10)
        delivery_ids = [f"y-{stem}{number:04x}" for number in range(len(parts))]
        with self.transaction():
            moved = self._run(
                "UPDATE subscriptions SET mark = :mark, checked_at = :now,"
                " last_sent_at = :sent WHERE id = :id AND mark = :old_mark"
                " AND COALESCE(checked_at, '') = :old_checked",
                id=subscription.id,
                mark=to_text(mark),
                now=to_text(now),
                sent=to_text(now) if items else to_text(subscription.last_sent_at),
                old_mark=to_text(subscription.mark),
                old_checked=to_text(subscription.checked_at) or "",
            )
            if moved.rowcount != 1 or not items:
                return None
            self._many(
                "INSERT INTO deliveries (id, subscription_id, created_at, items, status,"
                " attempts, next_attempt_at) VALUES (:id, :sub, :now, :items, 'pending', 0,"
                " :now)",
                [
                    {
                        "id": delivery_id,
                        "sub": subscription.id,
                        "now": to_text(now),
                        "items": json.dumps(part, ensure_ascii=False),
                    }
                    for delivery_id, part in zip(delivery_ids, parts, strict=True)
                ],
            )
        return self.delivery(delivery_ids[0])

    def told_keys(self, subscription_id: str, since: datetime) -> set[str]:
        """The keys of the items that deliveries recorded after ``since`` told."""
        rows = self._run(
            "SELECT items FROM deliveries WHERE subscription_id = :id AND created_at > :since",
            id=subscription_id,
            since=to_text(since),
        ).scalars()
        return {item["key"] for items in rows for item in json.loads(items) if "key" in item}

    def delivery(self, delivery_id: str) -> Delivery | None:
        row = self._one("SELECT * FROM deliveries WHERE id = :id", id=delivery_id)
        return _delivery(row) if row else None

    def deliveries(self, subscription_id: str, *, limit: int = 50) -> list[Delivery]:
        rows = self._rows(
            "SELECT * FROM deliveries WHERE subscription_id = :id"
            " ORDER BY created_at DESC, id LIMIT :n",
            id=subscription_id,
            n=limit,
        )
        return [_delivery(r) for r in rows]

    def pending_deliveries(self, now: datetime) -> list[Delivery]:
        rows = self._rows(
            "SELECT * FROM deliveries WHERE status = 'pending' AND next_attempt_at <= :now"
            " ORDER BY next_attempt_at, id",
            now=to_text(now),
        )
        return [_delivery(r) for r in rows]

    def claim_delivery(self, delivery: Delivery, until: datetime) -> bool:
        """Take ``delivery`` (as read) for one attempt: no other process attempts it
        before ``until``, when a process that died mid-attempt leaves it to the next.
        False when another process took it first."""
        claimed = self._run(
            "UPDATE deliveries SET next_attempt_at = :until WHERE id = :id"
            " AND status = 'pending' AND next_attempt_at = :expected",
            id=delivery.id,
            until=to_text(until),
            expected=to_text(delivery.next_attempt_at),
        )
        return claimed.rowcount == 1

    def delivery_attempted(
        self, delivery_id: str, *, error: str | None, retry_at: datetime | None
    ) -> None:
        """One attempt's outcome: delivered (no error), to retry at ``retry_at``, or
        given up (an error and no retry)."""
        status = "delivered" if error is None else ("pending" if retry_at else "failed")
        self._run(
            "UPDATE deliveries SET attempts = attempts + 1, status = :status, error = :error,"
            " next_attempt_at = :retry WHERE id = :id",
            id=delivery_id,
            status=status,
            error=error,
            retry=to_text(retry_at),
        )

    # -- what is new for a follow -----------------------------------------------------

    def events_since(
        self, mark: datetime, *, document_id: str | None = None, source: str | None = None
    ) -> list[Event]:
        """Edits, takedowns and restores after ``mark``, of one document or of a source's."""
        if document_id is not None:
            rows = self._rows(
                "SELECT * FROM events WHERE document_id = :id AND at > :mark ORDER BY at, id",
                id=document_id,
                mark=to_text(mark),
            )
        else:
            rows = self._rows(
                "SELECT e.* FROM events e JOIN documents d ON d.id = e.document_id"
                " WHERE d.source = :source AND e.at > :mark ORDER BY e.at, e.id",
                source=source,
                mark=to_text(mark),
            )
        return [event_row(r) for r in rows]

    def quotes_first_seen(self, quote_ids: Iterable[str]) -> dict[str, datetime]:
        """When each quote's words first stood in its document: the first capture of the
        earliest version that holds them (its id is the document and its words)."""
        found: dict[str, datetime] = {}
        for batch in batches(quote_ids):
            rows = self._run(
                "SELECT q.id, MIN(v.created_at) FROM quotes q"
                " JOIN extractions e ON e.id = q.extraction_id"
                " JOIN versions v ON v.id = e.version_id WHERE q.id IN :ids GROUP BY q.id",
                ids=batch,
            )
            found.update((quote_id, from_text(seen)) for quote_id, seen in rows)
        return found

    def source_quotes_since(self, source: str, since: datetime) -> list[Quote]:
        """The current quotes of a source's documents captured after ``since`` (those
        that may hold quotes first seen since then)."""
        rows = self._rows(
            f"SELECT q.* FROM {CURRENT_QUOTES} WHERE d.source = :source"
            " AND d.last_captured > :since ORDER BY q.document_id, q.start_offset",
            source=source,
            since=to_text(since),
        )
        return [quote_row(row) for row in rows]
