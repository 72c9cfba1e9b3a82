"""The archive's records, as frozen dataclasses.

Times are timezone-aware UTC datetimes. Offsets are Python string indices into the text
of the extraction they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

KINDS = ("statement", "news", "blog")
# What a capture was fetched for: an article page, a host's robots.txt, a source's feed,
# sitemap or listing page, or a resource that a page loaded in a browser. Only pages
# become documents; every kind is kept in the WARCs and listed with the captures.
CAPTURE_KINDS = ("page", "robots", "feed", "sitemap", "listing", "resource")


@dataclass(frozen=True)
class Capture:
    """One HTTP exchange as received, stored in a WARC file."""

    id: str
    url: str
    canonical_url: str
    captured_at: datetime
    status: int
    content_type: str
    payload_digest: str  # "sha256:<hex>" of the payload as received
    payload_length: int
    warc_file: str
    warc_offset: int
    warc_length: int
    warc_record_id: str
    record_type: str = "response"  # or "revisit"
    refers_to: str | None = None  # for a revisit: the capture whose payload it repeats
    etag: str | None = None
    last_modified: str | None = None
    location: str | None = None  # the Location header of a redirect
    source: str | None = None
    kind: str = "page"  # one of CAPTURE_KINDS
    run_id: str | None = None  # the source's run that made it, if one did


@dataclass(frozen=True)
class Document:
    """A page or file at one canonical URL, over all its versions."""

    id: str
    canonical_url: str
    url: str
    first_captured: datetime
    last_captured: datetime
    source: str | None = None
    publisher: str | None = None
    kind: str | None = None  # one of KINDS
    state: str = "live"  # "live" or "taken_down"
    latest_version_id: str | None = None


@dataclass(frozen=True)
class Version:
    """A distinct state of a document's text, first seen in one capture."""

    id: str
    document_id: str
    capture_id: str
    seq: int
    created_at: datetime


@dataclass(frozen=True)
class Paragraph:
    start: int
    end: int
    page: int | None = None  # the PDF page it stands on, counted from 1


@dataclass(frozen=True)
class Extraction:
    """What one extractor made of one version: the text quotes' offsets point into."""

    id: str
    version_id: str
    extractor: str
    created_at: datetime
    text: str
    paragraphs: tuple[Paragraph, ...] = ()
    title: str | None = None
    authors: tuple[str, ...] = ()
    publisher: str | None = None
    published: datetime | None = None
    modified: datetime | None = None
    language: str | None = None
    canonical_url: str | None = None
    problems: tuple[str, ...] = ()  # why something could not be found


@dataclass(frozen=True)
class Speaker:
    """A person or organisation quoted; anonymous speakers belong to one document."""

    id: str
    name: str
    anonymous: bool = False
    document_id: str | None = None  # set for anonymous speakers only
    roles: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Quote:
    """One direct quote in one extraction of a document."""

    id: str
    document_id: str
    extraction_id: str
    start: int
    end: int
    text: str
    speaker_id: str | None = None
    speaker: str | None = None  # the resolved name
    speaker_mention: str | None = None
    speaker_start: int | None = None
    speaker_end: int | None = None
    role: str | None = None
    cue: str | None = None
    via: str | None = None  # the outlet it was reported through, where the text says so
    anonymous: bool = False
    unclosed: bool = False
    method: str = "rule"
    confidence: float = 1.0


@dataclass(frozen=True)
class Event:
    """An edit, takedown or restore of a document."""

    type: str  # "edited", "taken_down" or "restored"
    document_id: str
    url: str
    at: datetime
    capture_id: str | None = None
