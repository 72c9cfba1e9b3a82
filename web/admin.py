"""Admin actions, POST only, for holders of the admin token or of an admin's API token
(``Authorization: Bearer``).

    POST /admin/sources   add a source: the body is one TOML source file, validated first
    POST /admin/scrape    scrape now: ``source`` names one source (all when absent)
    POST /admin/reindex   rebuild the search index from the catalog
    POST /admin/archive   archive this URL: ``url``; private and loopback addresses are
                          refused unless ALLOW_PRIVATE is set

No token configured means admin is disabled (403). Answers are JSON.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Blueprint, abort, current_app, jsonify, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import HTTPException, Unauthorized

from archive import config as archive_config
from archive import ids
from archive.catalog import CatalogError
from archive.catalog.leases import HostLeases
from archive.store import ArchiveError, Store
from scrapers.errors import FetchError, PrivateAddress, SourceError
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Outcome, Pipeline
from scrapers.sources import Source, load_sources
from web import accounts, indexing, links
from web.resources import catalog, paths
from web.sources import declared_sources, sources_folder

if TYPE_CHECKING:
    from scrapers.browser import BrowserSession

bp = Blueprint("admin", __name__, url_prefix="/admin")

MAX_SOURCE_FILE = 64 * 1024


@bp.before_request
def require_token() -> None:
    """The admin token, or the API token of a user with the admin role."""
    token = current_app.config.get("ADMIN_TOKEN") or ""
    if not accounts.bearer():
        if not token:
            abort(403, description="admin actions are disabled: no admin token is configured")
        raise Unauthorized(
            description="admin actions need the admin token: Authorization: Bearer <token>",
            www_authenticate=WWWAuthenticate("bearer", {"realm": "onrecord admin"}),
        )
    accounts.require("admin")


@bp.errorhandler(HTTPException)
def json_error(error: HTTPException):
    """Admin callers are programs: every answer, errors too, is JSON."""
    response = jsonify({"error": {"status": error.code, "message": error.description}})
    response.status_code = error.code or 500
    authenticate = error.get_response().headers.get("WWW-Authenticate")
    if authenticate:
        response.headers["WWW-Authenticate"] = authenticate
    return response


def field(name: str) -> str:
    """A parameter from a form or a JSON body."""
    if request.is_json:
        body = request.get_json(silent=True)
        value = body.get(name) if isinstance(body, dict) else None
    else:
        value = request.form.get(name)
    return value.strip() if isinstance(value, str) else ""


def open_store() -> Store:
    try:
        return Store.open(paths().root)
    except (ArchiveError, archive_config.ConfigError) as exc:
        abort(503, description=str(exc))


def host_leases(store: Store) -> HostLeases:
    """The turns at hosts this web process shares with the scheduler, the commands and
    the workers fetching into the same catalog."""
    try:
        return HostLeases(store.paths.catalog)
    except CatalogError as exc:
        abort(503, description=str(exc))


def session(lease: HostLeases | None = None) -> PoliteSession:
    settings = archive_config.load(paths().root)
    allow_private = bool(current_app.config["ALLOW_PRIVATE"])
    config = HttpConfig.from_settings(settings, allow_private=allow_private)
    return PoliteSession(config, lease=lease)


def browser_session(polite: PoliteSession) -> BrowserSession:
    """A browser for sources with render = "browser" (503 when there is none)."""
    # Imported here: Playwright and warcprox are slow to import and only these need them.
    from scrapers.browser import BrowserSession, config_from_settings

    try:
        return BrowserSession(polite, config_from_settings(archive_config.load(paths().root)))
    except FileNotFoundError as exc:
        abort(503, description=f"cannot start the browser: {exc}")


def outcome_json(outcome: Outcome) -> dict:
    return {
        "captures": [
            {
                "id": c.id,
                "url": c.url,
                "status": c.status,
                "page": links.capture_path(c.url, c.captured_at),
            }
            for c in outcome.captures
        ],
        "documents": [links.document_path(d) for d in sorted(outcome.changed_documents)],
        "new_versions": outcome.new_versions,
        "events": [{"type": e.type, "url": e.url} for e in outcome.events],
        "failures": [{"url": f.url, "reason": f.reason} for f in outcome.failures],
    }


# -- add a source -------------------------------------------------------------------------


@bp.post("/sources")
def add_source():
    text = field("toml") if request.form or request.is_json else request.get_data(as_text=True)
    if not text.strip():
        abort(400, description="send the source definition as TOML (the body, or a toml field)")
    if len(text.encode("utf-8")) > MAX_SOURCE_FILE:
        abort(413, description=f"a source file may be at most {MAX_SOURCE_FILE} bytes")
    folder = sources_folder()
    folder.mkdir(parents=True, exist_ok=True)
    incoming = folder / f".incoming-{secrets.token_hex(6)}.toml.part"
    incoming.write_text(text, encoding="utf-8")
    try:
        added = parse_sources(incoming)
        target = folder / f"{added[0].name}.toml"
        if target.exists():
            abort(409, description=f"{target.name} already exists; choose another name")
        parse_sources(folder, incoming)
        os.replace(incoming, target)
    finally:
        incoming.unlink(missing_ok=True)
    return jsonify({"added": [s.name for s in added], "file": target.name}), 201


def parse_sources(*files: Path) -> list[Source]:
    """The sources the files declare; a 400 naming the problem when any is invalid."""
    incoming = files[-1]
    try:
        return load_sources(files)
    except SourceError as exc:
        message = str(exc).replace(str(incoming), "the new source file")
        abort(400, description=f"invalid source definition: {message}")


# -- scrape now, reindex ------------------------------------------------------------------


@bp.post("/scrape")
def scrape_now():
    every = declared_sources()
    name = field("source")
    chosen = [s for s in every if not name or s.name == name]
    if name and not chosen:
        abort(404, description=f"no source named {name!r}")
    total = Outcome()
    with (
        open_store() as store,
        host_leases(store) as lease,
        session(lease) as polite,
        contextlib.ExitStack() as stack,
    ):
        browser = None
        if any(source.render == "browser" for source in chosen):
            browser = stack.enter_context(browser_session(polite))
        pipeline = Pipeline(store, polite, browser=browser)
        for source in chosen:
            outcome = pipeline.scrape(source)
            indexing.catch_up(store.paths, store.catalog)
            total.merge(outcome)
    return jsonify({"sources": [s.name for s in chosen], **outcome_json(total)})


@bp.post("/reindex")
def reindex():
    count = indexing.rebuild(paths(), catalog())
    return jsonify({"indexed": count})


# -- archive this URL ---------------------------------------------------------------------


def refuse_private(polite: PoliteSession, url: str) -> None:
    """403 unless every address the URL's host resolves to is public (the fetcher's own
    rule, before anything is stored); 400 for a host that does not resolve."""
    try:
        polite.refuse_private(url)
    except PrivateAddress as exc:
        abort(403, description=f"{exc.reason}; onrecord only archives public pages")
    except FetchError as exc:
        abort(400, description=exc.reason)


@bp.post("/archive")
def archive_url():
    url = field("url")
    try:
        ids.canonical_url(url)
    except ids.InvalidURL as exc:
        abort(400, description=str(exc))
    with open_store() as store, host_leases(store) as lease, session(lease) as polite:
        refuse_private(polite, url)
        outcome = Pipeline(store, polite).capture(url)
        indexing.catch_up(store.paths, store.catalog)
    status = 502 if outcome.failures and not outcome.captures else 201
    return jsonify(outcome_json(outcome)), status
