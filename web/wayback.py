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


def parse_wayback(stamp: str, path: str, query: bytes = b"") -> WaybackURL:
    raw = stamp.endswith("id_")
    digits = stamp.removesuffix("id_")
    try:
        moment = parse_timestamp(digits)
    except ValueError as exc:
        raise WaybackError(str(exc)) from None
    url = re.sub(r"^(https?):/+", r"\1://", path)
    if query:
        url += "?" + query.decode("latin-1")
    if len(url) > MAX_URL:
        raise WaybackError("the original URL is too long")
    try:
        canonical_url(url)
    except InvalidURL as exc:
        raise WaybackError(str(exc)) from None
    return WaybackURL(moment=moment, raw=raw, url=url, digits=digits)
