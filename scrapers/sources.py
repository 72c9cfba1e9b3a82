"""Load and validate the declarative source definitions.

A source file is TOML and declares one or more `[[source]]` tables:

    [[source]]
    name = "state-elections"                      # a slug, unique across all files
    publisher = "Office of the Secretary of State"
    kind = "statement"                            # statement, news or blog
    start_urls = ["https://sos.example.gov/news/"]
    discovery = { type = "feed", url = "https://sos.example.gov/news/feed.xml" }
    allow = ['^https://sos\\.example\\.gov/news/']  # regexes searched in the URL
    deny = ['\\?page=']
    schedule = { every = "6h" }                   # or { cron = "0 */6 * * *" } (UTC)
    delay = 5.0                                   # seconds between requests, 0 to 600; optional
    max_pages = 50                                # pages per run
    render = "browser"                            # pages built by scripts; default "http"

`discovery.type` is feed, sitemap, listing (which also needs a CSS `selector` for the
links) or none. Every error names the file, the line and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from croniter import CroniterBadDateError, croniter
from lxml.cssselect import CSSSelector, SelectorError

from archive.models import KINDS
from scrapers.errors import SourceError

__all__ = ["Discovery", "Schedule", "Source", "load_sources", "load_valid_sources"]

DISCOVERY_TYPES = ("feed", "sitemap", "listing", "none")
RENDERS = ("http", "browser")  # a plain fetch, or headless Chromium with a screenshot
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_EVERY = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# The longest delay a source may ask for between two requests to a host: ten minutes,
# twenty times the longest robots.txt Crawl-delay obeyed by default. Longer is a slip (a
# stray digit, milliseconds meant): a run fetches its pages one delay apart, so at an hour
# 100 pages would take four days and hold up the sources after it in `onrecord scrape`,
# and a worker that dies holding a host's turn keeps the host that long.
MAX_DELAY = 600.0
# Why a schedule that reads well gives no next run.
_NEVER_DUE = {
    "cron": "matches no date (like February 30): the source would never be due",
    "every": "is too long: the next run would fall after the year 9999",
}
_FIELDS = frozenset(
    (
        "name",
        "publisher",
        "kind",
        "start_urls",
        "discovery",
        "allow",
        "deny",
        "schedule",
        "delay",
        "max_pages",
        "render",
    )
)


@dataclass(frozen=True)
class Discovery:
    """Where a source's candidate URLs come from."""

    type: str  # one of DISCOVERY_TYPES
    url: str | None = None
    selector: str | None = None  # listing only: CSS selector for the links


@dataclass(frozen=True)
class Schedule:
    """How often a source is scraped: a fixed interval, or a cron expression in UTC."""

    every: timedelta | None = None
    cron: str | None = None

    def next_after(self, moment: datetime) -> datetime:
        if self.every is not None:
            return moment + self.every
        return croniter(self.cron, moment.astimezone(UTC)).get_next(datetime)


@dataclass(frozen=True)
class Source:
    """One watched source, as declared."""

    name: str
    publisher: str
    kind: str
    start_urls: tuple[str, ...]
    discovery: Discovery
    schedule: Schedule
    allow: tuple[re.Pattern[str], ...] = ()
    deny: tuple[re.Pattern[str], ...] = ()
    delay: float | None = None  # None: the HTTP layer's default
    max_pages: int = 100
    render: str = "http"  # one of RENDERS
    path: Path | None = field(default=None, compare=False)  # the file that declared it

    def next_due(self, after: datetime) -> datetime:
        """When the source is next due, given an aware moment (its last run).

        >>> hourly = Schedule(every=timedelta(hours=1))
        >>> src = Source("s", "P", "news", (), Discovery("none"), hourly)
        >>> src.next_due(datetime(2026, 11, 3, 9, 30, tzinfo=UTC)).isoformat()
        '2026-11-03T10:30:00+00:00'
        """
        if after.tzinfo is None:
            raise ValueError("next_due needs a timezone-aware datetime")
        return self.schedule.next_after(after)

    def due(self, last_finished: datetime | None) -> datetime | None:
        """When the source is next due, by its schedule as declared now, given when its
        last run finished; None (due now) when none has.

        Worked out at each look, not kept from when the run ended: a schedule edited
        since (30 days made one hour, or one hour made 30 days) applies at once.

        >>> daily = Source("s", "P", "news", (), Discovery("none"), Schedule(every=timedelta(1)))
        >>> daily.due(None), daily.due(datetime(2026, 11, 3, 9, 30, tzinfo=UTC)).isoformat()
        (None, '2026-11-04T09:30:00+00:00')
        """
        return None if last_finished is None else self.next_due(last_finished)

    def wants(self, url: str) -> bool:
        """Whether `url` belongs to this source: http(s), allowed, not denied.

        >>> src = Source("s", "P", "news", (), Discovery("none"), Schedule(cron="0 * * * *"),
        ...              allow=(re.compile("/news/"),), deny=(re.compile(r"\\?page="),))
        >>> src.wants("https://a.example/news/1"), src.wants("https://a.example/news/?page=2")
        (True, False)
        """
        if urlsplit(url).scheme not in ("http", "https"):
            return False
        if any(pattern.search(url) for pattern in self.deny):
            return False
        return not self.allow or any(pattern.search(url) for pattern in self.allow)


def load_sources(paths: Iterable[str | Path]) -> list[Source]:
    """Load every source declared in `paths` (TOML files, or folders of *.toml files).

    Raises SourceError naming the file, line and field of the first problem, including a
    name declared twice.
    """
    sources: list[Source] = []
    seen: dict[str, Source] = {}
    for path in _files(paths):
        sources += _load_file(path, seen)
    return sources


def load_valid_sources(paths: Iterable[str | Path]) -> tuple[list[Source], list[SourceError]]:
    """The sources of every file in `paths` that loads, and the error of each file that
    does not (none of its sources is kept: half a file is not what its author meant).

    For a process that runs for days, the scheduler and the workers: a file mistyped
    while it runs must cost that file's sources only, not every source of the archive.
    A name declared again is the later file's error, as :func:`load_sources` has it.
    """
    sources: list[Source] = []
    problems: list[SourceError] = []
    seen: dict[str, Source] = {}
    for path in _files(paths):
        try:
            sources += _load_file(path, seen)
        except SourceError as exc:
            problems.append(exc)
    return sources, problems


def _load_file(path: Path, seen: dict[str, Source]) -> list[Source]:
    """The sources of one file, their names checked against ``seen`` (the files before
    it), to which they are added once the whole file is valid."""
    text = _read(path)
    found: dict[str, Source] = {}
    for index, source in enumerate(_parse(path, text)):
        first = seen.get(source.name) or found.get(source.name)
        if first is not None:
            line = _locate(text, index, "name")
            raise SourceError(
                path, line, "name", f"{source.name!r} is already declared in {first.path}"
            )
        found[source.name] = source
    seen.update(found)
    return list(found.values())


def _read(path: Path) -> str:
    """A source file's text; a binary or unreadable file is a SourceError, not a traceback."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(path, 0, "file", f"cannot read it: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError(
            path, line, "file", f"not a UTF-8 text file (byte {exc.start} cannot be decoded)"
        ) from None


def _files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for entry in map(Path, paths):
        files.extend(sorted(entry.glob("*.toml")) if entry.is_dir() else [entry])
    return files


def _parse(path: Path, text: str) -> list[Source]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _syntax_error_line(exc)
        raise SourceError(path, line, _key_on_line(text, line), f"invalid TOML: {exc}") from None
    tables = document.get("source")
    if not isinstance(tables, list) or not tables:
        raise SourceError(path, 1, "source", "no [[source]] table declared")
    unexpected = sorted(set(document) - {"source"})
    if unexpected:
        key = unexpected[0]
        raise SourceError(path, _first_line(text, key), key, "unknown top-level key")
    return [_Reader(path, text, index, table).source() for index, table in enumerate(tables)]


class _Reader:
    """Validates the index-th [[source]] table of one file, field by field."""

    def __init__(self, path: Path, text: str, index: int, table: dict[str, Any]) -> None:
        self.path = path
        self.text = text
        self.index = index
        self.table = table

    def fail(self, field_name: str, problem: str) -> SourceError:
        line = _locate(self.text, self.index, field_name)
        return SourceError(self.path, line, field_name, problem)

    def source(self) -> Source:
        unknown = sorted(set(self.table) - _FIELDS)
        if unknown:
            raise self.fail(unknown[0], f"unknown field (expected one of {sorted(_FIELDS)})")
        name = self.string("name")
        if not _SLUG.match(name):
            raise self.fail("name", f"{name!r} is not a slug like 'state-elections'")
        kind = self.string("kind")
        if kind not in KINDS:
            raise self.fail("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
        return Source(
            name=name,
            publisher=self.string("publisher"),
            kind=kind,
            start_urls=tuple(self.url_list("start_urls")),
            discovery=self.discovery(),
            schedule=self.schedule(),
            allow=self.patterns("allow"),
            deny=self.patterns("deny"),
            delay=self.delay(),
            max_pages=self.max_pages(),
            render=self.render(),
            path=self.path,
        )

    def string(self, key: str, table: dict[str, Any] | None = None, prefix: str = "") -> str:
        value = (self.table if table is None else table).get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(prefix + key, "required, a non-empty string")
        return value.strip()

    def url_list(self, key: str) -> list[str]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of URLs")
        for url in value:
            self.check_url(url, key)
        return value

    def check_url(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise self.fail(key, f"{url!r} is not an http(s) URL")

    def discovery(self) -> Discovery:
        table = self.table.get("discovery", {"type": "none"})
        if not isinstance(table, dict):
            raise self.fail("discovery", 'must be a table like { type = "feed", url = "..." }')
        extra = sorted(set(table) - {"type", "url", "selector"})
        if extra:
            raise self.fail(f"discovery.{extra[0]}", "unknown field")
        kind = table.get("type")
        if kind not in DISCOVERY_TYPES:
            raise self.fail("discovery.type", f"{kind!r} is not one of {DISCOVERY_TYPES}")
        if kind == "none":
            if not self.table.get("start_urls"):
                raise self.fail("start_urls", 'required when discovery.type is "none"')
            return Discovery("none")
        url = self.string("url", table, "discovery.")
        self.check_url(url, "discovery.url")
        selector = None
        if kind == "listing":
            selector = self.string("selector", table, "discovery.")
            try:
                CSSSelector(selector)
            except SelectorError as exc:
                raise self.fail("discovery.selector", f"invalid CSS selector: {exc}") from None
        elif "selector" in table:
            raise self.fail("discovery.selector", "only a listing takes a selector")
        return Discovery(kind, url, selector)

    def schedule(self) -> Schedule:
        """The schedule, once it is known to give a next run: a cron date that no
        calendar has (February 30) or an interval that ends past the year 9999 would
        otherwise only fail when the first run ends and its next is set."""
        table = self.table.get("schedule")
        if not isinstance(table, dict) or len(table) != 1 or not {"every", "cron"} & set(table):
            raise self.fail("schedule", 'must be { every = "6h" } or { cron = "0 */6 * * *" }')
        key = "cron" if "cron" in table else "every"
        try:
            schedule = self.cron(table[key]) if key == "cron" else self.every(table[key])
            schedule.next_after(datetime.now(UTC))
        except (CroniterBadDateError, OverflowError):
            raise self.fail(f"schedule.{key}", f"{table[key]!r} {_NEVER_DUE[key]}") from None
        return schedule

    def cron(self, expression: Any) -> Schedule:
        if not isinstance(expression, str) or not croniter.is_valid(expression):
            raise self.fail("schedule.cron", f"{expression!r} is not a cron expression")
        return Schedule(cron=expression)

    def every(self, duration: Any) -> Schedule:
        match = _EVERY.match(str(duration))
        if not match or int(match.group(1)) == 0:
            raise self.fail("schedule.every", f"{duration!r} is not a duration like 30m, 6h or 1d")
        return Schedule(every=timedelta(**{_UNITS[match.group(2)]: int(match.group(1))}))

    def patterns(self, key: str) -> tuple[re.Pattern[str], ...]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of regular expressions")
        compiled = []
        for pattern in value:
            try:
                compiled.append(re.compile(pattern))
            except re.error as exc:
                raise self.fail(key, f"invalid regular expression {pattern!r}: {exc}") from None
        return tuple(compiled)

    def delay(self) -> float | None:
        value = self.table.get("delay")
        if value is None:
            return None
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not 0 <= value <= MAX_DELAY:  # nan fails it too: it is in no range
            raise self.fail(
                "delay", f"{value!r} is not a number of seconds from 0 to {MAX_DELAY:g}"
            )
        return float(value)

    def max_pages(self) -> int:
        value = self.table.get("max_pages", 100)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail("max_pages", f"{value!r} is not a whole number >= 1")
        return value

    def render(self) -> str:
        value = self.table.get("render", "http")
        if value not in RENDERS:
            raise self.fail("render", f"{value!r} is not one of {', '.join(RENDERS)}")
        return value


# -- finding the line a field is defined on ----------------------------------------------
# tomllib gives positions for syntax errors only, so for a bad value we scan the text: the
# index-th [[source]] header opens the block, then the key's own line, a [source.<table>]
# header followed by the sub-key, or an inline table on the parent key's line.

_SOURCE_HEADER = re.compile(r"^\s*\[\[\s*source\s*\]\]")
_TABLE_HEADER = re.compile(r"^\s*\[")


def _locate(text: str, index: int, dotted: str) -> int:
    lines = text.splitlines()
    headers = [n for n, line in enumerate(lines) if _SOURCE_HEADER.match(line)]
    if index >= len(headers):
        return 1
    start = headers[index]
    end = headers[index + 1] if index + 1 < len(headers) else len(lines)
    parent, _, child = dotted.partition(".")
    table = f"source.{parent}"
    in_subtable = False
    for n in range(start + 1, end):
        line = lines[n]
        if _TABLE_HEADER.match(line):
            in_subtable = re.match(rf"^\s*\[\s*{re.escape(table)}\s*\]", line) is not None
            if in_subtable and not child:
                return n + 1
            continue
        if in_subtable and child and _defines(line, child):
            return n + 1
        if not in_subtable and (_defines(line, parent) or _defines(line, dotted)):
            return n + 1
    return start + 1


def _defines(line: str, key: str) -> bool:
    return re.match(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", line) is not None


def _first_line(text: str, key: str) -> int:
    for n, line in enumerate(text.splitlines(), start=1):
        if _defines(line, key) or re.match(rf"^\s*\[+\s*{re.escape(key)}\b", line):
            return n
    return 1


def _syntax_error_line(exc: tomllib.TOMLDecodeError) -> int:
    match = re.search(r"line (\d+)", str(exc))
    return int(match.group(1)) if match else 1


def _key_on_line(text: str, line: int) -> str:
    lines = text.splitlines()
    if 1 <= line <= len(lines):
        match = re.match(r"^\s*([A-Za-z0-9_.\"'-]+)\s*=", lines[line - 1])
        if match:
            return match.group(1).strip("\"'")
    return "(syntax)"
