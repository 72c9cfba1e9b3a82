"""Every URL shape of the web front end, in one place.

Views and templates call these functions; nobody formats a path by hand. The shapes are
a promise: links issued once keep working, so change them only by adding new ones.

    /quote/<quote id>                      a quote, with its provenance and citations
    /document/<document id>                a document: text, quotes, versions, events
    /speaker/<speaker id>                  everything a speaker said, roles over time
    /<YYYYMMDDhhmmss[mmm]>/<original URL>  a capture, in the Wayback form (milliseconds
                                           when it has them; 14 digits still resolve)
    /<YYYYMMDDhhmmss[mmm]>id_/<original URL>  the archived copy itself, as received (sandboxed;
                                           on the replay origin when there is one)
    /timemap/link/<original URL>           Memento TimeMap (RFC 7089)
    /timegate/<original URL>               Memento TimeGate

An original URL after the timestamp keeps its characters, except what a browser would
read otherwise than the server does (see :func:`_safe`): "%", "\\", and the "/" before a
"." or ".." segment are percent-encoded, so that no browser collapses a dot segment out of
the ``/<timestamp>id_/`` prefix onto the app's own pages; the server decodes them back.

>>> from datetime import datetime, timezone
>>> capture_path("https://example.gov/a?b=1", datetime(2026, 11, 3, 9, 0, tzinfo=timezone.utc))
'/20261103090000/https://example.gov/a?b=1'
>>> capture_path("https://example.gov/a", datetime(2026, 11, 3, 9, 0, 0, 5000, tzinfo=timezone.utc))
'/20261103090000005/https://example.gov/a'
>>> quote_path("q-0123456789abcdef")
'/quote/q-0123456789abcdef'
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote as _escape
from urllib.parse import urlencode, urlsplit

from archive.config import ConfigError
from archive.ids import memento_ts
from web import fragments

# What the path of an original URL keeps unescaped: RFC 3986's delimiters and unreserved
# characters, but not "%" (a browser reads "%2e" as a dot, the server decodes "%252e" to
# the original's "%2e"), nor "\" (a "/" to a browser). Its query and fragment keep "%".
_PATH_CHARACTERS = ":/@!$&'()*+,;=~-._"
_QUERY_CHARACTERS = ":/?&=%#@!$'()*+,;~-._"
# The "/" before a "." or ".." segment: encoded, it no longer starts a segment that a
# browser's URL parser (or curl) removes, with the segment before it.
_DOT_SEGMENT = re.compile(r"/(?=\.\.?(?:/|$))")


def _safe(url: str) -> str:
    """An original URL as the end of a path of this app, so that a browser's URL parser
    keeps every segment of it (and the server decodes it back to ``url``).

    >>> _safe("http://example.gov/a/../../check?q=a%20b#top")
    'http://example.gov/a%2F..%2F../check?q=a%20b#top'
    >>> _safe("http://example.gov/%2e%2E/a%20b\\\\c/.")
    'http://example.gov/%252e%252E/a%2520b%5Cc%2F.'
    """
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=len(url))
    return encoded_path(url[:cut]) + _escape(url[cut:], safe=_QUERY_CHARACTERS)


def encoded_path(path: str) -> str:
    """A decoded path (a request's, or an original URL's up to its query) encoded so that
    a browser keeps all its segments: what a redirect to the same path sends.

    >>> encoded_path("/20261103090000id_/http://example.gov/../../../../check?q=%2e")
    '/20261103090000id_/http://example.gov%2F..%2F..%2F..%2F../check%3Fq=%252e'
    """
    return _DOT_SEGMENT.sub("%2F", _escape(path, safe=_PATH_CHARACTERS))


def quote_path(quote_id: str) -> str:
    return f"/quote/{quote_id}"


def document_path(document_id: str) -> str:
    return f"/document/{document_id}"


def speaker_path(speaker_id: str) -> str:
    return f"/speaker/{speaker_id}"


def capture_path(url: str, captured_at: datetime) -> str:
    return f"/{memento_ts(captured_at)}/{_safe(url)}"


def raw_capture_path(url: str, captured_at: datetime) -> str:
    """The archived copy as received; served sandboxed, never as an app page."""
    return f"/{memento_ts(captured_at)}id_/{_safe(url)}"


def screenshot_path(capture_id: str) -> str:
    """The screenshot a browser capture took: how the page looked when captured."""
    return f"/capture/{capture_id}/screenshot.png"


def rendered_path(capture_id: str) -> str:
    """The page's DOM after its scripts ran (browser captures); sandboxed like a copy."""
    return f"/capture/{capture_id}/rendered"


def timemap_path(url: str) -> str:
    return f"/timemap/link/{_safe(url)}"


def timegate_path(url: str) -> str:
    return f"/timegate/{_safe(url)}"


def search_path(query: str = "", **params: str | int) -> str:
    pairs = {"q": query, **{k: v for k, v in params.items() if v not in (None, "")}}
    return "/search?" + urlencode(pairs)


def captures_path(page: int = 1, kind: str | None = None) -> str:
    """The capture list, or its captures of one kind (``feed``, ``redirect``...).

    >>> captures_path(), captures_path(2), captures_path(kind="robots"), captures_path(3, "failed")
    ('/captures', '/captures?page=2', '/captures?kind=robots', '/captures?kind=failed&page=3')
    """
    query = [f"kind={kind}"] if kind else []
    if page != 1:
        query.append(f"page={page}")
    return "/captures" + ("?" + "&".join(query) if query else "")


# -- added for the page families (quotes, documents, speakers, search, feeds, admin) ---------


def json_path(path: str) -> str:
    """The JSON twin of an app page: the same path with ``.json`` before any query.

    >>> json_path("/quote/q-0123456789abcdef")
    '/quote/q-0123456789abcdef.json'
    >>> json_path("/search?q=krebs")
    '/search.json?q=krebs'
    """
    path, mark, query = path.partition("?")
    return f"{path}.json{mark}{query}"


def document_diff_path(document_id: str, older: int, newer: int) -> str:
    """Two versions of a document compared, by their sequence numbers.

    >>> document_diff_path("d-74e758034f2807bd", 1, 2)
    '/document/d-74e758034f2807bd?diff=1,2'
    """
    return f"{document_path(document_id)}?diff={older},{newer}"


def search_atom_path(query: str) -> str:
    return "/search.atom?" + urlencode({"q": query})


def sources_path() -> str:
    return "/sources"


def admin_path(action: str) -> str:
    """Where the admin actions are POSTed: sources, scrape, reindex, archive."""
    return f"/admin/{action}"


def status_path(*, json: bool = False) -> str:
    """This node's status: its index against the change log.

    >>> status_path(), status_path(json=True)
    ('/status', '/status.json')
    """
    return "/status.json" if json else "/status"


def job_path(job_id: str) -> str:
    """A queued job's status (JSON, for admin callers)."""
    return f"/admin/jobs/{job_id}"


def log_path(position: int | None = None, *, json: bool = False) -> str:
    """The capture log (its head and latest entries), or the entry at ``position``.

    >>> log_path(7)
    '/log#log-7'
    >>> log_path(json=True)
    '/log.json'
    """
    path = "/log.json" if json else "/log"
    return path if position is None else f"{path}#log-{position}"


def public_root(url: str) -> str:
    """The ``public_url`` setting checked and ending in one slash ("" stays unset).

    >>> public_root("https://onrecord.example/archive")
    'https://onrecord.example/archive/'
    >>> public_root("onrecord.example")
    Traceback (most recent call last):
    ...
    archive.config.ConfigError: public_url must be an absolute http(s) URL, not 'onrecord.example'
    """
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"public_url must be an absolute http(s) URL, not {url!r}")
    return url.rstrip("/") + "/"


def replay_root(url: str, public_url: str) -> str:
    """The ``replay_origin`` setting checked: an origin (scheme, host and port, nothing
    after) other than ``public_url``'s, which it needs; "" stays unset.

    >>> replay_root("https://Replay.onrecord.example:443/", "https://onrecord.example/")
    'https://replay.onrecord.example'
    >>> replay_root("http://127.0.0.1:8081", "http://127.0.0.1:8080/")
    'http://127.0.0.1:8081'
    >>> replay_root("https://onrecord.example/replay/", "https://onrecord.example/")
    Traceback (most recent call last):
    ...
    archive.config.ConfigError: replay_origin must be an origin (http(s)://host[:port]), \
not 'https://onrecord.example/replay/'
    >>> replay_root("https://onrecord.example", "https://onrecord.example/archive/")
    Traceback (most recent call last):
    ...
    archive.config.ConfigError: replay_origin must be another origin than public_url's, \
not 'https://onrecord.example'
    """
    if not url:
        return ""
    origin = _origin(url)
    if not origin:
        raise ConfigError(f"replay_origin must be an origin (http(s)://host[:port]), not {url!r}")
    if not public_url:
        raise ConfigError(
            "replay_origin needs public_url: the replay origin links back to the app by it"
        )
    if origin == _origin(public_url, path=True):
        raise ConfigError(f"replay_origin must be another origin than public_url's, not {url!r}")
    return origin


def _origin(url: str, path: bool = False) -> str:
    """``scheme://host[:port]`` of an http(s) URL, lower case and without a default port;
    "" when it is not one (or, unless ``path``, has more than a "/" after the origin)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return ""
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
        or (parts.path not in ("", "/") and not path)
    ):
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def absolute(root: str, path: str) -> str:
    """A path of this app made absolute against the request's root URL.

    >>> absolute("http://127.0.0.1:8080/", "/quote/q-1")
    'http://127.0.0.1:8080/quote/q-1'
    """
    return root.rstrip("/") + path


def text_fragment(
    url: str,
    text: str,
    words: int = 4,
    *,
    page: str | None = None,
    span: tuple[int, int] | None = None,
) -> str:
    """A link into the live page that scrolls to ``text`` (a URL text fragment).

    Short texts are matched whole; longer ones by their first and last words. Given the
    archived ``page`` text and the quote's ``span`` in it, words and prefix/suffix context
    are added until the fragment matches the quote and nothing before it
    (:mod:`web.fragments`).

    >>> text_fragment("https://example.gov/a#top", "We are ready, and we will serve you all week.")
    'https://example.gov/a#:~:text=We%20are%20ready%2C%20and,serve%20you%20all%20week.'
    >>> text_fragment("https://example.gov/a", "Hold the line-up, please")
    'https://example.gov/a#:~:text=Hold%20the%20line%2Dup%2C%20please'
    >>> page = "Hold on. Then: hold on, please."
    >>> text_fragment("https://example.gov/a", "hold on", page=page, span=(15, 22))
    'https://example.gov/a#:~:text=Then%3A-,hold%20on,-%2C'
    """
    directive = fragments.directive_for(text, page, span, words=words)
    parts = [_fragment_part(directive.start)]
    if directive.prefix:
        parts.insert(0, _fragment_part(directive.prefix) + "-")
    if directive.end:
        parts.append(_fragment_part(directive.end))
    if directive.suffix:
        parts.append("-" + _fragment_part(directive.suffix))
    return f"{url.split('#', 1)[0]}#:~:text={','.join(parts)}"


def _fragment_part(text: str) -> str:
    # "-", "," and "&" are syntax inside a text directive; escape them with the rest.
    return _escape(text, safe="").replace("-", "%2D")


def document_version_path(document_id: str, seq: int, quote_id: str | None = None) -> str:
    """One version of a document's text, optionally scrolled to a quote marked in it.

    >>> document_version_path("d-74e758034f2807bd", 2, "q-0123456789abcdef")
    '/document/d-74e758034f2807bd?version=2#q-0123456789abcdef'
    """
    anchor = f"#{quote_id}" if quote_id else ""
    return f"{document_path(document_id)}?version={seq}{anchor}"


def search_form_path() -> str:
    """Where search forms submit (their fields make the query string)."""
    return "/search"


# -- the newsroom layer: accounts, corrections, checks, exports ---------------------------


def signin_path(next_path: str = "") -> str:
    return "/signin" + ("?" + urlencode({"next": next_path}) if next_path else "")


def signout_path() -> str:
    return "/signout"


def corrections_path(quote_id: str) -> str:
    """Where an editor POSTs a correction of a quote."""
    return f"/quote/{quote_id}/corrections"


def corrections_feed_path() -> str:
    return "/corrections.atom"


def speaker_merge_path(speaker_id: str) -> str:
    return f"/speaker/{speaker_id}/merge"


def speaker_split_path(speaker_id: str) -> str:
    return f"/speaker/{speaker_id}/split"


def speaker_identifier_path(speaker_id: str) -> str:
    return f"/speaker/{speaker_id}/identifiers"


def check_path(text: str = "", *, json: bool = False) -> str:
    """The quote checker, for some circulated text.

    >>> check_path("we will count", json=True)
    '/check.json?q=we+will+count'
    """
    path = "/check.json" if json else "/check"
    return path + ("?" + urlencode({"q": text}) if text else "")


def search_export_path(query: str, fmt: str, **params: str) -> str:
    """Every result of a search as a CSV or JSON Lines download.

    >>> search_export_path("ballots", "csv", type="quote")
    '/search.csv?q=ballots&type=quote'
    """
    kept = {k: v for k, v in params.items() if v}
    return f"/search.{fmt}?" + urlencode({"q": query, **kept})


def alerts_path() -> str:
    return "/alerts"


def alert_feed_path(subscription_id: str) -> str:
    return f"/alerts/{subscription_id}.atom"


def alert_cancel_path(subscription_id: str) -> str:
    return f"/alerts/{subscription_id}/cancel"
