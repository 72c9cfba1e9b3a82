"""Turn fetched bytes into text the way a careful browser would.

This is onrecord's one charset rule: extraction (``decode``) and the HTTP layer's
``scrapers.http.decode_text`` (robots.txt, feeds, sitemaps, listing pages, the replay's
link rewriting) both decode through ``decode_body``.

Order of evidence: a byte-order mark; then bytes that are valid UTF-8 beyond ASCII (no
other encoding produces them by accident, so they outrank a wrong declaration); then the
charset of the Content-Type header; then the document's own declaration (``<meta
charset>``, or else the XML declaration); then detection. Every label goes through one
lookup, ``codec_for``, which treats a label Python does not know, or one browsers refuse
(UTF-7), as absent. Extraction also repairs text that was UTF-8 decoded as Windows-1252
somewhere upstream (``â€™`` for ``’``).

    >>> decode("caf\\u00e9".encode("utf-8"), "text/html; charset=iso-8859-1").text
    'café'
    >>> decode(b"<meta charset=windows-1252><p>caf\\xe9", None).text[-4:]
    'café'
    >>> decode_body(b'<?xml version="1.0" encoding="windows-1252"?><a>\\xe9</a>', None).text
    '<?xml version="1.0" encoding="windows-1252"?><a>é</a>'
    >>> repair_mojibake("It\\u00e2\\u20ac\\u2122s")
    'It’s'
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass

import charset_normalizer

log = logging.getLogger(__name__)

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),  # the mark itself is no text: browsers drop it
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([\w.:-]+)")
_READ_AS_WINDOWS_1252 = frozenset({"iso8859-1", "ascii"})
# Codecs that browsers refuse to decode with (UTF-7, ISO-2022-KR and HZ can smuggle markup
# past a filter; the WHATWG Encoding standard has none of them), and Python's own codecs
# that name no charset at all.
_REFUSED = frozenset(
    {"utf-7", "iso2022_kr", "hz", "undefined", "idna", "punycode"}
    | {"unicode-escape", "raw-unicode-escape"}
)
_META_SCAN = 4096  # bytes searched for <meta charset>; the HTML standard says 1024
_DETECT_SCAN = 200_000  # bytes given to detection: enough to tell, fast on any page
_TIE = 0.01  # detection scores closer than this are a tie
# A UTF-8 sequence read as Windows-1252 or Latin-1: a lead byte, then continuation bytes.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030"
    "\u0160\u2039\u0152\u017d\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161"
    "\u203a\u0153\u017e\u0178]+"
)
_PLAUSIBLE = re.compile("[\u00a0-\u024f\u2000-\u206f\u20a0-\u20cf\u2100-\u214f]+")
# Magic numbers of formats that are certainly not text.
_BINARY_MAGIC = (
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ",
    b"RIFF",
    b"\x00\x00\x01\x00",
    b"OggS",
    b"ID3",
    b"\x7fELF",
    b"wOFF",
    b"wOF2",
)


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    problems: tuple[str, ...] = ()


def is_binary(data: bytes) -> bool:
    """True for bytes that no text format produces: known magic numbers or NUL bytes."""
    head = data[:1024]
    if head.startswith(_BINARY_MAGIC):
        return True
    return b"\x00" in head and not head.startswith(tuple(bom for bom, _ in _BOMS))


def header_charset(content_type: str | None) -> str | None:
    """The charset label of a Content-Type header, as sent."""
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def decode(data: bytes, content_type: str | None) -> Decoded:
    """Decode an HTML payload for extraction; ``problems`` says when the bytes and their
    label disagree, and when mojibake was repaired."""
    found = decode_body(data, header_charset(content_type))
    fixed = repair_mojibake(found.text)
    if fixed == found.text:
        return found
    problems = (*found.problems, "repaired mojibake (UTF-8 text read as Windows-1252)")
    return Decoded(fixed, found.encoding, problems)


def decode_body(data: bytes, charset: str | None) -> Decoded:
    """Decode a body whose Content-Type declares ``charset`` (None when it declares none):
    the one charset rule, never raising."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return Decoded(data.decode(encoding, errors="replace"), encoding)
    labels = (("Content-Type", codec_for(charset)), _document_charset(data))
    problems: list[str] = []
    if not data.isascii():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            for where, name in labels:
                if name and codecs.lookup(name).name != "utf-8":
                    problems.append(f"{where} declares {name} but the bytes are UTF-8")
            return Decoded(text, "utf-8", tuple(problems))
    for where, name in labels:
        if name:
            try:
                return Decoded(data.decode(name), name, tuple(problems))
            except UnicodeError:
                problems.append(f"{where} declares {name} but the bytes do not decode with it")
    encoding = _detect(data[:_DETECT_SCAN])
    log.debug("no usable charset declared, detected %s", encoding)
    return Decoded(data.decode(encoding, errors="replace"), encoding, tuple(problems))


def codec_for(label: str | None) -> str | None:
    """The codec to decode with for a charset label, as browsers read the label; None for
    no label, one Python does not know, and one browsers refuse.

    >>> codec_for("ISO-8859-1"), codec_for("UTF-16LE"), codec_for("Shift_JIS")
    ('windows-1252', 'utf-8', 'Shift_JIS')
    >>> codec_for("utf-7"), codec_for("rot13"), codec_for("undefined"), codec_for("x-nope")
    (None, None, None, None)
    """
    label = (label or "").strip().strip("\"'")
    if not label:
        return None
    try:
        codec = codecs.lookup(label).name
        "a".encode(codec)  # rot13, base64, zlib and the like encode no text: LookupError
    except (LookupError, UnicodeError):
        return None
    if codec in _REFUSED:
        return None
    if codec in _READ_AS_WINDOWS_1252:
        return "windows-1252"  # browsers read these labels as its superset, and so do we
    if codec.startswith(("utf-16", "utf-32")):
        return "utf-8"  # a BOM-less UTF-16 label on ASCII-compatible bytes is wrong (HTML)
    return label


def _document_charset(data: bytes) -> tuple[str, str | None]:
    """Where the document declares its charset, and the codec: ``<meta charset>``, or
    else the XML declaration."""
    head = data[:_META_SCAN]
    for where, pattern in (("<meta charset>", _META_CHARSET), ("XML declaration", _XML_ENCODING)):
        match = pattern.search(head)
        codec = codec_for(match.group(1).decode("ascii")) if match else None
        if codec:
            return where, codec
    return "<meta charset>", None


def _detect(data: bytes) -> str:
    """The likeliest encoding; Windows-1252 wins ties, as in browsers of Western locales
    (a match stands for every encoding that reads the bytes alike: Windows-1250's may be
    Windows-1252's too)."""
    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        return "windows-1252"
    best = matches[0]
    for match in matches:
        tied = match.chaos <= best.chaos + _TIE and match.coherence >= best.coherence - _TIE
        if tied and "cp1252" in match.could_be_from_charset:
            return "windows-1252"
    return best.encoding


def repair_mojibake(text: str) -> str:
    """Re-decode runs of characters that are UTF-8 bytes misread as Windows-1252."""
    return _MOJIBAKE.sub(_redecode, text)


def _redecode(match: re.Match[str]) -> str:
    run = match.group()
    try:
        fixed = b"".join(_cp1252_byte(char) for char in run).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return run
    # Two characters can be genuine ("Spaß“" is ß and “, which also read as UTF-8), so a
    # two-byte repair is trusted only when it yields a Latin letter or a punctuation mark.
    if len(run) == 2 and not _PLAUSIBLE.fullmatch(fixed):
        return run
    return fixed


def _cp1252_byte(char: str) -> bytes:
    try:
        return char.encode("windows-1252")
    except UnicodeEncodeError:
        return char.encode("latin-1")  # the five bytes Windows-1252 leaves undefined
