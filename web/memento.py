"""Memento (RFC 7089): a TimeMap and a TimeGate for every archived URL, and the Memento
headers on capture pages.

    /timemap/link/<original URL>   application/link-format list of every capture
    /timegate/<original URL>       302 to the capture closest to Accept-Datetime
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

from flask import Blueprint, Response, abort, request

from archive import ids
from archive.models import Capture
from web import links
from web.captures import closest_capture
from web.resources import catalog, root_url
from web.wayback import MAX_URL, WaybackError, original_from_path, parse_wayback

bp = Blueprint("memento", __name__)

LINK_FORMAT = "application/link-format"
# What a URI may hold as it is (RFC 3986's reserved and unreserved characters, and '%' of
# the escapes it has already).
_URI_CHARACTERS = ":/?#[]@!$&'()*+,;=-._~%"


def http_date(moment: datetime) -> str:
    """A moment as an HTTP date, the form of Memento-Datetime and Accept-Datetime.

    >>> http_date(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    'Tue, 03 Nov 2026 09:00:00 GMT'
    """
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def original_url(path: str) -> str:
    """The original URL from the rest of a Memento path (and the request's query)."""
    url = original_from_path(path, request.query_string)
    if len(url) > MAX_URL:
        abort(414, description="the original URL is too long")
    try:
        ids.canonical_url(url)
    except ids.InvalidURL as exc:
        abort(400, description=str(exc))
    return url


def accept_datetime(value: str | None) -> datetime | None:
    """The moment an ``Accept-Datetime`` header asks for (400 when it is not a date).

    >>> accept_datetime("Tue, 03 Nov 2026 09:00:00 GMT")
    datetime.datetime(2026, 11, 3, 9, 0, tzinfo=datetime.timezone.utc)
    """
    if value is None:
        return None
    try:
        moment = parsedate_to_datetime(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # OverflowError: a date that is no date in UTC ("31 Dec 9999 23:59:59 -0100").
        return moment.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        abort(
            400,
            description="Accept-Datetime must be an HTTP date, like "
            "'Tue, 03 Nov 2026 09:00:00 GMT'",
        )


def _target(url: str) -> str:
    """A URL as the target of a link in link-format (RFC 8288): what a URI may not hold
    (a '>' that would end the target, a space, a quotation mark, a non-ASCII letter)
    percent-encoded, what it holds already left as it is.

    >>> _target("https://example.gov/a?b=c>d,<https://other.example/>")
    '<https://example.gov/a?b=c%3Ed,%3Chttps://other.example/%3E>'
    """
    return "<" + quote(url, safe=_URI_CHARACTERS) + ">"


def link_header(url: str, *mementos: Capture) -> str:
    root = root_url()
    parts = [
        f'{_target(url)}; rel="original"',
        f'{_target(links.absolute(root, links.timegate_path(url)))}; rel="timegate"',
        f'{_target(links.absolute(root, links.timemap_path(url)))}; rel="timemap"; '
        f'type="{LINK_FORMAT}"',
    ]
    for memento in mementos:
        path = links.absolute(root, links.capture_path(memento.url, memento.captured_at))
        parts.append(f'{_target(path)}; rel="memento"; datetime="{http_date(memento.captured_at)}"')
    return ", ".join(parts)


@bp.get("/timemap/link/<path:url>")
def timemap(url: str) -> Response:
    original = original_url(url)
    found = catalog().captures_of_url(ids.canonical_url(original))
    if not found:
        abort(404, description=f"onrecord has no capture of {original}")
    root = root_url()
    lines = [
        f'{_target(original)}; rel="original"',
        f'{_target(links.absolute(root, links.timemap_path(original)))}; rel="self"; '
        f'type="{LINK_FORMAT}"; from="{http_date(found[0].captured_at)}"; '
        f'until="{http_date(found[-1].captured_at)}"',
        f'{_target(links.absolute(root, links.timegate_path(original)))}; rel="timegate"',
    ]
    for index, capture in enumerate(found):
        rel = ["memento"]
        if index == 0:
            rel.insert(0, "first")
        if index == len(found) - 1:
            rel.insert(0, "last")
        path = links.absolute(root, links.capture_path(capture.url, capture.captured_at))
        lines.append(
            f'{_target(path)}; rel="{" ".join(rel)}"; datetime="{http_date(capture.captured_at)}"'
        )
    return Response(",\n".join(lines) + "\n", content_type=LINK_FORMAT)


@bp.get("/timegate/<path:url>")
def timegate(url: str) -> Response:
    original = original_url(url)
    moment = accept_datetime(request.headers.get("Accept-Datetime"))
    found = closest_capture(original, moment)  # the latest, when no moment is asked for
    response = Response(status=302)
    response.headers["Location"] = links.capture_path(found.url, found.captured_at)
    response.headers["Vary"] = "accept-datetime"
    response.headers["Link"] = link_header(found.url, found)
    return response


@bp.after_app_request
def memento_headers(response: Response) -> Response:
    """Capture pages and archived copies are Mementos: say when, and of what."""
    if request.endpoint != "captures.capture":
        return response
    if response.status_code != 200 and "Memento-Datetime" not in response.headers:
        return response  # a redirect to the exact capture, or an error: not a Memento
    args = request.view_args or {}
    try:
        wayback = parse_wayback(args["stamp"], args["url"], request.query_string)
    except (KeyError, WaybackError):
        return response
    response.headers["Memento-Datetime"] = http_date(wayback.moment)
    parts = [link_header(wayback.url)]
    path = links.absolute(root_url(), links.capture_path(wayback.url, wayback.moment))
    parts.append(f'{_target(path)}; rel="memento"; datetime="{http_date(wayback.moment)}"')
    response.headers["Link"] = ", ".join(parts)
    return response
