"""Wayback-form capture URLs: ``/<timestamp>[id_]/<original URL>``.

The timestamp has 4 to 14 digits (missing digits take their lowest value), or 15 to 17
(fractions of a second: the form onrecord issues for a capture with milliseconds, see
:func:`archive.ids.memento_ts`); ``id_`` asks for the archived copy itself rather than the
capture's page.

>>> parse_wayback("20261103140509id_", "https:/example.gov/a", b"x=1")
WaybackURL(moment=datetime.datetime(2026, 11, 3, 14, 5, 9, tzinfo=datetime.timezone.utc), \
raw=True, url='https://example.gov/a?x=1', digits='20261103140509')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from werkzeug.routing import BaseConverter

from archive.ids import InvalidURL, canonical_url, parse_timestamp

MAX_URL = 4096


class WaybackError(ValueError):
    """A capture URL that does not follow the Wayback form."""


@dataclass(frozen=True)
class WaybackURL:
    moment: datetime
    raw: bool
    url: str
    digits: str = ""  # the timestamp as asked for


class TimestampConverter(BaseConverter):
    regex = r"\d{4,17}(?:id_)?"


def original_from_path(path: str, query: bytes = b"") -> str:
    """The original URL a request names at the end of its path (as the WSGI server decoded
    it) and in its query string.

    A "?" or "#" in a decoded path can only have been sent as "%3F" or "%23": the query
    string begins at the first "?", and a fragment, which clients do not send, is split
    off by waitress and by Werkzeug (its server and its test client) alike. So they are
    escaped again, and what a Memento client sends for ``http://example.gov/a%3Fb``
    names that URL, not ``http://example.gov/a?b``. The app's own links escape the "%"
    of such a path as well (:func:`web.links.capture_path`) and lead to the same URL.
    (Reading the undecoded ``REQUEST_URI`` instead would give the same answer, with
    less certainty: not every WSGI server sets it, and it holds ``SCRIPT_NAME``.)

    >>> original_from_path("https:/example.gov/a?b#c", b"x=1")
    'https://example.gov/a%3Fb%23c?x=1'
    >>> original_from_path("https://example.gov/a%3Fb")
    'https://example.gov/a%3Fb'
    """
    url = re.sub(r"^(https?):/+", r"\1://", path).replace("?", "%3F").replace("#", "%23")
    if query:
        url += "?" + query.decode("latin-1")
    return url


def parse_wayback(stamp: str, path: str, query: bytes = b"") -> WaybackURL:
    raw = stamp.endswith("id_")
    digits = stamp.removesuffix("id_")
    try:
        moment = parse_timestamp(digits)
    except ValueError as exc:
        raise WaybackError(str(exc)) from None
    url = original_from_path(path, query)
    if len(url) > MAX_URL:
        raise WaybackError("the original URL is too long")
    try:
        canonical_url(url)
    except InvalidURL as exc:
        raise WaybackError(str(exc)) from None
    return WaybackURL(moment=moment, raw=raw, url=url, digits=digits)
