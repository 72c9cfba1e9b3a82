"""Other archive tools read onrecord's files: pywb replays its WARCs and WACZ packages with
the same payloads and the same TimeMaps, `warcio check` passes them, and onrecord's CDXJ
says what cdxj-indexer says.

pywb pins old dependencies and patches the process with gevent when imported, so it is
installed into a virtualenv of its own (``.venv-pywb/``, made once, from PyPI) and only
ever run as a subprocess.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import ids
from archive.catalog import Catalog
from archive.store import Paths, Store, init_archive, read_capture, read_capture_rendering
from scrapers.browser import CHROMIUM_ARGS, BrowserSession
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.conftest import copy_site
from tests.scriptsite import HEADLINE, PAGE_HEIGHT, PAGE_PATH, script_site
from tests.webarchive import WebArchive
from web import create_app, indexing, links
from web.cli_integrity import export_command

BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
PYWB_VENV = Path(__file__).resolve().parent.parent / ".venv-pywb"
CDX_FIELDS = ("url", "digest", "offset", "length", "filename")


@pytest.fixture(scope="module")
def built(built_site: WebArchive, tmp_path_factory) -> WebArchive:
    """The web tests' archive, plus a revisit of the statement (an unchanged page)."""
    archive = copy_site(built_site, tmp_path_factory.mktemp("built") / "archive")
    with (
        Store.open(archive.root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
    ):
        Pipeline(store, http).capture(archive.statement_url)
    return archive


@pytest.fixture(scope="module")
def pywb() -> Path:
    """The bin folder of a virtualenv with pywb (installed on first use)."""
    wayback = PYWB_VENV / "bin" / "wayback"
    installed = PYWB_VENV / "installed"  # written last: a half-made virtualenv is made again
    # Test modules in other xdist workers want it too: one makes it while the others wait.
    with open(PYWB_VENV.with_name(".venv-pywb.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed.exists():
            steps = (
                [sys.executable, "-m", "venv", "--clear", str(PYWB_VENV)],
                [str(PYWB_VENV / "bin" / "pip"), "install", "--quiet", "pywb"],
            )
            for step in steps:
                done = subprocess.run(
                    step, capture_output=True, text=True, timeout=600, check=False
                )
                if done.returncode != 0:
                    pytest.skip(f"cannot install pywb into {PYWB_VENV}: {done.stderr[-500:]}")
            installed.touch()
    return wayback.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def wayback(pywb: Path, tmp_path: Path):
    """Start pywb on a collection folder; yields (add files to collection, base URL)."""
    root = tmp_path / "pywb"
    root.mkdir()
    started: list[subprocess.Popen] = []

    def serve(collection: str, *files: Path, unpack: bool = False) -> str:
        manager = str(pywb / "wb-manager")
        subprocess.run([manager, "init", collection], cwd=root, check=True, capture_output=True)
        add = [manager, "add", *(["--unpack-wacz"] if unpack else []), collection]
        added = subprocess.run(
            [*add, *map(str, files)], cwd=root, capture_output=True, text=True, check=False
        )
        assert added.returncode == 0, added.stderr
        port = free_port()
        started.append(
            subprocess.Popen(
                [str(pywb / "wayback"), "-p", str(port), "-b", "127.0.0.1", "-d", str(root)],
                cwd=root,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/{collection}/", timeout=2).close()
                return f"{base}/{collection}"
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    yield serve
    for process in started:
        process.kill()
        process.wait()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return reply.read()


def memento_times(timemap: str) -> list[str]:
    """The 14-digit times of the mementos a link-format TimeMap lists, in order."""
    found = []
    for line in timemap.split(",\n"):
        if re.search(r'rel="[^"]*memento', line):
            stamp = re.search(r'datetime="([^"]+)"', line).group(1)
            found.append(
                time.strftime("%Y%m%d%H%M%S", time.strptime(stamp, "%a, %d %b %Y %H:%M:%S GMT"))
            )
    return found


def captures(root: Path) -> list:
    with Catalog.open(root / "catalog.sqlite") as catalog:
        return list(catalog.all_captures())


def export(root: Path, out: Path, *args: str) -> Path:
    result = CliRunner().invoke(export_command, [str(out), "--archive", str(root), *args])
    assert result.exit_code == 0, result.output
    return out


def check_replay(base: str, built: WebArchive) -> None:
    paths = Paths(built.root)
    onrecord = create_app({"ARCHIVE": str(built.root), "TESTING": True}).test_client()
    for capture in captures(built.root):
        if capture.record_type != "response":
            continue
        replayed = fetch(f"{base}/{ids.ts14(capture.captured_at)}id_/{capture.url}")
        assert replayed == read_capture(paths, capture).payload, capture.url
    for url in (built.statement_url, built.news_url):
        theirs = fetch(f"{base}/timemap/link/{url}").decode()
        ours = onrecord.get(links.timemap_path(url)).get_data(as_text=True)
        assert memento_times(theirs) == memento_times(ours)
        assert len(memento_times(ours)) == 2


@pytest.mark.slow
def test_pywb_replays_the_warcs_with_the_same_payloads_and_timemaps(built, wayback):
    base = wayback("onrecord", *sorted((built.root / "warcs").iterdir()))
    check_replay(base, built)


@pytest.mark.slow
def test_pywb_replays_the_wacz_through_onrecords_own_index(built, wayback, tmp_path):
    package = export(built.root, tmp_path / "all.wacz")
    base = wayback("fromwacz", package, unpack=True)  # pywb merges the package's CDXJ
    check_replay(base, built)


def test_warcio_check_passes_the_warcs_and_the_exports(built, tmp_path):
    part = export(built.root, tmp_path / "part.wacz", "--query", "recount")
    with zipfile.ZipFile(part) as package:
        package.extract("archive/data.warc.gz", tmp_path)
    files = [*sorted((built.root / "warcs").iterdir()), tmp_path / "archive" / "data.warc.gz"]
    checked = subprocess.run(
        [str(BIN / "warcio"), "check", "-v", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "digest pass" in checked.stdout


def cdxj(lines: str) -> list[tuple]:
    rows = []
    for line in lines.splitlines():
        if not line.strip():
            continue
        key, stamp, block = line.split(" ", 2)
        fields = json.loads(block)
        rows.append((key, stamp, *(fields.get(name) for name in CDX_FIELDS)))
    return sorted(rows)


@pytest.mark.parametrize("selection", [(), ("--query", "recount")], ids=["whole", "search"])
def test_onrecords_cdxj_matches_cdxj_indexer(built, tmp_path, selection):
    package = export(built.root, tmp_path / "out.wacz", *selection)
    with zipfile.ZipFile(package) as archive:
        archive.extractall(tmp_path / "out")
    warcs = sorted((tmp_path / "out" / "archive").iterdir())
    indexed = subprocess.run(
        [str(BIN / "cdxj-indexer"), *map(str, warcs)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path / "out" / "archive",
    )
    theirs = [row for row in cdxj(indexed.stdout) if row[2] is not None]
    ours = cdxj((tmp_path / "out" / "indexes" / "index.cdx").read_text())
    assert ours == theirs
    assert len(ours) == (5 if not selection else 2)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, str]:
    """An archive holding one browser capture of the script-built statement. The live
    servers are gone before pywb replays it: everything must come from the WARC."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed")
    root = tmp_path_factory.mktemp("rendered") / "archive"
    init_archive(root)
    with (
        script_site() as (site, _cdn),
        Store.open(root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
        BrowserSession(http) as browser,
    ):
        url = site.url(PAGE_PATH)
        outcome = Pipeline(store, http, browser=browser).capture(url, browser=True)
        indexing.catch_up(store.paths, store.catalog)
    assert not outcome.failures
    return root, url


@pytest.mark.slow
@pytest.mark.browser
def test_pywb_replays_a_browser_capture_with_its_subresources(rendered, wayback):
    from playwright.sync_api import sync_playwright

    root, url = rendered
    base = wayback("rendered", *sorted((root / "warcs").iterdir()))
    stored = captures(root)
    assert len(stored) >= 4  # the page, its script, its stylesheet, its image
    for capture in stored:
        if capture.record_type != "response":
            continue
        target = f"{base}/{ids.ts14(capture.captured_at)}id_/{capture.url}"
        try:
            status, replayed = 200, fetch(target)
        except urllib.error.HTTPError as error:  # the favicon the browser asked for: 404
            status, replayed = error.code, error.read()
        assert status == capture.status, capture.url
        assert replayed == read_capture(Paths(root), capture).payload, capture.url
    (page,) = [c for c in stored if c.url == url]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page()
            # pywb shows a capture in a frame under its banner; the page is in the frame.
            tab.goto(f"{base}/{ids.ts14(page.captured_at)}/{url}")
            tab.wait_for_function("document.querySelector('iframe') !== null")
            frame = tab.frame_locator("iframe").first
            heading = frame.locator("article h1")
            heading.wait_for(timeout=20_000)
            assert heading.inner_text() == HEADLINE  # built by the archived script
            image = frame.locator("article img")
            image.evaluate("image => image.decode()")
            assert image.evaluate("image => image.naturalWidth") == 64
            # The archived stylesheet applied.
            html = frame.locator("html")
            assert html.evaluate("root => root.scrollHeight") == PAGE_HEIGHT
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.parametrize("selection", [(), ("--query", "reservoir")], ids=["whole", "search"])
def test_wacz_exports_carry_the_screenshot_and_the_rendered_page(rendered, tmp_path, selection):
    root, url = rendered
    package = export(root, tmp_path / "out.wacz", *selection)
    with zipfile.ZipFile(package) as archive:
        warcs = [n for n in archive.namelist() if n.endswith(".warc.gz")]
        data = b"".join(gzip.decompress(archive.read(name)) for name in warcs)
    (page,) = [c for c in captures(root) if c.url == url]
    rendering = read_capture_rendering(Paths(root), page)
    for record in rendering.values():
        assert f"WARC-Record-ID: {record.record_id}".encode() in data
        assert f"WARC-Payload-Digest: {record.payload_digest}".encode() in data
        assert record.payload in data
    assert f"WARC-Target-URI: urn:fullPage:{url}".encode() in data
