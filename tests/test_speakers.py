"""Speakers are entities: one person across documents, anonymous sources never merged."""

from __future__ import annotations

from archive.store import Store
from scrapers.http import HttpConfig, PoliteSession
from scrapers.pipeline import Pipeline

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
