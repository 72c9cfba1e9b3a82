"""The change log and the indexes that follow it: changes numbered in the order they
commit (on PostgreSQL too), the index queue of an older catalog carried into the log, an
index deleted and rebuilt giving the same results, a change that fails retried and never
skipped, search that says when it is behind, and a catalog that goes away mid-serving."""

from __future__ import annotations

import logging
import shutil
import signal
import threading
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from click.testing import CliRunner

from archive import ids
from archive.catalog import Catalog, ChangeListener
from archive.models import Document
from archive.store import Paths, Store, init_archive
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.catalogs import execute, postgres_database
from tests.conftest import run_onrecord
from tests.loopback import LoopbackServer
from tests.tcpproxy import TcpProxy
from tests.test_web_server import get, serving
from tests.webarchive import build_web_archive, serve_pages
from web import create_app, indexing, links, resources
from web.cli import main
from web.cli_migrate import migrate_command
from web.indexing import IndexBusy, IndexKeeper, read_position, write_position
from web.work import Work

QUERIES = ('"every valid ballot"', "ballot", "speaker:Whitfield", "recount", "observers")
NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def archive(tmp_path):
    with LoopbackServer() as server:
        yield build_web_archive(tmp_path / "archive", server)


def a_document(catalog: Catalog, url: str) -> str:
    canonical = ids.canonical_url(url)
    document = Document(
        id=ids.doc_id(canonical),
        canonical_url=canonical,
        url=url,
        first_captured=NOW,
        last_captured=NOW,
    )
    catalog.save_document(document)
    return document.id


def results(root, query: str) -> dict:
    paths = Paths(root)
    with Catalog.open(paths.catalog) as catalog:
        return indexing.results_json(indexing.search(paths, catalog, query, page_size=50))


def test_changes_are_numbered_in_the_order_they_commit_on_postgresql():
    """A transaction holds the change lock from its first change to its commit: a later
    writer waits, so a follower never sees a number before a smaller one still to come.
    A rolled-back change leaves a gap that nothing fills, and the follower passes it."""
    with postgres_database() as url:
        first = Catalog.open(url, create=True)
        second = Catalog.open(url)
        reader = Catalog.open(url)
        try:
            document = a_document(first, "https://example.gov/a")
            with first.transaction():
                first.note_change("captured", [document], "c-1")
                writer = threading.Thread(
                    target=second.note_change, args=("edited", [document], "c-2")
                )
                writer.start()
                writer.join(0.5)
                assert writer.is_alive()  # waiting for the first transaction to commit
                assert reader.changes_after(0) == []
            writer.join(10)
            with pytest.raises(RuntimeError), first.transaction():
                first.note_change("taken_down", [document], "c-3")
                raise RuntimeError("rolled back")
            second.note_change("restored", [document], "c-4")
            seen = reader.changes_after(0)
            assert [(c.kind, c.subject) for c in seen] == [
                ("captured", "c-1"),
                ("edited", "c-2"),
                ("restored", "c-4"),
            ]
            assert seen[0].seq < seen[1].seq < seen[2].seq - 1  # the rolled-back gap
            assert reader.changes_after(seen[1].seq) == [seen[2]]
            assert reader.backlog(seen[0].seq).count == 2
        finally:
            for catalog in (first, second, reader):
                catalog.close()


def test_a_follower_waiting_on_postgresql_wakes_when_changes_commit():
    with postgres_database() as url, Catalog.open(url, create=True) as catalog:
        document = a_document(catalog, "https://example.gov/b")
        listener = ChangeListener(catalog.url)
        try:
            listener.wait(0.01)  # now listening
            commit = threading.Timer(0.2, catalog.note_change, args=("captured", [document]))
            began = time.monotonic()
            commit.start()
            listener.wait(30)
            assert time.monotonic() - began < 10  # woken by the commit, not the timeout
            commit.join()
        finally:
            listener.close()


def test_the_index_queue_of_an_older_catalog_becomes_the_start_of_the_log(tmp_path):
    path = tmp_path / "catalog.sqlite"
    with Catalog.open(path, create=True, migrate=False) as catalog:
        catalog.migrate(up_to=7)
        document = a_document(catalog, "https://example.gov/queued")
        catalog._run(
            "INSERT INTO index_queue (document_id, queued_at) VALUES (:id, :at)",
            id=document,
            at="2026-11-03T09:00:00.000000Z",
        )
    with Catalog.open(path) as catalog:
        [change] = catalog.changes_after(0)
        assert (change.kind, change.document_id, change.at) == ("queued", document, NOW)
        assert "index_queue" not in sa.inspect(catalog._conn).get_table_names()


def test_an_index_deleted_and_rebuilt_gives_the_same_results(archive):
    paths = Paths(archive.root)
    with Catalog.open(paths.catalog) as catalog:
        assert read_position(paths.index) == catalog.change_head() > 0
    before = {query: results(archive.root, query) for query in QUERIES}
    assert all(found["total"] for found in before.values())
    shutil.rmtree(paths.index)
    with Catalog.open(paths.catalog) as catalog:
        indexing.catch_up(paths, catalog)  # an empty folder is built from the catalog
        assert read_position(paths.index) == catalog.change_head()
    assert {query: results(archive.root, query) for query in QUERIES} == before


def test_an_index_made_before_the_log_follows_it_from_its_start(archive):
    """An index without a position (made before the log began) holds everything but the
    queued documents carried into the log: it applies the log from position 0."""
    paths = Paths(archive.root)
    before = {query: results(archive.root, query) for query in QUERIES}
    (paths.index / indexing.POSITION_FILE).unlink()
    with Catalog.open(paths.catalog) as catalog:
        assert indexing.catch_up(paths, catalog) == 3  # each document reindexed, none built
        assert read_position(paths.index) == catalog.change_head()
    assert {query: results(archive.root, query) for query in QUERIES} == before


def test_a_first_build_killed_before_it_published_is_built_again_whole(archive):
    """An archive whose documents came before the log (its queue was empty when the log
    began), and an index folder made anew: the first build dies before it publishes,
    leaving its generation's folder behind, and that is not taken for an index."""
    paths = Paths(archive.root)
    before = {query: results(archive.root, query) for query in QUERIES}
    with Catalog.open(paths.catalog) as catalog, catalog.transaction():
        catalog._run("DELETE FROM changes")
    shutil.rmtree(paths.index)
    killed = run_onrecord(
        "reindex", "--archive", str(archive.root), env={"ONRECORD_CRASH_AT": "index-built"}
    )
    assert killed.returncode == -signal.SIGKILL
    assert [p.name for p in paths.index.iterdir() if p.name.startswith("gen-")]
    with Catalog.open(paths.catalog) as catalog:
        indexing.catch_up(paths, catalog)
    assert {query: results(archive.root, query) for query in QUERIES} == before


def test_a_change_committed_while_the_index_is_rebuilt_reaches_it(archive, monkeypatch):
    paths = Paths(archive.root)
    with Catalog.open(paths.catalog) as catalog, Catalog.open(paths.catalog) as editor:
        read = catalog.document_records

        def corrected_as_it_is_read(*args):
            # another process corrects a quote once the rebuild has read the log's head;
            # its command waits for the index folder, gives up, and leaves the change
            monkeypatch.setattr(catalog, "document_records", read)
            with editor.transaction():
                editor.correct_quote(
                    archive.unnamed, "speaker", "Priya Raman", reason="the memo", author="ed"
                )
            return read(*args)

        monkeypatch.setattr(catalog, "document_records", corrected_as_it_is_read)
        indexing.rebuild(paths, catalog)
        assert read_position(paths.index) == catalog.change_head()
    [hit] = results(archive.root, 'speaker:"Priya Raman"')["hits"]
    assert hit["id"] == archive.unnamed


def test_an_index_beyond_the_catalogs_log_is_rebuilt(archive):
    """A catalog made anew (rebuilt from the WARC files) numbers its changes from 1
    again: an index whose position lies beyond its log would wait for ever, so it is
    rebuilt."""
    paths = Paths(archive.root)
    before = results(archive.root, "ballot")
    write_position(paths.index, 10**6)
    with Catalog.open(paths.catalog) as catalog:
        indexing.catch_up(paths, catalog)
        assert read_position(paths.index) == catalog.change_head()
    assert results(archive.root, "ballot") == before


def test_reindex_refuses_an_index_a_node_keeps(archive):
    node = IndexKeeper(Paths(archive.root).index)
    node.claim()
    try:
        refused = CliRunner().invoke(main, ["reindex", "--archive", str(archive.root)])
    finally:
        node.release()
    assert refused.exit_code == 1
    assert "is kept by onrecord serve" in refused.output
    assert "POST /admin/reindex" in refused.output


def test_a_correction_reaches_the_index_through_the_log(archive):
    paths = Paths(archive.root)
    with Catalog.open(paths.catalog) as catalog:
        catalog.correct_quote(
            archive.unnamed, "speaker", "Priya Raman", reason="the memo", author="ed"
        )
        [change] = catalog.changes_after(read_position(paths.index))
        assert (change.kind, change.document_id) == ("corrected", archive.news)
        assert results(archive.root, 'speaker:"Priya Raman"')["total"] == 0
        indexing.catch_up(paths, catalog)
    [hit] = results(archive.root, 'speaker:"Priya Raman"')["hits"]
    assert hit["id"] == archive.unnamed


ECHO = """<!doctype html><html><head><title>Council hears the count</title></head><body>
<article><h1>Council hears the count</h1><p>The council met on Thursday to hear how the
county's ballots were counted and what the audit will publish next month.</p>
<p>“Make no mistake: every valid ballot was counted, and every count will be published in
full, as we promised the voters in this county,” said Lena Park, the council chair.</p>
<p>The council will meet again after the audit is finished.</p></article></body></html>"""


def test_a_quote_page_shows_a_new_appearance_once_the_index_has_it(archive, server):
    """Where else a quote appears (a longer quote holding its words, found through the
    index) is memoised by pages for a few seconds, but never past the index's position."""
    client = create_app({"ARCHIVE": str(archive.root), "TESTING": True}).test_client()
    page = links.json_path(links.quote_path(archive.pledge))
    before = {a["id"] for a in client.get(page).get_json()["appearances"]}
    server.route("/council", status=200, body=ECHO, headers={"Content-Type": "text/html"})
    with (
        Store.open(archive.root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
    ):
        Pipeline(store, http).capture(server.url("/council"))
        indexing.catch_up(store.paths, store.catalog)
    after = client.get(page).get_json()["appearances"]
    assert [a["speaker"] for a in after if a["id"] not in before] == ["Lena Park"]


def test_a_page_captured_again_unchanged_shows_its_last_capture_in_search(tmp_path, server):
    root = tmp_path / "archive"
    init_archive(root)
    server.route("/council", status=200, body=ECHO, headers={"Content-Type": "text/html"})
    with (
        Store.open(root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
    ):
        pipeline = Pipeline(store, http)
        pipeline.capture(server.url("/council"))
        indexing.catch_up(store.paths, store.catalog)
        again = pipeline.capture(server.url("/council"))
        assert not again.changed_documents  # the same words: no new version
        indexing.catch_up(store.paths, store.catalog)
        [document] = store.catalog.documents()
        hits = indexing.search(store.paths, store.catalog, '"every valid ballot"').hits
    assert document.last_captured == again.captures[0].captured_at
    assert {hit.type for hit in hits} == {"document", "quote"}
    assert {hit.captured for hit in hits} == {document.last_captured}


def test_a_change_that_fails_is_logged_shown_retried_and_never_skipped(archive, caplog):
    paths = Paths(archive.root)
    keeper = IndexKeeper(paths.index)
    with Catalog.open(paths.catalog) as catalog:
        start = read_position(paths.index)
        catalog.note_change("edited", [archive.statement], "c-broken")
        catalog.note_change("edited", [archive.news], "c-fine")
        broken, fine = catalog.changes_after(start)
        # a row damaged behind the catalog's back: its document cannot be read
        execute(
            archive.root,
            "UPDATE documents SET last_captured = 'soon' WHERE id = :id",
            id=archive.statement,
        )
        for attempt in (1, 2):
            assert keeper.catch_up(catalog) == 0
            assert keeper.failure.attempts == attempt
            assert read_position(paths.index) == start  # the failing change stays next
        assert f"change {broken.seq} (edited, document {archive.statement})" in caplog.text
        app = create_app({"ARCHIVE": str(archive.root), "TESTING": True})
        app.extensions["onrecord.keeper"] = keeper
        shown = app.test_client().get("/status.json").get_json()["index"]
        assert shown["position"] == start and shown["lag"]["changes"] == 2
        assert shown["last_error"]["attempts"] == 2
        assert f"change {broken.seq}" in shown["last_error"]["message"]
        page = BeautifulSoup(app.test_client().get("/status").text, "html.parser")
        assert f"change {broken.seq}" in page.select_one(".index-error").text
        execute(
            archive.root,
            "UPDATE documents SET last_captured = first_captured WHERE id = :id",
            id=archive.statement,
        )
        assert keeper.catch_up(catalog) == 2
        assert keeper.failure is None
        assert read_position(paths.index) == fine.seq


def test_search_says_when_this_node_is_behind(archive):
    app = create_app({"ARCHIVE": str(archive.root), "TESTING": True, "BEHIND_AFTER": 0.0})
    client = app.test_client()
    fresh = client.get("/search.json?q=ballot").get_json()["index"]
    assert fresh == {
        "position": fresh["position"],
        "behind": False,
        "lag": {"changes": 0, "seconds": 0.0},
    }
    assert (
        BeautifulSoup(client.get("/search?q=ballot").text, "html.parser").select(".index-behind")
        == []
    )
    with Catalog.open(Paths(archive.root).catalog) as catalog:
        catalog.note_change("edited", [archive.news], "c-late")
        time.sleep(0.05)
        late = client.get("/search.json?q=ballot").get_json()
        assert late["index"]["behind"] is True and late["index"]["lag"]["changes"] == 1
        assert late["total"] > 0  # a node behind still answers
        banner = BeautifulSoup(client.get("/search?q=ballot").text, "html.parser")
        assert "behind the archive by 1 changes" in banner.select_one(".index-behind").text
        indexing.catch_up(Paths(archive.root), catalog)
    assert client.get("/search.json?q=ballot").get_json()["index"]["behind"] is False


def test_a_node_on_an_empty_archive_answers_and_finds_the_first_capture(tmp_path, server):
    """No index is made before there are records to put in it (a searcher cannot open an
    index without any): searches answer with nothing, then find the first capture."""
    root = tmp_path / "archive"
    init_archive(root)
    app = create_app({"ARCHIVE": str(root), "TESTING": True})
    client = app.test_client()
    keeper = app.extensions["onrecord.keeper"] = IndexKeeper(Paths(root).index)
    with Catalog.open(Paths(root).catalog) as catalog:
        keeper.catch_up(catalog)
        assert client.get("/search.json?q=ballot").get_json()["total"] == 0
        serve_pages(server)
        with (
            Store.open(root) as store,
            PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
        ):
            Pipeline(store, http).capture(server.url("/press/certified-count"))
        assert client.get("/search.json?q=ballot").get_json()["total"] == 0
        keeper.catch_up(catalog)
    assert client.get("/search.json?q=ballot").get_json()["total"] > 0


def test_a_second_keeper_of_one_index_folder_is_refused(tmp_path):
    first, second = IndexKeeper(tmp_path / "index"), IndexKeeper(tmp_path / "index")
    first.claim()
    try:
        with pytest.raises(IndexBusy, match=r"in use by onrecord serve .*pid \d+.*ONRECORD_INDEX"):
            second.claim()
    finally:
        first.release()
    second.claim()
    second.release()


def test_the_catalog_going_away_answers_503_and_the_node_recovers(tmp_path):
    with postgres_database() as url, TcpProxy(("127.0.0.1", 5432)) as proxy:
        port = proxy.url.rsplit(":", 1)[1]
        through = url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
        with LoopbackServer() as server:
            site = build_web_archive(tmp_path / "archive", server)
        # the archive moves to PostgreSQL, reached through the proxy
        moved = CliRunner().invoke(
            migrate_command, ["--archive", str(site.root), "--catalog", through]
        )
        assert moved.exit_code == 0, moved.output
        (site.root / "onrecord.toml").write_text(
            (site.root / "onrecord.toml").read_text() + "follow_interval = 0.1\n"
        )
        app = create_app({"ARCHIVE": str(site.root)})
        follower = resources.follow(app)
        try:
            with serving(app) as web_port:
                page = links.quote_path(site.pledge)
                assert get(web_port, page)[0] == 200
                proxy.down()
                status, headers, body = get(web_port, page)
                assert status == 503 and headers["Retry-After"] == "5"
                message = BeautifulSoup(body, "html.parser").select_one("main").text
                assert f"cannot reach the catalog database at 127.0.0.1:{port}" in message
                status, _, body = get(web_port, links.json_path(page))
                assert status == 503 and "cannot reach the catalog database" in body
                # the follower notes it too, and tries again (a look cut off mid-query
                # fails first with the driver's words; the next, opening, names the catalog)
                until(
                    lambda: (
                        follower.keeper.failure is not None
                        and "cannot reach the catalog database" in follower.keeper.failure.message
                    )
                )
                proxy.up()
                assert get(web_port, page)[0] == 200  # no restart: the pool reconnects
                until(lambda: follower.keeper.failure is None)
                assert get(web_port, "/status.json")[0] == 200
        finally:
            follower.stop()
            follower.keeper.release()


def until(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def test_capture_work_leaves_the_index_to_the_web_node_that_keeps_it(tmp_path, server, caplog):
    """Work (a worker's, a command's) beside a web node on one index folder writes
    nothing to it, and says so once, not at each look: the node's follower applies what
    the work captured. Without a node, the work applies the log itself."""
    root = tmp_path / "archive"
    init_archive(root)
    (root / "onrecord.toml").write_text(
        "[onrecord]\nallow_private = true\ndelay = 0.0\n", encoding="utf-8"
    )
    serve_pages(server)
    folder = Paths(root).index
    node = IndexKeeper(folder)
    node.claim()
    try:
        with caplog.at_level(logging.INFO, logger="web.indexing"), Work.open(root) as work:
            work.capture(server.url("/press/certified-count"))
            work.capture(server.url("/news/audit-story"))
            assert work.index() == 0
            assert read_position(folder) is None  # the work wrote nothing
            told = [r for r in caplog.records if "which follows the log" in r.getMessage()]
            assert len(told) == 1 and "onrecord serve" in told[0].getMessage()
            node.catch_up(work.store.catalog)  # builds the index: records written
            assert read_position(folder) == work.store.catalog.change_head() == 2
            document = work.store.catalog.document_by_url(
                ids.canonical_url(server.url("/news/audit-story"))
            )
    finally:
        node.release()
    assert results(root, "ballot")["total"] > 0
    with Work.open(root) as work:
        work.store.catalog.note_change("edited", [document.id], "c-after-the-node")
        assert work.index() == 1
    assert read_position(folder) == node_head(root)


def node_head(root) -> int:
    with Catalog.open(Paths(root).catalog) as catalog:
        return catalog.change_head()
