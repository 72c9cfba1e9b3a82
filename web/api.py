"""Content negotiation and errors for every page family.

Every app page has a JSON twin: the same URL with ``.json`` before the query, or the
same URL asked for with ``Accept: application/json`` (the only way for a capture's page,
whose path ends with the original URL); those pages send ``Vary: Accept``. Errors answer
in the same format as the page would have: a readable HTML page or
``{"error": {"status", "message"}}``.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from archive.catalog import DISCONNECTED, connection_error
from web import links
from web.resources import paths

bp = Blueprint("api", __name__)

JSON_SUFFIX = ".json"
MAX_QUERY_STRING = 2048
RETRY_AFTER = 5  # seconds a 503 asks clients to wait before asking again

_TITLES = {
    400: "That request cannot be answered",
    401: "Authorisation needed",
    403: "Not allowed",
    404: "Not in the archive",
    405: "Method not allowed",
    414: "That address is too long",
    503: "The archive is unavailable",
}


def split_json(identifier: str) -> tuple[str, bool]:
    """An id from a URL, and whether it asked for JSON with a ``.json`` suffix.

    >>> split_json("q-0123456789abcdef.json")
    ('q-0123456789abcdef', True)
    >>> split_json("q-0123456789abcdef")
    ('q-0123456789abcdef', False)
    """
    if identifier.endswith(JSON_SUFFIX):
        return identifier[: -len(JSON_SUFFIX)], True
    return identifier, False


def wants_json(suffix: bool = False) -> bool:
    """True when the request asked for JSON (by suffix, or preferring it in Accept)."""
    if suffix or request.path.endswith(JSON_SUFFIX):
        return True
    return prefers_json()


def prefers_json() -> bool:
    """True when the request's Accept header prefers JSON to HTML (pages whose path is not
    theirs to suffix, like a capture's Wayback URL, negotiate by this alone)."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@bp.after_app_request
def vary_on_accept(response: Response) -> Response:
    """A page that answers HTML or JSON from one URL tells caches that Accept chooses.
    Static files, ``.json`` twins, archived copies (served as received) and the Memento
    TimeGate and TimeMap (one format each) do not vary by it."""
    endpoint = request.endpoint or ""
    if endpoint == "static" or endpoint.startswith("memento."):
        return response
    if request.path.endswith(JSON_SUFFIX):
        return response
    if request.endpoint == "captures.capture" and (request.view_args or {}).get(
        "stamp", ""
    ).endswith("id_"):
        return response
    varies = response.headers.get("Vary")
    response.headers["Vary"] = f"{varies}, Accept" if varies else "Accept"
    return response


@bp.app_context_processor
def inject_links() -> dict:
    """Every template builds its URLs with :mod:`web.links`."""
    return {"links": links}


@bp.before_app_request
def refuse_long_query() -> None:
    if len(request.query_string) > MAX_QUERY_STRING:
        abort(
            414,
            description=f"the query string is longer than {MAX_QUERY_STRING} bytes; shorten it",
        )


def init_app(app) -> None:
    for error in DISCONNECTED:
        app.register_error_handler(error, catalog_lost)


def catalog_lost(error: Exception) -> Response:
    """A 503 for a request whose catalog connection failed mid-way (the database server
    went away); the connection pool replaces its connections when it is back."""
    reason = connection_error(paths().catalog, error)
    current_app.logger.error("catalog unavailable: %s", reason)
    return http_error(ServiceUnavailable(description=f"{reason}; try again in a moment"))


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    status = error.code or 500
    message = error.description or error.name
    if wants_json():
        response = jsonify({"error": {"status": status, "message": message}})
    else:
        page = render_template(
            "error.html",
            status=status,
            title=_TITLES.get(status, error.name),
            message=message,
            query=request.args.get("q", "")[:MAX_QUERY_STRING],
        )
        response = Response(page, content_type="text/html; charset=utf-8")
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER)
    for name in ("WWW-Authenticate", "Allow"):
        value = error.get_response().headers.get(name)
        if value:
            response.headers[name] = value
    return response
