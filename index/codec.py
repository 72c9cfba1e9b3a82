"""Whoosh's segment format, with the costs of writing and reading it cut.

The files are Whoosh 3's (`W3Codec`) but for the blocks of postings; what changes:

- Whoosh pickles each block of up to 128 postings (ids, weights, values) as one tuple and
  compresses it, so skipping through a list means unpickling the positions of every
  posting it passes. Ours lays a block out as arrays, ids first: reading ids is one
  array call, and values are split out only when asked for. Writing skips the pickle
  and the compression (a fifth of a rebuild's time).
- Stored fields are pickled but not compressed, record by record (a twentieth of a
  rebuild's time, and a decompression for every hit shown).

- Field lengths are a column per scorable field. Whoosh looks the column up for every
  posting it writes and every match it scores, and when a field has none (names, ids,
  word pairs: most of our fields) it asks the file system again each time, a ``stat`` per
  posting: a seventh of a rebuild's time. The answer is remembered here.
- Scoring a match or writing a posting reads the record's field length from the column,
  one small file read each time (and the shortest and longest, for skipping, a record at
  a time). Here each column is read once, as bytes.
- Skipping ahead in a posting list steps through a block one posting at a time; here it
  jumps with a binary search, which is what intersections (phrases, filters) spend most
  of their time on.
- The posting writer asks its file for the current offset at every term, a system call
  each time (Python's buffered files ask the kernel). Here the offset is counted.

Segments remember the codec that wrote them, so indexes written with this one name this
module; an index that cannot be opened is rebuilt from the catalog (`onrecord reindex`).
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from itertools import accumulate, pairwise
from pickle import dumps

from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    STORED_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3FieldWriter,
    W3LeafMatcher,
    W3PerDocReader,
    W3PerDocWriter,
    W3PostingsWriter,
    _lenfield,
)
from whoosh.columns import PickleColumn, VarBytesColumn
from whoosh.matching import ReadTooFar
from whoosh.util.numeric import byte_to_length, length_to_byte

__all__ = ["Codec"]

_BIG_ENDIAN = sys.byteorder == "big"


# The version of our layout, kept with each segment's codec: 1 array blocks, 2 and stored
# fields not compressed. Segments without it are Whoosh's own.
_LAYOUT = 2
_STORED = PickleColumn(VarBytesColumn())


class Codec(W3Codec):
    """`W3Codec` with array blocks, remembered missing columns and counted offsets."""

    def __init__(self) -> None:
        super().__init__()
        self.layout = _LAYOUT

    def per_document_writer(self, storage, segment):
        return _PerDocWriter(self, storage, segment)

    def postings_writer(self, dbfile, byteids=False):
        if byteids:  # term vectors, which we do not store
            return super().postings_writer(dbfile, byteids)
        return _PostingsWriter(dbfile, blocklimit=self._blocklimit)

    def per_document_reader(self, storage, segment):
        return _PerDocReader(storage, segment, plain_stored=getattr(self, "layout", 0) >= 2)

    def field_writer(self, storage, segment):
        return _FieldWriter(self, storage, segment)

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):
        if terminfo.is_inlined():  # never written: Whoosh 3's writer cannot inline
            return super().postings_reader(dbfile, terminfo, format_, term, scorer)
        offset, length = terminfo.extent()
        # segments written before array blocks have Whoosh's pickled ones
        kind = _BlockMatcher if getattr(self, "layout", 0) >= 1 else _LeafMatcher
        return kind(dbfile, offset, length, format_, term=term, scorer=scorer)


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

    def all_block_ids(self) -> list[int]:
        """The ids from here to the end, a block at a time (``all_ids`` goes one by one)."""
        found: list[int] = []
        while self.is_active():
            if self._ids is None:
                self._read_ids()
            found.extend(self._ids[self._i :])
            self._next_block()
        return found

    def _read_ids(self):
        if self._data is None:
            self._read_data()
        gaps = self._data[0]
        self._ids = gaps if self._byteids else tuple(accumulate(gaps))


# Block data: three type codes (ids, weights, values), then the id gaps as an array, the
# weights (none when all are 1.0, one float when all are equal, else an array), and the
# values (nothing for a format without any, fixed-size values joined, or their lengths as
# an array and then the values joined).
_SIZES = {code: array(code).itemsize for code in "BHIf"}
_ALL_ONE, _ALL_SAME, _EACH = b"1", b"=", b"f"
_NONE, _FIXED = b"0", b"x"


def _smallest(numbers) -> str:
    widest = max(numbers, default=0)
    return "B" if widest < 256 else "H" if widest < 65_536 else "I"


def _packed(code: str, numbers) -> bytes:
    packed = array(code, numbers)
    if _BIG_ENDIAN:
        packed.byteswap()
    return packed.tobytes()


def _unpacked(code: str, data: bytes) -> array:
    unpacked = array(code, data)
    if _BIG_ENDIAN:
        unpacked.byteswap()
    return unpacked


class _PostingsWriter(W3PostingsWriter):
    def _write_block(self, last=False):
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        ids, weights, values = self._ids, self._weights, self._values
        gaps = [ids[0], *(b - a for a, b in pairwise(ids))]
        id_code = _smallest(gaps)
        if weights.count(1.0) == len(weights):
            weight_code, weight_bytes = _ALL_ONE, b""
        elif weights.count(weights[0]) == len(weights):
            weight_code, weight_bytes = _ALL_SAME, _packed("f", weights[:1])
        else:
            weight_code, weight_bytes = _EACH, _packed("f", weights)
        fixed = self._format.fixed_value_size()
        if not values:
            value_code, value_bytes = _NONE, b""
        elif fixed:
            value_code, value_bytes = _FIXED, b"".join(values)
        else:
            sizes = [len(value) for value in values]
            code = _smallest(sizes)
            value_code, value_bytes = code.encode(), _packed(code, sizes) + b"".join(values)
        header = id_code.encode() + weight_code + value_code
        data = b"".join((header, _packed(id_code, gaps), weight_bytes, value_bytes))
        info = dumps(
            (
                len(ids),
                ids[-1],
                self._maxweight,
                "onrecord",  # where Whoosh keeps its compression level
                length_to_byte(self._minlength),
                length_to_byte(self._maxlength),
            ),
            2,
        )
        size = len(info) + len(data)
        self._postfile.write_int(-size if last else size)
        self._postfile.write(info)
        self._postfile.write(data)
        self._blockcount += 1
        self._new_block()


class _BlockMatcher(_LeafMatcher):
    def _read_data(self):
        raw = self._postfile.get(self._dataoffset, self._nextoffset - self._dataoffset)
        count = self._blocklength
        id_code = chr(raw[0])
        at = 3 + count * _SIZES[id_code]
        gaps = _unpacked(id_code, raw[3:at])
        weight_code = raw[1:2]
        if weight_code == _ALL_ONE:
            weights = None
        elif weight_code == _ALL_SAME:
            weights, at = _unpacked("f", raw[at : at + 4])[0], at + 4
        else:
            weights, at = _unpacked("f", raw[at : at + 4 * count]), at + 4 * count
        self._data = (gaps, weights, (raw[2:3], raw, at))

    def _read_weights(self):
        if self._data is None:
            self._read_data()
        weights = self._data[1]
        if weights is None:
            self._weights = array("f", [1.0]) * self._blocklength
        elif isinstance(weights, float):
            self._weights = array("f", [weights]) * self._blocklength
        else:
            self._weights = weights

    def _read_values(self):
        if self._data is None:
            self._read_data()
        value_code, raw, at = self._data[2]
        count = self._blocklength
        if value_code == _NONE:
            self._values = (None,) * count
        elif value_code == _FIXED:
            size = self._fixedsize
            self._values = tuple(raw[at + i * size : at + (i + 1) * size] for i in range(count))
        else:
            code = value_code.decode()
            end = at + count * _SIZES[code]
            offsets = accumulate(_unpacked(code, raw[at:end]), initial=end)
            self._values = tuple(raw[a:b] for a, b in pairwise(offsets))


# a field length as stored (one byte, lossy) to the length; 0 is "no length" (None)
_LENGTH_OF_BYTE = (None, *(byte_to_length(b) for b in range(1, 256)))


class _PerDocWriter(W3PerDocWriter):
    def _create_column(self, fieldname, column):
        super()._create_column(fieldname, _STORED if fieldname == "_stored" else column)


class _PerDocReader(W3PerDocReader):
    def __init__(self, storage, segment, *, plain_stored: bool):
        super().__init__(storage, segment)
        self._length_bytes: dict[str, bytes | None] = {}
        self._stored = _STORED if plain_stored else STORED_COLUMN

    def stored_fields(self, docnum):
        return self._cached_reader("_stored", self._stored)[docnum] or {}

    def _cached_reader(self, fieldname, column):
        try:
            return self._readers[fieldname]
        except KeyError:
            reader = self._readers[fieldname] = super()._cached_reader(fieldname, column)
            return reader

    def doc_field_length(self, docnum, fieldname, default=0):
        lengths = self._lengths(fieldname)
        if lengths is None:
            return default
        return _LENGTH_OF_BYTE[lengths[docnum]]

    def _minmax_length(self, fieldname, op, cache):
        # Whoosh reads the column a record at a time for this: half a second at 100,000
        # documents, for the first search that scores each field
        if fieldname not in cache:
            lengths = self._lengths(fieldname)
            cache[fieldname] = byte_to_length(op(lengths)) if lengths else 0
        return cache[fieldname]

    def _lengths(self, fieldname):
        try:
            return self._length_bytes[fieldname]
        except KeyError:
            lengths = self._length_bytes[fieldname] = self._read_lengths(fieldname)
            return lengths

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
