"""Captures: the list, a capture's page, and the archived copy itself."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from werkzeug.exceptions import NotFound
from werkzeug.http import parse_options_header

from archive import ids
from archive.models import Capture
from archive.store import read_capture
from archive.warc import WarcError
from web import links, rewrite
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
    try:
        found = closest_capture(wayback.url, wayback.moment)
    except NotFound:
        if wayback.raw and rewrite.is_navigation(request.headers):
            return not_archived(wayback.url)
        raise
    exact = links.raw_capture_path if wayback.raw else links.capture_path
    if ids.ts14(found.captured_at) != stamp.removesuffix("id_"):
        return Response(status=302, headers={"Location": exact(found.url, found.captured_at)})
    if wayback.raw:
        return archived_copy(found)
    return render_template("capture.html", capture=found, links=links)


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
    payload = record.payload
    media_type, options = parse_options_header(content_type)
    if media_type in ("text/html", "application/xhtml+xml") and rewrite.is_navigation(
        request.headers
    ):
        # A reader's browser: links lead into the archive (web/rewrite.py); other
        # clients get the bytes as received.
        payload = rewrite.rewrite_links(
            payload,
            options.get("charset"),
            found.url,
            lambda url: links.raw_capture_path(url, found.captured_at),
        )
        content_type = "text/html; charset=utf-8"
    response = Response(payload, status=200, content_type=content_type)
    response.headers["Vary"] = "Sec-Fetch-Mode, Upgrade-Insecure-Requests"
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
