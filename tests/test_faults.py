"""Faults, for real: processes killed at random points, torn WARC tails, a full disk, and
readers racing a writer. After each, nothing received is lost and `verify` ends clean."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import ids
from archive.catalog import Catalog
from archive.store import Paths, Store, init_archive, read_capture
from archive.verify import Verifier
from archive.warc import HttpExchange, scan
from tests.appserver import serve_app
from tests.conftest import ONRECORD
from tests.loopback import LoopbackServer, Reply
from web.cli_integrity import verify

HTML = {"Content-Type": "text/html; charset=utf-8"}
PAGES = 10
KILL_BUDGET_SECONDS = 20.0
MAX_KILLS = 60
MIN_KILLS = 10
# On a loaded machine each job's processes start slowly: past the budget, jobs go on until
# MIN_KILLS kills were tried, for at most this long.
KILL_DEADLINE_SECONDS = 4 * KILL_BUDGET_SECONDS


def story(n: int, padding: int = 0) -> str:
    filler = "<p>" + "The minutes run long. " * padding + "</p>" if padding else ""
    return (
        f"<html><head><title>Council notice {n}</title></head><body><article>"
        f"<h1>Council notice {n}</h1>"
        f"<p>The harbour council met for session {n} to settle the budget for the roads.</p>"
        f"<p>“Every figure from session {n} will be published,” said Mara Quist, the "
        f"council clerk.</p>{filler}</article></body></html>"
    )


def serve_stories(server: LoopbackServer, count: int, *, delay: float = 0.0, padding=0):
    urls = []
    for n in range(count):
        path = f"/notice/{n}"
        server.route(path, Reply(status=200, body=story(n, padding), headers=HTML, delay=delay))
        urls.append(server.url(path))
    return urls


def write_source(root: Path, urls: list[str]) -> None:
    listed = ", ".join(f'"{url}"' for url in urls)
    (root / "sources" / "council.toml").write_text(
        '[[source]]\nname = "council"\npublisher = "Harbour Council"\nkind = "statement"\n'
        f'discovery = {{ type = "none" }}\nstart_urls = [{listed}]\nmax_pages = {len(urls)}\n'
        'schedule = { every = "1h" }\n',
        encoding="utf-8",
    )


def new_archive(root: Path) -> Path:
    init_archive(root)
    (root / "onrecord.toml").write_text(
        "[onrecord]\nallow_private = true\ndelay = 0.0\n", encoding="utf-8"
    )
    return root


def onrecord(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The command in a process group of its own, so that a kill takes the whole job
    (a rebuild's index writer runs worker processes)."""
    return subprocess.Popen(
        [str(ONRECORD), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def kill_job(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return  # the job had finished


def finish(proc: subprocess.Popen) -> int:
    _out, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    return proc.returncode


def unrepairable(root: Path) -> list:
    """What a read-only check finds that no repair could mend (must stay empty)."""
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        found = Verifier(Paths(root), catalog).run()
    return [p for p in found.problems if not p.repairable]


def run_verify(root: Path, *args: str):
    return CliRunner().invoke(verify, ["--archive", str(root), *args])


def assert_no_duplicates(root: Path, urls: list[str]) -> None:
    with Catalog.open(Paths(root).catalog) as catalog:
        for url in urls:
            canonical = ids.canonical_url(url)
            found = catalog.captures_of_url(canonical)
            assert [c.record_type for c in found].count("response") == 1, url
            document = catalog.document_by_url(canonical)
            assert len(catalog.versions(document.id)) == 1
            extraction = catalog.current_extraction(document.latest_version_id)
            quotes = [q.id for q in catalog.quotes_of_extraction(extraction.id)]
            assert len(quotes) == len(set(quotes)) == 1
        assert len(catalog.documents(limit=1000)) == len(urls)
        log = list(catalog.log_segment(1))
        assert len(log) == catalog.count_captures() == len({e["capture_id"] for e in log})


def _kills(tried: Counter[str]) -> int:
    return sum(n for point, n in tried.items() if not point.endswith("finished-first"))


def _more_kills(started: float, tried: Counter[str]) -> bool:
    spent = time.monotonic() - started
    if spent < KILL_BUDGET_SECONDS:
        return True
    return _kills(tried) < MIN_KILLS and spent < KILL_DEADLINE_SECONDS


@pytest.mark.slow
def test_random_kills_of_scrapes_indexing_and_reindexing_lose_nothing(tmp_path):
    rng = random.Random(20261103)
    tried: Counter[str] = Counter()
    index_lagged = 0
    started = time.monotonic()
    with LoopbackServer() as server:
        urls = serve_stories(server, PAGES, delay=0.02)
        job = 0
        while sum(tried.values()) < MAX_KILLS and _more_kills(started, tried):
            job += 1
            root = new_archive(tmp_path / f"job-{job}")
            write_source(root, urls)
            for _ in range(rng.randint(2, 6)):
                point = rng.choice(["warc-written", "extraction-stored", "scrape", "reindex"])
                if point in ("warc-written", "extraction-stored"):
                    proc = onrecord(
                        "scrape", "--archive", str(root), env={"ONRECORD_CRASH_AT": point}
                    )
                else:
                    command = "scrape" if point == "scrape" else "reindex"
                    proc = onrecord(command, "--archive", str(root))
                    time.sleep(rng.uniform(0.3, 1.8 if command == "scrape" else 0.7))
                    kill_job(proc)
                _out, err = proc.communicate(timeout=60)
                if point in ("scrape", "reindex") and proc.returncode != -signal.SIGKILL:
                    point += "-finished-first"
                assert "Traceback" not in err, err
                tried[point] += 1
                assert unrepairable(root) == [], point
            finished = onrecord("scrape", "--archive", str(root))
            _out, err = finished.communicate(timeout=60)
            assert finished.returncode == 0, err
            assert "database is locked" not in err
            first = run_verify(root)
            layers = {line.split("]")[0] for line in first.output.splitlines() if "] " in line}
            assert layers <= {"[index"}, first.output
            index_lagged += first.exit_code != 0
            repaired = run_verify(root, "--repair")
            assert repaired.exit_code == 0, repaired.output
            assert run_verify(root).exit_code == 0
            assert_no_duplicates(root, urls)
            shutil.rmtree(root)
    kills = _kills(tried)
    print(
        f"\nkill points tried: {dict(tried)}; {kills} kills in {job} jobs; "
        f"index behind the catalog after {index_lagged} completed jobs"
    )
    assert kills >= MIN_KILLS
    assert tried["warc-written"] and tried["extraction-stored"] and tried["scrape"]


def test_a_torn_warc_tail_is_quarantined_byte_for_byte(archive_root, server):
    urls = serve_stories(server, 3)
    write_source(archive_root, urls)
    assert finish(onrecord("scrape", "--archive", str(archive_root))) == 0
    [warc] = (archive_root / "warcs").iterdir()
    whole = warc.read_bytes()
    with Catalog.open(Paths(archive_root).catalog) as catalog:
        last = list(catalog.all_captures())[-1]  # in WARC order
    record = whole[last.warc_offset : last.warc_offset + last.warc_length]
    torn = record[: len(record) // 2]
    warc.write_bytes(whole + torn)
    result = run_verify(archive_root)
    assert result.exit_code == 1
    assert f"[warc] {warc.name}:{len(whole)}: {len(torn)} bytes after the last" in result.output
    assert run_verify(archive_root, "--repair").exit_code == 0
    assert warc.read_bytes() == whole
    [saved] = (archive_root / "quarantine").iterdir()
    assert saved.read_bytes() == torn
    assert run_verify(archive_root).exit_code == 0


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 MB tmpfs, mounted for the test (root only)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Fill the disk until about ``leave`` bytes are free."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with open(filler, "wb") as out:
        out.write(b"\0" * max(free - leave, 0))
    return filler


def test_a_full_disk_fails_the_write_and_loses_nothing(small_disk, server):
    root = new_archive(small_disk / "archive")
    urls = serve_stories(server, 2)
    write_source(root, urls)
    assert finish(onrecord("scrape", "--archive", str(root))) == 0
    with Catalog.open(Paths(root).catalog) as catalog:
        before = list(catalog.all_captures())
    big = serve_stories(server, 6, padding=12_000)  # ~260 KB a page
    write_source(root, big)
    filler = fill(small_disk, leave=400_000)
    failed = onrecord("scrape", "--archive", str(root))
    _out, err = failed.communicate(timeout=60)
    assert failed.returncode != 0
    assert "No space left" in err or "disk is full" in err or "disk I/O" in err, err[-2000:]
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        for capture in before:  # still readable, byte for byte
            assert read_capture(Paths(root), capture).location.record_id == capture.warc_record_id
    assert unrepairable(root) == []
    filler.unlink()
    repaired = run_verify(root, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert finish(onrecord("scrape", "--archive", str(root))) == 0
    assert run_verify(root).exit_code == 0


def notice(n: int, size: int = 0) -> HttpExchange:
    """A page of ``size`` random bytes more than a line: they do not compress."""
    return HttpExchange(
        url=f"https://council.example.gov/notice/{n}",
        fetched_at=datetime(2026, 11, 3, 9, n, tzinfo=UTC),
        status=200,
        reason="OK",
        headers=tuple(HTML.items()),
        payload=story(n).encode() + random.Random(n).randbytes(size),
        request_headers=(("User-Agent", "onrecord-test"),),
    )


def test_a_write_the_disk_cuts_short_leaves_nothing_for_the_next_to_follow(small_disk):
    root = new_archive(small_disk / "archive")
    with Store.open(root) as store:
        first = store.save_capture(notice(1))
        path = store.paths.warcs / first.warc_file
        size = path.stat().st_size
        filler = fill(small_disk, leave=100_000)
        with pytest.raises(OSError, match="No space left"):
            store.save_capture(notice(2, size=400_000))
        assert path.stat().st_size == size  # the part written was cut off again
        filler.unlink()
        last = store.save_capture(notice(3))  # the same writer, on the same file
        assert (last.warc_file, last.warc_offset) == (first.warc_file, size)
        saved = list(store.catalog.all_captures())
        assert [c.id for c in saved] == [first.id, last.id]
        for capture, sent in zip(saved, (notice(1), notice(3)), strict=True):
            assert store.read(capture).raw_payload == sent.payload
    with open(path, "rb") as handle:
        scanned = scan(handle, path.name, path.stat().st_size)
    assert not scanned.torn
    assert [r.record_id for r in scanned.records] == [c.warc_record_id for c in saved]
    assert unrepairable(root) == []
    assert run_verify(root).exit_code == 0


def test_the_web_server_reads_while_a_scrape_writes(archive_root, server):
    from web import create_app

    urls = serve_stories(server, 40, delay=0.01)
    write_source(archive_root, urls[:5])
    assert finish(onrecord("scrape", "--archive", str(archive_root))) == 0
    write_source(archive_root, urls)
    app = create_app({"ARCHIVE": str(archive_root)})
    with serve_app(app, threads=4) as base:
        paths = ["/", "/captures", "/search?q=council", "/search.json?q=budget", "/sources"]
        paths += [f"/timemap/link/{url}" for url in urls[:5]]
        statuses: Counter[int] = Counter()
        errors: list[str] = []
        writer = onrecord("scrape", "--archive", str(archive_root))

        def reader(seed: int) -> None:
            rng = random.Random(seed)
            while writer.poll() is None:
                path = rng.choice(paths)
                try:
                    with urllib.request.urlopen(base + path, timeout=30) as reply:
                        statuses[reply.status] += 1
                except urllib.error.HTTPError as exc:
                    statuses[exc.code] += 1
                    errors.append(f"{path}: {exc.code} {exc.read()[:300]!r}")

        readers = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
        for thread_ in readers:
            thread_.start()
        _out, err = writer.communicate(timeout=120)
        for thread_ in readers:
            thread_.join(timeout=60)
    assert writer.returncode == 0, err
    assert "database is locked" not in err
    assert errors == []
    assert sum(statuses.values()) >= 20
    assert run_verify(archive_root).exit_code == 0
