"""A real HTTP server on 127.0.0.1 for tests, with replies scripted per path.

    with LoopbackServer() as srv:
        srv.route("/a", status=200, body=b"<p>hi</p>", headers={"Content-Type": "text/html"})
        srv.route("/flaky", Reply(status=503), Reply(status=200))  # in turn; the last repeats
        fetch(srv.url("/a"))
        srv.route("/a", status=410)       # routing a path again changes what it answers
        assert srv.hits("/a") == 1

Each route answers GET with exactly the status line, headers and body it is given (no
Date or Server header is added; Content-Length is, unless the reply is chunked or sets its
own). A `Reply` can also wait before answering (`delay`), send its body in chunks
(`chunked`), trickle (`chunk_delay`) or stream far more than it holds (`length`). Paths
without a route answer 404. Every request is recorded in `requests`; `bytes_sent(path)`
tells how much body actually went out, for example to show that a client stopped early.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LoopbackServer", "Reply", "Request"]


@dataclass(frozen=True)
class Reply:
    """One scripted response."""

    status: int = 200
    body: bytes | str = b""  # str is sent as UTF-8
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = ()  # pairs allow repeats
    delay: float = 0.0  # seconds before the status line
    chunked: bool = False  # Transfer-Encoding: chunked, chunk_size bytes a chunk
    chunk_size: int = 64 * 1024
    chunk_delay: float = 0.0  # seconds between pieces of the body
    length: int | None = None  # body length, made by repeating `body`; default len(body)

    def payload(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body

    def header_pairs(self) -> list[tuple[str, str]]:
        headers = self.headers
        return list(headers.items()) if isinstance(headers, Mapping) else list(headers)

    def pieces(self) -> Iterator[bytes]:
        """The body in pieces of at most chunk_size bytes."""
        payload = self.payload()
        total = len(payload) if self.length is None else self.length
        if not payload:
            return
        # Enough repeats that any piece is one slice, whatever its offset in `payload`.
        repeated = payload * (self.chunk_size // len(payload) + 2)
        for sent in range(0, total, self.chunk_size):
            start = sent % len(payload)
            yield repeated[start : start + min(self.chunk_size, total - sent)]


@dataclass(frozen=True)
class Request:
    """A request as the server received it."""

    method: str
    target: str  # path and query, as sent
    headers: tuple[tuple[str, str], ...]
    at: float = field(default_factory=time.monotonic)  # when it arrived (server's clock)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 (or `host`), port chosen by the system."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host  # another loopback address (127.0.0.2) makes another site
        self.requests: list[Request] = []
        self._routes: dict[str, list[Reply]] = {}
        self._served: dict[str, int] = {}
        self._sent: dict[str, int] = {}
        self._busy = 0
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer((host, 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def route(self, path: str, *replies: Reply, **reply: Any) -> None:
        """Answer `path` with `replies` in turn (the last repeats), or with Reply(**reply).

        Routing a path again replaces its replies and restarts the turn.
        """
        if replies and reply:
            raise TypeError("give Reply objects or Reply fields, not both")
        with self._lock:
            self._routes[path] = list(replies) or [Reply(**reply)]
            self._served[path] = 0

    def hits(self, path: str) -> int:
        """How many requests arrived for `path` (query strings ignored)."""
        with self._lock:
            return sum(1 for request in self.requests if request.path == path)

    def bytes_sent(self, path: str) -> int:
        """How many body bytes were written for `path`, over all its requests."""
        with self._lock:
            return self._sent.get(path, 0)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until no response is being written (a client may have hung up)."""
        with self._lock:
            if not self._lock.wait_for(self._idle, timeout):
                raise TimeoutError("loopback server still busy")

    def _idle(self) -> bool:
        return self._busy == 0

    def _arrived(self, request: Request) -> Reply | None:
        with self._lock:
            self.requests.append(request)
            replies = self._routes.get(request.path)
            if replies is None:
                return None
            turn = self._served[request.path]
            self._served[request.path] = turn + 1
            self._busy += 1
            return replies[min(turn, len(replies) - 1)]

    def _wrote(self, path: str, count: int) -> None:
        with self._lock:
            self._sent[path] = self._sent.get(path, 0) + count

    def _done(self) -> None:
        with self._lock:
            self._busy -= 1
            self._lock.notify_all()


def _handler_for(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10  # a client that vanishes does not hold a thread for long

        def do_GET(self) -> None:
            request = Request("GET", self.path, tuple(self.headers.items()))
            reply = server._arrived(request)
            if reply is None:
                self._answer(request.path, Reply(status=404))
                return
            try:
                self._answer(request.path, reply)
            finally:
                server._done()

        def _answer(self, path: str, reply: Reply) -> None:
            time.sleep(reply.delay)
            headers = reply.header_pairs()
            names = {name.lower() for name, _ in headers}
            try:
                self.send_response_only(reply.status)
                for name, value in headers:
                    self.send_header(name, value)
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                elif "content-length" not in names:
                    length = len(reply.payload()) if reply.length is None else reply.length
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                for piece in reply.pieces():
                    framed = b"%x\r\n%s\r\n" % (len(piece), piece) if reply.chunked else piece
                    self.wfile.write(framed)
                    server._wrote(path, len(piece))
                    time.sleep(reply.chunk_delay)
                if reply.chunked:
                    self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet; requests are in `server.requests`."""

    return Handler
