"""Browser captures against plain ones: captures per second and WARC bytes per capture.

A loopback site serves N statement pages built the way many press rooms now build them:
an HTML shell whose script fetches the statement as JSON and writes it into the page,
with a shared script, stylesheet and image. Each page is captured twice into two fresh
archives, in the same run: plainly (the baseline: one polite fetch, the shell only) and in
the browser (headless Chromium through warcprox: every resource, the rendered DOM and a
screenshot). Both go through the whole pipeline (store, extract, quotes). The process,
and so the one Chromium it starts, is pinned to one core.

Run: ``.venv/bin/python -m bench.capture [--pages N]``
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from archive import ids
from archive.store import Store, init_archive
from scrapers.browser import BrowserConfig, BrowserSession
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline

SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Press office</title>
<link rel="stylesheet" href="/assets/site.css"><script src="/assets/app.js" defer></script>
</head><body><header><img src="/assets/seal.png" alt="" width="48" height="48"> Press office
</header><main id="app" data-src="/api/{n}.json"><p>Loading…</p></main></body></html>
"""
APP_JS = """
const app = document.getElementById("app");
fetch(app.dataset.src).then(r => r.json()).then(s => {
  const article = document.createElement("article");
  const h1 = document.createElement("h1");
  h1.textContent = s.title;
  article.append(h1);
  for (const text of s.paragraphs) {
    const p = document.createElement("p");
    p.textContent = text;
    article.append(p);
  }
  app.replaceChildren(article);
});
"""
SITE_CSS = (
    "body{font:17px/1.6 Georgia,serif;margin:0;color:#222}header{background:#234;color:#fff;"
    "padding:12px 20px}main{max-width:700px;margin:24px auto;padding:0 20px}"
)
PLACES = ("Northfield", "Lakemont", "Eastbrook", "Riverton", "Hillcrest", "Stonebridge")
TOPICS = ("road repairs", "the school budget", "flood defences", "bus routes", "park lighting")


def png(width: int, height: int) -> bytes:
    rows = b"".join(b"\x00" + bytes((x * 5 % 256, 80, 160)) * width for x in range(height))
    out = b"\x89PNG\r\n\x1a\n"
    for kind, data in (
        (b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
        (b"IDAT", zlib.compress(rows)),
        (b"IEND", b""),
    ):
        out += struct.pack(">I", len(data)) + kind + data
        out += struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return out


def statement(n: int) -> dict:
    place, topic = PLACES[n % len(PLACES)], TOPICS[n % len(TOPICS)]
    return {
        "title": f"{place} council statement on {topic} ({n})",
        "paragraphs": [
            f"The {place} council published its plan for {topic} on Monday, after a "
            f"consultation that drew {100 + n * 7} responses from residents.",
            f"\u201cWe read every response, and the plan changed because of them,\u201d said "
            f"Alex Moreno, the council's chief executive, at meeting {n}.",
            f"The work on {topic} will start in the spring and is expected to take "
            f"{2 + n % 5} months. A progress report will follow each quarter.",
            "\u201cResidents will see the first results before the summer,\u201d Moreno said.",
        ]
        * 2,
    }


def serve(pages: int) -> ThreadingHTTPServer:
    routes = {
        "/assets/app.js": (APP_JS.encode(), "text/javascript"),
        "/assets/site.css": (SITE_CSS.encode(), "text/css"),
        "/assets/seal.png": (png(48, 48), "image/png"),
        "/robots.txt": (b"User-agent: *\nAllow: /\n", "text/plain"),
    }
    for n in range(pages):
        routes[f"/statements/{n}"] = (SHELL.format(n=n).encode(), "text/html; charset=utf-8")
        routes[f"/api/{n}.json"] = (json.dumps(statement(n)).encode(), "application/json")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body, kind = routes.get(self.path, (b"not found", "text/plain"))
            self.send_response(200 if self.path in routes else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            """Quiet: the benchmark prints its own figures."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def warc_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in (root / "warcs").glob("*.warc.gz"))


def run(root: Path, urls: list[str], browser: bool) -> tuple[float, int, int, int]:
    """(captures/s, WARC bytes, quotes found, screenshot bytes) of capturing every URL
    once."""
    init_archive(root)
    config = HttpConfig(allow_private=True, delay=0.0)
    empty = warc_bytes(root)
    with Store.open(root) as store, PoliteSession(config) as http:
        session = BrowserSession(http, BrowserConfig()) if browser else None
        try:
            pipeline = Pipeline(store, http, browser=session)
            if session is not None:  # the browser's start is not a capture's cost
                session.capture(urls[0])
            started = time.perf_counter()
            for url in urls:
                outcome = pipeline.capture(url, browser=browser)
                if outcome.failures:
                    raise SystemExit(f"{url}: {outcome.failures[0].reason}")
            elapsed = time.perf_counter() - started
        finally:
            if session is not None:
                session.close()
        quotes = sum(1 for _ in store.catalog.current_quotes())
        shots = 0
        for url in urls:
            for capture in store.catalog.captures_of_url(ids.canonical_url(url)):
                shot = store.rendering(capture).get("resource")
                shots += len(shot.payload) if shot else 0
    return len(urls) / elapsed, warc_bytes(root) - empty, quotes, shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # Chromium inherits it
    server = serve(args.pages)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    urls = [f"{origin}/statements/{n}" for n in range(args.pages)]
    with tempfile.TemporaryDirectory(prefix="bench-capture-") as scratch:
        plain = run(Path(scratch) / "plain", urls, browser=False)
        rendered = run(Path(scratch) / "browser", urls, browser=True)
    server.shutdown()
    print(f"{args.pages} script-built statement pages, one core, loopback, no delay")
    print(
        f"{'what':<32} {'captures/s':>10} {'WARC bytes/capture':>19} "
        f"{'screenshot PNG':>17} {'quotes':>7}"
    )
    for label, (rate, size, quotes, shots) in (
        ("baseline: plain HTTP capture", plain),
        ("browser capture (1 Chromium)", rendered),
    ):
        print(
            f"{label:<32} {rate:>10.2f} {size / args.pages:>19,.0f} "
            f"{shots / args.pages:>17,.0f} {quotes:>7}"
        )
    print(
        "browser capture WARC bytes include every resource (revisits once unchanged), the "
        "rendered DOM and a full-page PNG screenshot"
    )


if __name__ == "__main__":
    main()
