"""Text and metadata of a PDF payload, with pypdf; no OCR, so scans yield no text.

Each paragraph keeps the number of the page it stands on, so that a quote can link to its
page of the archived PDF (``#page=N``) and its citation can name it.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from scrapers.metadata import split_authors

log = logging.getLogger(__name__)

PDF_MAGIC = b"%PDF-"
# What one PDF may yield: a 75 KB PDF can list one page a thousand times and inflate each
# to 70 MB of text. A statement or report of dense text holds some 3,000 characters a
# page, so these let a 1,000-page report through whole; a PDF beyond them is cut short,
# and its problems say so.
MAX_PAGES = 1_000
MAX_CHARS = 3_000_000
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_HYPHENATED = re.compile(r"(\w)-\n(\w)")
# D:YYYYMMDDHHmmSS+HH'mm' with everything after the year optional.
_PDF_DATE = re.compile(
    r"D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:([Zz+-])(\d{2})?'?(\d{2})?'?)?"
)


@dataclass(frozen=True)
class PdfText:
    paragraphs: tuple[str, ...]
    pages: tuple[int, ...] = ()  # the page of each paragraph, counted from 1
    title: str | None = None
    authors: tuple[str, ...] = ()
    published: datetime | None = None
    modified: datetime | None = None
    problems: tuple[str, ...] = ()


def is_pdf(data: bytes, content_type: str | None) -> bool:
    declared = (content_type or "").split(";")[0].strip().lower() == "application/pdf"
    return declared or data[:1024].lstrip().startswith(PDF_MAGIC)


def pdf_text(data: bytes) -> PdfText:
    """Paragraphs of a PDF's text layer and its document-info metadata."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            reader.decrypt("")
        pages, cut = _page_texts(reader)
        info = reader.metadata or {}
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, NotImplementedError) as exc:
        log.info("PDF could not be read: %s", exc)
        return PdfText((), problems=(f"PDF could not be read: {exc}",))
    numbered = [(n, text) for n, page in enumerate(pages, start=1) for text in _paragraphs(page)]
    blank = [str(n) for n, page in enumerate(pages, start=1) if not page.strip()]
    problems = [cut] if cut else []
    if not numbered:
        problems.append("PDF has no text layer")
    elif blank:
        problems.append(f"PDF pages without a text layer (scans?), left out: {', '.join(blank)}")
    return PdfText(
        paragraphs=tuple(text for _, text in numbered),
        pages=tuple(n for n, _ in numbered),
        title=_info(info, "/Title"),
        authors=split_authors(_info(info, "/Author") or ""),
        published=pdf_date(_info(info, "/CreationDate")),
        modified=pdf_date(_info(info, "/ModDate")),
        problems=tuple(problems),
    )


def _page_texts(reader: PdfReader) -> tuple[list[str], str | None]:
    """The text of each page in order, within ``MAX_PAGES`` and ``MAX_CHARS``, and why the
    PDF was cut short (None when it was not). A page the page tree lists again ends it: a
    document never shows one page twice, a PDF made to exhaust its reader does."""
    texts: list[str] = []
    seen: set[tuple[int, int]] = set()
    chars = 0
    for number, page in enumerate(reader.pages, start=1):
        if number > MAX_PAGES:
            return texts, f"PDF cut short after its first {MAX_PAGES:,} pages"
        reference = page.indirect_reference
        if reference is not None:
            if (reference.idnum, reference.generation) in seen:
                return texts, f"PDF cut short at page {number}, which repeats an earlier page"
            seen.add((reference.idnum, reference.generation))
        text = page.extract_text() or ""
        if chars + len(text) > MAX_CHARS:
            texts.append(text[: MAX_CHARS - chars])
            return texts, f"PDF cut short at page {number}: more than {MAX_CHARS:,} characters"
        texts.append(text)
        chars += len(text)
    return texts, None


def _paragraphs(page: str) -> list[str]:
    """Blank-line separated blocks, with line breaks inside them kept as single newlines."""
    text = _HYPHENATED.sub(r"\1\2", page.replace("\r\n", "\n").replace("\r", "\n"))
    blocks = (
        "\n".join(" ".join(line.split()) for line in block.split("\n") if line.strip())
        for block in _PARAGRAPH_BREAK.split(text)
    )
    return [block for block in blocks if block]


def _info(info: object, key: str) -> str | None:
    value = info.get(key) if hasattr(info, "get") else None
    text = " ".join(str(value).split()) if value is not None else ""
    return text or None


def pdf_date(value: str | None) -> datetime | None:
    """A PDF date string as an aware UTC datetime.

    >>> pdf_date("D:20191118103000+01'00'")
    datetime.datetime(2019, 11, 18, 9, 30, tzinfo=datetime.timezone.utc)
    """
    match = _PDF_DATE.match(value or "")
    if not match:
        return None
    year, month, day, hour, minute, second, sign, zone_h, zone_m = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    offset = (int(zone_h or 0) * 60 + int(zone_m or 0)) * (-1 if sign == "-" else 1)
    return moment - timedelta(minutes=offset) if sign in ("+", "-") else moment
