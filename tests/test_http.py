"""The polite HTTP layer against a real loopback server, one route per failure mode.

Time is injected: `FakeTime` moves only when slept on and records every sleep, so delays
and backoff schedules are asserted exactly without waiting.
"""

from __future__ import annotations

import gzip
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scrapers.charset import decode
from scrapers.errors import (
    ConnectionFailed,
    FetchTimeout,
    InvalidURL,
    PrivateAddress,
    ResponseTooLarge,
    RetriesExhausted,
    RobotsDisallowed,
    TooManyRedirects,
)
from scrapers.http import (
    HttpConfig,
    NonPublicAddress,
    PoliteSession,
    decode_text,
    public_addresses,
)
from tests.loopback import LoopbackServer, Reply


class FakeTime:
    """A monotonic clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def half() -> float:
    """A jitter source that always draws the middle of its range."""
    return 0.5


class RebindingDns:
    """What a DNS-rebinding attacker's name server does: a public address the first time
    a name is asked, the loopback address after that."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, host: str, port: int, *args: object) -> list:
        self.asked.append(host)
        address = "93.184.216.34" if len(self.asked) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


@pytest.fixture
def fake():
    return FakeTime()


def polite(fake: FakeTime, **settings) -> PoliteSession:
    settings.setdefault("allow_private", True)
    settings.setdefault("delay", 0.0)
    settings.setdefault("obey_robots", False)
    return PoliteSession(HttpConfig(**settings), clock=fake.clock, sleep=fake.sleep, rng=half)


def test_exchange_records_what_crossed_the_wire(server, fake):
    server.route(
        "/statement",
        body="<p>Ready.</p>",
        headers=[
            ("Content-Type", "text/html; charset=ISO-8859-1"),
            ("Link", "</a>; rel=preload"),
            ("ETag", '"v1"'),
            ("Link", "</b>; rel=preload"),
        ],
    )
    with polite(fake) as session:
        result = session.fetch(server.url("/statement#top"))
    final = result.final
    assert len(result.exchanges) == 1 and not result.not_modified
    assert final.url == server.url("/statement")
    assert (final.status, final.reason, final.http_version) == (200, "OK", "HTTP/1.1")
    names = [name for name, _ in final.headers]
    assert names == ["Content-Type", "Link", "ETag", "Link", "Content-Length"]
    assert final.content_type == "text/html" and final.charset == "iso-8859-1"
    assert final.etag == '"v1"' and final.last_modified is None
    assert final.raw_body == final.body == b"<p>Ready.</p>"
    assert final.remote_ip == "127.0.0.1"
    assert final.fetched_at.tzinfo is UTC
    sent = dict(final.request_headers)
    assert final.request_headers[0] == ("Host", f"127.0.0.1:{server.port}")
    assert sent["User-Agent"] == HttpConfig().user_agent
    assert server.requests[-1].header("User-Agent") == HttpConfig().user_agent


def test_the_servers_address_is_kept_when_it_closes_the_connection(server, fake):
    # http.client hands such a connection's socket over to the response.
    server.route("/last", body=b"bye", headers={"Connection": "close"})
    with polite(fake) as session:
        assert session.fetch(server.url("/last")).final.remote_ip == "127.0.0.1"


def test_client_errors_are_results_not_exceptions(server, fake):
    server.route("/gone", status=410, body=b"withdrawn")
    with polite(fake) as session:
        final = session.fetch(server.url("/gone")).final
    assert (final.status, final.body) == (410, b"withdrawn")
    assert server.hits("/gone") == 1


def test_robots_disallow_refuses_without_touching_the_page(server, fake):
    server.route("/robots.txt", body="User-agent: onrecord\nDisallow: /drafts/\n")
    server.route("/drafts/1", body=b"secret")
    server.route("/news/1", body=b"public")
    with polite(fake, obey_robots=True) as session:
        assert not session.allowed(server.url("/drafts/1"))
        with pytest.raises(RobotsDisallowed, match="disallows"):
            session.fetch(server.url("/drafts/1"))
        assert session.fetch(server.url("/news/1")).final.body == b"public"
    assert server.hits("/drafts/1") == 0
    assert server.hits("/robots.txt") == 1


def test_crawl_delay_wins_over_a_shorter_delay(server, fake):
    server.route("/robots.txt", body="User-agent: *\nCrawl-delay: 5\n")
    server.route("/a", body=b"a")
    with polite(fake, obey_robots=True, delay=1.0) as session:
        session.fetch(server.url("/a"))
        session.fetch(server.url("/a"))
    assert fake.sleeps == [5.0, 5.0]  # robots.txt -> /a, then /a -> /a


def test_a_crawl_delay_past_max_crawl_delay_is_capped_and_logged(server, fake, caplog):
    server.route("/robots.txt", body="User-agent: *\nCrawl-delay: 86400\n")
    server.route("/a", body=b"a")
    with polite(fake, obey_robots=True, delay=1.0, max_crawl_delay=30.0) as session:
        session.fetch(server.url("/a"))
        session.fetch(server.url("/a"))
    assert fake.sleeps == [30.0, 30.0]  # not a day between requests
    [warning] = [r for r in caplog.records if "max_crawl_delay" in r.getMessage()]
    assert "86400" in warning.getMessage() and warning.levelname == "WARNING"


def test_a_fetch_hands_every_exchange_to_its_recorder(server, fake):
    server.route("/robots.txt", body="User-agent: *\nAllow: /\n")
    server.route("/old", status=301, headers={"Location": "/flaky"})
    server.route("/flaky", Reply(status=503), Reply(status=200, body=b"at last"))
    kept: list[tuple[str, int, str]] = []

    def record(exchange, kind: str) -> None:
        kept.append((exchange.url.removeprefix(server.origin), exchange.status, kind))

    with polite(fake, obey_robots=True) as session:
        result = session.fetch(server.url("/old"), kind="listing", record=record)
    assert kept == [
        ("/robots.txt", 200, "robots"),
        ("/old", 301, "listing"),
        ("/flaky", 503, "listing"),  # the retried answer too, as received
        ("/flaky", 200, "listing"),
    ]
    assert [e.status for e in result.exchanges] == [301, 200]


def test_robots_5xx_disallows_for_now_and_4xx_allows(server, fake):
    server.route("/robots.txt", Reply(status=503), Reply(status=404))
    server.route("/a", body=b"a")
    with polite(fake, obey_robots=True) as session:
        with pytest.raises(RobotsDisallowed, match="HTTP 503"):
            session.fetch(server.url("/a"))
        assert server.hits("/robots.txt") == 1  # the verdict is cached, not re-asked
        assert not session.allowed(server.url("/a"))
        fake.sleep(601)  # "for now" is over: ask again
        assert session.fetch(server.url("/a")).final.status == 200
    assert server.hits("/robots.txt") == 2


def test_robots_is_reread_after_its_ttl(server, fake):
    server.route("/robots.txt", body="User-agent: *\nDisallow:\n")
    with polite(fake, obey_robots=True, robots_ttl=60) as session:
        assert session.allowed(server.url("/a"))
        server.route("/robots.txt", body="User-agent: *\nDisallow: /\n")
        assert session.allowed(server.url("/a"))
        fake.sleep(61)
        assert not session.allowed(server.url("/a"))


def test_429_retry_after_seconds_is_honoured_up_to_the_cap(server, fake):
    server.route(
        "/busy",
        Reply(status=429, headers={"Retry-After": "7"}),
        Reply(status=429, headers={"Retry-After": "3600"}),
        Reply(status=200, body=b"ok"),
    )
    with polite(fake, backoff_cap=60.0) as session:
        result = session.fetch(server.url("/busy"))
    assert result.final.body == b"ok"
    assert len(result.exchanges) == 1  # retries are not hops
    assert fake.sleeps == [7.0, 60.0]


def test_a_retry_after_that_is_no_number_is_ignored(server, fake):
    server.route(
        "/busy",
        Reply(status=429, headers={"Retry-After": "\u00b2"}),  # '²': a digit, but no number
        Reply(status=200, body=b"ok"),
    )
    with polite(fake) as session:
        assert session.fetch(server.url("/busy")).final.body == b"ok"


def test_429_retry_after_date_counts_from_the_servers_date(server, fake):
    now = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
    later = now + timedelta(seconds=30)
    server.route(
        "/busy",
        Reply(
            status=429,
            headers={
                "Date": format_datetime(now, usegmt=True),
                "Retry-After": format_datetime(later, usegmt=True),
            },
        ),
        Reply(status=200),
    )
    with polite(fake) as session:
        assert session.fetch(server.url("/busy")).final.status == 200
    assert fake.sleeps == [30.0]


def test_retry_after_on_the_last_attempt_holds_for_the_next_request(server, fake):
    server.route("/busy", status=503, headers={"Retry-After": "5"})
    server.route("/other", body=b"ok")
    with polite(fake, max_retries=1) as session:
        with pytest.raises(RetriesExhausted):
            session.fetch(server.url("/busy"))
        assert fake.sleeps == [5.0]  # before the retry
        session.fetch(server.url("/other"))
    assert fake.sleeps == [5.0, 5.0]  # the host rests as asked after the last answer too


def test_the_last_attempts_backoff_holds_for_the_next_request(server, fake):
    """Without Retry-After the host rests, after the last failure too, the backoff a retry
    would have waited: a struggling host is not handed the next URL at once."""
    server.route("/busy", status=503)
    server.route("/other", body=b"ok")
    with polite(fake, max_retries=1, delay=0.0) as session:
        with pytest.raises(RetriesExhausted, match="HTTP 503 after 2 attempts"):
            session.fetch(server.url("/busy"))
        assert fake.sleeps == [0.75]  # before the retry
        session.fetch(server.url("/other"))
    assert fake.sleeps == [0.75, 1.5]


def test_a_refused_connections_backoff_holds_for_the_next_request(fake):
    with LoopbackServer() as gone:
        url = gone.url("/a")
    with polite(fake, max_retries=0, delay=0.0) as session:
        with pytest.raises(ConnectionFailed, match=r"\(after 1 attempt\)"):
            session.fetch(url)
        assert fake.sleeps == []
        assert session.turn_in(gone.url("/b")) == 0.75


def test_5xx_storm_backs_off_exponentially_then_gives_up(server, fake):
    server.route("/down", status=503, body=b"maintenance")
    with (
        polite(fake, max_retries=4, backoff_base=1.0) as session,
        pytest.raises(RetriesExhausted) as caught,
    ):
        session.fetch(server.url("/down"))
    assert caught.value.status == 503
    assert len(caught.value.exchanges) == 5
    assert server.hits("/down") == 5
    assert fake.sleeps == [0.75, 1.5, 3.0, 6.0]  # base * 2**n, jitter drawn at 0.5


def test_backoff_is_capped(server, fake):
    server.route("/down", status=502)
    with (
        polite(fake, max_retries=3, backoff_base=10.0, backoff_cap=25.0) as session,
        pytest.raises(RetriesExhausted),
    ):
        session.fetch(server.url("/down"))
    assert fake.sleeps == [7.5, 15.0, 18.75]


def test_refused_connections_are_retried_then_reported(fake):
    with LoopbackServer() as gone:
        url = gone.url("/a")
    with (
        polite(fake, max_retries=2) as session,
        pytest.raises(ConnectionFailed, match="after 3 attempts"),
    ):
        session.fetch(url)
    assert fake.sleeps == [0.75, 1.5]


def test_slow_server_read_timeout(server, fake):
    server.route("/slow", delay=2.0, body=b"late")
    with (
        polite(fake, read_timeout=0.2) as session,
        pytest.raises(FetchTimeout, match="no response within"),
    ):
        session.fetch(server.url("/slow"))
    assert server.hits("/slow") == 1  # a slow server is not hammered with retries


def test_trickling_body_hits_the_total_timeout(server):
    server.route("/trickle", body=b"x", chunked=True, chunk_size=1, chunk_delay=0.05, length=200)
    config = HttpConfig(allow_private=True, delay=0.0, total_timeout=0.3, read_timeout=5.0)
    with PoliteSession(config) as session, pytest.raises(FetchTimeout, match="not received within"):
        session.fetch(server.url("/trickle"))


@pytest.mark.parametrize("earlier", [0, 200], ids=["first", "after-200-requests"])
def test_total_timeout_covers_the_wait_for_the_headers(server, earlier):
    """A server that answers after 3 s, within read_timeout but past total_timeout: the
    request is stopped at its total_timeout, and nothing of it is recorded. So it is
    after many requests, whose deadlines the one thread keeping them has let go of."""
    server.route("/late", delay=3.0, body=b"late")
    server.route("/quick", body=b"quick")
    kept = []

    def record(exchange, kind: str) -> None:
        kept.append(exchange)

    config = HttpConfig(
        allow_private=True, delay=0.0, obey_robots=False, total_timeout=0.5, read_timeout=10.0
    )
    with PoliteSession(config) as session:
        for _ in range(earlier):
            session.fetch(server.url("/quick"))
        started = time.monotonic()
        with pytest.raises(FetchTimeout) as caught:
            session.fetch(server.url("/late"), record=record)
    assert time.monotonic() - started < 2.5  # stopped at the deadline, not at the answer
    assert kept == [] and caught.value.exchanges == ()
    assert caught.value.reason == "response not received within 0.5s"
    assert server.hits("/late") == 1  # a timeout is not retried


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: its file and the key's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = folder / "cert.pem", folder / "key.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_file, key_file


def answer_then_corrupt_a_record(listener: socket.socket, context: ssl.SSLContext) -> None:
    """Answer one TLS request with the start of its body, then send a record that fails
    its integrity check (what a broken middlebox or a corrupting link delivers)."""
    connection, _ = listener.accept()
    with context.wrap_socket(connection, server_side=True) as tls:
        request = b""
        while b"\r\n\r\n" not in request:
            request += tls.recv(4096)
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<p>The board")
        # Written under TLS, past the encryption: application data with a bad MAC.
        socket.socket.sendall(tls, b"\x17\x03\x03\x00\x30" + bytes(range(48)))
        socket.socket.shutdown(tls, socket.SHUT_RDWR)


def test_a_tls_failure_while_the_body_streams_is_a_connection_failure(tmp_path, fake):
    certificate, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        serving = threading.Thread(
            target=answer_then_corrupt_a_record, args=(listener, context), daemon=True
        )
        serving.start()
        with polite(fake) as session:
            # The session trusts the public certificate authorities, which this test's
            # certificate is not signed by; requests' own setting for that is its verify.
            session._http.verify = str(certificate)
            with pytest.raises(ConnectionFailed, match="TLS failure while reading the body"):
                session.fetch(f"https://127.0.0.1:{listener.getsockname()[1]}/statement")
        serving.join(timeout=5)


def test_redirects_are_followed_one_recorded_hop_at_a_time(server, fake):
    server.route("/old", status=301, headers={"Location": "/moved"})
    server.route("/moved", status=302, headers={"Location": server.url("/new")})
    server.route("/new", body=b"here")
    with polite(fake) as session:
        result = session.fetch(server.url("/old"))
    assert [e.status for e in result.exchanges] == [301, 302, 200]
    assert result.exchanges[0].location == server.url("/moved")
    assert result.final.url == server.url("/new") and result.final.body == b"here"


def test_redirect_loop(server, fake):
    server.route("/a", status=302, headers={"Location": "/b"})
    server.route("/b", status=302, headers={"Location": "/a"})
    with polite(fake) as session, pytest.raises(TooManyRedirects, match="loop") as caught:
        session.fetch(server.url("/a"))
    assert [e.url for e in caught.value.exchanges] == [server.url("/a"), server.url("/b")]


def test_redirect_chain_longer_than_the_cap(server, fake):
    for n in range(5):
        server.route(f"/r{n}", status=307, headers={"Location": f"/r{n + 1}"})
    with (
        polite(fake, max_redirects=3) as session,
        pytest.raises(TooManyRedirects, match="more than 3"),
    ):
        session.fetch(server.url("/r0"))
    assert server.hits("/r4") == 0


def test_redirect_to_another_scheme_is_refused(server, fake):
    server.route("/ftp", status=302, headers={"Location": "ftp://files.example/x"})
    with polite(fake) as session:
        with pytest.raises(InvalidURL, match="not an http"):
            session.fetch("file:///etc/passwd")
        with pytest.raises(InvalidURL, match="ftp://") as caught:
            session.fetch(server.url("/ftp"))
    assert [e.status for e in caught.value.exchanges] == [302]


def test_oversize_stream_stops_early(server, fake):
    huge = 1024**3
    server.route("/huge", body=b"0123456789abcdef", chunked=True, length=huge)
    with (
        polite(fake, max_bytes=256 * 1024) as session,
        pytest.raises(ResponseTooLarge, match="stopped reading"),
    ):
        session.fetch(server.url("/huge"))
    server.wait_idle()
    assert server.bytes_sent("/huge") < huge // 10


def test_declared_oversize_is_refused_before_reading(server, fake):
    server.route("/big", body=b"z", length=10 * 1024 * 1024)
    with (
        polite(fake, max_bytes=1024) as session,
        pytest.raises(ResponseTooLarge, match="Content-Length"),
    ):
        session.fetch(server.url("/big"))


def test_gzip_bomb_is_capped_once_decoded(server, fake):
    bomb = gzip.compress(bytes(8 * 1024 * 1024), mtime=0)
    server.route("/bomb", body=bomb, headers={"Content-Encoding": "gzip"})
    with (
        polite(fake, max_bytes=1024 * 1024) as session,
        pytest.raises(ResponseTooLarge, match="decoded"),
    ):
        session.fetch(server.url("/bomb"))


def test_gzip_raw_body_is_kept_and_body_decoded(server, fake):
    page = b"<p>Statement on election security.</p>" * 20
    packed = gzip.compress(page, mtime=0)
    server.route("/gz", body=packed, headers={"Content-Encoding": "gzip"})
    with polite(fake) as session:
        final = session.fetch(server.url("/gz")).final
    assert final.raw_body == packed and final.body == page
    assert server.requests[-1].header("Accept-Encoding") == "gzip, deflate"


def test_gzip_members_then_padding_decode_to_the_members(server, fake):
    """Zero padding after the last gzip member is ignored, as urllib3 and browsers
    ignore it: a robots.txt sent so still disallows, and its Crawl-delay applies."""
    robots = gzip.compress(b"User-agent: *\nDisallow: /private/\n", mtime=0)
    robots += gzip.compress(b"Crawl-delay: 5\n", mtime=0) + bytes(16)
    server.route("/robots.txt", body=robots, headers={"Content-Encoding": "gzip"})
    server.route("/a", body=b"a")
    with polite(fake, obey_robots=True, delay=1.0) as session:
        assert not session.allowed(server.url("/private/x"))
        session.fetch(server.url("/a"))
    assert fake.sleeps == [5.0]  # robots.txt -> /a


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_both_flavours(server, fake, wbits):
    packer = zlib.compressobj(wbits=wbits)
    packed = packer.compress(b"deflated words") + packer.flush()
    server.route("/d", body=packed, headers={"Content-Encoding": "deflate"})
    with polite(fake) as session:
        assert session.fetch(server.url("/d")).final.body == b"deflated words"


def test_unknown_content_encoding_keeps_the_bytes(server, fake):
    server.route("/br", body=b"\x8b\x02\x80", headers={"Content-Encoding": "br"})
    with polite(fake) as session:
        final = session.fetch(server.url("/br")).final
    assert final.body == final.raw_body == b"\x8b\x02\x80"


def test_binary_body_served_as_html(server, fake):
    blob = bytes(range(256)) * 64
    server.route("/blob", body=blob, headers={"Content-Type": "text/html; charset=utf-8"})
    with polite(fake) as session:
        final = session.fetch(server.url("/blob")).final
    assert final.body == blob
    text = decode_text(final.body, final.charset)
    assert isinstance(text, str) and text


def test_wrong_header_charset_falls_back_to_the_document(server, fake):
    page = '<meta charset="windows-1252"><p>Le président a déclaré…</p>'.encode("cp1252")
    server.route("/fr", body=page, headers={"Content-Type": "text/html; charset=utf-8"})
    with polite(fake) as session:
        final = session.fetch(server.url("/fr")).final
    assert "président a déclaré…" in decode_text(final.body, final.charset)


def test_decode_text_missing_charset_is_detected():
    text = (
        "Le ministère a publié un communiqué détaillé après la réunion. "
        "Selon le préfet, les électeurs pourront voter dès l'ouverture des bureaux. "
    ) * 4
    assert decode_text(text.encode("cp1252"), None) == text
    assert decode_text(text.encode("utf-8"), None) == text


def test_decode_text_bom_and_declarations():
    assert decode_text("\ufeffhé".encode("utf-16-le"), "iso-8859-1") == "hé"
    assert decode_text(b'<?xml version="1.0" encoding="cp1252"?><a>\xe9</a>', None).endswith(
        "<a>é</a>"
    )
    assert decode_text(b"caf\xe9 au lait", "no-such-charset") == "café au lait"
    assert decode_text(b"\x80", "latin-1") == "€"  # browsers read latin-1 as windows-1252


@pytest.mark.parametrize("label", ["undefined", "rot13", "x-no-such-charset"])
def test_robots_txt_with_an_unusable_charset_is_read(server, fake, label):
    server.route(
        "/robots.txt",
        body="User-agent: *\nDisallow: /drafts/\n",
        headers={"Content-Type": f"text/plain; charset={label}"},
    )
    with polite(fake, obey_robots=True) as session:
        assert not session.allowed(server.url("/drafts/1"))
        assert session.allowed(server.url("/news/1"))


@pytest.mark.parametrize(
    ("body", "charset"),
    [
        ("café".encode(), "iso-8859-1"),  # valid UTF-8 outranks a wrong label
        (b"\xef\xbb\xbf<p>hi</p>", None),
        (b" " * 2000 + '<meta charset="iso-8859-2"><p>ąść</p>'.encode("iso-8859-2"), None),
        ('<?xml version="1.0" encoding="koi8-r"?><a>Да</a>'.encode("koi8-r"), "utf-8"),
        (b"<p>1 +ADw-b+AD4-</p>", "utf-7"),  # browsers refuse UTF-7
        (b"<p>caf\xe9</p>", "undefined"),
    ],
)
def test_decode_text_follows_the_extraction_rule(body, charset):
    """One charset rule: decode_text reads a body as extraction reads it."""
    content_type = f"text/html; charset={charset}" if charset else "text/html"
    assert decode_text(body, charset) == decode(body, content_type).text


def test_conditional_request_returns_304_as_a_result(server, fake):
    server.route("/page", status=304, headers={"ETag": '"v2"'})
    with polite(fake) as session:
        result = session.fetch(
            server.url("/page"), etag='"v2"', last_modified="Tue, 03 Nov 2026 12:00:00 GMT"
        )
    assert result.not_modified
    request = server.requests[-1]
    assert request.header("If-None-Match") == '"v2"'
    assert request.header("If-Modified-Since") == "Tue, 03 Nov 2026 12:00:00 GMT"


def test_validators_are_not_carried_across_a_redirect(server, fake):
    server.route("/old", status=301, headers={"Location": "/new"})
    server.route("/new", body=b"new")
    with polite(fake) as session:
        session.fetch(server.url("/old"), etag='"v1"')
    first, second = server.requests
    assert first.header("If-None-Match") == '"v1"' and second.header("If-None-Match") is None


def test_loopback_is_refused_by_default(server):
    server.route("/a", body=b"a")
    with PoliteSession(HttpConfig()) as session, pytest.raises(PrivateAddress, match="non-public"):
        session.fetch(server.url("/a"))
    assert server.requests == []


def test_redirect_to_a_private_address_is_refused(server, fake):
    metadata = "http://169.254.169.254/latest/meta-data/"
    server.route("/go", status=302, headers={"Location": metadata})
    session = PoliteSession(
        HttpConfig(delay=0.0, allow_networks=("127.0.0.1/32",)), clock=fake.clock, sleep=fake.sleep
    )
    with session, pytest.raises(PrivateAddress, match=r"169\.254\.169\.254") as caught:
        session.fetch(server.url("/go"))
    assert [e.status for e in caught.value.exchanges] == [302]


def test_dns_rebinding_cannot_turn_a_checked_public_host_into_loopback(server, fake):
    """The address checked is the address dialled: the connection does not ask DNS again
    behind the check's back (a name that resolves to the loopback server for real)."""
    server.route("/a", body=b"a")
    dns = RebindingDns()
    config = HttpConfig(delay=0.0, obey_robots=False)
    session = PoliteSession(config, clock=fake.clock, sleep=fake.sleep, resolver=dns)
    with session, pytest.raises(PrivateAddress, match=r"resolves to 127\.0\.0\.1") as caught:
        session.fetch(server.url("/a").replace("127.0.0.1", "localhost"))
    assert server.requests == []
    assert dns.asked == ["localhost", "localhost"]  # checked, then checked again to dial
    assert caught.value.exchanges == ()


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, the cloud metadata service
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::5db8:d822",  # local-use NAT64, whatever it carries
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::127.0.0.1",  # IPv4-compatible loopback
        "::ffff:0:a00:1",  # IPv4-translated (SIIT) 10.0.0.1
        "fec0::1",  # site-local
    ],
)
def test_ipv6_addresses_that_carry_a_private_ipv4_address_are_refused(address):
    with pytest.raises(NonPublicAddress, match="non-public"):
        public_addresses(address, 80)


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34, as DNS64 answers on IPv6-only networks
        "2002:5db8:d822::1",  # 6to4 of 93.184.216.34
        "::ffff:93.184.216.34",
        "::ffff:0:5db8:d822",  # IPv4-translated (SIIT) 93.184.216.34
        "2606:4700:4700::1111",
    ],
)
def test_public_ipv6_addresses_pass(address):
    assert public_addresses(address, 80) == [address]


def test_delay_is_per_host_and_port(fake):
    with LoopbackServer() as first, LoopbackServer() as second:
        for srv in (first, second):
            srv.route("/p", body=b"p")
        with polite(fake, delay=3.0) as session:
            session.fetch(first.url("/p"))
            session.fetch(first.url("/p"))  # waits 3 s
            session.fetch(second.url("/p"))  # another port: its own turn, no wait
            session.fetch(second.url("/p"))  # waits 3 s
    assert fake.sleeps == [3.0, 3.0]


def wait_for_hits(srv: LoopbackServer, path: str, count: int) -> None:
    deadline = time.monotonic() + 5
    while srv.hits(path) < count:
        assert time.monotonic() < deadline, f"{path} never got {count} hits"
        time.sleep(0.01)


def test_one_request_at_a_time_per_host_hosts_in_parallel():
    with LoopbackServer() as slow, LoopbackServer() as quick:
        slow.route("/p", delay=0.6)
        quick.route("/p")
        config = HttpConfig(allow_private=True, delay=0.0)
        with PoliteSession(config) as session:
            first = threading.Thread(target=session.fetch, args=(slow.url("/p"),))
            second = threading.Thread(target=session.fetch, args=(slow.url("/p"),))
            first.start()
            wait_for_hits(slow, "/p", 1)
            second.start()
            session.fetch(quick.url("/p"))
            assert first.is_alive() and second.is_alive()  # quick did not queue behind slow
            assert slow.hits("/p") == 1  # the second waits for the first to finish
            first.join()
            second.join()
    assert slow.hits("/p") == 2
