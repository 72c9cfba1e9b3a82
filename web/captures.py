"""Captures: the list, a capture's page, and the archived copy itself."""

from __future__ import annotations

import base64
import functools
from urllib.parse import urljoin

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from werkzeug.exceptions import NotFound
from werkzeug.http import parse_options_header

from archive import ids
from archive.catalog.captures import CAPTURE_FILTERS
from archive.models import Capture
from archive.store import Paths, read_capture, read_capture_rendering
from archive.warc import RenderedRecord, WarcError
from web import api, links, rewrite
from web.resources import catalog, paths
from web.wayback import TimestampConverter, WaybackError, parse_wayback

bp = Blueprint("captures", __name__)
PAGE_SIZE = 50


@bp.record_once
def _register_converter(state) -> None:
    state.app.url_map.converters["ts"] = TimestampConverter
    state.app.url_map.merge_slashes = False
    state.app.url_map.strict_slashes = False


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
        "archived_copy": links.raw_capture_path(found.url, found.captured_at),
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


def closest_capture(url: str, moment, digits: str = "") -> Capture:
    """The capture of ``url`` nearest to ``moment`` (404 when there is none).

    A timestamp of 14 or more ``digits`` names the first capture whose own timestamp
    begins with them (so a 14-digit link issued before milliseconds were keeps leading to
    the first capture of its second); otherwise the nearest in time."""
    try:
        canonical = ids.canonical_url(url)
    except ids.InvalidURL:
        abort(404, description="not an archivable URL")
    found = catalog().captures_of_url(canonical)
    if not found:
        abort(404, description=f"onrecord has no capture of {url}")
    if len(digits) >= 14:
        named = [c for c in found if _full_stamp(c).startswith(digits)]
        if named:
            return named[0]  # oldest first

    def distance(candidate: Capture) -> tuple[float, str]:
        return abs((candidate.captured_at - moment).total_seconds()), candidate.id

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
    response = _for_reader(found, record.payload, record.content_type, 200)
    response.headers["X-Onrecord-Archived"] = "1"
    if response.get_data() == record.payload:  # as stored, not with its links rewritten
        response.headers["Digest"] = "sha-256=" + base64.b64encode(
            bytes.fromhex(record.payload_digest.removeprefix("sha256:"))
        ).decode("ascii")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def _for_reader(found: Capture, payload: bytes, content_type: str, status: int) -> Response:
    """An archived page of ``found`` as a response: for a reader's browser, its links
    lead into the archive as of the capture (web/rewrite.py); other clients get the bytes
    as they were stored."""
    media_type, options = parse_options_header(content_type)
    if (
        payload
        and media_type in ("text/html", "application/xhtml+xml")
        and rewrite.is_navigation(request.headers)
    ):
        payload = rewrite.rewrite_links(
            payload,
            options.get("charset"),
            found.url,
            lambda url: links.raw_capture_path(url, found.captured_at),
        )
        content_type = "text/html; charset=utf-8"
    response = Response(payload, status=status, content_type=content_type)
    response.headers["Vary"] = "Sec-Fetch-Mode, Upgrade-Insecure-Requests"
    return response


def archived_copy(found: Capture) -> Response:
    """The payload as received, in a sandbox: it can never run as the app's origin."""
    target = found
    if found.record_type == "revisit" and found.refers_to:
        target = catalog().capture(found.refers_to) or found
    try:
        record = read_capture(paths(), target)
    except WarcError as exc:
        abort(500, description=f"the archived copy cannot be read: {exc}")
    content_type = record.header("Content-Type") or "application/octet-stream"
    status = archived_status(found)
    payload = b"" if status in _BODILESS else record.payload
    response = _for_reader(found, payload, content_type, status)
    location = record.header("Location") if 300 <= status < 400 else None
    if location:  # into the archive, never out to the live web (as pywb rewrites it)
        target = urljoin(found.url, location.strip())
        response.headers["Location"] = links.raw_capture_path(target, found.captured_at)
    response.headers["X-Onrecord-Archived"] = "1"
    response.headers["Memento-Datetime"] = found.captured_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return response


def not_archived(url: str) -> Response:
    """Where a link in an archived copy leads when onrecord never captured its target:
    a page that says so and names the live URL, served as inert as an archived copy so
    that it can show inside the archived copy's frame."""
    response = Response(render_template("not_archived.html", url=url), status=404)
    response.headers["Vary"] = "Sec-Fetch-Mode, Upgrade-Insecure-Requests"
    response.headers["X-Onrecord-Archived"] = "1"
    return response
