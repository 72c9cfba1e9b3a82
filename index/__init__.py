"""The search index: derived from the catalog, disposable, rebuilt at will.

The rest of onrecord uses two classes, whatever the engine:

- `index.build.Indexer`: ``update`` (add or replace records by id), ``delete_document``,
  ``rebuild`` (a new generation, swapped in atomically; `index.layout`);
- `index.search.Searcher`: ``search`` (a page of hits with highlights, the total and the
  facets), ``every_hit`` (an export), ``status`` (the engine, generation and shards).

Engine-free: the query language (`index.query`), what a query looks for (`index.plan`),
the word-for-word check of phrases and the highlights (`index.textmatch`), hits and facets
(`index.hits`). Behind them, one module per engine: `index.whoosh_engine` (with its schema,
codec, segment writer, sampling and columns: `index.schema`, `index.codec`,
`index.segments`, `index.sample`, `index.facets`, `index.compile`, `index.phrase`) and
`index.tantivy_engine`. The ``search_engine`` setting chooses the engine of a rebuild.
"""
