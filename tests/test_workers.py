"""Scrape work on a real queue: workers as separate processes taking jobs from a Redis
broker of the test's own (or the machine's RabbitMQ), and what bad input gets: no
broker, an unreachable one, one that goes away mid-run, a poison job, a job whose
source file was deleted, a job whose message the broker lost, two schedulers started at
once."""

from __future__ import annotations

import contextlib
import itertools
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive import config as archive_config
from archive.catalog import Catalog
from archive.ids import canonical_url
from archive.store import Paths, Store, init_archive
from scrapers.sources import load_sources
from tests.browsers import needs_chromium
from tests.catalogs import ENGINES, catalog_setting, write_settings
from tests.conftest import ONRECORD, run_onrecord
from tests.loopback import LoopbackServer, Reply
from tests.redisserver import RedisServer, free_port
from tests.test_scrape import HTML, article
from tests.workers import (
    finished,
    job,
    queued_archive,
    start_worker,
    stop,
    wait_for,
    worker_log,
)
from web import create_app, jobs, links
from web.taskqueue import TaskQueue

TOKEN = "admin-token"


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@contextlib.contextmanager
def worker(root: Path, *options: str, name: str = "worker"):
    process = start_worker(root, *options, name=name)
    try:
        yield process
    finally:
        stop(process)


def submit(root: Path, kind: str, **fields) -> str:
    """Record and queue a job as the admin and the scheduler do; its id."""
    queue = jobs.connect(archive_config.load(root))
    with queue, Catalog.open(Paths(root).catalog) as catalog:
        return jobs.submit(catalog, queue, jobs.new_job(kind, **fields)).id


def page(server: LoopbackServer, path: str, n: int, **reply) -> str:
    words = f"The recount of ward {n} is finished and the totals will be posted tonight"
    server.route(path, Reply(body=article(f"Ward {n}", "Lena Ortiz", words), headers=HTML, **reply))
    return server.url(path)


def captures_of(root: Path, url: str) -> list:
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        return catalog.captures_of_url(canonical_url(url))


# -- commands that serve no pages --------------------------------------------------------


def test_commands_that_serve_no_pages_load_neither_flask_nor_the_extractor(tmp_path):
    root = tmp_path / "archive"
    init_archive(root)
    script = (
        "import sys\n"
        "from web.cli import main\n"
        f"try: main(['sources', 'check', '--archive', {str(root)!r}])\n"
        "except SystemExit: pass\n"
        "heavy = ('flask', 'waitress', 'whoosh', 'trafilatura', 'pypdf', 'dramatiq',"
        " 'psycopg', 'surt')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "0 sources valid" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


# -- no broker, an unreachable broker ----------------------------------------------------


def test_a_worker_without_a_broker_says_which_setting_it_needs(archive_root):
    result = run_onrecord("worker", "--archive", str(archive_root))
    assert result.returncode == 1
    assert "a worker needs a broker: set broker in onrecord.toml or ONRECORD_BROKER" in (
        result.stderr
    )


@pytest.mark.parametrize("command", ["worker", "schedule"])
def test_an_unreachable_broker_is_one_sentence_at_start(tmp_path, command):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    root = queued_archive(tmp_path / "archive", closed)
    result = run_onrecord(
        command, "--once" if command == "schedule" else "--threads=1", "--archive", str(root)
    )
    assert result.returncode == 1
    assert f"Error: cannot reach the broker at {closed}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broker_setting_that_is_no_broker_url_is_refused(tmp_path):
    root = queued_archive(tmp_path / "archive", "http://127.0.0.1:1/")
    result = run_onrecord("worker", "--archive", str(root))
    assert result.returncode == 1
    assert "the broker setting must be a redis:// or amqp:// URL" in result.stderr


def test_admin_answers_503_when_the_broker_cannot_be_reached(tmp_path):
    root = queued_archive(tmp_path / "archive", f"redis://127.0.0.1:{free_port()}/0")
    client = create_app({"ARCHIVE": str(root), "ADMIN_TOKEN": TOKEN, "ALLOW_PRIVATE": True})
    response = client.test_client().post(
        links.admin_path("archive"),
        json={"url": "http://127.0.0.1:9/x"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 503
    assert "cannot reach the broker" in response.get_json()["error"]["message"]


# -- the admin queues, a worker archives ------------------------------------------------


def test_archive_this_url_is_queued_and_followed_to_done(tmp_path, redis, server):
    root = queued_archive(tmp_path / "archive", redis.url)
    url = page(server, "/ward/1", 1)
    client = create_app({"ARCHIVE": str(root), "ADMIN_TOKEN": TOKEN, "ALLOW_PRIVATE": True})
    web = client.test_client()
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    response = web.post(links.admin_path("archive"), json={"url": url}, headers=bearer)
    assert response.status_code == 202
    [queued] = response.get_json()["jobs"]
    assert queued["state"] == "queued" and response.headers["Location"] == queued["status"]
    assert server.hits("/ward/1") == 0  # nothing fetched in the request
    with worker(root):
        wait_for(lambda: finished(root, queued["id"]), 30, "the worker to archive the URL")
    status = web.get(queued["status"], headers=bearer).get_json()
    assert status["state"] == "done" and status["attempts"] == 1, status
    assert status["result"]["captures"] == 1 and len(status["result"]["documents"]) == 1
    found = run_onrecord("search", '"recount of ward 1"', "--archive", str(root))
    assert "Lena Ortiz" in found.stdout
    assert web.get(links.job_path("nope"), headers=bearer).status_code == 404


def test_scrape_now_queues_a_run_whose_urls_become_jobs(tmp_path, redis, server):
    root = queued_archive(tmp_path / "archive", redis.url)
    urls = [page(server, f"/ward/{n}", n) for n in range(3)]
    starts = ", ".join(f'"{u}"' for u in urls)
    (root / "sources" / "wards.toml").write_text(
        f'[[source]]\nname = "wards"\npublisher = "Ward Office"\nkind = "statement"\n'
        f'start_urls = [{starts}]\ndiscovery = {{ type = "none" }}\n'
        f'schedule = {{ every = "6h" }}\n',
        encoding="utf-8",
    )
    client = create_app({"ARCHIVE": str(root), "ADMIN_TOKEN": TOKEN, "ALLOW_PRIVATE": True})
    response = client.test_client().post(
        links.admin_path("scrape"),
        json={"source": "wards"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 202
    [run] = response.get_json()["jobs"]
    with worker(root, "--threads", "2"):
        done = wait_for(lambda: finished(root, run["id"]), 30, "the run's job")
        assert done.state == "done" and done.result["queued"] == 3

        def run_finished():
            with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
                last = catalog.last_run("wards")
                return last if last.finished_at else None

        last = wait_for(run_finished, 30, "the run's URLs")
    assert (last.discovered, last.fetched, last.failed) == (3, 3, 0)
    assert all(len(captures_of(root, url)) == 1 for url in urls)


def test_a_worker_fetches_from_another_host_while_the_first_one_rests(tmp_path, redis):
    """One worker thread, two hosts whose pages are queued one host after the other: a
    page whose host is resting goes back to the queue and the thread fetches from the
    other host meanwhile, each host still getting its delay."""
    root = queued_archive(tmp_path / "archive", redis.url)
    delay, pages = 2.0, 3  # the delay longer than a page takes on a busy machine
    with LoopbackServer() as first, LoopbackServer() as second:
        for name, host in (("first", first), ("second", second)):
            urls = ", ".join(f'"{page(host, f"/ward/{n}", n)}"' for n in range(pages))
            (root / "sources" / f"{name}.toml").write_text(
                f'[[source]]\nname = "{name}"\npublisher = "Ward Office"\n'
                f'kind = "statement"\nstart_urls = [{urls}]\ndiscovery = {{ type = "none" }}\n'
                f'schedule = {{ every = "6h" }}\ndelay = {delay}\n',
                encoding="utf-8",
            )
        runs = [submit(root, "run", source=name) for name in ("first", "second")]
        with worker(root):
            for run in runs:
                wait_for(lambda run=run: finished(root, run), 30, "the runs' jobs")

            def both_finished():
                with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
                    last = [catalog.last_run(name) for name in ("first", "second")]
                return all(run.finished_at for run in last)

            wait_for(both_finished, 60, "every page of both runs")
        arrived = {
            name: sorted(r.at for r in host.requests if r.path != "/robots.txt")
            for name, host in (("first", first), ("second", second))
        }
    assert [len(times) for times in arrived.values()] == [pages, pages]  # each page once
    assert arrived["second"][0] < arrived["first"][-1]  # not queued behind the first host
    for times in arrived.values():
        assert min(b - a for a, b in itertools.pairwise(times)) >= delay - 0.005


# -- at least once, bounded -------------------------------------------------------------


def test_a_poison_job_is_tried_a_bounded_number_of_times_then_fails_with_its_error(
    tmp_path, redis, server
):
    root = queued_archive(tmp_path / "archive", redis.url)
    poison = submit(root, "capture", url=None)  # a job made wrong: archiving it always raises
    good = submit(root, "capture", url=page(server, "/ward/2", 2))
    with worker(root) as process:
        wait_for(lambda: finished(root, poison), 30, "the poison job to be given up")
        wait_for(lambda: finished(root, good), 30, "the next job")
        assert process.poll() is None  # the worker lives on
    failed = job(root, poison)
    assert failed.state == "failed" and failed.attempts == 3  # once, then twice again
    assert failed.error.startswith("gave up after 3 attempts: AttributeError")
    assert job(root, good).state == "done"
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        rows = [f for f in catalog.failures() if poison in f.reason]
    assert len(rows) == 1 and "AttributeError" in rows[0].reason


def test_a_job_whose_worker_died_during_every_attempt_fails_instead_of_looping(
    tmp_path, redis, server
):
    root = queued_archive(tmp_path / "archive", redis.url)
    url = page(server, "/ward/7", 7)
    queued = submit(root, "capture", url=url)
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog, catalog.transaction():
        for _ in range(3):  # what three workers SIGKILLed in the middle of it leave behind
            catalog.start_job(queued, datetime.now(UTC))
    with worker(root):
        failed = wait_for(lambda: finished(root, queued), 30, "the job to be given up")
    assert failed.state == "failed" and failed.attempts == 3
    assert "stopped during each one (killed or crashed)" in failed.error
    assert server.hits("/ward/7") == 0  # not tried a fourth time
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        assert [f for f in catalog.failures() if queued in f.reason]


def test_a_failing_host_is_retried_with_backoff_then_one_failure_row_not_a_loop(
    tmp_path, redis, server
):
    root = queued_archive(tmp_path / "archive", redis.url)
    server.route("/down", status=503, body="busy", headers={"Retry-After": "0"})
    queued = submit(root, "capture", url=server.url("/down"))
    with worker(root):
        failed = wait_for(lambda: finished(root, queued), 30, "the capture to fail")
        tries = server.hits("/down")
        time.sleep(2)
        assert server.hits("/down") == tries  # given up: nothing more is asked
    assert tries == 5  # the HTTP layer's first request and its four retries
    assert failed.state == "failed" and failed.attempts == 1 and "503" in failed.error
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        rows = [f for f in catalog.failures() if f.url == server.url("/down")]
    assert len(rows) == 1


# A worker as `onrecord worker` runs one, but with a time limit of a second (the setting
# is an hour) and the retries given (one: a job that hangs is stopped twice in the test).
SHORT_LIMIT_WORKER = """
import sys
from pathlib import Path
from archive import config
from web.jobs import Performer
from web.taskqueue import TaskQueue

root = Path(sys.argv[1])
settings = config.load(root)
queue = TaskQueue(
    settings["broker"],
    namespace=settings["broker_namespace"],
    retries=int(sys.argv[2]),
    backoff=0.2,
    time_limit=1.0,
)
performer = Performer(root, queue)
try:
    queue.work(performer, thread_ended=performer.thread_ended)
finally:
    performer.close()
    queue.close()
"""


def short_limit_worker(root: Path, log_path: Path, retries: int) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 (kept by the process)
    process = subprocess.Popen(
        [sys.executable, "-c", SHORT_LIMIT_WORKER, str(root), str(retries)], stdout=log, stderr=log
    )
    log.close()
    return process


def endless_source(root: Path, server: LoopbackServer) -> Path:
    """A source named "slow" of one page that trickles for minutes: the only thing that
    ends its capture is the time limit."""
    endless = Reply(body=b"x", headers=HTML, length=10**6, chunk_size=16, chunk_delay=0.05)
    server.route("/endless", endless)
    path = root / "sources" / "slow.toml"
    path.write_text(
        f'[[source]]\nname = "slow"\npublisher = "Slow Office"\nkind = "statement"\n'
        f'start_urls = ["{server.url("/endless")}"]\ndiscovery = {{ type = "none" }}\n'
        f'schedule = {{ every = "6h" }}\n',
        encoding="utf-8",
    )
    return path


def test_a_job_past_its_time_limit_is_stopped_retried_then_failed_and_its_source_runs_again(
    tmp_path, redis, server
):
    root = queued_archive(tmp_path / "archive", redis.url)
    endless_source(root, server)
    run = submit(root, "run", source="slow")
    process = short_limit_worker(root, tmp_path / "worker.log", retries=1)
    try:
        run_id = wait_for(lambda: finished(root, run), 30, "the run's job").result["run"]
        url_job = jobs.url_job_id(run_id, server.url("/endless"))
        stopped = wait_for(lambda: finished(root, url_job), 30, "the URL's job to be given up")
    finally:
        stop(process)
    assert stopped.attempts == 2  # stopped, tried again, stopped again
    assert stopped.error == "gave up after 2 attempts: the job ran past its time limit of 1 s"
    settings = archive_config.load(root)
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        assert [f.reason for f in catalog.failures("slow")] == [stopped.error]
        assert catalog.active_jobs("slow") == 0
        later = catalog.next_due("slow")
        sources = load_sources([root / "sources"])
        with jobs.connect(settings) as queue:
            assert [j.source for j in jobs.enqueue_due(catalog, queue, sources, later)] == ["slow"]


def test_a_url_job_whose_source_file_goes_during_its_last_attempt_ends_failed(
    tmp_path, redis, server
):
    root = queued_archive(tmp_path / "archive", redis.url)
    source = endless_source(root, server)
    run = submit(root, "run", source="slow")
    process = short_limit_worker(root, tmp_path / "worker.log", retries=0)
    try:
        run_id = wait_for(lambda: finished(root, run), 30, "the run's job").result["run"]
        url_job = jobs.url_job_id(run_id, server.url("/endless"))
        wait_for(lambda: job(root, url_job).state == "running", 30, "the URL's job to start")
        source.unlink()  # while the page trickles, until the time limit stops it
        stopped = wait_for(lambda: finished(root, url_job), 30, "the URL's job to end")
    finally:
        stop(process)
    assert stopped.state == "failed"
    assert stopped.error == "gave up after 1 attempt: the job ran past its time limit of 1 s"
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        [failure] = catalog.failures("slow")
        assert failure.url == server.url("/endless") and failure.run_id == run_id
        assert stopped.error in failure.reason
        assert catalog.active_jobs("slow") == 0
    assert "no source named 'slow'" in (tmp_path / "worker.log").read_text(encoding="utf-8")


def test_a_job_whose_source_file_was_deleted_fails_at_once_naming_it(tmp_path, redis):
    root = queued_archive(tmp_path / "archive", redis.url)
    source = root / "sources" / "gone.toml"
    source.write_text(
        '[[source]]\nname = "gone"\npublisher = "Gone Office"\nkind = "statement"\n'
        'start_urls = ["http://127.0.0.1:9/"]\ndiscovery = { type = "none" }\n'
        'schedule = { every = "6h" }\n',
        encoding="utf-8",
    )
    queued = submit(root, "run", source="gone")
    source.unlink()
    with worker(root):
        failed = wait_for(lambda: finished(root, queued), 30, "the job to fail")
    assert failed.state == "failed" and failed.attempts == 1  # not retried: it cannot succeed
    assert failed.error.startswith("no source named 'gone'")
    assert "deleted or renamed" in failed.error


def test_workers_wait_for_a_broker_that_went_away_and_lose_no_job(tmp_path, server):
    with RedisServer(tmp_path / "redis") as redis:
        root = queued_archive(tmp_path / "archive", redis.url)
        urls = [page(server, f"/slow/{n}", n, delay=0.3) for n in range(6)]
        queued = [submit(root, "capture", url=url) for url in urls]
        with worker(root):
            wait_for(lambda: finished(root, queued[0]), 30, "the first job")
            redis.stop()
            time.sleep(2)
            redis.start()
            for job_id in queued:
                wait_for(lambda job_id=job_id: finished(root, job_id), 60, f"job {job_id}")
        assert "Traceback" not in worker_log(root).split("Consumer encountered")[0]
    assert [job(root, j).state for j in queued] == ["done"] * 6
    assert [len(captures_of(root, url)) for url in urls] == [1] * 6


# -- lost messages ----------------------------------------------------------------------


def short_queue(root: Path) -> TaskQueue:
    """The archive's task queue as a scheduler with a time limit of a second, one retry
    and a short backoff would have it: a job of it counts as lost a little after the
    margin (:data:`web.jobs.LOST_MARGIN`), not hours later."""
    settings = archive_config.load(root)
    return TaskQueue(
        settings["broker"],
        namespace=settings["broker_namespace"],
        retries=1,
        backoff=0.2,
        time_limit=1.0,
    )


def wards_source(root: Path, url: str) -> list:
    (root / "sources" / "wards.toml").write_text(
        f'[[source]]\nname = "wards"\npublisher = "Ward Office"\nkind = "statement"\n'
        f'start_urls = ["{url}"]\ndiscovery = {{ type = "none" }}\n'
        f'schedule = {{ every = "6h" }}\n',
        encoding="utf-8",
    )
    return load_sources([root / "sources"])


def test_a_job_whose_message_was_lost_is_sent_again_once_overdue_and_its_source_runs_again(
    tmp_path, redis, server, caplog
):
    root = queued_archive(tmp_path / "archive", redis.url)
    url = page(server, "/ward/4", 4)
    sources = wards_source(root, url)
    lost = jobs.new_job("run", source="wards")
    with short_queue(root) as queue, Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        with catalog.transaction():  # recorded; the scheduler was killed before sending it
            catalog.add_job(lost)
        overdue = lost.queued_at + jobs.lost_after(queue) + timedelta(seconds=1)
        with caplog.at_level(logging.WARNING, logger="web.jobs"):
            for tick in (overdue, overdue + timedelta(minutes=1)):
                assert jobs.enqueue_due(catalog, queue, sources, tick) == []  # it waits for its job
        assert catalog.job(lost.id).queued_at == overdue  # sent again at the first tick only
        [said] = [r.getMessage() for r in caplog.records if r.name == "web.jobs"]
        assert said.startswith(f"job {lost.id} (run of wards) has been queued since ")
        assert said.endswith("its message was lost; sent it again")
        with worker(root):
            done = wait_for(lambda: finished(root, lost.id), 30, "the job sent again")
            run_id = done.result["run"]
            wait_for(lambda: finished(root, jobs.url_job_id(run_id, url)), 30, "its URL's job")
        assert done.state == "done" and done.attempts == 1
        assert len(captures_of(root, url)) == 1
        later = catalog.next_due("wards")
        assert [j.source for j in jobs.enqueue_due(catalog, queue, sources, later)] == ["wards"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_job_merely_slow_is_not_sent_again_until_it_is_overdue(tmp_path, redis, engine):
    with catalog_setting(engine) as setting:
        root = queued_archive(tmp_path / "archive", redis.url, setting)
        sources = wards_source(root, "http://127.0.0.1:9/")
        with (
            short_queue(root) as queue,
            Catalog.open(Paths(root).catalog, migrate=False) as catalog,
        ):
            [slow] = jobs.enqueue_due(catalog, queue, sources, datetime.now(UTC))
            started = slow.queued_at + timedelta(minutes=5)  # taken late, and still running
            with catalog.transaction():
                catalog.start_job(slow.id, started)
            bound = jobs.lost_after(queue)
            second = timedelta(seconds=1)
            for tick in (slow.queued_at + bound + second, started + bound - second):
                assert jobs.enqueue_due(catalog, queue, sources, tick) == []
                assert catalog.job(slow.id).queued_at == slow.queued_at  # not sent again
            gone = started + bound + second  # its worker died, and the broker lost it
            assert jobs.enqueue_due(catalog, queue, sources, gone) == []
            resent = catalog.job(slow.id)
            assert resent.queued_at == gone
            assert resent.state == "running"  # as it was: the worker that takes it decides


# -- one scheduler at a time ------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_a_second_scheduler_waits_for_the_first_and_says_so(tmp_path, engine):
    with catalog_setting(engine) as setting:
        root = tmp_path / "archive"
        root.mkdir()
        write_settings(root, setting)
        init_archive(root)
        schedulers_take_turns(root)


def schedulers_take_turns(root: Path) -> None:
    def schedule() -> subprocess.Popen:
        return subprocess.Popen(
            [str(ONRECORD), "schedule", "--tick", "0.2", "--archive", str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    first = schedule()
    second = None

    def give_up() -> None:  # a scheduler that never says a line must not hang the test
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()

    watchdog = threading.Timer(90, give_up)
    watchdog.start()
    try:
        assert first.stderr.readline().startswith("scheduler active on ")
        second = schedule()
        said = second.stderr.readline()
        assert said.startswith("another scheduler is active on ")
        assert said.rstrip().endswith("; waiting until it stops")
        time.sleep(1)
        assert second.poll() is None  # waiting, not gone
        first.send_signal(signal.SIGTERM)  # as a service manager stops it
        assert first.wait(timeout=30) != 0
        assert first.stderr.read().rstrip().endswith("stopped by SIGTERM")
        taken = second.stderr.readline()
        assert taken == "the other scheduler stopped: this one is active now\n"
    finally:
        watchdog.cancel()
        give_up()
        for process in (first, second):
            if process is not None:
                process.wait()


def test_the_scheduler_queues_a_due_source_once_while_its_run_is_in_progress(tmp_path, redis):
    root = queued_archive(tmp_path / "archive", redis.url)
    (root / "sources" / "wards.toml").write_text(
        '[[source]]\nname = "wards"\npublisher = "Ward Office"\nkind = "statement"\n'
        'start_urls = ["http://127.0.0.1:9/"]\ndiscovery = { type = "none" }\n'
        'schedule = { every = "6h" }\n',
        encoding="utf-8",
    )
    for _ in range(2):  # no worker: the first run's job is still queued at the second tick
        result = run_onrecord("schedule", "--once", "--archive", str(root))
        assert result.returncode == 0, result.stderr
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        assert catalog.job_counts()["queued"] == 1


def test_the_scheduler_queues_a_source_by_its_schedule_as_edited_since_its_last_run(
    tmp_path, redis
):
    root = queued_archive(tmp_path / "archive", redis.url)
    declared = root / "sources" / "wards.toml"
    monthly = 'start_urls = ["http://127.0.0.1:9/"]\nschedule = { every = "30d" }\n'
    declared.write_text(
        f'[[source]]\nname = "wards"\npublisher = "Ward Office"\nkind = "statement"\n{monthly}',
        encoding="utf-8",
    )
    [wards] = load_sources([declared])
    now = datetime.now(UTC)
    ended = now - timedelta(hours=2)
    with short_queue(root) as queue, Catalog.open(Paths(root).catalog) as catalog:
        with catalog.transaction():  # as a worker ends a run: finished, next due set
            catalog.start_run("wards-1", "wards", ended - timedelta(minutes=1))
            catalog.finish_run("wards-1", ended)
            catalog.set_next_due("wards", wards.next_due(ended))
        assert jobs.enqueue_due(catalog, queue, [wards], now) == []
        declared.write_text(declared.read_text().replace('"30d"', '"1h"'), encoding="utf-8")
        [hourly] = load_sources([declared])
        assert [j.source for j in jobs.enqueue_due(catalog, queue, [hourly], now)] == ["wards"]


def test_a_mistyped_source_file_stops_neither_the_scheduler_nor_other_sources_jobs(
    tmp_path, redis, server
):
    root = queued_archive(tmp_path / "archive", redis.url)
    url = page(server, "/ward/5", 5)
    wards_source(root, url)
    typo = root / "sources" / "wire.toml"
    typo.write_text(
        '[[source]]\nname = "wire"\npublisher = "Wire"\nkind = "statment"\n'
        f'start_urls = ["{url}"]\nschedule = {{ every = "6h" }}\n',
        encoding="utf-8",
    )
    tick = run_onrecord("schedule", "--once", "--archive", str(root))
    assert tick.returncode == 0, tick.stderr
    assert f"left out until it is fixed: {typo}:4: kind: 'statment'" in tick.stderr
    with worker(root):  # takes the run's job, then its URL's
        wait_for(lambda: captures_of(root, url), 30, "the run of wards")
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        assert catalog.job_counts() == {"queued": 0, "running": 0, "done": 2, "failed": 0}


# -- RabbitMQ ----------------------------------------------------------------------------


def rabbitmq_answers() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 5672), timeout=1):
        return True
    return False


@pytest.mark.skipif(not rabbitmq_answers(), reason="no RabbitMQ on 127.0.0.1:5672")
def test_a_worker_takes_jobs_from_rabbitmq(tmp_path, server):
    root = queued_archive(tmp_path / "archive", "amqp://guest:guest@127.0.0.1:5672/")
    url = page(server, "/ward/7", 7)
    queued = submit(root, "capture", url=url)
    try:
        with worker(root):
            done = wait_for(lambda: finished(root, queued), 30, "the job through RabbitMQ")
        assert done.state == "done" and len(captures_of(root, url)) == 1
    finally:
        settings = archive_config.load(root)
        queue = jobs.connect(settings)
        with queue:
            queue.broker.flush_all()
            channel = queue.broker.channel
            for name in queue.queues:
                for suffix in ("", ".DQ", ".XQ"):
                    channel.queue_delete(name + suffix)


# -- browser workers ---------------------------------------------------------------------


def test_a_browser_sources_run_is_opened_by_a_worker_without_a_browser(tmp_path, redis, server):
    """Discovery is plain HTTP: the run's job (queued for any worker) opens the run on a
    worker with no browser, however broken the archive's browser setting, and queues the
    URLs' jobs for workers that have one."""
    root = queued_archive(tmp_path / "archive", redis.url, extra='browser = "/no/chromium"\n')
    url = page(server, "/ward/4", 4)
    (root / "sources" / "wards.toml").write_text(
        f'[[source]]\nname = "wards"\npublisher = "Ward Office"\nkind = "statement"\n'
        f'start_urls = ["{url}"]\ndiscovery = {{ type = "none" }}\nrender = "browser"\n'
        f'schedule = {{ every = "6h" }}\n',
        encoding="utf-8",
    )
    run = submit(root, "run", source="wards")
    with worker(root):
        done = wait_for(lambda: finished(root, run), 30, "the run's job")
    assert done.state == "done", done.error
    assert done.result["queued"] == 1
    queued = job(root, jobs.url_job_id(done.result["run"], url))
    assert (queued.state, queued.browser) == ("queued", True)  # left for a browser worker


# -- browser workers ---------------------------------------------------------------------


@pytest.mark.browser
@needs_chromium
def test_browser_captures_wait_for_a_worker_that_has_a_browser(tmp_path, redis, server):
    root = queued_archive(tmp_path / "archive", redis.url)
    url = page(server, "/ward/9", 9)
    queued = submit(root, "capture", url=url, browser=True)
    with worker(root, name="plain"):
        time.sleep(4)  # a worker without a browser leaves the job alone
        assert job(root, queued).state == "queued"
    with worker(root, "--browser", name="browser"):
        done = wait_for(lambda: finished(root, queued), 120, "the worker with a browser")
    assert done.state == "done", done.error
    assert "Traceback" not in worker_log(root, "browser")  # its browser closed in its thread
    with Store.open(root) as store:
        [capture] = [c for c in store.catalog.captures_of_url(canonical_url(url))]
        assert set(store.rendering(capture)) == {"conversion", "resource"}  # DOM, screenshot
