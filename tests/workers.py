"""Archives whose scrape work goes through a broker, and workers as separate processes."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from archive.catalog import Catalog, Job
from archive.store import Paths, init_archive
from tests.catalogs import write_settings
from tests.conftest import ONRECORD


def queued_archive(root: Path, broker: str, catalog: str = "", extra: str = "") -> Path:
    """A new archive that hands its work to ``broker``, under a namespace of its own;
    failing jobs are retried twice, 0.2 s apart at first, and a worker silent for 2 s is
    taken for dead (so a killed worker's jobs move on quickly)."""
    root.mkdir(parents=True)
    write_settings(
        root,
        catalog,
        broker=f'"{broker}"',
        broker_namespace=f'"test-{secrets.token_hex(4)}"',
        job_retries="2",
        job_backoff="0.2",
        worker_heartbeat="2.0",
    )
    if extra:
        with (root / "onrecord.toml").open("a", encoding="utf-8") as config:
            config.write(extra)
    init_archive(root)
    return root


def start_worker(root: Path, *options: str, name: str = "worker") -> subprocess.Popen:
    """``onrecord worker`` on the archive, its output in ``<root>/../<name>.log``."""
    log = open(root.parent / f"{name}.log", "ab")  # noqa: SIM115 (kept by the process)
    process = subprocess.Popen(
        [str(ONRECORD), "worker", "--archive", str(root), *options],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    log.close()
    return process


def stop(*processes: subprocess.Popen) -> None:
    """Stop workers as an operator does (SIGTERM: jobs in progress are finished first)."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_log(root: Path, name: str = "worker") -> str:
    return (root.parent / f"{name}.log").read_text(encoding="utf-8", errors="replace")


def job(root: Path, job_id: str) -> Job:
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        return catalog.job(job_id)


def wait_for(check: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``check`` until it returns something true; AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def finished(root: Path, job_id: str) -> Job | None:
    found = job(root, job_id)
    return found if found and found.state in ("done", "failed") else None
