"""The web server as deployed: waitress from ``onrecord serve``'s own ``listen()`` on a
loopback port, spoken to over real sockets. Idle connections (slowloris) must not lock
readers out, and absolute URLs come from the ``public_url`` setting, never from a Host
header a client chose."""

from __future__ import annotations

import http.client
import socket
import threading
from contextlib import contextmanager

import pytest

from tests.conftest import run_onrecord
from web import create_app, links
from web.cli import listen

IDLE = 300
EVIL = "evil.example"


@contextmanager
def serving(app):
    server = listen(app, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server.effective_port
    finally:
        server.close()
        thread.join(timeout=5)


def get(port: int, path: str, host: str | None = None, timeout: float = 10.0):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest("GET", path, skip_host=host is not None)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


def test_a_reader_is_served_while_300_idle_connections_are_open(site):
    with serving(create_app({"ARCHIVE": str(site.root)})) as port:
        idle = []
        try:
            for _ in range(IDLE):
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never finish
                idle.append(sock)
            status, _, body = get(port, links.quote_path(site.pledge), timeout=5)
            assert status == 200 and "Dana Whitfield" in body
            status, _, _ = get(port, "/static/onrecord.css", timeout=5)
            assert status == 200
        finally:
            for sock in idle:
                sock.close()


@pytest.fixture
def public_app(site, monkeypatch):
    monkeypatch.setenv("ONRECORD_PUBLIC_URL", "https://onrecord.example/")
    return create_app({"ARCHIVE": str(site.root)})


def test_absolute_urls_come_from_public_url_not_the_host_header(public_app, site):
    with serving(public_app) as port:
        _, _, page = get(port, links.quote_path(site.pledge), host=EVIL)
        _, _, atom = get(port, links.search_atom_path("ballot"), host=EVIL)
        _, headers, _ = get(port, links.timegate_path(site.statement_url), host=EVIL)
    assert EVIL not in page and EVIL not in atom and EVIL not in headers["Link"]
    assert "(archived at https://onrecord.example/20" in page  # the APA citation
    assert "https://onrecord.example/search.atom?q=ballot" in atom
    assert "<https://onrecord.example/timemap/link/" in headers["Link"]


def test_without_public_url_absolute_urls_use_the_request_host(site, monkeypatch):
    monkeypatch.delenv("ONRECORD_PUBLIC_URL", raising=False)
    with serving(create_app({"ARCHIVE": str(site.root)})) as port:
        _, _, atom = get(port, links.search_atom_path("ballot"))
    assert f"http://127.0.0.1:{port}/search.atom?q=ballot" in atom


def test_a_public_url_that_is_not_an_absolute_url_is_refused(site, monkeypatch):
    monkeypatch.setenv("ONRECORD_PUBLIC_URL", "onrecord.example")
    with pytest.raises(ValueError, match="public_url must be an absolute http"):
        create_app({"ARCHIVE": str(site.root)})


def test_serve_with_a_bad_public_url_says_so_in_one_line(archive_root):
    result = run_onrecord(
        "serve",
        "--archive",
        str(archive_root),
        "--port",
        "0",
        env={"ONRECORD_PUBLIC_URL": "onrecord.example"},
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: public_url must be an absolute http(s) URL, not 'onrecord.example'"
    )
