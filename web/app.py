"""The web front end's app factory: Flask, its blueprints and their resources."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from archive import config as archive_config


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. Defaults first, then the archive's settings and ``ONRECORD_*``
    variables, then ``config`` (tests pass a dict)."""
    app = Flask(__name__)
    root = Path((config or {}).get("ARCHIVE") or os.environ.get("ONRECORD_ARCHIVE", "archive"))
    settings = archive_config.load(root)
    app.config.update(
        ARCHIVE=str(root),
        ALLOW_PRIVATE=settings["allow_private"],
        ADMIN_TOKEN=settings["admin_token"],
        REPLAY_ORIGIN=settings["replay_origin"],
        PUBLIC_URL=settings["public_url"],
        BEHIND_AFTER=settings["behind_after"],
        SECRET_KEY=settings["secret_key"],
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    if config:
        app.config.update(config)
    if not app.config["SECRET_KEY"]:
        # One node: a key of its own does. Several need the same secret_key setting.
        app.config["SECRET_KEY"] = secrets.token_hex(32)

    from web import (
        accounts,
        admin,
        alerts,
        api,
        captures,
        check,
        corrections,
        documents,
        exports,
        feeds,
        home,
        links,
        log,
        memento,
        quotes,
        resources,
        search,
        security,
        sources,
        speakers,
        status,
    )

    app.config["PUBLIC_URL"] = links.public_root(app.config["PUBLIC_URL"])
    # Archived copies are served from this origin alone, when it is set (web/captures.py).
    app.config["REPLAY_ORIGIN"] = links.replay_root(
        app.config["REPLAY_ORIGIN"] or "", app.config["PUBLIC_URL"]
    )
    resources.init_app(app)
    security.init_app(app)
    accounts.init_app(app)
    api.init_app(app)
    app.register_blueprint(captures.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(quotes.bp)
    app.register_blueprint(corrections.bp)
    app.register_blueprint(check.bp)
    app.register_blueprint(alerts.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(speakers.bp)
    app.register_blueprint(sources.bp)
    app.register_blueprint(memento.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(log.bp)
    app.register_blueprint(status.bp)
    app.register_blueprint(home.bp)
    return app
