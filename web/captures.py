"""Captures: the list, a capture's page, and the archived copy itself."""

from __future__ import annotations

import base64

from flask import Blueprint, Response, abort, current_app, render_template, request

from archive import ids
from archive.models import Capture
from archive.store import read_capture, read_capture_rendering
from archive.warc import RenderedRecord, WarcError
from web import links
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
def index():
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    found = catalog().captures(limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return render_template(
        "captures.html",
        captures=found[:PAGE_SIZE],
        page=page,
        more=len(found) > PAGE_SIZE,
        total=catalog().count_captures(),
        links=links,
    )


def closest_capture(url: str, moment) -> Capture:
    """The capture of ``url`` nearest to ``moment`` (404 when there is none)."""
    try:
        canonical = ids.canonical_url(url)
    except ids.InvalidURL:
        abort(404, description="not an archivable URL")
    found = catalog().captures_of_url(canonical)
    if not found:
        abort(404, description=f"onrecord has no capture of {url}")

    def distance(candidate: Capture) -> tuple[float, str]:
        return abs((candidate.captured_at - moment).total_seconds()), candidate.id

    return min(found, key=distance)


@bp.get("/<ts:stamp>/<path:url>")
def capture(stamp: str, url: str):
    try:
        wayback = parse_wayback(stamp, url, request.query_string)
    except WaybackError as exc:
        abort(400, description=str(exc))
    found = closest_capture(wayback.url, wayback.moment)
    exact = links.raw_capture_path if wayback.raw else links.capture_path
    if ids.ts14(found.captured_at) != stamp.removesuffix("id_"):
        return Response(status=302, headers={"Location": exact(found.url, found.captured_at)})
    if wayback.raw:
        return archived_copy(found)
    return render_template(
        "capture.html", capture=found, rendering=rendering_of(found), links=links
    )


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
    response = Response(record.payload, status=200, content_type=record.content_type)
    response.headers["X-Onrecord-Archived"] = "1"
    response.headers["Digest"] = "sha-256=" + base64.b64encode(
        bytes.fromhex(record.payload_digest.removeprefix("sha256:"))
    ).decode("ascii")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
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
    response = Response(record.payload, status=200, content_type=content_type)
    response.headers["X-Onrecord-Archived"] = "1"
    response.headers["Memento-Datetime"] = found.captured_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return response
