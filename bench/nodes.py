"""Several web nodes: how soon a capture is searchable on another node, and how fast an
empty node's index catches up.

On a PostgreSQL catalog (the server at 127.0.0.1:5432 the tests use, a database of its
own), this process captures pages one at a time from a loopback server, as a worker
would, while a second node (``onrecord serve`` on an archive folder of its own, following
the change log every ``--interval`` seconds) is asked for each page's unique phrase until
it finds it. The baseline in the same run is the capturing process indexing the same
capture itself (``catch_up`` into its own index, the one-machine path).

Then, on the catalog those captures made, an empty index follows the whole log from
position 0 (changes/s), beside a full rebuild from the catalog (what a node started
empty does), in the same run.

Run: ``.venv/bin/python -m bench.nodes [--captures N] [--interval S] [--extra N]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from archive.catalog import Catalog
from archive.store import Paths, Store, init_archive
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.catalogs import postgres_database
from tests.loopback import LoopbackServer
from web import indexing
from web.indexing import IndexKeeper, write_position

ONRECORD = Path(sys.executable).parent / "onrecord"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bulletin {n}</title></head>
<body><article><h1>Harbour bulletin number {n}</h1>
<p>The harbour office issued its bulletin on the state of the quays and the dredging
work that continues along the eastern breakwater through the winter.</p>
<p>"Berth {word} reopens to cargo ships once the survey is signed," said Tomas Berg,
the harbour master.</p>
<p>Ships waiting outside the harbour are asked to keep to the anchorage marked on the
current chart until the pilot boat calls them in.</p>
</article></body></html>"""
POLL = 0.01  # seconds between two searches on the second node


def word(n: int) -> str:
    """A made-up word for each page, found in no other: ``zq`` and ``n`` in letters."""
    letters = ""
    while True:
        n, rest = divmod(n, 26)
        letters += chr(ord("a") + rest)
        if n == 0:
            return "zq" + letters


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def start_node(root: Path) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [str(ONRECORD), "serve", "--archive", str(root), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline()
    if not line.startswith("serving"):
        raise SystemExit(f"the second node did not start: {line!r}")
    return process, int(line.rsplit(":", 1)[1].strip("/\n"))


def found(port: int, phrase: str) -> bool:
    query = urllib.parse.urlencode({"q": phrase, "type": "quote"})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/search.json?{query}") as response:
        return json.load(response)["total"] > 0


def archive(root: Path, settings: str) -> Path:
    root.mkdir()
    (root / "onrecord.toml").write_text(settings, encoding="utf-8")
    init_archive(root)
    return root


def bulletin(site: LoopbackServer, n: int) -> str:
    """Put bulletin ``n`` on the site; its address."""
    site.route(
        f"/bulletin/{n}",
        status=200,
        body=PAGE.format(n=n, word=word(n)),
        headers={"Content-Type": "text/html"},
    )
    return site.url(f"/bulletin/{n}")


def capture_to_search(
    worker: Path, port: int, site: LoopbackServer, count: int
) -> tuple[list[float], list[float]]:
    """For each capture: seconds until the second node finds it, and seconds for the
    capturing process to index it itself (the baseline)."""
    remote, local = [], []
    with (
        Store.open(worker) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
    ):
        pipeline = Pipeline(store, http)
        for n in range(count):
            pipeline.capture(bulletin(site, n))
            committed = time.perf_counter()
            while not found(port, word(n)):
                time.sleep(POLL)
            remote.append(time.perf_counter() - committed)
            began = time.perf_counter()
            indexing.catch_up(store.paths, store.catalog)
            local.append(time.perf_counter() - began)
    return remote, local


def catch_up_rates(worker: Path, scratch: Path) -> tuple[int, float, float, int]:
    """(changes, seconds to follow them all from 0, seconds to rebuild, records)."""
    with Catalog.open(Paths(worker).catalog) as catalog:
        changes = catalog.backlog(0).count
        following = scratch / "following"
        following.mkdir()
        write_position(following, 0)  # an empty index that follows the log from its start
        began = time.perf_counter()
        IndexKeeper(following).catch_up(catalog)
        follow = time.perf_counter() - began
        began = time.perf_counter()
        records = indexing.build(scratch / "rebuilt", catalog)
        rebuild = time.perf_counter() - began
    return changes, follow, rebuild, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=100)
    parser.add_argument("--interval", type=float, default=1.0, help="follow_interval")
    parser.add_argument(
        "--extra", type=int, default=400, help="captures added before measuring catch-up"
    )
    args = parser.parse_args()
    with (
        postgres_database() as url,
        LoopbackServer() as site,
        tempfile.TemporaryDirectory() as folder,
    ):
        settings = (
            f'[onrecord]\ncatalog = "{url}"\nallow_private = true\ndelay = 0.0\n'
            f"follow_interval = {args.interval}\n"
        )
        worker = archive(Path(folder) / "worker", settings)
        node_root = archive(Path(folder) / "node", settings)
        node, port = start_node(node_root)
        try:
            remote, local = capture_to_search(worker, port, site, args.captures)
        finally:
            node.terminate()
            node.wait()
        with (
            Store.open(worker) as store,
            PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
        ):
            pipeline = Pipeline(store, http)
            for n in range(args.captures, args.captures + args.extra):
                pipeline.capture(bulletin(site, n))
        changes, follow, rebuild, records = catch_up_rates(worker, Path(folder))
    print(f"capture to searchable, {args.captures} captures, follow_interval {args.interval} s")
    print(f"{'':<54} {'median s':>9} {'p95 s':>9}")
    print(
        f"{'on a second node (onrecord serve)':<54} "
        f"{statistics.median(remote):>9.3f} {percentile(remote, 0.95):>9.3f}"
    )
    print(
        f"{'baseline: the capturing process indexes it':<54} "
        f"{statistics.median(local):>9.3f} {percentile(local, 0.95):>9.3f}"
    )
    print(f"an empty index catching up on {changes} changes ({records} records)")
    print(f"{'':<54} {'seconds':>9} {'changes/s':>9}")
    print(f"{'following the log from position 0':<54} {follow:>9.2f} {changes / follow:>9.1f}")
    print(
        f"{'full rebuild from the catalog (a node started empty)':<54} "
        f"{rebuild:>9.2f} {changes / rebuild:>9.1f}"
    )


if __name__ == "__main__":
    sys.exit(main())
