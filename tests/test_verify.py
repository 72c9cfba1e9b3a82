"""`onrecord verify`: the archive proves it shows what it received, and mends what can
be rebuilt from the layer above."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.catalog import Catalog, log_entry_hash
from archive.config import set_values
from archive.migrate import migrate_archive
from archive.store import Paths
from archive.verify import check_chain
from index import layout
from index.build import Indexer
from index.search import Searcher
from tests.catalogs import ENGINES, execute, postgres_database
from tests.conftest import copy_site
from tests.webarchive import WebArchive
from web.cli import main
from web.cli_integrity import verify
from web.indexing import IndexKeeper


@pytest.fixture(scope="module")
def built(built_site: WebArchive, tmp_path_factory) -> WebArchive:
    return copy_site(built_site, tmp_path_factory.mktemp("built") / "archive")


@pytest.fixture(params=ENGINES)
def root(request, built: WebArchive, tmp_path: Path) -> Iterator[Path]:
    """A copy of the built archive, free to damage; its catalog in SQLite, or moved into
    a PostgreSQL database of its own."""
    copy = Path(shutil.copytree(built.root, tmp_path / "archive"))
    if request.param == "sqlite":
        yield copy
        return
    with postgres_database() as url:
        migrate_archive(copy, catalog=url)
        yield copy


@pytest.fixture
def sqlite_root(built: WebArchive, tmp_path: Path) -> Path:
    """A copy of the built archive with its catalog in SQLite (a file that can be emptied)."""
    return Path(shutil.copytree(built.root, tmp_path / "archive"))


def run_verify(root: Path, *args: str):
    return CliRunner().invoke(verify, ["--archive", str(root), *args])


def sql(root: Path, statement: str, **params) -> None:
    execute(root, statement, **params)


def captures(root: Path) -> list:
    with Catalog.open(Paths(root).catalog) as catalog:
        return list(catalog.all_captures())


def warc_bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "warcs").iterdir())}


def test_a_whole_archive_verifies(root):
    result = run_verify(root)
    assert result.exit_code == 0, result.output
    assert "4 records in 1 WARC files" in result.output
    assert "the archive is whole" in result.output


def test_a_changed_payload_is_reported_and_never_repaired(root):
    last = captures(root)[-1]
    path = root / "warcs" / last.warc_file
    data = path.read_bytes()
    start, end = last.warc_offset, last.warc_offset + last.warc_length
    member = gzip.decompress(data[start:end])
    assert b"precincts audited" in member
    forged = gzip.compress(member.replace(b"precincts audited", b"precincts examined"))
    path.write_bytes(data[:start] + forged + data[end:])
    before = warc_bytes(root)
    result = run_verify(root)
    assert result.exit_code == 1
    [problem] = [line for line in result.output.splitlines() if line.startswith("[")]
    assert last.id in problem and "payload digest" in problem and "NOT repairable" in problem
    repaired = run_verify(root, "--repair")
    assert repaired.exit_code == 1
    assert warc_bytes(root) == before


def test_a_row_pointing_at_the_wrong_offset_is_repaired(root):
    moved = captures(root)[1]
    sql(root, "UPDATE captures SET warc_offset = warc_offset + 7 WHERE id = :id", id=moved.id)
    result = run_verify(root)
    assert result.exit_code == 1
    assert f"[catalog] {moved.id}: the catalog places it at" in result.output
    assert run_verify(root, "--repair").exit_code == 0
    assert run_verify(root).exit_code == 0
    assert captures(root)[1] == moved


def test_a_lost_catalog_row_is_rebuilt_from_its_record(root):
    lost = captures(root)[0]
    sql(root, "DELETE FROM captures WHERE id = :id", id=lost.id)
    result = run_verify(root)
    assert result.exit_code == 1
    assert f"{lost.warc_file}:{lost.warc_offset}" in result.output
    assert f"({lost.id}) has no catalog row" in result.output
    repaired = run_verify(root, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert lost in captures(root)


def test_a_repair_while_a_node_keeps_the_index_mends_the_catalog_and_says_so(sqlite_root):
    lost = captures(sqlite_root)[0]
    sql(sqlite_root, "DELETE FROM captures WHERE id = :id", id=lost.id)
    node = IndexKeeper(Paths(sqlite_root).index)
    node.claim()
    try:
        repaired = run_verify(sqlite_root, "--repair")
    finally:
        node.release()
    assert repaired.exception is None or isinstance(repaired.exception, SystemExit)
    assert "the index was not rebuilt" in repaired.output
    assert "POST /admin/reindex" in repaired.output
    assert lost in captures(sqlite_root)


def test_a_changed_digest_in_the_catalog_is_rewritten_from_the_warc(root):
    changed = captures(root)[2]
    sql(root, "UPDATE captures SET payload_digest = 'sha256:00' WHERE id = :id", id=changed.id)
    result = run_verify(root)
    assert result.exit_code == 1
    assert f"[catalog] {changed.id}: the payload digest is" in result.output
    assert "but the catalog says" in result.output  # the log still has the true digest
    assert "NOT repairable" not in result.output
    assert run_verify(root, "--repair").exit_code == 0
    assert captures(root)[2] == changed


def test_a_missing_warc_file_is_reported_per_capture(root):
    [warc] = (root / "warcs").iterdir()
    warc.rename(root / "elsewhere.warc.gz")
    result = run_verify(root, "--repair")
    assert result.exit_code == 1
    for capture in captures(root):
        assert f"[warc] {capture.id}: no record at {warc.name}:" in result.output


def test_a_backdated_log_entry_breaks_the_chain(root, built):
    news = captures(root)[3]
    sql(
        root,
        "UPDATE capture_log SET captured_at = '2020-01-01T00:00:00.000000Z' WHERE capture_id = :id",
        id=news.id,
    )
    result = run_verify(root)
    assert result.exit_code == 1
    assert "its hash does not match its contents" in result.output
    assert "NOT repairable" in result.output
    one = run_verify(root, "--capture", news.id)
    assert one.exit_code == 1
    assert "its hash does not match its contents" in one.output


def test_a_rewritten_chain_does_not_lead_to_a_published_head(root):
    """An archive that recomputes every hash after a change is consistent with itself,
    but not with a head someone saw before."""
    with Catalog.open(Paths(root).catalog) as catalog:
        published = catalog.log_head()
        entries = list(catalog.log_segment(1))
    prev = entries[1]["prev_hash"]
    for entry in entries[1:]:
        when = "2020-01-01T00:00:00.000000Z" if entry is entries[1] else entry["captured_at"]
        new = log_entry_hash(prev, entry["capture_id"], when, entry["payload_digest"])
        sql(
            root,
            "UPDATE capture_log SET captured_at = :when, prev_hash = :prev, entry_hash = :new"
            " WHERE seq = :seq",
            when=when,
            prev=prev,
            new=new,
            seq=entry["seq"],
        )
        prev = new
    with Catalog.open(Paths(root).catalog) as catalog:
        rewritten = list(catalog.log_segment(1))
        assert check_chain(rewritten) == []  # consistent with itself...
        assert catalog.log_head()[0] == published[0]
        assert catalog.log_head()[1] != published[1]  # ...but not with what was published
    result = run_verify(root)
    assert result.exit_code == 1
    assert f"logs {entries[1]['capture_id']} as 2020-01-01" in result.output


def test_verify_one_capture_prints_its_position_and_the_head(root):
    second = captures(root)[1]
    with Catalog.open(Paths(root).catalog) as catalog:
        position = catalog.log_position(second.id)
        head, head_hash = catalog.log_head()
    result = run_verify(root, "--capture", second.id)
    assert result.exit_code == 0, result.output
    assert f"log       position {position}  entry " in result.output
    assert f"head      position {head}  entry {head_hash}" in result.output
    assert run_verify(root, "--capture", "c-0000000000000000").exit_code != 0


def test_an_index_that_lost_a_document_is_rebuilt(root, built):
    Indexer(root / "index").delete_document(built.news)
    result = run_verify(root)
    assert result.exit_code == 1
    assert f"[index] {built.news}: is in the catalog but not in the index" in result.output
    assert f"[index] {built.variant}: is in the catalog but not in the index" in result.output
    repaired = run_verify(root, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "rebuilt the index" in repaired.output


def test_an_empty_catalog_file_is_one_sentence_and_repair_rebuilds_it(sqlite_root):
    root = sqlite_root
    before = {c.id for c in captures(root)}
    (root / "catalog.sqlite").write_bytes(b"")
    for command in (["verify"], ["reindex"]):
        result = CliRunner().invoke(main, [*command, "--archive", str(root)])
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit)  # a ClickException, not a traceback
        assert "is empty: rebuild it from the WARC files with onrecord verify --repair" in (
            result.output
        )
    repaired = run_verify(root, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert {c.id for c in captures(root)} == before


@pytest.mark.parametrize("engine", ["whoosh", "tantivy"])
def test_a_damaged_index_shard_is_reported_and_rebuilt(sqlite_root, engine):
    root = sqlite_root
    set_values(root, {"search_engine": engine})
    assert CliRunner().invoke(main, ["reindex", "--archive", str(root)]).exit_code == 0
    for path in (layout.current(root / "index") / "quotes").iterdir():
        if path.suffix in {".seg", ".term", ".idx", ".pos", ".store", ".fast", ".fieldnorm"}:
            path.unlink()
    result = run_verify(root)
    assert result.exit_code == 1
    assert "[index] shard quotes: cannot be read (" in result.output
    assert "is in the catalog but not in the index" not in result.output
    repaired = run_verify(root, "--repair")
    assert repaired.exit_code == 0, repaired.output


def test_reindex_moves_to_the_engine_of_the_setting_with_the_same_ids(sqlite_root):
    root = sqlite_root
    before = Searcher(root / "index").search("", page_size=200)
    set_values(root, {"search_engine": "tantivy"})
    reindexed = CliRunner().invoke(main, ["reindex", "--archive", str(root)])
    assert reindexed.exit_code == 0, reindexed.output
    assert layout.engine_of(layout.current(root / "index")) == "tantivy"
    after = Searcher(root / "index").search("", page_size=200)
    assert sorted(hit.id for hit in after.hits) == sorted(hit.id for hit in before.hits)
    assert after.total == before.total and after.facets == before.facets
    assert run_verify(root).exit_code == 0
    set_values(root, {"search_engine": "lucene"})
    refused = CliRunner().invoke(main, ["reindex", "--archive", str(root)])
    assert refused.exit_code == 1
    assert "search_engine must be 'whoosh' or 'tantivy', not 'lucene'" in refused.output
