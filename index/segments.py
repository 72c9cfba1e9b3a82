"""Rebuilds write segments straight from batches of records held in memory.

Whoosh's writer puts every posting in a pool of tuples, sorts the whole pool (spilling
sorted runs to disk when it outgrows its memory) and then writes it out. A rebuild needs
none of that: records arrive in document order, so each term's postings are already in
order as they are gathered, and only the terms need sorting. A batch that fits in memory
(`index.build` sizes them) becomes one segment, written by a worker process; the segments
are then published together in one table of contents. The files are Whoosh's own.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from whoosh import index as whoosh_index
from whoosh.codec.base import Segment
from whoosh.index import Index
from whoosh.writing import SegmentWriter

from index.codec import Codec

__all__ = ["write_segments"]


def write_segments(ix: Index, batches: Iterable[list[dict]], procs: int) -> None:
    """Write each batch of index fields as a segment of ``ix``, in order, then publish
    them all at once. With ``procs`` > 1, that many processes write batches side by side
    (each holding one batch at a time)."""
    if procs > 1:
        # forked workers share the schema and codec classes without pickling them
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(procs, mp_context=context) as pool:
            segments = _in_order(pool, ix.storage.folder, batches, procs)
    else:
        segments = [_segment(ix, batch) for batch in batches]
    writer = SegmentWriter(ix, codec=Codec())
    writer._close_segment()  # its own segment stays empty
    writer._commit_toc(segments)
    writer._finish()


def _in_order(
    pool: ProcessPoolExecutor, folder: str, batches: Iterable[list[dict]], procs: int
) -> list[Segment]:
    """Each batch's segment, in the order of the batches; a batch is handed to the first
    worker free, and no more than ``procs`` wait for one."""
    submitted: list[Future] = []
    for batch in batches:
        while sum(not future.done() for future in submitted) > procs:
            wait(submitted, return_when=FIRST_COMPLETED)
        submitted.append(pool.submit(_segment_in, folder, batch))
    return [future.result() for future in submitted]


def _segment_in(folder: str, batch: list[dict]) -> Segment:
    return _segment(whoosh_index.open_dir(folder), batch)


def _segment(ix: Index, batch: list[dict]) -> Segment:
    writer = _BatchWriter(ix)
    for fields in batch:
        writer.add_document(fields)
    return writer._finalize_segment()


class _BatchWriter(SegmentWriter):
    """Writes one new segment of ``ix`` (unlocked: the rebuild owns its directory)."""

    def __init__(self, ix: Index) -> None:
        super().__init__(ix, _lk=False, codec=Codec())
        # field -> term -> [docnum, weight, value, docnum, weight, value, ...]
        self._postings: dict[str, dict[bytes, list]] = {}

    def add_document(self, fields: dict) -> None:  # Whoosh's, less what we never use
        schema, postings, perdoc, docnum = (
            self.schema,
            self._postings,
            self.perdocwriter,
            self.docnum,
        )
        perdoc.start_doc(docnum)
        for name in sorted(fields):
            value = fields[name]
            if value is None:
                continue
            field = schema[name]
            length = 0
            if field.indexed:
                terms = postings.setdefault(name, {})
                scorable = field.scorable
                for text, frequency, weight, encoded in field.index(value):
                    if scorable:
                        length += frequency
                    found = terms.get(text)
                    if found is None:
                        terms[text] = [docnum, weight, encoded]
                    else:
                        found += (docnum, weight, encoded)
            perdoc.add_field(name, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(name, field.column_type, field.to_column_value(value))
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        lengths = self.per_document_reader()
        out = self.fieldwriter
        for name in sorted(self._postings):
            field = self.schema[name]
            length: Callable[[int], int] = (
                (lambda docnum, name=name: lengths.doc_field_length(docnum, name))
                if field.scorable
                else (lambda docnum: 0)
            )
            out.start_field(name, field)
            terms = self._postings[name]
            for text in sorted(terms):
                out.start_term(text)
                for docnum, weight, encoded in _triples(terms[text]):
                    out.add(docnum, weight, encoded, length(docnum))
                out.finish_term()
            out.finish_field()
        self._postings.clear()
        out.close()
        lengths.close()


def _triples(flat: list) -> Iterator[tuple]:
    items = iter(flat)
    return zip(items, items, items, strict=True)
