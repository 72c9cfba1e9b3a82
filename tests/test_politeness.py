"""Politeness across processes: separate `onrecord scrape` processes fetching from one
host take turns through the catalog's host leases (archive/catalog/leases.py), so the
host never sees two requests closer than its delay, whichever process sends them; on
SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import threading
import time

import pytest

from archive.catalog import Catalog
from archive.catalog.leases import HELD_POLL, HostLeases
from archive.store import Paths, init_archive
from scrapers.errors import FetchTimeout
from scrapers.http import HttpConfig, PoliteSession
from tests.catalogs import ENGINES, catalog_setting
from tests.conftest import ONRECORD
from tests.loopback import LoopbackServer, Reply

DELAY = 0.4
PROCESSES = 3
PAGES = 5  # per process, after its robots.txt
START_TIMEOUT = 60.0  # seconds for every process to start (a busy machine is slow)
# The host's clock (the server's) and the lease's (the database's) are read at
# different moments; SQLite's clock has milliseconds.
CLOCK_SLACK = 0.005
HTML = {"Content-Type": "text/html; charset=utf-8"}


def _page(n: int, i: int) -> str:
    return (
        f"<html><head><title>Notice {n}.{i}</title></head><body><article><h1>Notice {n}.{i}"
        f"</h1><p>The works council of district {n} met for the {i}th time this year and"
        " agreed the budget without a vote.</p></article></body></html>"
    )


def _archive(root, server: LoopbackServer, catalog: str) -> None:
    root.mkdir()
    lines = ["[onrecord]", "allow_private = true", f"delay = {DELAY}"]
    if catalog:
        lines.append(f'catalog = "{catalog}"')
    (root / "onrecord.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    init_archive(root)
    server.route("/robots.txt", body="User-agent: *\nAllow: /\n")
    for n in range(PROCESSES):
        urls = []
        for i in range(PAGES):
            server.route(f"/d{n}/notice-{i}", body=_page(n, i), headers=HTML)
            urls.append(f'"{server.url(f"/d{n}/notice-{i}")}"')
        (root / "sources" / f"d{n}.toml").write_text(
            f'[[source]]\nname = "d{n}"\npublisher = "District {n}"\nkind = "statement"\n'
            f'discovery = {{ type = "none" }}\nstart_urls = [{", ".join(urls)}]\n'
            'schedule = { every = "1d" }\n',
            encoding="utf-8",
        )


@pytest.mark.parametrize("engine", ENGINES)
def test_processes_scraping_one_host_never_come_closer_than_its_delay(tmp_path, engine):
    root = tmp_path / "archive"
    with LoopbackServer() as server, catalog_setting(engine) as catalog:
        _archive(root, server, catalog)
        host = f"{server.host}:{server.port}"
        with HostLeases(Paths(root).catalog) as leases:
            # The test holds the host's turn until every process has opened its run and
            # queues for the turn (new Python processes start seconds apart on a busy
            # machine), so that they all contend from the first request.
            assert leases.take(host, "test", hold=START_TIMEOUT) == 0.0
            workers = [
                subprocess.Popen(
                    [str(ONRECORD), "scrape", f"d{n}", "--archive", str(root)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for n in range(PROCESSES)
            ]
            _wait_for_runs(root, [f"d{n}" for n in range(PROCESSES)])
            leases.release(host, "test", rest=0.0)
        for worker in workers:
            _, stderr = worker.communicate(timeout=120)
            assert worker.returncode == 0, stderr
        arrivals = sorted(server.requests, key=lambda request: request.at)
    assert len(arrivals) == PROCESSES * (PAGES + 1)  # each read robots.txt once
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) >= DELAY - CLOCK_SLACK, [round(gap, 3) for gap in gaps]
    # Every process wanted the host from the first request on (the test held the turn
    # until each had opened its run), so these gaps are kept between processes; the
    # lease spaces requests but does not promise whose turn comes next.
    assert {r.path.split("/")[1] for r in arrivals if r.path != "/robots.txt"} == {
        f"d{n}" for n in range(PROCESSES)
    }


def _wait_for_runs(root, sources: list[str]) -> None:
    """Block until each source has a run in the catalog (its process is about to fetch)."""
    deadline = time.monotonic() + START_TIMEOUT
    with Catalog.open(Paths(root).catalog) as catalog:
        while not all(catalog.last_run(source) for source in sources):
            assert time.monotonic() < deadline, "the scrape processes did not start"
            time.sleep(0.05)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_turn_is_one_holders_until_released_or_expired(tmp_path, engine):
    root = tmp_path / "archive"
    with LoopbackServer() as server, catalog_setting(engine) as catalog:
        _archive(root, server, catalog)
        with HostLeases(Paths(root).catalog) as first, HostLeases(Paths(root).catalog) as second:
            assert first.take("example.gov:443", "a", hold=0.5) == 0.0
            wait = second.take("example.gov:443", "b", hold=0.5)
            assert 0.0 < wait <= 0.5  # held: asked again when the hold runs out
            assert second.take("example.gov:80", "b", hold=0.5) == 0.0  # another host
            first.release("example.gov:443", "a", rest=0.2)
            assert 0.0 < second.take("example.gov:443", "b", hold=0.5) <= 0.2 + 1e-6
            time.sleep(0.25)
            assert second.take("example.gov:443", "b", hold=0.2) == 0.0
            first.release("example.gov:443", "a", rest=60)  # "a" no longer holds it
            time.sleep(0.25)  # a holder that died: its turn is free after the hold
            assert first.take("example.gov:443", "c", hold=0.5) == 0.0
            second.defer("example.gov:443", 30.0)  # a backoff while "c" holds the turn:
            first.release("example.gov:443", "c", rest=0.0)  # its release keeps it
            assert second.take("example.gov:443", "b", hold=0.5) > 25.0
            second.defer("example.gov:443", 1.0)  # never shortens a rest
            assert first.take("example.gov:443", "d", hold=0.5) > 25.0


@pytest.mark.parametrize("engine", ENGINES)
def test_the_turn_of_a_killed_process_is_handed_back_on_its_machine(tmp_path, engine):
    """A process SIGKILLed while it holds a turn (asked for 60 s): another process of
    the same machine sees it is gone and gets the turn after the host's rest, not after
    the hold; asked when the turn is free (a worker putting a job back until then), it
    does not answer with the hold's end either."""
    root = tmp_path / "archive"
    with LoopbackServer() as server, catalog_setting(engine) as catalog:
        _archive(root, server, catalog)
        holding = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time\n"
                "from archive.catalog.leases import HostLeases\n"
                "lease = HostLeases(sys.argv[1])\n"
                "assert lease.take('example.gov:443', 'dying', hold=60.0) == 0.0\n"
                "print('held', flush=True)\n"
                "time.sleep(120)\n",
                str(Paths(root).catalog),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holding.stdout.readline().strip() == "held"
            with HostLeases(Paths(root).catalog) as lease:
                assert lease.take("example.gov:443", "me", hold=5.0, rest=0.3) == HELD_POLL
                assert lease.free_in("example.gov:443") == float("inf")
                holding.kill()
                holding.wait()
                assert lease.free_in("example.gov:443") == 0.0
                assert 0.25 < lease.take("example.gov:443", "me", hold=5.0, rest=0.3) <= 0.3
                assert lease.take("example.gov:443", "me", hold=5.0, rest=0.3) > 0.0
                time.sleep(0.35)
                assert lease.take("example.gov:443", "me", hold=5.0, rest=0.3) == 0.0
        finally:
            holding.kill()
            holding.wait()
            holding.stdout.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_backoff_one_process_meets_holds_for_the_others(tmp_path, engine):
    """A 503 with Retry-After: 1 met by one session makes the host rest a second for a
    session of another process (its own HostLeases on the same catalog) too."""
    root = tmp_path / "archive"
    config = HttpConfig(allow_private=True, delay=0.0, obey_robots=False, max_retries=1)
    with LoopbackServer() as server, catalog_setting(engine) as catalog:
        _archive(root, server, catalog)
        server.route("/busy", Reply(status=503, headers={"Retry-After": "1"}), Reply(body="ok"))
        server.route("/other", body="other")
        with (
            HostLeases(Paths(root).catalog) as mine,
            HostLeases(Paths(root).catalog) as theirs,
            PoliteSession(config, lease=mine) as first,
            PoliteSession(config, lease=theirs) as second,
        ):
            busy = threading.Thread(target=first.fetch, args=(server.url("/busy"),))
            busy.start()
            while not server.hits("/busy"):
                time.sleep(0.01)
            time.sleep(0.1)  # the 503 is in, and its backoff set
            second.fetch(server.url("/other"))
            busy.join()
        arrivals = {(r.path, n): r.at for n, r in enumerate(server.requests)}
    [refused] = [at for (path, n), at in arrivals.items() if path == "/busy" and n == 0]
    [other] = [at for (path, _), at in arrivals.items() if path == "/other"]
    assert other - refused >= 1.0 - CLOCK_SLACK


class TricklingHost:
    """A host that sends the headers of /slow a byte every TRICKLE seconds (9 s in all)
    and counts the requests in flight to it: from each one's arrival until it is
    answered or its client hangs up."""

    TRICKLE = 0.2

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.arrived: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # the test is over and closed the listener
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(4096)
            path = request.split(b" ")[1].decode()
            with self._lock:
                self.arrived.append(path)
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                if path == "/slow":
                    for byte in b"X-Padding: " + b"a" * 32 + b"\r\n":
                        if self._hung_up(connection):
                            return
                        connection.sendall(bytes([byte]))
                connection.sendall(b"Content-Length: 2\r\nConnection: close\r\n\r\nok")
            except OSError:
                pass
            finally:
                with self._lock:
                    self.in_flight -= 1

    def _hung_up(self, connection: socket.socket) -> bool:
        """Wait one trickle step, noticing at once a client that hangs up meanwhile."""
        connection.settimeout(self.TRICKLE)
        try:
            return connection.recv(1) == b""
        except TimeoutError:
            return False


@pytest.mark.parametrize("engine", ENGINES)
def test_a_request_never_outlives_its_turn(tmp_path, engine):
    """A host that trickles its headers keeps a request open far past total_timeout
    and past the turn it holds, whose hold is sized on total_timeout: the request is
    stopped at its total_timeout, so the session of another process waiting for the
    host's turn never sends while it is in flight."""
    root = tmp_path / "archive"
    config = HttpConfig(
        allow_private=True,
        obey_robots=False,
        delay=1.0,
        connect_timeout=0.5,
        read_timeout=1.0,
        total_timeout=1.0,
    )
    host = TricklingHost()
    failures: list[tuple[FetchTimeout, float]] = []

    def fetch_slowly(session: PoliteSession) -> None:
        started = time.monotonic()
        with pytest.raises(FetchTimeout) as caught:
            session.fetch(host.url("/slow"))
        failures.append((caught.value, time.monotonic() - started))

    with (
        LoopbackServer() as server,
        catalog_setting(engine) as catalog,
        host.listener,
    ):
        _archive(root, server, catalog)
        with (
            HostLeases(Paths(root).catalog) as mine,
            HostLeases(Paths(root).catalog) as theirs,
            PoliteSession(config, lease=mine) as first,
            PoliteSession(config, lease=theirs) as second,
        ):
            slow = threading.Thread(target=fetch_slowly, args=(first,))
            slow.start()
            while not host.arrived:
                time.sleep(0.01)
            assert second.fetch(host.url("/fast")).final.body == b"ok"
            slow.join()
    assert host.arrived == ["/slow", "/fast"]
    assert host.most_in_flight == 1
    [(timeout, took)] = failures
    assert took < config.total_timeout + 1.5  # not the 9 s the headers take
    assert timeout.reason == "response not received within 1.0s"
