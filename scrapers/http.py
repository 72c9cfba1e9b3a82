"""The polite HTTP layer: the only module that imports requests.

One `PoliteSession` fetches for the whole crawler. It identifies itself, obeys robots.txt
(Crawl-delay included, up to `max_crawl_delay`), sends one request at a time to each host
(host:port) with a delay between them while different hosts proceed in parallel from
several threads (and, given a `lease`, from every process sharing it), retries only
the listed statuses and dropped connections with exponential backoff and `Retry-After`,
refuses private addresses, follows redirects one recorded hop at a time and enforces its
size and time caps while the body streams in. What crossed the wire is kept exactly
(`Exchange.raw_body`) for the WARC writer, next to the decoded payload (`Exchange.body`),
and a fetch given a `record` callback hands it every exchange as it arrives: robots.txt,
each redirect hop, each attempt that was retried, the final answer.
"""

from __future__ import annotations

import contextlib
import email.utils
import heapq
import http.client
import io
import ipaddress
import itertools
import logging
import os
import random
import re
import secrets
import socket
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
from protego import Protego
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError, ProtocolError, ReadTimeoutError, SSLError

from archive import ids
from scrapers.charset import decode_body
from scrapers.errors import (
    ConnectionFailed,
    FetchError,
    FetchTimeout,
    InvalidURL,
    PrivateAddress,
    ResponseTooLarge,
    RetriesExhausted,
    RobotsDisallowed,
    RobotsUnavailable,
    TooManyRedirects,
)

__all__ = [
    "Exchange",
    "FetchResult",
    "HostLease",
    "HttpConfig",
    "NonPublicAddress",
    "PoliteSession",
    "Recorder",
    "decode_text",
    "parse_exchange",
    "public_addresses",
]

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
# How long an unreadable robots.txt (5xx, 429, unreachable) keeps its host closed before
# we ask again: "disallow for now", not for a whole robots_ttl.
_ROBOTS_RETRY_AFTER = 600.0
# Content-Encodings we can undo, in the order we advertise them. No "br": no decoder is
# installed, so we never ask for it.
_ACCEPT_ENCODING = "gzip, deflate"
_GZIP_MAGIC = b"\x1f\x8b"  # the first bytes of every gzip member
_HTTP_VERSIONS = {9: "HTTP/0.9", 10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2"}


@dataclass(frozen=True)
class HttpConfig:
    """How politely and how far a `PoliteSession` fetches. Times are in seconds."""

    user_agent: str = "onrecord/0.1 (+https://github.com/onrecord/onrecord; archive bot)"
    delay: float = 2.0  # between requests to one host; a larger Crawl-delay wins
    max_crawl_delay: float = 30.0  # the most a robots.txt Crawl-delay may make us wait
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # the longest silence while waiting for bytes
    total_timeout: float = 120.0  # the longest one request may take, connect to last byte
    max_bytes: int = 25 * 1024 * 1024  # on the body as sent, and again once decoded
    max_redirects: int = 10
    max_retries: int = 4
    backoff_base: float = 1.0
    backoff_cap: float = 60.0  # also caps Retry-After
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    allow_private: bool = False  # fetch private, loopback, link-local, reserved addresses
    # Networks fetched although not public ("10.1.2.0/24" for an intranet source, or a
    # test's loopback server): the rest of the non-public space stays refused.
    allow_networks: tuple[str, ...] = ()
    obey_robots: bool = True
    robots_ttl: float = 24 * 3600

    @classmethod
    def from_settings(cls, settings: Mapping[str, object], **overrides) -> HttpConfig:
        """The config an archive's settings (``archive.config.load``) describe, with
        ``overrides`` (a source's own delay)."""
        values = {
            "allow_private": settings["allow_private"],
            "delay": settings["delay"],
            "max_crawl_delay": settings["max_crawl_delay"],
            "max_bytes": settings["max_bytes"],
            "read_timeout": settings["timeout"],
        }
        if settings["user_agent"]:
            values["user_agent"] = settings["user_agent"]
        return cls(**{**values, **overrides})


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its response, as they crossed the wire."""

    url: str
    method: str
    request_headers: tuple[tuple[str, str], ...]
    http_version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]  # order and duplicates kept
    raw_body: bytes  # still content-encoded
    body: bytes  # Content-Encoding removed (equal to raw_body if it could not be)
    fetched_at: datetime
    remote_ip: str | None

    def header(self, name: str) -> str | None:
        """The first value of a response header, by case-insensitive name."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @property
    def content_type(self) -> str:
        """The media type, lower-case and without parameters ("" when not sent)."""
        return (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        return _charset_param(self.header("Content-Type") or "")

    @property
    def location(self) -> str | None:
        """The Location header made absolute against the request URL."""
        value = self.header("Location")
        return urljoin(self.url, value.strip()) if value else None

    @property
    def etag(self) -> str | None:
        return self.header("ETag")

    @property
    def last_modified(self) -> str | None:
        return self.header("Last-Modified")


@dataclass(frozen=True)
class FetchResult:
    """Every hop of one fetch: redirects first, the final response last."""

    exchanges: tuple[Exchange, ...]

    @property
    def final(self) -> Exchange:
        return self.exchanges[-1]

    @property
    def not_modified(self) -> bool:
        return self.final.status == 304


class HostLease(Protocol):
    """Turns at hosts shared with other processes (``archive.catalog.leases.HostLeases``
    keeps them in the catalog): a request is sent only while its host's turn is held."""

    def take(self, host: str, holder: str, hold: float, rest: float = 0.0) -> float:
        """Take the turn (0.0), or say how many seconds until it may be asked again
        (``rest``: how long the host rests when a dead holder's turn is handed back)."""

    def free_in(self, host: str) -> float:
        """Seconds until the turn may be taken, as known now: 0.0 when free, ``inf``
        while another holds it."""

    def release(self, host: str, holder: str, rest: float) -> None:
        """Hand the turn back; the host rests ``rest`` seconds before the next one."""

    def defer(self, host: str, rest: float) -> None:
        """Make the host rest at least ``rest`` seconds from now."""


# What a fetch hands each exchange to as it arrives, with what the fetch was for ("page",
# "feed", "sitemap", "listing"; "robots" for the robots.txt it read on the way).
Recorder = Callable[[Exchange, str], None]


@dataclass
class _Host:
    """What we know of one host:port: its turn-taking lock and its robots.txt."""

    key: str  # host:port, the name of its turn in a lease
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_allowed: float = float("-inf")
    robots_lock: threading.Lock = field(default_factory=threading.Lock)
    robots: Protego | None = None
    robots_problem: str = ""  # why robots.txt could not be read, when robots is None
    robots_expires: float = float("-inf")
    crawl_delay: float = 0.0


class _Transient(Exception):
    """A connection failure worth another attempt (refused, reset, connect timeout)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PoliteSession:
    """A thread-safe HTTP client that is polite by construction.

    `clock` (monotonic seconds), `sleep`, `rng` (uniform in [0, 1)) and `resolver`
    (`socket.getaddrinfo`'s signature) are passed in so that tests can check delays and
    backoff without waiting, and address checks without DNS.

    Without a `lease`, the turns at each host are this process's own. With one, every
    request also waits for its host's turn in the lease, shared by all the processes
    (workers, on any number of machines) that hold the same lease: no two requests to a
    host, whoever sends them, closer than its delay.
    """

    def __init__(
        self,
        config: HttpConfig,
        *,
        lease: HostLease | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        resolver: Callable[..., list] = socket.getaddrinfo,
    ) -> None:
        self.config = config
        self._lease = lease
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._resolver = resolver
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()
        self._requests = threading.local()  # the deadline of each thread's request
        self._http = requests.Session()
        # Proxies and .netrc from the environment would bypass the address checks.
        self._http.trust_env = False
        # Every connection dials an address it checked itself: requests resolving the
        # name again could be answered with a private address (DNS rebinding).
        pinned = _PinnedAdapter(self._dial_addresses, self._deadline)
        self._http.mount("http://", pinned)
        self._http.mount("https://", pinned)
        self._http.headers.update(
            {"User-Agent": config.user_agent, "Accept-Encoding": _ACCEPT_ENCODING}
        )

    def __enter__(self) -> PoliteSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        kind: str = "page",
        record: Recorder | None = None,
    ) -> FetchResult:
        """GET `url`, following redirects; conditional when `etag`/`last_modified` given.

        Returns every hop; 4xx/5xx that are not retried are results. Raises a
        `scrapers.errors.FetchError` subclass otherwise. `record` receives every exchange
        as it arrives, with `kind` (what the fetch is for), and the robots.txt read on the
        way with "robots": whether the fetch then succeeds or fails.
        """
        conditional = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified
        return FetchResult(
            self._follow(url, conditional, robots=True, retries=True, kind=kind, record=record)
        )

    def refuse_private(self, url: str) -> None:
        """Raise `PrivateAddress` when the URL's host resolves to a non-public address
        (unless the config allows them), `InvalidURL` for a URL that is not http(s): this
        session's rule for a connection someone else makes (a webhook, the browser's
        recording proxy before each connection)."""
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise InvalidURL(url, "only http and https URLs with a host can be called")
        self._refuse_private(url, [])

    def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST a JSON body (a webhook) once; the status, or a `FetchError` for a private
        address (also one its DNS answer turns to as it connects), a refused connection or
        no answer within the timeouts. Redirects are not followed (one could lead to a
        private address)."""
        self.refuse_private(url)
        try:
            response = self._http.post(
                url,
                data=body,
                headers={"Content-Type": "application/json", **headers},
                timeout=(self.config.connect_timeout, self.config.read_timeout),
                allow_redirects=False,
            )
        except NonPublicAddress as exc:  # checked again as it connects: its DNS answer changed
            raise PrivateAddress(url, str(exc), exchanges=[]) from None
        except requests.Timeout:
            raise ConnectionFailed(
                url, f"no answer within {self.config.read_timeout:g} s", exchanges=[]
            ) from None
        except requests.RequestException as exc:
            raise ConnectionFailed(url, f"cannot connect: {exc}", exchanges=[]) from None
        response.close()
        return response.status_code

    def allowed(self, url: str, *, record: Recorder | None = None) -> bool:
        """Whether robots.txt lets our user agent fetch `url`.

        robots.txt is read once per host and re-read after `robots_ttl` (each process
        reads its own copy; a lease spaces those reads like any request); a 4xx robots.txt
        allows everything, a 5xx, 429 or unreachable one disallows everything for now.
        `record` receives the robots.txt exchanges when they are read now. Raises
        InvalidURL for a URL that is not http(s).
        """
        if not self.config.obey_robots:
            return True
        url = _checked_url(url, ())
        host = self._host(url)
        self._read_robots(url, host, record)
        return host.robots is not None and host.robots.can_fetch(url, self.config.user_agent)

    # -- redirects, retries, turns ------------------------------------------------------

    def _follow(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        robots: bool,
        retries: bool,
        kind: str,
        record: Recorder | None,
    ) -> tuple[Exchange, ...]:
        chain: list[Exchange] = []
        seen: set[str] = set()
        current = url
        while True:
            current = _checked_url(current, chain, origin=url)
            if current in seen:
                raise TooManyRedirects(url, f"redirect loop back to {current}", exchanges=chain)
            seen.add(current)
            self._refuse_private(current, chain)
            if robots and not self.allowed(current, record=record):
                refusal = (
                    RobotsUnavailable if self._host(current).robots_problem else RobotsDisallowed
                )
                raise refusal(url, self._robots_verdict(current), exchanges=chain)
            # Validators belong to the URL asked for, not to where it redirects.
            exchange = self._hop(
                current, {} if chain else headers, chain, retries=retries, kind=kind, record=record
            )
            chain.append(exchange)
            target = exchange.location if exchange.status in _REDIRECT_STATUSES else None
            if target is None:
                return tuple(chain)
            if len(chain) > self.config.max_redirects:
                raise TooManyRedirects(
                    url, f"more than {self.config.max_redirects} redirects", exchanges=chain
                )
            current = target

    def _hop(
        self,
        url: str,
        headers: Mapping[str, str],
        chain: list[Exchange],
        *,
        retries: bool,
        kind: str,
        record: Recorder | None,
    ) -> Exchange:
        """One URL, retried on `retry_statuses` and dropped connections; every answer
        (the retried ones too) goes to `record`."""
        config = self.config
        host = self._host(url)
        failed: list[Exchange] = []
        attempts = config.max_retries + 1 if retries else 1
        attempt = 1
        while True:
            try:
                exchange = self._take_turn(url, headers, host, chain + failed)
            except _Transient as exc:
                wait = self._backoff(attempt)
                if attempt == attempts:
                    # No retry of ours follows; whoever comes next to this host waits
                    # the backoff a retry would have.
                    self._rest(host, wait)
                    raise ConnectionFailed(
                        url, f"{exc.reason} (after {_attempts(attempt)})", exchanges=chain
                    ) from None
                log.info("retrying %s in %.1fs: %s", url, wait, exc.reason)
            else:
                if record is not None:
                    record(exchange, kind)
                if exchange.status not in config.retry_statuses or not retries:
                    return exchange
                failed.append(exchange)
                wait = self._retry_wait(exchange, attempt)
                if attempt == attempts:
                    # No retry of ours follows, but whoever comes next to this host waits
                    # what a retry would have: the rest the server asked for, or backoff.
                    self._rest(host, wait)
                    raise RetriesExhausted(
                        url,
                        f"HTTP {exchange.status} after {_attempts(attempt)}",
                        status=exchange.status,
                        exchanges=chain + failed,
                    )
                log.info("retrying %s in %.1fs after HTTP %d", url, wait, exchange.status)
            self._rest(host, wait)
            attempt += 1

    def _rest(self, host: _Host, wait: float) -> None:
        """Make a struggling host wait `wait` seconds for everyone, not just for this
        thread (and, given a lease, for every process)."""
        with host.lock:
            host.next_allowed = max(host.next_allowed, self._clock() + wait)
        if self._lease is not None:
            self._lease.defer(host.key, wait)

    def _backoff(self, attempt: int) -> float:
        """Backoff after the n-th attempt: between half and all of base * 2**(n - 1)."""
        ceiling = min(self.config.backoff_cap, self.config.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + ceiling / 2 * self._rng()

    def _retry_wait(self, exchange: Exchange, attempt: int) -> float:
        retry_after = _retry_after_seconds(exchange)
        if retry_after is None:
            return self._backoff(attempt)
        return min(retry_after, self.config.backoff_cap)

    def _take_turn(
        self, url: str, headers: Mapping[str, str], host: _Host, chain: list[Exchange]
    ) -> Exchange:
        """Send one request when this host's turn comes (this process's, then the lease's);
        the next turn is `delay` later."""
        with host.lock:
            wait = host.next_allowed - self._clock()
            if wait > 0:
                self._sleep(wait)
            holder = self._take_lease(host)
            try:
                return self._transfer(url, headers, chain)
            finally:
                delay = max(self.config.delay, host.crawl_delay)
                host.next_allowed = max(host.next_allowed, self._clock() + delay)
                if holder is not None:
                    self._lease.release(host.key, holder, delay)

    def turn_in(self, url: str) -> float:
        """Seconds until a request to ``url``'s host could be sent, as known now (this
        process's turns, then the lease's): 0.0 when at once. While another process
        holds the host's turn, the host's delay (it rests that long after the request
        under way). A worker takes other work meanwhile instead of waiting."""
        host = self._host(url)
        wait = max(host.next_allowed - self._clock(), 0.0)
        if host.lock.locked():  # another thread of this process is at the host
            wait = max(wait, self.config.delay, host.crawl_delay)
        if self._lease is not None:
            leased = self._lease.free_in(host.key)
            if leased == float("inf"):
                leased = max(self.config.delay, host.crawl_delay)
            wait = max(wait, leased)
        return wait

    def _take_lease(self, host: _Host) -> str | None:
        """Wait for the host's turn in the lease and take it (None without a lease). It
        is held at most as long as a request may take, and the host's delay after it: a
        holder that died frees it then. A request is stopped at its total_timeout, or
        when a connection attempt under way then ends (within connect_timeout)."""
        if self._lease is None:
            return None
        config = self.config
        holder = secrets.token_hex(8)
        hold = config.connect_timeout + config.total_timeout + config.delay
        rest = max(config.delay, host.crawl_delay)
        while (wait := self._lease.take(host.key, holder, hold, rest)) > 0:
            self._sleep(wait)
        return holder

    def _host(self, url: str) -> _Host:
        parts = urlsplit(url)
        key = f"{parts.hostname}:{parts.port or _DEFAULT_PORTS[parts.scheme]}"
        with self._hosts_lock:
            if key not in self._hosts:
                self._hosts[key] = _Host(key)
            return self._hosts[key]

    # -- one request on the wire ---------------------------------------------------------

    def _transfer(self, url: str, headers: Mapping[str, str], chain: list[Exchange]) -> Exchange:
        """One request, connect to last byte within total_timeout: at the deadline its
        socket is shut down, and whatever came in by then is dropped, not returned."""
        config = self.config
        fetched_at = datetime.now(UTC)
        started = self._clock()
        deadline = _Deadline(config.total_timeout)
        self._requests.deadline = deadline
        try:
            with self._send(url, headers, chain) as response:
                remote_ip = _peer_ip(response)
                raw_body = self._read_body(url, response, chain)
        except (FetchError, _Transient):
            if deadline.passed:
                raise self._timed_out(url, chain) from None
            raise
        finally:
            deadline.end()
            self._requests.deadline = None
        if deadline.passed:  # headers or a body cut short at the deadline can look whole
            raise self._timed_out(url, chain)
        encoding = response.headers.get("Content-Encoding")
        body = _decode_content(url, encoding, raw_body, config.max_bytes, chain)
        sent = response.request
        exchange = Exchange(
            url=sent.url or url,
            method=sent.method or "GET",
            request_headers=_sent_headers(sent.url or url, sent.headers),
            http_version=_HTTP_VERSIONS.get(response.raw.version, f"HTTP/{response.raw.version}"),
            status=response.status_code,
            reason=response.reason or "",
            # requests merges repeated headers; http.client's message keeps them in order.
            # (requests reads the same private attribute to extract cookies.)
            headers=tuple(response.raw._original_response.msg.items()),
            raw_body=raw_body,
            body=body,
            fetched_at=fetched_at,
            remote_ip=remote_ip,
        )
        log.info(
            "GET %s -> %d %s, %d bytes in %.2fs",
            exchange.url,
            exchange.status,
            exchange.reason,
            len(raw_body),
            self._clock() - started,
        )
        return exchange

    def _send(
        self, url: str, headers: Mapping[str, str], chain: list[Exchange]
    ) -> requests.Response:
        """Send the request and read the response's headers; the body is left to stream."""
        config = self.config
        try:
            return self._http.get(
                url,
                headers=dict(headers),
                stream=True,
                allow_redirects=False,
                timeout=(config.connect_timeout, config.read_timeout),
            )
        except NonPublicAddress as exc:
            raise PrivateAddress(url, str(exc), exchanges=chain) from None
        except requests.exceptions.ConnectTimeout:
            raise _Transient(f"no connection within {config.connect_timeout}s") from None
        except requests.exceptions.ReadTimeout:
            raise FetchTimeout(
                url, f"no response within {config.read_timeout}s", exchanges=chain
            ) from None
        except requests.exceptions.SSLError as exc:
            raise ConnectionFailed(url, f"TLS failure: {exc}", exchanges=chain) from None
        except requests.exceptions.ConnectionError as exc:
            raise _Transient(f"connection failed: {exc}") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
            raise InvalidURL(url, str(exc), exchanges=chain) from None

    def _timed_out(self, url: str, chain: list[Exchange]) -> FetchTimeout:
        total = self.config.total_timeout
        return FetchTimeout(url, f"response not received within {total}s", exchanges=chain)

    def _deadline(self) -> _Deadline | None:
        """The deadline of the request this thread is sending (None between requests)."""
        return getattr(self._requests, "deadline", None)

    def _read_body(self, url: str, response: requests.Response, chain: list[Exchange]) -> bytes:
        """Stream the body as sent, stopping as soon as a cap is crossed."""
        config = self.config
        declared = response.headers.get("Content-Length", "")
        if ids.is_number(declared) and int(declared) > config.max_bytes:
            raise ResponseTooLarge(
                url,
                f"Content-Length {declared} exceeds the {config.max_bytes}-byte cap",
                exchanges=chain,
            )
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := response.raw.read1(_CHUNK, decode_content=False):
                size += len(chunk)
                if size > config.max_bytes:
                    raise ResponseTooLarge(
                        url,
                        f"body exceeds the {config.max_bytes}-byte cap; stopped reading",
                        exchanges=chain,
                    )
                chunks.append(chunk)
        except ReadTimeoutError:
            raise FetchTimeout(
                url, f"body stalled for more than {config.read_timeout}s", exchanges=chain
            ) from None
        except SSLError as exc:  # a corrupt TLS record, which urllib3 wraps in no OSError
            raise ConnectionFailed(
                url, f"TLS failure while reading the body: {exc}", exchanges=chain
            ) from None
        except (ProtocolError, OSError) as exc:
            raise _Transient(f"connection broken while reading the body: {exc}") from None
        return b"".join(chunks)

    # -- addresses and robots.txt --------------------------------------------------------

    def _refuse_private(self, url: str, chain: list[Exchange]) -> None:
        """Refuse a URL whose host resolves to a non-public address before anything is
        sent (robots.txt included); the connection checks again what it dials."""
        if self.config.allow_private:
            return
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            self._dial_addresses(host, parts.port or _DEFAULT_PORTS[parts.scheme])
        except (OSError, UnicodeError) as exc:
            raise ConnectionFailed(url, f"cannot resolve {host}: {exc}", exchanges=chain) from None
        except NonPublicAddress as exc:
            raise PrivateAddress(url, str(exc), exchanges=chain) from None

    def _dial_addresses(self, host: str, port: int) -> list[str]:
        """The addresses a connection to host:port may dial, resolved once, each checked."""
        if self.config.allow_private:
            return [info[4][0] for info in self._resolver(host, port, 0, socket.SOCK_STREAM)]
        return public_addresses(host, port, self._resolver, allow=self.config.allow_networks)

    def _read_robots(self, url: str, host: _Host, record: Recorder | None) -> None:
        """(Re)read the robots.txt of `url`'s host if our copy has expired."""
        with host.robots_lock:
            if self._clock() < host.robots_expires:
                return
            parts = urlsplit(url)
            robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
            ttl = self.config.robots_ttl
            try:
                final = self._follow(
                    robots_url, {}, robots=False, retries=False, kind="robots", record=record
                )[-1]
            except FetchError as exc:
                host.robots, host.robots_problem = None, f"robots.txt unreachable: {exc.reason}"
                ttl = min(ttl, _ROBOTS_RETRY_AFTER)
            else:
                if 200 <= final.status < 300:
                    text = decode_text(final.body, final.charset)
                    host.robots, host.robots_problem = Protego.parse(text), ""
                elif 400 <= final.status < 500 and final.status != 429:
                    host.robots, host.robots_problem = Protego.parse(""), ""
                else:
                    host.robots = None
                    host.robots_problem = f"robots.txt answered HTTP {final.status}"
                    ttl = min(ttl, _ROBOTS_RETRY_AFTER)
            host.crawl_delay = self._bounded_delay(
                robots_url, _robots_delay(host.robots, self.config.user_agent)
            )
            host.robots_expires = self._clock() + ttl
            with host.lock:  # the next turn, already booked, now knows the Crawl-delay
                host.next_allowed = max(host.next_allowed, self._clock() + host.crawl_delay)
            if self._lease is not None and host.crawl_delay > self.config.delay:
                self._lease.defer(host.key, host.crawl_delay)
            log.info("robots.txt for %s read; crawl delay %.1fs", robots_url, host.crawl_delay)

    def _bounded_delay(self, robots_url: str, asked: float) -> float:
        """A Crawl-delay, capped at `max_crawl_delay` (with a warning when it is)."""
        cap = self.config.max_crawl_delay
        if asked > cap:
            log.warning(
                "%s asks for %gs between requests; waiting %gs (max_crawl_delay)",
                robots_url,
                asked,
                cap,
            )
            return cap
        return asked

    def _robots_verdict(self, url: str) -> str:
        problem = self._host(url).robots_problem
        if problem:
            return f"{problem}; not fetching for now"
        return f"robots.txt disallows {url} to {self.config.user_agent}"


def _attempts(count: int) -> str:
    return f"{count} attempt" if count == 1 else f"{count} attempts"


def _checked_url(url: str, chain: Sequence[Exchange], origin: str | None = None) -> str:
    """`url` without its fragment, or InvalidURL if it is not a fetchable http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError as exc:
        raise InvalidURL(origin or url, f"malformed URL {url!r}: {exc}", exchanges=chain) from None
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        raise InvalidURL(origin or url, f"not an http(s) URL: {url!r}", exchanges=chain)
    if not parts.hostname:
        raise InvalidURL(origin or url, f"URL has no host: {url!r}", exchanges=chain)
    return urldefrag(url.strip()).url


# -- the private-address check (the only one: the admin's "archive this URL" uses it too) --


class NonPublicAddress(ValueError):
    """A host that resolves to a private, loopback, link-local or reserved address."""


def public_addresses(
    host: str,
    port: int | None,
    resolver: Callable[..., list] = socket.getaddrinfo,
    *,
    allow: Sequence[str] = (),
) -> list[str]:
    """Every address ``host`` resolves to, when all of them are public (or in ``allow``);
    NonPublicAddress otherwise. OSError when the name does not resolve.

    >>> public_addresses("93.184.216.34", 80)
    ['93.184.216.34']
    >>> public_addresses("0x7f.1", 80)
    Traceback (most recent call last):
    ...
    scrapers.http.NonPublicAddress: 0x7f.1 resolves to 127.0.0.1, a non-public address
    """
    networks = [ipaddress.ip_network(network, strict=False) for network in allow]
    found = []
    for info in resolver(host, port, 0, socket.SOCK_STREAM):
        text = info[4][0]
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if _is_private(address) and not any(address in network for network in networks):
            raise NonPublicAddress(f"{host} resolves to {address}, a non-public address")
        found.append(text)
    if not found:
        raise OSError(f"{host} has no address")
    return found


# IPv6 prefixes whose last 32 bits are an IPv4 address that a packet may be delivered to:
# NAT64's well-known prefix (a DNS64 resolver answers with it for every IPv4-only host),
# SIIT's IPv4-translated addresses (RFC 2765), and the deprecated IPv4-compatible ones.
_IPV4_IN_LAST_32_BITS = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("::ffff:0:0:0/96"),
    ipaddress.ip_network("::/96"),
)
# IPv6 prefixes refused outright: local-use NAT64 (RFC 8215), which puts its IPv4 address
# wherever the local translator is set up to, and the deprecated site-local addresses.
_NEVER_PUBLIC = (ipaddress.ip_network("64:ff9b:1::/48"), ipaddress.ip_network("fec0::/10"))


def _is_private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is off the public internet; an IPv6 address that carries an
    IPv4 address (IPv4-mapped, NAT64, 6to4, IPv4-compatible) is judged by that one, which
    is where its packets may end up."""
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _NEVER_PUBLIC):
            return True
        address = _carried_ipv4(address) or address
    return not address.is_global or address.is_multicast


def _carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _IPV4_IN_LAST_32_BITS):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


class _Deadline:
    """The end of one request's total_timeout. When it comes, the sockets the request
    uses are shut down, which ends any read or write blocked on them, TLS handshake
    included (closing a socket from another thread does not); `passed` then tells that
    what came in may be cut short. It watches copies of the sockets (dup), so that it
    never shuts down one that was closed meanwhile and whose number went to another
    connection. One thread keeps every request's deadline (`_Keeper`): a thread of its
    own per request cost more than the rest of a loopback fetch."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.passed = False
        self._ended = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        _KEEPER.add(self)

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down at the deadline; at once if it has passed."""
        with self._lock:
            if self._ended:
                return
            try:
                copy = socket.fromfd(sock.fileno(), sock.family, sock.type)
            except OSError:  # already closed: nothing left to stop
                return
            self._sockets.append(copy)
            if self.passed:
                _shut_down(copy)

    def pass_(self) -> None:
        """The deadline has come: shut down what the request uses (unless it is over)."""
        with self._lock:
            if self._ended:
                return
            self.passed = True
            for sock in self._sockets:
                _shut_down(sock)

    def end(self) -> None:
        """The request is over: let go of the copies, and of the keeper's entry."""
        with self._lock:
            self._ended = True
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()
        _KEEPER.ended()


class _Keeper:
    """One thread, started at the first request (and again in a forked process), that
    sleeps until the earliest deadline of the requests under way and passes those due.
    Ended deadlines stay in its heap until they come up, or until they are half of it."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._order = itertools.count()  # ties on time never compare two deadlines
        self._ended = 0
        self._wake = threading.Condition()
        self._pid: int | None = None

    def add(self, deadline: _Deadline) -> None:
        with self._wake:
            if self._pid != os.getpid():
                self._heap, self._ended, self._pid = [], 0, os.getpid()
                threading.Thread(target=self._run, name="http-deadlines", daemon=True).start()
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            self._wake.notify()

    def ended(self) -> None:
        with self._wake:
            self._ended += 1
            if self._ended > 64 and self._ended * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2]._ended]
                heapq.heapify(self._heap)
                self._ended = 0

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wake.wait(wait)
                _, _, due = heapq.heappop(self._heap)
                if due._ended:
                    self._ended = max(0, self._ended - 1)
            due.pass_()


_KEEPER = _Keeper()


def _shut_down(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the peer hung up first
        sock.shutdown(socket.SHUT_RDWR)


class _Pinned:
    """A urllib3 connection that dials only addresses its session resolved and checked
    for this very connection, never a second lookup's answer, and puts the sockets of a
    request under its deadline (when the session sends one: `deadline` says which)."""

    dial_addresses: Callable[[str, int], list[str]]
    deadline: Callable[[], _Deadline | None]
    # The address dialled, for the records: http.client hands the socket over to a
    # response that closes the connection, and the socket's peer is gone with it.
    dialled_address: str | None = None

    def _new_conn(self):
        name = self._dns_host
        deadline = type(self).deadline()
        try:
            addresses = type(self).dial_addresses(name, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        failure: Exception | None = None
        for address in dict.fromkeys(addresses):
            if deadline is not None and deadline.passed:
                break  # the request's time is up: no other address is tried
            self._dns_host = address  # urllib3 dials _dns_host; TLS still checks `host`
            try:
                sock = super()._new_conn()
            except OSError as exc:
                failure = exc
                continue
            finally:
                self._dns_host = name
            if deadline is not None:  # before the TLS handshake, which may stall too
                deadline.watch(sock)
            self.dialled_address = address
            return sock
        raise failure or OSError(f"{name} has no address left to try")

    def request(self, *args, **kwargs) -> None:
        deadline = type(self).deadline()
        if deadline is not None and self.sock is not None:  # reused, or dialled already
            deadline.watch(self.sock)
        super().request(*args, **kwargs)


class _PinnedAdapter(HTTPAdapter):
    """requests' adapter with pools of :class:`_Pinned` connections."""

    def __init__(
        self,
        dial_addresses: Callable[[str, int], list[str]],
        deadline: Callable[[], _Deadline | None],
    ) -> None:
        dial = {
            "dial_addresses": staticmethod(dial_addresses),
            "deadline": staticmethod(deadline),
        }
        http = type("PinnedHTTPConnection", (_Pinned, HTTPConnection), dial)
        https = type("PinnedHTTPSConnection", (_Pinned, HTTPSConnection), dial)
        self._pools = {
            "http": type("PinnedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("PinnedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools


def _robots_delay(robots: Protego | None, user_agent: str) -> float:
    """The spacing robots.txt asks for: Crawl-delay, or the one Request-rate implies."""
    if robots is None:
        return 0.0
    delay = robots.crawl_delay(user_agent) or 0.0
    rate = robots.request_rate(user_agent)
    if rate is not None and rate.requests:
        delay = max(delay, rate.seconds / rate.requests)
    return float(delay)


def _peer_ip(response: requests.Response) -> str | None:
    return getattr(response.raw.connection, "dialled_address", None)


def _sent_headers(url: str, headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The request headers as http.client sends them: Host first, then requests' own."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    pairs = [(name, value) for name, value in headers.items() if name.lower() != "host"]
    return (("Host", headers.get("Host", host)), *pairs)


def parse_exchange(
    url: str,
    request: bytes,
    response: bytes,
    *,
    fetched_at: datetime,
    remote_ip: str | None,
    max_bytes: int,
) -> Exchange:
    """An `Exchange` from the bytes of a request and its response as another recorder
    (the browser's proxy) saw them cross the wire: status line and headers as sent, the
    body de-chunked but still content-encoded in `raw_body`, decoded in `body`.

    >>> hop = parse_exchange(
    ...     "http://example.org/",
    ...     b"GET / HTTP/1.1\\r\\nHost: example.org\\r\\n\\r\\n",
    ...     b"HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n"
    ...     b"2\\r\\nhi\\r\\n0\\r\\n\\r\\n",
    ...     fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
    ...     remote_ip=None,
    ...     max_bytes=100,
    ... )
    >>> hop.status, hop.raw_body, hop.request_headers
    (200, b'hi', (('Host', 'example.org'),))
    """
    request_line, _, request_rest = request.partition(b"\r\n")
    method = request_line.split(b" ", 1)[0].decode("ascii", "replace") or "GET"
    sent = http.client.parse_headers(io.BytesIO(request_rest))
    parsed = http.client.HTTPResponse(_RecordedSocket(response), method=method)
    try:
        parsed.begin()
        raw_body = parsed.read()
    except (http.client.HTTPException, ValueError) as exc:
        raise ConnectionFailed(url, f"unreadable response: {exc!r}") from None
    encoding = parsed.headers.get("Content-Encoding")
    return Exchange(
        url=url,
        method=method,
        request_headers=tuple(sent.items()),
        http_version=_HTTP_VERSIONS.get(parsed.version, f"HTTP/{parsed.version}"),
        status=parsed.status,
        reason=parsed.reason or "",
        headers=tuple(parsed.headers.items()),
        raw_body=raw_body,
        body=_decode_content(url, encoding, raw_body, max_bytes, []),
        fetched_at=fetched_at,
        remote_ip=remote_ip,
    )


class _RecordedSocket:
    """Recorded response bytes, in the shape http.client reads a response from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self._data))


def _retry_after_seconds(exchange: Exchange) -> float | None:
    """Retry-After in seconds, from a delay or an HTTP date (against the server's Date)."""
    value = (exchange.header("Retry-After") or "").strip()
    if ids.is_number(value):
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    now = _http_date(exchange.header("Date") or "") or exchange.fetched_at
    return max(0.0, (when - now).total_seconds())


def _http_date(value: str) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# -- payload decoding -----------------------------------------------------------------------


def _decode_content(
    url: str, encoding: str | None, raw: bytes, max_bytes: int, chain: list[Exchange]
) -> bytes:
    """Undo Content-Encoding (gzip, deflate, several in a row), within `max_bytes`.

    An encoding we cannot undo leaves the body as sent, with a warning: the raw bytes are
    what gets archived, and an archive keeps what it received.
    """
    body = raw
    for coding in reversed([c.strip().lower() for c in (encoding or "").split(",")]):
        if coding in ("", "identity"):
            continue
        if coding not in ("gzip", "x-gzip", "deflate"):
            log.warning("%s: cannot decode Content-Encoding %r; body left as sent", url, coding)
            return raw
        try:
            body = _inflate(body, coding, max_bytes)
        except zlib.error as exc:
            log.warning("%s: corrupt %s body (%s); body left as sent", url, coding, exc)
            return raw
        if len(body) > max_bytes:
            raise ResponseTooLarge(
                url, f"decoded body exceeds the {max_bytes}-byte cap", exchanges=chain
            )
    return body


def _inflate(data: bytes, coding: str, limit: int) -> bytes:
    """Decompress gzip (all members) or deflate (zlib-wrapped or raw), up to limit + 1."""
    if coding == "deflate":
        wbits = zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS
    else:
        wbits = 16 + zlib.MAX_WBITS
    out = bytearray()
    while len(out) <= limit:
        inflater = zlib.decompressobj(wbits)
        out += inflater.decompress(data, limit + 1 - len(out))
        data = inflater.unused_data
        # gzip allows several members back to back; anything else after the body (zero
        # padding, say) is ignored, as urllib3 and browsers ignore it.
        if not inflater.eof or coding == "deflate" or not data.startswith(_GZIP_MAGIC):
            break
    return bytes(out)


def _charset_param(content_type: str) -> str | None:
    match = re.search(r"""charset\s*=\s*["']?([^"';\s]+)""", content_type, re.I)
    return match.group(1).lower() if match else None


def decode_text(body: bytes, content_type_charset: str | None) -> str:
    """Decode a fetched body to text, never raising, by the one charset rule that
    extraction follows too (:func:`scrapers.charset.decode_body`): a byte-order
    mark, valid UTF-8, the Content-Type charset, the document's own declaration (<meta
    charset>, the XML declaration), then detection.

    >>> decode_text("café".encode("cp1252"), "utf-8")
    'café'
    """
    return decode_body(body, content_type_charset).text
