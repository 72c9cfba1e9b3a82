"""Captures through a real browser, for pages that build their text with scripts.

Debian's Chromium runs headless, driven by Playwright, and every request it makes goes
through warcprox, the Internet Archive's WARC-writing proxy (the recorder behind
Brozzler): it records each request and response as the bytes crossed the wire, chunked
framing and content-encoding included, while passing them on to the browser. We run its
proxy in-process and take its recordings (not its WARC writer) so that the archive's own
writer stores them like any other capture: one WARC writer, one catalog, one capture log.

The rules of every other fetch hold here too, enforced in the proxy, which is the one
path the browser has to the network:

- the private-address check of :mod:`scrapers.http` runs before each connection the
  proxy opens (redirects are new requests, so they are checked too), and the address
  actually connected to is checked again before a byte is sent;
- only requests carrying the current page's token are let through (Chromium's own
  background traffic is refused), and a page whose responses pass its byte budget is
  refused further requests and fails;
- downloads are denied, popups blocked, service workers blocked, permission prompts
  denied (Playwright grants none), dialogs dismissed.

One :class:`BrowserSession` owns one Chromium process that we start ourselves, so that a
watchdog can kill it (its whole process group) when it stops answering; the capture then
fails and nothing of it is stored. The browser is reused across pages and restarted after
``pages_per_browser`` pages.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import warcprox
import warcprox.warcproxy
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from scrapers.errors import (
    ConnectionFailed,
    FetchError,
    FetchTimeout,
    InvalidURL,
    PrivateAddress,
    ResponseTooLarge,
    RobotsDisallowed,
)
from scrapers.http import Exchange, PoliteSession, parse_exchange

__all__ = [
    "CHROMIUM_ARGS",
    "BrowserCapture",
    "BrowserConfig",
    "BrowserSession",
    "config_from_settings",
]

log = logging.getLogger(__name__)

# The flags this machine's Chromium needs, and those that keep it from talking to anyone
# but the page (the proxy refuses what gets through anyway).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
_RECORDING_ARGS = (
    "--headless=new",
    "--block-new-web-contents",  # popups and window.open fail
    "--proxy-bypass-list=<-loopback>",  # loopback goes through the proxy (and its check)
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-features=HttpsUpgrades,MediaRouter,OptimizationHints,Translate",
    "--mute-audio",
    "--hide-scrollbars",
)
_TOKEN_HEADER = "Warcprox-Meta"  # warcprox strips it before forwarding a request
_TOKEN_KEY = "onrecord-page"
_DEVTOOLS = re.compile(r"DevTools listening on (ws://\S+)")
_STARTUP_TIMEOUT = 30.0
_KILL_GRACE = 5.0  # beyond the page timeout, before the watchdog kills the browser
_DRAIN_TIMEOUT = 5.0  # for requests still in the proxy when the page is closed


@dataclass(frozen=True)
class BrowserConfig:
    """How a `BrowserSession` renders a page. Times are in seconds."""

    executable: str = "/usr/bin/chromium"
    page_timeout: float = 60.0  # loading, settling, DOM and screenshot of one page
    settle: float = 2.0  # the longest wait for the network to go quiet after "load"
    max_page_bytes: int = 50 * 1024 * 1024  # all of one page's responses, as received
    pages_per_browser: int = 50  # a fresh browser after this many pages
    viewport_width: int = 1280
    viewport_height: int = 900
    max_screenshot_height: int = 8000  # a full-page screenshot is cut at this height


def config_from_settings(settings: Mapping[str, Any]) -> BrowserConfig:
    """The archive's browser settings (``archive/config.py``) as a BrowserConfig."""
    return BrowserConfig(
        executable=settings["browser"],
        page_timeout=settings["browser_timeout"],
        max_page_bytes=settings["browser_max_bytes"],
        pages_per_browser=settings["browser_pages"],
    )


@dataclass(frozen=True)
class BrowserCapture:
    """A page as a browser loaded it: every exchange, the DOM, and a screenshot."""

    url: str
    hops: tuple[Exchange, ...]  # the page's redirects, then its own response
    resources: tuple[Exchange, ...]  # everything else the page fetched, in order
    dom: str  # the page's HTML after its scripts ran
    screenshot: bytes  # PNG, viewport_width wide, at most max_screenshot_height high
    rendered_at: datetime
    refused: tuple[str, ...] = ()  # requests the proxy refused, and why

    @property
    def final(self) -> Exchange:
        return self.hops[-1]


@dataclass
class _Page:
    """What the proxy has recorded and refused for one page so far."""

    budget: int
    exchanges: list[Exchange] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    received: int = 0
    active: int = 0
    over_budget: bool = False


class _Guard:
    """The proxy's rules, and where its recordings go: by page token."""

    def __init__(self, check_address: Callable[[str], None]) -> None:
        self.check_address = check_address  # raises a FetchError for a refused URL
        self._pages: dict[str, _Page] = {}
        self._lock = threading.Condition()

    def open(self, budget: int) -> str:
        token = secrets.token_hex(12)
        with self._lock:
            self._pages[token] = _Page(budget=budget)
        return token

    def close(self, token: str, timeout: float) -> _Page:
        """Stop taking requests for a page; wait for those under way; its record."""
        deadline = time.monotonic() + timeout
        with self._lock:
            page = self._pages[token]
            while page.active and time.monotonic() < deadline:
                self._lock.wait(timeout=max(0.0, deadline - time.monotonic()))
            if page.active:
                log.warning(
                    "%d of the page's requests still under way after %.0fs; not kept",
                    page.active,
                    timeout,
                )
            del self._pages[token]
            return page

    def admit(self, url: str, meta: str | None) -> str:
        """The page token of a request allowed through; warcprox.BadRequest otherwise."""
        token = _token(meta)
        with self._lock:
            page = self._pages.get(token or "")
            if page is None:
                raise warcprox.BadRequest(f"not a page being captured: {url}")
            if page.over_budget:
                page.refused.append(f"{url}: the page's {page.budget}-byte budget is spent")
                raise warcprox.BadRequest("the page's byte budget is spent")
            page.active += 1
        try:
            self.check_address(url)
        except FetchError as exc:
            self._refuse(token, url, exc.reason)
        return token

    def connected(self, token: str, url: str, peer: str) -> None:
        """Check the address the proxy actually connected to (DNS may have changed)."""
        try:
            self.check_address(f"http://[{peer}]/" if ":" in peer else f"http://{peer}/")
        except FetchError as exc:
            self._refuse(token, url, f"connected to {peer}: {exc.reason}")

    def _refuse(self, token: str, url: str, reason: str) -> None:
        log.warning("browser request refused: %s: %s", url, reason)
        with self._lock:
            page = self._pages.get(token)
            if page is not None:
                page.refused.append(f"{url}: {reason}")
        self.done(token)
        raise warcprox.BadRequest(f"refused by onrecord: {reason}")

    def done(self, token: str) -> None:
        with self._lock:
            page = self._pages.get(token)
            if page is not None:
                page.active -= 1
                self._lock.notify_all()

    def exceeded(self, token: str) -> None:
        with self._lock:
            page = self._pages.get(token)
            if page is not None:
                page.over_budget = True

    def recorded(self, token: str, exchange: Exchange, size: int) -> None:
        with self._lock:
            page = self._pages.get(token)
            if page is None:
                return
            page.exchanges.append(exchange)
            page.received += size
            page.over_budget = page.over_budget or page.received > page.budget


def _token(meta: str | None) -> str | None:
    try:
        value = json.loads(meta or "null")
    except ValueError:
        return None
    return value.get(_TOKEN_KEY) if isinstance(value, dict) else None


class _GuardedHandler(warcprox.warcproxy.WarcProxyHandler):
    """warcprox's handler, with onrecord's rules before every connection it opens."""

    # warcprox refuses only 127.0.0.1 and ::1, after connecting; the guard decides instead.
    allow_localhost = True

    def _connect_to_remote_server(self):
        guard: _Guard = self.server.guard
        self._onrecord_token = guard.admit(self.url, self.headers.get(_TOKEN_HEADER))
        try:
            sock = super()._connect_to_remote_server()
        except BaseException:
            guard.done(self._onrecord_token)
            raise
        try:
            guard.connected(self._onrecord_token, self.url, sock.getpeername()[0])
        except warcprox.BadRequest:
            sock.close()
            raise
        return sock

    def _proxy_request(self):
        """Proxy the request, then read warcprox's recording of it. warcprox has already
        queued that recording when this reads it, so the recording's file is closed
        here, once read, and never by the thread that empties the queue."""
        guard: _Guard = self.server.guard
        try:
            recorded = super()._proxy_request()
            recorder = recorded.response_recorder
            try:
                if recorded.truncated:  # cut off at the page's byte budget (or by time)
                    guard.exceeded(self._onrecord_token)
                    return recorded
                recorder.tempfile.seek(0)
                exchange = parse_exchange(
                    recorded.url.decode("ascii"),
                    recorded.request_data,
                    recorder.tempfile.read(),
                    fetched_at=recorded.timestamp,
                    remote_ip=recorded.remote_ip.decode("ascii"),
                    max_bytes=self.server.max_page_bytes,
                )
            finally:
                recorder.tempfile.close()
            guard.recorded(self._onrecord_token, exchange, recorder.len)
            return recorded
        except FetchError as exc:
            log.warning("unreadable response through the browser's proxy: %s", exc)
        except Exception as exc:  # warcprox answers 502; its own log of it is silenced
            if not self.server.shutting_down:  # (cut off by the session's close)
                log.warning("the browser's proxy could not record %s: %r", self.url, exc)
            raise
        finally:
            guard.done(self._onrecord_token)


class _RecordingProxy(warcprox.warcproxy.WarcProxy):
    """warcprox's proxy on a loopback port; its recordings are read as they are made
    (by `_GuardedHandler`), so its queue (meant for its WARC writer) is only emptied."""

    def __init__(self, guard: _Guard, workdir: Path, max_page_bytes: int) -> None:
        options = warcprox.Options(
            address="127.0.0.1",
            port=0,
            cacert=str(workdir / "warcprox-ca.pem"),
            certs_dir=str(workdir / "certs"),
            max_threads=32,
            socket_timeout=30,
        )
        super().__init__(options=options)
        # warcprox logs each refused request, and Chromium's own background requests
        # that fail, as errors; the guard logs what it refuses, once, itself.
        logging.getLogger("warcprox").setLevel(logging.CRITICAL)
        # warcprox keeps its size cap on its handler class, shared by every proxy in the
        # process (another session's cap would cut this one's responses): this proxy's
        # cap goes on a handler class of its own.
        self.RequestHandlerClass = type(
            "_PageHandler", (_GuardedHandler,), {"_max_resource_size": max_page_bytes + 1}
        )
        self.guard = guard
        self.max_page_bytes = max_page_bytes
        self._threads = [
            threading.Thread(target=self.serve_forever, name="browser-proxy", daemon=True),
            threading.Thread(target=self._discard, name="browser-proxy-queue", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def _discard(self) -> None:
        """Empty warcprox's queue (a full one would stop the proxy); the handler that
        made each recording has read it and closes it."""
        while self.recorded_url_q.get() is not None:
            pass

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.recorded_url_q.put(None)
        for thread in self._threads:
            thread.join(timeout=5)


class _Chromium:
    """One Chromium process of our own (a process group, so it can be killed whole)."""

    def __init__(self, config: BrowserConfig, proxy_url: str, workdir: Path) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="profile-", dir=workdir))
        self.log_path = workdir / f"{self.profile.name}.log"
        command = [
            config.executable,
            *CHROMIUM_ARGS,
            *_RECORDING_ARGS,
            f"--proxy-server={proxy_url}",
            f"--user-data-dir={self.profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ]
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                start_new_session=True,
            )
        self.endpoint = self._endpoint()

    def _endpoint(self) -> str:
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            match = _DEVTOOLS.search(self.log_path.read_text(errors="replace"))
            if match:
                return match.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        tail = self.log_path.read_text(errors="replace")[-500:]
        raise ConnectionFailed("about:blank", f"Chromium did not start: {tail.strip()}")

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)
        self.log_path.unlink(missing_ok=True)


class BrowserSession:
    """Renders pages in a reused headless Chromium, recording every exchange.

    `http` is the polite session of the same run: its robots.txt rules and its
    private-address setting apply to the browser's pages too.
    """

    def __init__(self, http: PoliteSession, config: BrowserConfig = BrowserConfig()) -> None:
        if not Path(config.executable).exists():
            raise FileNotFoundError(
                f"no browser at {config.executable} (install Debian's chromium package)"
            )
        self.http = http
        self.config = config
        self._workdir = Path(tempfile.mkdtemp(prefix="onrecord-browser-"))
        self._guard = _Guard(http.refuse_private)
        self._proxy = _RecordingProxy(self._guard, self._workdir, config.max_page_bytes)
        self._playwright = sync_playwright().start()
        self._chromium: _Chromium | None = None
        self._browser = None
        self._pages = 0
        self._lock = threading.Lock()
        self.launches = 0  # browsers started, restarts included

    def __enter__(self) -> BrowserSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop_browser()
        self._playwright.stop()
        self._proxy.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def capture(self, url: str) -> BrowserCapture:
        """Load `url` and everything it asks for; return what crossed the wire, the
        rendered DOM and a screenshot. Raises a `scrapers.errors.FetchError` subclass."""
        url = urldefrag(url.strip()).url
        if urlsplit(url).scheme not in ("http", "https"):
            raise InvalidURL(url, f"not an http(s) URL: {url!r}")
        self.http.refuse_private(url)
        if not self.http.allowed(url):
            raise RobotsDisallowed(url, f"robots.txt disallows {url}")
        with self._lock:
            browser = self._ready_browser()
            self._pages += 1
            token = self._guard.open(self.config.max_page_bytes)
            killed = threading.Event()
            watchdog = threading.Timer(
                self.config.page_timeout + _KILL_GRACE, self._kill, args=(url, killed)
            )
            watchdog.start()
            try:
                hop_urls, dom, screenshot, rendered_at = self._render(browser, url, token)
            except PlaywrightError as exc:
                if killed.is_set():
                    self._stop_browser()
                    raise FetchTimeout(
                        url,
                        f"the browser stopped answering and was killed after "
                        f"{self.config.page_timeout + _KILL_GRACE:.0f}s",
                    ) from None
                raise ConnectionFailed(url, f"the browser failed: {_first_line(exc)}") from None
            finally:
                watchdog.cancel()
                page = self._guard.close(token, _DRAIN_TIMEOUT)
        if page.over_budget:
            raise ResponseTooLarge(
                url, f"the page's responses exceed the {self.config.max_page_bytes}-byte cap"
            )
        return _assemble(url, hop_urls, page, dom, screenshot, rendered_at)

    def _render(self, browser, url: str, token: str) -> tuple[list[str], str, bytes, datetime]:
        config = self.config
        deadline = time.monotonic() + config.page_timeout
        context = browser.new_context(
            user_agent=self._user_agent(browser),
            viewport={"width": config.viewport_width, "height": config.viewport_height},
            extra_http_headers={_TOKEN_HEADER: json.dumps({_TOKEN_KEY: token})},
            accept_downloads=False,
            service_workers="block",
            ignore_https_errors=True,  # the proxy presents its own certificates
        )
        try:
            page = context.new_page()
            try:
                response = page.goto(url, wait_until="load", timeout=_ms(deadline))
            except PlaywrightTimeout:
                raise FetchTimeout(
                    url, f"the page did not finish loading within {config.page_timeout:.0f}s"
                ) from None
            except PlaywrightError as exc:
                if "net::ERR_" not in str(exc):
                    raise
                raise ConnectionFailed(
                    url, f"the browser could not load the page: {_first_line(exc)}"
                ) from None
            if response is None:
                raise ConnectionFailed(url, "the browser loaded no document")
            try:
                page.wait_for_load_state(
                    "networkidle", timeout=min(config.settle * 1000, _ms(deadline))
                )
            except PlaywrightTimeout:
                log.info("%s: the network did not go quiet; capturing as it is", url)
            rendered_at = datetime.now(UTC)
            dom = page.content()
            height = page.evaluate(
                "Math.max(document.documentElement.scrollHeight, document.body ? "
                "document.body.scrollHeight : 0)"
            )
            height = max(1, min(int(height or 1), config.max_screenshot_height))
            screenshot = page.screenshot(
                type="png",
                full_page=True,
                clip={"x": 0, "y": 0, "width": config.viewport_width, "height": height},
                timeout=_ms(deadline),
                animations="disabled",
            )
            hops = []
            request = response.request
            while request is not None:
                hops.insert(0, urldefrag(request.url).url)
                request = request.redirected_from
            return hops, dom, screenshot, rendered_at
        except PlaywrightTimeout:
            raise FetchTimeout(
                url, f"the page was not rendered within {config.page_timeout:.0f}s"
            ) from None
        finally:
            with contextlib.suppress(PlaywrightError):  # a killed browser: cleaned up later
                context.close()

    def _user_agent(self, browser) -> str:
        """Chromium's own User-Agent, with onrecord's identifying one after it."""
        major = browser.version.split(".", 1)[0]
        return (
            f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{major}.0.0.0 Safari/537.36 {self.http.config.user_agent}"
        )

    def _ready_browser(self):
        if self._browser is not None and (
            self._pages >= self.config.pages_per_browser or not self._browser.is_connected()
        ):
            self._stop_browser()
        if self._browser is None:
            self._chromium = _Chromium(self.config, self._proxy.url, self._workdir)
            self.launches += 1
            self._browser = self._playwright.chromium.connect_over_cdp(self._chromium.endpoint)
            self._pages = 0
        return self._browser

    def _kill(self, url: str, killed: threading.Event) -> None:
        """The watchdog: a browser that stops answering is killed, process group and all."""
        killed.set()
        chromium = self._chromium
        if chromium is not None:
            log.error("%s: the browser stopped answering; killing it", url)
            chromium.kill()

    def _stop_browser(self) -> None:
        if self._browser is not None:
            with contextlib.suppress(PlaywrightError):  # already gone
                self._browser.close()
            self._browser = None
        if self._chromium is not None:
            self._chromium.kill()
            self._chromium = None


def _assemble(
    url: str, hop_urls: list[str], page: _Page, dom: str, screenshot: bytes, at: datetime
) -> BrowserCapture:
    """Split what the proxy recorded into the page's own hops and its resources."""
    remaining = list(page.exchanges)
    hops = []
    for hop_url in hop_urls:
        found = next(
            (e for e in remaining if urldefrag(e.url).url == hop_url and e.method == "GET"), None
        )
        if found is None:
            if any(hop_url in reason for reason in page.refused):
                raise PrivateAddress(url, next(r for r in page.refused if hop_url in r))
            raise ConnectionFailed(url, f"the proxy recorded no response for {hop_url}")
        remaining.remove(found)
        hops.append(found)
    return BrowserCapture(
        url=url,
        hops=tuple(hops),
        resources=tuple(remaining),
        dom=dom,
        screenshot=screenshot,
        rendered_at=at,
        refused=tuple(page.refused),
    )


def _ms(deadline: float) -> float:
    return max(1.0, (deadline - time.monotonic()) * 1000)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
