"""The search page: the query language, facets that narrow, sorting and pages.

Facet links add a filter to the query the reader typed, so every narrowed search is a
plain query that can be read, edited, bookmarked and cited.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, jsonify, render_template, request

from archive import ids
from index.search import SearchResults
from web import api, links
from web.indexing import QueryError, hit_path, results_json
from web.resources import catalog, index_status, searcher

bp = Blueprint("search", __name__)

PAGE_SIZE = 20
SORTS = {"relevance": "Relevance", "date": "Newest first", "date_asc": "Oldest first"}
TYPES = {"": "Quotes and documents", "quote": "Quotes", "document": "Documents"}
FACET_FIELDS = {"speaker": "speaker", "publisher": "publisher", "kind": "kind", "month": "date"}
FACET_TITLES = {"speaker": "Speaker", "publisher": "Publisher", "kind": "Kind", "month": "Month"}
MAX_PAGE = 500


@dataclass(frozen=True)
class FacetLink:
    value: str
    count: int
    href: str


def with_filter(query: str, facet: str, value: str) -> str:
    """The query narrowed to one facet value.

    >>> with_filter("ballots", "speaker", 'Dana "DJ" Whitfield')
    'ballots speaker:"Dana  DJ  Whitfield"'
    >>> with_filter("", "month", "2026-11")
    'date:2026-11'
    """
    field = FACET_FIELDS[facet]
    clean = value.replace('"', " ").strip()
    term = f"{field}:{clean}" if facet in ("kind", "month") else f'{field}:"{clean}"'
    return f"{query.strip()} {term}".strip()


@dataclass(frozen=True)
class SearchRequest:
    query: str
    type: str
    sort: str
    page: int


def search_request() -> SearchRequest:
    """The search the URL asks for; a 400 that names the bad parameter otherwise."""
    query = request.args.get("q", "")
    kind = request.args.get("type", "")
    sort = request.args.get("sort", "relevance")
    page_text = request.args.get("page", "1")
    if kind not in TYPES:
        abort(400, description="type must be quote, document or empty")
    if sort not in SORTS:
        abort(400, description="sort must be relevance, date or date_asc")
    if not ids.is_number(page_text) or not 1 <= int(page_text) <= MAX_PAGE:
        abort(400, description=f"page must be a number from 1 to {MAX_PAGE}")
    return SearchRequest(query, kind, sort, int(page_text))


def run(wanted: SearchRequest, *, page_size: int = PAGE_SIZE, facets: bool = True):
    try:
        return searcher().search(
            wanted.query,
            type=wanted.type or None,
            sort=wanted.sort,
            page=wanted.page,
            page_size=page_size,
            facets=facets,
        )
    except QueryError as exc:
        abort(400, description=f"That query cannot be run: {exc}")


def facet_links(wanted: SearchRequest, results: SearchResults) -> dict[str, list[FacetLink]]:
    found = {}
    for facet, counts in results.facets.items():
        if facet not in FACET_FIELDS:
            continue
        found[facet] = [
            FacetLink(
                value,
                count,
                links.search_path(
                    with_filter(wanted.query, facet, value),
                    type=wanted.type,
                    sort="" if wanted.sort == "relevance" else wanted.sort,
                ),
            )
            for value, count in counts
        ]
    return found


def page_link(wanted: SearchRequest, page: int, sort: str | None = None) -> str:
    sort = wanted.sort if sort is None else sort
    return links.search_path(
        wanted.query,
        type=wanted.type,
        sort="" if sort == "relevance" else sort,
        page="" if page == 1 else page,
    )


def freshness() -> dict:
    """How fresh this node's index is, as search results say it: its position in the
    change log, the changes (and seconds) it lags, and whether that makes it behind."""
    found = index_status(catalog())
    return {key: found[key] for key in ("position", "behind", "lag")}


@bp.get("/search")
@bp.get("/search.json")
def search():
    as_json = api.wants_json()
    wanted = search_request()
    if not wanted.query.strip():
        if as_json:
            abort(400, description="give a query in the q parameter")
        return render_template(
            "search.html",
            wanted=wanted,
            results=None,
            query="",
            types=TYPES,
            sort_names=SORTS,
            links=links,
        )
    results = run(wanted)
    fresh = freshness()
    if as_json:
        return jsonify(
            {
                **results_json(results),
                "page": results.page,
                "page_size": results.page_size,
                "index": fresh,
            }
        )
    last_page = max((results.total - 1) // PAGE_SIZE + 1, 1)
    return render_template(
        "search.html",
        wanted=wanted,
        results=results,
        query=wanted.query,
        types=TYPES,
        sort_names=SORTS,
        facets=facet_links(wanted, results),
        facet_titles=FACET_TITLES,
        sorts={key: (label, page_link(wanted, 1, key)) for key, label in SORTS.items()},
        previous=page_link(wanted, wanted.page - 1) if wanted.page > 1 else None,
        following=page_link(wanted, wanted.page + 1) if wanted.page < last_page else None,
        last_page=last_page,
        feed=links.search_atom_path(wanted.query),
        json_link=links.json_path(page_link(wanted, wanted.page)),
        hit_path=hit_path,
        fresh=fresh,
        links=links,
    )
