"""The web app served by waitress in a thread of the test process, on 127.0.0.1 (port 0).

    with serve_app(create_app({"ARCHIVE": str(root)}), threads=4) as base_url:
        urllib.request.urlopen(base_url + "/")

Stopping closes the server's sockets from inside its own loop, so the loop ends with no
error: closing them from the test's thread while the loop polls them raised EBADF there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from waitress import create_server
from waitress.wasyncore import close_all


@contextmanager
def serve_app(app, **options) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields the server's base URL."""
    server = create_server(app, host="127.0.0.1", port=0, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # waitress's own way to run code in its loop; with no socket left, the loop returns
        server.trigger.pull_trigger(lambda: close_all(server._map))
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()
