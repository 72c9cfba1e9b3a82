"""Totals and facets of big result sets, estimated from a spread sample (index.sample)."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime, timedelta

import pytest
from whoosh import query as wq

from index import sample as sampling
from index.build import Indexer
from index.search import Searcher

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def record(n: int) -> dict:
    return {
        "id": f"d-{n}",
        "url": f"https://example.gov/{n}",
        "title": None,
        "text": "security statement" + (" rare" if n % 10 == 0 else ""),
        "publisher": "Even" if n % 2 == 0 else "Odd",
        "authors": [],
        "kind": None,
        "language": "en",
        "published": DAY + timedelta(days=n % 60),
        "captured": DAY,
        "domain": "example.gov",
        "source": None,
    }


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    path = tmp_path_factory.mktemp("ix")
    Indexer(path, procs=1).update(map(record, range(2000)), [])
    return Searcher(path)


def test_small_result_sets_are_counted_exactly(searcher: Searcher) -> None:
    results = searcher.search("rare")
    assert results.total == 200 and results.total_is_exact
    assert dict(results.facets["publisher"]) == {"Even": 200}


def test_a_sample_estimates_total_and_facets(searcher: Searcher) -> None:
    whoosh_searcher = searcher._shards["documents"].engine._searcher
    found = sampling.sample(whoosh_searcher, wq.Term("body", "secur"), strata=4, per_stratum=100)
    assert not found.exact
    assert len(found.docnums) == 400
    assert found.estimate == pytest.approx(2000, rel=0.05)
    exact = sampling.sample(whoosh_searcher, wq.Term("body", "rare"), strata=4, per_stratum=100)
    assert exact.exact and exact.estimate == 200 == len(exact.docnums)
    facets = searcher._shards["documents"].engine._columns.facets(found.docnums, found.parts)
    publishers = dict(facets["publisher"])
    assert publishers["Even"] == pytest.approx(1000, rel=0.1)
    assert publishers["Odd"] == pytest.approx(1000, rel=0.1)


def test_totals_within_the_sample_are_exact(searcher: Searcher) -> None:
    assert searcher.search("security").total_is_exact  # 2,000 fit in the default sample
    assert searcher.search("security", sort="date").total == 2000


@pytest.mark.parametrize("strata,per_stratum", [(4, 100), (16, 128), (7, 3), (3, 1000)])
@pytest.mark.parametrize("word", ["secur", "rare"])
def test_a_sample_of_listed_matches_is_the_sample_read(
    searcher: Searcher, strata: int, per_stratum: int, word: str
) -> None:
    whoosh_searcher = searcher._shards["documents"].engine._searcher
    query = wq.Term("body", word)
    read = sampling.sample(whoosh_searcher, query, strata=strata, per_stratum=per_stratum)
    listed = sampling.sample_listed(
        array("i", sorted(whoosh_searcher.docs_for_query(query))),
        whoosh_searcher.doc_count_all(),
        strata=strata,
        per_stratum=per_stratum,
    )
    assert listed == read
