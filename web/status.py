"""This node's status: where its search index stands against the catalog's change log.

    GET /status         the page
    GET /status.json    its JSON twin: ``node`` (host and process), ``index`` (folder,
                        position, head of the log, lag in changes and seconds, whether it
                        is behind or being built, when it last applied changes, and the
                        last error while applying, with how many attempts in a row), and
                        the live index's engine, generation and shards (a damaged shard
                        with the reason it cannot be read)

Behind a load balancer each node answers for itself: ask each one directly.
"""

from __future__ import annotations

import os
import socket

from flask import Blueprint, jsonify, render_template

from web import api, links
from web.resources import catalog, index_status

bp = Blueprint("status", __name__)


@bp.get("/status")
@bp.get("/status.json")
def status():
    found = {
        "node": {"host": socket.gethostname(), "pid": os.getpid()},
        "index": index_status(catalog()),
    }
    if api.wants_json():
        return jsonify(found)
    return render_template("status.html", status=found, links=links)
