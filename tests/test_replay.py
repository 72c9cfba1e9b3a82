"""Replaying what the archive received, as other archives do: the archived status and
redirects, 304 revisits written and replayed as WARC 1.1 and pywb say, and a URL of its
own for every capture, even two in one second."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive import ids
from archive.catalog import Catalog
from archive.models import Capture
from archive.store import Store, init_archive
from archive.warc import HttpExchange
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.loopback import LoopbackServer
from tests.test_pywb import pywb, wayback  # noqa: F401 -- fixtures
from web import create_app, links

HTML = {"Content-Type": "text/html; charset=utf-8"}
NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


@dataclass(frozen=True)
class Replayed:
    root: Path
    twins: tuple[Capture, Capture]  # one URL captured twice in one second
    withdrawn: Capture  # a 410
    moved: Capture  # a 301 to `moved_to`
    moved_to: str
    steady: Capture  # a 200 with an ETag
    unchanged: Capture  # the 304 that answered its conditional request


def capture(pipeline: Pipeline, url: str) -> Capture:
    outcome = pipeline.capture(url)
    assert not outcome.failures, outcome.failures
    return outcome.captures[0]


def twin(n: int) -> HttpExchange:
    """The n-th of two exchanges with one URL in one second (at .250 and .750)."""
    return HttpExchange(
        url="https://example.gov/live-results",
        fetched_at=datetime(2026, 11, 3, 21, 0, 5, 250_000 + (n - 1) * 500_000, tzinfo=UTC),
        status=200,
        reason="OK",
        headers=(("Content-Type", "text/html; charset=utf-8"),),
        payload=f"<p>Results update {n}.</p>".encode(),
    )


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> Replayed:
    root = tmp_path_factory.mktemp("replay") / "archive"
    init_archive(root)
    with LoopbackServer() as server:
        server.route(
            "/notice/withdrawn", status=410, body="<p>This notice was withdrawn.</p>", headers=HTML
        )
        server.route("/notice/old", status=301, headers={"Location": "/notice/new"})
        server.route("/notice/new", status=200, body="<p>The notice moved here.</p>", headers=HTML)
        steady = {**HTML, "ETag": '"v1"'}
        server.route("/notice/steady", status=200, body="<p>Opening hours.</p>", headers=steady)
        with (
            Store.open(root) as store,
            PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
        ):
            pipeline = Pipeline(store, http)
            withdrawn = capture(pipeline, server.url("/notice/withdrawn"))
            moved = capture(pipeline, server.url("/notice/old"))
            first = capture(pipeline, server.url("/notice/steady"))
            server.route("/notice/steady", status=304, headers={"ETag": '"v1"'})
            time.sleep(1.0)  # another second: pywb's index knows 14-digit timestamps only
            again = capture(pipeline, server.url("/notice/steady"))
            assert server.requests[-1].header("If-None-Match") == '"v1"'
            twins = tuple(store.save_capture(twin(n)) for n in (1, 2))
    assert (withdrawn.status, moved.status, again.status) == (410, 301, 304)
    return Replayed(root, twins, withdrawn, moved, server.url("/notice/new"), first, again)


@pytest.fixture(scope="module")
def client(replayed):
    return create_app({"ARCHIVE": str(replayed.root), "TESTING": True}).test_client()


def raw(capture: Capture) -> str:
    return links.raw_capture_path(capture.url, capture.captured_at)


def test_the_archived_copy_of_a_410_answers_410(client, replayed):
    response = client.get(raw(replayed.withdrawn))
    assert response.status_code == 410
    assert response.data == b"<p>This notice was withdrawn.</p>"
    assert response.headers["Memento-Datetime"]
    assert 'rel="memento"' in response.headers["Link"]
    assert response.headers["Content-Security-Policy"].startswith("sandbox")


def test_an_archived_redirect_is_replayed_into_the_archive(client, replayed):
    response = client.get(raw(replayed.moved))
    assert response.status_code == 301
    assert response.headers["Location"] == links.raw_capture_path(
        replayed.moved_to, replayed.moved.captured_at
    )


def test_a_304_is_a_server_not_modified_revisit_replayed_empty(client, replayed):
    unchanged = replayed.unchanged
    assert unchanged.record_type == "revisit" and unchanged.refers_to == replayed.steady.id
    with open(replayed.root / "warcs" / unchanged.warc_file, "rb") as handle:
        handle.seek(unchanged.warc_offset)
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers.get_header("WARC-Profile") == NOT_MODIFIED
        assert record.rec_headers.get_header("WARC-Refers-To-Date")
    response = client.get(raw(unchanged))
    assert response.status_code == 304 and response.data == b""
    page = client.get(links.capture_path(unchanged.url, unchanged.captured_at))
    frame = re.search(
        r'<iframe class="archived" sandbox src="([^"]+)"', page.get_data(as_text=True)
    )
    assert frame.group(1) == raw(replayed.steady)  # the page shows what was not modified
    assert client.get(raw(replayed.steady)).data == b"<p>Opening hours.</p>"
    with Catalog.open(replayed.root / "catalog.sqlite") as catalog:
        assert catalog.capture(unchanged.id) == unchanged


def test_two_captures_in_one_second_each_have_a_reachable_memento_uri(client, replayed):
    first, second = replayed.twins
    uris = [links.capture_path(c.url, c.captured_at) for c in (first, second)]
    assert uris == [
        "/20261103210005250/https://example.gov/live-results",
        "/20261103210005750/https://example.gov/live-results",
    ]
    timemap = client.get(links.timemap_path(first.url)).get_data(as_text=True)
    listed = re.findall(r"<http://localhost(/\d+/[^>]+)>; rel=\"[^\"]*memento", timemap)
    assert listed == uris
    for capture, uri in zip((first, second), uris, strict=True):
        page = client.get(uri)
        assert page.status_code == 200
        assert f"<code>{capture.id}</code>" in page.get_data(as_text=True)
        assert f'<http://localhost{uri}>; rel="memento"' in page.headers["Link"]
        copy = client.get(links.raw_capture_path(capture.url, capture.captured_at))
        assert copy.status_code == 200
        assert copy.data == f"<p>Results update {(first, second).index(capture) + 1}.</p>".encode()


def test_a_14_digit_link_issued_before_keeps_leading_to_the_first_of_its_second(client, replayed):
    first, _second = replayed.twins
    for old, new in (
        ("/20261103210005/", links.capture_path(first.url, first.captured_at)),
        ("/20261103210005id_/", links.raw_capture_path(first.url, first.captured_at)),
    ):
        response = client.get(old + first.url)
        assert response.status_code == 302
        assert response.headers["Location"] == new


def pywb_reply(url: str) -> tuple[int, bytes]:
    """Status and body, without following redirects (pywb answers non-200s as they were)."""

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(Stay).open(url, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.read()


@pytest.mark.slow
def test_pywb_replays_status_and_304_revisits_as_onrecord_does(
    client,
    replayed,
    wayback,  # noqa: F811 -- the fixture imported above
):
    base = wayback("replay", *sorted((replayed.root / "warcs").iterdir()))
    for capture in (replayed.withdrawn, replayed.unchanged, replayed.steady):
        stamp = ids.ts14(capture.captured_at)
        theirs = pywb_reply(f"{base}/{stamp}id_/{capture.url}")
        ours = client.get(raw(capture))
        assert (ours.status_code, ours.data) == theirs, capture.url


def test_pages_that_negotiate_say_vary_accept_and_archived_copies_do_not(client, replayed):
    first = replayed.twins[0]
    for path in ("/captures", links.capture_path(first.url, first.captured_at), "/"):
        html, data = client.get(path), client.get(path, headers={"Accept": "application/json"})
        assert html.mimetype == "text/html" and data.mimetype == "application/json", path
        for response in (html, data):
            assert "Accept" in response.vary, path
    raw_copy = client.get(raw(first), headers={"Accept": "application/json"})
    assert raw_copy.mimetype == "text/html" and "Accept" not in raw_copy.vary
    assert "Accept" not in client.get("/captures.json").vary


def test_the_capture_list_and_a_capture_have_json_twins(client, replayed):
    listed = client.get("/captures.json").get_json()
    assert listed == client.get("/captures", headers={"Accept": "application/json"}).get_json()
    with Catalog.open(replayed.root / "catalog.sqlite") as catalog:
        assert listed["total"] == catalog.count_captures()
        newest = catalog.captures(limit=1)[0]
    assert listed["captures"][0]["id"] == newest.id
    assert listed["page"] == 1 and listed["next"] is None
    withdrawn = replayed.withdrawn
    page = links.capture_path(withdrawn.url, withdrawn.captured_at)
    twin = client.get(page, headers={"Accept": "application/json"}).get_json()
    assert twin["id"] == withdrawn.id and twin["status"] == 410
    assert twin["warc"]["record_id"] == withdrawn.warc_record_id
    assert twin["archived_copy"] == raw(withdrawn) and twin["page"] == page
    entry = next(c for c in listed["captures"] if c["id"] == withdrawn.id)
    assert {key: twin[key] for key in entry} == entry
    assert isinstance(twin["log_position"], int)
