"""The capture pipeline against a real loopback server: versions, revisits, events."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.catalog import Catalog
from archive.store import Paths, Store, init_archive
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Outcome, Pipeline
from scrapers.sources import Discovery, Schedule, Source
from tests.catalogs import drop_catalog
from tests.conftest import run_onrecord
from tests.loopback import Reply

PAGES = Path(__file__).parent / "data" / "pages"
HTML = {"Content-Type": "text/html; charset=utf-8"}


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def session() -> PoliteSession:
    return PoliteSession(HttpConfig(allow_private=True, delay=0.0))


@pytest.fixture
def pipeline(archive_root):
    with Store.open(archive_root) as store, session() as http:
        yield Pipeline(store, http)


def test_a_capture_becomes_a_document_with_text_and_quotes(pipeline, server):
    server.route("/news/certified", status=200, body=page("statement-v1.html"), headers=HTML)
    outcome = pipeline.capture(server.url("/news/certified"))
    assert [c.status for c in outcome.captures] == [200]
    [document_id] = outcome.changed_documents
    catalog = pipeline.catalog
    document = catalog.document(document_id)
    extraction = catalog.current_extraction(document.latest_version_id)
    assert extraction.title == "Board certifies county results"
    assert "Cookie settings" not in extraction.text
    quotes = catalog.quotes_of_extraction(extraction.id)
    assert {q.speaker for q in quotes} == {"Rosa Delgado"}
    for quote in quotes:
        assert extraction.text[quote.start : quote.end] == quote.text


def test_unchanged_edited_taken_down_and_restored(pipeline, server):
    url = server.url("/news/certified")
    server.route("/news/certified", status=200, body=page("statement-v1.html"), headers=HTML)
    first = pipeline.capture(url)
    again = pipeline.capture(url)
    assert again.captures[0].record_type == "revisit"
    assert again.new_versions == 0
    server.route("/news/certified", status=200, body=page("statement-v2.html"), headers=HTML)
    edited = pipeline.capture(url)
    assert edited.new_versions == 1
    assert [e.type for e in edited.events] == ["edited"]
    server.route("/news/certified", status=410, body=b"gone", headers=HTML)
    assert [e.type for e in pipeline.capture(url).events] == ["taken_down"]
    server.route("/news/certified", status=200, body=page("statement-v2.html"), headers=HTML)
    assert [e.type for e in pipeline.capture(url).events] == ["restored"]
    [document_id] = first.changed_documents
    versions = pipeline.catalog.versions(document_id)
    assert [v.seq for v in versions] == [1, 2]
    texts = [pipeline.catalog.current_extraction(v.id).text for v in versions]
    assert "trust these numbers" in texts[0] and "rely on these numbers" in texts[1]


def test_a_redirect_away_is_a_takedown(pipeline, server):
    url = server.url("/news/certified")
    server.route("/news/certified", status=200, body=page("statement-v1.html"), headers=HTML)
    pipeline.capture(url)
    server.route("/news/certified", status=301, headers={"Location": "/news"})
    server.route("/news", status=200, body=b"<html><p>News index</p></html>", headers=HTML)
    outcome = pipeline.capture(url)
    assert [c.status for c in outcome.captures] == [301, 200]
    assert "taken_down" in [e.type for e in outcome.events]


def test_a_failed_fetch_is_a_row_and_leaves_nothing_partial(pipeline, server, archive_root):
    server.route("/huge", Reply(status=200, body=b"x" * 1024, length=64 * 1024 * 1024))
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0, max_bytes=100_000)) as http,
    ):
        outcome = Pipeline(store, http).capture(server.url("/huge"))
        assert outcome.captures == []
        [failure] = store.catalog.failures()
        assert "100000" in failure.reason or "large" in failure.reason
        # only the host's robots.txt (read on the way) is kept: nothing of the page
        assert [c.kind for c in store.catalog.all_captures()] == ["robots"]
        assert [c.url for c in outcome.kept] == [server.url("/robots.txt")]
    targets = []
    for warc in (archive_root / "warcs").iterdir():
        with warc.open("rb") as stream:
            targets += [
                r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(stream)
            ]
    assert server.url("/huge") not in targets


class WorkerKilled(BaseException):
    """A worker's sudden death (a SIGKILL, a lost machine): nothing in it catches this."""


class DyingPipeline(Pipeline):
    """A worker killed right after the first page exchange of its fetch is stored: the
    URL is neither processed nor marked done, so its job is delivered again."""

    dies_after = "page"  # the kind of fetch whose first stored exchange it dies after

    def recorder(self, source, run_id, outcome):
        record = super().recorder(source, run_id, outcome)

        def record_then_die(hop, kind):
            record(hop, kind)
            if kind == self.dies_after:
                raise WorkerKilled

        return record_then_die


class DyingInDiscovery(DyingPipeline):
    """A worker killed in a run's discovery, its listing page stored, no URL queued."""

    dies_after = "listing"


def one_page_source(url: str) -> Source:
    return Source(
        name="county",
        publisher="County Elections",
        kind="statement",
        start_urls=(url,),
        discovery=Discovery("none"),
        schedule=Schedule(every=timedelta(days=1)),
    )


def test_a_job_delivered_again_does_not_refetch_a_page_stored_under_its_canonical_url(
    archive_root, server
):
    server.route("/news/certified", status=200, body=page("statement-v1.html"), headers=HTML)
    url = server.url("/news/certified?b=2&a=1")  # the catalog files it with a sorted query
    source = one_page_source(url)
    with Store.open(archive_root) as store, session() as http:
        run_id = Pipeline(store, http).open_run(source, Outcome())
        with pytest.raises(WorkerKilled):
            DyingPipeline(store, http).capture_in_run(source, run_id, url)
        outcome = Pipeline(store, http).capture_in_run(source, run_id, url)
        assert server.hits("/news/certified") == 1
        assert outcome.new_versions == 1  # the page stored before the death, processed


def test_a_job_delivered_again_after_a_retried_answer_fetches_the_page(archive_root, server):
    server.route(
        "/news/certified",
        Reply(status=503, body=b"busy"),
        Reply(status=200, body=page("statement-v1.html"), headers=HTML),
    )
    url = server.url("/news/certified")
    source = one_page_source(url)
    with Store.open(archive_root) as store, session() as http:
        run_id = Pipeline(store, http).open_run(source, Outcome())
        with pytest.raises(WorkerKilled):  # after the 503 it would have retried
            DyingPipeline(store, http).capture_in_run(source, run_id, url)
        outcome = Pipeline(store, http).capture_in_run(source, run_id, url)
        assert server.hits("/news/certified") == 2
        assert [c.status for c in outcome.captures] == [200]
        assert outcome.new_versions == 1


def test_a_run_whose_discovery_was_cut_short_is_discovered_again_and_closes(archive_root, server):
    listing = '<html><body><a href="/news/certified">Results certified</a></body></html>'
    server.route("/news/", body=listing, headers=HTML)
    server.route("/news/certified", status=200, body=page("statement-v1.html"), headers=HTML)
    source = Source(
        name="county",
        publisher="County Elections",
        kind="statement",
        start_urls=(),
        discovery=Discovery("listing", server.url("/news/"), "a"),
        schedule=Schedule(every=timedelta(days=1)),
    )
    with Store.open(archive_root) as store, session() as http:
        with pytest.raises(WorkerKilled):
            DyingInDiscovery(store, http).open_run(source, Outcome())
        cut_short = store.catalog.unfinished_run("county")
        assert store.catalog.pending("county", cut_short) == []
        run_id = Pipeline(store, http).open_run(source, Outcome())
        assert run_id == cut_short  # the same run, discovered again
        (url,) = store.catalog.pending("county", run_id)
        assert url.endswith("/news/certified")
        Pipeline(store, http).capture_in_run(source, run_id, url)
        run = store.catalog.run(run_id)
    assert run.finished_at is not None and run.discovered == 1 and run.fetched == 1


def test_capture_killed_between_warc_and_catalog_is_reconciled(archive_root, server):
    server.route("/news/certified", status=200, body=page("statement-v1.html"), headers=HTML)
    url = server.url("/news/certified")
    crashed = run_onrecord(
        "capture", url, "--archive", str(archive_root), env={"ONRECORD_CRASH_AT": "warc-written"}
    )
    assert crashed.returncode == -signal.SIGKILL
    with Catalog.open(Paths(archive_root).catalog) as catalog:
        assert catalog.count_captures() == 0  # the WARC has it; the catalog does not yet
    finished = run_onrecord("capture", url, "--archive", str(archive_root))
    assert finished.returncode == 0, finished.stderr
    with Catalog.open(Paths(archive_root).catalog) as catalog:
        captures = list(catalog.all_captures())
        # The first record written was the host's robots.txt: recataloged as what it was
        # (its kind is in its WARC metadata record), read again, then the page once.
        assert [(c.kind, c.record_type) for c in captures] == [
            ("robots", "response"),
            ("robots", "response"),
            ("page", "response"),
        ]
        assert len({c.id for c in captures}) == 3
        assert catalog.unprocessed_captures() == []
        [document] = catalog.documents()
        assert len(catalog.versions(document.id)) == 1


def test_capture_of_a_missing_archive_is_one_clear_sentence(tmp_path):
    result = run_onrecord("capture", "https://example.gov/", "--archive", str(tmp_path / "no"))
    assert result.returncode != 0
    assert "no archive at" in result.stderr
    assert "Traceback" not in result.stderr


def test_capture_refuses_loopback_unless_allowed(tmp_path, server):
    run_onrecord("init", str(tmp_path / "strict"))
    server.route("/", status=200, body=b"<p>hello</p>", headers=HTML)
    result = run_onrecord("capture", server.url("/"), "--archive", str(tmp_path / "strict"))
    assert result.returncode != 0
    assert "non-public address" in result.stderr
    assert server.hits("/") == 0


def test_capture_of_a_bad_url_is_one_clear_sentence(archive_root):
    result = run_onrecord("capture", "ftp://example.gov/x", "--archive", str(archive_root))
    assert result.returncode != 0
    assert "not an http(s) URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_catalog_rebuilt_from_the_warcs_issues_the_same_ids(archive_root, server):
    server.route("/news/certified", status=200, body=page("statement-v1.html"), headers=HTML)
    with Store.open(archive_root) as store, session() as http:
        pipeline = Pipeline(store, http)
        pipeline.capture(server.url("/news/certified"))
        server.route("/news/certified", status=200, body=page("statement-v2.html"), headers=HTML)
        pipeline.capture(server.url("/news/certified"))
        before = ids_of(store.catalog)
    drop_catalog(archive_root)
    init_archive(archive_root)
    with Store.open(archive_root) as store:  # reconciles every record from the WARCs
        Pipeline(store, None).process_pending()
        assert ids_of(store.catalog) == before


def ids_of(catalog) -> dict[str, list[str]]:
    documents = [d.id for d in catalog.all_documents()]
    versions = [v.id for d in documents for v in catalog.versions(d)]
    return {
        "captures": sorted(c.id for c in catalog.all_captures()),
        "documents": sorted(documents),
        "versions": sorted(versions),
        "quotes": sorted(q.id for q in catalog.current_quotes()),
        "events": sorted((e.type, e.capture_id) for e in catalog.events()),
    }
