"""Rebuilds write segments straight from records held in memory, in worker processes.

Whoosh's writer puts every posting in a pool of tuples, sorts the whole pool (spilling
sorted runs to disk when it outgrows its memory) and then writes it out. A rebuild needs
none of that: records arrive in document order, so each term's postings are already in
order as they are gathered, and only the terms need sorting. Each worker gathers the
records it is given until its memory budget is spent, writes them as a segment and
starts the next; the segments are then published together in one table of contents. The
files are Whoosh's own.

Records are dealt to the workers in small jobs, in turn, so the workers start at once,
get the same mix of long articles and short quotes and finish together; the segments and
the document numbers in them depend only on the records, not on timing.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import pickle
import queue
import sys
from collections.abc import Iterable, Iterator
from itertools import islice

from whoosh import index as whoosh_index
from whoosh.codec.base import Segment
from whoosh.index import Index
from whoosh.writing import SegmentWriter

from index.codec import Codec

__all__ = ["write_segments"]

log = logging.getLogger(__name__)

# The work and memory of writing a record grow with its postings: one per distinct word
# (about one per 14 characters of an article) and some 25 for its metadata. Counted in
# characters, a record costs its text plus this much:
_RECORD_CHARS = 350
# and a worker's postings take this much memory per character counted (measured: 12).
_BYTES_PER_CHAR = 14
_JOB_RECORDS = 200
_JOBS_AHEAD = 4  # jobs waiting per worker, at most
_POLL_SECONDS = 1.0


def write_segments(ix: Index, records: Iterable[dict], procs: int, memory_mb: int) -> None:
    """Write the index fields ``records`` as segments of the empty index ``ix`` and
    publish them at once, using ``procs`` processes of about ``memory_mb`` each."""
    budget = memory_mb * 2**20 // _BYTES_PER_CHAR
    if procs > 1:
        segments = _Workers(ix.storage.folder, procs, budget).write(records)
    else:
        segments = list(_segments(ix, iter(records), budget))
    writer = SegmentWriter(ix, codec=Codec())
    writer._close_segment()  # its own segment stays empty
    writer._commit_toc(segments)
    writer._finish()


def _cost(fields: dict) -> int:
    return _RECORD_CHARS + sum(len(v) for v in fields.values() if isinstance(v, str))


def _segments(ix: Index, records: Iterator[dict], budget: int) -> Iterator[Segment]:
    """Write ``records`` as segments of about ``budget`` characters each."""
    # Writing makes millions of small objects and no cycles: the cycle collector would
    # only walk them over and over (a tenth of the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        writer, spent = None, 0
        for fields in records:
            if writer is None:
                writer = _BatchWriter(ix)
            writer.add_document(fields)
            spent += _cost(fields)
            if spent >= budget:
                yield writer._finalize_segment()
                writer, spent = None, 0
        if writer is not None:
            yield writer._finalize_segment()
    finally:
        if collecting:
            gc.enable()


class _Workers:
    """``procs`` processes, each writing the jobs dealt to it as its segments.

    They are forked (so they share the schema's classes without pickling, and the caller
    needs no ``__main__`` guard); in the web server, which runs threads, a fork copies
    locks other threads may hold, so the workers touch nothing they inherit but the
    index's path and their two queues: no logging, no printing, no catalog."""

    def __init__(self, folder: str, procs: int, budget: int) -> None:
        context = multiprocessing.get_context("fork")
        self._jobs = [context.Queue(_JOBS_AHEAD) for _ in range(procs)]
        self._results = context.Queue()
        self._processes = [
            context.Process(target=_work, args=(folder, jobs, self._results, n, budget))
            for n, jobs in enumerate(self._jobs)
        ]
        self._segments: dict[tuple[int, int], Segment] = {}
        self._finished = 0

    def write(self, records: Iterable[dict]) -> list[Segment]:
        for process in self._processes:
            process.start()
        try:
            records = iter(records)
            turn = 0
            while job := list(islice(records, _JOB_RECORDS)):
                self._put(self._jobs[turn], job)
                turn = (turn + 1) % len(self._jobs)
            for jobs in self._jobs:
                self._put(jobs, None)
            while self._finished < len(self._processes):
                self._collect(block=True)
        finally:
            for process in self._processes:
                if process.is_alive():
                    process.kill()
                process.join()
            for jobs in self._jobs:
                # jobs a failed worker never took would keep this process from exiting
                jobs.cancel_join_thread()
                jobs.close()
            self._results.close()
        return [self._segments[key] for key in sorted(self._segments)]

    def _put(self, jobs: multiprocessing.Queue, job: list[dict] | None) -> None:
        while True:
            try:
                jobs.put(job, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                self._collect(block=False)  # a worker that failed stops taking jobs

    def _collect(self, *, block: bool) -> None:
        try:
            kind, worker, number, found = self._results.get(block, _POLL_SECONDS)
        except queue.Empty:
            dead = [p.pid for p in self._processes if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"index writer process {dead[0]} died") from None
            return
        if kind == "error":
            raise found
        if kind == "segment":
            self._segments[worker, number] = found
        else:
            self._finished += 1


def _work(
    folder: str,
    jobs: multiprocessing.Queue,
    results: multiprocessing.Queue,
    worker: int,
    budget: int,
) -> None:
    """A worker: write the jobs from ``jobs`` as segments, report them to ``results``."""
    parent = os.getppid()

    def records() -> Iterator[dict]:
        while True:
            try:
                job = jobs.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if os.getppid() != parent:  # the rebuild is gone
                    os._exit(1)
                continue
            if job is None:
                return
            yield from job

    try:
        ix = whoosh_index.open_dir(folder)
        for number, segment in enumerate(_segments(ix, records(), budget)):
            results.put(("segment", worker, number, segment))
        results.put(("done", worker, 0, None))
    except BaseException as error:  # reported to the rebuild, which raises it
        try:
            pickle.dumps(error)
        except Exception:
            error = RuntimeError(f"{type(error).__name__}: {error}")
        results.put(("error", worker, 0, error))
        sys.exit(1)


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
            out.start_field(name, field)
            add = out._postwriter.add_posting  # what `out.add` calls, one call fewer
            terms = self._postings[name]
            for text in sorted(terms):
                out.start_term(text)
                if field.scorable:
                    for docnum, weight, encoded in _triples(terms[text]):
                        add(docnum, weight, encoded, lengths.doc_field_length(docnum, name))
                else:
                    for docnum, weight, encoded in _triples(terms[text]):
                        add(docnum, weight, encoded, 0)
                out.finish_term()
            out.finish_field()
        self._postings.clear()
        out.close()
        lengths.close()


def _triples(flat: list) -> Iterator[tuple]:
    items = iter(flat)
    return zip(items, items, items, strict=True)
