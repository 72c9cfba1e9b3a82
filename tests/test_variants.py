"""The same quote elsewhere: exact repeats, partial quotes and near-identical variants."""

from __future__ import annotations

import pytest

from archive.store import Paths, Store, init_archive
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.loopback import LoopbackServer
from web import create_app, indexing

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
</head><body><article><h1>{title}</h1>
<p>The county released its plan for the canvass on Monday, after a week of questions from
both parties about how late ballots would be handled by the election office.</p>
<p>{sentence}</p>
<p>Officials expect the canvass to take most of the week, with results posted daily.</p>
</article></body></html>"""

SENTENCES = {
    "/release": "“We will count every ballot that arrives by Friday,” said Ines Varga, the clerk.",
    "/wire": "“We will count every ballot that arrives by Friday,” Ines Varga said on Monday.",
    "/blog": "“We will count every vote that arrives by Friday,” Ines Varga told reporters.",
    "/paper": "Varga promised to count “every ballot that arrives by Friday” in the canvass.",
    "/other": "“Nothing about the canvass has changed this year,” said Ines Varga.",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("variants") / "archive"
    init_archive(root)
    with (
        LoopbackServer() as server,
        Store.open(root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0)) as http,
    ):
        pipeline = Pipeline(store, http)
        for path, sentence in SENTENCES.items():
            body = PAGE.format(title=f"Canvass plan {path}", sentence=sentence)
            server.route(path, status=200, body=body, headers={"Content-Type": "text/html"})
            pipeline.capture(server.url(path))
        indexing.catch_up(Paths(root), store.catalog)
    return create_app({"ARCHIVE": str(root), "TESTING": True}).test_client()


def appearances_of(client, words: str) -> list[dict]:
    hits = client.get("/search.json", query_string={"q": f'"{words}"', "type": "quote"})
    first = hits.get_json()["hits"][0]
    return client.get(first["url"] + ".json").get_json()["appearances"]


def test_repeats_partials_and_variants_are_listed_and_others_are_not(client):
    found = appearances_of(client, "We will count every ballot that arrives by Friday")
    texts = [a["text"] for a in found]
    assert sum("every ballot that arrives by Friday" in t for t in texts) == 3
    assert any("every vote that arrives" in t for t in texts)  # a variant
    assert not any("Nothing about the canvass" in t for t in texts)
    variant = next(a for a in found if "every vote" in a["text"])
    assert variant["same"] is False
