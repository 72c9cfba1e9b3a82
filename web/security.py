"""Headers that keep the app's pages strict and archived copies powerless."""

from __future__ import annotations

from flask import Flask, Response, request

APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "frame-src 'self'"
)
# Archived copies run in a unique opaque origin: no scripts, no forms, no cookies of ours,
# and no request to the live web (which would tell a site who reads its archived pages).
ARCHIVED_CSP = (
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:"
)


def set_headers(response: Response) -> Response:
    archived = response.headers.get("X-Onrecord-Archived") == "1"
    response.headers["Content-Security-Policy"] = ARCHIVED_CSP if archived else APP_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if not archived:
        response.headers["X-Frame-Options"] = "DENY"
    response.headers.pop("X-Onrecord-Archived", None)
    if request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def init_app(app: Flask) -> None:
    app.after_request(set_headers)
