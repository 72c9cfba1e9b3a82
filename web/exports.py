"""Every result of a search as CSV or JSON Lines, streamed row by row.

    GET /search.csv?q=...     (also type= and sort=, as on the search page)
    GET /search.jsonl?q=...

The same rows come from ``onrecord search QUERY --format csv|jsonl``. Rows are made as
they are written, so 100,000 results never sit in memory at once; the export opens a
searcher and a catalog of its own, so a long download does not hold up the site's
searches.

A row's archived copy is the capture that holds the words found, as the quote page links
it (:attr:`web.quotes.Provenance.archived_copy`): the index knows only the document's
last capture, which a takedown makes its 410. The catalog is asked for them once per
:data:`BATCH` rows.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Response, abort, current_app, request, stream_with_context

from archive.catalog import Catalog, CatalogError
from index.search import Hit, QueryError, Searcher
from web import citations, links
from web.quotes import Provenance
from web.resources import catalogs, paths
from web.search import search_request

bp = Blueprint("exports", __name__)

COLUMNS = (
    "type",
    "id",
    "quote",
    "speaker",
    "role",
    "outlet",
    "via",
    "title",
    "published",
    "captured",
    "permalink",
    "original_url",
    "archived_copy",
    "citation",
)
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl; charset=utf-8"}
BATCH = 500  # rows whose archived copies are asked of the catalog at once


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


@dataclass(frozen=True)
class ArchivedCopy:
    """Where the archive shows a result's words, and when that capture was made (the
    date a citation says the words were retrieved)."""

    path: str
    captured: datetime
    page: int | None = None  # the PDF page a quote stands on


def archived_copies(db: Catalog, hits: Iterable[Hit]) -> dict[str, ArchivedCopy]:
    """The archived copy of each hit, by id: a quote's is the one its quote page links
    (the capture of the version it was extracted from; a PDF's at the quote's page), a
    document's the capture of its latest version. A hit the catalog no longer holds has
    none."""
    hits = list(hits)
    origins = list(db.quote_origins(h.id for h in hits if h.type == "quote").values())
    # As on the quote page, corrected: moving a quote's boundaries may move it to another page.
    corrected = db.corrected_many(quote for quote, *_ in origins)
    copies: dict[str, ArchivedCopy] = {}
    for (_, *came_from), record in zip(origins, corrected, strict=True):
        found = Provenance(record.quote, *came_from)
        copies[found.quote.id] = ArchivedCopy(
            found.archived_copy, found.capture.captured_at, found.page
        )
    documents = [h.id for h in hits if h.type == "document"]
    for document_id, capture in db.latest_captures(documents).items():
        path = links.capture_path(capture.url, capture.captured_at)
        copies[document_id] = ArchivedCopy(path, capture.captured_at)
    return copies


def rows_of(db: Catalog, hits: Iterable[Hit], root: str = "") -> Iterator[dict]:
    """Export rows of ``hits``, made as they are read, with their archived copies asked
    of the catalog :data:`BATCH` hits at a time."""
    hits = iter(hits)
    while batch := list(itertools.islice(hits, BATCH)):
        copies = archived_copies(db, batch)
        for hit in batch:
            yield row(hit, root, copies.get(hit.id))


def row(hit: Hit, root: str = "", copy: ArchivedCopy | None = None) -> dict:
    """One result as an export row; links are absolute when ``root`` is given. Without
    its ``copy`` (:func:`archived_copies`) a row has no archived copy, and so no
    citation: a capture guessed from the index could be a takedown's."""
    path = links.quote_path(hit.id) if hit.type == "quote" else links.document_path(hit.id)
    permalink = links.absolute(root, path) if root else path
    archived_url = None
    if copy is not None:
        archived_url = links.absolute(root, copy.path) if root else copy.path
    citation = ""
    if hit.type == "quote" and copy is not None:
        citation = citations.apa(
            citations.Citable(
                quote_id=hit.id,
                quote=hit.text,
                speaker=hit.speaker,
                title=hit.title,
                authors=(),
                publisher=hit.publisher,
                published=hit.published,
                url=hit.url,
                archived_url=archived_url,
                captured=copy.captured,
                permalink=permalink,
                page=copy.page,
            )
        )
    return {
        "type": hit.type,
        "id": hit.id,
        "quote": hit.text if hit.type == "quote" else "",
        "speaker": hit.speaker,
        "role": hit.role,
        "outlet": hit.publisher,
        "via": hit.via,
        "title": hit.title,
        "published": _iso(hit.published),
        "captured": _iso(hit.captured),
        "permalink": permalink,
        "original_url": hit.url,
        "archived_copy": archived_url,
        "citation": citation,
    }


# What opens a formula in a spreadsheet: a hostile page's quote or outlet that begins
# '=HYPERLINK(' would run in the journalist's spreadsheet. Such a cell is written after an
# apostrophe, which spreadsheets show as text and do not display (as OWASP advises); JSON
# Lines keeps every text as it is.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A value as a CSV cell: none empty, a text a spreadsheet would run made inert.

    >>> _cell("=HYPERLINK(0)"), _cell("-2 is the count"), _cell("The count"), _cell(None)
    ("'=HYPERLINK(0)", "'-2 is the count", 'The count', '')
    """
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_lines(rows: Iterable[dict]) -> Iterator[str]:
    """A header, then one CSV record per row (RFC 4180, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    yield buffer.getvalue()
    for item in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow({k: _cell(v) for k, v in item.items()})
        yield buffer.getvalue()


def jsonl_lines(rows: Iterable[dict]) -> Iterator[str]:
    for item in rows:
        yield json.dumps(item, ensure_ascii=False) + "\n"


WRITERS = {"csv": csv_lines, "jsonl": jsonl_lines}


@bp.get("/search.csv")
@bp.get("/search.jsonl")
def export():
    fmt = request.path.rsplit(".", 1)[1]
    wanted = search_request()
    if not wanted.query.strip():
        abort(400, description="give a query in the q parameter")
    # The catalog gives each document's text, against which an exact phrase is checked
    # (as the search page checks it), and each row's archived copy. Both it and the
    # searcher are closed when the response is, however it ends: streamed to the end, cut
    # off by the client, never read (HEAD), or an error before the first byte.
    opened = contextlib.ExitStack()
    try:
        db = opened.enter_context(catalogs().open())
        searcher = Searcher(paths().index, text_loader=db.document_text)
        opened.callback(searcher.close)
        hits = searcher.every_hit(wanted.query, type=wanted.type or None, sort=wanted.sort)
        first = next(hits, None)  # a bad query is a 400 before any byte is sent
    except CatalogError as exc:
        opened.close()
        current_app.logger.error("catalog unavailable: %s", exc)
        abort(503, description=str(exc))
    except QueryError as exc:
        opened.close()
        abort(400, description=f"That query cannot be run: {exc}")
    except BaseException:
        opened.close()
        raise
    root = request.url_root
    current_app.logger.info("exporting %r as %s", wanted.query, fmt)

    def streamed() -> Iterator[dict]:
        if first is not None:
            yield from rows_of(db, itertools.chain([first], hits), root)

    name = "onrecord-search." + fmt
    response = Response(
        stream_with_context(WRITERS[fmt](streamed())),
        content_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    response.call_on_close(opened.close)
    return response
