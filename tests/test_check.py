"""Checking a circulating quote against the web tests' archive: each verdict, the diff,
the first appearance, the JSON twin, the command, and text that cannot be checked."""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup

from tests.conftest import run_onrecord
from tests.test_exports import WITHDRAWN, withdrawn_notice
from web import create_app, links

PLEDGE = "Every valid ballot was counted, and every count will be published in full"


def checked(client, text: str) -> dict:
    response = client.get(links.check_path(text, json=True))
    assert response.status_code == 200, response.data[:300]
    return response.get_json()


def test_the_same_words_are_verbatim_and_first_seen_in_the_statement(client, site):
    found = checked(client, f"“{PLEDGE},”")
    assert found["verdict"] == "verbatim"
    best = found["matches"][0]
    assert best["quote"]["id"] == site.pledge
    assert best["speaker"] == "Dana Whitfield"
    assert best["first_appearance"]["quote"] == site.pledge
    assert best["archived_copy"].startswith("/")


@pytest.mark.parametrize(
    "copied",
    [
        PLEDGE.replace(", and", ",\u200band"),  # a zero-width space after the comma
        PLEDGE.replace(" was ", "\u200bwas\u200b"),  # zero-width spaces for spaces
        PLEDGE.replace("ballot", "bal\u00adlot"),  # a soft hyphen
        "\ufeff" + PLEDGE,  # a byte-order mark ahead of it
        PLEDGE.replace(", and ", "\u2014and "),  # a dash where a comma was, unspaced
    ],
    ids=["zero-width-space", "zero-width-spaces-between", "soft-hyphen", "bom", "dash"],
)
def test_words_copied_with_what_the_eye_does_not_see_are_still_verbatim(client, site, copied):
    found = checked(client, copied)
    assert found["verdict"] == "verbatim"
    assert found["matches"][0]["quote"]["id"] == site.pledge


def test_words_left_out_are_shortened(client, site):
    found = checked(client, "Every valid ballot was counted, and every count will be published")
    assert found["verdict"] in ("verbatim", "shortened")
    found = checked(client, "every valid ballot was counted and published in full")
    assert found["verdict"] == "shortened"
    assert found["matches"][0]["quote"]["id"] == site.pledge


def test_a_changed_word_is_altered_with_a_word_diff(client, site):
    found = checked(
        client, "Every valid ballot was counted, and every vote will be published in full"
    )
    assert found["verdict"] == "altered"
    best = found["matches"][0]
    assert best["quote"]["id"] == site.pledge
    changed = [(d["op"], d["text"].strip()) for d in best["diff"] if d["op"] != "equal"]
    assert changed == [("delete", "count"), ("insert", "vote")]


def test_pieces_of_two_quotes_are_stitched(client, site):
    found = checked(
        client,
        "Every valid ballot was counted, and the audit matched the machines in all forty precincts",
    )
    assert found["verdict"] == "stitched"
    assert len({m["quote"]["id"] for m in found["matches"]}) >= 2
    assert site.pledge in [m["quote"]["id"] for m in found["matches"]]


def test_words_nobody_said_are_not_found(client):
    found = checked(client, "The moon landing was staged in a car park behind the depot")
    assert found == {**found, "verdict": "not_found", "matches": []}


def test_the_page_shows_the_verdict_and_the_diff(client, site):
    response = client.get(
        links.check_path("Every valid ballot was counted, and every vote will be published in full")
    )
    soup = BeautifulSoup(response.data, "html.parser")
    assert soup.select_one(".verdict")["data-verdict"] == "altered"
    match = soup.select_one("li.check-match")
    assert match["data-quote-id"] == site.pledge
    assert [d.get_text().strip() for d in match.select("del")] == ["count"]
    assert [i.get_text().strip() for i in match.select("ins")] == ["vote"]
    assert match.select_one("a.quote-link")["href"] == links.quote_path(site.pledge)
    form = BeautifulSoup(client.get(links.check_path()).data, "html.parser")
    assert form.select_one("form.check textarea[name=q]") is not None
    # the answer as one types comes from the JSON twin (web/static/check.js)
    assert form.select_one("form.check")["data-json"] == links.check_path(json=True)
    assert form.select_one("section.live-check[hidden]") is not None
    assert any(s["src"].endswith("/check.js") for s in form.select("script[src]"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("two words", "at least 3 words"),
        ("word " * 400, "at most 1500 characters"),
        ("", "q parameter"),
    ],
)
def test_text_that_cannot_be_checked_is_400(client, text, message):
    response = client.get(links.check_path(text, json=True))
    assert response.status_code == 400
    assert message in response.get_json()["error"]["message"]


def test_the_command_gives_the_same_verdicts(site):
    done = run_onrecord(
        "check",
        "Every valid ballot was counted, and every vote will be published in full",
        "--format",
        "json",
        "--archive",
        str(site.root),
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["verdict"] == "altered"
    assert found["matches"][0]["quote"]["id"] == site.pledge
    text = run_onrecord(
        "check", "The moon landing was staged in a car park", "--archive", str(site.root)
    )
    assert text.returncode == 0 and text.stdout.startswith("Not found in the archive")
    short = run_onrecord("check", "hi", "--archive", str(site.root))
    assert short.returncode != 0 and "at least 3 words" in short.stderr


def test_a_match_links_the_capture_holding_its_words_not_the_takedown(archive_root, server):
    """A quote whose page was taken down since: the check links the archived copy its
    quote page links (which holds the words), in the page and in its JSON, never the 410
    captured last."""
    quote_id, gone = withdrawn_notice(archive_root, server)
    client = create_app({"ARCHIVE": str(archive_root), "TESTING": True}).test_client()
    shown = client.get(links.json_path(links.quote_path(quote_id))).get_json()["capture"]
    copy = shown["quote_in_archived_copy"]
    assert copy != gone

    (match,) = checked(client, WITHDRAWN)["matches"]
    assert match["quote"]["id"] == quote_id and match["archived_copy"] == copy
    page = BeautifulSoup(client.get(links.check_path(WITHDRAWN)).data, "html.parser")
    (link,) = page.select("li.check-match a.archived-copy")
    assert link["href"] == copy
