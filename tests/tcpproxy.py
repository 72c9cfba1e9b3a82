"""A TCP forwarder on 127.0.0.1 that can make the server behind it go away, for the
tests of an object store that fails.

    with TcpProxy(("127.0.0.1", 8333)) as proxy:
        client(endpoint=proxy.url)
        proxy.cut_after(1_000_000)  # drop every connection once 1 MB more has gone up,
                                    # and refuse new ones: the store is down
        proxy.down()                # refuse connections from now on
        proxy.up()                  # forward again
        proxy.received              # bytes the client has been sent so far

Cutting counts the bytes going to the server, so an upload stops part-way through.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._budget: int | None = None  # bytes still allowed upstream; None: no limit
        self._refusing = False
        self.received = 0  # bytes sent back to clients
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closed = True
        self._listener.close()
        self._drop_all()

    def cut_after(self, count: int) -> None:
        with self._lock:
            self._budget = count

    def down(self) -> None:
        with self._lock:
            self._refusing = True
        self._drop_all()

    def up(self) -> None:
        with self._lock:
            self._refusing, self._budget = False, None

    def _drop_all(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refusing = self._refusing
            if refusing:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        try:
            while data := source.recv(65536):
                if upstream and not self._spend(len(data)):
                    self.down()
                    return
                sink.sendall(data)
                if not upstream:
                    with self._lock:
                        self.received += len(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def _spend(self, count: int) -> bool:
        with self._lock:
            if self._budget is None:
                return True
            self._budget -= count
            return self._budget >= 0
