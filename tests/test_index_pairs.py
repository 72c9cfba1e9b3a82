"""Quote phrases found through word pairs: same matches and scores as through positions."""

from __future__ import annotations

from pathlib import Path

from whoosh import index as whoosh_index

from index import layout
from index.build import Indexer
from index.compile import compile_query
from index.query import parse
from index.schema import WORDS, build_schema
from index.search import Searcher
from tests.test_index import D1, D2, Q1, Q2, Q3, ids, quote

Q4 = quote("q-4", D1, "In this country we count what the country's people cast.")
Q5 = quote("q-5", D1, "This country, in our view, counts every vote.")


def test_quote_phrases_match_their_exact_words(tmp_path: Path) -> None:
    Indexer(tmp_path / "ix").update([D1, D2], [Q1, Q2, Q3, Q4, Q5])
    searcher = Searcher(tmp_path / "ix")
    # stop words take part in the pairs, so a phrase of mostly stop words is selective
    assert ids(searcher.search('"in this country"', type="quote")) == ["q-4"]
    assert ids(searcher.search('"country in"', type="quote")) == ["q-5"]
    assert ids(searcher.search('"the country’s people"', type="quote")) == ["q-4"]
    assert ids(searcher.search('"counting was slow"', type="quote")) == ["q-3"]
    assert searcher.search('"count was slow"', type="quote").total == 0
    found = searcher.search('"this country" speaker:"Chris Krebs"', type="quote")
    assert sorted(ids(found)) == ["q-4", "q-5"]


def test_pairs_score_as_positions_do(tmp_path: Path) -> None:
    Indexer(tmp_path / "ix").update([D1, D2], [Q1, Q2, Q3, Q4, Q5])
    quotes = layout.current(tmp_path / "ix") / "quotes"
    searcher = whoosh_index.open_dir(str(quotes)).searcher()
    node = parse('"this country"')
    scores = []
    for pairs in (False, True):
        hits = searcher.search(compile_query(node, ["quote"], pairs=pairs), limit=None)
        scores.append([(hit.docnum, round(hit.score, 9)) for hit in hits])
    assert scores[0] == scores[1]
    assert len(scores[0]) == 2


def test_an_index_without_pairs_keeps_working(tmp_path: Path) -> None:
    root = tmp_path / "ix"
    root.mkdir()
    generation = layout.new_generation(root)
    schema = build_schema()  # as it was before pairs: quote texts kept their positions
    schema.remove("text_pairs")
    schema.remove("text")
    schema.add("text", WORDS(stored=True))
    whoosh_index.create_in(str(generation), schema)
    layout.publish(root, generation)
    Indexer(root).update([D1, D2], [Q1, Q2, Q3, Q4])
    searcher = Searcher(root)
    assert ids(searcher.search('"in this country"', type="quote")) == ["q-4"]
    assert ids(searcher.search('"counting was slow"')) == ["q-3"]


def test_one_scoring_pass_ranks_as_whoosh_does(tmp_path: Path) -> None:
    Indexer(tmp_path / "ix").update([D1, D2], [Q1, Q2, Q3, Q4, Q5])
    searcher = Searcher(tmp_path / "ix")
    whoosh_searcher = searcher._shards["quotes"].engine._searcher
    for text in ('"this country"', '"country in"', '"this country" speaker:"Chris Krebs"'):
        compiled = compile_query(parse(text), ["quote", "document"], pairs=True)
        expected = [(hit.docnum, hit.score) for hit in whoosh_searcher.search(compiled, limit=None)]
        scored = searcher._shards["quotes"].engine._score_all(compiled)
        assert sorted(scored) == sorted(expected)
        ranked = sorted(scored, key=lambda pair: (-pair[1], pair[0]))
        assert ranked == expected
