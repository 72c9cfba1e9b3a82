"""Atom feeds: the newest quotes matching any search, for feed readers and newsrooms."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, render_template, request

from web import links
from web.resources import catalog, root_url
from web.search import SearchRequest, run

bp = Blueprint("feeds", __name__)

FEED_SIZE = 50
ATOM = "application/atom+xml; charset=utf-8"


def rfc3339(moment: datetime) -> str:
    """A moment as Atom writes it.

    >>> rfc3339(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    '2026-11-03T09:00:00Z'
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@bp.get("/search.atom")
def search_feed() -> Response:
    query = request.args.get("q", "")
    wanted = SearchRequest(query=query, type="quote", sort="date", page=1)
    results = run(wanted, page_size=FEED_SIZE, facets=False)
    root = root_url()
    updated = max((hit.captured for hit in results.hits), default=datetime.now(UTC))
    body = render_template(
        "feed.atom.xml",
        query=query,
        hits=results.hits,
        updated=updated,
        self_url=links.absolute(root, links.search_atom_path(query)),
        page_url=links.absolute(root, links.search_path(query, type="quote", sort="date")),
        quote_url={hit.id: links.absolute(root, links.quote_path(hit.id)) for hit in results.hits},
        rfc3339=rfc3339,
        log_head=catalog().log_head(),
        log_url=links.absolute(root, links.log_path(json=True)),
    )
    return Response(body, content_type=ATOM)
