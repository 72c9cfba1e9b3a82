"""The capture log is published: its head on a page, in JSON and in every Atom feed."""

from __future__ import annotations

from xml.etree import ElementTree

from bs4 import BeautifulSoup

from archive.catalog import GENESIS_HASH, log_entry_hash


def test_the_log_json_rehashes_to_its_head(client):
    data = client.get("/log.json?from=1").get_json()
    previous = GENESIS_HASH
    for entry in data["entries"]:
        assert entry["prev_hash"] == previous
        previous = log_entry_hash(
            previous, entry["capture_id"], entry["captured_at"], entry["payload_digest"]
        )
        assert entry["entry_hash"] == previous
    assert data["head"] == {"position": len(data["entries"]), "hash": previous}


def test_the_log_page_shows_the_head(client):
    page = BeautifulSoup(client.get("/log").data, "html.parser")
    head = client.get("/log.json").get_json()["head"]
    assert page.select_one(".head-hash").get_text(strip=True) == head["hash"]
    assert int(page.select_one(".head-position").get_text()) == head["position"]


def test_quote_pages_show_their_capture_log_position(client):
    feed = client.get("/search.atom?q=")
    tree = ElementTree.fromstring(feed.data)
    head = tree.find("{urn:onrecord:capture-log}head")
    assert head.get("hash") == client.get("/log.json").get_json()["head"]["hash"]
    entry = tree.find("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}id")
    quote_path = "/quote/" + entry.text.rsplit("/quote/", 1)[1]
    data = client.get(quote_path + ".json").get_json()
    position = data["capture"]["log_position"]
    assert position >= 1
    page = BeautifulSoup(client.get(quote_path).data, "html.parser")
    assert page.select_one(".log-position a")["href"] == f"/log#log-{position}"


def test_a_bad_log_position_is_a_400(client):
    assert client.get("/log.json?from=0").status_code == 400
