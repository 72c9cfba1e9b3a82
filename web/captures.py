"""Captures: the list, a capture's page, and the archived copy itself.

An archived copy is hostile. It is served sandboxed (web/security.py), on the replay
origin when the ``replay_origin`` setting names one (the app's host sends a reader there,
and that host serves nothing else), and a browser that loads it as a document sees what
it received only in a form that cannot act: HTML with its links rewritten into the
archive (web/rewrite.py); text, pictures, sound, film and PDF as they are; and every
other type, which a browser might render as a document of its own (SVG and any XML,
``multipart/x-mixed-replace``, whatever comes next), as ``text/plain``, its source shown.
What type that is, is told as a browser tells it (:func:`mime_type`). Other clients
(pywb, Memento tools, ``curl``, and a page's own images and stylesheets) get the bytes
and Content-Type as received.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import urljoin

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from werkzeug.exceptions import NotFound

from archive import ids
from archive.catalog.captures import CAPTURE_FILTERS
from archive.models import Capture
from archive.store import Paths, read_capture, read_capture_rendering
from archive.warc import RenderedRecord, WarcError
from web import api, links, rewrite, security
from web.resources import catalog, paths
from web.wayback import TimestampConverter, WaybackError, parse_wayback

bp = Blueprint("captures", __name__)
PAGE_SIZE = 50


@bp.record_once
def _register_converter(state) -> None:
    state.app.url_map.converters["ts"] = TimestampConverter
    state.app.url_map.merge_slashes = False
    state.app.url_map.strict_slashes = False


def replay_origin() -> str:
    """Where archived copies are served: the ``replay_origin`` setting, or "" (this
    origin). Links to them are ``replayed(path)``."""
    return current_app.config.get("REPLAY_ORIGIN") or ""


def replayed(path: str) -> str:
    """A path to an archived copy, a rendered DOM or a screenshot, where it is served: on
    the replay origin when there is one (the app's host would only redirect there)."""
    return links.absolute(replay_origin(), path)


@bp.app_context_processor
def inject_replayed() -> dict:
    return {"replayed": replayed}


def asks_for_archived() -> bool:
    """Whether the request is for an archived copy, or a browser capture's rendered DOM
    or screenshot: what the replay origin serves, and nothing else."""
    if request.endpoint in ("captures.rendered", "captures.screenshot"):
        return True
    stamp = (request.view_args or {}).get("stamp", "")
    return request.endpoint == "captures.capture" and stamp.endswith("id_")


@bp.before_app_request
def keep_replay_apart() -> Response | None:
    """With a replay origin, the app's host sends requests for archived copies there, and
    the replay host answers nothing but them (and static files: its not-archived page's
    stylesheet): every app page there is a 404."""
    origin = replay_origin()
    if not origin:
        return None
    archived = asks_for_archived()
    if security.serves_replay():
        if archived or request.endpoint == "static":
            return None
        abort(404, description="this origin serves archived copies only")
    if not archived:
        return None
    location = links.absolute(origin, links.encoded_path(request.path))
    if request.query_string:
        location += "?" + request.query_string.decode("latin-1")
    return Response(status=302, headers={"Location": location})


@bp.get("/captures")
@bp.get("/captures.json")
def index():
    """Every capture, newest first: pages, and everything else the scrapers received
    (robots.txt, feeds, sitemaps, listing pages, redirects, failures), which
    ``?kind=`` picks out."""
    kind = request.args.get("kind") or None
    if kind is not None and kind not in CAPTURE_FILTERS:
        abort(400, description=f"kind must be one of: {', '.join(CAPTURE_FILTERS)}")
    total = catalog().count_captures(kind)
    page = list_page(total)
    found = catalog().captures(limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE, kind=kind)
    more = len(found) > PAGE_SIZE
    if api.wants_json():
        return jsonify(
            {
                "total": total,
                "kind": kind,
                "page": page,
                "page_size": PAGE_SIZE,
                "previous": (
                    links.json_path(links.captures_path(page - 1, kind)) if page > 1 else None
                ),
                "next": links.json_path(links.captures_path(page + 1, kind)) if more else None,
                "captures": [capture_json(c) for c in found[:PAGE_SIZE]],
            }
        )
    return render_template(
        "captures.html",
        captures=found[:PAGE_SIZE],
        page=page,
        more=more,
        total=total,
        kind=kind,
        kinds=CAPTURE_FILTERS,
        links=links,
    )


def capture_json(found: Capture) -> dict:
    """A capture as its JSON twin and the capture list's JSON give it."""
    return {
        "id": found.id,
        "url": found.url,
        "canonical_url": found.canonical_url,
        "captured_at": found.captured_at.isoformat().replace("+00:00", "Z"),
        "status": found.status,
        "content_type": found.content_type or None,
        "record_type": found.record_type,
        "kind": found.kind,
        "run_id": found.run_id,
        "refers_to": found.refers_to,
        "payload_digest": found.payload_digest,
        "payload_length": found.payload_length,
        "warc": {
            "file": found.warc_file,
            "offset": found.warc_offset,
            "length": found.warc_length,
            "record_id": found.warc_record_id,
        },
        "source": found.source,
        "page": links.capture_path(found.url, found.captured_at),
        "archived_copy": replayed(links.raw_capture_path(found.url, found.captured_at)),
        "timemap": links.timemap_path(found.url),
    }


def list_page(total: int) -> int:
    """The page of the capture list asked for: 400 when it is not a page number, 404 past
    the last page (never a database error, however many digits it has)."""
    text = request.args.get("page", "1")
    if not ids.is_number(text) or int(text) < 1:
        abort(400, description="page must be a whole number from 1")
    last = max((total - 1) // PAGE_SIZE + 1, 1)
    if len(text) > 12 or int(text) > last:
        abort(404, description=f"there is no page {text[:20]} of captures: the last is {last}")
    return int(text)


def closest_capture(url: str, moment: datetime | None, digits: str = "") -> Capture:
    """The capture of ``url`` nearest to ``moment``, the latest when ``moment`` is None
    (404 when there is none).

    Nearest at the second: every datetime the archive states (a TimeMap's ``datetime=``,
    Memento-Datetime) and every HTTP date a client asks with is whole seconds, so a
    capture is as near as the second it was made in, and of two as near, the earlier wins:
    the first capture of the second asked for. A 14-digit timestamp so names the first
    capture of its second, as it did before links had milliseconds; 15 to 17 ``digits``
    name the first capture whose own timestamp begins with them."""
    try:
        canonical = ids.canonical_url(url)
    except ids.InvalidURL:
        abort(404, description="not an archivable URL")
    found = catalog().captures_of_url(canonical)  # oldest first
    if not found:
        abort(404, description=f"onrecord has no capture of {url}")
    if moment is None:
        return found[-1]
    if len(digits) > 14:
        named = [c for c in found if _full_stamp(c).startswith(digits)]
        if named:
            return named[0]
    asked = moment.replace(microsecond=0)

    def distance(candidate: Capture) -> tuple[float, datetime, str]:
        second = candidate.captured_at.replace(microsecond=0)
        return abs((second - asked).total_seconds()), candidate.captured_at, candidate.id

    return min(found, key=distance)


def _full_stamp(capture: Capture) -> str:
    return ids.ts14(capture.captured_at) + f"{capture.captured_at.microsecond:06d}"


@bp.get("/<ts:stamp>/<path:url>")
def capture(stamp: str, url: str):
    try:
        wayback = parse_wayback(stamp, url, request.query_string)
    except WaybackError as exc:
        abort(400, description=str(exc))
    try:
        found = closest_capture(wayback.url, wayback.moment, wayback.digits)
    except NotFound:
        if wayback.raw and rewrite.is_navigation(request.headers):
            return not_archived(wayback.url)
        raise
    exact = links.raw_capture_path if wayback.raw else links.capture_path
    if ids.memento_ts(found.captured_at) != wayback.digits:
        return Response(status=302, headers={"Location": exact(found.url, found.captured_at)})
    if wayback.raw:
        return archived_copy(found)
    original = catalog().capture(found.refers_to) if found.refers_to else None
    if api.prefers_json():  # no .json suffix: the path ends with the original URL
        return jsonify({**capture_json(found), "log_position": catalog().log_position(found.id)})
    return render_template(
        "capture.html",
        capture=found,
        original=original,
        rendering=rendering_of(found),
        links=links,
    )


_BODILESS = {204, 205, 304}


def archived_status(found: Capture) -> int:
    """The status the archived server answered with, replayed as pywb replays it (200 for
    a record that has none)."""
    return found.status if 200 <= found.status <= 599 else 200


def screenshot_digest(found: Capture) -> str | None:
    """The payload digest of the screenshot a browser capture stored with ``found``, or
    None: what a quote page shows of it, on every view."""
    return _screenshot_digest(paths(), found)


@functools.lru_cache(maxsize=4096)
def _screenshot_digest(archive: Paths, found: Capture) -> str | None:
    # Records never change once written, so the answer (a WARC read) is kept.
    screenshot = rendering_of(found).get("resource")
    return screenshot.payload_digest if screenshot else None


def rendering_of(found: Capture) -> dict[str, RenderedRecord]:
    """A browser capture's rendered DOM ("conversion") and screenshot ("resource")."""
    try:
        return read_capture_rendering(paths(), found)
    except WarcError as exc:
        current_app.logger.error("rendering of capture %s unreadable: %s", found.id, exc)
        return {}


@bp.get("/capture/<capture_id>/screenshot.png")
def screenshot(capture_id: str) -> Response:
    return _rendered(capture_id, "resource")


@bp.get("/capture/<capture_id>/rendered")
def rendered(capture_id: str) -> Response:
    return _rendered(capture_id, "conversion")


def _rendered(capture_id: str, record_type: str) -> Response:
    """A record a browser capture stored with its page, served like an archived copy."""
    found = catalog().capture(capture_id)
    if found is None:
        abort(404, description=f"onrecord has no capture {capture_id}")
    record = rendering_of(found).get(record_type)
    if record is None:
        abort(404, description=f"capture {capture_id} was not made in a browser")
    response = _for_reader(found, record.payload, [record.content_type], 200)
    response.headers[security.ARCHIVED] = "1"
    if response.get_data() == record.payload:  # as stored, not with its links rewritten
        response.headers["Digest"] = "sha-256=" + base64.b64encode(
            bytes.fromhex(record.payload_digest.removeprefix("sha256:"))
        ).decode("ascii")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


# What a browser shows as a document with nothing in it that acts, besides HTML (which is
# rewritten): text, a picture (not SVG), sound, film, a PDF.
_INERT_TYPES = ("text/plain", "application/pdf")
_INERT_KINDS = ("image", "audio", "video")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# Requests whose response a browser renders as a document: navigations, and <object> and
# <embed>, which load one without navigating.
_DOCUMENT_DESTINATIONS = ("object", "embed")
VARY = "Sec-Fetch-Mode, Sec-Fetch-Dest, Upgrade-Insecure-Requests"


def _for_reader(
    found: Capture, payload: bytes, content_types: Sequence[str], status: int
) -> Response:
    """An archived response of ``found`` (``content_types``: every Content-Type header
    it came with): for a browser loading it as a document, in a form that cannot act
    (HTML's links lead into the archive as of the capture); for anything else, as
    received."""
    content_type = content_types[0] if content_types else "application/octet-stream"
    as_document = _as_document(request.headers)
    if payload and as_document:
        essence, charset = mime_type(", ".join(content_types))
        if essence in _HTML_TYPES:
            payload = rewrite.rewrite_links(
                payload, charset, found.url, functools.partial(_in_archive, found)
            )
            content_type = "text/html; charset=utf-8"
        else:
            inert = essence in _INERT_TYPES or (
                essence.split("/")[0] in _INERT_KINDS and not re.search("xml|svg", essence)
            )
            content_type = essence if inert else "text/plain"
            if content_type == "text/plain" and charset and _TOKEN.fullmatch(charset):
                content_type += f"; charset={charset}"
    response = Response(payload, status=status, content_type=content_type)
    if not content_types and not as_document:
        # Received without a Content-Type (a redirect, a 404): sent on without one, as
        # received, rather than with a type made up here.
        del response.headers["Content-Type"]
    response.headers["Vary"] = VARY
    return response


def _in_archive(found: Capture, url: str) -> str:
    """Where a link of ``found``'s archived copy leads: ``url`` archived as of then."""
    return links.raw_capture_path(url, found.captured_at)


def _as_document(headers: Mapping[str, str]) -> bool:
    return (
        rewrite.is_navigation(headers)
        or (headers.get("Sec-Fetch-Dest") or "").lower() in _DOCUMENT_DESTINATIONS
    )


def archived_copy(found: Capture) -> Response:
    """The payload as received, in a sandbox: it can never run as the app's origin."""
    target = found
    if found.record_type == "revisit" and found.refers_to:
        target = catalog().capture(found.refers_to) or found
    try:
        record = read_capture(paths(), target)
    except WarcError as exc:
        abort(500, description=f"the archived copy cannot be read: {exc}")
    # A browser reads every Content-Type header, as one list: so does _for_reader.
    content_types = [v for k, v in record.location.headers if k.lower() == "content-type"]
    status = archived_status(found)
    payload = b"" if status in _BODILESS else record.payload
    response = _for_reader(found, payload, content_types, status)
    location = record.header("Location") if 300 <= status < 400 else None
    if location:  # into the archive, never out to the live web (as pywb rewrites it)
        target = urljoin(found.url, location.strip())
        response.headers["Location"] = links.raw_capture_path(target, found.captured_at)
    response.headers[security.ARCHIVED] = "1"
    response.headers["Memento-Datetime"] = found.captured_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return response


def not_archived(url: str) -> Response:
    """Where a link in an archived copy leads when onrecord never captured its target:
    a page that says so and names the live URL, served as inert as an archived copy so
    that it can show inside the archived copy's frame."""
    response = Response(render_template("not_archived.html", url=url), status=404)
    response.headers["Vary"] = VARY
    response.headers[security.ARCHIVED] = "1"
    return response


# -- the MIME type of a response, as the Fetch standard has a browser extract it ---------------

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_WHITESPACE = " \t\r\n"  # HTTP whitespace


def mime_type(content_type: str) -> tuple[str, str | None]:
    """The MIME type a browser takes from a response's Content-Type headers (joined by
    ", "): its essence, in lower case ("" when there is none), and its charset. Each of
    the comma-separated values is parsed; the last valid one that is not ``*/*`` wins.

    >>> mime_type("TEXT/HTML; Charset=UTF-8")
    ('text/html', 'UTF-8')
    >>> mime_type("text/plain, text/html")
    ('text/html', None)
    >>> mime_type('text/html; charset="a,b", text/html, */*, nonsense')
    ('text/html', 'a,b')
    >>> mime_type("text/plain; charset=latin1, image/svg+xml")
    ('image/svg+xml', None)
    >>> mime_type(""), mime_type("text/")
    (('', None), ('', None))
    """
    essence, charset, found = "", None, ("", None)
    for value in _split_values(content_type):
        parsed = _parse_mime_type(value)
        if parsed is None or parsed[0] == "*/*":
            continue
        if parsed[0] != essence:
            essence, charset = found = parsed
        else:  # the same type again: its charset, or the one it first came with
            found = (essence, charset if parsed[1] is None else parsed[1])
    return found


def _split_values(text: str) -> list[str]:
    """A header's value split at the commas outside double quotes (Fetch: "getting,
    decoding, and splitting a header value")."""
    values, value, position = [], "", 0
    while True:
        start = position
        while position < len(text) and text[position] not in '",':
            position += 1
        value += text[start:position]
        if position < len(text) and text[position] == '"':
            start = position
            _, position = _quoted_string(text, position)
            value += text[start:position]
            if position < len(text):
                continue
        values.append(value.strip(" \t"))
        value = ""
        if position >= len(text):
            return values
        position += 1  # past the comma


def _quoted_string(text: str, position: int) -> tuple[str, int]:
    """The value of the HTTP quoted string that starts at ``position`` (a double quote),
    and the position after it (the end of ``text`` when it is not closed)."""
    value = ""
    position += 1
    while position < len(text):
        character = text[position]
        position += 1
        if character == '"':
            break
        if character == "\\" and position < len(text):
            character = text[position]
            position += 1
        value += character
    return value, position


def _parse_mime_type(value: str) -> tuple[str, str | None] | None:
    """(essence, charset) of one MIME type, or None when it is not one (the MIME
    Sniffing standard's "parse a MIME type", keeping only the charset parameter)."""
    text = value.strip(_WHITESPACE)
    kind, slash, rest = text.partition("/")
    position = len(kind) + 1 + (rest.find(";") if ";" in rest else len(rest))
    subtype = text[len(kind) + 1 : position].rstrip(_WHITESPACE)
    if not (slash and _TOKEN.fullmatch(kind) and _TOKEN.fullmatch(subtype)):
        return None
    charset = None
    while position < len(text):
        position += 1  # past the ";"
        while position < len(text) and text[position] in _WHITESPACE:
            position += 1
        start = position
        while position < len(text) and text[position] not in ";=":
            position += 1
        name = text[start:position].lower()
        if position < len(text):
            if text[position] == ";":
                continue
            position += 1  # past the "="
        if position >= len(text):
            break
        if text[position] == '"':
            parameter, position = _quoted_string(text, position)
            while position < len(text) and text[position] != ";":
                position += 1
        else:
            start = position
            while position < len(text) and text[position] != ";":
                position += 1
            parameter = text[start:position].rstrip(_WHITESPACE)
            if not parameter:
                continue
        if name == "charset" and charset is None and _quoted_string_characters(parameter):
            charset = parameter
    return f"{kind}/{subtype}".lower(), charset


def _quoted_string_characters(text: str) -> bool:
    return all(c == "\t" or " " <= c <= "~" or "\x80" <= c <= "\xff" for c in text)
