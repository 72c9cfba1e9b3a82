"""Alerts against the web tests' archive: follows find what is new, webhooks are signed
and refused for private addresses, a silent webhook is retried then given up, e-mail
digests go through a real SMTP server (aiosmtpd), and one that refuses is retried."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from archive.catalog import Catalog
from archive.store import Paths
from scrapers.http import HttpConfig, PoliteSession
from web import alerts, create_app, indexing, links

ATOM = "{http://www.w3.org/2005/Atom}"
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
ROOT = "https://news.example/"


@pytest.fixture
def db(site):
    with Catalog.open(Paths(site.root).catalog) as opened:
        if opened.user("ann") is None:
            opened.add_user("ann", "reader")
        yield opened


def searcher(site, db):
    def search(query: str):
        return indexing.search(
            Paths(site.root), db, query, type="quote", sort="date", page_size=50, facets=False
        )

    return search


def session(**config) -> PoliteSession:
    return PoliteSession(HttpConfig(allow_private=True, **config))


class Receiver:
    """A webhook endpoint on loopback that records what is POSTed (or never answers)."""

    def __init__(self, *, silent: bool = False) -> None:
        self.received: list[tuple[dict, bytes]] = []
        received, hold = self.received, threading.Event()
        self.hold = hold

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if silent:
                    hold.wait(5)
                    return
                received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self, refuse: bool = False) -> None:
        self.messages: list = []
        self.refuse = refuse

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "554 5.7.1 relaying refused"
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    boxes = []

    def start(refuse: bool = False):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        box = Mailbox(refuse)
        controller = Controller(box, hostname="127.0.0.1", port=port)
        controller.start()
        boxes.append(controller)
        return box, alerts.Mailer("127.0.0.1", port, "alerts@news.example", timeout=5)

    yield start
    for controller in boxes:
        controller.stop()


def test_a_search_alert_posts_signed_json_once(site, db):
    receiver = Receiver()
    try:
        made = db.subscribe(
            "ann", "search", "ballot", channel="webhook", address=receiver.url, now=LONG_AGO
        )
        with session() as http:
            counts = alerts.run(db, searcher(site, db), http, None, root=ROOT)
            assert counts == {"recorded": 1, "delivered": 1, "failed": 0}
            again = alerts.run(db, searcher(site, db), http, None, root=ROOT)
        assert again["recorded"] == 0
        ((headers, body),) = receiver.received
        expected = "sha256=" + hmac.new(made.secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Onrecord-Signature"] == expected
        sent = json.loads(body)
        assert sent["alert"] == made.id
        urls = [item["url"] for item in sent["items"]]
        assert ROOT.rstrip("/") + links.quote_path(site.pledge) in urls
    finally:
        receiver.close()


def test_a_webhook_that_never_answers_is_retried_then_given_up(site, db):
    receiver = Receiver(silent=True)
    try:
        made = db.subscribe(
            "ann", "search", "audit", channel="webhook", address=receiver.url, now=LONG_AGO
        )
        now = datetime.now(UTC)
        with session(read_timeout=0.3, connect_timeout=0.3) as http:
            alerts.run(db, searcher(site, db), http, None, root=ROOT, now=now)
            (delivery,) = db.deliveries(made.id)
            assert (delivery.status, delivery.attempts) == ("pending", 1)
            assert "no answer within 0.3 s" in delivery.error
            assert delivery.next_attempt_at == now + alerts.BACKOFF
            for attempt in range(1, alerts.MAX_ATTEMPTS):
                later = now + alerts.BACKOFF * 2**attempt
                alerts.run(db, searcher(site, db), http, None, root=ROOT, now=later)
        (delivery,) = db.deliveries(made.id)  # one delivery: the news was recorded once
        assert (delivery.status, delivery.attempts) == ("failed", alerts.MAX_ATTEMPTS)
        assert delivery.next_attempt_at is None
    finally:
        receiver.close()


def test_a_webhook_on_a_private_address_is_refused(site, db):
    app = create_app({"ARCHIVE": str(site.root), "TESTING": True, "ALLOW_PRIVATE": False})
    token = db.issue_token("ann")
    client = app.test_client()
    before = len(db.subscriptions())
    for url in ("http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "ftp://example.org/x"):
        response = client.post(
            links.alerts_path(),
            json={"kind": "search", "target": "ballot", "channel": "webhook", "address": url},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        assert response.status_code == 400, url
        assert "cannot be used" in response.get_json()["error"]["message"]
    assert len(db.subscriptions()) == before
    with PoliteSession(HttpConfig()) as strict, pytest.raises(Exception, match="non-public"):
        strict.post_json("http://127.0.0.1:9/hook", b"{}", {})


def test_an_email_digest_goes_through_smtp(site, db, smtp):
    box, mailer = smtp()
    db.subscribe(
        "ann",
        "speaker",
        site.director,
        channel="email",
        address="ann@news.example",
        cadence="daily",
        now=LONG_AGO,
    )
    with session() as http:
        counts = alerts.run(db, searcher(site, db), http, mailer, root=ROOT)
    assert counts["delivered"] >= 1
    (envelope,) = box.messages
    assert envelope.rcpt_tos == ["ann@news.example"]
    text = envelope.content.decode()
    assert "Subject: onrecord: " in text and site.director in text
    assert ROOT.rstrip("/") + links.quote_path(site.pledge) in text


def test_an_smtp_server_that_refuses_leaves_the_digest_to_retry(site, db, smtp):
    _, mailer = smtp(refuse=True)
    made = db.subscribe(
        "ann", "document", site.news, channel="email", address="ann@news.example", now=LONG_AGO
    )
    with session() as http:
        alerts.run(db, searcher(site, db), http, mailer, root=ROOT)
    (delivery,) = db.deliveries(made.id)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert "refused" in delivery.error
    edited = [item for item in delivery.items if item["type"] == "edited"]
    assert edited and "?diff=" in edited[0]["url"]


def test_follows_through_the_web_with_a_feed(site, db):
    app = create_app({"ARCHIVE": str(site.root), "TESTING": True})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {db.issue_token('ann')}", "Accept": "application/json"}
    bad = client.post(links.alerts_path(), json={"kind": "mood", "target": "x"}, headers=headers)
    assert bad.status_code == 400 and "not 'mood'" in bad.get_json()["error"]["message"]
    made = client.post(
        links.alerts_path(), json={"kind": "search", "target": "recount"}, headers=headers
    )
    assert made.status_code == 201
    alert = made.get_json()
    listed = client.get("/alerts.json", headers=headers).get_json()["alerts"]
    assert alert["id"] in [a["id"] for a in listed]
    feed = ET.fromstring(client.get(links.alert_feed_path(alert["id"])).data)
    assert feed.find(f"{ATOM}title").text.endswith("search recount")
    gone = client.post(links.alert_cancel_path(alert["id"]), headers=headers)
    assert gone.status_code == 200
    assert db.subscription(alert["id"]).cancelled_at is not None
    assert client.get("/alerts.json").status_code == 401


def test_cadences_wait_their_turn(db):
    made = db.subscribe("ann", "search", "x", cadence="weekly", now=LONG_AGO)
    assert made.due(LONG_AGO + timedelta(days=7))
    assert not made.due(LONG_AGO + timedelta(days=6))
