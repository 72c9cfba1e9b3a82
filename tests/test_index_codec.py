"""Our segment codec reads back exactly what Whoosh's own codec reads back."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import ID, KEYWORD, NUMERIC, TEXT, Schema

from index.codec import Codec

WORDS = [f"w{n}" for n in range(40)]


def records(count: int) -> list[dict]:
    rng = random.Random(11)
    found = []
    for n in range(count):
        text = " ".join(
            rng.choice(WORDS[: rng.randrange(2, 40)]) for _ in range(rng.randrange(1, 60))
        )
        found.append({"id": f"r{n}", "text": text, "tags": " ".join(rng.sample(WORDS, 3)), "n": n})
    return found


def build(path: Path, codec: object) -> object:
    path.mkdir()
    schema = Schema(
        id=ID(stored=True),
        text=TEXT(phrase=True),  # positions and lengths
        tags=KEYWORD(scorable=True),  # frequencies
        title=TEXT(field_boost=2.0),  # weights other than 1.0
        n=NUMERIC(),
    )
    ix = whoosh_index.create_in(str(path), schema)
    writer = ix.writer(codec=codec)
    for record in records(700):  # several blocks of 128 postings per common word
        writer.add_document(**record, title=record["text"][:12])
    writer.commit()
    return ix.searcher()


@pytest.fixture(scope="module")
def searchers(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    root = tmp_path_factory.mktemp("codec")
    return build(root / "whoosh", W3Codec()), build(root / "ours", Codec())


def postings(searcher: object, field: str, word: bytes) -> list[tuple]:
    matcher = searcher.reader().postings(field, word)
    found = []
    while matcher.is_active():
        found.append((matcher.id(), matcher.weight(), matcher.value()))
        matcher.next()
    return found


@pytest.mark.parametrize("field", ["id", "text", "tags", "title", "n"])
def test_every_posting_reads_back_the_same(searchers, field: str) -> None:
    theirs, ours = searchers
    terms = list(theirs.reader().lexicon(field))
    assert terms == list(ours.reader().lexicon(field))
    for word in terms[:60]:
        assert postings(ours, field, word) == postings(theirs, field, word), word


def test_skipping_lands_where_whoosh_lands(searchers) -> None:
    theirs, ours = searchers
    rng = random.Random(5)
    for word in [b"w0", b"w1", b"w7", b"w30"]:
        a, b = theirs.reader().postings("text", word), ours.reader().postings("text", word)
        target = 0
        while a.is_active():
            target += rng.randrange(1, 90)
            a.skip_to(target)
            b.skip_to(target)
            assert a.is_active() == b.is_active()
            if a.is_active():
                assert (a.id(), a.value_as("positions")) == (b.id(), b.value_as("positions"))


def test_searches_score_the_same(searchers) -> None:
    from whoosh.qparser import QueryParser

    theirs, ours = searchers
    for text in ["w1", "w2 w3", '"w1 w2"', "tags:w5", "w1 OR title:w4"]:
        query = QueryParser("text", theirs.schema).parse(text)
        expected = [(hit.docnum, hit.score) for hit in theirs.search(query, limit=None)]
        assert [(hit.docnum, hit.score) for hit in ours.search(query, limit=None)] == expected


def test_stored_fields_read_back_the_same(searchers) -> None:
    theirs, ours = searchers
    count = theirs.doc_count_all()
    assert [ours.stored_fields(n) for n in range(count)] == [
        theirs.stored_fields(n) for n in range(count)
    ]
    assert ours.stored_fields(5) == {"id": "r5"}


def test_an_index_written_by_whoosh_s_codec_keeps_working(tmp_path: Path) -> None:
    # indexes of earlier releases: every segment Whoosh's own; updates add ours beside them
    from index import layout
    from index.build import Indexer, document_fields, quote_fields
    from index.schema import build_schema
    from index.search import Searcher
    from tests.test_index import D1, D2, Q1, Q2, ids

    root = tmp_path / "ix"
    generation = layout.new_generation(root)
    ix = whoosh_index.create_in(str(generation), build_schema())
    writer = ix.writer(codec=W3Codec())
    for fields in [document_fields(D1), quote_fields(Q1)]:
        writer.add_document(**fields)
    writer.commit()
    layout.publish(root, generation)
    Indexer(root).update([D2], [Q2])
    codecs = {type(leaf.segment().codec()).__name__ for leaf, _ in ix.reader().leaf_readers()}
    assert codecs == {"W3Codec", "Codec"}
    searcher = Searcher(root)
    assert sorted(ids(searcher.search("type:document"))) == ["d-1", "d-2"]
    assert ids(searcher.search('"secure in American history"', type="quote")) == ["q-1"]
    assert searcher.search(Q2["text"][:30].rsplit(" ", 1)[0], type="quote").total >= 1
