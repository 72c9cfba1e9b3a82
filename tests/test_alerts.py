"""Alerts against the web tests' archive: follows find what is new, webhooks are signed
and refused for private addresses, a silent webhook is retried then given up, e-mail
digests go through a real SMTP server (aiosmtpd), and one that refuses is retried."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from bs4 import BeautifulSoup

from archive.catalog import Catalog
from archive.store import Paths, Store
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.conftest import run_onrecord
from web import accounts, alert_delivery, create_app, indexing, links
from web.alert_delivery import iso
from web.cli_accounts import run_alerts

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
    """A round's search, as ``onrecord alerts run`` makes it: every quote matching."""

    def search(query: str):
        with indexing.searching(Paths(site.root), db) as found:
            yield from found.every_hit(query, type="quote")

    return search


def session(**config) -> PoliteSession:
    return PoliteSession(HttpConfig(allow_private=True, **config))


class Receiver:
    """A webhook endpoint on loopback that records what is POSTed (or never answers)."""

    def __init__(self, *, silent: bool = False) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.posts: list[bytes] = []  # every POST, answered or not
        received, posts, hold = self.received, self.posts, threading.Event()
        self.hold = hold

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                posts.append(body)
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
        return box, alert_delivery.Mailer("127.0.0.1", port, "alerts@news.example", timeout=5)

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
            counts = alert_delivery.run(db, searcher(site, db), http, None, root=ROOT)
            assert counts == {"recorded": 1, "delivered": 1, "failed": 0}
            again = alert_delivery.run(db, searcher(site, db), http, None, root=ROOT)
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
            alert_delivery.run(db, searcher(site, db), http, None, root=ROOT, now=now)
            (delivery,) = db.deliveries(made.id)
            assert (delivery.status, delivery.attempts) == ("pending", 1)
            assert "no answer within 0.3 s" in delivery.error
            assert delivery.next_attempt_at == now + alert_delivery.BACKOFF
            for attempt in range(1, alert_delivery.MAX_ATTEMPTS):
                later = now + alert_delivery.BACKOFF * 2**attempt
                alert_delivery.run(db, searcher(site, db), http, None, root=ROOT, now=later)
        (delivery,) = db.deliveries(made.id)  # one delivery: the news was recorded once
        assert (delivery.status, delivery.attempts) == ("failed", alert_delivery.MAX_ATTEMPTS)
        assert delivery.next_attempt_at is None
    finally:
        receiver.close()


def test_a_delivery_taken_late_in_a_long_round_is_not_sent_twice(site, db):
    """A round that began long ago (slow webhooks before this one) holds a delivery from
    when it takes it: a round run meanwhile leaves it alone, where it found the claim
    (timed from the first round's start) over and sent the same news again."""
    receiver = Receiver(silent=True)  # holds each POST for 5 s, unanswered
    try:
        made = db.subscribe(
            "ann", "search", "ballot", channel="webhook", address=receiver.url, now=LONG_AGO
        )
        began = datetime.now(UTC) - timedelta(hours=1)

        def long_round() -> None:
            with Catalog.open(Paths(site.root).catalog) as mine, session(read_timeout=3) as http:
                alert_delivery.run(mine, searcher(site, mine), http, None, root=ROOT, now=began)

        first = threading.Thread(target=long_round)
        first.start()
        deadline = time.monotonic() + 10
        while not receiver.posts and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.posts) == 1  # the first round is attempting it
        with session(read_timeout=3) as http:
            alert_delivery.run(db, searcher(site, db), http, None, root=ROOT)
        first.join()
        assert len(receiver.posts) == 1
        (delivery,) = db.deliveries(made.id)
        assert delivery.attempts == 1
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
        counts = alert_delivery.run(db, searcher(site, db), http, mailer, root=ROOT)
    assert counts["delivered"] >= 1
    (envelope,) = box.messages
    assert envelope.rcpt_tos == ["ann@news.example"]
    assert envelope.content.decode().count("Subject: onrecord: ") == 1
    text = text_of(envelope)
    assert site.director in text
    assert ROOT.rstrip("/") + links.quote_path(site.pledge) in text


def test_an_smtp_server_that_refuses_leaves_the_digest_to_retry(site, db, smtp):
    _, mailer = smtp(refuse=True)
    made = db.subscribe(
        "ann", "document", site.news, channel="email", address="ann@news.example", now=LONG_AGO
    )
    with session() as http:
        alert_delivery.run(db, searcher(site, db), http, mailer, root=ROOT)
    (delivery,) = db.deliveries(made.id)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert "refused" in delivery.error
    (edited,) = [item for item in delivery.items if item["type"] == "edited"]
    assert edited["url"] == ROOT.rstrip("/") + links.document_diff_path(site.news, 1, 2)


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


def test_a_stale_round_or_a_second_claim_records_and_sends_nothing(site, db):
    """Two processes running alerts at once (a scheduler and `onrecord alerts run`): the
    one that moves the mark second records nothing, and a delivery is claimed once."""
    made = db.subscribe("ann", "search", "ballot", now=LONG_AGO)
    item = {"type": "quote", "key": "q-1", "title": "t", "url": "u", "at": "2026-01-01T00:00:00Z"}
    now = datetime.now(UTC)
    first = db.record_round(made, [item], made.mark, now)
    assert first is not None
    assert db.record_round(made, [item], made.mark, now) is None  # `made` is stale now
    assert len(db.deliveries(made.id)) == 1
    assert db.claim_delivery(first, now + alert_delivery.CLAIM)
    assert not db.claim_delivery(first, now + alert_delivery.CLAIM)

    def waiting(at: datetime) -> list[str]:
        return [d.id for d in db.pending_deliveries(at) if d.subscription_id == made.id]

    assert waiting(now) == []  # held until the claim runs out
    assert waiting(now + alert_delivery.CLAIM) == [first.id]


def test_a_daily_alert_gathers_its_day_into_one_round(site, db):
    made = db.subscribe("ann", "search", "ballot", cadence="daily", now=LONG_AGO)
    now = datetime.now(UTC)
    with session() as http:
        alert_delivery.run(db, searcher(site, db), http, None, root=ROOT, now=now)
        assert len(db.deliveries(made.id)) == 1
        alert_delivery.run(
            db, searcher(site, db), http, None, root=ROOT, now=now + timedelta(hours=23)
        )
    assert len(db.deliveries(made.id)) == 1
    ran = db.subscription(made.id)
    assert ran.checked_at == now
    assert not ran.due(now + timedelta(hours=23)) and ran.due(now + timedelta(days=1))
    quiet = db.subscribe("ann", "search", "zeppelin", cadence="weekly", now=LONG_AGO)
    with session() as http:
        alert_delivery.run(db, searcher(site, db), http, None, root=ROOT, now=now)
    # a round with no news still counts: the next one is a week later
    assert db.subscription(quiet.id).checked_at == now
    assert db.subscription(quiet.id).last_sent_at is None
    assert not db.subscription(quiet.id).due(now + timedelta(days=6))


def test_an_atom_alert_lists_its_quotes_with_links(site, db):
    app = create_app({"ARCHIVE": str(site.root), "TESTING": True})
    made = db.subscribe("ann", "speaker", site.director, now=LONG_AGO)
    with session() as http:
        assert alert_delivery.run(db, searcher(site, db), http, None, root=ROOT)["delivered"]
    feed = ET.fromstring(app.test_client().get(links.alert_feed_path(made.id)).data)
    hrefs = [e.find(f"{ATOM}link").get("href") for e in feed.findall(f"{ATOM}entry")]
    assert ROOT.rstrip("/") + links.quote_path(site.pledge) in hrefs
    assert all("/quote/q-" in href for href in hrefs)


def test_following_what_is_not_there_is_refused(site, db):
    app = create_app({"ARCHIVE": str(site.root), "TESTING": True})
    headers = {"Authorization": f"Bearer {db.issue_token('ann')}", "Accept": "application/json"}
    before = len(db.subscriptions())
    for kind, target, message in [
        ("speaker", "s-0000000000000000", "no speaker s-0000000000000000"),
        ("document", "d-0000000000000000", "no document d-0000000000000000"),
        ("search", '"unclosed', "that search cannot be saved"),
    ]:
        response = app.test_client().post(
            links.alerts_path(), json={"kind": kind, "target": target}, headers=headers
        )
        assert response.status_code == 400, kind
        assert message in response.get_json()["error"]["message"]
    assert len(db.subscriptions()) == before
    cli = run_onrecord(
        "alerts", "add", "ann", "speaker", "s-0000000000000000", "--archive", str(site.root)
    )
    assert cli.returncode != 0 and "no speaker s-0000000000000000" in cli.stderr


# -- a source, followed through the scheduler -----------------------------------------------

HTML = {"Content-Type": "text/html; charset=utf-8"}


def text_of(envelope) -> str:
    """The text of a received e-mail (decoded from its transfer encoding)."""
    return email.message_from_bytes(envelope.content, policy=email.policy.default).get_content()


def notice(title: str, *quotes: str) -> str:
    said = "".join(
        f"<p>“{words},” said Oren Vasquez, the harbour authority's port director.</p>"
        for words in quotes
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
    </head><body><article><h1>{title}</h1>
    <p>The harbour authority published its weekly notice to mariners on Monday, setting out
    which berths were open and what dredging work remained in the outer channel.</p>
    {said}
    <p>The next notice will follow at the end of the week, the authority said, with any
    changes to pilotage posted as soon as they are confirmed.</p>
    </article></body></html>"""


FIRST = "The outer channel is open to vessels of every draught from Tuesday morning"
SECOND = "Dredging at the north berth will finish before the spring tides arrive"
ADDED = "Pilots will board inbound ships two miles further out until the work is done"


@pytest.fixture
def harbour(archive_root, server, smtp):
    server.route("/robots.txt", status=200, body="User-agent: *\nAllow: /\n")
    items = "".join(
        f"<item><title>n</title><link>{server.url(p)}</link></item>"
        for p in ("/notices/1", "/notices/2")
    )
    server.route(
        "/feed.xml",
        status=200,
        body=f'<?xml version="1.0"?><rss version="2.0"><channel><title>Notices</title>'
        f"<link>{server.origin}/</link><description>d</description>{items}</channel></rss>",
        headers={"Content-Type": "application/rss+xml"},
    )
    server.route("/notices/1", status=200, body=notice("Channel open", FIRST), headers=HTML)
    server.route("/notices/2", status=200, body=notice("Berth works", SECOND), headers=HTML)
    (archive_root / "sources" / "harbour.toml").write_text(
        f"""[[source]]
name = "harbour-notices"
publisher = "Port of Saltmere Harbour Authority"
kind = "statement"
discovery = {{ type = "feed", url = "{server.url("/feed.xml")}" }}
schedule = {{ every = "6h" }}
delay = 0.0
""",
        encoding="utf-8",
    )
    box, mailer = smtp()
    with (archive_root / "onrecord.toml").open("a", encoding="utf-8") as settings:
        settings.write(
            f'smtp_host = "{mailer.host}"\nsmtp_port = {mailer.port}\npublic_url = "{ROOT}"\n'
        )
    with Catalog.open(Paths(archive_root).catalog) as catalog:
        catalog.add_user("ann", "reader")
    return server, box


def test_the_scheduler_tells_a_source_s_new_quotes_edits_and_takedowns_once(archive_root, harbour):
    site, box = harbour
    receiver = Receiver()
    archive = ["--archive", str(archive_root)]
    try:
        hook = run_onrecord(
            "alerts", "add", "ann", "source", "harbour-notices", "--cadence", "immediate",
            "--channel", "webhook", "--to", receiver.url, *archive,
        )  # fmt: skip
        assert hook.returncode == 0, hook.stderr
        secret = hook.stdout.rsplit(": ", 1)[1].strip()
        mail = run_onrecord(
            "alerts", "add", "ann", "source", "harbour-notices", "--cadence", "immediate",
            "--channel", "email", "--to", "ann@news.example", *archive,
        )  # fmt: skip
        assert mail.returncode == 0, mail.stderr
        saved = run_onrecord(
            "alerts", "add", "ann", "search", "dredging", "--cadence", "immediate", *archive
        )
        assert saved.returncode == 0, saved.stderr

        def tick() -> None:
            done = run_onrecord("schedule", "--once", *archive)
            assert done.returncode == 0, done.stderr

        tick()  # scrapes the source, then delivers
        ((headers, body),) = receiver.received
        assert headers["X-Onrecord-Signature"] == alert_delivery.signature(secret, body)
        told = json.loads(body)["items"]
        assert {i["type"] for i in told} == {"quote"}
        assert {i["quote"].rstrip(",") for i in told} == {FIRST, SECOND}
        assert all(i["url"].startswith(ROOT + "quote/q-") for i in told)
        (first_mail,) = box.messages
        assert all(i["url"] in text_of(first_mail) for i in told)

        with Catalog.open(Paths(archive_root).catalog) as catalog:
            (search,) = [s for s in catalog.subscriptions("ann") if s.kind == "search"]
            (found,) = catalog.deliveries(search.id)  # for its Atom feed
        assert [i["quote"].rstrip(",") for i in found.items] == [SECOND]

        tick()  # a restarted scheduler: nothing new, nothing told again
        assert len(receiver.received) == 1 and len(box.messages) == 1

        site.route(
            "/notices/1", status=200, body=notice("Channel open", FIRST, ADDED), headers=HTML
        )
        site.route("/notices/2", status=410, body="gone", headers=HTML)
        run_onrecord("scrape", *archive)  # the source is not due again for six hours
        tick()
        assert len(receiver.received) == 2 and len(box.messages) == 2
        news = {i["type"]: i for i in json.loads(receiver.received[1][1])["items"]}
        assert sorted(news) == ["edited", "quote", "taken_down"]
        # the edit's new quote, not the old ones again
        assert news["quote"]["quote"].rstrip(",") == ADDED
        with Catalog.open(Paths(archive_root).catalog) as catalog:
            notices = {d.url: d.id for d in catalog.documents()}
        edited, gone = notices[site.url("/notices/1")], notices[site.url("/notices/2")]
        assert news["edited"]["url"] == ROOT.rstrip("/") + links.document_diff_path(edited, 1, 2)
        assert news["taken_down"]["url"] == ROOT.rstrip("/") + links.document_path(gone)
        digest = text_of(box.messages[1])
        assert news["edited"]["url"] in digest and news["quote"]["url"] in digest

        tick()
        assert len(receiver.received) == 2 and len(box.messages) == 2
    finally:
        receiver.close()


def test_signed_in_pages_offer_to_follow_what_they_show(site, db):
    """Speaker, document, source and search pages carry a follow form for signed-in
    people (none for others); sending one makes the alert."""
    if db.user("sam") is None:
        db.add_user("sam", "reader", password="a long password")
    web = create_app({"ARCHIVE": str(site.root), "TESTING": True}).test_client()
    pages = {
        "speaker": (links.speaker_path(site.director), site.director),
        "document": (links.document_path(site.news), site.news),
        "search": (links.search_path("ballot"), "ballot"),
    }
    anonymous = BeautifulSoup(web.get(pages["speaker"][0]).data, "html.parser")
    assert anonymous.select("form.follow") == []
    signin = BeautifulSoup(web.get(links.signin_path()).data, "html.parser")
    csrf = signin.select_one(f"input[name={accounts.CSRF_FIELD}]")["value"]
    form = {"name": "sam", "password": "a long password", accounts.CSRF_FIELD: csrf, "next": "/"}
    assert web.post(links.signin_path(), data=form).status_code == 303
    for kind, (path, target) in pages.items():
        (follow,) = BeautifulSoup(web.get(path).data, "html.parser").select("form.follow")
        fields = {i["name"]: i.get("value", "") for i in follow.select("input")}
        assert (fields["kind"], fields["target"]) == (kind, target), path
        sent = web.post(follow["action"], data={**fields, "cadence": "weekly", "channel": "atom"})
        assert sent.status_code == 303 and sent.location.endswith(links.alerts_path())
    made = {(s.kind, s.target, s.cadence) for s in db.subscriptions("sam")}
    assert made == {(kind, target, "weekly") for kind, (_, target) in pages.items()}


# -- what one delivery gets wrong stays with it -----------------------------------------------


def test_an_address_with_a_line_break_is_refused(site, db):
    app = create_app({"ARCHIVE": str(site.root), "TESTING": True})
    headers = {"Authorization": f"Bearer {db.issue_token('ann')}", "Accept": "application/json"}
    before = len(db.subscriptions())
    for address in ("ann@news.example\nBcc: bob@news.example", "ann@news.example\r\nX: y"):
        response = app.test_client().post(
            links.alerts_path(),
            json={"kind": "search", "target": "ballot", "channel": "email", "address": address},
            headers=headers,
        )
        assert response.status_code == 400, address
        message = response.get_json()["error"]["message"]
        assert message == "an alert's address cannot contain a line break"
    assert len(db.subscriptions()) == before


@pytest.fixture
def empty(archive_root):
    """A catalog of its own, whose deliveries no other test's round attempts."""
    with Catalog.open(Paths(archive_root).catalog) as opened:
        opened.add_user("ann", "reader")
        yield opened


def no_search(query: str):
    raise AssertionError("these alerts follow no saved search")


def pending(db: Catalog, channel: str, address: str, at: datetime):
    """A follow of a document, with one round recorded at ``at`` to deliver."""
    item = {"type": "quote", "key": "q-1", "title": "t", "url": "u", "at": iso(at)}
    made = db.subscribe("ann", "document", "d-1", channel=channel, address=address, now=at)
    return db.record_round(made, [item], at, at)


def test_a_delivery_that_raises_fails_alone_and_the_round_goes_on(empty, smtp):
    """A subscription stored before addresses were checked, whose address makes the
    e-mail itself fail to build: its delivery records a failed attempt, to be retried,
    and the webhook delivery after it in the same round is sent."""
    _, mailer = smtp()
    receiver = Receiver()
    try:
        now = datetime.now(UTC)
        first = pending(empty, "email", "ann@x.example\nBcc: b@x.example", now)
        second = pending(empty, "webhook", receiver.url, now + timedelta(milliseconds=1))
        later = now + timedelta(seconds=1)
        with session() as http:
            counts = alert_delivery.run(empty, no_search, http, mailer, root=ROOT, now=later)
        assert counts["delivered"] == 1
        failed = empty.delivery(first.id)
        assert (failed.status, failed.attempts) == ("pending", 1)
        assert failed.error.startswith("ValueError: ") and "linefeed" in failed.error
        assert failed.next_attempt_at == later + alert_delivery.BACKOFF
        assert empty.delivery(second.id).status == "delivered"
        ((headers, _),) = receiver.received
        assert headers["X-Onrecord-Delivery"] == second.id
    finally:
        receiver.close()


class Rebinding:
    """A resolver whose first answer is a public address and every later one loopback: a
    webhook host that passes the check, then turns private when it is dialled."""

    def __init__(self) -> None:
        self.answers = 0

    def __call__(self, host: str, port: int, *args) -> list:
        self.answers += 1
        address = "93.184.216.34" if self.answers == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


def test_a_webhook_whose_host_turns_private_is_a_failed_attempt(empty):
    now = datetime.now(UTC)
    made = pending(empty, "webhook", "http://h.example/hook", now)
    later = now + timedelta(seconds=1)
    with PoliteSession(HttpConfig(), resolver=Rebinding()) as http:
        alert_delivery.run(empty, no_search, http, None, root=ROOT, now=later)
    failed = empty.delivery(made.id)
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert failed.error == "h.example resolves to 127.0.0.1, a non-public address"


def berths(number: int, count: int = 50) -> str:
    """A notice to mariners in which the port director speaks of dredging ``count`` times,
    published on the ``number``-th of November."""
    said = "".join(
        f"<p>“Dredging contract {number}-{i} covers berth {i} of pier {number} and the"
        " channel beyond it,” said Oren Vasquez, the port director.</p>"
        for i in range(count)
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
    <title>Notice {number}</title>
    <meta property="article:published_time" content="2026-11-{number:02d}T09:00:00Z">
    </head><body><article><h1>Notice {number}</h1>
    <p>The harbour authority published its weekly notice to mariners on Monday.</p>
    {said}</article></body></html>"""


def told_by_round(catalog: Catalog, subscription_id: str) -> list[list[list[dict]]]:
    """The items of each delivery of a follow, by round (oldest first), in their order."""
    rounds: dict[datetime, list] = {}
    for delivery in sorted(catalog.deliveries(subscription_id), key=lambda d: (d.created_at, d.id)):
        rounds.setdefault(delivery.created_at, []).append(delivery.items)
    return list(rounds.values())


def test_a_saved_search_tells_every_new_match_once_however_many(archive_root, server):
    """A backlog of 250 matching quotes (more than a page of search results, and more
    than one delivery carries): every one is told, in deliveries of at most
    DELIVERY_ITEMS, oldest first. The same pages recaptured later that day, which match
    again, tell nothing again; a new page tells its own quotes alone."""
    for number in range(1, 7):
        server.route(f"/notices/{number}", status=200, body=berths(number), headers=HTML)
    with Catalog.open(Paths(archive_root).catalog) as catalog:
        catalog.add_user("ann", "reader")
        alert = catalog.subscribe("ann", "search", "dredging")

    def capture(*numbers: int) -> None:
        with Store.open(archive_root) as store, session(obey_robots=False, delay=0.0) as http:
            pipeline = Pipeline(store, http)
            for number in numbers:
                pipeline.capture(server.url(f"/notices/{number}"))
            indexing.catch_up(Paths(archive_root), store.catalog)

    capture(1, 2, 3, 4, 5)
    run_alerts(archive_root)
    with Catalog.open(Paths(archive_root).catalog) as catalog:
        backlog = {q.id for q in catalog.current_quotes()}
        (first,) = told_by_round(catalog, alert.id)
    assert len(backlog) == 250
    told = [item["key"] for items in first for item in items]
    assert sorted(told) == sorted(backlog)
    assert [len(items) for items in first] == [alert_delivery.DELIVERY_ITEMS, 50]
    moments = [item["at"] for items in first for item in items]
    assert moments == sorted(moments)

    capture(1, 2, 3, 4, 5, 6)  # the backlog again, unchanged, and a new notice
    run_alerts(archive_root)
    run_alerts(archive_root)
    with Catalog.open(Paths(archive_root).catalog) as catalog:
        new = {q.id for q in catalog.current_quotes()} - backlog
        rounds = told_by_round(catalog, alert.id)
    assert len(rounds) == 2
    assert sorted(item["key"] for items in rounds[1] for item in items) == sorted(new)
    assert len(new) == 50
