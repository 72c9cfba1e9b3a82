"""The demo: a small fictional newsroom world, and an archive built from it.

`DemoSite` serves the Ashford demo network (``web/demo_site/``) on 127.0.0.1: an election
board's press room with an RSS feed, a secretary of state's press room whose statement is
built by a script (captured in a browser), a news agency and a national paper with
sitemaps, and a blog with a listing page, all on one loopback origin. It behaves like a
real site where the archive can tell: a Content-Type with a charset, ``ETag`` and
``Last-Modified`` on every page, ``304 Not Modified`` for a conditional request that still
matches, a ``robots.txt`` that closes one path the feed links to. `DemoSite.advance`
moves the world on a day: one statement is edited without notice, another is taken down
(410), a new story appears.

`build_demo` scrapes that world twice, before and after the day passes, with onrecord's
real pipeline, so that the archive shows versions, edits, takedowns and revisits.

    with DemoSite() as site:
        build_demo(Path("demo-archive"), site)
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from archive import config as archive_config
from archive.catalog import Catalog
from archive.store import Store, init_archive
from scrapers.pipeline import Outcome
from scrapers.sources import Source, load_sources
from web import indexing, links
from web.work import Work

__all__ = ["DemoSite", "build_demo", "tour"]

SITE = Path(__file__).parent / "demo_site"
_ORIGIN = "{{origin}}"
_CHARSET = "; charset=utf-8"

# The demo site is on 127.0.0.1, which onrecord refuses to fetch unless allow_private is
# set, and it is our own server in this process, so it needs no delay between requests.
# Both settings are for the demo only: an archive of real sites keeps the defaults.
DEMO_CONFIG = """\
# The onrecord demo archive: see `onrecord demo --help`.
[onrecord]
# The demo site listens on 127.0.0.1, which onrecord refuses to fetch by default.
allow_private = true
# The demo site is served by the same process: no politeness delay is needed.
delay = 0.0
"""

# Five publishers of the demo network, one source each, discovered the four ways sources
# can be: a feed, two sitemaps and a listing page with a CSS selector, and a statement
# built by a script, captured in a browser. {origin} is the
# demo site's origin, {pattern} the same escaped as a regular expression.
DEMO_SOURCES = {
    "ashford-elections": """\
[[source]]
name = "ashford-elections"
publisher = "Ashford Board of Elections"
kind = "statement"
discovery = {{ type = "feed", url = "{origin}/elections/feed.xml" }}
allow = ['^{pattern}/elections/']
schedule = {{ every = "6h" }}
max_pages = 20
""",
    "meridian-wire": """\
[[source]]
name = "meridian-wire"
publisher = "Meridian Wire"
kind = "news"
discovery = {{ type = "sitemap", url = "{origin}/meridian/sitemap.xml" }}
allow = ['^{pattern}/meridian/\\d{{4}}/\\d{{2}}/']
schedule = {{ every = "1h" }}
max_pages = 20
""",
    "capital-ledger": """\
[[source]]
name = "capital-ledger"
publisher = "The Capital Ledger"
kind = "news"
discovery = {{ type = "sitemap", url = "{origin}/ledger/sitemap.xml" }}
allow = ['^{pattern}/ledger/politics/']
schedule = {{ cron = "15 * * * *" }}
max_pages = 20
""",
    "ashford-watch": """\
[[source]]
name = "ashford-watch"
publisher = "Ashford Watch"
kind = "blog"
allow = ['^{pattern}/watch/\\d{{4}}/']
schedule = {{ every = "12h" }}
max_pages = 10

[source.discovery]
type = "listing"
url = "{origin}/watch/"
selector = "article.post-summary h2.entry-title a"
""",
    "ashford-secretary": """\
[[source]]
name = "ashford-secretary"
publisher = "Office of the Secretary of the Commonwealth"
kind = "statement"
start_urls = ["{origin}/commonwealth/news/2026/11/07/certification-schedule"]
discovery = {{ type = "none" }}
allow = ['^{pattern}/commonwealth/news/']
schedule = {{ every = "6h" }}
max_pages = 5
render = "browser"                      # the page builds its statement with a script
""",
}

# The newsroom layer in the demo: an editor's account, one correction on the record (a
# story that credits "the board" with words the board's director said in its statement)
# and a quote circulating with words changed, for /check to find.
DEMO_EDITOR = ("editor", "onrecord-demo")
MISCREDITED = "What went wrong on election night was a reporting step, not the count itself,"
CORRECTION = (
    "Helen Marchetti",
    "The story repeats the board's statement of 5 November, in which these are the words "
    "of its executive director, Helen Marchetti.",
)
CIRCULATED = (
    "Every ballot in Greywater County was cast, scanned and secured, and every one of them "
    "will be recounted before we certify anything"
)

STATES = ("now", "later")
_MISSING = {"file": "not-found.html", "status": 404, "modified": "2026-10-01T09:00:00+00:00"}


@dataclass(frozen=True)
class Page:
    """What one path answers in one state of the world."""

    status: int
    body: bytes
    content_type: str
    modified: datetime

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    @property
    def last_modified(self) -> str:
        return email.utils.format_datetime(self.modified, usegmt=True)

    def matches(self, if_none_match: str | None, if_modified_since: str | None) -> bool:
        """Whether a conditional request's validators still match (RFC 9110, 13.1)."""
        if if_none_match is not None:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or self.etag in tags
        if if_modified_since is None:
            return False
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return since.tzinfo is not None and self.modified <= since


def _pages(origin: str) -> dict[str, dict[str, Page]]:
    """Every state's pages by path, read from the manifest and the files it names."""
    manifest = json.loads((SITE / "site.json").read_text(encoding="utf-8"))
    states: dict[str, dict[str, Page]] = {state: {} for state in STATES}
    for entry in manifest["pages"]:
        now = {key: value for key, value in entry.items() if key != "later"}
        later = {**now, **entry.get("later", {})}
        for state, fields in zip(STATES, (now, later), strict=True):
            states[state][entry["path"]] = _page(fields, origin)
    return states


def _page(fields: dict, origin: str) -> Page:
    text = (SITE / fields["file"]).read_text(encoding="utf-8").replace(_ORIGIN, origin)
    for old, new in fields.get("replace", ()):
        if old not in text:
            raise ValueError(f"demo_site/site.json: {old!r} is not in {fields['file']}")
        text = text.replace(old, new)
    return Page(
        status=fields.get("status", 200),
        body=text.encode("utf-8"),
        content_type=fields.get("type", "text/html") + _CHARSET,
        modified=datetime.fromisoformat(fields["modified"]),
    )


class DemoSite:
    """The Ashford demo network on a loopback port, in a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._lock = threading.Lock()
        self._hits: Counter[str] = Counter()
        self._states = _pages(self.origin)
        self._missing = _page(_MISSING, self.origin)
        self.state = STATES[0]

    def __enter__(self) -> DemoSite:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def advance(self) -> None:
        """Move the world on a day: an edit, a takedown and a new story."""
        self.state = STATES[1]

    def hits(self, path: str) -> int:
        """How many requests arrived for `path`, in any state."""
        with self._lock:
            return self._hits[path]

    def answer(self, path: str) -> Page:
        """The page `path` answers now (a 404 page for paths the site does not have)."""
        with self._lock:
            self._hits[path] += 1
        return self._states[self.state].get(path, self._missing)


def _handler_for(site: DemoSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "AshfordDemo/1.0"
        timeout = 10  # a client that vanishes does not hold a thread for long
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def do_GET(self) -> None:
            page = site.answer(urlsplit(self.path).path)
            fresh = page.status == 200 and page.matches(
                self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            )
            self.send_response(304 if fresh else page.status)
            if page.status == 200:
                self.send_header("ETag", page.etag)
                self.send_header("Last-Modified", page.last_modified)
                self.send_header("Cache-Control", "max-age=300")
            if fresh:
                self.end_headers()
                return
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(page.body)))
            self.end_headers()
            self.wfile.write(page.body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the demo's progress is told by build_demo, requests by `hits`."""

    return Handler


def demo_sources(origin: str) -> dict[str, str]:
    """The demo's source files (name -> TOML text), pointing at `origin`."""
    pattern = re.escape(origin)
    return {
        name: text.format(origin=origin, pattern=pattern) for name, text in DEMO_SOURCES.items()
    }


def build_demo(root: Path, site: DemoSite, *, echo: Callable[[str], None] = print) -> None:
    """Build an archive of the demo world in `root`: two visits, a day apart, then an index.

    `site` must be running. `root` is created if needed; its settings are overwritten with
    the demo's (see DEMO_CONFIG).
    """
    paths = init_archive(root)
    paths.config.write_text(DEMO_CONFIG, encoding="utf-8")
    folder = root / archive_config.load(root)["sources"]
    folder.mkdir(exist_ok=True)
    for name, text in demo_sources(site.origin).items():
        (folder / f"{name}.toml").write_text(text, encoding="utf-8")
    sources = load_sources([folder])
    echo(f"demo site at {site.url()}, archive at {root}")
    with Store.open(root) as store:
        _visit(store, sources, echo, "first visit")
        # Capture links in the Wayback form have one-second resolution: start the second
        # visit in a later second than the first one ended, so each link names one capture.
        time.sleep(1 - time.time() % 1)
        site.advance()
        echo("a day later: a statement edited, one taken down, a new story published")
        _visit(store, sources, echo, "second visit")
        _newsroom(store.catalog, echo)
        count = indexing.rebuild(store.paths, store.catalog)
    echo(f"indexed {count} documents and quotes")


def _visit(store: Store, sources: list[Source], echo: Callable[[str], None], label: str) -> None:
    """Scrape every source once, with fresh polite sessions (robots.txt read afresh)."""
    settings = archive_config.load(store.paths.root)
    total = Outcome()
    with Work(store, settings) as work:
        for source in sources:
            if source.render == "browser" and not _has_browser(settings, echo):
                continue
            total.merge(work.scrape(source))
    kinds = Counter(event.type for event in total.events)
    events = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    echo(
        f"{label}: {len(total.captures)} captures, {total.new_versions} new versions, "
        f"{events or 'no events'}, {len(total.failures)} refused or failed"
    )


def _has_browser(settings: dict, echo: Callable[[str], None]) -> bool:
    """Whether there is a Chromium for the script-built statement (said plainly if not)."""
    executable = settings["browser"]
    if Path(executable).exists():
        return True
    echo(
        f"note: no Chromium at {executable}, so the statement that builds itself with a "
        "script (source ashford-secretary) is not captured; install it with "
        "'apt-get install chromium' (make demo does, as root)"
    )
    return False


def _newsroom(catalog: Catalog, echo: Callable[[str], None]) -> None:
    """An editor, and the correction they made (the index is rebuilt after it)."""
    name, password = DEMO_EDITOR
    catalog.add_user(name, "editor", password)
    miscredited = _miscredited(catalog)
    if miscredited is not None:
        speaker, reason = CORRECTION
        catalog.correct_quote(miscredited.id, "speaker", speaker, reason=reason, author=name)
        echo(
            f"an editor corrected the speaker of {miscredited.id} (sign in as {name} / {password})"
        )


def _miscredited(catalog: Catalog):
    return next(
        (
            q
            for q in catalog.current_quotes()
            if q.text == MISCREDITED and q.speaker != CORRECTION[0]
        ),
        None,
    )


def tour(catalog: Catalog) -> list[tuple[str, str]]:
    """Pages of a built demo archive worth a look, as (what it shows, app path) pairs."""
    stops = []
    quote = next(
        (
            q
            for q in catalog.current_quotes()
            if q.text.startswith("We are not going to guess") and q.via is None
        ),
        None,
    )
    if quote is not None:
        stops.append(
            ("a quote, and the other documents that repeat it", links.quote_path(quote.id))
        )
        if quote.speaker_id:
            stops.append(("everything its speaker said", links.speaker_path(quote.speaker_id)))
    edited = next((e for e in catalog.events() if e.type == "edited"), None)
    if edited is not None:
        stops.append(
            (
                "a statement edited without notice",
                links.document_diff_path(edited.document_id, 1, 2),
            )
        )
    rendered = next(
        (q for q in catalog.current_quotes() if q.text.startswith("Counties will certify")),
        None,
    )
    if rendered is not None:
        stops.append(
            (
                "a statement built by a script, captured in a browser, with its screenshot",
                links.quote_path(rendered.id),
            )
        )
    stops.append(
        ("a search for a phrase", links.search_path('"every one of them will be counted"'))
    )
    corrected = next(iter(catalog.corrections(limit=1)), None)
    if corrected is not None:
        stops.append(("a correction on the record", links.quote_path(corrected.quote_id)))
    stops.append(("a circulating quote, altered, checked", links.check_path(CIRCULATED)))
    return stops
