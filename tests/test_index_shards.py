"""Documents and quotes in two shards: a shard that is missing or damaged is reported, and
the other keeps answering; searches that would walk every posting stay bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from index import layout
from index.build import Indexer
from index.check import compare
from index.search import Searcher, ShardUnavailable
from tests.test_index import D1, D2, Q1, Q2, Q3, ids
from web import create_app, links

pytestmark = pytest.mark.usefixtures("search_engine")

# the files that hold a shard's segments (Whoosh's compound file, tantivy's parts)
SEGMENT_FILES = {".seg", ".term", ".idx", ".pos", ".store", ".fast", ".fieldnorm"}


@pytest.fixture
def built(tmp_path: Path) -> Path:
    Indexer(tmp_path / "ix").update([D1, D2], [Q1, Q2, Q3])
    return tmp_path / "ix"


def damage(index: Path, shard: str, how: str) -> None:
    for path in (layout.current(index) / shard).iterdir():
        if path.suffix in SEGMENT_FILES:
            if how == "missing":
                path.unlink()
            else:
                path.write_bytes(b"\x07" * path.stat().st_size)


def test_a_generation_holds_a_documents_and_a_quotes_shard(built: Path) -> None:
    status = Searcher(built).status()
    assert {(s.name, s.records, s.error) for s in status.shards} == {
        ("documents", 2, None),
        ("quotes", 3, None),
    }
    assert status.records == 5 and status.broken == ()


@pytest.mark.parametrize("how", ["missing", "corrupt"])
def test_a_damaged_shard_is_reported_and_the_other_keeps_answering(built: Path, how: str) -> None:
    damage(built, "quotes", how)
    searcher = Searcher(built)
    assert sorted(ids(searcher.search("counted", type="document"))) == ["d-1", "d-2"]
    both = searcher.search("")
    assert sorted(ids(both)) == ["d-1", "d-2"]
    assert both.unavailable == ("quotes",)
    assert not both.total_is_exact
    (broken,) = searcher.status().broken
    assert broken.name == "quotes" and broken.error
    # an export is complete or refused
    with pytest.raises(ShardUnavailable, match="quotes"):
        list(searcher.every_hit(""))
    diff = compare(built, {"d-1", "d-2"}, {"q-1", "q-2", "q-3"})
    assert [shard for shard, _ in diff.broken] == ["quotes"]
    assert diff.missing == () and not diff.clean


def test_a_rebuild_mends_a_damaged_shard(built: Path) -> None:
    damage(built, "documents", "missing")
    searcher = Searcher(built)
    assert searcher.search("type:document").unavailable == ("documents",)
    Indexer(built).rebuild([D1, D2], [Q1, Q2, Q3])
    found = searcher.search("")
    assert found.unavailable == () and found.total == 5 and found.total_is_exact
    assert searcher.status().broken == ()


def common(n: int) -> dict:
    day = datetime(2026, 1, 1, tzinfo=UTC)
    return D1 | {
        "id": f"d-{n:05d}",
        "text": f"The statement number {n} on the count.",
        "published": day + timedelta(hours=n),
        "captured": day + timedelta(hours=n),
    }


def test_a_word_in_every_record_answers_with_a_total_that_says_whether_it_is_exact(
    tmp_path: Path, search_engine: str
) -> None:
    Indexer(tmp_path / "ix").update(map(common, range(3000)), [])
    searcher = Searcher(tmp_path / "ix")
    found = searcher.search("statement")
    assert len(found.hits) == 20
    if search_engine == "whoosh":  # counted from a sample, and said so
        assert not found.total_is_exact
        assert found.total == pytest.approx(3000, rel=0.1)
    else:  # tantivy counts every match
        assert found.total_is_exact and found.total == 3000
    newest = searcher.search("statement", sort="date", page_size=3)
    assert ids(newest) == ["d-02999", "d-02998", "d-02997"]


def test_the_search_page_and_its_json_say_when_a_total_is_estimated_or_a_shard_missing(
    archive_root: Path,
) -> None:
    Indexer(archive_root / "index").update(map(common, range(3000)), [Q1])
    damage(archive_root / "index", "quotes", "missing")
    client = create_app({"ARCHIVE": str(archive_root), "TESTING": True}).test_client()
    soup = BeautifulSoup(client.get(links.search_path("statement")).data, "html.parser")
    assert "quotes" in soup.select_one(".unavailable").get_text()
    assert soup.select_one(".estimate").get_text() == "about"  # a shard left out
    data = client.get(links.json_path(links.search_path("statement"))).get_json()
    assert data["unavailable"] == ["quotes"] and data["total_is_exact"] is False
    whole = client.get(links.json_path(links.search_path("statement", type="document")))
    assert whole.get_json()["unavailable"] == []
    shards = {s["name"]: s for s in client.get("/status.json").get_json()["index"]["shards"]}
    assert shards["documents"]["error"] is None and shards["documents"]["records"] == 3000
    assert shards["quotes"]["error"]  # the missing shard, with why it cannot be read
    page = BeautifulSoup(client.get("/status").data, "html.parser")
    assert "cannot be read" in page.select_one(".index-shards .shard-quotes").get_text()


def test_a_rebuild_finds_what_incremental_updates_found(built: Path, tmp_path: Path) -> None:
    rebuilt = tmp_path / "rebuilt"
    assert Indexer(rebuilt, procs=2).rebuild([D1, D2], [Q1, Q2, Q3]) == 5
    for query in ["counted", '"secure in American history"', "speaker:krebs", "kind:news", ""]:
        incremental = Searcher(built).search(query, sort="date")
        fresh = Searcher(rebuilt).search(query, sort="date")
        assert sorted(ids(fresh)) == sorted(ids(incremental)), query
        assert fresh.facets == incremental.facets, query
        assert fresh.total == incremental.total, query
