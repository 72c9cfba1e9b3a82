"""Speakers are entities: one person across documents, anonymous sources never merged."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import replace

import pytest

from archive import ids
from archive.catalog import Catalog
from archive.migrate import migrate_archive
from archive.models import Speaker
from archive.store import Paths, Store
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline, Readers
from scrapers.quotes import find_quotes
from tests.catalogs import ENGINES, postgres_database
from tests.conftest import copy_site
from web import create_app, links

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
</head><body><article><h1>{title}</h1>
<p>The state canvassing board met on {day} to review the county returns, a routine step that
drew more attention than usual after a week of disputes over late-arriving ballots.</p>
<p>“{words},” said Priya Raman, {role}.</p>
<p>“We were told to expect delays,” said a senior official who asked not to be named
because the review was still under way.</p>
<p>Results are expected to be certified by the end of the month, the board said.</p>
</article></body></html>"""


def test_one_person_across_documents_and_unnamed_sources_kept_apart(archive_root, server):
    pages = {
        "/monday": PAGE.format(
            title="Board reviews returns",
            day="Monday",
            words="The returns are complete and consistent",
            role="the deputy secretary of state",
        ),
        "/friday": PAGE.format(
            title="Board certifies returns",
            day="Friday",
            words="Certification is now a formality",
            role="the secretary of state",
        ),
    }
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        pipeline = Pipeline(store, http)
        for path, body in pages.items():
            server.route(path, status=200, body=body, headers={"Content-Type": "text/html"})
            pipeline.capture(server.url(path))
        quotes = list(store.catalog.current_quotes())
        named = {q.speaker_id for q in quotes if q.speaker == "Priya Raman"}
        unnamed = {q.speaker_id for q in quotes if q.anonymous}
        assert len(named) == 1
        assert len(unnamed) == 2  # one per document: never merged
        speaker = store.catalog.speaker(named.pop())
        assert speaker.roles == ("the deputy secretary of state", "the secretary of state")
        for speaker_id in unnamed:
            found = store.catalog.speaker(speaker_id)
            assert found.anonymous and found.document_id is not None


ARTICLE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
</head><body><article><h1>{title}</h1>
<p>The harbour authority reopened the north quay on {day}, after a winter of repairs that
closed it to cargo ships and left the fishing fleet moored two miles down the coast.</p>
<p>“{words},” said {who}.</p>
<p>Ferries are expected back on the usual timetable by the end of the month.</p>
</article></body></html>"""

_SPLIT = {  # one person, written three ways
    "/quay": ("Quay reopens", "Monday", "The repairs are done", "Port Director Mina Okafor"),
    "/ferries": ("Ferries return", "Friday", "We kept our promise", "Mina Okafor"),
    "/fleet": ("Fleet comes home", "Sunday", "The boats can come home", "the Port’s Mina Okafor"),
}


def _capture_all(store, http, server, pages, readers=None):
    pipeline = Pipeline(store, http, readers=readers) if readers else Pipeline(store, http)
    for path, (title, day, words, who) in pages.items():
        body = ARTICLE.format(title=title, day=day, words=words, who=who)
        server.route(path, status=200, body=body, headers={"Content-Type": "text/html"})
        pipeline.capture(server.url(path))
    return pipeline


def test_speaker_pages_merge_one_person_whatever_the_title_before_the_name(archive_root, server):
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        _capture_all(store, http, server, _SPLIT)
        quotes = list(store.catalog.current_quotes())
        assert {q.speaker for q in quotes} == {"Mina Okafor"}
        (speaker_id,) = {q.speaker_id for q in quotes}
        assert {q.role for q in quotes} == {"Port Director", "Port", None}
    client = create_app({"ARCHIVE": str(archive_root), "TESTING": True}).test_client()
    page = client.get(links.speaker_path(speaker_id)).get_data(as_text=True)
    for _, _, words, _ in _SPLIT.values():
        assert words in page
    assert "Port Director" in page


def _older_release(text: str, publisher: str | None = None):
    """Quotes as an earlier release gave them: the title left inside the speaker's name."""
    return [
        replace(q, speaker=q.speaker_mention) if q.speaker_mention else q
        for q in find_quotes(text, publisher)
    ]


def test_speaker_ids_of_an_earlier_release_keep_resolving(archive_root, server):
    pages = {"/quay": _SPLIT["/quay"]}
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        older = Readers(find_quotes=_older_release, release="onrecord-test/1")
        _capture_all(store, http, server, pages, readers=older)
        (old,) = store.catalog.current_quotes()
        assert old.speaker == "Port Director Mina Okafor"
        [document_id] = {old.document_id}
        assert Pipeline(store, None).reextract(document_id).changed_documents
        (new,) = store.catalog.current_quotes()
        assert new.speaker == "Mina Okafor" and new.speaker_id != old.speaker_id
        assert store.catalog.resolve_speaker_id(old.speaker_id) == new.speaker_id
        assert store.catalog.resolve_speaker_id(new.speaker_id) == new.speaker_id
        assert store.catalog.current_speaker_id("s-0000000000000000") is None
    client = create_app({"ARCHIVE": str(archive_root), "TESTING": True}).test_client()
    response = client.get(links.speaker_path(old.speaker_id))
    assert response.status_code == 301
    assert response.headers["Location"].endswith(links.speaker_path(new.speaker_id))
    response = client.get(links.json_path(links.speaker_path(old.speaker_id)))
    assert response.headers["Location"].endswith(
        links.json_path(links.speaker_path(new.speaker_id))
    )
    assert client.get(links.speaker_path(new.speaker_id)).status_code == 200


UNCERTAIN = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Quay reopens</title></head><body><article><h1>Quay reopens</h1>
<p>The harbour authority reopened the north quay on Monday after a winter of repairs.</p>
<p>Tomas Berglund, who runs the ferry company, watched from the pier with Mina Okafor.</p>
<p>Some in town thought the repairs “a small miracle for the whole town, and we owe the
crews for it,” and the band played.</p>
<p>“The repairs are done,” said Mina Okafor, the port director.</p>
</article></body></html>"""


def test_pages_mark_low_confidence_attributions(archive_root, server):
    server.route("/u", status=200, body=UNCERTAIN, headers={"Content-Type": "text/html"})
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        Pipeline(store, http).capture(server.url("/u"))
        quotes = {q.speaker: q for q in store.catalog.current_quotes()}
    guessed, said = quotes["Some in town"], quotes["Mina Okafor"]
    assert guessed.confidence < 0.8 <= said.confidence
    client = create_app({"ARCHIVE": str(archive_root), "TESTING": True}).test_client()
    low = client.get(links.quote_path(guessed.id)).get_data(as_text=True)
    high = client.get(links.quote_path(said.id)).get_data(as_text=True)
    assert "speaker uncertain" in low and "speaker uncertain" not in high
    assert client.get(links.json_path(links.quote_path(guessed.id))).json["attribution"][
        "uncertain"
    ]
    speaker = client.get(links.speaker_path(guessed.speaker_id)).get_data(as_text=True)
    assert "attribution uncertain" in speaker


_TWO_VOICES = ARTICLE.format(
    title="Harbour vote",
    day="Tuesday",
    words="The north quay stays open all winter",
    who="Mina Okafor",
).replace(
    "<p>Ferries",
    "<p>“The fleet will wait for the spring tides,” said Tomas Ekberg, who chairs the"
    " fishermen’s association.</p>\n<p>Ferries",
)


def _one_voice(text: str, publisher: str | None = None):
    """Quotes as an earlier release might have given them: every one to the harbour board."""
    return [replace(q, speaker="Harbour Board") for q in find_quotes(text, publisher)]


def _board_then_two_voices(store, http, server) -> tuple[str, dict]:
    """A page whose two quotes an earlier release gave the harbour board, re-extracted:
    the board's speaker id, and the quotes now, by speaker."""
    server.route("/vote", status=200, body=_TWO_VOICES, headers={"Content-Type": "text/html"})
    older = Readers(find_quotes=_one_voice, release="onrecord-test/1")
    Pipeline(store, http, readers=older).capture(server.url("/vote"))
    old = list(store.catalog.current_quotes())
    assert {q.speaker for q in old} == {"Harbour Board"} and len(old) == 2
    (board,) = {q.speaker_id for q in old}
    assert Pipeline(store, None).reextract(old[0].document_id).changed_documents
    return board, {q.speaker: q for q in store.catalog.current_quotes()}


def test_a_speaker_whose_quotes_went_to_several_says_where_they_went(archive_root, server):
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        board, now = _board_then_two_voices(store, http, server)
        assert set(now) == {"Mina Okafor", "Tomas Ekberg"}
        # no one speaker stands for the board's quotes now: its id is aliased to neither
        assert store.catalog.resolve_speaker_id(board) == board
    client = create_app({"ARCHIVE": str(archive_root), "TESTING": True}).test_client()
    page = client.get(links.speaker_path(board))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name, quote in now.items():
        assert links.speaker_path(quote.speaker_id) in html and name in html
        assert links.quote_path(quote.id) in html
    former = client.get(links.json_path(links.speaker_path(board))).get_json()["former"]
    assert {(f["speaker"], f["speaker_id"]) for f in former} == {
        (q.speaker, q.speaker_id) for q in now.values()
    }


def test_a_quote_an_editor_gave_back_is_the_speakers_own_not_former(archive_root, server):
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        board, now = _board_then_two_voices(store, http, server)
        store.catalog.correct_quote(
            now["Tomas Ekberg"].id,
            "speaker",
            "Harbour Board",
            reason="the board's words",
            author="ed",
        )
    client = create_app({"ARCHIVE": str(archive_root), "TESTING": True}).test_client()
    page = client.get(links.json_path(links.speaker_path(board))).get_json()
    assert [q["id"] for q in page["quotes"]] == [now["Tomas Ekberg"].id]
    assert [f["id"] for f in page["former"]] == [now["Mina Okafor"].id]


def earlier_speaker_id(name: str) -> str:
    """A speaker id as releases before revision 0012 made it: no fold of apostrophes."""
    key = " ".join(name.split()).lower()
    return "s-" + hashlib.sha256(f"speaker\x1f{key}\x1f".encode()).hexdigest()[:16]


@pytest.mark.parametrize("engine", ENGINES)
def test_speakers_filed_apart_by_an_apostrophe_are_merged_into_one(engine, built_site, tmp_path):
    site = copy_site(built_site, tmp_path / "archive")
    curly, straight = "Lena O’Hara", "Lena O'Hara"
    with contextlib.ExitStack() as stack:
        if engine == "postgresql":
            migrate_archive(site.root, catalog=stack.enter_context(postgres_database()))
        with Catalog.open(Paths(site.root).catalog) as db, db.transaction():
            # As an earlier release left it: one person under two ids, one of them an
            # editor's merge the other way that stands, and the catalog at revision 11.
            earlier = earlier_speaker_id(curly)
            db.save_speaker(Speaker(id=earlier, name=curly))
            db._run(
                "UPDATE quotes SET speaker_id = :id, speaker = :name WHERE id = :quote",
                id=earlier,
                name=curly,
                quote=site.pledge,
            )
            db.save_speaker(Speaker(id=ids.speaker_id(straight), name=straight))
            kept = earlier_speaker_id("Ana N’Diaye")
            db.save_speaker(Speaker(id=kept, name="Ana N’Diaye"))
            db.save_speaker(Speaker(id=ids.speaker_id("Ana N'Diaye"), name="Ana N'Diaye"))
            db.merge_speakers(ids.speaker_id("Ana N'Diaye"), kept, reason="same", author="ed")
            head = db.change_head()
            db._run("UPDATE alembic_version SET version_num = '0011'")
        with Catalog.open(Paths(site.root).catalog) as db:  # migrates to revision 12
            assert ids.speaker_id(curly) == ids.speaker_id(straight) != earlier
            assert db.resolve_speaker_id(earlier) == ids.speaker_id(straight)
            assert db.resolve_speaker_id(kept) == kept  # the editor's merge stands
            [change] = db.changes_after(head)
            assert (change.kind, change.subject) == ("merged", earlier)
            assert change.document_id == db.quote(site.pledge).document_id
        client = create_app({"ARCHIVE": str(site.root), "TESTING": True}).test_client()
        page = client.get(links.speaker_path(earlier))
        assert (page.status_code, page.location) == (
            301,
            links.speaker_path(ids.speaker_id(straight)),
        )
