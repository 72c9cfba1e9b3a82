"""Admin actions, POST only, for holders of the admin token or of an admin's API token
(``Authorization: Bearer``).

    POST /admin/sources   add a source: the body is one TOML source file, validated first
    POST /admin/scrape    scrape now: ``source`` names one source (all when absent)
    POST /admin/reindex   rebuild the search index from the catalog
    POST /admin/archive   archive this URL: ``url``; private and loopback addresses are
                          refused unless ALLOW_PRIVATE is set
    GET  /admin/jobs/ID   how a queued job is going: queued, running, done or failed

With a broker configured, scrape now and archive this URL queue jobs for the workers and
answer at once, 202 with each job's status link (also in ``Location`` for one job);
without one they run in the request and answer with what they did.

No token configured means admin is disabled (403). Answers are JSON.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import HTTPException, Unauthorized

from archive import config as archive_config
from archive import ids
from archive.catalog import Job
from archive.store import ArchiveError, Store
from scrapers.errors import FetchError, PrivateAddress, SourceError
from scrapers.http import PoliteSession
from scrapers.pipeline import Outcome
from scrapers.sources import Source, load_sources
from web import accounts, jobs, links
from web.resources import catalog, keeper, paths
from web.sources import declared_sources, sources_folder
from web.taskqueue import TaskQueue
from web.work import Work

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


def settings() -> dict:
    """The archive's settings, with the app's private-address choice."""
    try:
        found = archive_config.load(paths().root)
    except archive_config.ConfigError as exc:
        abort(503, description=str(exc))
    return found | {"allow_private": bool(current_app.config["ALLOW_PRIVATE"])}


def open_work() -> Work:
    """The capture work of a request, indexing through this node's keeper of its index
    (the admin sees what it captured in search on its next page)."""
    try:
        return Work(Store.open(paths().root), settings(), keeper=keeper())
    except ArchiveError as exc:
        abort(503, description=str(exc))


def task_queue() -> TaskQueue | None:
    """The broker's queue when one is configured (503 when it cannot be reached)."""
    try:
        return jobs.connect(settings())
    except jobs.BrokerError as exc:
        abort(503, description=str(exc))


def queued(queue: TaskQueue, kind: str, **fields) -> Job:
    try:
        return jobs.submit(catalog(), queue, jobs.new_job(kind, **fields))
    except jobs.BrokerError as exc:
        abort(503, description=str(exc))


def accepted(made: list[Job]):
    """202: the jobs are queued; each one's status link to follow it."""
    response = jsonify({"jobs": [job_json(job) for job in made]})
    response.status_code = 202
    if len(made) == 1:
        response.headers["Location"] = links.job_path(made[0].id)
    return response


def job_json(job: Job) -> dict:
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "source": job.source,
        "url": job.url,
        "attempts": job.attempts,
        "error": job.error,
        "result": job.result,
        "queued_at": job.queued_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "status": links.job_path(job.id),
    }


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
    queue = task_queue()
    if queue is not None:
        with queue:
            return accepted([queued(queue, "run", source=s.name) for s in chosen])
    total = Outcome()
    with open_work() as work, work.store:
        for source in chosen:
            try:
                total.merge(work.scrape(source))
            except FileNotFoundError as exc:
                abort(503, description=f"cannot start the browser: {exc}")
    return jsonify({"sources": [s.name for s in chosen], **outcome_json(total)})


@bp.get("/jobs/<job_id>")
def job_status(job_id: str):
    job = catalog().job(job_id)
    if job is None:
        abort(404, description=f"no job {job_id}")
    return jsonify(job_json(job))


@bp.post("/reindex")
def reindex():
    count = keeper().rebuild(catalog())
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
    with open_work() as work, work.store:
        refuse_private(work.session(), url)
        queue = task_queue()
        if queue is not None:
            with queue:
                return accepted([queued(queue, "capture", url=url)])
        outcome = work.capture(url)
    status = 502 if outcome.failures else 201  # what a failed fetch received is kept
    return jsonify(outcome_json(outcome)), status
