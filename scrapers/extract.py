"""An archived payload (HTML or PDF) -> its article text, paragraphs and metadata.

``extract`` is pure: no network, no clock, and it never raises on bad input. What it could
not find is stated in ``problems``, and ``ok`` is False whenever no body text was found, so
an empty body is never passed off as a success.

    >>> page = b"<html lang=en><title>T</title><article><p>One.</p><p>Two.</p></article>"
    >>> result = extract(page, "https://example.org/a", "text/html")
    >>> result.ok, result.language
    (True, 'en')
    >>> extract(b"\\x89PNG\\r\\n\\x1a\\n", None, "image/png").problems
    ('not HTML: binary data (image/png)',)
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime

import lxml.html
from lxml import etree

from archive.models import Paragraph
from scrapers.charset import decode, is_binary
from scrapers.extract_body import TUNING, Candidates, Tuning, candidates, choose
from scrapers.extract_pdf import is_pdf, pdf_text
from scrapers.metadata import Metadata, page_metadata

__all__ = ["EXTRACTOR", "Extracted", "Prepared", "extract", "paragraph_spans", "prepare"]

log = logging.getLogger(__name__)

EXTRACTOR = "onrecord-extract/2"
# Larger pages lose their scripts, styles and drawings, then are cut here: an article
# needs far less, and the time to read a page grows faster than its size.
MAX_CHARS = 2_000_000
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_PLAIN_TEXT = ("text/plain",)
# Markup that never holds article text (JSON-LD, which holds metadata, is kept): where
# each opens, and what closes it. A comment closes at "--!>" too, and "<!-->" closes
# itself, as in browsers: its closing is searched for from the opening's own "--".
_INERT_OPEN = re.compile(r"<(script|style|svg)\b|<!--", re.IGNORECASE)
_INERT_CLOSE = {
    "script": re.compile(r"</script\s*>", re.IGNORECASE),
    "style": re.compile(r"</style\s*>", re.IGNORECASE),
    "svg": re.compile(r"</svg\s*>", re.IGNORECASE),
    "comment": re.compile(r"--!?>"),
}
_LD_JSON = re.compile(r"ld\+json", re.IGNORECASE)
_SOFT_HYPHEN = "\u00ad"


@dataclass(frozen=True)
class Extracted:
    """What one extraction found in one payload; offsets in ``paragraphs`` index ``text``."""

    text: str
    paragraphs: tuple[Paragraph, ...] = ()
    title: str | None = None
    authors: tuple[str, ...] = ()
    publisher: str | None = None
    published: datetime | None = None  # aware, UTC; a bare date is midnight UTC
    modified: datetime | None = None
    language: str | None = None
    canonical_url: str | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when a non-empty body was found."""
        return bool(self.text.strip())


def extract(
    data: bytes | str, url: str | None = None, content_type: str | None = None
) -> Extracted:
    """Extract the article of one payload; ``content_type`` is the HTTP header, if known."""
    found = prepare(data, url, content_type)
    return found.finish(TUNING) if isinstance(found, Prepared) else found


@dataclass(frozen=True)
class Prepared:
    """An HTML page read and analysed, before the body finder's choice (which the benchmark
    makes under several settings without reading the page again)."""

    candidates: Candidates
    metadata: Metadata
    problems: tuple[str, ...]

    def finish(self, tuning: Tuning) -> Extracted:
        paragraphs = choose(self.candidates, tuning)
        problems = [*self.problems, *self.metadata.problems]
        if not paragraphs:
            problems.append("no article body found")
        return _assemble(paragraphs, self.metadata, problems)


def prepare(
    data: bytes | str, url: str | None = None, content_type: str | None = None
) -> Extracted | Prepared:
    """The extraction of a payload, or for an HTML page what its body finder chooses from."""
    if isinstance(data, bytes):
        if not data.strip():
            return Extracted("", problems=("empty document",))
        if is_pdf(data, content_type):
            return _from_pdf(data)
        if is_binary(data):
            kind = _media_type(content_type) or "unknown type"
            return Extracted("", problems=(f"not HTML: binary data ({kind})",))
        decoded = decode(data, content_type)
        text, problems = decoded.text, list(decoded.problems)
    else:
        text, problems = data, []
    if not text.strip():
        return Extracted("", problems=("empty document",))
    if len(text) > MAX_CHARS:
        text = _without_inert(text)
    if len(text) > MAX_CHARS:
        problems.append(f"page cut to its first {MAX_CHARS:,} characters")
        text = text[:MAX_CHARS]
    if _media_type(content_type) in _PLAIN_TEXT:
        return _assemble(_plain_paragraphs(text), Metadata(), problems)
    return _from_html(text, url, problems)


def _without_inert(text: str) -> str:
    """The page without its scripts (JSON-LD kept), styles, drawings and comments.

    The page is read once, from start to end: each search starts where the last one ended,
    and a closing searched for in vain is not searched for again.

    >>> _without_inert("<p>a<!-- b --></p><SCRIPT src=x>c</script ><svg/><p>d<style>e")
    '<p>a</p><p>d'
    """
    pieces, position = [], 0
    unclosed: set[str] = set()  # kinds with no closing left in the rest of the page
    while (opening := _INERT_OPEN.search(text, position)) is not None:
        start, end = _inert_span(text, opening, unclosed)
        pieces.append(text[position:start])
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _inert_span(text: str, opening: re.Match[str], unclosed: set[str]) -> tuple[int, int]:
    """Where the element that ``opening`` starts lies, to be left out; an empty span after
    its start tag when it is kept (JSON-LD; an SVG never closed, which browsers end at the
    next HTML tag, as lxml does). A script, style or comment never closed runs to the end
    of the page, as in browsers, and so does a start tag never closed."""
    kind = (opening.group(1) or "comment").lower()
    inside = opening.end()
    if kind in ("script", "svg"):
        tag_end = text.find(">", inside)
        if tag_end < 0:
            return opening.start(), len(text)
        inside = tag_end + 1
        if kind == "script" and _LD_JSON.search(text, opening.end(), tag_end):
            return inside, inside
        if kind == "svg" and text[tag_end - 1] == "/":  # <svg/>: closed by its own tag
            return opening.start(), inside
    elif kind == "comment":
        inside -= 2  # from the opening's own "--"
    closing = None if kind in unclosed else _INERT_CLOSE[kind].search(text, inside)
    if closing is not None:
        return opening.start(), closing.end()
    unclosed.add(kind)
    if kind == "svg":
        return inside, inside
    return opening.start(), len(text)


def _from_html(text: str, url: str | None, problems: list[str]) -> Extracted | Prepared:
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
    try:
        tree = lxml.html.document_fromstring(_XML_DECLARATION.sub("", text), parser=parser)
    except (etree.ParserError, ValueError) as exc:
        return Extracted("", problems=(*problems, f"not HTML: {exc}"))
    metadata = page_metadata(tree, url)
    found = candidates(tree, url, metadata.title, metadata.article_body)
    return Prepared(found, metadata, tuple(problems))


def _from_pdf(data: bytes) -> Extracted:
    found = pdf_text(data)
    metadata = Metadata(
        title=found.title,
        authors=found.authors,
        published=found.published,
        modified=found.modified,
    )
    return _assemble(list(found.paragraphs), metadata, list(found.problems), found.pages)


def _assemble(
    paragraphs: list[str],
    metadata: Metadata,
    problems: list[str],
    pages: tuple[int, ...] = (),
) -> Extracted:
    """The extraction of cleaned paragraphs; ``pages`` numbers a PDF's, one per paragraph."""
    cleaned = [_one_paragraph(p) for p in paragraphs]
    kept = [i for i, clean in enumerate(cleaned) if clean]
    paragraphs = [cleaned[i] for i in kept]
    text = "\n\n".join(paragraphs)
    spans = paragraph_spans(paragraphs)
    if pages:
        spans = tuple(replace(span, page=pages[i]) for span, i in zip(spans, kept, strict=True))
    return Extracted(
        text=text,
        paragraphs=spans,
        title=metadata.title,
        authors=metadata.authors,
        publisher=metadata.publisher,
        published=metadata.published,
        modified=metadata.modified,
        language=metadata.language,
        canonical_url=metadata.canonical_url,
        problems=tuple(dict.fromkeys(problems)),
    )


def _one_paragraph(text: str) -> str:
    """A paragraph never holds a blank line, or the offsets would not round-trip; soft
    hyphens, which a browser shows only where it breaks a word, are left out."""
    text = text.replace(_SOFT_HYPHEN, "")
    return "\n".join(line.strip() for line in text.strip().split("\n") if line.strip())


def paragraph_spans(paragraphs: list[str]) -> tuple[Paragraph, ...]:
    """Offsets of each paragraph in ``"\\n\\n".join(paragraphs)``.

    >>> paragraph_spans(["ab", "c"])
    (Paragraph(start=0, end=2, page=None), Paragraph(start=4, end=5, page=None))
    """
    spans, start = [], 0
    for paragraph in paragraphs:
        spans.append(Paragraph(start, start + len(paragraph)))
        start += len(paragraph) + 2
    return tuple(spans)


def _plain_paragraphs(text: str) -> list[str]:
    return re.split(r"\n\s*\n", text.replace("\r\n", "\n"))


def _media_type(content_type: str | None) -> str | None:
    media = (content_type or "").split(";")[0].strip().lower()
    return media or None
