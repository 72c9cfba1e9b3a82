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
from dataclasses import dataclass, field
from datetime import datetime

import lxml.html
from lxml import etree

from archive.models import Paragraph
from scrapers.extract_body import article_paragraphs
from scrapers.extract_decode import decode, is_binary
from scrapers.extract_pdf import is_pdf, pdf_text
from scrapers.metadata import Metadata, page_metadata

__all__ = ["EXTRACTOR", "Extracted", "extract", "paragraph_spans"]

log = logging.getLogger(__name__)

EXTRACTOR = "onrecord-extract/1"
MAX_CHARS = 8_000_000  # larger pages are cut here: no article needs more
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_PLAIN_TEXT = ("text/plain",)


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
        problems.append(f"page cut to its first {MAX_CHARS:,} characters")
        text = text[:MAX_CHARS]
    if _media_type(content_type) in _PLAIN_TEXT:
        return _assemble(_plain_paragraphs(text), Metadata(), problems)
    return _from_html(text, url, problems)


def _from_html(text: str, url: str | None, problems: list[str]) -> Extracted:
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
    try:
        tree = lxml.html.document_fromstring(_XML_DECLARATION.sub("", text), parser=parser)
    except (etree.ParserError, ValueError) as exc:
        return Extracted("", problems=(*problems, f"not HTML: {exc}"))
    metadata = page_metadata(tree, url)
    paragraphs = article_paragraphs(tree, url, metadata.title)
    if not paragraphs:
        problems.append("no article body found")
    return _assemble(paragraphs, metadata, [*problems, *metadata.problems])


def _from_pdf(data: bytes) -> Extracted:
    found = pdf_text(data)
    metadata = Metadata(
        title=found.title,
        authors=found.authors,
        published=found.published,
        modified=found.modified,
    )
    return _assemble(list(found.paragraphs), metadata, list(found.problems))


def _assemble(paragraphs: list[str], metadata: Metadata, problems: list[str]) -> Extracted:
    paragraphs = [clean for clean in (_one_paragraph(p) for p in paragraphs) if clean]
    text = "\n\n".join(paragraphs)
    return Extracted(
        text=text,
        paragraphs=paragraph_spans(paragraphs),
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
    """A paragraph never holds a blank line, or the offsets would not round-trip."""
    return "\n".join(line.strip() for line in text.strip().split("\n") if line.strip())


def paragraph_spans(paragraphs: list[str]) -> tuple[Paragraph, ...]:
    """Offsets of each paragraph in ``"\\n\\n".join(paragraphs)``.

    >>> paragraph_spans(["ab", "c"])
    (Paragraph(start=0, end=2), Paragraph(start=4, end=5))
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
