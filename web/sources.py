"""The source status page: every declared source, its last run, failures and next due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import Blueprint, abort, jsonify, render_template

from archive import config as archive_config
from archive.catalog import Failure, RunStats
from scrapers.errors import SourceError
from scrapers.sources import Source, load_sources
from web import api, links
from web.resources import catalog, paths

bp = Blueprint("sources", __name__)


@dataclass(frozen=True)
class SourceStatus:
    source: Source
    last_run: RunStats | None
    failures: list[Failure]
    next_due: datetime | None


def sources_folder() -> Path:
    """The archive's folder of source definition files."""
    root = paths().root
    try:
        settings = archive_config.load(root)
    except archive_config.ConfigError as exc:
        abort(503, description=f"the archive's settings cannot be read: {exc}")
    return root / settings["sources"]


def declared_sources() -> list[Source]:
    folder = sources_folder()
    if not folder.is_dir():
        return []
    try:
        return load_sources([folder])
    except SourceError as exc:
        abort(503, description=f"the source definitions are invalid: {exc}")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


@bp.get("/sources")
@bp.get("/sources.json")
def sources():
    db = catalog()
    statuses = [
        SourceStatus(
            s,
            db.last_run(s.name),
            db.failures(s.name, limit=5),
            s.due(db.last_finished(s.name)),  # by the schedule declared now, as the scheduler
        )
        for s in declared_sources()
    ]
    if api.wants_json():
        return jsonify({"sources": [status_json(status) for status in statuses]})
    return render_template("sources.html", statuses=statuses, links=links)


def status_json(status: SourceStatus) -> dict:
    run = status.last_run
    return {
        "name": status.source.name,
        "publisher": status.source.publisher,
        "kind": status.source.kind,
        "start_urls": list(status.source.start_urls),
        "next_due": _iso(status.next_due),
        "last_run": None
        if run is None
        else {
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "discovered": run.discovered,
            "fetched": run.fetched,
            "new_versions": run.new_versions,
            "failed": run.failed,
            "error": run.error,
        },
        "failures": [
            {"url": f.url, "at": _iso(f.at), "reason": f.reason, "status": f.status}
            for f in status.failures
        ],
    }
