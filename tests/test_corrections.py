"""Accounts, sign-in with CSRF, and corrections on the record, against a real archive
(captured from loopback, indexed with Whoosh), asserting on parsed HTML and JSON."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import sqlite3
import threading
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from archive import wacz
from archive.catalog import Catalog
from archive.catalog.corrections import CorrectionError
from archive.migrate import migrate_archive
from archive.store import Paths, Store, init_archive
from archive.verify import check_corrections
from tests.catalogs import ENGINES, postgres_database
from tests.conftest import copy_site, run_onrecord
from web import accounts, create_app, links
from web.cli_accounts import training_example

ATOM = "{http://www.w3.org/2005/Atom}"
ADMIN_TOKEN = "admin-secret-for-tests"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def people(site):
    """An editor (with a password), a reader and a revoked editor, with their tokens."""
    with Catalog.open(Paths(site.root).catalog) as db:
        db.add_user("ed", "editor", PASSWORD)
        db.add_user("rita", "reader")
        db.add_user("gone", "editor")
        tokens = {name: db.issue_token(name) for name in ("ed", "rita", "gone")}
        db.revoke_user("gone")
    return tokens


@pytest.fixture(scope="module")
def app(site, people):
    return create_app({"ARCHIVE": str(site.root), "TESTING": True, "ADMIN_TOKEN": ADMIN_TOKEN})


@pytest.fixture
def web(app):
    return app.test_client()


@pytest.fixture
def db(site):
    with Catalog.open(Paths(site.root).catalog) as opened:
        yield opened


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def soup_of(response) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


def signed_in(web, quote_id: str) -> str:
    """Sign the client in as the editor through the form; the CSRF token of the session."""
    form = soup_of(web.get(links.signin_path()))
    token = form.select_one(f"input[name={accounts.CSRF_FIELD}]")["value"]
    response = web.post(
        links.signin_path(),
        data={"name": "ed", "password": PASSWORD, accounts.CSRF_FIELD: token, "next": "/"},
    )
    assert response.status_code == 303, response.data[:300]
    quote_page = soup_of(web.get(links.quote_path(quote_id)))
    return quote_page.select_one(f"form.correction-form input[name={accounts.CSRF_FIELD}]")["value"]


# -- accounts -----------------------------------------------------------------------------


def test_tokens_are_stored_hashed_and_revocable(site, people, db):
    raw = sqlite3.connect(site.root / "catalog.sqlite")
    stored = [row[0] for row in raw.execute("SELECT secret_hash FROM api_tokens")]
    raw.close()
    assert people["ed"] not in stored and len(stored) == 3
    assert db.user_of_token(people["ed"]).name == "ed"
    assert db.user_of_token(people["gone"]) is None
    extra = db.issue_token("rita")
    token_id = extra.split("_")[1]
    assert db.user_of_token(extra).role == "reader"
    db.revoke_token(token_id)
    assert db.user_of_token(extra) is None


@pytest.mark.parametrize("who", ["wrong", "gone"])
def test_a_wrong_or_revoked_token_is_401(web, site, people, db, who):
    token = people.get(who, "onr_00000000_not-a-token")
    before = len(db.corrections())
    response = web.post(
        links.corrections_path(site.pledge),
        json={"kind": "note", "note": "x", "reason": "y"},
        headers=bearer(token),
    )
    assert response.status_code == 401
    assert "revoked" in response.get_json()["error"]["message"]
    assert len(db.corrections()) == before


def test_a_reader_cannot_correct(web, site, people, db):
    response = web.post(
        links.corrections_path(site.pledge),
        json={"kind": "note", "note": "x", "reason": "y"},
        headers=bearer(people["rita"]),
    )
    assert response.status_code == 403
    assert "rita is a reader; this needs an editor" in response.get_json()["error"]["message"]
    anonymous = web.post(
        links.corrections_path(site.pledge), json={"kind": "note", "note": "x", "reason": "y"}
    )
    assert anonymous.status_code in (401, 403)
    assert db.corrections_of(site.pledge) == []


def test_admin_token_and_admin_users_run_admin_actions(web, site, db):
    assert web.post(links.admin_path("reindex"), headers=bearer(ADMIN_TOKEN)).status_code == 200
    db.add_user("boss", "admin")
    token = db.issue_token("boss")
    assert web.post(links.admin_path("reindex"), headers=bearer(token)).status_code == 200
    editor = db.issue_token("ed")
    assert web.post(links.admin_path("reindex"), headers=bearer(editor)).status_code == 403


def test_sign_in_with_a_wrong_password_is_refused(web):
    form = soup_of(web.get(links.signin_path()))
    token = form.select_one(f"input[name={accounts.CSRF_FIELD}]")["value"]
    response = web.post(
        links.signin_path(),
        data={"name": "ed", "password": "nope", accounts.CSRF_FIELD: token},
    )
    assert response.status_code == 401
    assert "do not match" in soup_of(response).select_one(".error").get_text()


def test_every_form_needs_its_csrf_token(web, site, db):
    assert (
        web.post(links.signin_path(), data={"name": "ed", "password": PASSWORD}).status_code == 403
    )
    csrf = signed_in(web, site.reported)
    form = {"kind": "note", "note": "checked", "reason": "read the recording"}
    refused = web.post(links.corrections_path(site.reported), data=form)
    assert refused.status_code == 403
    assert "CSRF" in soup_of(refused).get_text()
    forged = web.post(
        links.corrections_path(site.reported), data={**form, accounts.CSRF_FIELD: "x" + csrf}
    )
    assert forged.status_code == 403
    assert db.corrections_of(site.reported) == []
    done = web.post(links.corrections_path(site.reported), data={**form, accounts.CSRF_FIELD: csrf})
    assert done.status_code == 303
    assert [c.kind for c in db.corrections_of(site.reported)] == ["note"]
    assert web.post(links.signout_path(), data={}).status_code == 403
    assert web.post(links.signout_path(), data={accounts.CSRF_FIELD: csrf}).status_code == 303
    again = web.post(
        links.corrections_path(site.reported), data={**form, accounts.CSRF_FIELD: csrf}
    )
    assert again.status_code == 403


def test_only_a_bearer_token_excuses_a_form_from_its_csrf_token(web, site, people, db):
    """A browser behind HTTP Basic, Digest or NTLM authentication sends its own
    Authorization header with every request, one another site forges included; the session
    cookie still signs such a request in, so it needs its CSRF token like any other."""
    signed_in(web, site.pledge)
    before = len(db.corrections())
    form = {"kind": "note", "note": "forged by another site", "reason": "no reason"}
    for sent_by_the_browser in (
        "Basic " + base64.b64encode(b"reader:proxy password").decode(),
        'Digest username="reader", realm="proxy", nonce="1", uri="/", response="0"',
        "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==",
    ):
        forged = web.post(
            links.corrections_path(site.pledge),
            data=form,
            headers={"Authorization": sent_by_the_browser},
        )
        assert forged.status_code == 403, sent_by_the_browser
        assert "CSRF" in soup_of(forged).get_text()
    assert len(db.corrections()) == before
    by_token = web.post(
        links.corrections_path(site.pledge),
        json={**form, "note": "sent by a script"},
        headers=bearer(people["ed"]),
    )
    assert by_token.status_code == 201, by_token.data
    assert len(db.corrections()) == before + 1


@pytest.mark.parametrize(
    "query",
    [
        {"next": "/\t/evil.example/"},
        {"next": "/\n/evil.example/"},
        "next=/%09/evil.example/",
    ],
    ids=["tab", "newline", "tab-as-a-link-spells-it"],
)
def test_sign_in_goes_back_only_to_a_path_on_this_site(web, query):
    """A tab is dropped from a URL, so ``/<tab>/evil.example/`` would lead off the site,
    and a newline cannot be sent in a header: both lead to the captures instead."""
    form = soup_of(web.get(links.signin_path(), query_string=query)).select_one("form.signin")
    assert form.select_one("input[name=next]")["value"] == links.captures_path()
    token = form.select_one(f"input[name={accounts.CSRF_FIELD}]")["value"]
    response = web.post(
        links.signin_path(),
        query_string=query,
        data={"name": "ed", "password": PASSWORD, accounts.CSRF_FIELD: token},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == links.captures_path()


# -- edits at the same moment ------------------------------------------------------------


@contextlib.contextmanager
def site_on(engine: str, built_site, tmp_path: Path):
    """A copy of the test site whose catalog is on ``engine``."""
    site = copy_site(built_site, tmp_path / "archive")
    if engine == "sqlite":
        yield site
        return
    with postgres_database() as url:
        migrate_archive(site.root, catalog=url)
        yield site


def at_once(root: Path, *edits) -> list[CorrectionError | None]:
    """Run each edit on a catalog connection and thread of its own while another
    connection holds the lock corrections take, so that each edit has done all it does
    before it waits; then let go. What each raised (None when it was made)."""
    raised: list[CorrectionError | None] = [None] * len(edits)

    def run(index: int, edit) -> None:
        with Catalog.open(Paths(root).catalog, migrate=False) as catalog:
            try:
                edit(catalog)
            except CorrectionError as exc:
                raised[index] = exc

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(edits)]
    with Catalog.open(Paths(root).catalog, migrate=False) as holder, holder.transaction():
        holder._lock_chain()
        for thread in threads:
            thread.start()
        time.sleep(0.5)
    for thread in threads:
        thread.join(30)
    return raised


@pytest.mark.parametrize("engine", ENGINES)
def test_two_editors_correcting_a_quote_at_once_each_see_the_other(engine, built_site, tmp_path):
    with site_on(engine, built_site, tmp_path) as site:
        raised = at_once(
            site.root,
            *(
                lambda db, role=role: db.correct_quote(
                    site.reported, "role", role, reason="per the memo", author=role
                )
                for role in ("observer", "county observer")
            ),
        )
        assert raised == [None, None]
        with Catalog.open(Paths(site.root).catalog) as db:
            first, second = db.corrections_of(site.reported)
            assert second.before == first.after  # not the role before either of them
            assert check_corrections(db) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_two_speakers_merged_into_each_other_at_once_merge_one_way(engine, built_site, tmp_path):
    with site_on(engine, built_site, tmp_path) as site:
        with Catalog.open(Paths(site.root).catalog) as db:
            other = db.quote(site.reported).speaker_id
        pair = (other, site.director)
        raised = at_once(
            site.root,
            *(
                lambda db, old=old, new=new: db.merge_speakers(
                    old, new, reason="same person", author="ed"
                )
                for old, new in (pair, pair[::-1])
            ),
        )
        assert sorted(str(exc) for exc in raised if exc) == [
            "a speaker cannot be merged into itself"
        ]
        with Catalog.open(Paths(site.root).catalog) as db:
            assert db.resolve_speaker_id(other) == db.resolve_speaker_id(site.director)
        client = create_app({"ARCHIVE": str(site.root), "TESTING": True}).test_client()
        pages = [client.get(links.speaker_path(speaker)) for speaker in pair]
        assert sorted(page.status_code for page in pages) == [200, 301]


# -- corrections --------------------------------------------------------------------------


def test_a_speaker_correction_is_shown_beside_the_machine_and_used_by_search(web, site, people, db):
    response = web.post(
        links.corrections_path(site.unnamed),
        json={"kind": "speaker", "speaker": "Priya Raman", "reason": "named in the county memo"},
        headers=bearer(people["ed"]),
    )
    assert response.status_code == 201, response.data
    made = response.get_json()
    assert made["by"] == "ed" and made["after"]["speaker"] == "Priya Raman"
    page = soup_of(web.get(links.quote_path(site.unnamed)))
    assert page.select_one("figcaption .speaker").get_text() == "Priya Raman"
    item = page.select_one("li.correction")
    words = " ".join(item.get_text().split())
    assert words.startswith("Corrected on ") and "by ed:" in words
    assert "named in the county memo" in words
    machine = page.select_one(".machine-attribution .machine-speaker").get_text()
    assert machine == (db.quote(site.unnamed).speaker or "speaker not identified")
    twin = web.get(links.json_path(links.quote_path(site.unnamed))).get_json()
    assert twin["id"] == site.unnamed  # the quote keeps its id
    assert twin["speaker"]["name"] == "Priya Raman"
    assert twin["machine_attribution"]["speaker"] == db.quote(site.unnamed).speaker
    assert [c["kind"] for c in twin["corrections"]] == ["speaker"]
    found = web.get("/search.json?q=" + 'speaker:"Priya Raman"').get_json()
    assert site.unnamed in [hit["id"] for hit in found["hits"]]
    speaker_id = twin["speaker"]["id"]
    listed = soup_of(web.get(links.speaker_path(speaker_id)))
    assert site.unnamed in [li["data-quote-id"] for li in listed.select("li.said")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "boundaries", "start": 0, "end": 10**7}, "point outside the text"),
        ({"kind": "boundaries", "start": -3, "end": 5}, "point outside the text"),
        ({"kind": "boundaries", "start": "a", "end": 5}, "two offsets"),
        ({"kind": "speaker", "speaker": " "}, "name the speaker"),
        ({"kind": "colour", "speaker": "x"}, "kind must be one of"),
        ({"kind": "note", "note": "x", "reason": " "}, "needs a reason"),
    ],
)
def test_bad_corrections_are_400_and_record_nothing(web, site, people, db, body, message):
    before = len(db.corrections())
    response = web.post(
        links.corrections_path(site.pledge),
        json={"reason": "because", **body},
        headers=bearer(people["ed"]),
    )
    assert response.status_code == 400, response.data
    assert message in response.get_json()["error"]["message"]
    assert len(db.corrections()) == before


def test_boundaries_that_overlap_another_quote_are_refused(web, site, people, db):
    quotes = db.quotes_of_extraction(db.quote(site.pledge).extraction_id)
    pledge = next(q for q in quotes if q.id == site.pledge)
    other = next(q for q in quotes if q.id != site.pledge)
    response = web.post(
        links.corrections_path(site.pledge),
        json={
            "kind": "boundaries",
            "start": min(pledge.start, other.start),
            "end": max(pledge.end, other.end),
            "reason": "the whole passage",
        },
        headers=bearer(people["ed"]),
    )
    assert response.status_code == 400
    assert f"would overlap quote {other.id}" in response.get_json()["error"]["message"]
    narrower = web.post(
        links.corrections_path(site.pledge),
        json={
            "kind": "boundaries",
            "start": pledge.start + 1,
            "end": pledge.end - 1,
            "reason": "the marks are not part of the words",
        },
        headers=bearer(people["ed"]),
    )
    assert narrower.status_code == 201
    assert web.get(links.json_path(links.quote_path(site.pledge))).get_json()["offsets"] == [
        pledge.start + 1,
        pledge.end - 1,
    ]


def test_not_a_quote_leaves_search_and_the_speaker_page(web, site, people, db):
    quote = db.quote(site.variant)
    response = web.post(
        links.corrections_path(site.variant),
        json={"kind": "not_quote", "not_quote": True, "reason": "a paraphrase in marks"},
        headers=bearer(people["ed"]),
    )
    assert response.status_code == 201
    page = soup_of(web.get(links.quote_path(site.variant)))
    assert page.select_one(".not-quote-banner") is not None
    listed = soup_of(web.get(links.speaker_path(quote.speaker_id)))
    assert site.variant not in [li["data-quote-id"] for li in listed.select("li.said")]
    found = web.get("/search.json?q=" + '"' + quote.text.split()[1] + '"').get_json()
    assert site.variant not in [hit["id"] for hit in found["hits"]]


def test_the_corrections_feed_and_the_chain(web, site, db):
    feed = ET.fromstring(web.get(links.corrections_feed_path()).data)
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == len(db.corrections()) >= 3
    assert entries[0].find(f"{ATOM}author/{ATOM}name").text == "ed"
    assert check_corrections(db) == []
    raw = sqlite3.connect(site.root / "catalog.sqlite")
    (original,) = raw.execute("SELECT reason FROM corrections WHERE seq = 1").fetchone()
    raw.execute("UPDATE corrections SET reason = 'rewritten' WHERE seq = 1")
    raw.commit()
    try:
        problems = check_corrections(db)
        assert [p.subject for p in problems] == ["corrections#1"]
        assert "changed after it was recorded" in problems[0].message
    finally:
        raw.execute("UPDATE corrections SET reason = ? WHERE seq = 1", (original,))
        raw.commit()
        raw.close()
    assert check_corrections(db) == []


def test_a_feed_stays_well_formed_xml_whatever_the_text_holds(web, site, people):
    reason = "the memo says \x07ring the bell\x0c twice"  # XML allows neither, escaped or not
    response = web.post(
        links.corrections_path(site.pledge),
        json={"kind": "note", "note": "see the memo", "reason": reason},
        headers=bearer(people["ed"]),
    )
    assert response.status_code == 201
    feed = ET.fromstring(web.get(links.corrections_feed_path()).data)
    summaries = [e.find(f"{ATOM}summary").text for e in feed.findall(f"{ATOM}entry")]
    assert any("\ufffdring the bell\ufffd twice" in summary for summary in summaries)


def test_training_examples_hold_both_attributions(db, site):
    record = db.corrected(db.quote(site.unnamed))
    text = db.extraction(record.machine.extraction_id).text
    example = training_example(record, text)
    assert example["corrected"]["speaker"] == "Priya Raman"
    start, end = example["corrected"]["start"], example["corrected"]["end"]
    assert example["context"][start:end] == record.quote.text


# -- speakers -----------------------------------------------------------------------------


def test_merge_into_itself_is_refused_and_a_merge_keeps_links(web, site, people, db):
    itself = web.post(
        links.speaker_merge_path(site.director),
        json={"into": site.director, "reason": "same"},
        headers=bearer(people["ed"]),
    )
    assert itself.status_code == 400
    assert "into itself" in itself.get_json()["error"]["message"]
    other = db.quote(site.reported).speaker_id
    merged = web.post(
        links.speaker_merge_path(other),
        json={"into": site.director, "reason": "the same person, misnamed"},
        headers=bearer(people["ed"]),
    )
    assert merged.status_code == 200, merged.data
    moved = web.get(links.speaker_path(other))
    assert moved.status_code == 301
    assert moved.headers["Location"] == links.speaker_path(site.director)
    twin = web.get(links.json_path(links.speaker_path(site.director))).get_json()
    assert other in twin["merged"]
    assert site.reported in [q["id"] for q in twin["quotes"]]
    assert web.get(links.quote_path(site.reported)).status_code == 200
    found = web.get("/search.json?q=" + 'speaker:"Dana Whitfield"').get_json()
    assert site.reported in [hit["id"] for hit in found["hits"]]


def test_a_split_gives_some_quotes_to_another_speaker(web, site, people, db):
    statement = db.quotes_of_extraction(db.quote(site.pledge).extraction_id)
    audit = next(q for q in statement if "audit matched" in q.text)
    wrong = web.post(
        links.speaker_split_path(site.director),
        json={"quotes": site.unnamed, "name": "Sam Whitfield", "reason": "two people"},
        headers=bearer(people["ed"]),
    )
    assert wrong.status_code == 400
    assert "is not attributed to" in wrong.get_json()["error"]["message"]
    done = web.post(
        links.speaker_split_path(site.director),
        json={"quotes": audit.id, "name": "Sam Whitfield", "reason": "the deputy said it"},
        headers=bearer(people["ed"]),
    )
    assert done.status_code == 201, done.data
    moved = done.get_json()
    assert moved["moved"] == [audit.id]
    theirs = web.get(links.json_path(links.speaker_path(moved["into"]))).get_json()
    assert [q["id"] for q in theirs["quotes"]] == [audit.id]
    director = web.get(links.json_path(links.speaker_path(site.director))).get_json()
    assert audit.id not in [q["id"] for q in director["quotes"]]
    assert web.get(links.quote_path(audit.id)).status_code == 200
    csrf = signed_in(web, site.pledge)
    page = soup_of(web.get(links.speaker_path(site.director)))
    form = page.select_one("form.split-form")
    assert form["action"] == links.speaker_split_path(site.director)
    assert form.select_one(f"input[name={accounts.CSRF_FIELD}]")["value"] == csrf


def test_external_identifiers_on_the_speaker_page(web, site, people):
    bad = web.post(
        links.speaker_identifier_path(site.director),
        json={"scheme": "wikidata", "value": "not-a-qid"},
        headers=bearer(people["ed"]),
    )
    assert bad.status_code == 400
    good = web.post(
        links.speaker_identifier_path(site.director),
        json={"scheme": "wikidata", "value": "Q4115189"},
        headers=bearer(people["ed"]),
    )
    assert good.status_code == 200
    page = soup_of(web.get(links.speaker_path(site.director)))
    assert page.select_one("dd.wikidata a")["href"].endswith("/Q4115189")
    twin = web.get(links.json_path(links.speaker_path(site.director))).get_json()
    assert twin["identifiers"] == {"wikidata": "Q4115189"}


# -- WACZ ---------------------------------------------------------------------------------


def test_corrections_travel_in_wacz_export_and_import(site, db, tmp_path):
    package = tmp_path / "archive.wacz"
    with Store.open(site.root) as store:
        wacz.export_wacz(store.paths, store.catalog, package)
    target = tmp_path / "copy"
    init_archive(target)
    done = run_onrecord("import", str(package), "--archive", str(target))
    assert done.returncode == 0, done.stderr
    with Catalog.open(target / "catalog.sqlite") as copy:
        assert [c.id for c in copy.corrections()] == [c.id for c in db.corrections()]
        assert check_corrections(copy) == []
        assert copy.corrected(copy.quote(site.unnamed)).quote.speaker == "Priya Raman"
    found = run_onrecord("search", 'speaker:"Priya Raman"', "--archive", str(target))
    assert site.unnamed in found.stdout


def test_a_package_with_a_broken_corrections_chain_is_refused(site, tmp_path):
    package = tmp_path / "archive.wacz"
    with Store.open(site.root) as store:
        wacz.export_wacz(store.paths, store.catalog, package)
    forged = tmp_path / "forged.wacz"
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(forged, "w") as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == wacz.CORRECTIONS:
                data = data.replace(b"named in the county memo", b"a guess")
            out.writestr(item, data)
    _rehash(forged)
    target = tmp_path / "copy"
    init_archive(target)
    refused = run_onrecord("import", str(forged), "--archive", str(target))
    assert refused.returncode != 0
    assert "corrections chain is broken" in refused.stderr
    with Catalog.open(target / "catalog.sqlite") as copy:
        assert copy.counts()["captures"] == 0 and copy.corrections() == []


def _rehash(package: Path) -> None:
    """Make the package's digests agree with its (forged) members, as a forger would."""
    with zipfile.ZipFile(package) as read:
        members = {i.filename: read.read(i) for i in read.infolist()}
    datapackage = json.loads(members["datapackage.json"])
    for resource in datapackage["resources"]:
        data = members[resource["path"]]
        resource["hash"] = "sha256:" + hashlib.sha256(data).hexdigest()
        resource["bytes"] = len(data)
    members["datapackage.json"] = json.dumps(datapackage).encode()
    digest = {
        "path": "datapackage.json",
        "hash": "sha256:" + hashlib.sha256(members["datapackage.json"]).hexdigest(),
    }
    members["datapackage-digest.json"] = json.dumps(digest).encode()
    with zipfile.ZipFile(package, "w") as write:
        for name, data in members.items():
            write.writestr(name, data)


# -- last: a rebuild swaps the index generation under the module's long-lived app --------


def test_corrections_survive_reextraction_and_reindexing(web, site, people, db):
    response = web.post(
        links.corrections_path(site.reported),
        json={"kind": "role", "role": "volunteer poll watcher", "reason": "per the Gazette"},
        headers=bearer(people["ed"]),
    )
    assert response.status_code == 201
    assert run_onrecord("reextract", site.news, "--archive", str(site.root)).returncode == 0
    assert run_onrecord("reindex", "--archive", str(site.root)).returncode == 0
    twin = web.get(links.json_path(links.quote_path(site.reported))).get_json()
    assert twin["speaker"]["role"] == "volunteer poll watcher"
    found = web.get("/search.json?q=" + 'role:"volunteer poll watcher"').get_json()
    assert site.reported in [hit["id"] for hit in found["hits"]]
