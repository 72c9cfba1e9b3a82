"""The index: building, updating, deleting, rebuilding, and searching what was built."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from whoosh import index as whoosh_index

from index import layout, segments
from index import search as search_module
from index.build import DuplicateRecord, Indexer
from index.query import parse
from index.search import Searcher
from index.textmatch import TextMatch

pytestmark = pytest.mark.usefixtures("search_engine")

NOV = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)


def document(doc_id: str, text: str, **meta: object) -> dict:
    record = {
        "id": doc_id,
        "url": f"https://{meta.get('domain', 'www.example.gov')}/{doc_id}",
        "title": f"Title of {doc_id}",
        "text": text,
        "publisher": "Example Agency",
        "authors": ["Jane Roe"],
        "kind": "statement",
        "language": "en",
        "published": NOV,
        "captured": NOV,
        "domain": "www.example.gov",
        "source": "example",
    }
    record.update(meta)
    return record


def quote(quote_id: str, doc: dict, text: str, **meta: object) -> dict:
    record = {
        "id": quote_id,
        "document_id": doc["id"],
        "text": text,
        "speaker": "Chris Krebs",
        "speaker_mention": "Krebs",
        "speaker_id": "s-krebs",
        "role": "director",
        "anonymous": False,
        "cue": "said",
        "via": None,
    }
    for key in ("publisher", "kind", "language", "published", "captured", "domain", "url"):
        record[key] = doc[key]
    record["title"] = doc["title"]
    record.update(meta)
    return record


D1 = document(
    "d-1",
    "The election was the most secure in American history, the agency said on Thursday. "
    "Officials counted every ballot twice.",
)
D2 = document(
    "d-2",
    "Ballots were counted by hand in several counties, and the count confirmed the result.",
    title="Hand count confirms result",
    publisher="Washington Post",
    kind="news",
    published=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    captured=datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
    domain="www.washingtonpost.com",
)
Q1 = quote("q-1", D1, "The election was the most secure in American history.")
Q2 = quote(
    "q-2",
    D2,
    "We found no evidence of fraud <script>alert(1)</script> anywhere.",
    speaker="María Pérez",
    role="county clerk",
)
Q3 = quote(
    "q-3",
    D2,
    "A senior official said the counting was slow.",
    speaker="a senior official",
    role=None,
    anonymous=True,
    via="Politico",
)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    Indexer(tmp_path / "ix").update([D1, D2], [Q1, Q2, Q3])
    return tmp_path / "ix"


def ids(results) -> list[str]:
    return [hit.id for hit in results.hits]


def test_update_indexes_documents_and_quotes(built: Path) -> None:
    searcher = Searcher(built)
    assert sorted(ids(searcher.search("counted"))) == ["d-1", "d-2", "q-3"]  # "counting"
    assert sorted(ids(searcher.search("ballot"))) == ["d-1", "d-2"]
    assert ids(searcher.search("secure", type="quote")) == ["q-1"]
    assert searcher.search("secure").total == 2


def test_update_replaces_by_id_without_duplicates(built: Path) -> None:
    changed = dict(Q1, text="The election was secure and fair.")
    Indexer(built).update([], [changed])
    searcher = Searcher(built)
    assert ids(searcher.search("fair")) == ["q-1"]
    assert searcher.search("history", type="quote").total == 0
    assert searcher.search("type:quote").total == 3


def test_updating_a_document_drops_quotes_it_no_longer_has(built: Path) -> None:
    Indexer(built).update([D2], [Q2])
    searcher = Searcher(built)
    assert sorted(ids(searcher.search("type:quote"))) == ["q-1", "q-2"]
    assert searcher.search("type:document").total == 2


def test_a_record_twice_in_one_batch_is_refused(built: Path) -> None:
    with pytest.raises(DuplicateRecord):
        Indexer(built).update([], [Q1, Q1])
    assert Searcher(built).search("type:quote").total == 3


def test_delete_document_removes_its_quotes(built: Path) -> None:
    Indexer(built).delete_document("d-2")
    searcher = Searcher(built)
    assert ids(searcher.search("type:quote")) == ["q-1"]
    assert ids(searcher.search("type:document")) == ["d-1"]


def test_searcher_sees_updates_after_refresh(built: Path) -> None:
    searcher = Searcher(built)
    assert searcher.search("recount").total == 0
    Indexer(built).update([document("d-3", "A recount was ordered.")], [])
    searcher.refresh()
    assert ids(searcher.search("recount")) == ["d-3"]


def test_searcher_before_any_index_finds_nothing(tmp_path: Path) -> None:
    searcher = Searcher(tmp_path / "none")
    results = searcher.search("election")
    assert results.total == 0
    assert results.hits == ()


@pytest.mark.engine("whoosh")
@pytest.mark.parametrize("procs", [1, 2])
def test_rebuild_gives_the_same_results_as_incremental_updates(
    built: Path, tmp_path: Path, procs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segments, "_JOB_RECORDS", 2)  # deal these few records to both
    rebuilt = tmp_path / "rebuilt"
    progress: list[int] = []
    count = Indexer(rebuilt, procs=procs).rebuild([D1, D2], [Q1, Q2, Q3], progress.append)
    assert count == 5
    assert progress == [5]
    quotes = layout.current(rebuilt) / "quotes"
    leaves = whoosh_index.open_dir(str(quotes)).reader().leaf_readers()
    # with two writers, each writes a segment of the records dealt to it
    assert len(leaves) == procs
    queries = ["counted", '"secure in American history"', "speaker:krebs", "kind:news", ""]
    first = {}
    for query in queries:
        incremental = Searcher(built).search(query, sort="date")
        fresh = first[query] = Searcher(rebuilt).search(query, sort="date")
        # records of one date may come in another order: their numbers in the index differ
        assert sorted(ids(fresh)) == sorted(ids(incremental)), query
        assert fresh.facets == incremental.facets, query
    shutil.rmtree(rebuilt)
    Indexer(rebuilt, procs=procs).rebuild([D1, D2], [Q1, Q2, Q3])
    for query in queries:  # a rebuild of the same records is the same index
        again = Searcher(rebuilt).search(query, sort="date")
        assert (ids(again), again.facets) == (ids(first[query]), first[query].facets), query


def test_rebuild_replaces_the_live_index(built: Path) -> None:
    searcher = Searcher(built)
    Indexer(built).rebuild([document("d-9", "Only this one now.")], [])
    searcher.refresh()
    assert ids(searcher.search("")) == ["d-9"]


class Interrupted(RuntimeError):
    pass


def failing_records() -> object:
    yield document("d-7", "A half-built index must never be seen.")
    raise Interrupted("catalog went away")


def test_a_failed_rebuild_leaves_the_old_index_searchable(built: Path) -> None:
    with pytest.raises(Interrupted):
        Indexer(built).rebuild(failing_records(), [])
    searcher = Searcher(built)
    assert searcher.search("half-built").total == 0
    assert searcher.search("type:document").total == 2
    assert [p.name for p in built.glob("gen-*")] == ["gen-000001"]


def test_a_rebuild_whose_writer_fails_leaves_the_old_index_searchable(built: Path) -> None:
    broken = document("d-8", "A title that is not text.") | {"title": 8}
    with pytest.raises(ValueError, match="is not unicode"):
        Indexer(built, procs=2).rebuild([D1, broken], [])
    assert Searcher(built).search("type:document").total == 2
    assert [p.name for p in built.glob("gen-*")] == ["gen-000001"]


def test_a_rebuild_whose_writer_fails_early_lets_its_process_exit(tmp_path: Path) -> None:
    # the records queued for the failed writer must not keep the process from exiting
    script = (
        "import sys\n"
        "from index.build import Indexer\n"
        "from tests.test_index import document\n"
        "text = 'Ballots were counted again. ' * 40\n"
        "docs = [document(f'd-{n}', text) for n in range(3000)]\n"
        "docs[10] = docs[10] | {'title': 10}\n"
        "Indexer(sys.argv[1], procs=2).rebuild(docs, [])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "ix")],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[1],
        check=False,
    )
    assert done.returncode == 1
    assert "is not unicode" in done.stderr


def test_phrase_matches_exact_words_only(built: Path) -> None:
    searcher = Searcher(built)
    assert ids(searcher.search('"counted by hand"')) == ["d-2"]
    # the stems of "count was slow" are in q-3 ("counting was slow"), the words are not
    assert searcher.search('"count was slow"').total == 0
    assert ids(searcher.search('"count was slow"')) == []  # refuted candidates never show
    assert ids(searcher.search('"counting was slow"')) == ["q-3"]
    assert ids(searcher.search('"secure in American history"', type="quote")) == ["q-1"]


def test_a_phrase_without_words_neither_hangs_nor_refutes(built: Path) -> None:
    # '"-"' has no words for the word-for-word check to find; that check once looked for
    # an empty match forever past a text ending in a letter, holding a server thread
    answers: dict[str, bool] = {}

    def check() -> None:
        for query in ('"ballot count" "-"', '"ballot count" OR "-"', '"-" "hand count"'):
            answers[query] = TextMatch(parse(query)).accepts(["The ballot count"])
        answers["search"] = ids(Searcher(built).search('"counted by hand" "-"')) == ["d-2"]

    thread = threading.Thread(target=check, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the check did not finish"
    assert answers == {
        '"ballot count" "-"': True,
        '"ballot count" OR "-"': True,
        '"-" "hand count"': False,
        "search": True,
    }


def test_document_phrases_are_checked_against_the_body(built: Path) -> None:
    bodies = {"d-1": D1["text"], "d-2": D2["text"]}
    searcher = Searcher(built, text_loader=bodies.get)
    # stop words are not indexed: "hand in several" is a candidate for "hand by several"
    assert searcher.search('"counted by hand in several"').total == 1
    assert searcher.search('"counted by hand by several"').total == 0
    assert searcher.search('"count every ballot"').total == 0
    assert ids(searcher.search('"counted every ballot"')) == ["d-1"]


def test_typographic_variants_match(tmp_path: Path) -> None:
    doc = document("d-5", "Pérez said: “We don’t know — yet.”", title="Café talk")
    Indexer(tmp_path / "ix").update([doc], [])
    searcher = Searcher(tmp_path / "ix")
    for query in [
        "perez",
        "Pérez",
        "PEREZ",
        "don't",
        "don’t",
        '"we don\'t know"',
        "“we don’t know”",
    ]:
        assert ids(searcher.search(query)) == ["d-5"], query
    assert ids(searcher.search("cafe")) == ["d-5"]


def test_field_filters(built: Path) -> None:
    searcher = Searcher(built)
    assert sorted(ids(searcher.search("speaker:krebs"))) == ["q-1"]
    assert ids(searcher.search('speaker:"maria perez"')) == ["q-2"]
    assert sorted(ids(searcher.search('publisher:"Washington Post"'))) == ["d-2", "q-2", "q-3"]
    assert sorted(ids(searcher.search("kind:statement"))) == ["d-1", "q-1"]
    assert ids(searcher.search("via:politico")) == ["q-3"]
    assert ids(searcher.search("role:clerk")) == ["q-2"]
    assert ids(searcher.search("anonymous:yes")) == ["q-3"]
    assert sorted(ids(searcher.search("domain:washingtonpost.com type:document"))) == ["d-2"]
    assert searcher.search("lang:en").total == 5
    assert searcher.search("lang:fr").total == 0
    assert sorted(ids(searcher.search("author:roe counted"))) == ["d-1", "d-2"]


def test_boolean_operators(built: Path) -> None:
    searcher = Searcher(built)
    assert sorted(ids(searcher.search("fraud OR slow"))) == ["q-2", "q-3"]
    assert ids(searcher.search("ballot -hand")) == ["d-1"]
    assert ids(searcher.search("ballot AND NOT hand")) == ["d-1"]
    assert sorted(ids(searcher.search("(fraud OR slow) type:quote -anonymous:yes"))) == ["q-2"]


def test_date_filters(built: Path) -> None:
    searcher = Searcher(built)
    assert sorted(ids(searcher.search("published:2026-12"))) == ["d-2", "q-2", "q-3"]
    assert sorted(ids(searcher.search("published:2026-11-01..2026-11-30"))) == ["d-1", "q-1"]
    assert sorted(ids(searcher.search("captured:>=2026-12-02 type:document"))) == ["d-2"]
    assert searcher.search("captured:>2026-12-02").total == 0
    assert sorted(ids(searcher.search("before:2026-12 type:document"))) == ["d-1"]
    assert sorted(ids(searcher.search("after:2026-12-01 type:document"))) == ["d-2"]


def test_facets_count_all_results(built: Path) -> None:
    facets = Searcher(built).search("", page_size=1).facets
    assert dict(facets["kind"]) == {"statement": 2, "news": 3}
    assert dict(facets["publisher"]) == {"Example Agency": 2, "Washington Post": 3}
    assert dict(facets["speaker"]) == {"Chris Krebs": 1, "María Pérez": 1, "a senior official": 1}
    assert facets["month"] == [("2026-12", 3), ("2026-11", 2)]


def test_sort_and_pagination(built: Path) -> None:
    searcher = Searcher(built)
    newest = searcher.search("", sort="date", page_size=2)
    assert newest.total == 5
    assert [hit.published for hit in newest.hits] == [D2["published"]] * 2
    oldest = ids(searcher.search("", sort="date_asc", page_size=5))
    assert oldest[-1] in {"d-2", "q-2", "q-3"} and oldest[0] in {"d-1", "q-1"}
    pages = [ids(searcher.search("", sort="date", page=p, page_size=2)) for p in (1, 2, 3)]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(i for p in pages for i in p) == ["d-1", "d-2", "q-1", "q-2", "q-3"]
    assert searcher.search("", page=4, page_size=2).hits == ()


def test_pages_of_any_size_divide_tied_results_between_them(tmp_path: Path) -> None:
    # The quotes of a document share its date, and quotes of the same words score the
    # same: ties the engines rank by their own record numbers (here not the order of the
    # ids, which the pages go by), straddling the end of page after page.
    said = "The zoning plan needs another hearing."
    docs = [
        document(f"d-{n}", said, published=datetime(2026, 11, 5 + n, tzinfo=UTC)) for n in (0, 1)
    ]
    quotes = [quote(f"q-{n * 37 % 90:02d}", docs[n % 2], said) for n in range(90)]
    for doc in docs:
        Indexer(tmp_path / "ix").update([doc], [q for q in quotes if q["document_id"] == doc["id"]])
    searcher = Searcher(tmp_path / "ix", text_loader={d["id"]: said for d in docs}.get)
    for query in ("zoning", '"another hearing"'):
        for sort in ("relevance", "date", "date_asc"):
            whole = ids(searcher.search(query, sort=sort, page_size=200, facets=False))
            assert sorted(whole) == sorted(d["id"] for d in docs + quotes)
            for size in (7, 20, 45):
                pages = [
                    ids(searcher.search(query, sort=sort, page=page, page_size=size, facets=False))
                    for page in range(1, len(whole) // size + 2)
                ]
                assert [i for page in pages for i in page] == whole, (query, sort, size)


def test_a_tied_group_too_big_to_order_leaves_the_engines_order(tmp_path, monkeypatch) -> None:
    said = "The zoning plan needs another hearing."
    doc = document("d-0", said)
    quotes = [quote(f"q-{n * 37 % 90:02d}", doc, said) for n in range(90)]
    Indexer(tmp_path / "ix").update([doc], quotes)
    monkeypatch.setattr(search_module, "MAX_TIED", 10)  # the 90 tied quotes are too many
    searcher = Searcher(tmp_path / "ix", text_loader={"d-0": said}.get)
    for sort in ("relevance", "date"):
        found = searcher.search("zoning", type="quote", sort=sort, page=2, page_size=20)
        assert found.total == 90 and len(found.hits) == 20


def test_relevance_ranks_the_better_match_first(built: Path) -> None:
    hits = Searcher(built).search("counted", type="document").hits
    assert [hit.id for hit in hits] == ["d-2", "d-1"]  # d-2 has it in its title too
    assert hits[0].score >= hits[-1].score > 0


def test_snippets_escape_html_and_mark_matches(built: Path) -> None:
    hit = Searcher(built).search("fraud").hits[0]
    assert "<script>" not in hit.snippet
    assert "&lt;script&gt;" in hit.snippet
    soup = BeautifulSoup(hit.snippet, "html.parser")
    assert [m.get_text() for m in soup.find_all("mark")] == ["fraud"]
    assert soup.find("script") is None
    assert hit.text == Q2["text"]


def test_document_snippets_come_from_the_loaded_body(built: Path) -> None:
    long_body = "Filler words here. " * 60 + "The ballots were recounted twice. " + "More. " * 60
    Indexer(built).update([document("d-4", long_body, title="Long")], [])
    searcher = Searcher(built, text_loader={"d-4": long_body}.get)
    hit = searcher.search("recounted").hits[0]
    marks = BeautifulSoup(hit.snippet, "html.parser").find_all("mark")
    assert [m.get_text() for m in marks] == ["recounted"]
    assert hit.snippet.startswith("… ") and len(hit.snippet) < 300


def test_highlight_off_gives_escaped_text(built: Path) -> None:
    hit = Searcher(built).search("fraud", highlight=False).hits[0]
    assert "<mark>" not in hit.snippet and "&lt;script&gt;" in hit.snippet


def test_hits_carry_their_metadata(built: Path) -> None:
    hit = Searcher(built).search("slow").hits[0]
    assert hit.type == "quote" and hit.document_id == "d-2"
    assert hit.anonymous and hit.via == "Politico" and hit.role is None
    assert hit.published == D2["published"] and hit.captured == D2["captured"]
    assert hit.url == D2["url"] and hit.title == "Hand count confirms result"


def test_apostrophes_inside_words_and_possessives(tmp_path: Path) -> None:
    doc = document("d-6", "O’Brien said the country’s people don't know.", title="Talk")
    said = quote("q-6", doc, "The country's people don’t know.", speaker="Dana O'Brien")
    Indexer(tmp_path / "ix").update([doc], [said])
    searcher = Searcher(tmp_path / "ix", text_loader={"d-6": doc["text"]}.get)
    assert sorted(ids(searcher.search("o'brien"))) == ["d-6", "q-6"]
    assert ids(searcher.search('speaker:"dana o’brien"')) == ["q-6"]
    for phrase in ['"the country people"', '"the country’s people"', '"people don\'t know"']:
        assert sorted(ids(searcher.search(phrase))) == ["d-6", "q-6"], phrase
    assert searcher.search('"people do not know"').total == 0


def test_phrases_of_common_words_are_checked_word_for_word(tmp_path: Path) -> None:
    docs = [
        document("d-1", "They count on it, and expect to win."),
        document("d-2", "They counted on it, and expected to win."),
        document("d-3", "They expect and to win."),
    ]
    Indexer(tmp_path / "ix").update(docs, [])
    searcher = Searcher(tmp_path / "ix", text_loader={d["id"]: d["text"] for d in docs}.get)
    found = searcher.search('"and expect to"')
    assert ids(found) == ["d-1"] and found.total == 1 and found.total_is_exact


def test_many_phrase_candidates_fill_the_page_and_exports_get_them_all(tmp_path: Path) -> None:
    # "counting by hands" is a candidate for "counted by hand" (the same stems), refused
    # when checked word for word
    docs = [document(f"d-{n:02d}", "Ballots were counted by hand.") for n in range(50)]
    docs += [document(f"d-{n:02d}", "Ballots were counting by hands.") for n in range(50, 60)]
    Indexer(tmp_path / "ix").update(docs, [])
    searcher = Searcher(tmp_path / "ix", text_loader={d["id"]: d["text"] for d in docs}.get)
    found = searcher.search('"counted by hand"', page_size=20)
    assert len(found.hits) == 20 and all(int(hit.id[2:]) < 50 for hit in found.hits)
    assert found.total == 50 or (not found.total_is_exact and 50 <= found.total <= 60)
    exported = [hit.id for hit in searcher.every_hit('"counted by hand"')]
    assert sorted(exported) == [f"d-{n:02d}" for n in range(50)]


@pytest.mark.engine("tantivy")
def test_tantivy_checks_only_as_many_phrase_candidates_as_a_page_needs(tmp_path: Path) -> None:
    docs = [document(f"d-{n:02d}", "Ballots were counted by hand.") for n in range(50)]
    docs += [document(f"d-{n:02d}", "Ballots were counting by hands.") for n in range(50, 60)]
    Indexer(tmp_path / "ix").update(docs, [])
    bodies = {d["id"]: d["text"] for d in docs}
    loaded: list[str] = []

    def load(document_id: str) -> str:
        loaded.append(document_id)
        return bodies[document_id]

    found = Searcher(tmp_path / "ix", text_loader=load).search('"counted by hand"', page_size=5)
    assert len(found.hits) == 5 and not found.total_is_exact and 50 <= found.total <= 60
    assert len(set(loaded)) < 30  # not all 60 candidates; each body loaded once per search
    assert len(loaded) == len(set(loaded))


BODIES = {D1["id"]: D1["text"], D2["id"]: D2["text"]}


@pytest.mark.parametrize(
    "query",
    [
        '"every ballot" -kind:blog',
        '"every ballot" -speaker:nobody',
        '"every ballot" NOT anonymous:yes',
        '"every ballot" -publisher:"no such paper"',
        '"every ballot" -published:1999',
        '"every ballot" -domain:nowhere.example',
        '"every ballot" -type:quote',
        '"every ballot" (kind:blog OR NOT kind:news)',
    ],
)
def test_a_phrase_with_a_negated_filter_that_excludes_nothing(built: Path, query: str) -> None:
    # the filter is the index's to settle, the phrase the text's ("every ballot" is in d-1's
    # body, checked word for word)
    assert ids(Searcher(built, text_loader=BODIES.get).search(query)) == ["d-1"]


@pytest.mark.parametrize(
    "query",
    [
        '"counted by hand" -type:document',
        '"counted by hand" -after:2026-11-01',
        '"counted by hand" -publisher:"Washington Post"',
        '"every ballot" -kind:statement',
    ],
)
def test_a_phrase_with_a_negated_filter_that_excludes_it(built: Path, query: str) -> None:
    assert ids(Searcher(built, text_loader=BODIES.get).search(query, type="document")) == []


def test_filters_are_left_to_the_index_when_phrases_are_checked() -> None:
    text = ["Officials counted every ballot twice."]
    assert TextMatch(parse('"every ballot" -kind:blog')).accepts(text)
    assert TextMatch(parse('"every ballot" NOT (speaker:x OR published:2020)')).accepts(text)
    assert not TextMatch(parse('"every vote" -kind:blog')).accepts(text)
    assert not TextMatch(parse('-"every ballot" -kind:blog')).accepts(text)
