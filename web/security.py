"""Headers that keep the app's pages strict and archived copies powerless.

An archived copy is hostile: it is served sandboxed, in an opaque origin of its own, and
never as code of an app page. With the ``replay_origin`` setting, archived copies are
served by that origin alone (web/captures.py sends them there), every response of that
origin is sandboxed, and the app's pages trust none of it (their ``'self'`` is the app's
origin). Without it, Fetch Metadata still stops an app page from running an archived
response as a script or worker, or using it as a stylesheet of its own.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, Response, current_app, request

# Archived copies run in a unique opaque origin: no scripts, no forms, no cookies of ours,
# and no request to the live web (which would tell a site who reads its archived pages).
ARCHIVED_CSP = (
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:"
)
# The header a view sets on an archived response (taken off before it leaves).
ARCHIVED = "X-Onrecord-Archived"
# Where a page puts what it runs: never an archived response (the app's script-src 'self'
# would run it). Nor is one a stylesheet of a page of its own origin; a sandboxed archived
# page, whose origin is opaque, loads its stylesheets as cross-site.
CODE_DESTINATIONS = frozenset(
    {"script", "worker", "sharedworker", "serviceworker", "audioworklet", "paintworklet", "xslt"}
)


def app_csp(replay_origin: str = "") -> str:
    """The CSP of the app's pages: their own scripts and styles only; archived copies
    framed (and screenshots shown) from the replay origin when there is one.

    >>> app_csp("https://replay.example").split("; ")[3]
    "img-src 'self' data: https://replay.example"
    >>> app_csp().split("; ")[-1]
    "frame-src 'self'"
    """
    images = f"'self' data: {replay_origin}".rstrip()
    frames = replay_origin or "'self'"
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {images}; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        f"frame-src {frames}"
    )


APP_CSP = app_csp()


def loads_as_code(headers: Mapping[str, str]) -> bool:
    """Whether Fetch Metadata says a page is loading the response as code it runs, or as a
    stylesheet of its own origin.

    >>> loads_as_code({"Sec-Fetch-Dest": "script", "Sec-Fetch-Site": "cross-site"})
    True
    >>> loads_as_code({"Sec-Fetch-Dest": "style", "Sec-Fetch-Site": "same-origin"})
    True
    >>> loads_as_code({"Sec-Fetch-Dest": "style", "Sec-Fetch-Site": "cross-site"})
    False
    >>> loads_as_code({"Sec-Fetch-Dest": "document"}), loads_as_code({})
    (False, False)
    """
    destination = (headers.get("Sec-Fetch-Dest") or "").lower()
    if destination in CODE_DESTINATIONS:
        return True
    return destination == "style" and (headers.get("Sec-Fetch-Site") or "").lower() == "same-origin"


def serves_replay() -> bool:
    """Whether this request came to the replay origin (the ``replay_origin`` setting's
    host; a proxy in front must pass the Host header on)."""
    origin = current_app.config.get("REPLAY_ORIGIN") or ""
    return bool(origin) and request.host.lower() == origin.split("://", 1)[1]


def refusal() -> Response:
    return Response(
        "An archived copy is never a script, a worker or a stylesheet of a page.\n",
        status=403,
        content_type="text/plain; charset=utf-8",
    )


def set_headers(response: Response) -> Response:
    archived = response.headers.get(ARCHIVED) == "1"
    if archived:
        if loads_as_code(request.headers):
            response = refusal()
        response.vary.update(("Sec-Fetch-Dest", "Sec-Fetch-Site"))
    sandboxed = archived or serves_replay()
    replay_origin = current_app.config.get("REPLAY_ORIGIN") or ""
    response.headers["Content-Security-Policy"] = (
        ARCHIVED_CSP if sandboxed else app_csp(replay_origin)
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if not sandboxed:
        response.headers["X-Frame-Options"] = "DENY"
    response.headers.pop(ARCHIVED, None)
    if request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def init_app(app: Flask) -> None:
    app.after_request(set_headers)
