"""Atom feeds: the newest quotes matching any search, for feed readers and newsrooms."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Blueprint, Response, render_template, request

from web import links
from web.resources import catalog, root_url
from web.search import SearchRequest, run

bp = Blueprint("feeds", __name__)

FEED_SIZE = 50
ATOM = "application/atom+xml; charset=utf-8"


# What XML 1.0 does not allow in a document at all, escaped or not: archived text may hold
# it (a stray bell or form feed), and one such character makes a feed reader refuse the
# whole feed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def atom(template: str, **context) -> Response:
    r"""An Atom feed rendered from ``template``, every character XML forbids replaced.

    >>> _NOT_XML.sub("?", "ring \x07 the bell\tand go")
    'ring ? the bell\tand go'
    """
    body = _NOT_XML.sub("\ufffd", render_template(template, rfc3339=rfc3339, **context))
    return Response(body, content_type=ATOM)


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
    return atom(
        "feed.atom.xml",
        query=query,
        hits=results.hits,
        updated=updated,
        self_url=links.absolute(root, links.search_atom_path(query)),
        page_url=links.absolute(root, links.search_path(query, type="quote", sort="date")),
        quote_url={hit.id: links.absolute(root, links.quote_path(hit.id)) for hit in results.hits},
        log_head=catalog().log_head(),
        log_url=links.absolute(root, links.log_path(json=True)),
    )
