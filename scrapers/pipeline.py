"""One scrape: discover -> fetch -> store -> extract -> quotes.

Fetching goes through :mod:`scrapers.http`, storage through :mod:`archive.store`, and the
pure parsers (:mod:`scrapers.extract`, :mod:`scrapers.quotes`) turn each stored capture
into a document version with its text and quotes. Indexing is not done here (scrapers do
not know the index): every call returns the ids of the documents it changed, and the
composition root (the ``onrecord`` command, the web app) updates the index with them.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from archive import ids
from archive.catalog import Catalog, CatalogConflict, CatalogError, Failure
from archive.models import Capture, Document, Event, Extraction, Quote, Speaker, Version
from archive.store import ArchiveError, Store, crash_point
from archive.warc import PLAIN_PAGE, Fetched, HttpExchange, Rendering, WarcError
from scrapers.discover import discover
from scrapers.errors import (
    ConnectionFailed,
    DiscoveryError,
    FetchError,
    RobotsDisallowed,
    RobotsUnavailable,
)
from scrapers.extract import EXTRACTOR, Extracted, extract
from scrapers.http import Exchange, PoliteSession, Recorder
from scrapers.quotes import ATTRIBUTOR, find_quotes
from scrapers.quotes_speakers import settle_speaker
from scrapers.sources import Source

if TYPE_CHECKING:
    from scrapers.browser import BrowserCapture, BrowserSession

log = logging.getLogger(__name__)

_TEXTUAL = ("text/html", "application/xhtml+xml", "application/pdf", "text/plain", "")
_GONE = (404, 410)
# How often processing a capture is tried when it deadlocks with another process's.
PROCESS_ATTEMPTS = 3
# The archive's own errors (its catalog, its WARC storage): never a source's fault.
_ARCHIVE_ERRORS = (ArchiveError, CatalogError, WarcError)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Outcome:
    """What a fetch, a processing step or a run did."""

    captures: list[Capture] = field(default_factory=list)  # of the pages asked for
    # what else was kept on the way (robots.txt, feeds, sitemaps, listing pages)
    kept: list[Capture] = field(default_factory=list)
    changed_documents: set[str] = field(default_factory=set)
    new_versions: int = 0
    events: list[Event] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    # the failures that are robots.txt refusals: politeness working, not a broken run
    refused: list[Failure] = field(default_factory=list)

    def merge(self, other: Outcome) -> None:
        self.captures += other.captures
        self.kept += other.kept
        self.changed_documents |= other.changed_documents
        self.new_versions += other.new_versions
        self.events += other.events
        self.failures += other.failures
        self.refused += other.refused

    @property
    def failed(self) -> list[Failure]:
        """The failures a run should answer for in its exit status (all but refusals)."""
        return [f for f in self.failures if not any(f is r for r in self.refused)]


def _exchange(hop: Exchange) -> HttpExchange:
    return HttpExchange(
        url=hop.url,
        fetched_at=hop.fetched_at,
        status=hop.status,
        reason=hop.reason,
        headers=hop.headers,
        payload=hop.raw_body,
        http_version=hop.http_version,
        method=hop.method,
        request_headers=hop.request_headers,
        remote_ip=hop.remote_ip,
    )


@dataclass(frozen=True)
class Readers:
    """The pure parsers a pipeline runs on what it stored, and the release they form.

    The release name is stored with every extraction: a new release makes a new
    extraction of each version when re-extracted, and the old one stays resolvable."""

    extract: Callable[..., Extracted] = extract
    find_quotes: Callable[..., list] = find_quotes
    release: str = f"{EXTRACTOR}+{ATTRIBUTOR}"


class Pipeline:
    """Fetches into one archive and turns what it stored into documents and quotes."""

    def __init__(
        self,
        store: Store,
        session: PoliteSession | None,
        *,
        clock: Clock = utcnow,
        readers: Readers = Readers(),
        browser: BrowserSession | None = None,
    ) -> None:
        self.store = store
        self.catalog: Catalog = store.catalog
        self.session = session
        self.clock = clock
        self.readers = readers
        self.browser = browser  # for sources with render = "browser", and --browser

    # -- fetching -----------------------------------------------------------------------

    def capture(
        self,
        url: str,
        source: Source | None = None,
        *,
        browser: bool | None = None,
        run_id: str | None = None,
    ) -> Outcome:
        """Fetch one URL (conditionally, when it was captured before), store every
        exchange as it arrives (robots.txt, each redirect hop, retried answers, the
        final one), and process what was stored. A failed fetch is recorded as a failure
        row, and what it received is kept all the same. ``run_id`` names the source's
        run that asks, kept with each capture and failure.

        In a browser (`browser=True`, or a source with ``render = "browser"``) the page
        is rendered and everything it fetched is stored with its DOM and screenshot."""
        if browser if browser is not None else (source is not None and source.render == "browser"):
            return self._capture_in_browser(url, source, run_id)
        outcome = Outcome()
        name = source.name if source else None
        previous = self._latest_response(ids.canonical_url(url))
        record = self.recorder(name, run_id, outcome)
        try:
            self.session.fetch(
                url,
                etag=previous.etag if previous else None,
                last_modified=previous.last_modified if previous else None,
                record=record,
            )
        except FetchError as exc:
            self._failed_fetch(url, name, run_id, exc, outcome)
        for capture in [*outcome.kept, *outcome.captures]:
            outcome.merge(self.process(capture, source))
        return outcome

    def recorder(self, source: str | None, run_id: str | None, outcome: Outcome) -> Recorder:
        """What a fetch hands each exchange to: it is stored at once (as a revisit when
        an earlier capture of its URL had the same payload) with the fetch's kind and
        ``run_id``, and its capture added to ``outcome`` (a page's to its captures,
        robots.txt and discovery's to what it kept)."""

        def record(hop: Exchange, kind: str) -> None:
            previous = None
            if hop.status in (200, 304):
                previous = self._latest_response(ids.canonical_url(hop.url))
            capture = self._save(hop, source, previous, fetched=Fetched(kind, run_id))
            (outcome.captures if kind == "page" else outcome.kept).append(capture)

        return record

    def _failed_fetch(
        self,
        url: str,
        source: str | None,
        run_id: str | None,
        exc: FetchError,
        outcome: Outcome,
        *,
        in_browser: bool = False,
    ) -> None:
        failure = Failure(
            url=url,
            source=source,
            at=self.clock(),
            reason=exc.reason,
            status=getattr(exc, "status", None),
            run_id=run_id,
        )
        with self.catalog.transaction():
            self.catalog.add_failure(failure)
        where = " in the browser" if in_browser else ""
        log.warning("could not capture %s%s: %s", url, where, exc.reason)
        outcome.failures.append(failure)
        if isinstance(exc, RobotsDisallowed) and not isinstance(exc, RobotsUnavailable):
            outcome.refused.append(failure)

    def _capture_in_browser(self, url: str, source: Source | None, run_id: str | None) -> Outcome:
        """Render one URL in the browser; store its hops (the last with the DOM and the
        screenshot), then every resource it fetched, and process the page. Nothing but
        the host's robots.txt is stored unless the browser finished the page."""
        outcome = Outcome()
        name = source.name if source else None
        try:
            if self.browser is None:
                raise ConnectionFailed(url, "no browser is available for browser captures")
            # robots.txt read here, not inside the browser, so that it is kept too
            self.session.allowed(url, record=self.recorder(name, run_id, outcome))
            rendered = self.browser.capture(url)
        except FetchError as exc:
            self._failed_fetch(url, name, run_id, exc, outcome, in_browser=True)
            for capture in outcome.kept:
                self.process(capture, source)
            return outcome
        fetched = Fetched("page", run_id)
        pages = self._save_rendered(rendered, name, fetched)
        resources = []
        for hop in rendered.resources:
            try:
                canonical = ids.canonical_url(hop.url)
            except ids.InvalidURL:
                log.warning("%s fetched %s, which cannot be archived", url, hop.url)
                continue
            resources.append(
                self._save(
                    hop, name, self._latest_response(canonical), fetched=Fetched("resource", run_id)
                )
            )
        with self.catalog.transaction():
            for capture in resources:  # what a page needs, not pages of their own
                self.catalog.mark_processed(capture.id)
        for capture in outcome.kept:  # robots.txt
            self.process(capture, source)
        outcome.captures += pages + resources
        for capture in pages:
            outcome.merge(self.process(capture, source))
        for refused in rendered.refused:
            log.warning("%s: refused %s", url, refused)
        return outcome

    def _save_rendered(
        self, rendered: BrowserCapture, source: str | None, fetched: Fetched
    ) -> list[Capture]:
        previous = self._latest_response(ids.canonical_url(rendered.url))
        rendering = Rendering(
            dom=rendered.dom, screenshot=rendered.screenshot, rendered_at=rendered.rendered_at
        )
        return [
            self._save(hop, source, previous, rendering, fetched=fetched)
            if hop is rendered.final
            else self._save(hop, source, None, fetched=fetched)
            for hop in rendered.hops
        ]

    def _latest_response(self, canonical: str) -> Capture | None:
        for capture in reversed(self.catalog.captures_of_url(canonical)):
            if capture.record_type == "response" and capture.status == 200:
                return capture
        return None

    def _save(
        self,
        hop: Exchange,
        source: str | None,
        previous: Capture | None,
        rendering: Rendering | None = None,
        *,
        fetched: Fetched = PLAIN_PAGE,
    ) -> Capture:
        exchange = _exchange(hop)
        if previous is not None:
            same = hop.status == 304 or (
                hop.status == 200
                and "sha256:" + hashlib.sha256(hop.raw_body).hexdigest() == previous.payload_digest
            )
            if same:
                return self.store.save_capture(
                    exchange,
                    source=source,
                    revisit_of=previous,
                    rendering=rendering,
                    fetched=fetched,
                )
        return self.store.save_capture(
            exchange, source=source, rendering=rendering, fetched=fetched
        )

    # -- processing ---------------------------------------------------------------------

    def process_pending(
        self, sources: Iterable[Source] = (), *, only: Source | None = None
    ) -> Outcome:
        """Process every stored capture not yet processed (after a crash, an import…);
        a capture that names its source gets that source's definition among ``sources``
        (its kind and publisher), as when it was scraped. For one source's run (``only``),
        just its own captures and those of no source: another process may be scraping
        another source into the same catalog right now."""
        by_name = {source.name: source for source in sources}
        if only is not None:
            by_name[only.name] = only
        outcome = Outcome()
        for capture in self.catalog.unprocessed_captures():
            if only is None or capture.source in (None, only.name):
                outcome.merge(self.process(capture, by_name.get(capture.source or "")))
        return outcome

    def process(self, capture: Capture, source: Source | None) -> Outcome:
        """Turn one stored capture into document state: a version, an event, or nothing.
        A transaction that deadlocked with another process's is run again."""
        attempt = 1
        while True:
            try:
                return self._process(capture, source)
            except CatalogConflict as exc:
                if attempt == PROCESS_ATTEMPTS:
                    raise
                attempt += 1
                log.info("processing %s again: %s", capture.id, exc)

    def _process(self, capture: Capture, source: Source | None) -> Outcome:
        outcome = Outcome()
        with self.catalog.transaction():
            if not self.catalog.claim_capture(capture.id):
                return outcome  # processed already, or being processed by another process
            if capture.kind != "page":
                pass  # robots.txt, a feed, a sitemap, a listing, a resource: never a document
            elif capture.status in _GONE or 300 <= capture.status < 400:
                self._gone(capture, outcome)
            elif capture.status in (200, 304) and self._textual(capture):
                self._page(capture, source, outcome)
            self.catalog.mark_processed(capture.id)
        return outcome

    def _textual(self, capture: Capture) -> bool:
        """A page or file extraction can read (a revisit's type is its original's: a
        stylesheet or script repeated unchanged is no page)."""
        if capture.record_type == "revisit":
            original = self.catalog.capture(capture.refers_to) if capture.refers_to else None
            return original is None or original.content_type in _TEXTUAL
        return capture.content_type in _TEXTUAL

    def _gone(self, capture: Capture, outcome: Outcome) -> None:
        document = self.catalog.document_by_url(capture.canonical_url)
        if document is None or document.state == "taken_down":
            return
        if 300 <= capture.status < 400 and not _moved_away(capture):
            return
        self._save_document(document, capture, state="taken_down")
        self._event("taken_down", document, capture, outcome)

    def _page(self, capture: Capture, source: Source | None, outcome: Outcome) -> None:
        document = self.catalog.document_by_url(capture.canonical_url)
        dom = self._rendered_dom(capture)
        # The same page bytes say nothing of what a browser made of them: a rendered
        # revisit is read again, and compared by its text like any page.
        if (
            capture.record_type == "revisit"
            and dom is None
            and document
            and document.latest_version_id
        ):
            self.catalog.link_capture(capture.id, document.latest_version_id)
            self._captured_again(document, capture, outcome)
            return
        if capture.record_type == "revisit":
            original = self.catalog.capture(capture.refers_to) if capture.refers_to else None
            if original is None:
                return
            capture_for_text = original
        else:
            capture_for_text = capture
        try:
            extracted = self._extract(capture_for_text, dom)
        except _Unextractable as exc:
            self._unextractable(capture, source, exc.reason, outcome)
            return
        if extracted is None:
            return
        if document is None:
            document = Document(
                id=ids.doc_id(capture.canonical_url),
                canonical_url=capture.canonical_url,
                url=capture.url,
                first_captured=capture.captured_at,
                last_captured=capture.captured_at,
                source=source.name if source else capture.source,
                publisher=source.publisher if source else None,
                kind=source.kind if source else None,
            )
        versions = self.catalog.versions(document.id)
        if versions:
            current = self.catalog.current_extraction(versions[-1].id)
            if current is not None and current.text == extracted.text:
                self.catalog.link_capture(capture.id, versions[-1].id)
                self._captured_again(document, capture, outcome)
                return
        version = Version(
            id=ids.version_id(document.id, capture.id),
            document_id=document.id,
            capture_id=capture.id,
            seq=len(versions) + 1,
            created_at=capture.captured_at,
        )
        self.catalog.save_document(document)
        self.catalog.add_version(version)
        self.catalog.link_capture(capture.id, version.id)
        self._store_extraction(document, version, extracted)
        self._save_document(document, capture, state="live", latest=version.id)
        outcome.new_versions += 1
        self._changed("captured", document.id, capture.id, outcome)
        if document.state == "taken_down":
            self._event("restored", document, capture, outcome)
        if versions:
            self._event("edited", document, capture, outcome)

    def _extract(self, capture: Capture, dom: str | None = None) -> Extracted | None:
        """The article of a capture's payload, or of the browser's rendering of it (`dom`)
        when the page's own HTML has no article: less than half the rendered text.

        None when the capture cannot be read back; raises _Unextractable when the
        extractor fails on it (logged with its traceback)."""
        try:
            record = self.store.read(capture)
        except WarcError as exc:
            log.error("cannot read capture %s back: %s", capture.id, exc)
            return None
        content_type = record.header("Content-Type")
        extracted = self._read(capture, record.payload, content_type)
        if dom is None:
            return extracted
        rendered = self._read(capture, dom, "text/html")
        if len(extracted.text.strip()) * 2 >= len(rendered.text.strip()):
            return extracted
        note = "article read from the rendered page: its own HTML has none"
        return replace(rendered, problems=(*rendered.problems, note))

    def _read(self, capture: Capture, page: bytes | str, content_type: str | None) -> Extracted:
        """The extractor's reading of one page of a capture. Whatever it raises is a bug
        met on a hostile page: it becomes _Unextractable, so that one page cannot stop a
        run, or every later run that would process it again."""
        try:
            return self.readers.extract(page, capture.url, content_type=content_type)
        except Exception as exc:
            log.exception("the extractor failed on capture %s (%s)", capture.id, capture.url)
            raise _Unextractable(f"cannot extract capture {capture.id}: {_described(exc)}") from exc

    def _unextractable(
        self, capture: Capture, source: Source | None, reason: str, outcome: Outcome
    ) -> None:
        """A capture the extractor fails on: a failure row for its URL (in the processing
        transaction, so that the capture is marked processed with it): not tried again,
        lest it stop every later run, but the URL's next capture is extracted afresh."""
        failure = Failure(
            url=capture.url,
            source=source.name if source else capture.source,
            at=self.clock(),
            reason=reason,
            status=None,
            run_id=capture.run_id,
        )
        self.catalog.add_failure(failure)
        outcome.failures.append(failure)
        log.warning("could not extract %s: %s", capture.url, reason)

    def _rendered_dom(self, capture: Capture) -> str | None:
        """The DOM a browser capture stored with `capture`; None for plain captures."""
        try:
            rendering = self.store.rendering(capture)
        except WarcError as exc:
            log.error("cannot read the rendering of capture %s: %s", capture.id, exc)
            return None
        record = rendering.get("conversion")
        return record.payload.decode("utf-8", errors="replace") if record else None

    def _store_extraction(self, document: Document, version: Version, extracted: Extracted) -> str:
        extraction = Extraction(
            id=ids.extraction_id(version.id, self.readers.release),
            version_id=version.id,
            extractor=self.readers.release,
            created_at=self.clock(),
            text=extracted.text,
            paragraphs=extracted.paragraphs,
            title=extracted.title,
            authors=extracted.authors,
            publisher=extracted.publisher,
            published=extracted.published,
            modified=extracted.modified,
            language=extracted.language,
            canonical_url=extracted.canonical_url,
            problems=extracted.problems,
        )
        found, failed = self._found_quotes(extraction, document.publisher or extracted.publisher)
        if failed:  # the text is kept, saying so
            extraction = replace(extraction, problems=(*extraction.problems, failed))
        previous = self.catalog.current_extraction(version.id)
        digest = "sha256:" + hashlib.sha256(extracted.text.encode("utf-8")).hexdigest()
        self.catalog.add_extraction(extraction, digest)
        quotes = self._quotes(document, extraction, found)
        self.catalog.replace_quotes(extraction.id, quotes)
        if previous is not None and previous.id != extraction.id:
            earlier = self.catalog.quotes_of_extraction(previous.id)
            self._alias_quotes(earlier, quotes)
            self._alias_speakers(earlier)
        crash_point("extraction-stored")
        return extraction.id

    def _found_quotes(
        self, extraction: Extraction, publisher: str | None
    ) -> tuple[list, str | None]:
        """The quotes the finder finds in an extraction, and None; or, when it fails on
        the text (a bug met on a hostile page), none and why, a problem of the extraction:
        one page's text must not stop the run, or every later run that would process it
        again."""
        try:
            return list(self.readers.find_quotes(attribution_text(extraction), publisher)), None
        except Exception as exc:
            log.exception("the quote finder failed on extraction %s", extraction.id)
            return [], f"quotes could not be found in it: {_described(exc)}"

    def _quotes(self, document: Document, extraction: Extraction, finds: list) -> list[Quote]:
        quotes = []
        text = extraction.text
        for found in finds:
            name, anonymous = settle_speaker(found.speaker, found.anonymous)
            speaker_id = None
            if name:
                speaker = Speaker(
                    id=ids.speaker_id(name, document.id if anonymous else None),
                    name=name,
                    anonymous=anonymous,
                    document_id=document.id if anonymous else None,
                )
                self.catalog.save_speaker(speaker)
                speaker_id = speaker.id
            quotes.append(
                Quote(
                    id=ids.quote_id(document.id, found.text),
                    document_id=document.id,
                    extraction_id=extraction.id,
                    start=found.start,
                    end=found.end,
                    text=text[found.start : found.end],
                    speaker_id=speaker_id,
                    speaker=name,
                    speaker_mention=(
                        text[found.speaker_start : found.speaker_end]
                        if found.speaker_start is not None
                        else found.speaker_mention
                    ),
                    speaker_start=found.speaker_start,
                    speaker_end=found.speaker_end,
                    role=found.role,
                    cue=found.cue,
                    via=found.via,
                    anonymous=anonymous,
                    unclosed=found.unclosed,
                    method=found.method,
                    confidence=found.confidence,
                )
            )
        return quotes

    def _alias_quotes(self, old: list[Quote], new: list[Quote]) -> None:
        """Point each quote id the old extraction issued, and the new one lacks, at the
        new quote that succeeds it (the most similar text), so old links keep resolving."""
        new_ids = {q.id for q in new}
        for quote in old:
            if quote.id in new_ids:
                continue
            successor = _successor(quote, new)
            if successor is not None:
                self.catalog.add_quote_alias(quote.id, successor.id)

    def _alias_speakers(self, old: list[Quote]) -> None:
        """Point each speaker id the old extraction used, and no current quote carries any
        more, at the one speaker all its quotes have now ("NASA Administrator Jim
        Bridenstine" -> "Jim Bridenstine"), so old speaker links keep resolving. A speaker
        whose quotes went to several speakers, or to a document's unnamed sources, keeps
        its page, which lists where they went (``Catalog.former_quotes``)."""
        for speaker_id in sorted({q.speaker_id for q in old if q.speaker_id and not q.anonymous}):
            if self.catalog.speaker_has_current_quotes(speaker_id):
                continue
            successors = self.catalog.former_quotes(speaker_id)
            speakers = {now.speaker_id for now in successors}
            named = not any(now.anonymous for now in successors)
            if len(speakers) == 1 and None not in speakers and named:
                self.catalog.add_speaker_alias(speaker_id, speakers.pop())

    def reextract(self, document_id: str) -> Outcome:
        """Extract every version of a document again with the current extractor."""
        outcome = Outcome()
        document = self.catalog.document(document_id)
        if document is None:
            return outcome
        extractor = self.readers.release
        with self.catalog.transaction():
            for version in self.catalog.versions(document_id):
                current = self.catalog.current_extraction(version.id)
                if current is not None and current.extractor == extractor:
                    continue
                capture = self.catalog.capture(version.capture_id)
                if capture is not None and capture.record_type == "revisit":
                    dom = self._rendered_dom(capture)
                    capture = self.catalog.capture(capture.refers_to or "")
                else:
                    dom = self._rendered_dom(capture) if capture else None
                try:
                    extracted = self._extract(capture, dom) if capture else None
                except _Unextractable:
                    continue  # logged; the version keeps the extraction it has
                if extracted is not None:
                    self._store_extraction(document, version, extracted)
                    self._changed("reextracted", document_id, version.id, outcome)
        return outcome

    def _captured_again(self, document: Document, capture: Capture, outcome: Outcome) -> None:
        """A capture of what the document's latest version says already. Search shows
        and filters by when a document was last captured, so a later capture is a change
        for the index, though not a changed document."""
        self._save_document(document, capture, state="live")
        if capture.captured_at > document.last_captured:
            self.catalog.note_change("recaptured", [document.id], capture.id)
        if document.state == "taken_down":
            self._event("restored", document, capture, outcome)

    def _save_document(
        self, document: Document, capture: Capture, *, state: str, latest: str | None = None
    ) -> None:
        self.catalog.save_document(
            Document(
                **{
                    **document.__dict__,
                    "last_captured": max(document.last_captured, capture.captured_at),
                    "state": state,
                    "latest_version_id": latest or document.latest_version_id,
                }
            )
        )

    def _event(self, kind: str, document: Document, capture: Capture, outcome: Outcome) -> None:
        event = Event(
            type=kind,
            document_id=document.id,
            url=document.url,
            at=capture.captured_at,
            capture_id=capture.id,
        )
        self.catalog.add_event(event)
        outcome.events.append(event)
        self._changed(kind, document.id, capture.id, outcome)
        log.info("%s: %s (%s)", kind, document.url, capture.id)

    def _changed(self, kind: str, document_id: str, subject: str, outcome: Outcome) -> None:
        """Note a changed document, and add it to the change log that every index
        follows, in the same transaction."""
        outcome.changed_documents.add(document_id)
        self.catalog.note_change(kind, [document_id], subject)

    # -- runs ---------------------------------------------------------------------------

    def scrape(self, source: Source) -> Outcome:
        """One run of one source. A run stopped half-way is resumed by the next call:
        the queue lives in the catalog, and pages captured during the run are not fetched
        again."""
        outcome = self.process_pending(only=source)
        run_id = self.open_run(source, outcome)
        if run_id is None:
            return outcome
        for url in self.catalog.pending(source.name, run_id):
            outcome.merge(self.capture_in_run(source, run_id, url))
        self.close_run(source, run_id)
        return outcome

    def open_run(self, source: Source, outcome: Outcome) -> str | None:
        """The source's unfinished run, or a new one with the URLs discovery found queued
        in the catalog; None when discovery failed (the run is recorded as failed).

        An unfinished run whose discovery never finished (its worker died, or its job
        was stopped at its time limit, before the URLs were queued) is discovered again
        under its own id: resumed as it was, it would have no URL to capture and would
        never close. The source's lock is held throughout, so two workers opening one
        source's run do not both discover it."""
        with self.catalog.lock(f"run:{source.name}"):
            run_id = self.catalog.unfinished_run(source.name)
            run = self.catalog.run(run_id) if run_id is not None else None
            if run is not None and run.discovered:
                log.info("resuming run %s of %s", run_id, source.name)
                return run_id
            if run is None:
                run_id = self._new_run_id(source)
                started = self.clock()
                with self.catalog.transaction():
                    self.catalog.start_run(run_id, source.name, started)
            else:
                log.warning(
                    "run %s of %s stopped before its discovery finished: discovering again",
                    run_id,
                    source.name,
                )
                started = run.started_at
            return self._discover(source, run_id, started, outcome)

    def _new_run_id(self, source: Source) -> str:
        return f"{source.name}-{ids.ts14(self.clock())}-{secrets.token_hex(2)}"

    def failed_to_start(self, source: Source, reason: str) -> Failure:
        """Record a run of ``source`` that could not start (the browser it renders in would
        not) as a run whose discovery failed: finished with ``reason``, a failure row, the
        next due time set; not tried again at every tick of the scheduler."""
        run_id = self._new_run_id(source)
        with self.catalog.transaction():
            self.catalog.start_run(run_id, source.name, self.clock())
        outcome = Outcome()
        self._failed_run(source, run_id, reason, outcome, how="could not start")
        return outcome.failures[0]

    def _discover(
        self, source: Source, run_id: str, started: datetime, outcome: Outcome
    ) -> str | None:
        """Discovery for a run: its URLs queued (the run closed at once when there are
        none), or the run failed and None."""
        found = Outcome()
        record = self.recorder(source.name, run_id, found)
        try:
            urls = discover(source, self.session, record)
        except (DiscoveryError, FetchError) as exc:
            self._failed_run(source, run_id, str(exc), self._kept(found, outcome))
            return None
        except _ARCHIVE_ERRORS:
            raise  # the archive's trouble, not the source's: the run is resumed later
        except Exception as exc:  # a bug met on one source's pages must not stop the others
            log.exception("discovery of %s failed unexpectedly", source.name)
            reason = f"discovery failed unexpectedly: {_described(exc)}"
            self._failed_run(source, run_id, reason, self._kept(found, outcome))
            return None
        self._kept(found, outcome)
        with self.catalog.transaction():
            self.catalog.enqueue(source.name, run_id, urls, started)
            self.catalog.count_run(run_id, discovered=len(urls))
        if not urls:
            self.close_run(source, run_id)
        return run_id

    def capture_in_run(self, source: Source, run_id: str, url: str) -> Outcome:
        """Capture one queued URL of a run, at most once however often it is asked (two
        workers handed the same URL, or a job delivered again after its worker died):
        the URL's lock is held throughout, and a page captured since the run started is
        not fetched again. The run is closed when this was its last URL."""
        outcome = Outcome()
        with self.catalog.lock(f"url:{url}"):
            if self.catalog.url_done(source.name, run_id, url):
                return outcome
            run = self.catalog.run(run_id)
            if self._captured_since(url, run.started_at):
                # stored by a worker that died before processing it, perhaps
                outcome = self._process_stored(url, source)
            else:
                outcome = self.capture(url, source, run_id=run_id)
                with self.catalog.transaction():
                    self.catalog.count_run(
                        run_id,
                        fetched=len(outcome.captures),
                        new_versions=outcome.new_versions,
                        failed=len(outcome.failures),
                    )
            with self.catalog.transaction():
                self.catalog.mark_done(source.name, run_id, url, self.clock())
        self.close_run(source, run_id)
        return outcome

    def _process_stored(self, url: str, source: Source) -> Outcome:
        """Process the stored captures of one URL that are not processed yet."""
        outcome = Outcome()
        canonical = ids.canonical_url(url)
        for capture in self.catalog.unprocessed_captures():
            if capture.canonical_url == canonical:
                outcome.merge(self.process(capture, source))
        return outcome

    def give_up(self, source: Source, run_id: str, url: str, reason: str) -> Failure:
        """A URL of a run that could not be captured however often it was tried: a
        failure row, and the run goes on without it."""
        failure = Failure(
            url=url, source=source.name, at=self.clock(), reason=reason, status=None, run_id=run_id
        )
        with self.catalog.transaction():
            self.catalog.add_failure(failure)
            if not self.catalog.url_done(source.name, run_id, url):
                self.catalog.count_run(run_id, failed=1)
                self.catalog.mark_done(source.name, run_id, url, self.clock())
        self.close_run(source, run_id)
        return failure

    def close_run(self, source: Source, run_id: str) -> None:
        """Finish the run once no URL of it is pending, and set when the source is next
        due (once, whoever gets here first)."""
        if self.catalog.pending(source.name, run_id):
            return
        now = self.clock()
        with self.catalog.transaction():
            if self.catalog.finish_run(run_id, now):
                self.catalog.set_next_due(source.name, source.next_due(now))

    def _captured_since(self, url: str, since: datetime) -> bool:
        """Whether a fetch of ``url`` got its final answer since ``since``. A redirect
        hop, or an answer the session retries (a 503), is stored by a fetch that went on
        after it, or died before it could: not an answer, so the URL is fetched again.
        (Any 3xx with a Location counts as a hop: counting too few answers costs a fetch,
        too many a page never fetched.)"""
        retried = self.session.config.retry_statuses
        return any(
            c.captured_at >= since
            and c.kind == "page"
            and c.status not in retried
            and not (300 <= c.status < 400 and c.location)
            for c in self.catalog.captures_of_url(ids.canonical_url(url))
        )

    def _kept(self, found: Outcome, outcome: Outcome) -> Outcome:
        """Discovery's captures (robots.txt, feeds, sitemaps, listing pages) taken
        through processing, which only marks them done: none is a document."""
        for capture in found.kept:
            self.process(capture, None)
        outcome.kept += found.kept
        return outcome

    def _failed_run(
        self, source: Source, run_id: str, reason: str, outcome: Outcome, how: str = "failed"
    ) -> None:
        now = self.clock()
        failure = Failure(
            url=source.name, source=source.name, at=now, reason=reason, status=None, run_id=run_id
        )
        with self.catalog.transaction():
            self.catalog.add_failure(failure)
            self.catalog.finish_run(run_id, now, error=reason)
            self.catalog.set_next_due(source.name, source.next_due(now))
        outcome.failures.append(failure)
        log.warning("run %s of %s %s: %s", run_id, source.name, how, reason)


class _Unextractable(Exception):
    """The extractor failed on a capture: `reason` says which, and what it raised."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _described(exc: Exception) -> str:
    """An unforeseen error, for a failure row: its type and message."""
    return f"{type(exc).__name__}: {exc}"


def _moved_away(capture: Capture) -> bool:
    """A redirect to another page (not merely to https, or to add a slash)."""
    if not capture.location:
        return False
    try:
        target = ids.canonical_url(urljoin(capture.url, capture.location))
    except ids.InvalidURL:
        return True
    return _scheme_free(target).rstrip("/") != _scheme_free(capture.canonical_url).rstrip("/")


def _scheme_free(url: str) -> str:
    return url.split("://", 1)[-1]


def _successor(quote: Quote, candidates: list[Quote]) -> Quote | None:
    old = ids.normalize_quote_text(quote.text)
    best, best_ratio = None, 0.6
    for candidate in candidates:
        new = ids.normalize_quote_text(candidate.text)
        if old in new or new in old:
            return candidate
        ratio = difflib.SequenceMatcher(None, old, new).ratio()
        if ratio > best_ratio:
            best, best_ratio = candidate, ratio
    return best


def attribution_text(extraction: Extraction) -> str:
    r"""The text an attributor reads: the extraction's, with the line breaks inside each
    paragraph (a PDF's wrapped lines) read as spaces, so that "said Elections\nDirector
    Maria Cruz." keeps its speaker. Same length, so every offset holds in the stored text.

    >>> from archive.models import Paragraph
    >>> text = "said Elections\nDirector Cruz.\n\nNext"
    >>> spans = (Paragraph(0, 29), Paragraph(31, 35))
    >>> attribution_text(Extraction("e", "v", "x", None, text, paragraphs=spans))
    'said Elections Director Cruz.\n\nNext'
    """
    text = extraction.text
    pieces, last = [], 0
    for paragraph in extraction.paragraphs:
        pieces += [
            text[last : paragraph.start],
            text[paragraph.start : paragraph.end].replace("\n", " "),
        ]
        last = paragraph.end
    pieces.append(text[last:])
    return "".join(pieces)
