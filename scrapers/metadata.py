"""A page's metadata, from the strongest signal that states each field.

Signals, strongest first: JSON-LD (``NewsArticle`` and friends, also inside ``@graph``),
OpenGraph and ``<meta>`` tags, then the page's markup (``<link rel=canonical>``,
``<html lang>``, ``<time>``, bylines, ``<title>``), and last trafilatura's own metadata
extraction, consulted only for the fields still missing.

Dates are returned timezone-aware, in the zone the publisher gave (a citation names the day
the page shows, not the day in UTC). A date without a time (``2019-11-18``) becomes
midnight UTC of that day; a time without a zone is read as UTC, and a problem says so.

    >>> parse_date("2019-11-18T21:30:00-05:00").isoformat()
    '2019-11-18T21:30:00-05:00'
    >>> parse_date("Mon, 18 Nov 2019 10:30:00 GMT")
    datetime.datetime(2019, 11, 18, 10, 30, tzinfo=datetime.timezone.utc)
    >>> split_authors("By Jane Doe and John Roe, Reuters")
    ('Jane Doe', 'John Roe', 'Reuters')
"""

from __future__ import annotations

import copy
import html
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement
from trafilatura.metadata import extract_metadata

log = logging.getLogger(__name__)

_ARTICLE_TYPES = frozenset(
    [
        "Article",
        "NewsArticle",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "BackgroundNewsArticle",
        "ReviewNewsArticle",
        "BlogPosting",
        "LiveBlogPosting",
        "SocialMediaPosting",
        "TechArticle",
        "ScholarlyArticle",
        "Report",
        "PressRelease",
    ]
)
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_BY = re.compile(r"^\s*(by|von|par|por|di|door)\s+", re.IGNORECASE)
_AUTHOR_SEPARATORS = re.compile(r"\s*(?:,|;|&|\band\b|\bund\b|\bet\b|\by\b|\|)\s*")
_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " · ")
_MAX_AUTHORS = 12
# trafilatura reads a page's JSON-LD with regular expressions whose time grows with the
# square of its length on hostile input (64K characters of "<" take it 1.4 s, 256K
# 18 s); the most JSON-LD on any of the 1,081 evaluation pages is 38K characters. What
# goes beyond this budget is kept from trafilatura; page_metadata reads all of it.
TRAFILATURA_JSON_LD = 64 * 1024
_TRAFILATURA_JSON = ".//script[@type='application/ld+json' or @type='application/settings+json']"
# A tag: never across another "<", so that each "<" is read once (with "<[^>]*>", a run of
# "<" without ">" was read to its end from every one of them).
_TAG = re.compile(r"<[^<>]*>")


@dataclass(frozen=True)
class Metadata:
    title: str | None = None
    authors: tuple[str, ...] = ()
    publisher: str | None = None
    published: datetime | None = None
    modified: datetime | None = None
    language: str | None = None
    canonical_url: str | None = None
    article_body: str | None = None  # JSON-LD ``articleBody``: the page's own plain text
    problems: tuple[str, ...] = ()


class _Fields:
    """The first non-empty value offered for each field wins."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def offer(self, name: str, value: object) -> None:
        if value and name not in self.values:
            self.values[name] = value

    def get(self, name: str) -> object:
        return self.values.get(name)


def page_metadata(tree: HtmlElement, url: str | None) -> Metadata:
    """Read the metadata of a parsed HTML page; ``url`` resolves relative links."""
    fields = _Fields()
    for item in _json_ld_articles(tree):
        _offer_json_ld(fields, item)
    _offer_meta_tags(fields, tree)
    _offer_markup(fields, tree)
    if not all(fields.get(name) for name in ("title", "authors", "publisher", "published")):
        _offer_trafilatura(fields, tree, url)
    problems: list[str] = []
    published = _date_field(fields, "published", problems)
    modified = _date_field(fields, "modified", problems)
    site = _text(fields.get("publisher"))
    return Metadata(
        title=_clean_title(_text(fields.get("title")), site),
        authors=_authors(fields.get("authors")),
        publisher=site,
        published=published,
        modified=modified,
        language=_language(_text(fields.get("language"))),
        canonical_url=_absolute(_text(fields.get("canonical")), url),
        article_body=_plain(fields.get("body")),
        problems=tuple(problems),
    )


def _json_ld_articles(tree: HtmlElement) -> Iterator[dict]:
    for script in tree.iterfind(".//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "", strict=False)
            articles = [item for item in _json_ld_items(data) if _is_article(item)]
        except (ValueError, RecursionError):  # nested deeper than Python's stack goes
            log.debug("unreadable JSON-LD block skipped")
            continue
        yield from articles


def _json_ld_items(data: object) -> Iterator[dict]:
    if isinstance(data, list):
        for item in data:
            yield from _json_ld_items(item)
    elif isinstance(data, dict):
        yield data
        yield from _json_ld_items(data.get("@graph"))


def _is_article(item: dict) -> bool:
    types = item.get("@type")
    types = types if isinstance(types, list) else [types]
    return any(isinstance(kind, str) and kind in _ARTICLE_TYPES for kind in types)


def _offer_json_ld(fields: _Fields, item: dict) -> None:
    fields.offer("title", item.get("headline") or item.get("name"))
    fields.offer("authors", _names(item.get("author") or item.get("creator")))
    fields.offer("publisher", _names(item.get("publisher"))[:1])
    fields.offer("published", item.get("datePublished") or item.get("dateCreated"))
    fields.offer("modified", item.get("dateModified"))
    fields.offer("language", item.get("inLanguage"))
    page = item.get("mainEntityOfPage")
    fields.offer("canonical", page.get("@id") if isinstance(page, dict) else page)
    fields.offer("canonical", item.get("url"))
    body = item.get("articleBody")
    fields.offer("body", body if isinstance(body, str) else None)


def _names(value: object) -> tuple[str, ...]:
    """Names from a JSON-LD Person/Organization, a list of them, or plain strings."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, dict):
        name = value.get("name")
        return (name,) if isinstance(name, str) else ()
    if isinstance(value, list):
        return tuple(name for item in value for name in _names(item))
    return ()


_META_FIELDS = (
    ("title", ("og:title", "twitter:title", "dc.title", "citation_title")),
    (
        "authors",
        (
            "author",
            "article:author",
            "dc.creator",
            "citation_author",
            "byl",
            "parsely-author",
            "sailthru.author",
        ),
    ),
    ("publisher", ("og:site_name", "application-name", "dc.publisher", "citation_publisher")),
    (
        "published",
        (
            "article:published_time",
            "datepublished",
            "pubdate",
            "publishdate",
            "publish-date",
            "date",
            "dc.date.issued",
            "dcterms.created",
            "dc.date",
            "citation_publication_date",
            "sailthru.date",
            "parsely-pub-date",
        ),
    ),
    (
        "modified",
        (
            "article:modified_time",
            "og:updated_time",
            "datemodified",
            "dcterms.modified",
            "last-modified",
        ),
    ),
    ("language", ("og:locale", "content-language", "language", "dc.language")),
    ("canonical", ("og:url",)),
)


def _offer_meta_tags(fields: _Fields, tree: HtmlElement) -> None:
    found: dict[str, list[str]] = {}
    for meta in tree.iterfind(".//meta"):
        name = meta.get("property") or meta.get("name") or meta.get("http-equiv") or ""
        content = (meta.get("content") or "").strip()
        if content:
            found.setdefault(name.strip().lower(), []).append(content)
    for field_name, names in _META_FIELDS:
        for name in names:
            values = found.get(name, ())
            if field_name == "authors":
                fields.offer("authors", tuple(v for v in values if not _is_url(v)))
            elif values:
                fields.offer(field_name, values[0])


def _offer_markup(fields: _Fields, tree: HtmlElement) -> None:
    for link in tree.iterfind(".//link[@rel]"):
        if "canonical" in link.get("rel", "").lower().split():
            fields.offer("canonical", link.get("href"))
    fields.offer("language", tree.get("lang") or tree.get("xml:lang"))
    for element in tree.iterfind(".//*[@itemprop]"):
        prop = element.get("itemprop")
        value = element.get("content") or element.get("datetime")
        if prop == "datePublished":
            fields.offer("published", value or element.text_content().strip())
        elif prop == "dateModified":
            fields.offer("modified", value or element.text_content().strip())
        elif prop == "author":
            fields.offer("authors", (value or element.text_content(),))
    for time in tree.iterfind(".//time[@datetime]"):
        fields.offer("published", time.get("datetime"))
    for element in tree.iterfind(".//a[@rel='author']"):
        fields.offer("authors", (element.text_content(),))
    fields.offer("title", tree.findtext(".//title"))


def _offer_trafilatura(fields: _Fields, tree: HtmlElement, url: str | None) -> None:
    found = extract_metadata(for_trafilatura(tree), url, extensive=False)
    fields.offer("title", found.title)
    fields.offer("authors", (found.author,) if found.author else ())
    if found.sitename and " " in found.sitename:
        fields.offer("publisher", found.sitename)  # without a space it is only the host name
    fields.offer("published", found.date)


def for_trafilatura(tree: HtmlElement) -> HtmlElement:
    """The page as trafilatura may read it: its JSON-LD blocks in order while they fit in
    ``TRAFILATURA_JSON_LD`` characters, the others left out (of a copy: ``tree`` stays)."""
    scripts = tree.xpath(_TRAFILATURA_JSON)
    if sum(len(script.text or "") for script in scripts) <= TRAFILATURA_JSON_LD:
        return tree
    bounded = copy.deepcopy(tree)
    kept = 0
    for script in bounded.xpath(_TRAFILATURA_JSON):
        size = len(script.text or "")
        if kept + size > TRAFILATURA_JSON_LD:
            log.debug("JSON-LD block of %d characters kept from trafilatura", size)
            script.drop_tree()
        else:
            kept += size
    return bounded


def _plain(value: object) -> str | None:
    """JSON-LD text that some sites fill with HTML: its tags and entities read as text."""
    if not isinstance(value, str) or not value.strip():
        return None
    if "<" in value or "&" in value:
        value = html.unescape(_TAG.sub(" ", value))
    return value


def _text(value: object) -> str | None:
    if isinstance(value, tuple | list):
        value = value[0] if value else None
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def _clean_title(title: str | None, site: str | None) -> str | None:
    """Drop a trailing or leading " | Site name" that <title> tags often carry."""
    if not title or not site:
        return title
    for separator in _TITLE_SEPARATORS:
        head, sep, tail = title.rpartition(separator)
        if sep and tail.casefold() == site.casefold() and head:
            return head
        head, sep, tail = title.partition(separator)
        if sep and head.casefold() == site.casefold() and tail:
            return tail
    return title


def split_authors(text: str) -> tuple[str, ...]:
    """Person names from a byline or an author field."""
    names = (_BY.sub("", part).strip(" .") for part in _AUTHOR_SEPARATORS.split(_BY.sub("", text)))
    return tuple(name for name in names if name and not _is_url(name))


def _authors(value: object) -> tuple[str, ...]:
    if not isinstance(value, tuple | list):
        return ()
    seen: dict[str, str] = {}
    for item in value:
        if isinstance(item, str):
            for name in split_authors(" ".join(item.split())):
                seen.setdefault(name.casefold(), name)
    return tuple(seen.values())[:_MAX_AUTHORS]


def parse_date(value: str) -> datetime | None:
    """An ISO 8601 or RFC 2822 date as an aware datetime in its own zone; None when
    unreadable."""
    value = value.strip()
    parsed = None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not _EARLIEST <= parsed.year <= _LATEST:
        return None  # placeholders such as 0001-01-01 are no publication date
    return parsed


_EARLIEST, _LATEST = 1800, 9998


def _date_field(fields: _Fields, name: str, problems: list[str]) -> datetime | None:
    value = _text(fields.get(name))
    if value is None:
        return None
    parsed = parse_date(value)
    if parsed is None:
        problems.append(f"{name} date not understood: {value[:40]!r}")
    elif not _DATE_ONLY.fullmatch(value) and _naive(value):
        problems.append(f"{name} time has no zone; read as UTC")
    return parsed


def _naive(value: str) -> bool:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is None
    except ValueError:
        return False


def _language(value: str | None) -> str | None:
    """The primary language subtag: "en-US", "en_GB" and "EN" all give "en"."""
    if not value:
        return None
    primary = re.split(r"[-_]", value.strip())[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


def _absolute(href: str | None, base: str | None) -> str | None:
    """``href`` made absolute against ``base``; None unless that gives an http(s) URL."""
    if not href:
        return None
    try:
        absolute = urljoin(base, href) if base else href
        scheme = urlsplit(absolute).scheme
    except ValueError:  # no URL at all: an IPv6 host left open ("http://[oops/a")
        return None
    return absolute if scheme in ("http", "https") else None


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://", "//", "www."))
