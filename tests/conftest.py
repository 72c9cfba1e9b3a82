"""Shared fixtures: a fresh archive folder, a loopback HTTP server, and the command."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.store import Paths, init_archive
from index.build import ENGINES
from tests.catalogs import catalog_setting, catalog_template, write_settings
from tests.loopback import LoopbackServer
from tests.seaweedfs import SeaweedFS
from tests.webarchive import WebArchive, build_web_archive
from web import create_app

ONRECORD = Path(sys.executable).parent / "onrecord"

# The two workers take whole modules in collection order (--dist loadscope, with
# --no-loadscope-reorder). The modules with the most test time go first (measured on
# 2026-12-01: a minute or more each, of brokers, killed processes, browsers, demo builds
# and S3), so that neither worker is left running one of them alone at the end.
LONGEST_FIRST = (
    "test_workers.py",
    "test_faults.py",
    "test_browser_capture.py",
    "test_engines_demo.py",
    "test_scrape.py",
    "test_storage.py",
    "test_nodes.py",
    "test_multiworker.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest stays


@pytest.fixture(scope="session")
def postgres_catalog() -> Iterator[str]:
    """A PostgreSQL database with an empty catalog of the latest schema, made once per
    run: archives on PostgreSQL start as copies of it."""
    with catalog_template() as name:
        yield name


@pytest.fixture
def archive_root(request, tmp_path: Path) -> Iterator[Path]:
    """An empty archive that may fetch loopback addresses, with no politeness delay. Its
    catalog is SQLite, or a PostgreSQL database of its own when ONRECORD_TEST_CATALOG is
    "postgresql" (the whole suite on the server engine)."""
    root = tmp_path / "archive"
    engine = os.environ.get("ONRECORD_TEST_CATALOG", "sqlite")
    template = request.getfixturevalue("postgres_catalog") if engine != "sqlite" else None
    with catalog_setting(engine, template) as setting:
        root.mkdir()
        write_settings(root, setting)
        init_archive(root)
        yield root


@pytest.fixture
def archive_paths(archive_root: Path) -> Paths:
    return Paths(archive_root)


@pytest.fixture(scope="module", params=ENGINES)
def search_engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each search engine in turn, as the default of the indexes a test module builds
    (the ``search_engine`` setting's variable); a module asks for it with
    ``pytestmark = pytest.mark.usefixtures("search_engine")``. A test of one engine's
    own workings says so with ``@pytest.mark.engine("whoosh")``."""
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("ONRECORD_SEARCH_ENGINE", request.param)
        yield request.param


@pytest.fixture(autouse=True)
def _only_its_engine(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("engine")
    if marker is not None and "search_engine" in request.fixturenames:
        engine = request.getfixturevalue("search_engine")
        if engine not in marker.args:
            pytest.skip(f"a test of the {' and '.join(marker.args)} engine's own workings")


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory) -> Iterator[SeaweedFS]:
    """One real S3-compatible server (SeaweedFS) for the whole run, stopped at its end."""
    with SeaweedFS(tmp_path_factory.mktemp("seaweedfs")) as weed:
        yield weed


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Iterator[WebArchive]:
    """The web tests' archive (tests/webarchive.py), built once for the run (a build
    waits a second between captures) by a loopback site that stays up for the run.
    Tests take copies of it (:func:`site`, :func:`copy_site`), never this one."""
    with LoopbackServer() as server:
        yield build_web_archive(tmp_path_factory.mktemp("web-built") / "archive", server)


def copy_site(built: WebArchive, root: Path) -> WebArchive:
    """A copy of the built web archive at ``root``, for a test or module to change."""
    shutil.copytree(built.root, root)
    return dataclasses.replace(built, root=root)


@pytest.fixture(scope="module")
def site(built_site: WebArchive, tmp_path_factory) -> WebArchive:
    """The web tests' archive, a copy for each test module (modules add corrections,
    users and captures to it)."""
    return copy_site(built_site, tmp_path_factory.mktemp("web") / "archive")


@pytest.fixture(scope="module")
def client(site: WebArchive):
    """A Flask test client on the module's web archive."""
    return create_app({"ARCHIVE": str(site.root), "TESTING": True}).test_client()


def run_onrecord(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    """Run the installed command in a child process, as a user would."""
    environ = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(ONRECORD), *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=timeout,
        check=False,
    )
