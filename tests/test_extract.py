"""scrapers.extract: article text, paragraphs and metadata from archived payloads."""

from __future__ import annotations

import json
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrapers.charset import decode, repair_mojibake
from scrapers.extract import EXTRACTOR, MAX_CHARS, Extracted, extract, paragraph_spans
from scrapers.extract_pdf import MAX_CHARS as PDF_MAX_CHARS
from scrapers.extract_pdf import MAX_PAGES as PDF_MAX_PAGES
from tests.pdfs import pdf, pdf_file

DATA = Path(__file__).parent / "data" / "extract"
URL = "https://gazette.example/news/2031/harbour-barrier?utm_source=feed"


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


def timed(function, *args):
    """What ``function(*args)`` returns, and the seconds it took."""
    started = time.monotonic()
    result = function(*args)
    return result, time.monotonic() - started


def news_page(head: str = "", body: str = "") -> str:
    return (
        f"<html lang=en><head><title>Weekly update</title>{head}</head><body><article>"
        "<p>The county's election office released its weekly update on Tuesday, describing"
        " how the canvass was proceeding in the counting rooms of every ward.</p>"
        "<p>The count is on schedule in every ward, said the official who oversees it.</p>"
        f"</article>{body}</body></html>"
    )


def json_ld(**fields: str) -> str:
    item = {"@type": "NewsArticle", **fields}
    return f'<script type="application/ld+json">{json.dumps(item)}</script>'


def assert_offsets(result: Extracted) -> None:
    pieces = [result.text[p.start : p.end] for p in result.paragraphs]
    assert "\n\n".join(pieces) == result.text
    assert all(piece and piece == piece.strip() and "\n\n" not in piece for piece in pieces)


# --- article body -------------------------------------------------------------------


def test_article_body_without_boilerplate():
    result = extract(fixture("article.html"), URL, "text/html; charset=utf-8")
    assert result.ok
    assert result.text.startswith("The harbour council voted on Tuesday evening")
    assert result.text.endswith("to fishing boats at all states of the tide.")
    assert "What the barrier will cost" in result.text  # a subheading of the article
    for leak in (
        "Weather",
        "serving the lower valley",
        "Ferry timetable",
        "Copyright",
        "newsletter",
        "Harbour council approves flood barrier",
    ):
        assert leak not in result.text
    assert_offsets(result)
    assert len(result.paragraphs) == 7


def test_statement_keeps_its_blockquote():
    result = extract(fixture("statement.html"), "https://transport.example/press/1")
    assert result.ok
    assert "Nobody takes the decision to close a railway lightly." in result.text
    assert "We will reopen the line as soon as it is safe to do so." in result.text
    assert "Ministry home" not in result.text
    assert "Crown copyright" not in result.text


def test_hidden_text_does_not_leak():
    result = extract(fixture("hidden.html"), "https://news.example/senator")
    assert "Senator Ada Quill questioned the award" in result.text
    for hidden in ("profile card", "Opens in a new window", "Internal note"):
        assert hidden not in result.text


def test_listing_page_has_no_article():
    result = extract(fixture("listing.html"), "https://gazette.example/news")
    assert not result.ok
    assert result.text == ""
    assert "no article body found" in result.problems
    assert result.title == "News | The Estuary Gazette"
    assert result.publisher is None  # trafilatura offers the host name; that is no site name


def test_text_input_is_accepted():
    result = extract(fixture("statement.html").decode("utf-8"))
    assert result.ok
    assert result.language == "en"


# --- metadata -----------------------------------------------------------------------


def test_metadata_from_json_ld_graph_and_opengraph():
    result = extract(fixture("article.html"), URL, "text/html")
    assert result.title == "Harbour council approves flood barrier"
    assert result.authors == ("Mira Castellan", "Tobias Wrenfield")
    assert result.publisher == "The Estuary Gazette"
    assert result.published == datetime(2031, 3, 4, 8, 15, tzinfo=UTC)
    assert result.modified == datetime(2031, 3, 5, 18, 0, tzinfo=UTC)
    assert result.language == "en"
    assert result.canonical_url == "https://gazette.example/news/2031/harbour-barrier"


def test_metadata_from_meta_tags():
    result = extract(fixture("statement.html"), "https://transport.example/press/1")
    assert result.title == "Statement on the closure of the northern rail line"
    assert result.authors == ("Office of the Transport Minister",)
    assert result.published == datetime(2031, 6, 12, tzinfo=UTC)  # a bare date: midnight UTC
    assert result.canonical_url is None


def test_a_canonical_link_that_is_no_url_is_left_out():
    page = news_page('<link rel="canonical" href="http://[oops/a">')
    result = extract(page.encode(), "https://county.example/update", "text/html")
    assert result.ok
    assert result.canonical_url is None


def test_json_ld_nested_deeper_than_python_reads_is_skipped():
    page = news_page(f'<script type="application/ld+json">{"[" * 100_000}{"]" * 100_000}</script>')
    result = extract(page.encode(), "https://county.example/update", "text/html")
    assert result.ok
    assert result.title == "Weekly update"


def test_json_ld_body_of_angle_brackets_is_read_in_linear_time():
    # Every "<" without a ">" was once read to the end of the body: about 6 s here.
    head = json_ld(
        headline="Weekly update",
        author="Nora Quint",
        publisher="County Office",
        datePublished="2031-11-04T10:00:00Z",
        articleBody="<" * 150_000 + "&amp;",
    )
    result, seconds = timed(extract, news_page(head).encode(), None, "text/html")
    assert seconds < 3
    assert result.ok
    assert result.authors == ("Nora Quint",)


def test_trafilatura_is_kept_from_json_ld_beyond_its_budget():
    # trafilatura strips tags from a whole JSON-LD block: about 6 s for this one. The
    # publisher is missing, so trafilatura's metadata is asked for; our reader keeps the
    # block, so its author is still found.
    head = json_ld(headline="Weekly update", author="Nora Quint", description="<" * 150_000)
    result, seconds = timed(extract, news_page(head).encode(), None, "text/html")
    assert seconds < 3
    assert result.ok
    assert result.authors == ("Nora Quint",)


def test_extractor_version_is_named():
    assert EXTRACTOR.startswith("onrecord-extract/")


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \n\t", "", "   "])
def test_empty_input(data):
    result = extract(data, "https://example.org/", "text/html")
    assert not result.ok
    assert result.problems == ("empty document",)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "text/html"),
        (b"\x1f\x8b\x08\x00" + bytes(64), None),
        (b"GIF89a\x01\x00\x01\x00\x00\xff\x00,", "image/gif"),
        (bytes(range(256)) * 4, None),
    ],
)
def test_binary_data_is_not_html(data, content_type):
    result = extract(data, "https://example.org/file", content_type)
    assert not result.ok
    assert result.problems[0].startswith("not HTML: binary data")


def test_truncated_html_keeps_what_arrived():
    page = fixture("article.html")
    cut = page[: page.index(b"Opponents argued") + 40]
    result = extract(cut, URL, "text/html")
    assert result.ok
    assert "forty million" in result.text
    assert_offsets(result)


@pytest.mark.parametrize(
    "page",
    [
        "<html><body><div><p>unclosed <b>tags <i>everywhere</div></td></table>",
        "<?xml version='1.0' encoding='utf-8'?><html><body><p>x</p></body></html>",
        "<<<>>>&&&;;;",
        "\x00\x01 control characters <p>\x0b</p>",
        "<p>" + "<div>" * 5000 + "deep" + "</div>" * 5000,
    ],
)
def test_malformed_html_never_raises(page):
    result = extract(page, None, None)
    assert isinstance(result, Extracted)
    assert result.ok or result.problems
    assert_offsets(result)


def test_huge_page_loses_its_scripts_before_anything_is_cut():
    page = fixture("article.html").decode("utf-8")
    padding = "<script>" + "x" * (MAX_CHARS + 1000) + "</script><style>p{}</style>"
    result = extract(page.replace("<main>", padding + "<main>"), URL, "text/html")
    assert result.ok
    assert result.text.endswith("to fishing boats at all states of the tide.")
    assert result.authors == ("Mira Castellan", "Tobias Wrenfield")  # JSON-LD is kept
    assert not any("cut to its first" in problem for problem in result.problems)


def test_markup_left_open_on_a_huge_page_runs_to_its_end_in_linear_time():
    # Each "<!--" left open was once a search to the end of the page: about 6 s here.
    page = news_page(body="<!--" * 600 + " " * MAX_CHARS)
    result, seconds = timed(extract, page.encode(), URL, "text/html")
    assert seconds < 3
    assert result.text.startswith("The county's election office released")
    assert not any("cut to its first" in problem for problem in result.problems)


def test_a_huge_page_loses_its_drawings_as_a_browser_closes_them():
    # <svg/> closes itself, and "--!>" closes a comment: neither runs on over the article.
    page = news_page(head="<svg/><!-- tracking --!>", body="<svg><g/></svg>" + " " * MAX_CHARS)
    result = extract(page.encode(), URL, "text/html")
    assert result.text.startswith("The county's election office released")


def test_twenty_megabyte_page_gives_a_partial_body_and_says_so():
    paragraph = "<p>The ferry ran late again on Friday, the fourth time this month.</p>\n"
    page = "<html><body><article>" + paragraph * (20_000_000 // len(paragraph)) + "</article>"
    result = extract(page.encode("utf-8"), URL, "text/html")
    assert result.ok
    assert "page cut to its first 2,000,000 characters" in result.problems
    assert 0 < len(result.text) < MAX_CHARS
    assert_offsets(result)


def test_navigation_only_page_has_no_article():
    links = "".join(
        f'<li><a href="/s/{n}">Section number {n} of the site</a></li>' for n in range(60)
    )
    page = f"<html><body><header><ul>{links}</ul></header><div><ul>{links}</ul></div></body></html>"
    result = extract(page.encode("utf-8"), "https://gazette.example/", "text/html")
    assert not result.ok
    assert "no article body found" in result.problems


@pytest.mark.parametrize(
    "body",
    [
        "<form><label>User name</label><input name=u><button>Sign in</button></form>",
        "<div class=error><h1>Page not found</h1><a href='/'>Back to the front page</a></div>",
        "<h2><a href='/a'>First story</a></h2><h2><a href='/b'>Second story</a></h2>",
    ],
)
def test_page_without_an_article_is_empty_not_boilerplate(body):
    result = extract(f"<html><body>{body}</body></html>".encode(), URL, "text/html")
    assert not result.ok
    assert result.text == ""
    assert "no article body found" in result.problems


def test_article_inside_a_header_left_open():
    paragraphs = "".join(
        f"<p>Paragraph {n} of the report on the harbour dredging, which began in May.</p>"
        for n in range(8)
    )
    page = f"<html><body><header><div class=logo>Gazette</div><div>{paragraphs}</div></body>"
    result = extract(page.encode("utf-8"), URL, "text/html")
    assert result.ok
    assert "Paragraph 7 of the report" in result.text


def press_release(ending: str) -> bytes:
    paragraphs = "".join(
        f"<p>Reservoir levels have recovered to {n}0 per cent of capacity after weeks of rain"
        " across the upper valley, the board said, and restrictions will ease.</p>"
        for n in range(1, 7)
    )
    return (
        "<html lang=en><head><title>Water board lifts hosepipe ban</title></head><body>"
        f"<main><h1>Water board lifts hosepipe ban</h1>{paragraphs}"
        "<p>“We thank every household for saving water,” said Ines Marlow, the chief engineer.</p>"
        f"{ending}<h3>About the Valley Water Board</h3>"
        "<p>The Valley Water Board supplies drinking water to 400,000 people in eleven towns.</p>"
        "<p>Media contact: press@water.example, 0100 555 0199</p></main></body></html>"
    ).encode()


@pytest.mark.parametrize("ending", ["", "<p>###</p>", "<p>- ENDS -</p>"])
def test_press_release_boilerplate_is_left_out(ending):
    result = extract(press_release(ending), "https://water.example/news/1", "text/html")
    assert result.text.endswith("said Ines Marlow, the chief engineer.")
    assert "400,000" not in result.text
    assert "Media contact" not in result.text


def test_words_in_separate_inline_elements_keep_their_spaces():
    sentence = (
        "<p><a href='/p'>Ada Quill</a> <b>questioned</b> <i>the award</i> of the dredging"
        " contract to a firm that had not bid for it, and asked for the minutes.</p>"
    )
    result = extract(f"<html><body><article>{sentence * 5}</article></body></html>", URL)
    assert result.text.startswith("Ada Quill questioned the award of the dredging contract")


def test_soft_hyphens_are_left_out():
    paragraph = "<p>Die Ge\u00admein\u00adde\u00adver\u00adwal\u00adtung hat am Montag getagt.</p>"
    result = extract(f"<html><body><article>{paragraph * 6}</article></body></html>", URL)
    assert result.text.startswith("Die Gemeindeverwaltung hat am Montag getagt.")


# --- charsets -----------------------------------------------------------------------

FRENCH = (
    "<html><head><title>Réunion</title></head><body><article>"
    + "<p>Le comité a décidé d’élargir la célèbre fête de l’été à toute la vallée, "
    "où les élèves préparent déjà les décors et les chœurs répètent chaque soir.</p>"
    * 6
    + "</article></body></html>"
)


def test_header_says_latin1_but_bytes_are_utf8():
    result = extract(FRENCH.encode("utf-8"), None, "text/html; charset=ISO-8859-1")
    assert "décidé d’élargir la célèbre fête" in result.text
    assert any("bytes are UTF-8" in problem for problem in result.problems)


def test_meta_charset_is_used_without_header():
    page = FRENCH.replace("<head>", "<head><meta charset='windows-1252'>")
    result = extract(page.encode("windows-1252"), None, "text/html")
    assert "les chœurs répètent chaque soir" in result.text


def test_charset_is_detected_when_nobody_declares_it():
    result = extract(FRENCH.encode("windows-1252"), None, None)
    assert "les élèves préparent déjà" in result.text


def test_wrong_declared_charset_that_cannot_decode():
    page = FRENCH.encode("windows-1252")
    result = extract(page, None, "text/html; charset=utf-8")
    assert "les élèves préparent déjà" in result.text
    assert "Content-Type declares utf-8 but the bytes do not decode with it" in result.problems


def test_wrong_meta_charset_on_utf8_bytes():
    page = FRENCH.replace("<head>", "<head><meta charset='windows-1252'>")
    result = extract(page.encode("utf-8"), None, "text/html")
    assert "décidé d’élargir la célèbre fête" in result.text
    assert "<meta charset> declares windows-1252 but the bytes are UTF-8" in result.problems


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        ("", "text/html; charset=rot13"),  # a Python codec, but no charset
        ("<meta charset=undefined>", "text/html"),  # a codec that refuses all bytes
        ("", "text/html; charset=x-no-such-charset"),
    ],
)
def test_unusable_charset_labels_are_ignored(head, content_type):
    result = extract(news_page(head).encode(), "https://county.example/update", content_type)
    assert result.text.startswith("The county's election office released")


def test_utf7_label_is_refused_as_browsers_refuse_it():
    # Decoded as UTF-7, "+ADw-script+AD4-" would be a script tag.
    page = b"<p>Shares rose +ADw-script+AD4-alert(1)+ADw-/script+AD4- 5%</p>"
    assert decode(page, "text/html; charset=utf-7").text == page.decode("ascii")


def test_mojibake_is_repaired():
    garbled = FRENCH.encode("utf-8").decode("windows-1252")
    result = extract(garbled.encode("utf-8"), None, "text/html; charset=utf-8")
    assert "décidé d’élargir la célèbre fête" in result.text
    assert any("mojibake" in problem for problem in result.problems)


def test_genuine_text_is_not_taken_for_mojibake():
    assert repair_mojibake("Viel Spaß“ und Grüße") == "Viel Spaß“ und Grüße"
    assert repair_mojibake("Ãœber") == "Über"


def test_bom_wins():
    # The mark itself is no text: browsers drop it, and so does decode_text.
    assert decode(b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", "text/html; charset=latin-1").text == (
        "<p>café</p>"
    )


# --- PDF ----------------------------------------------------------------------------


def test_pdf_with_text_layer():
    info = {
        "Title": "Annual report on river levels",
        "Author": "Valley Water Board",
        "CreationDate": "D:20310304091500+01'00'",
    }
    data = pdf([["Levels rose in every month of the year.", "The board expects more rain."]], info)
    result = extract(data, "https://water.example/report.pdf", "application/pdf")
    assert result.ok
    assert "Levels rose in every month of the year." in result.text
    assert "The board expects more rain." in result.text
    assert result.title == "Annual report on river levels"
    assert result.authors == ("Valley Water Board",)
    assert result.published == datetime(2031, 3, 4, 8, 15, tzinfo=UTC)
    assert_offsets(result)


def test_pdf_is_recognised_by_its_magic_number():
    data = pdf([["Recognised without a content type."]], {"Title": "x"})
    assert "Recognised without a content type." in extract(data).text


def test_pdf_without_text_layer():
    result = extract(pdf([[], []], {"Title": "Scanned letter"}), None, "application/pdf")
    assert not result.ok
    assert result.problems == ("PDF has no text layer",)
    assert result.title == "Scanned letter"


def test_pdf_paragraphs_keep_their_page():
    data = pdf([["The minister opened the bridge."], [], ["Traffic resumes on Monday."]], {})
    result = extract(data, None, "application/pdf")
    assert [p.page for p in result.paragraphs] == [1, 3]
    assert result.text[result.paragraphs[1].start : result.paragraphs[1].end] == (
        "Traffic resumes on Monday."
    )
    # A partly scanned PDF gives what has text and names the pages that have none.
    assert result.problems == ("PDF pages without a text layer (scans?), left out: 2",)
    assert_offsets(result)


def pdf_of_one_stream(pages: int, listed: int, chars: int) -> bytes:
    """A PDF of ``pages`` page objects that all show one Flate stream of ``chars`` letters;
    its page tree lists them ``listed`` times in turn, as a PDF made to exhaust its reader
    lists one page over and over."""
    stream = zlib.compress(b"BT /F1 12 Tf 72 720 Td (" + b"A" * chars + b") Tj ET", 9)
    font, content = 3 + pages, 4 + pages
    kids = " ".join(f"{3 + n % pages} 0 R" for n in range(listed))
    page = (
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
        f" /Resources << /Font << /F1 {font} 0 R >> >> /Contents {content} 0 R >>"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {listed} >>".encode(),
        *[page.encode()] * pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    return pdf_file(objects)


def test_pdf_that_lists_a_page_again_is_cut_short_there():
    # Read in full, these 2 KB gave 20 MB of text in about 4 s.
    data = pdf_of_one_stream(pages=1, listed=20, chars=1_000_000)
    result, seconds = timed(extract, data, None, "application/pdf")
    assert seconds < 3
    assert len(result.text) == 1_000_000
    assert "PDF cut short at page 2, which repeats an earlier page" in result.problems


def test_pdf_text_is_cut_at_its_character_bound():
    data = pdf_of_one_stream(pages=4, listed=4, chars=PDF_MAX_CHARS // 3 + 1)
    result = extract(data, None, "application/pdf")
    assert sum(p.end - p.start for p in result.paragraphs) <= PDF_MAX_CHARS
    assert [p.page for p in result.paragraphs] == [1, 2, 3]  # the third one cut
    assert f"PDF cut short at page 3: more than {PDF_MAX_CHARS:,} characters" in result.problems


def test_pdf_pages_are_cut_at_their_bound():
    data = pdf([[f"Page {n} of the long report."] for n in range(PDF_MAX_PAGES + 2)], {})
    result = extract(data, None, "application/pdf")
    assert result.paragraphs[-1].page == PDF_MAX_PAGES
    assert f"PDF cut short after its first {PDF_MAX_PAGES:,} pages" in result.problems


def test_broken_pdf():
    result = extract(b"%PDF-1.4\n1 0 obj garbage", None, "application/pdf")
    assert not result.ok
    assert result.problems


# --- offsets ------------------------------------------------------------------------


@given(st.lists(st.text(min_size=1).filter(str.strip), max_size=8))
def test_paragraph_spans_round_trip(paragraphs):
    text = "\n\n".join(paragraphs)
    spans = paragraph_spans(paragraphs)
    assert [text[span.start : span.end] for span in spans] == paragraphs


@pytest.mark.parametrize("label", ["Read more:", "Lesen Sie auch:", "Lea también:", "Czytaj też:"])
def test_teasers_for_other_articles_inside_the_text_are_left_out(label):
    paragraph = (
        "<p>The harbour council will vote on the dredging contract next week, after the"
        " public inquiry closes and the engineers have reported on the silt samples.</p>"
    )
    teaser = f"<p><strong>{label}</strong> Ferry fares rise for the third year running</p>"
    page = f"<html><body><article>{paragraph * 3}{teaser}{paragraph * 3}</article></body></html>"
    result = extract(page.encode(), URL, "text/html")
    assert result.ok
    assert "Ferry fares" not in result.text
