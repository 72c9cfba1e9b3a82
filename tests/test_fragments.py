"""Links into the live page select the quote and nothing else, even where a pull quote
repeats its opening words."""

from __future__ import annotations

import doctest
import re
from urllib.parse import unquote

from archive.catalog import Catalog
from archive.store import Store
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from web import create_app, fragments

PULL_QUOTE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Harbour dredging to resume | Port Office</title>
</head><body><article>
<h1>Harbour dredging to resume</h1>
<p>The port office said on Tuesday that dredging of the inner harbour will resume next month \
after the winter pause, with night work limited to two evenings a week.</p>
<blockquote class="pull">“We will keep the channel open for every fishing boat”</blockquote>
<p>The office expects the work to last six weeks. Residents near the quay had complained \
about noise during the last dredging season.</p>
<p>“We will keep the channel open for every fishing boat that needs it, and we will tell \
residents a week before any night work begins,” said Halima Osei, the harbour master.</p>
</article></body></html>
"""
QUOTE = "We will keep the channel open for every fishing boat that needs it"


def directive(link: str) -> fragments.Directive:
    """A text directive read back from a link, as a browser reads it."""
    value = link.split("#:~:text=", 1)[1]
    parts = value.split(",")
    prefix = unquote(parts.pop(0)[:-1]) if parts[0].endswith("-") else ""
    suffix = unquote(parts.pop()[1:]) if parts[-1].startswith("-") else ""
    start, end = (unquote(p) for p in [*parts, ""][:2])
    return fragments.Directive(start, end, prefix, suffix)


def test_the_live_link_of_a_quote_repeated_by_a_pull_quote_selects_only_the_quote(
    archive_root, server
):
    server.route(
        "/news/dredging",
        status=200,
        body=PULL_QUOTE_PAGE,
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    with (
        Store.open(archive_root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
    ):
        Pipeline(store, http).capture(server.url("/news/dredging"))
    with Catalog.open(archive_root / "catalog.sqlite") as catalog:
        [document] = catalog.documents()
        extraction = catalog.current_extraction(document.latest_version_id)
        [quote] = [
            q for q in catalog.quotes_of_extraction(extraction.id) if q.text.startswith(QUOTE)
        ]
    text = extraction.text
    assert text.index("We will keep the channel") < quote.start  # the pull quote comes first
    client = create_app({"ARCHIVE": str(archive_root), "TESTING": True}).test_client()
    page = client.get(f"/quote/{quote.id}").get_data(as_text=True)
    live = re.search(r'href="([^"]+#:~:text=[^"]+)"', page).group(1).replace("&amp;", "&")
    twin = client.get(f"/quote/{quote.id}.json").get_json()["live"]
    assert live == twin
    chosen = directive(live)
    assert fragments.find(text, chosen) == (quote.start, quote.end)
    plain = fragments.directive_for(quote.text)  # first and last words only
    assert fragments.find(text, plain)[0] < quote.start  # would start at the pull quote


def test_find_follows_the_text_fragments_rules():
    page = "Apples and pears.\n\nPEARS and apples, then  plums and more pears."
    assert fragments.find(page, fragments.Directive("pears and")) == (19, 28)
    assert fragments.find(page, fragments.Directive("pear")) is None  # whole words only
    assert fragments.find(page, fragments.Directive("apples", "pears")) == (0, 16)
    found = fragments.find(page, fragments.Directive("then plums"))
    assert page[found[0] : found[1]] == "then  plums"  # any whitespace is one space
    held = fragments.find(page, fragments.Directive("pears", prefix="more"))
    assert page[held[0] - 5 : held[1]] == "more pears"
    assert fragments.find(page, fragments.Directive("apples", suffix="then")) is None
    assert fragments.find(page, fragments.Directive("apples", suffix=", then")) == (29, 35)


def test_doctests_of_the_fragments_module():
    result = doctest.testmod(fragments)
    assert result.attempted > 0 and result.failed == 0


def test_no_term_matches_across_a_paragraph_break():
    page = "The vote is final.\n\n“The vote is final,” she said."
    assert fragments.find(page, fragments.Directive("final. the vote")) is None
    at = page.rindex("The vote is final,")
    span = (at, at + len("The vote is final,"))
    chosen = fragments.directive_for("The vote is final,", page, span)
    assert "\n" not in chosen.prefix and fragments.find(page, chosen) == span
