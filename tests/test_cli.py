"""`onrecord serve` as a user starts it: a production server, and clear words when it cannot."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request

from tests.conftest import ONRECORD, run_onrecord


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_answers_with_waitress(archive_root):
    port = free_port()
    server = subprocess.Popen(
        [str(ONRECORD), "serve", "--archive", str(archive_root), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/captures") as response:
                    assert response.status == 200
                    assert response.headers["Server"] == "onrecord"
                    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
                    break
            except OSError:
                assert time.monotonic() < deadline, "onrecord serve did not come up"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_on_a_port_in_use_is_one_sentence(archive_root):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_onrecord("serve", "--archive", str(archive_root), "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
