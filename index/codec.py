"""Whoosh's segment format, with two costs of writing it removed.

The files are Whoosh 3's (`W3Codec`); what changes is how they are written and read back:

- Field lengths are a column per scorable field. Whoosh looks the column up for every
  posting it writes and every match it scores, and when a field has none (names, ids,
  word pairs: most of our fields) it asks the file system again each time, a ``stat`` per
  posting: a seventh of a rebuild's time. The answer is remembered here.
- Scoring a match or writing a posting reads the record's field length from the column,
  one small file read each time. Here each column is read once, as bytes.
- Skipping ahead in a posting list steps through a block one posting at a time; here it
  jumps with a binary search, which is what intersections (phrases, filters) spend most
  of their time on.
- The posting writer asks its file for the current offset at every term, a system call
  each time (Python's buffered files ask the kernel). Here the offset is counted.

Segments remember the codec that wrote them, so indexes written with this one name this
module; an index that cannot be opened is rebuilt from the catalog (`onrecord reindex`).
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate

from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    W3Codec,
    W3FieldWriter,
    W3LeafMatcher,
    W3PerDocReader,
    _lenfield,
)
from whoosh.matching import ReadTooFar
from whoosh.util.numeric import byte_to_length

__all__ = ["Codec"]


class Codec(W3Codec):
    """`W3Codec` with remembered missing columns and counted file offsets."""

    def per_document_reader(self, storage, segment):
        return _PerDocReader(storage, segment)

    def field_writer(self, storage, segment):
        return _FieldWriter(self, storage, segment)

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):
        if terminfo.is_inlined():  # never written: Whoosh 3's writer cannot inline
            return super().postings_reader(dbfile, terminfo, format_, term, scorer)
        offset, length = terminfo.extent()
        return _LeafMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)


class _LeafMatcher(W3LeafMatcher):
    def skip_to(self, targetid):
        if not self.is_active():
            raise ReadTooFar
        if self._ids is None:
            self._read_ids()
        if targetid <= self._ids[self._i]:
            return
        if targetid > self._maxid:
            self._skip_to_block(lambda: targetid > self._maxid)
            if not self.is_active():
                return
            if self._ids is None:
                self._read_ids()
        # the block's last id is at least the target, so this stays inside the block
        self._i = bisect_left(self._ids, targetid, self._i)

    def _read_ids(self):
        if self._data is None:
            self._read_data()
        gaps = self._data[0]
        self._ids = gaps if self._byteids else tuple(accumulate(gaps))


# a field length as stored (one byte, lossy) to the length; 0 is "no length" (None)
_LENGTH_OF_BYTE = (None, *(byte_to_length(b) for b in range(1, 256)))


class _PerDocReader(W3PerDocReader):
    def __init__(self, storage, segment):
        super().__init__(storage, segment)
        self._length_bytes: dict[str, bytes | None] = {}

    def _cached_reader(self, fieldname, column):
        try:
            return self._readers[fieldname]
        except KeyError:
            reader = self._readers[fieldname] = super()._cached_reader(fieldname, column)
            return reader

    def doc_field_length(self, docnum, fieldname, default=0):
        try:
            lengths = self._length_bytes[fieldname]
        except KeyError:
            lengths = self._length_bytes[fieldname] = self._read_lengths(fieldname)
        if lengths is None:
            return default
        return _LENGTH_OF_BYTE[lengths[docnum]]

    def _read_lengths(self, fieldname):
        column = self._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
        if column is None:
            return None
        # a column of one byte per record, shorter when its last records have no length
        stored = column._dbfile.get(column._basepos, column._count)
        return stored + bytes(self._doccount - len(stored))


class _FieldWriter(W3FieldWriter):
    def _create_file(self, ext):
        structfile = super()._create_file(ext)
        structfile.file = _CountingFile(structfile.file)
        # without a file number, Whoosh writes arrays through ``write`` (so they are counted)
        structfile.is_real = False
        del structfile.fileno
        return structfile


class _CountingFile:
    """A file being written from start to end that knows its offset without asking."""

    def __init__(self, file) -> None:
        self._file = file
        self._offset = file.tell()

    def write(self, data: bytes) -> int:
        written = self._file.write(data)
        self._offset += written
        return written

    def tell(self) -> int:
        return self._offset

    def seek(self, offset: int, whence: int = 0) -> int:
        self._offset = self._file.seek(offset, whence)
        return self._offset

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()
