"""The front page: a search box, the latest quotes, edits and takedowns, the log head."""

from __future__ import annotations

from bs4 import BeautifulSoup


def test_the_front_page_leads_to_quotes_changes_and_the_log(client):
    page = BeautifulSoup(client.get("/").data, "html.parser")
    assert page.select_one("form.home-search")["action"] == "/search"
    quotes = page.select(".latest-quotes li.said")
    assert quotes and all(li.select_one("a")["href"].startswith("/quote/q-") for li in quotes)
    assert [li["class"][-1] for li in page.select(".changes li.event")] == ["edited"]
    head = client.get("/log.json").get_json()["head"]
    assert page.select_one(".head-hash").get_text().rstrip("…") == head["hash"][:16]


def test_the_front_page_has_a_json_twin(client):
    data = client.get("/index.json").get_json()
    assert set(data) == {"counts", "log_head", "latest_quotes", "latest_changes"}
    assert data["counts"]["captures"] >= 4
    assert data["latest_changes"][0]["type"] == "edited"
    assert all(path.startswith("/quote/q-") for path in data["latest_quotes"])
