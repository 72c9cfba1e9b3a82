"""The catalog feeding the search index: incremental updates, rebuilds, and searches
whose document snippets are cut from the catalog's text (bodies are not stored in the
index)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from archive.catalog import Catalog
from archive.store import Paths, crash_point
from index.build import Indexer
from index.search import QueryError, Searcher, SearchResults
from web import links

__all__ = ["QueryError", "catch_up", "rebuild", "results_json", "search", "update"]


def update(paths: Paths, catalog: Catalog, document_ids: Iterable[str]) -> int:
    """Reindex the given documents and their quotes (after a capture or a scrape)."""
    chosen = sorted(set(document_ids))
    if not chosen:
        return 0
    indexer = Indexer(paths.index, engine=paths.search_engine)
    for document_id in chosen:
        indexer.delete_document(document_id)
    return indexer.update(
        catalog.document_records(chosen), corrected_records(catalog, catalog.quote_records(chosen))
    )


def catch_up(paths: Paths, catalog: Catalog) -> int:
    """Index every document the catalog queued for the index (after each capture or
    scrape, and after a crash that came between the catalog commit and the index)."""
    backlog = catalog.index_backlog()
    crash_point("before-index")
    count = update(paths, catalog, [document_id for document_id, _ in backlog])
    catalog.indexed(backlog)
    return count


def rebuild(paths: Paths, catalog: Catalog) -> int:
    """Rebuild the whole index from the catalog, swapping it in when complete."""
    backlog = catalog.index_backlog()
    count = Indexer(paths.index, engine=paths.search_engine).rebuild(
        catalog.document_records(), corrected_records(catalog, catalog.quote_records())
    )
    catalog.indexed(backlog)
    return count


def corrected_records(catalog: Catalog, records: Iterable[dict]) -> Iterator[dict]:
    """Quote records as editors corrected them: the index finds the corrected speaker,
    role, cue and words (and a merged speaker under the name it was merged into), and
    leaves out what was marked not a quote."""
    made_under = catalog.corrected_quote_ids()
    # A correction made under an id a re-extraction has since replaced follows its alias.
    corrected = made_under | {catalog.resolve_quote_id(i) for i in made_under}
    merges = catalog.speaker_merges()
    names: dict[str, str] = {}
    for record in records:
        if record["id"] in corrected:
            found = catalog.corrected(catalog.quote(record["id"]))
            if found.not_quote:
                continue
            quote = found.quote
            record = record | {
                "text": quote.text,
                "speaker": quote.speaker,
                "speaker_id": quote.speaker_id,
                "role": quote.role,
                "cue": quote.cue,
                "anonymous": quote.anonymous,
            }
        target = merges.get(record["speaker_id"])
        if target is not None:
            if target not in names:
                names[target] = catalog.speaker(target).name
            record = record | {"speaker_id": target, "speaker": names[target]}
        yield record


def search(paths: Paths, catalog: Catalog, query: str, **options) -> SearchResults:
    if not paths.index.exists():
        Indexer(paths.index, engine=paths.search_engine)
    searcher = Searcher(paths.index, text_loader=catalog.document_text)
    try:
        return searcher.search(query, **options)
    finally:
        searcher.close()


def hit_path(hit) -> str:
    return links.quote_path(hit.id) if hit.type == "quote" else links.document_path(hit.id)


def results_json(results: SearchResults) -> dict:
    """The JSON shape of ``onrecord search --format json`` and the search API."""
    return {
        "query": results.query,
        "total": results.total,
        "total_is_exact": results.total_is_exact,
        "unavailable": list(results.unavailable),
        "hits": [
            {
                "type": hit.type,
                "id": hit.id,
                "text": hit.text,
                "speaker": hit.speaker,
                "publisher": hit.publisher,
                "published": hit.published.isoformat() if hit.published else None,
                "url": hit_path(hit),
            }
            for hit in results.hits
        ],
        "facets": {
            name: [[value, count] for value, count in counts]
            for name, counts in results.facets.items()
        },
    }
