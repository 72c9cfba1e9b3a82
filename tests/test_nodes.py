"""Two web nodes over one archive, as deployed: PostgreSQL for the catalog, SeaweedFS
for the WARC files, and two ``onrecord serve`` processes, each with its own archive
folder and index (nothing local in common), while captures arrive through the command
line from a third folder. Both nodes answer alike once caught up; a node stopped while
captures go on catches up when it restarts; a node whose index is deleted rebuilds it
while the other keeps serving; a session made on one node works on the other; two nodes
on one index folder are refused."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from archive.catalog import Catalog
from archive.store import Paths, init_archive
from tests.catalogs import postgres_database
from tests.conftest import ONRECORD
from tests.loopback import LoopbackServer
from web import links

SECRET = "a secret that every node of this archive shares"
PUBLIC = "https://news.example/"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Water notice {n}</title></head>
<body><article><h1>Water notice {n} for the river district</h1>
<p>The river district posted its weekly water notice on Monday, listing the readings
taken at each of its {n} pumping stations and the repairs planned for the month.</p>
<p>"Station {n} will publish its readings every morning before eight," said Marta Olsen,
the district's water director.</p>
<p>Residents who want a printed copy of the notice can ask for one at the district
office on Mill Street, which is open on weekdays.</p>
</article></body></html>"""
WAIT = 15.0  # seconds a node may take to catch up


class Node:
    """One ``onrecord serve`` process on an archive folder of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.process: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        self.process = subprocess.Popen(
            [str(ONRECORD), "serve", "--archive", str(self.root), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self) -> None:
        line = self.process.stdout.readline()
        if not line.startswith("serving"):
            self.process.wait(10)
            raise AssertionError(f"the node did not start: {self.process.stderr.read()}")
        self.port = int(line.rsplit(":", 1)[1].strip("/\n"))

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)
            self.process.stdout.close()
            self.process.stderr.close()
            self.process = None

    def get(self, path: str, headers: dict | None = None):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read().decode()

    def json(self, path: str):
        status, _, body = self.get(path)
        assert status == 200, body
        return json.loads(body)

    def position(self) -> tuple[int | None, int]:
        index = self.json("/status.json")["index"]
        return index["position"], index["head"]

    def caught_up(self, head: int) -> None:
        deadline = time.monotonic() + WAIT
        while self.position() != (head, head):
            assert time.monotonic() < deadline, f"not caught up: {self.json('/status.json')}"
            time.sleep(0.1)


def folder(root: Path, settings: str) -> Path:
    root.mkdir()
    (root / "onrecord.toml").write_text(settings, encoding="utf-8")
    init_archive(root)
    return root


def head(worker: Path) -> int:
    with Catalog.open(Paths(worker).catalog) as catalog:
        return catalog.change_head()


def capture(worker: Path, site: LoopbackServer, *numbers: int) -> None:
    """Capture a notice page for each number, each by its own ``onrecord capture``
    process, all at once."""
    running = []
    for n in numbers:
        site.route(
            f"/notice/{n}",
            status=200,
            body=PAGE.format(n=n),
            headers={"Content-Type": "text/html"},
        )
        command = [str(ONRECORD), "capture", site.url(f"/notice/{n}"), "--archive", str(worker)]
        running.append(subprocess.Popen(command, stderr=subprocess.PIPE, text=True))
    for process in running:
        _, errors = process.communicate(timeout=60)
        assert process.returncode == 0, errors


def alike(nodes: list[Node], paths: list[str]) -> None:
    """The same JSON from both nodes, search hits in the same order (hits that tie, with
    equal scores or captured in the same second, go by id whatever order each node's
    index wrote them in)."""
    for path in paths:
        first, second = (node.json(path) for node in nodes)
        assert first == second, path


def quote_pages(worker: Path) -> list[str]:
    with Catalog.open(Paths(worker).catalog) as catalog:
        return [links.json_path(links.quote_path(q.id)) for q in catalog.current_quotes()]


SEARCHES = [
    links.json_path(links.search_path(q, type=kind, sort=sort))
    for q in ('"publish its readings"', "Olsen", "station")
    for kind in ("quote", "document", "")
    for sort in ("date", "")
]
QUOTES = links.json_path(links.search_path("Olsen", type="quote"))


@pytest.fixture
def nodes(tmp_path, seaweedfs):
    with postgres_database() as url, LoopbackServer() as site:
        settings = (
            f'[onrecord]\ncatalog = "{url}"\nallow_private = true\ndelay = 0.0\n'
            f'secret_key = "{SECRET}"\npublic_url = "{PUBLIC}"\nfollow_interval = 0.2\n'
            + seaweedfs.settings(seaweedfs.new_place())
        )
        worker = folder(tmp_path / "worker", settings)
        first = Node(folder(tmp_path / "node-a", settings))
        second = Node(folder(tmp_path / "node-b", settings))
        try:
            yield worker, site, [first, second]
        finally:
            first.stop()
            second.stop()


def test_two_nodes_follow_one_archive(nodes):
    worker, site, (first, second) = nodes
    first.launch()
    second.launch()
    first.wait_ready()
    second.wait_ready()

    # a third node on the first's index folder is refused (while captures go on)
    third = Node(first.root)
    third.launch()

    # captures through the command line while both serve
    capture(worker, site, 1, 2)
    _, refused = third.process.communicate(timeout=60)
    assert third.process.returncode == 1
    assert f"the index folder {first.root / 'index'} is in use by onrecord serve" in refused
    assert "ONRECORD_INDEX" in refused
    for node in (first, second):
        node.caught_up(head(worker))
    alike([first, second], SEARCHES + quote_pages(worker))
    assert first.json(QUOTES)["total"] == 2

    # a node stopped while captures go on catches up when it restarts
    second.stop()
    capture(worker, site, 3)
    first.caught_up(head(worker))
    second.start()
    second.caught_up(head(worker))
    alike([first, second], SEARCHES + quote_pages(worker))
    assert second.json(QUOTES)["total"] == 3

    # a node's index deleted: it rebuilds from the catalog while the other serves
    second.stop()
    shutil.rmtree(second.root / "index")
    second.launch()
    capture(worker, site, 4)
    second.wait_ready()
    assert first.json(QUOTES)["total"] >= 3  # the other node serves meanwhile
    for node in (first, second):
        node.caught_up(head(worker))
    alike([first, second], SEARCHES + quote_pages(worker))
    assert second.json(QUOTES)["total"] == 4

    # absolute URLs come from public_url on every node
    for node in (first, second):
        _, _, feed = node.get(links.search_atom_path("Olsen"))
        assert f"{PUBLIC}search.atom?q=Olsen" in feed

    # a form shown by one node is accepted by the other (one secret_key), and the
    # session it opens is known to both (sessions live in the catalog)
    with Catalog.open(Paths(worker).catalog) as catalog:
        catalog.add_user("ed", "editor", "a long enough password")
    _, headers, page = first.get(links.signin_path())
    token = BeautifulSoup(page, "html.parser").select_one("input[name=csrf_token]")["value"]
    cookie = SimpleCookie(headers["Set-Cookie"])
    pre = "; ".join(f"{k}={v.value}" for k, v in cookie.items())
    form = f"name=ed&password=a+long+enough+password&csrf_token={token}".encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{second.port}{links.signin_path()}",
        data=form,
        headers={"Cookie": pre, "Content-Type": "application/x-www-form-urlencoded"},
    )
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as answered:
        opener.open(request, timeout=10)
    assert answered.value.code == 303
    session = SimpleCookie(answered.value.headers["Set-Cookie"])
    signed_in = "; ".join(f"{k}={v.value}" for k, v in session.items())
    _, _, home = first.get("/", headers={"Cookie": signed_in})
    assert "ed" in BeautifulSoup(home, "html.parser").select_one(".me").text


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
