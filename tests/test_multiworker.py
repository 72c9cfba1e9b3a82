"""The process layout of docs/deploy.md on one machine: a PostgreSQL catalog, WARC files
in an S3-compatible bucket (SeaweedFS), a Redis broker, a scheduler and three workers as
separate processes, scraping a site of 200 pages on four hosts (each its own port) found
through feeds and sitemaps. One worker is SIGKILLed mid-run and started again.

At the end every page is archived exactly once (one capture, one version, its quote once,
no event), every quote is in the search index, and no host saw two requests closer
together than its delay, whichever workers made them."""

from __future__ import annotations

import collections
import itertools
import signal
import time
from pathlib import Path

import pytest

from archive.catalog import Catalog
from archive.store import Paths
from index import check
from tests.catalogs import postgres_database
from tests.conftest import run_onrecord
from tests.loopback import LoopbackServer
from tests.redisserver import RedisServer
from tests.test_scrape import HTML, RSS, article, feed
from tests.workers import queued_archive, start_worker, stop, wait_for

HOSTS = 4
PAGES_PER_HOST = 30
DELAY = 0.05  # seconds between two requests to one host
ROBOTS = "User-agent: *\nAllow: /\n"
XML = {"Content-Type": "application/xml"}


def sitemap(origin: str, paths: list[str]) -> str:
    urls = "".join(f"<url><loc>{origin}{p}</loc></url>" for p in paths)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    )


def words(host: int, n: int) -> str:
    return f"Precinct {n} of district {host} reported every ballot before the deadline"


def build_site(servers: list[LoopbackServer]) -> dict[str, str]:
    """Each host: its pages, a feed (even hosts) or a sitemap (odd hosts), robots.txt.
    The source files of the four hosts, by name."""
    sources = {}
    for host, server in enumerate(servers):
        paths = [f"/district-{host}/precinct-{n}" for n in range(PAGES_PER_HOST)]
        for n, path in enumerate(paths):
            speaker = ("Mara Lindqvist", "Tobias Ekwueme")[n % 2]
            page = article(f"District {host} precinct {n}", speaker, words(host, n))
            server.route(path, status=200, body=page, headers=HTML)
        server.route("/robots.txt", status=200, body=ROBOTS, headers={"Content-Type": "text/plain"})
        if host % 2 == 0:
            server.route("/feed.xml", status=200, body=feed(server.origin, paths), headers=RSS)
            discovery = f'{{ type = "feed", url = "{server.url("/feed.xml")}" }}'
        else:
            body = sitemap(server.origin, paths)
            server.route("/sitemap.xml", status=200, body=body, headers=XML)
            discovery = f'{{ type = "sitemap", url = "{server.url("/sitemap.xml")}" }}'
        sources[f"district-{host}"] = (
            f'[[source]]\nname = "district-{host}"\npublisher = "District {host} Board"\n'
            f'kind = "statement"\ndiscovery = {discovery}\nschedule = {{ every = "6h" }}\n'
            f"delay = {DELAY}\nmax_pages = {PAGES_PER_HOST}\n"
        )
    return sources


def progress(root: Path) -> tuple[int, int, int]:
    """(captures, runs finished, jobs queued or running)."""
    with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
        runs = [catalog.last_run(f"district-{h}") for h in range(HOSTS)]
        counts = catalog.job_counts()
        return (
            catalog.count_captures(),
            sum(1 for r in runs if r is not None and r.finished_at is not None),
            counts["queued"] + counts["running"],
        )


@pytest.mark.slow
def test_three_workers_one_killed_archive_every_page_exactly_once(tmp_path, seaweedfs):
    servers = [LoopbackServer() for _ in range(HOSTS)]
    with (
        postgres_database() as catalog_url,
        RedisServer(tmp_path / "redis") as redis,
        servers[0],
        servers[1],
        servers[2],
        servers[3],
    ):
        root = queued_archive(
            tmp_path / "archive",
            redis.url,
            catalog=catalog_url,
            extra=seaweedfs.settings(seaweedfs.new_place()),
        )
        for name, text in build_site(servers).items():
            (root / "sources" / f"{name}.toml").write_text(text, encoding="utf-8")
        began = time.monotonic()
        scheduled = run_onrecord("schedule", "--once", "--archive", str(root))
        assert scheduled.returncode == 0, scheduled.stderr

        workers = [start_worker(root, name=f"worker-{n}") for n in range(3)]
        try:
            total = HOSTS * PAGES_PER_HOST
            wait_for(lambda: progress(root)[0] >= total // 3, 60, "a third of the pages")
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()
            workers[0] = start_worker(root, name="worker-0-again")
            wait_for(
                lambda: progress(root)[1:] == (HOSTS, 0), 90, "every run to finish, no job left"
            )
        finally:
            stop(*workers)
        elapsed = time.monotonic() - began

        with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
            captures = list(catalog.all_captures())
            documents = list(catalog.all_documents())
            quotes = list(catalog.current_quotes())
            events = list(catalog.events())
            versions = [len(catalog.versions(d.id)) for d in documents]
            counts = catalog.job_counts()
            indexable = catalog.indexable_ids()
            failures = catalog.failures()
            runs = [catalog.last_run(f"district-{h}") for h in range(HOSTS)]
        pages = [c for c in captures if "/precinct-" in c.url]
        by_page = collections.Counter(c.canonical_url for c in pages)
        assert len(by_page) == HOSTS * PAGES_PER_HOST
        assert set(by_page.values()) == {1}, [u for u, n in by_page.items() if n > 1]
        assert {(c.record_type, c.status) for c in pages} == {("response", 200)}
        # every response is kept, linked to the run that made it: the feeds and
        # sitemaps the runs read, and robots.txt as each worker process read it
        kinds = collections.Counter(c.kind for c in captures)
        assert kinds["page"] == len(pages) and kinds["feed"] == kinds["sitemap"] == HOSTS // 2
        assert kinds["robots"] >= HOSTS and set(kinds) == {"page", "feed", "sitemap", "robots"}
        assert {c.run_id for c in captures} == {r.id for r in runs}
        assert len(documents) == HOSTS * PAGES_PER_HOST and set(versions) == {1}
        assert events == [] and failures == []
        assert sorted(q.text for q in quotes) == sorted(
            words(h, n) + "," for h in range(HOSTS) for n in range(PAGES_PER_HOST)
        )
        assert counts["failed"] == 0 and counts["done"] == HOSTS * (PAGES_PER_HOST + 1)
        assert check.compare(Paths(root).index, *indexable).clean
        found = run_onrecord(
            "search", f'"{words(3, 17)}"', "--type", "quote", "--archive", str(root)
        )
        assert "1 results" in found.stdout and "Tobias Ekwueme" in found.stdout
        print(f"{HOSTS * PAGES_PER_HOST} pages on {HOSTS} hosts by 3 workers in {elapsed:.1f} s")

    # Politeness across workers: never two requests to one host closer than its delay.
    for server in servers:
        moments = sorted(request.at for request in server.requests)
        closest = min(b - a for a, b in itertools.pairwise(moments))
        assert closest >= DELAY * 0.9, f"{server.origin}: two requests {closest:.3f} s apart"
