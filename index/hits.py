"""What every engine shows of a record it found: a `Hit` from the record's stored fields,
the exact-word check of phrase candidates, and facet counts over checked records.

The stored fields are the same whichever engine keeps them (`index.build.stored_fields`):
``id``, ``type``, ``document_id``, the quote's ``text``, ``speaker``, ``role``, ``via`` and
``anonymous``, the document's ``title`` and ``lead``, and the shared ``publisher``,
``kind``, ``lang``, ``url``, ``published``, ``captured`` and ``month``.
"""

from __future__ import annotations

import heapq
import html
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from index.textmatch import TextMatch

__all__ = ["FACET_LIMIT", "MONTH_LIMIT", "Hit", "Pending", "Records", "dated", "top_facets"]

FACET_LIMIT = 20
MONTH_LIMIT = 36
FACET_NAMES = ("speaker", "publisher", "kind", "month")


@dataclass(frozen=True)
class Hit:
    """One quote or document found; ``snippet`` is safe HTML with matches in ``<mark>``."""

    type: str
    id: str
    score: float
    text: str
    snippet: str
    speaker: str | None
    role: str | None
    anonymous: bool
    publisher: str | None
    via: str | None
    kind: str | None
    published: datetime | None
    captured: datetime
    url: str
    document_id: str
    title: str | None


class Records:
    """Turns stored fields into hits; ``text_loader(document_id)`` returns a document's
    body (bodies are not stored in the index)."""

    def __init__(self, text_loader: Callable[[str], str | None] | None) -> None:
        self._text_loader = text_loader
        self._bodies: dict[str, str | None] | None = None

    @contextmanager
    def remembering(self) -> Iterator[None]:
        """Load each body once inside the block (one search: a document's phrases are
        checked against its body, then its snippet is cut from it)."""
        self._bodies = {}
        try:
            yield
        finally:
            self._bodies = None

    def accepts(self, stored: dict, match: TextMatch) -> bool:
        """Whether the record holds the query's phrases word for word."""
        if stored["type"] == "quote":
            return match.accepts([stored.get("text"), stored.get("speaker")])
        return match.accepts([stored.get("title"), self._body(stored["id"])])

    def _body(self, document_id: str) -> str | None:
        if self._text_loader is None:
            return None
        bodies = self._bodies
        if bodies is None:
            return self._text_loader(document_id)
        if document_id not in bodies:
            bodies[document_id] = self._text_loader(document_id)
        return bodies[document_id]

    def hit(self, stored: dict, score: float, match: TextMatch) -> Hit:
        published = stored.get("published")
        if stored["type"] == "quote":
            text = stored["text"]
            snippet = match.snippet(text)
        else:
            text = stored.get("title") or stored.get("lead") or ""
            snippet = self._document_snippet(stored, match)
        return Hit(
            type=stored["type"],
            id=stored["id"],
            score=score,
            text=text,
            snippet=snippet,
            speaker=stored.get("speaker") or None,
            role=stored.get("role") or None,
            anonymous=bool(stored.get("anonymous")),
            publisher=stored.get("publisher") or None,
            via=stored.get("via") or None,
            kind=stored.get("kind") or None,
            published=datetime.fromisoformat(published) if published else None,
            captured=datetime.fromisoformat(stored["captured"]),
            url=stored["url"],
            document_id=stored["document_id"],
            title=stored.get("title") or stored.get("document_title") or None,
        )

    def _document_snippet(self, stored: dict, match: TextMatch) -> str:
        body = self._body(stored["id"]) or stored.get("lead") or ""
        snippet = match.snippet(body)
        title = stored.get("title") or ""
        if "<mark>" not in snippet and title:
            titled = match.snippet(title)
            if "<mark>" in titled:
                return titled
        return snippet or html.escape(title)


class Pending:
    """The stored fields of a record found, read when first asked for: each shard offers
    as many records as a page shows, and the page takes some of them.

    ``date`` is the record's date in whole seconds, as the engines sort by it (`dated`);
    an engine that sorted by it gives it, so that ordering the page needs no read."""

    __slots__ = ("_date", "_read", "_stored")

    def __init__(self, read: Callable[[], dict], date: int | None = None) -> None:
        self._read = read
        self._stored: dict | None = None
        self._date = date

    @property
    def stored(self) -> dict:
        if self._stored is None:
            self._stored = self._read()
        return self._stored

    @property
    def date(self) -> int:
        if self._date is None:
            self._date = dated(self.stored)
        return self._date


def dated(stored: dict) -> int:
    """The record's date in whole seconds, as the engines sort by it."""
    return int(datetime.fromisoformat(stored.get("published") or stored["captured"]).timestamp())


def top_facets(counts: dict[str, Counter]) -> dict[str, list[tuple[str, int]]]:
    """The facets shown: most frequent values first (equal counts in the order of their
    values), months newest first."""
    shown = {}
    for facet in FACET_NAMES:
        found = counts.get(facet, Counter())
        found.pop("", None)
        if facet == "month":
            shown[facet] = sorted(found.items(), reverse=True)[:MONTH_LIMIT]
        else:
            shown[facet] = heapq.nsmallest(
                FACET_LIMIT, found.items(), key=lambda item: (-item[1], item[0])
            )
    return shown


def stored_facets(records: Iterable[dict]) -> dict[str, Counter]:
    """Facet counts over the stored fields of ``records`` (a few hundred checked ones)."""
    counts = {facet: Counter() for facet in FACET_NAMES}
    for stored in records:
        for facet in FACET_NAMES:
            counts[facet][stored.get(facet) or ""] += 1
    return counts
