"""The long-running scheduler against what happens while it runs: a source file mistyped,
a source whose browser will not start, a schedule edited, and its lock lost (the
PostgreSQL connection that held it closed, the lock file beside an SQLite catalog
removed). Each runs `onrecord schedule` as a process, on a real archive and site."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from archive.catalog import Catalog
from archive.catalog.jobs import lock_key
from archive.store import Paths, init_archive
from tests.catalogs import ENGINES, catalog_setting, write_settings
from tests.conftest import ONRECORD, run_onrecord
from tests.loopback import LoopbackServer
from tests.test_alerts import Receiver
from tests.test_scrape import HTML, article
from tests.workers import wait_for

NO_BROWSER = "/nonexistent/chromium"


def page(server: LoopbackServer, path: str) -> str:
    words = f"The notice at {path} is posted and the channel stays open to every vessel"
    server.route(path, status=200, body=article("Notice", "Oren Vasquez", words), headers=HTML)
    return server.url(path)


def declare(
    root: Path,
    name: str,
    url: str,
    schedule: str = '{ every = "6h" }',
    *,
    kind: str = "statement",
    extra: str = "",
) -> Path:
    path = root / "sources" / f"{name}.toml"
    path.write_text(
        f'[[source]]\nname = "{name}"\npublisher = "Port Authority"\nkind = "{kind}"\n'
        f'start_urls = ["{url}"]\nschedule = {schedule}\ndelay = 0.0\n{extra}',
        encoding="utf-8",
    )
    return path


@contextmanager
def scheduler(root: Path, log: Path, tick: float = 0.2) -> Iterator[subprocess.Popen]:
    """`onrecord schedule` running on the archive, its output in ``log``; stopped at the
    end as a service manager stops it."""
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [str(ONRECORD), "schedule", "--tick", str(tick), "--archive", str(root)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)


# -- one bad source stops nothing else ----------------------------------------------------


def test_a_source_file_mistyped_while_the_scheduler_runs_is_left_out_and_the_rest_run_on(
    archive_root, server, tmp_path
):
    url = page(server, "/notices/1")
    declare(archive_root, "port", url, '{ every = "1s" }')
    log = tmp_path / "scheduler.log"
    with scheduler(archive_root, log) as running:
        wait_for(lambda: server.hits("/notices/1") >= 1, 30, "the first run")
        typo = declare(archive_root, "wire", url, kind="statment")  # a colleague's typo
        said = f"source file left out until it is fixed: {typo}:4: kind: 'statment' is not one of"
        wait_for(lambda: said in log.read_text(encoding="utf-8"), 30, "the file's problem logged")
        hits = server.hits("/notices/1")
        wait_for(lambda: server.hits("/notices/1") > hits, 30, "the good source to run again")
        assert running.poll() is None, log.read_text(encoding="utf-8")


def test_a_source_whose_browser_will_not_start_fails_alone_and_the_tick_goes_on(
    archive_root, server
):
    with (archive_root / "onrecord.toml").open("a", encoding="utf-8") as settings:
        settings.write(f'browser = "{NO_BROWSER}"\n')
    declare(archive_root, "a-rendered", page(server, "/a"), extra='render = "browser"\n')
    declare(archive_root, "b-plain", page(server, "/b"))
    typo = declare(archive_root, "c-typo", page(server, "/c"), kind="statment")
    with Catalog.open(Paths(archive_root).catalog) as catalog:
        catalog.add_user("ann", "reader")
    receiver = Receiver()
    archive = ["--archive", str(archive_root)]
    try:
        follow = run_onrecord(
            "alerts", "add", "ann", "source", "b-plain", "--cadence", "immediate",
            "--channel", "webhook", "--to", receiver.url, *archive,
        )  # fmt: skip
        assert follow.returncode == 0, follow.stderr
        ticks = [run_onrecord("schedule", "--once", *archive) for _ in range(2)]
        assert [t.returncode for t in ticks] == [0, 0], ticks[0].stderr
        assert len(receiver.received) == 1  # b-plain's news, told at the first tick
    finally:
        receiver.close()
    assert (server.hits("/b"), server.hits("/c")) == (1, 0)
    reason = f"cannot start the browser: no browser at {NO_BROWSER}"
    assert " of a-rendered could not start: " + reason in ticks[0].stderr
    assert "c-typo.toml:4: kind: 'statment'" in ticks[0].stderr
    with Catalog.open(Paths(archive_root).catalog, migrate=False) as catalog:
        run = catalog.last_run("a-rendered")
        [failure] = catalog.failures("a-rendered")  # tried at the first tick only
    assert run.error.startswith(reason) and failure.reason == run.error
    typo.unlink()  # `onrecord status`, like `scrape`, refuses a file that does not load
    status = run_onrecord("status", *archive).stdout.split("b-plain")[0]
    assert f"  error: {run.error}\n" in status
    assert f"  next due {run.finished_at + timedelta(hours=6):%Y-%m-%d %H:%M} UTC\n" in status


# -- an edited schedule -------------------------------------------------------------------


def test_an_edited_schedule_applies_at_once_shorter_or_longer(archive_root, server):
    url = page(server, "/notices/1")
    archive = ["--archive", str(archive_root)]

    def tick() -> int:
        done = run_onrecord("schedule", "--once", *archive)
        assert done.returncode == 0, done.stderr
        return server.hits("/notices/1")

    declare(archive_root, "port", url, '{ every = "30d" }')
    assert tick() == 1
    declare(archive_root, "port", url, '{ every = "1s" }')  # meant hourly, or sooner
    time.sleep(1.1)
    assert tick() == 2  # not 30 days after the first run
    declare(archive_root, "port", url, '{ every = "30d" }')  # and back
    time.sleep(1.1)
    assert tick() == 2  # not a second after the last run
    with Catalog.open(Paths(archive_root).catalog, migrate=False) as catalog:
        due = catalog.last_finished("port") + timedelta(days=30)
    status = run_onrecord("status", *archive)
    assert f"  next due {due:%Y-%m-%d %H:%M} UTC\n" in status.stdout


# -- the scheduler's lock -----------------------------------------------------------------


def lose_lock(root: Path) -> None:
    """Take the scheduler's lock away behind its back: on PostgreSQL the connection that
    holds it is closed (as by a server restart, idle_session_timeout or a pooler); beside
    an SQLite catalog, the folder of lock files is removed (a clean-up, a restore)."""
    url = Paths(root).catalog
    if url.get_backend_name() == "sqlite":
        catalog = Path(url.database)
        shutil.rmtree(catalog.with_name(catalog.name + ".locks"))
        return
    close_lock_connection(root, granted=True)


@contextmanager
def watchdog(seconds: float, processes: list[subprocess.Popen]) -> Iterator[None]:
    """Kill the processes still running after ``seconds`` (and at the end): a scheduler
    that never says the line a test reads must fail the test, not hang it."""

    def give_up() -> None:
        for process in processes:
            if process.poll() is None:
                process.kill()

    timer = threading.Timer(seconds, give_up)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        give_up()
        for process in processes:
            process.wait()


def new_archive(root: Path, setting: str) -> Path:
    root.mkdir()
    write_settings(root, setting)
    init_archive(root)
    return root


@pytest.mark.parametrize("engine", ENGINES)
def test_a_scheduler_that_lost_its_lock_stops_and_the_waiting_one_takes_over(tmp_path, engine):
    with catalog_setting(engine) as setting:
        root = new_archive(tmp_path / "archive", setting)
        started: list[subprocess.Popen] = []
        with watchdog(60, started):
            first, second = active_and_waiting(root, started)
            lose_lock(root)
            assert first.wait(timeout=30) == 1
            said = first.stderr.read()
            assert said.startswith("Error: this scheduler lost its lock on "), said
            assert "stopping, so that no source runs twice" in said and "Traceback" not in said
            taken = second.stderr.readline()
            assert taken == "the other scheduler stopped: this one is active now\n"
            time.sleep(1)
            assert second.poll() is None  # it holds the lock, and finds so at each tick


def test_a_waiting_scheduler_whose_connection_closes_says_so_in_one_sentence(tmp_path):
    """A scheduler waiting on PostgreSQL's lock whose connection is closed (a restart, a
    pooler) exits 1 saying what happened, not with a traceback; the active one runs on."""
    with catalog_setting("postgresql") as setting:
        root = new_archive(tmp_path / "archive", setting)
        started: list[subprocess.Popen] = []
        with watchdog(60, started):
            first, second = active_and_waiting(root, started)
            close_lock_connection(root, granted=False)  # the waiting one's
            assert second.wait(timeout=30) == 1
            said = second.stderr.read()
            assert said.startswith("Error: the connection to the catalog closed while "), said
            assert "Traceback" not in said
            assert first.poll() is None


def active_and_waiting(
    root: Path, started: list[subprocess.Popen]
) -> tuple[subprocess.Popen, subprocess.Popen]:
    """Two schedulers of ``root`` (kept in ``started``, their messages piped): the first
    active, the second waiting on its lock."""

    def schedule() -> subprocess.Popen:
        command = [str(ONRECORD), "schedule", "--tick", "0.2", "--archive", str(root)]
        started.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        )
        return started[-1]

    first = schedule()
    assert first.stderr.readline().startswith("scheduler active on ")
    second = schedule()
    assert second.stderr.readline().startswith("another scheduler is active on ")
    time.sleep(1)  # it waits on the lock right after saying so (the same lock file)
    return first, second


def close_lock_connection(root: Path, *, granted: bool) -> None:
    """Close the PostgreSQL connection that holds (or waits for) the scheduler's lock."""
    key = lock_key("scheduler") % 2**64
    engine = sa.create_engine(Paths(root).catalog)
    with engine.connect() as connection:
        closed = connection.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND granted = :granted AND classid::bigint = :high AND objid::bigint = :low"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"granted": granted, "high": key >> 32, "low": key & 0xFFFFFFFF},
        ).all()
    engine.dispose()
    assert closed == [(True,)]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_lock_says_whether_it_is_still_held(tmp_path, engine):
    with catalog_setting(engine) as setting:
        root = new_archive(tmp_path / "archive", setting)
        with (
            Catalog.open(Paths(root).catalog) as holder,
            Catalog.open(Paths(root).catalog) as other,
            holder.lock("scheduler") as held,
        ):
            assert held.held()
            with other.lock("scheduler", wait=False) as refused:
                assert not refused and not refused.held()
            lose_lock(root)
            assert not held.held()
            with other.lock("scheduler", wait=False) as taken:
                assert taken and taken.held()
        # and leaving the block of a lock that went, and closing its catalog, is no error
