"""`onrecord serve` as a user starts it: a production server, and clear words when it cannot."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

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


PAGES = Path(__file__).parent / "data" / "pages"


def test_extract_jsonl_has_exactly_the_promised_fields():
    result = run_onrecord(
        "extract",
        "--format",
        "jsonl",
        "--url",
        "https://lakemoor.example.gov/news/1",
        str(PAGES / "statement-v1.html"),
        str(PAGES / "statement-v2.html"),
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    fields = {
        "path",
        "url",
        "title",
        "authors",
        "publisher",
        "published",
        "language",
        "text",
        "paragraphs",
    }
    assert all(set(line) == fields for line in lines)
    first = lines[0]
    assert first["url"] == "https://lakemoor.example.gov/news/1"
    assert first["title"] == "Board certifies county results"
    assert first["text"] == "\n\n".join(first["paragraphs"])
    assert first["published"].startswith("2026-11-12T21:30:00")


def test_quotes_jsonl_has_exactly_the_promised_fields(tmp_path):
    text = (
        "The clerk spoke after the vote.\n\n"
        "“We counted every ballot twice,” said Ines Varga, the county clerk. "
        "“Nothing was left out,” she added."
    )
    path = tmp_path / "story.txt"
    path.write_text(text, encoding="utf-8")
    result = run_onrecord("quotes", "--format", "jsonl", str(path))
    assert result.returncode == 0, result.stderr
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert set(record) == {"path", "quotes"}
    fields = {
        "start",
        "end",
        "text",
        "speaker",
        "speaker_start",
        "speaker_end",
        "role",
        "cue",
        "via",
        "anonymous",
    }
    assert all(set(quote) == fields for quote in record["quotes"])
    first, second = record["quotes"]
    assert text[first["start"] : first["end"]] == first["text"]
    assert first["speaker"] == second["speaker"] == "Ines Varga"
    assert text[second["speaker_start"] : second["speaker_end"]] == "she"


def test_sources_check_on_a_binary_file_is_one_sentence(tmp_path):
    path = tmp_path / "photo.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe" + bytes(range(256)))
    result = run_onrecord("sources", "check", str(path), "--archive", str(tmp_path))
    assert result.returncode == 1
    assert f"{path}:1: file: not a UTF-8 text file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("config", "command", "words"),
    [
        ("onrecord = 5\n", ("status",), "settings go in the [onrecord] table (not a table)"),
        ("delay = 5\n[onrecord]\n", ("status",), "('delay' outside it)"),
        ('[onrecord]\ndelay = "fast"\n', ("status",), "delay must be a float, not 'fast'"),
        ('[onrecord]\ndelay = "fast"\n', ("sources", "check"), "delay must be a float"),
        ('[onrecord]\ndelay = "fast"\n', ("scrape",), "delay must be a float"),
        ('[onrecord]\ndelay = "fast"\n', ("alerts", "run"), "delay must be a float"),
        ("[onrecord]\ntimeout = 0\n", ("status",), "timeout must be more than 0, not 0"),
        ("[onrecord]\ndelay = -1.0\n", ("status",), "delay must be a number from 0, not -1.0"),
        ("[onrecord]\ndelay = nan\n", ("status",), "delay must be a number from 0, not nan"),
        ("[onrecord]\nindex = { a = 1 }\n", ("status",), "index must be a str, not {'a': 1}"),
        ("[onrecord]\nmax_bytes = true\n", ("status",), "max_bytes must be an int, not True"),
    ],
)
def test_a_bad_setting_is_one_sentence_whatever_the_command(tmp_path, config, command, words):
    root = tmp_path / "archive"
    assert run_onrecord("init", "--archive", str(root)).returncode == 0
    (root / "onrecord.toml").write_text(config, encoding="utf-8")
    result = run_onrecord(*command, "--archive", str(root))
    assert result.returncode == 1
    assert words in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (("migrate", "--catalog", "notaurl"), "not a catalog URL: 'notaurl'"),
        (("serve", "--port", "-1"), "Invalid value for '--port'"),
        (("serve", "--port", "70000"), "Invalid value for '--port'"),
        (("serve", "--threads", "0"), "Invalid value for '--threads'"),
        (("serve", "--host", "no.such.host.invalid"), "cannot listen on no.such.host.invalid"),
        (("schedule", "--tick", "-1"), "Invalid value for '--tick'"),
        (("schedule", "--tick", "nan"), "Invalid value for '--tick'"),
    ],
)
def test_a_bad_option_is_one_sentence(archive_root, command, words):
    result = run_onrecord(*command, "--archive", str(archive_root), timeout=30)
    assert result.returncode != 0
    assert words in result.stderr and "Traceback" not in result.stderr


def test_sources_check_of_no_archive_says_so(tmp_path):
    result = run_onrecord("sources", "check", "--archive", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert f"no archive at {tmp_path / 'nowhere'}" in result.stderr
