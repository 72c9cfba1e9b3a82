"""Source definitions: loading the shipped examples, and errors that point at the line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scrapers.errors import SourceError
from scrapers.sources import Discovery, Schedule, load_sources
from tests.conftest import run_onrecord

DATA = Path(__file__).parent / "data" / "sources"
MALFORMED = DATA / "malformed"


def test_folder_loads_every_source_in_file_order():
    sources = load_sources([DATA])
    assert [s.name for s in sources] == [
        "river-valley-ledger",
        "harbor-agency",
        "lakeland-elections",
    ]
    ledger, harbor, lakeland = sources
    assert ledger.kind == "news" and ledger.start_urls == () and ledger.delay is None
    assert ledger.discovery == Discovery("sitemap", "https://ledger.example.com/sitemap-news.xml")
    assert ledger.schedule == Schedule(every=timedelta(minutes=30))
    assert (harbor.delay, harbor.max_pages) == (4.5, 40)
    assert harbor.discovery.type == "feed"
    assert lakeland.discovery.selector == "ul.releases li > a"
    assert lakeland.schedule == Schedule(cron="15 */4 * * *")
    assert lakeland.path == DATA / "press-rooms.toml"


def test_next_due_by_interval_and_by_cron():
    harbor, lakeland = load_sources([DATA / "press-rooms.toml"])
    last_run = datetime(2026, 11, 3, 9, 20, tzinfo=UTC)
    assert harbor.next_due(last_run) == datetime(2026, 11, 3, 15, 20, tzinfo=UTC)
    assert lakeland.next_due(last_run) == datetime(2026, 11, 3, 12, 15, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        harbor.next_due(datetime(2026, 11, 3, 9, 20))


def test_wants_applies_allow_then_deny():
    harbor = load_sources([DATA / "press-rooms.toml"])[0]
    base = "https://harbor-agency.example.gov/newsroom/"
    assert harbor.wants(base + "2026/storm-warning")
    assert not harbor.wants(base + "tag/storms")
    assert not harbor.wants(base + "?page=2")
    assert not harbor.wants("https://elsewhere.example.com/newsroom/")
    assert not harbor.wants("mailto:press@harbor-agency.example.gov")


def test_toml_syntax_error_names_file_line_and_field():
    path = MALFORMED / "syntax.toml"
    with pytest.raises(SourceError) as caught:
        load_sources([path])
    error = caught.value
    assert (error.path, error.line, error.field) == (path, 4, "kind")
    assert str(error).startswith(f"{path}:4: kind: invalid TOML")


def test_bad_value_in_a_subtable_of_the_second_source():
    path = MALFORMED / "bad-every.toml"
    with pytest.raises(SourceError) as caught:
        load_sources([path])
    assert (caught.value.line, caught.value.field) == (15, "schedule.every")
    assert "'six hours' is not a duration" in str(caught.value)


def test_bad_selector_in_an_inline_table():
    with pytest.raises(SourceError) as caught:
        load_sources([MALFORMED / "bad-selector.toml"])
    assert (caught.value.line, caught.value.field) == (5, "discovery.selector")
    assert "invalid CSS selector" in caught.value.problem


SOURCE = """\
[[source]]
name = "{name}"
publisher = "Example Office"
kind = "blog"
start_urls = ["https://example.org/"]
schedule = {{ every = "1d" }}
"""


@pytest.mark.parametrize(
    ("setting", "field", "problem"),
    [
        ('name = "Harbor Agency"', "name", "not a slug"),
        ('kind = "tweet"', "kind", "not one of statement, news, blog"),
        ('start_urls = ["ftp://example.org/"]', "start_urls", "not an http(s) URL"),
        ('schedule = { cron = "61 * * * *" }', "schedule.cron", "not a cron expression"),
        ('schedule = { every = "6h", cron = "0 * * * *" }', "schedule", "must be"),
        ('schedule = { every = "0h" }', "schedule.every", "not a duration"),
        ("allow = ['(unclosed']", "allow", "invalid regular expression"),
        ("delay = -1", "delay", "not a number of seconds"),
        ("delay = nan", "delay", "not a number of seconds from 0 to 600"),
        ("delay = inf", "delay", "not a number of seconds from 0 to 600"),
        ("delay = 601", "delay", "not a number of seconds from 0 to 600"),
        ('schedule = { cron = "0 0 30 2 *" }', "schedule.cron", "matches no date"),
        ('schedule = { every = "99999999999d" }', "schedule.every", "is too long"),
        ('schedule = { every = "3000000d" }', "schedule.every", "is too long"),
        ("max_pages = 0", "max_pages", "not a whole number"),
        ('render = "chrome"', "render", "not one of http, browser"),
        ("max_page = 10", "max_page", "unknown field"),
        ('discovery = { type = "atom", url = "https://example.org/" }', "discovery.type", ""),
        ('discovery = { type = "feed" }', "discovery.url", "required"),
        ('publisher = ""', "publisher", "required"),
    ],
)
def test_each_bad_field_is_named_on_its_line(tmp_path, setting, field, problem):
    """The setting replaces the line of the same key, or is added as line 3."""
    lines = SOURCE.format(name="example-office").splitlines()
    key = setting.split("=")[0].strip()
    same_key = [n for n, line in enumerate(lines) if line.startswith(key + " =")]
    position = same_key[0] if same_key else 2
    lines[position : position + bool(same_key)] = [setting]
    path = tmp_path / "one.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_sources([path])
    assert (caught.value.path, caught.value.line, caught.value.field) == (path, position + 1, field)
    assert problem in caught.value.problem


def test_duplicate_names_across_files(tmp_path):
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(SOURCE.format(name="example-office"), encoding="utf-8")
    second.write_text(
        SOURCE.format(name="other-office") + "\n" + SOURCE.format(name="example-office"),
        encoding="utf-8",
    )
    with pytest.raises(SourceError) as caught:
        load_sources([tmp_path])
    assert (caught.value.path, caught.value.line, caught.value.field) == (second, 9, "name")
    assert str(first) in caught.value.problem


def test_a_file_without_sources(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(SourceError, match="no \\[\\[source\\]\\] table"):
        load_sources([path])


def test_a_binary_source_file_names_the_file_and_line(tmp_path):
    path = tmp_path / "photo.toml"
    path.write_bytes(b"name = 1\n\x89PNG\r\n\x1a\n\x00\xff\xfe" + bytes(range(256)))
    with pytest.raises(SourceError) as caught:
        load_sources([path])
    assert (caught.value.path, caught.value.line, caught.value.field) == (path, 2, "file")
    assert "not a UTF-8 text file" in caught.value.problem


def test_sources_check_rejects_what_would_fail_at_scrape_time(tmp_path):
    """nan passes a `delay < 0` test, and February 30 croniter's syntax check: each is
    refused by `onrecord sources check` with its file, line and field, not later."""
    nan, feb30 = tmp_path / "nan.toml", tmp_path / "feb30.toml"
    nan.write_text(SOURCE.format(name="example-office") + "delay = nan\n", encoding="utf-8")
    feb30.write_text(
        SOURCE.format(name="other-office").replace('every = "1d"', 'cron = "0 0 30 2 *"'),
        encoding="utf-8",
    )
    for path, where in ((nan, ":7: delay: nan is not"), (feb30, ":6: schedule.cron: '0 0")):
        result = run_onrecord("sources", "check", str(path), "--archive", str(tmp_path))
        assert result.returncode == 1
        assert f"{path}{where}" in result.stderr
        assert "Traceback" not in result.stderr
